/**
 * Change notifications, batched: at most one batch per `minIntervalMs`. A batch is due after a
 * local commit (the queue's onChange), a crawl's state change, or anything the poll notices: other
 * processes' commits (`PRAGMA data_version`) and this process's quiet commits (leases).
 *
 * SQLite has no change feed, so the jobs that changed are found from what the queue leaves behind,
 * each by a range or index scan that costs nothing like the queue's size:
 *   - new jobs: ids past the highest seen (ids only grow);
 *   - attempts that send a job round again, and requeues: events rows past the last seen (their
 *     ids only grow);
 *   - leases taken and ended, which write no event row: the in-progress set (as small as the
 *     leases held), compared with the last one;
 *   - anything else that moved the counts (a cancel): a truncated batch, and clients refetch.
 * More than `maxChanges` at once: `truncated`, and clients refetch.
 *
 * Queue stats go out when they say something new: counts that changed, at once; a rate that moved
 * on its own (RateMeter rounds it to 0.1 job/s), at most once a second.
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

/** How often the rate alone may be sent, and looked at again while it may still move. */
const RATE_ONLY_MS = 1_000;

interface Marks {
  version: number;
  event: number;
  job: number;
  leased: number;
}

/** Unfinished jobs whose state the feed keeps an eye on, at most. */
const WATCHED_MAX = 5000;

export class ChangeFeed {
  private readonly listeners = new Set<(batch: ChangeBatch) => void>();
  private readonly pendingCrawls = new Set<string>();
  private readonly s: Record<'maxEvent' | 'maxJob' | 'leasedCount' | 'eventsSince' | 'jobsSince' | 'leased' | 'states', Statement>;
  private readonly minIntervalMs: number;
  private readonly maxChanges: number;
  private readonly maxCrawls: number;
  /** What the last batch covered. */
  private eventCursor = 0;
  private jobCursor = 0;
  private leasedIds = new Set<number>();
  /** Unfinished jobs seen, by id, with the state they had. */
  private readonly watched = new Map<number, JobState>();
  /** Some job fell off the watch list: the next move of the counts is sent as a refetch. */
  private forgot = false;
  /** What the last poll saw. */
  private marks: Marks = { version: 0, event: 0, job: 0, leased: 0 };
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private again = false;
  /** What the last stats sent said: the counts (as JSON) and the rate, and when. */
  private sentStats: { counts: string; rate: number; at: number } | null = null;
  private rateTimer: NodeJS.Timeout | null = null;
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
    const db = queue.db;
    this.s = {
      maxEvent: db.prepare(`SELECT coalesce(max(id), 0) FROM events`).pluck(),
      maxJob: db.prepare(`SELECT coalesce(max(id), 0) FROM jobs`).pluck(),
      leasedCount: db.prepare(`SELECT count(*) FROM jobs WHERE state = 'in_progress'`).pluck(),
      eventsSince: db.prepare(`SELECT id, job_id AS jobId FROM events WHERE id > ? ORDER BY id LIMIT ?`),
      jobsSince: db.prepare(`SELECT id FROM jobs WHERE id > ? ORDER BY id LIMIT ?`).pluck(),
      leased: db.prepare(`SELECT id FROM jobs WHERE state = 'in_progress' LIMIT ?`).pluck(),
      states: db.prepare(`SELECT id, state, crawl_id AS crawlId FROM jobs WHERE id IN (SELECT value FROM json_each(?))`),
    };
  }

  on(listener: (batch: ChangeBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.eventCursor = this.s.maxEvent.get() as number;
    this.jobCursor = this.s.maxJob.get() as number;
    this.leasedIds = new Set(this.s.leased.all(this.maxChanges + 1) as number[]);
    this.marks = this.readMarks();
    this.unsubscribe.push(this.queue.onChange(() => this.kick()));
    this.unsubscribe.push(this.crawls.onCrawlChanged((c) => {
      this.pendingCrawls.add(c.id);
      this.kick();
    }));
    const poll = () => {
      try {
        const now = this.readMarks();
        const m = this.marks;
        if (now.version !== m.version || now.event !== m.event || now.job !== m.job || now.leased !== m.leased) {
          this.marks = now;
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
    if (this.rateTimer) clearTimeout(this.rateTimer);
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

  /** Four reads of an index's edge: a poll costs next to nothing. */
  private readMarks(): Marks {
    return {
      version: this.queue.changeCounter(),
      event: this.s.maxEvent.get() as number,
      job: this.s.maxJob.get() as number,
      leased: this.s.leasedCount.get() as number,
    };
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

  /** The ids of jobs that changed since the last batch, or null when there are too many to list. */
  private changedIds(): Set<number> | null {
    const limit = this.maxChanges * 4;
    const events = this.s.eventsSince.all(this.eventCursor, limit + 1) as { id: number; jobId: number }[];
    const created = this.s.jobsSince.all(this.jobCursor, limit + 1) as number[];
    const leased = this.s.leased.all(this.maxChanges + 1) as number[];
    const previous = this.leasedIds;
    this.leasedIds = new Set(leased);
    if (events.length > limit || created.length > limit || leased.length > this.maxChanges) {
      this.eventCursor = this.s.maxEvent.get() as number;
      this.jobCursor = this.s.maxJob.get() as number;
      return null;
    }
    if (events.length) this.eventCursor = events[events.length - 1].id;
    if (created.length) this.jobCursor = created[created.length - 1];
    const ids = new Set<number>([...events.map((e) => e.jobId), ...created]);
    // Leases taken and leases ended.
    for (const id of leased) if (!previous.has(id)) ids.add(id);
    for (const id of previous) if (!this.leasedIds.has(id)) ids.add(id);
    // An attempt that finishes a job writes no event row, and a job can be leased and finished
    // between two looks: the unfinished jobs seen so far are watched and their states compared.
    const now = this.s.states.all(JSON.stringify([...this.watched.keys(), ...ids])) as { id: number; state: JobState }[];
    for (const { id, state } of now) {
      const before = this.watched.get(id);
      if (before !== undefined && before !== state) ids.add(id);
      this.watched.delete(id);
      if (state === 'queued' || state === 'in_progress') this.watched.set(id, state);
    }
    // Past what can be watched, the oldest are forgotten; their changes go out as a refetch.
    for (const id of this.watched.keys()) {
      if (this.watched.size <= WATCHED_MAX) break;
      this.watched.delete(id);
      this.forgot = true;
    }
    return ids.size > this.maxChanges ? null : ids;
  }

  private async collect(): Promise<ChangeBatch> {
    const crawlIds = new Set(this.pendingCrawls);
    this.pendingCrawls.clear();
    const ids = this.changedIds();
    let jobs: ChangeBatch['jobs'] = null;
    if (ids === null) {
      jobs = { changes: [], truncated: true };
      for (const c of await this.crawls.list()) if (c.state === 'running') crawlIds.add(c.id);
    } else if (ids.size) {
      const states = this.s.states.all(JSON.stringify([...ids])) as { id: number; state: JobState; crawlId: string | null }[];
      jobs = { changes: states.map((s) => ({ id: s.id, state: s.state })), truncated: false };
      for (const s of states) if (s.crawlId) crawlIds.add(s.crawlId);
    }

    const s = await this.queue.stats();
    const counts = JSON.stringify(s);
    const countsMoved = counts !== this.sentStats?.counts;
    const stats = this.newStats(counts, { ...s, jobsPerSecond: this.rate.rate(finishedTotal(s)) });
    // Counts moved but no job could be named (a cancel by another process, a job off the watch
    // list): clients refetch.
    if (countsMoved && (!jobs || this.forgot)) {
      jobs = { changes: jobs?.changes ?? [], truncated: true };
      this.forgot = false;
    }

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
    return { jobs, stats, crawls };
  }

  /** The stats if they are worth sending (see the top of the file), else null. */
  private newStats(counts: string, stats: Notifications['queue/statsChanged']): Notifications['queue/statsChanged'] | null {
    const now = Date.now();
    const last = this.sentStats;
    const send = last === null || counts !== last.counts || (stats.jobsPerSecond !== last.rate && now - last.at >= RATE_ONLY_MS);
    if (send) this.sentStats = { counts, rate: stats.jobsPerSecond, at: now };
    // The rate moves with no job changing (it decays after the last one finished), so while it
    // may, or while what was sent is behind it, one timer brings a batch later.
    if ((this.rate.moving || stats.jobsPerSecond !== this.sentStats!.rate) && !this.rateTimer && !this.stopped) {
      this.rateTimer = setTimeout(() => {
        this.rateTimer = null;
        this.kick();
      }, RATE_ONLY_MS).unref();
    }
    return send ? stats : null;
  }
}
