import type { Statement } from 'better-sqlite3';
import { TallySums, type StateDeltas } from '../tally';
import { JOB_STATES } from '../types';

export interface TallyStatements {
  bumpCounts: Statement;
  bumpCrawl: Statement;
  keysBump: Statement;
  keysInFlight: Statement;
  keysRecount: Statement;
  bumpKeyTotals: Statement;
  bumpReasons: Statement;
}

/** The sums of one SQLite transaction, written by `apply` before it commits. */
export class Tally extends TallySums {
  /** The lease sequence number taken by this transaction's lease, if it leased. */
  leaseSeq = 0;

  /**
   * One statement per table, however many keys moved: each gets its deltas as a JSON array, so a
   * batch over a hundred hosts costs a handful of statements, not a few hundred (measured: the
   * per-key statements were a quarter of a lifecycle's time).
   */
  apply(s: TallyStatements, now: number): void {
    const counts: Partial<StateDeltas> = {};
    let anyCount = false;
    for (const state of JOB_STATES)
      if (this.counts[state] !== 0) {
        counts[state] = this.counts[state];
        anyCount = true;
      }
    if (anyCount) s.bumpCounts.run(JSON.stringify(counts));
    for (const [crawlId, d] of this.crawls) {
      s.bumpCrawl.run({ crawlId, queued: d.queued, in_progress: d.in_progress, done: d.done, skipped: d.skipped, error: d.error });
    }
    const totals: (string | number)[][] = [];
    const bumps: (string | number)[][] = [];
    const recounts: (string | number)[][] = [];
    const inFlight: (string | number)[][] = [];
    for (const [key, d] of this.keys) {
      if (d.done !== 0 || d.skipped !== 0 || d.error !== 0) totals.push([key, d.done, d.skipped, d.error]);
      if (d.served) {
        const { delayMs } = d.served;
        recounts.push([key, d.queued, d.inFlight, this.leaseSeq, delayMs > 0 ? now + delayMs : 0, d.held]);
      } else if (d.recompute) {
        recounts.push([key, d.queued, d.inFlight, 0, 0, d.held]);
      } else if (d.queued !== 0 || d.held !== 0) {
        bumps.push([key, d.queued, d.inFlight, d.queued > 0 ? (d.priority ?? 0) : 0, d.held]);
      } else if (d.inFlight !== 0) {
        inFlight.push([key, d.inFlight]);
      }
    }
    if (totals.length) s.bumpKeyTotals.run(JSON.stringify(totals));
    if (bumps.length) s.keysBump.run(JSON.stringify(bumps));
    if (inFlight.length) s.keysInFlight.run(JSON.stringify(inFlight));
    if (recounts.length) s.keysRecount.run(JSON.stringify(recounts));
    const reasons = this.reasonDeltas();
    if (reasons.length) s.bumpReasons.run(JSON.stringify(reasons));
  }
}
