import { TallySums } from '../tally';
import { JOB_STATES } from '../types';

/**
 * One transaction's bookkeeping as the rows of its statement (sql.ts: finish), each field named as
 * the statement's jsonb_to_recordset reads it.
 */
export interface TallyRows {
  /** Keys whose row is written again: a lease was served from them, or their top priority is read again. */
  update: { key: string; queued: number; in_flight: number; served: boolean; delay_ms: number; held: number }[];
  /** Keys whose counters only move (made when new). */
  bump: { key: string; queued: number; in_flight: number; priority: number | null; held: number }[];
  totals: { key: string; done: number; skipped: number; error: number }[];
  crawls: { crawl_id: string; queued: number; in_progress: number; done: number; skipped: number; error: number; capped: number }[];
  states: { state: string; n: number }[];
  reasons: { crawl_id: string; reason: string; n: number }[];
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

  rows(): TallyRows {
    const out: TallyRows = { update: [], bump: [], totals: [], crawls: [], states: [], reasons: [] };
    for (const key of [...this.keys.keys()].sort()) {
      const d = this.keys.get(key)!;
      if (d.done !== 0 || d.skipped !== 0 || d.error !== 0) out.totals.push({ key, done: d.done, skipped: d.skipped, error: d.error });
      if (d.recompute || d.served) {
        out.update.push({ key, queued: d.queued, in_flight: d.inFlight, served: d.served !== null, delay_ms: d.served?.delayMs ?? 0, held: d.held });
      } else if (d.queued !== 0 || d.inFlight !== 0 || d.held !== 0) {
        out.bump.push({ key, queued: d.queued, in_flight: d.inFlight, priority: d.priority, held: d.held });
      }
    }
    for (const crawlId of [...this.crawls.keys()].sort()) {
      const c = this.crawls.get(crawlId)!;
      out.crawls.push({ crawl_id: crawlId, queued: c.queued, in_progress: c.in_progress, done: c.done, skipped: c.skipped, error: c.error, capped: c.capped });
    }
    for (const state of JOB_STATES) if (this.counts[state] !== 0) out.states.push({ state, n: this.counts[state] });
    for (const [crawlId, reason, n] of this.reasonDeltas()) out.reasons.push({ crawl_id: crawlId, reason, n });
    return out;
  }
}
