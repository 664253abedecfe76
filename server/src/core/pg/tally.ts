import { TallySums } from '../tally';
import { JOB_STATES } from '../types';

/** The arrays of one transaction's bookkeeping statement (sql.ts: finish). */
export interface TallyArrays {
  update: [string[], number[], number[], boolean[], number[], number[]];
  bump: [string[], number[], number[], (number | null)[], number[]];
  totals: [string[], number[], number[], number[]];
  crawls: [string[], number[], number[], number[], number[], number[], number[]];
  states: [string[], number[]];
  reasons: [string[], string[], number[]];
}

/**
 * The sums of one PostgreSQL transaction, written at its end in one statement however many jobs
 * moved: the per-key rows (in key order, so that two transactions lock them in one order), the
 * finished totals, per-crawl and per-state counters, failed jobs by reason.
 */
export class PgTally extends TallySums {
  /** Some key was leased from (the transaction takes a round-robin turn). */
  anyServed(): boolean {
    for (const k of this.keys.values()) if (k.served) return true;
    return false;
  }

  arrays(): TallyArrays {
    const out: TallyArrays = {
      update: [[], [], [], [], [], []], bump: [[], [], [], [], []], totals: [[], [], [], []], crawls: [[], [], [], [], [], [], []], states: [[], []], reasons: [[], [], []],
    };
    for (const key of [...this.keys.keys()].sort()) {
      const d = this.keys.get(key)!;
      if (d.done !== 0 || d.skipped !== 0 || d.error !== 0) push(out.totals, key, d.done, d.skipped, d.error);
      if (d.recompute || d.served) push(out.update, key, d.queued, d.inFlight, d.served !== null, d.served?.delayMs ?? 0, d.held);
      else if (d.queued !== 0 || d.inFlight !== 0 || d.held !== 0) push(out.bump, key, d.queued, d.inFlight, d.priority, d.held);
    }
    for (const crawlId of [...this.crawls.keys()].sort()) {
      const c = this.crawls.get(crawlId)!;
      push(out.crawls, crawlId, c.queued, c.in_progress, c.done, c.skipped, c.error, c.capped);
    }
    for (const state of JOB_STATES) if (this.counts[state] !== 0) push(out.states, state, this.counts[state]);
    for (const [crawlId, reason, delta] of this.reasonDeltas()) push(out.reasons, crawlId, reason, delta);
    return out;
  }
}

function push<T extends unknown[][]>(arrays: T, ...values: unknown[]): void {
  values.forEach((v, i) => arrays[i].push(v));
}
