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
  priority: number | null;
  /** Jobs left the queue: the key's top priority must be looked up again. */
  recompute: boolean;
  /** Leased from in this transaction: its round-robin turn and pacing. */
  served: { delayMs: number } | null;
}

/** The arrays of one transaction's bookkeeping statement (sql.ts: finish). */
export interface TallyArrays {
  update: [string[], number[], number[], boolean[], number[], number[]];
  bump: [string[], number[], number[], (number | null)[], number[]];
  totals: [string[], number[], number[], number[]];
  crawls: [string[], number[], number[], number[], number[], number[], number[]];
  states: [string[], number[]];
}

/**
 * Sums the state moves of one transaction, written at its end in one statement however many jobs
 * moved: the per-key rows (in key order, so that two transactions lock them in one order), the
 * finished totals, per-crawl and per-state counters. The same bookkeeping as the SQLite
 * engine's tally, shaped for arrays.
 */
export class PgTally {
  private readonly counts = zero();
  private readonly crawls = new Map<string, StateDeltas & { capped: number }>();
  private readonly keys = new Map<string, KeyDelta>();

  move(job: { key: string; crawl_id: string | null; priority: number }, from: JobState | null, to: JobState): void {
    if (from === to) return;
    if (from) this.counts[from]--;
    this.counts[to]++;
    if (job.crawl_id !== null) {
      const c = this.crawl(job.crawl_id);
      if (from) c[from]--;
      c[to]++;
    }
    const k = this.key(job.key);
    if (from === 'queued') { k.queued--; k.recompute = true; }
    else if (from === 'in_progress') k.inFlight--;
    else if (from) k[from]--;
    if (to === 'queued') { k.queued++; k.priority = Math.max(k.priority ?? job.priority, job.priority); }
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
      k = { queued: 0, held: 0, inFlight: 0, done: 0, skipped: 0, error: 0, priority: null, recompute: false, served: null };
      this.keys.set(key, k);
    }
    return k;
  }

  /** A lease took jobs from this key: its turn in the round robin and its next start are due. */
  served(key: string, delayMs: number): void {
    const k = this.keys.get(key);
    if (k) k.served = { delayMs };
  }

  capped(crawlId: string, n: number): void {
    this.crawl(crawlId).capped += n;
  }

  /** Some key was leased from (the transaction takes a round-robin turn). */
  anyServed(): boolean {
    for (const k of this.keys.values()) if (k.served) return true;
    return false;
  }

  arrays(): TallyArrays {
    const out: TallyArrays = { update: [[], [], [], [], [], []], bump: [[], [], [], [], []], totals: [[], [], [], []], crawls: [[], [], [], [], [], [], []], states: [[], []] };
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
    return out;
  }

  private crawl(crawlId: string): StateDeltas & { capped: number } {
    let c = this.crawls.get(crawlId);
    if (!c) this.crawls.set(crawlId, (c = { ...zero(), capped: 0 }));
    return c;
  }
}

function push<T extends unknown[][]>(arrays: T, ...values: unknown[]): void {
  values.forEach((v, i) => arrays[i].push(v));
}
