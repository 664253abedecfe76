import type { Statement } from 'better-sqlite3';
import { JOB_STATES, type JobState } from '../types';

type StateDeltas = Record<JobState, number>;
const zero = (): StateDeltas => ({ queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0 });

interface KeyDelta {
  queued: number;
  inFlight: number;
  done: number;
  skipped: number;
  error: number;
  /** Best priority among jobs entering the queue. */
  priority: number;
  /** Jobs left the queue: the key's top priority must be looked up again. */
  recompute: boolean;
  /** Leased from in this transaction: its round-robin turn and pacing. */
  served: { seq: number; delayMs: number; now: number } | null;
}

export interface TallyStatements {
  bumpCount: Statement;
  bumpCrawl: Statement;
  bumpKey: Statement;
  bumpKeyTotals: Statement;
  recomputeTopPriority: Statement;
  keyLeased: Statement;
}

/**
 * Sums the state moves of one transaction and writes them as a handful of counter updates at its
 * end: one per state, per crawl and per key touched, however many jobs moved. This is what keeps
 * stats O(1) and per-key in-flight counts exact without a trigger per row.
 */
export class Tally {
  private readonly counts = zero();
  private readonly crawls = new Map<string, StateDeltas>();
  private readonly keys = new Map<string, KeyDelta>();

  move(job: { key: string; crawl_id: string | null; priority: number }, from: JobState | null, to: JobState): void {
    if (from === to) return;
    if (from) this.counts[from]--;
    this.counts[to]++;
    if (job.crawl_id !== null) {
      let c = this.crawls.get(job.crawl_id);
      if (!c) this.crawls.set(job.crawl_id, (c = zero()));
      if (from) c[from]--;
      c[to]++;
    }
    let k = this.keys.get(job.key);
    if (!k) {
      k = { queued: 0, inFlight: 0, done: 0, skipped: 0, error: 0, priority: Number.MIN_SAFE_INTEGER, recompute: false, served: null };
      this.keys.set(job.key, k);
    }
    if (from === 'queued') { k.queued--; k.recompute = true; }
    else if (from === 'in_progress') k.inFlight--;
    else if (from) k[from]--;
    if (to === 'queued') { k.queued++; k.priority = Math.max(k.priority, job.priority); }
    else if (to === 'in_progress') k.inFlight++;
    else k[to]++;
  }

  /** A lease took jobs from this key: its turn in the round robin and its next start are due. */
  served(key: string, seq: number, delayMs: number, now: number): void {
    const k = this.keys.get(key);
    if (k) k.served = { seq, delayMs, now };
  }

  /** Net jobs this transaction has added to a crawl so far (not yet in crawl_counts). */
  crawlAdded(crawlId: string): number {
    const c = this.crawls.get(crawlId);
    return c ? c.queued + c.in_progress + c.done + c.skipped + c.error : 0;
  }

  apply(s: TallyStatements): void {
    for (const state of JOB_STATES) if (this.counts[state] !== 0) s.bumpCount.run(this.counts[state], state);
    for (const [crawlId, d] of this.crawls) s.bumpCrawl.run({ crawlId, ...d });
    for (const [key, d] of this.keys) {
      if (d.done !== 0 || d.skipped !== 0 || d.error !== 0) s.bumpKeyTotals.run({ key, done: d.done, skipped: d.skipped, error: d.error });
      if (d.served) {
        // The key has queued jobs (it was just leased from), so its row exists: one update does all.
        s.keyLeased.run({ key, queued: d.queued, inFlight: d.inFlight, ...d.served });
        continue;
      }
      if (d.queued === 0 && d.inFlight === 0 && !d.recompute) continue;
      const priority = d.priority === Number.MIN_SAFE_INTEGER ? null : d.priority;
      s.bumpKey.run({ key, queued: d.queued, inFlight: d.inFlight, priority });
      if (d.recompute) s.recomputeTopPriority.run({ key });
    }
  }
}
