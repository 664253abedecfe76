import { type JobState } from './types';

export type StateDeltas = Record<JobState, number>;
const zero = (): StateDeltas => ({ queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0 });

export interface KeyDelta {
  queued: number;
  /** Queued jobs held (a paused crawl's), a part of queued. */
  held: number;
  inFlight: number;
  done: number;
  skipped: number;
  error: number;
  /** Best priority among jobs entering the queue (null: none entered). */
  priority: number | null;
  /** Jobs left the queue: the key's top priority must be looked up again. */
  recompute: boolean;
  /** Leased from in this transaction, with its minimum delay: its round-robin turn and pacing are due. */
  served: { delayMs: number } | null;
}

/**
 * The state moves of one transaction, summed per state, per crawl and per key, so that each engine
 * writes them at the transaction's end as a handful of counter updates however many jobs moved.
 * This is what keeps stats O(1) and per-key in-flight counts exact without a trigger per row.
 * How the sums are written is the engine's (sqlite/tally.ts, pg/tally.ts).
 */
export class TallySums {
  protected readonly counts = zero();
  protected readonly crawls = new Map<string, StateDeltas & { capped: number }>();
  protected readonly keys = new Map<string, KeyDelta>();
  /** Failed jobs by crawl ('' for none) and reason (the `reason_counts` rows). */
  private readonly reasons = new Map<string, Map<string, number>>();

  /**
   * A job that enters or leaves `error` gives its reason (the one it fails with, or the one it
   * leaves with), by which failed jobs are counted.
   */
  move(job: { key: string; crawl_id: string | null; priority: number; reason?: string | null }, from: JobState | null, to: JobState): void {
    if (from === to) return;
    // A job that failed under a daemon from before reasons were kept (one still running on the
    // database a newer one migrated) has none and was never counted by one: it leaves uncounted.
    const uncounted = from === 'error' && typeof job.reason !== 'string';
    if ((from === 'error' || to === 'error') && !uncounted) {
      if (typeof job.reason !== 'string') throw new Error('bookkeeping: a job failing without its reason');
      const crawl = job.crawl_id ?? '';
      let byReason = this.reasons.get(crawl);
      if (!byReason) this.reasons.set(crawl, (byReason = new Map<string, number>()));
      byReason.set(job.reason, (byReason.get(job.reason) ?? 0) + (to === 'error' ? 1 : -1));
    }
    if (from) this.counts[from]--;
    this.counts[to]++;
    if (job.crawl_id !== null) {
      const c = this.crawl(job.crawl_id);
      if (from) c[from]--;
      c[to]++;
    }
    const k = this.key(job.key);
    if (from === 'queued') {
      k.queued--;
      k.recompute = true;
    } else if (from === 'in_progress') k.inFlight--;
    else if (from) k[from]--;
    if (to === 'queued') {
      k.queued++;
      k.priority = Math.max(k.priority ?? job.priority, job.priority);
    } else if (to === 'in_progress') k.inFlight++;
    else k[to]++;
  }

  /** Held jobs (a paused crawl's) entered (n > 0) or left (n < 0) this key's queue. */
  held(key: string, n: number): void {
    this.key(key).held += n;
  }

  /** A lease took jobs from this key: its turn in the round robin and its next start are due. */
  served(key: string, delayMs: number): void {
    const k = this.keys.get(key);
    if (k) k.served = { delayMs };
  }

  /** Jobs of a crawl refused past its cap. */
  capped(crawlId: string, n: number): void {
    this.crawl(crawlId).capped += n;
  }

  /** Net jobs this transaction has added to a crawl so far (not yet in the crawl's counters). */
  crawlAdded(crawlId: string): number {
    const c = this.crawls.get(crawlId);
    return c ? c.queued + c.in_progress + c.done + c.skipped + c.error : 0;
  }

  /** The failed jobs' moves by crawl ('' for none) and reason, those that moved at all, in crawl then reason order. */
  reasonDeltas(): [crawlId: string, reason: string, delta: number][] {
    const out: [string, string, number][] = [];
    for (const crawl of [...this.reasons.keys()].sort()) {
      const byReason = this.reasons.get(crawl)!;
      for (const reason of [...byReason.keys()].sort()) if (byReason.get(reason) !== 0) out.push([crawl, reason, byReason.get(reason)!]);
    }
    return out;
  }

  private key(key: string): KeyDelta {
    let k = this.keys.get(key);
    if (!k) {
      k = { queued: 0, held: 0, inFlight: 0, done: 0, skipped: 0, error: 0, priority: null, recompute: false, served: null };
      this.keys.set(key, k);
    }
    return k;
  }

  private crawl(crawlId: string): StateDeltas & { capped: number } {
    let c = this.crawls.get(crawlId);
    if (!c) this.crawls.set(crawlId, (c = { ...zero(), capped: 0 }));
    return c;
  }
}
