/**
 * Change notifications, batched: at most one batch per `minIntervalMs`. A batch is due when the
 * queue's change reader signals (this process's commits, other processes' and, with a networked
 * engine, other machines') or a crawl's state changes. More than `maxChanges` jobs at once:
 * `truncated`, and clients refetch.
 *
 * Queue stats go out when they say something new: counts that changed, at once; a rate that moved
 * on its own (RateMeter rounds it to 0.1 job/s), at most once a second.
 */
import type { Logger } from '../../core/scheduler';
import type { JobChanges, Queue } from '../../core/types';
import type { CrawlRecord, CrawlService } from '../../crawl/service';
import type { Notifications } from '../../protocol';
import { fetchedTotal, type RateMeter } from './rate';
import { wireCrawl } from '../wire';

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

export class ChangeFeed {
  /** Each listener, with whether it takes batches now (a socket with no subscriber does not). */
  private readonly listeners = new Map<(batch: ChangeBatch) => void, () => boolean>();
  private readonly pendingCrawls = new Set<string>();
  private readonly minIntervalMs: number;
  private readonly maxChanges: number;
  private readonly maxCrawls: number;
  private changes: JobChanges | null = null;
  /** Some change went unnamed: the next move of the counts is sent as a refetch. */
  private missed = false;
  private lastFlush = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private again = false;
  /** What the last stats sent said: the counts (as JSON) and the rate, and when. */
  private sentStats: { counts: string; rate: number; at: number } | null = null;
  private rateTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly queue: Queue,
    private readonly crawls: CrawlService,
    private readonly rate: RateMeter,
    private readonly opts: ChangeFeedOptions,
    private readonly log: Logger,
  ) {
    this.minIntervalMs = opts.minIntervalMs ?? 300;
    this.maxChanges = opts.maxChanges ?? 500;
    this.maxCrawls = opts.maxCrawls ?? 20;
  }

  on(listener: (batch: ChangeBatch) => void, wants: () => boolean = () => true): () => void {
    this.listeners.set(listener, wants);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    const changes = this.queue.changes({ pollMs: this.opts.pollMs });
    this.changes = changes;
    this.unsubscribe.push(
      changes.onSignal(() => this.batchDue()),
      () => changes.close(),
    );
    this.unsubscribe.push(
      this.crawls.onCrawlChanged((c) => {
        this.pendingCrawls.add(c.id);
        this.batchDue();
      }),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.listeners.clear();
  }

  /**
   * Something clients read beside the stats changed with no count (the scheduler paused, resumed,
   * reconfigured): the next batch sends the stats all the same, and clients read the rest again.
   */
  resendStats(): void {
    this.sentStats = null;
    this.batchDue();
  }

  /** A batch is due: sent now if the last one is old enough, else when it is. */
  batchDue(): void {
    // No timer for no one: with one daemon crawling, 26 change signals a second armed one each.
    // A subscriber's arrival asks for a batch (DaemonServices.subscribed), which names what changed meanwhile.
    if (this.stopped || !this.wanted()) return;
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

  private wanted(): boolean {
    for (const wants of this.listeners.values()) if (wants()) return true;
    return false;
  }

  private async flush(): Promise<void> {
    // No one takes batches (a daemon crawlctl started, no client subscribed): none is made. Making
    // them read the states of up to 5,000 unfinished jobs a batch on the daemon's thread, for no
    // one. A batch made later names what changed meanwhile, or says it is too much to name.
    if (this.stopped || !this.wanted()) return;
    this.flushing = true;
    this.lastFlush = Date.now();
    try {
      const batch = await this.collect();
      if (batch.jobs || batch.stats || batch.crawls.length) {
        for (const l of this.listeners.keys()) {
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
      this.batchDue();
    }
  }

  private async collect(): Promise<ChangeBatch> {
    const crawlIds = new Set(this.pendingCrawls);
    this.pendingCrawls.clear();
    const { ids, missed } = await this.changes!.take(this.maxChanges);
    this.missed ||= missed;
    let jobs: ChangeBatch['jobs'] = null;
    if (ids === null) {
      jobs = { changes: [], truncated: true };
      for (const c of await this.crawls.list()) if (c.state === 'running') crawlIds.add(c.id);
    } else if (ids.length) {
      const states = await this.queue.jobStates(ids);
      jobs = { changes: states.map((s) => ({ id: s.id, state: s.state })), truncated: false };
      for (const s of states) if (s.crawlId) crawlIds.add(s.crawlId);
    }

    const s = await this.queue.stats();
    const counts = JSON.stringify(s);
    const countsMoved = counts !== this.sentStats?.counts;
    const stats = this.newStats(counts, { ...s, jobsPerSecond: this.rate.rate(fetchedTotal(s)) });
    // Counts moved but no job could be named (a cancel by another process, a job that went unnamed): clients refetch.
    if (countsMoved && (!jobs || this.missed)) {
      jobs = { changes: jobs?.changes ?? [], truncated: true };
      this.missed = false;
    }

    const crawls: ChangeBatch['crawls'] = [];
    const named = [...crawlIds];
    // Past the batch's share, the rest wait for the next batch: a change is never dropped.
    if (named.length > this.maxCrawls) {
      for (const id of named.slice(this.maxCrawls)) this.pendingCrawls.add(id);
      this.again = true;
    }
    for (const id of named.slice(0, this.maxCrawls)) {
      let c: CrawlRecord;
      try {
        c = await this.crawls.get(id);
      } catch {
        continue; // Gone (its database rows were removed): nothing to report.
      }
      // Its last job just ended: finished now, not at the crawl service's next tick (up to 250 ms)
      // and sent in the batch after (300 ms on), so a seed file's lens never says "running" beside
      // hints that are all final. Should that fail, the tick finishes it, and says so.
      if (c.state === 'running' && c.counts.queued + c.counts.in_progress === 0) {
        const was = c;
        if (await this.crawls.finishIfEnded(id).catch(() => false)) c = await this.crawls.get(id).catch(() => was);
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
        this.batchDue();
      }, RATE_ONLY_MS).unref();
    }
    return send ? stats : null;
  }
}
