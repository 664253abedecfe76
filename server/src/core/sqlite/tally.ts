import type { Statement } from 'better-sqlite3';
import { JOB_STATES, type JobState } from '../types';

type StateDeltas = Record<JobState, number>;
const zero = (): StateDeltas => ({ queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0 });

interface KeyDelta {
  queued: number;
  /** Queued jobs held (a paused crawl's), a part of queued. */
  held: number;
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
  bumpCounts: Statement;
  bumpCrawl: Statement;
  keysBump: Statement;
  keysInFlight: Statement;
  keysRecount: Statement;
  bumpKeyTotals: Statement;
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
    const k = this.key(job.key);
    if (from === 'queued') { k.queued--; k.recompute = true; }
    else if (from === 'in_progress') k.inFlight--;
    else if (from) k[from]--;
    if (to === 'queued') { k.queued++; k.priority = Math.max(k.priority, job.priority); }
    else if (to === 'in_progress') k.inFlight++;
    else k[to]++;
  }

  /** Held jobs (a paused crawl's) entered (n > 0) or left (n < 0) this key's queue. */
  held(key: string, n: number): void {
    this.key(key).held += n;
  }

  private key(key: string): KeyDelta {
    let k = this.keys.get(key);
    if (!k) {
      k = { queued: 0, held: 0, inFlight: 0, done: 0, skipped: 0, error: 0, priority: Number.MIN_SAFE_INTEGER, recompute: false, served: null };
      this.keys.set(key, k);
    }
    return k;
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

  /**
   * One statement per table, however many keys moved: each gets its deltas as a JSON array, so a
   * batch over a hundred hosts costs a handful of statements, not a few hundred (measured: the
   * per-key statements were a quarter of a lifecycle's time).
   */
  apply(s: TallyStatements): void {
    const counts: Partial<StateDeltas> = {};
    let anyCount = false;
    for (const state of JOB_STATES) if (this.counts[state] !== 0) { counts[state] = this.counts[state]; anyCount = true; }
    if (anyCount) s.bumpCounts.run(JSON.stringify(counts));
    for (const [crawlId, d] of this.crawls) s.bumpCrawl.run({ crawlId, ...d });
    const totals: (string | number)[][] = [];
    const bumps: (string | number)[][] = [];
    const recounts: (string | number)[][] = [];
    const inFlight: (string | number)[][] = [];
    for (const [key, d] of this.keys) {
      if (d.done !== 0 || d.skipped !== 0 || d.error !== 0) totals.push([key, d.done, d.skipped, d.error]);
      if (d.served) {
        const { seq, delayMs, now } = d.served;
        recounts.push([key, d.queued, d.inFlight, seq, delayMs > 0 ? now + delayMs : 0, d.held]);
      } else if (d.recompute) {
        recounts.push([key, d.queued, d.inFlight, 0, 0, d.held]);
      } else if (d.queued !== 0 || d.held !== 0) {
        bumps.push([key, d.queued, d.inFlight, d.queued > 0 ? d.priority : 0, d.held]);
      } else if (d.inFlight !== 0) {
        inFlight.push([key, d.inFlight]);
      }
    }
    if (totals.length) s.bumpKeyTotals.run(JSON.stringify(totals));
    if (bumps.length) s.keysBump.run(JSON.stringify(bumps));
    if (inFlight.length) s.keysInFlight.run(JSON.stringify(inFlight));
    if (recounts.length) s.keysRecount.run(JSON.stringify(recounts));
  }
}
