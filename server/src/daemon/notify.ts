/**
 * Change notifications, batched: at most one batch per `minIntervalMs`. A batch is due after a
 * local commit (the queue's onChange), a crawl's state change, or another process's commit
 * (noticed by polling `PRAGMA data_version` and the newest event id, reads that cost next to
 * nothing).
 *
 * SQLite has no change feed, but every job state change writes a row to the events table, whose
 * rowid only grows: the ids past the last one seen are the jobs that changed, found by a range
 * scan of the primary key however large the queue. Too many to list: `truncated`, and clients
 * refetch.
 */
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../core/scheduler';
import type { SqliteQueue } from '../core/sqlite/engine';
import type { CrawlRecord, CrawlService } from '../crawl/service';
import type { JobState, Notifications } from '../protocol';
import { finishedTotal, type RateMeter } from './rate';
import { wireCrawl } from './wire';

export interface ChangeBatch {
  jobs: Notifications['jobs/changed'] | null;
  stats: Notifications['queue/statsChanged'] | null;
  crawls: Notifications['crawl/changed'][];
}

export interface ChangeFeedOptions {
  pollMs: number;
  minIntervalMs?: number;
  /** Jobs listed by id in one batch before it is sent as truncated. */
  maxChanges?: number;
  /** Crawls reported in one batch. */
  maxCrawls?: number;
}

export class ChangeFeed {
  private readonly listeners = new Set<(batch: ChangeBatch) => void>();
  private readonly pendingCrawls = new Set<string>();
  private readonly maxEventId: Statement;
  private readonly eventsSince: Statement;
  private readonly jobStates: Statement;
  private readonly minIntervalMs: number;
  private readonly maxChanges: number;
  private readonly maxCrawls: number;
  private cursor = 0;
  private seenVersion = 0;
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private again = false;
  private lastStats = '';
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly queue: SqliteQueue,
    private readonly crawls: CrawlService,
    private readonly rate: RateMeter,
    private readonly opts: ChangeFeedOptions,
    private readonly log: Logger,
  ) {
    this.minIntervalMs = opts.minIntervalMs ?? 300;
    this.maxChanges = opts.maxChanges ?? 500;
    this.maxCrawls = opts.maxCrawls ?? 20;
    this.maxEventId = queue.db.prepare(`SELECT coalesce(max(id), 0) FROM events`).pluck();
    this.eventsSince = queue.db.prepare(`SELECT id, job_id AS jobId FROM events WHERE id > ? ORDER BY id LIMIT ?`);
    this.jobStates = queue.db.prepare(`SELECT id, state, crawl_id AS crawlId FROM jobs WHERE id IN (SELECT value FROM json_each(?))`);
  }

  on(listener: (batch: ChangeBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.cursor = this.maxEventId.get() as number;
    this.seenVersion = this.queue.changeCounter();
    this.unsubscribe.push(this.queue.onChange(() => this.kick()));
    this.unsubscribe.push(this.crawls.onCrawlChanged((c) => {
      this.pendingCrawls.add(c.id);
      this.kick();
    }));
    // Two cheap reads: data_version moves on other connections' commits (crawl rows included);
    // the newest event id moves on every job change, our own quiet ones (leases) included.
    const poll = () => {
      try {
        const v = this.queue.changeCounter();
        if (v !== this.seenVersion || (this.maxEventId.get() as number) > this.cursor) {
          this.seenVersion = v;
          this.kick();
        }
      } catch (err) {
        this.log('warn', `change poll failed: ${(err as Error).message}`);
      }
      if (!this.stopped) this.pollTimer = setTimeout(poll, this.opts.pollMs).unref();
    };
    this.pollTimer = setTimeout(poll, this.opts.pollMs).unref();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.listeners.clear();
  }

  /** A batch is due: sent now if the last one is old enough, else when it is. */
  kick(): void {
    if (this.stopped) return;
    if (this.flushing) {
      this.again = true;
      return;
    }
    if (this.flushTimer) return;
    const wait = Math.max(0, this.lastFlush + this.minIntervalMs - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, wait);
  }

  private async flush(): Promise<void> {
    if (this.stopped) return;
    this.flushing = true;
    this.lastFlush = Date.now();
    try {
      const batch = await this.collect();
      if (batch.jobs || batch.stats || batch.crawls.length) {
        for (const l of this.listeners) {
          try {
            l(batch);
          } catch (err) {
            this.log('warn', `a change listener failed: ${(err as Error).message}`);
          }
        }
      }
    } catch (err) {
      if (!this.stopped) this.log('warn', `change notification failed: ${(err as Error).message}`);
    } finally {
      this.flushing = false;
    }
    if (this.again) {
      this.again = false;
      this.kick();
    }
  }

  private async collect(): Promise<ChangeBatch> {
    const rows = this.eventsSince.all(this.cursor, this.maxChanges * 4 + 1) as { id: number; jobId: number }[];
    let jobs: ChangeBatch['jobs'] = null;
    const crawlIds = new Set(this.pendingCrawls);
    this.pendingCrawls.clear();
    let truncated = rows.length > this.maxChanges * 4;
    const ids = [...new Set(rows.map((r) => r.jobId))];
    if (ids.length > this.maxChanges) truncated = true;
    if (truncated) {
      this.cursor = this.maxEventId.get() as number;
      jobs = { changes: [], truncated: true };
      for (const c of await this.crawls.list()) if (c.state === 'running') crawlIds.add(c.id);
    } else if (rows.length) {
      this.cursor = rows[rows.length - 1].id;
      const states = this.jobStates.all(JSON.stringify(ids)) as { id: number; state: JobState; crawlId: string | null }[];
      jobs = { changes: states.map((s) => ({ id: s.id, state: s.state })), truncated: false };
      for (const s of states) if (s.crawlId) crawlIds.add(s.crawlId);
    }

    const s = await this.queue.stats();
    const stats = { ...s, jobsPerSecond: this.rate.rate(finishedTotal(s)) };
    const key = JSON.stringify(stats);
    const statsChanged = key !== this.lastStats;
    this.lastStats = key;
    // The rate decays after the last change: look again shortly so the last word is not stale.
    if (stats.jobsPerSecond > 0) setTimeout(() => this.kick(), 1_000).unref();

    const crawls: ChangeBatch['crawls'] = [];
    for (const id of [...crawlIds].slice(0, this.maxCrawls)) {
      let c: CrawlRecord;
      try {
        c = await this.crawls.get(id);
      } catch {
        continue; // Gone (its database rows were removed): nothing to report.
      }
      crawls.push({ crawl: wireCrawl(c) });
    }
    return { jobs, stats: statsChanged ? stats : null, crawls };
  }
}
