/**
 * The queue's rules that do not depend on an engine: what a job must carry, what an outcome makes
 * of a job, how a job's history reads, what a list cursor is. Both engines use them.
 */
import { DEFAULT_CONFIG } from './config';
import { QueueError } from './errors';
import { MAX_REASON, failureReason, wellFormed } from './failure-reason';
import { clip } from './text';
import {
  JOB_STATES,
  type Ack,
  type CrawlCounts,
  type EventType,
  type Job,
  type JobEvent,
  type JobState,
  type JobPage,
  type KeySummary,
  type ListFilter,
  type NewJob,
  type Outcome,
  type ReasonsQuery,
  type RequeueFilter,
} from './types';

export function validateNewJob(j: NewJob): void {
  if (typeof j.kind !== 'string' || j.kind === '') throw new QueueError('a job needs a kind');
  if (typeof j.url !== 'string' || j.url === '') throw new QueueError('a job needs a url');
  if (typeof j.key !== 'string' || j.key === '') throw new QueueError(`job ${j.url} needs a key`);
  if (typeof j.dedupeKey !== 'string' || j.dedupeKey === '') throw new QueueError(`job ${j.url} needs a dedupe key`);
  if (j.maxAttempts !== undefined && !(Number.isInteger(j.maxAttempts) && j.maxAttempts >= 1)) {
    throw new QueueError(`maxAttempts must be an integer ≥ 1 (got ${j.maxAttempts})`);
  }
  if (j.priority !== undefined && !Number.isInteger(j.priority)) throw new QueueError('priority must be an integer');
}

/** Outcomes that count an attempt: only their attachments reach the AckHook (a deferral or a release ran no attempt of record). */
const ENDS_ATTEMPT = new Set<Outcome['type']>(['done', 'fail', 'skip']);

/** Whether what an acknowledgement carries is for the AckHook, once the acknowledgement holds its lease. */
export function forAckHook(a: Ack): boolean {
  return ENDS_ATTEMPT.has(a.outcome.type) && a.outcome.attached !== undefined;
}

/**
 * Whether a handler's outcome can be recorded, checked before it joins a batch of acknowledgements:
 * one that cannot (a result with no JSON form, an invalid follow-up job, a deferral without a
 * delay) would otherwise fail the whole batch's transaction, every time it is tried again.
 */
export function checkOutcome(o: Outcome): void {
  const text = (v: unknown, what: string) => {
    if (typeof v !== 'string') throw new QueueError(`${o.type}: ${what} must be a string`);
  };
  switch (o.type) {
    case 'done':
      if (o.enqueue !== undefined) {
        if (!Array.isArray(o.enqueue)) throw new QueueError('done: enqueue must be an array of jobs');
        o.enqueue.forEach(validateNewJob);
      }
      break;
    case 'skip':
      text(o.reason, 'reason');
      break;
    case 'fail':
      text(o.error, 'error');
      break;
    case 'defer':
      text(o.reason, 'reason');
      if (!(Number.isFinite(o.delayMs) && o.delayMs >= 0)) throw new QueueError(`defer: delayMs must be a number ≥ 0 (got ${String(o.delayMs)})`);
      break;
    case 'release':
      text(o.reason, 'reason');
      break;
    default:
      throw new QueueError(`unknown outcome type ${JSON.stringify((o as { type?: unknown }).type)}`);
  }
  if ('result' in o && o.result !== undefined) {
    try {
      JSON.stringify(o.result);
    } catch (err) {
      throw new QueueError(`${o.type}: the result has no JSON form (${(err as Error).message})`);
    }
  }
}

function decodeCursor(cursor: string | null | undefined, newestFirst: boolean): number {
  if (cursor === undefined || cursor === null || cursor === '') return newestFirst ? Number.MAX_SAFE_INTEGER : 0;
  if (!/^\d{1,15}$/.test(cursor)) throw new QueueError('cursor is not one this server gave out');
  return Number(cursor);
}

/** Which filters a listing has, and its order: one prepared statement per shape. */
export interface ListShape {
  /** Not with a reason, which implies the state `error` (only failed jobs have one). */
  state: boolean;
  key: boolean;
  crawlId: boolean;
  reason: boolean;
  newestFirst: boolean;
  /** A search's kind: its bounds are bound parameters, and a search adds the window's end (`until`). */
  search: 'status' | 'text' | null;
  /**
   * The filter whose index a search walks (null: the ids themselves): its window counts the rows
   * of that index, so the rows a call examines are bounded whatever the other filters match.
   */
  walk: 'reason' | 'crawlId' | 'key' | 'state' | null;
}

/** A search as the engines bind it: a status range, or a LIKE pattern with `\` as its escape. */
export type JobSearch = { kind: 'status'; low: number; high: number } | { kind: 'text'; like: string };

/** What a search text asks for: "404" and "4xx" a result's HTTP status, anything else a substring. */
export function parseSearch(text: string | undefined): JobSearch | null {
  const t = text?.trim() ?? '';
  if (t === '') return null;
  if (/^[1-5][0-9][0-9]$/.test(t)) return { kind: 'status', low: Number(t), high: Number(t) };
  if (/^[1-5]xx$/i.test(t)) return { kind: 'status', low: Number(t[0]) * 100, high: Number(t[0]) * 100 + 99 };
  return { kind: 'text', like: `%${t.replace(/[\\%_]/g, (c) => `\\${c}`)}%` };
}

/** The longest search, as jobs/list allows (protocol.ts MAX_JOB_SEARCH; the core does not import the wire contract). */
export const MAX_SEARCH = 200;

/** A list filter checked: its page size, the id to start after, which filters are set, and its search. */
export function checkListFilter(filter: ListFilter): { limit: number; after: number; shape: ListShape; search: JobSearch | null } {
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new QueueError('limit must be an integer from 1 to 1000');
  if (filter.search !== undefined && (typeof filter.search !== 'string' || filter.search.length > MAX_SEARCH)) {
    throw new QueueError(`search must be text of at most ${MAX_SEARCH} characters`);
  }
  const search = parseSearch(filter.search);
  const reason = checkReason(filter.reason, filter.state);
  return {
    limit,
    after: decodeCursor(filter.cursor, filter.newestFirst === true),
    search,
    shape: {
      state: filter.state !== undefined && !reason,
      key: filter.key !== undefined,
      crawlId: filter.crawlId !== undefined,
      reason,
      newestFirst: filter.newestFirst === true,
      search: search?.kind ?? null,
      // A reason's index holds that reason's failures alone: the fewest rows of any filter's, most often.
      walk: reason ? 'reason' : filter.crawlId !== undefined ? 'crawlId' : filter.key !== undefined ? 'key' : filter.state !== undefined ? 'state' : null,
    },
  };
}

/** Whether a filter has a reason, checked: text as the queue stores it, and no state but `error`. */
function checkReason(reason: unknown, state: JobState | undefined): boolean {
  if (reason === undefined) return false;
  if (typeof reason !== 'string' || reason.length > MAX_REASON) throw new QueueError(`reason must be text of at most ${MAX_REASON} characters`);
  if (state !== undefined && state !== 'error') throw new QueueError(`only failed jobs have a reason: give the state error, or none (got ${state})`);
  return true;
}

/**
 * The states a requeue takes jobs from, one at a time (so the counters know where each came from):
 * the state given; with ids, any finished or running one; else, and with a reason, the failed.
 */
export function requeueFrom(filter: RequeueFilter): JobState[] {
  if (checkReason(filter.reason, filter.state)) return ['error'];
  return filter.state ? [filter.state] : filter.ids ? ['error', 'skipped', 'done', 'in_progress'] : ['error'];
}

/** Reasons listed at most by default, and at most asked for (protocol.ts MAX_REASONS_LISTED; the core does not import the wire contract). */
export const MAX_REASONS = 1000;

/** A reasons query checked: its crawl (undefined: every job) and how many reasons at most. */
export function checkReasonsQuery(query: ReasonsQuery): { crawlId: string | undefined; limit: number } {
  const limit = query.limit ?? MAX_REASONS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REASONS) throw new QueueError(`limit must be an integer from 1 to ${MAX_REASONS}`);
  if (query.crawlId !== undefined && typeof query.crawlId !== 'string') throw new QueueError('crawlId must be text');
  return { crawlId: query.crawlId, limit };
}

/**
 * Where a search's window ends: one call examines at most the search budget's rows of the walked
 * index past the cursor (ListShape.walk), however few of them match. `edge` is what the window
 * query read (the budget-th row's id and the next one's, if any): the window ends at the
 * budget-th row only when rows remain past it; otherwise it runs to the end.
 */
export function windowEnd(edge: number[], newestFirst: boolean): { until: number; bounded: boolean } {
  if (edge.length < 2) return { until: newestFirst ? 0 : Number.MAX_SAFE_INTEGER, bounded: false };
  return { until: edge[0], bounded: true };
}

/**
 * A page from `limit + 1` rows read: the cursor at the last job returned when there were more, or,
 * for a search whose window ended before `limit` matched, at the window's end, so the next call
 * walks on from the last row this one examined.
 */
export function pageFrom(rows: Job[], limit: number, window?: { until: number; bounded: boolean }): JobPage {
  const jobs = rows.slice(0, limit);
  if (rows.length > limit) return { jobs, nextCursor: String(jobs[jobs.length - 1].id) };
  return { jobs, nextCursor: window?.bounded ? String(window.until) : null };
}

/** A crawl's counters as read (none yet: zeros), with their total. */
export function crawlCounts(row: Omit<CrawlCounts, 'total'> | undefined): CrawlCounts {
  const s = {
    queued: row?.queued ?? 0,
    in_progress: row?.in_progress ?? 0,
    done: row?.done ?? 0,
    skipped: row?.skipped ?? 0,
    error: row?.error ?? 0,
    capped: row?.capped ?? 0,
  };
  return { ...s, total: JOB_STATES.reduce((t, st) => t + s[st], 0) };
}

/** The job row's values after an acknowledged outcome. */
export interface Settled {
  state: JobState;
  runAfter: number;
  finishedAt: number | null;
  result: string | null;
  lastError: string | null;
  /** The class of a failed job's error (core/failure-reason.ts); null in every other state. */
  reason: string | null;
  attemptsDelta: number;
  /** Added to the job's deferrals; null sets them to 0 (an attempt that counted). */
  deferralsDelta: number | null;
  /** How the attempt ended when the row alone records it (the job finished); else null. */
  outcome: string | null;
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * What either engine takes: the job rules, and the tables of other components sharing its database
 * (the crawl kind's, say), each with its migrations in the engine's form (`M`).
 */
export interface QueueOptions<M> extends RuleOptions {
  components?: { name: string; migrations: readonly M[] }[];
}

/** The engine options that shape the job rules, the same for every engine. */
export interface RuleOptions {
  /** Default max attempts for jobs enqueued without one. */
  maxAttempts?: number;
  /** Retry backoff: base * 2^(attempt-1), capped, times a jitter in [0.5, 1). */
  backoff?: Backoff;
  /** Leases lost to dead workers before a job fails for good (a job that kills its worker). */
  maxReclaims?: number;
  /** Events kept per job when it goes round again. */
  eventsPerJob?: number;
  /**
   * Rows one searching jobs/list examines at most (SEARCH_BUDGET): on SQLite the call holds the
   * daemon's only thread. Tests make it small.
   */
  searchBudget?: number;
  /**
   * This machine's clock (default Date.now); tests move it by hand. The queue's own clock
   * (Queue.now) is this one on SQLite, this one corrected to the server's on PostgreSQL.
   */
  clock?: () => number;
  random?: () => number;
}

/** A search's rows examined per call at most: a search that matches little must not walk a million rows in one call. */
export const SEARCH_BUDGET = 50_000;

/** Those options with their defaults. */
export function ruleDefaults(opts: RuleOptions) {
  return {
    now: opts.clock ?? Date.now,
    random: opts.random ?? Math.random,
    maxAttempts: opts.maxAttempts ?? DEFAULT_CONFIG.maxAttempts,
    backoff: opts.backoff ?? { baseMs: DEFAULT_CONFIG.backoffBaseMs, maxMs: DEFAULT_CONFIG.backoffMaxMs },
    maxReclaims: opts.maxReclaims ?? DEFAULT_CONFIG.maxReclaims,
    eventsPerJob: opts.eventsPerJob ?? 50,
    searchBudget: opts.searchBudget ?? SEARCH_BUDGET,
  };
}

/**
 * The longest reason or error kept with a job and its events. They can carry what a server sent (a
 * 60 KB Location header, a huge robots.txt line), and every list, status and editor view shows them.
 */
export const MAX_STORED_TEXT = 2_000;

/** An outcome's text clipped, and made well-formed (see wellFormed): stored as it is held. */
function clipTexts(o: Ack['outcome']): Ack['outcome'] {
  if (o.type === 'fail') return { ...o, error: wellFormed(clip(o.error, MAX_STORED_TEXT)) };
  if (o.type === 'done') return o;
  return { ...o, reason: wellFormed(clip(o.reason, MAX_STORED_TEXT)) };
}

/** What settle needs besides the outcome: the job's attempts so far and allowed, the time, and how to back off. */
export interface SettleContext {
  attempts: number;
  maxAttempts: number;
  now: number;
  backoff: Backoff;
  random: () => number;
}

/**
 * What an outcome makes of the job: its next row values and the event that records it. A failure
 * retries with capped exponential backoff and jitter until max attempts, then errors; a deferral
 * or a release gives the attempt back.
 */
export function settle(
  ack: Ack['outcome'],
  { attempts, maxAttempts, now, backoff, random }: SettleContext,
): { row: Settled; event: EventType; detail: string | null } {
  const outcome = clipTexts(ack);
  const result = 'result' in outcome && outcome.result ? JSON.stringify(outcome.result) : null;
  const row: Settled = {
    state: 'done',
    runAfter: 0,
    finishedAt: now,
    result,
    lastError: null,
    reason: null,
    attemptsDelta: 0,
    deferralsDelta: null,
    outcome: 'done',
  };
  const of = `attempt ${attempts}/${maxAttempts}`;
  switch (outcome.type) {
    case 'done':
      return { row, event: 'done', detail: null };
    case 'skip':
      return { row: { ...row, state: 'skipped', lastError: outcome.reason, outcome: 'skipped' }, event: 'skipped', detail: outcome.reason };
    case 'fail': {
      if (outcome.retryable === false || attempts >= maxAttempts) {
        return {
          row: { ...row, state: 'error', lastError: outcome.error, reason: failureReason(outcome.error), outcome: 'failed' },
          event: 'failed',
          detail: `${outcome.error} (${of})`,
        };
      }
      const delay = Math.floor(Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempts - 1, 30)) * (0.5 + random() / 2));
      return {
        row: { ...row, state: 'queued', runAfter: now + delay, finishedAt: null, lastError: outcome.error, outcome: null },
        event: 'retry',
        detail: `${outcome.error}; retry at ${new Date(now + delay).toISOString()} (${of} failed)`,
      };
    }
    case 'defer': {
      const delay = Math.max(0, Math.round(outcome.delayMs));
      return {
        row: {
          ...row,
          state: 'queued',
          runAfter: now + delay,
          finishedAt: null,
          result: null,
          lastError: outcome.reason,
          attemptsDelta: -1,
          deferralsDelta: 1,
          outcome: null,
        },
        event: 'deferred',
        detail: `${outcome.reason}; not before ${new Date(now + delay).toISOString()}`,
      };
    }
    case 'release':
      return {
        row: { ...row, state: 'queued', finishedAt: null, result: null, attemptsDelta: -1, deferralsDelta: 0, outcome: null },
        event: 'released',
        detail: outcome.reason,
      };
  }
}

/** A job as the bulk transitions (reap, reclaim, requeue, cancel) return it, for counters and events. */
export interface MovedRow {
  id: number;
  key: string;
  crawl_id: string | null;
  priority: number;
  state: JobState;
  attempts: number;
  max_attempts: number;
  reclaims: number;
  worker_id: string | null;
  leased_at: number | null;
  run_after: number;
  /** The reason it failed with (a reclaim that fails it) or leaves `error` with (a requeue); null otherwise. */
  reason?: string | null;
}

/**
 * The jobs a reclaim failed (past the reclaim cap: its statement wrote their error), each given the
 * reason of that error, for the engine to write with them.
 */
export function reclaimFailures<R extends MovedRow & { last_error: string | null }>(rows: R[]): R[] {
  const failed = rows.filter((row) => row.state === 'error');
  for (const row of failed) row.reason = failureReason(row.last_error ?? '');
  return failed;
}

export interface StoredEvent extends JobEvent {
  attempt: number | null;
  leasedAt: number | null;
}

/**
 * A job's history as users read it: enqueued, then each attempt as `leased` and how it ended.
 * The `enqueued` and `leased` entries are read back from the job row and from each attempt's
 * closing row (which records its lease), so the queue writes one event row per attempt.
 */
export function history(job: Job, outcome: EventType | null, stored: StoredEvent[]): JobEvent[] {
  const out: JobEvent[] = [{ at: job.createdAt, type: 'enqueued', workerId: null, detail: null }];
  // Anything written after it goes by time, but the stale acks (`lost_lease`) that may have come
  // meanwhile; a lease or an ending goes before those that are not earlier than it.
  const place = (e: JobEvent) => {
    let i = out.length;
    while (i > 1 && out[i - 1].type === 'lost_lease' && out[i - 1].at >= e.at) i--;
    out.splice(i, 0, e);
  };
  const lease = (at: number, workerId: string | null, attempt: number | null) =>
    place({ at, type: 'leased', workerId, detail: attempt === null ? null : `attempt ${attempt}/${job.maxAttempts}` });
  for (const e of stored) {
    if (e.leasedAt !== null) lease(e.leasedAt, e.workerId, e.attempt);
    out.push({ at: e.at, type: e.type, workerId: e.workerId, detail: e.detail });
  }
  if (job.state === 'in_progress' && job.leasedAt !== null) lease(job.leasedAt, job.workerId, job.attempts);
  // A finished job whose ending no event row tells: the job row is that record.
  if (outcome !== null && job.finishedAt !== null) {
    const byWorker = outcome !== 'cancelled' && job.leasedAt !== null;
    if (byWorker) lease(job.leasedAt!, job.workerId, job.attempts);
    const detail = outcome === 'failed' ? `${job.lastError} (attempt ${job.attempts}/${job.maxAttempts})` : job.lastError;
    place({ at: job.finishedAt, type: outcome, workerId: byWorker ? job.workerId : null, detail });
  }
  return out;
}

/** A host's row as both engines' key summaries read it (times of 0 mean none). */
export function toKeySummary(r: Record<string, unknown>): KeySummary {
  return {
    key: r.key as string,
    limit: r.lim as number,
    inFlight: r.inFlight as number,
    queued: r.queued as number,
    done: r.done as number,
    error: r.error as number,
    minDelayMs: r.minDelayMs as number,
    nextStartAt: (r.nextStartAt as number | null) || null,
    deferredUntil: (r.deferredUntil as number | null) || null,
    deferReason: (r.deferReason as string | null) ?? null,
  };
}

/** A key a lease may take jobs from, and what the lease has taken from it so far. */
export interface KeyOffer {
  key: string;
  /** Queued jobs, some of them perhaps still backing off. */
  queued: number;
  inFlight: number;
  lim: number;
  delayMs: number;
  taken: number;
  /** It gave fewer than asked: what else it has queued is not ready. */
  dry: boolean;
}

/** Fields copied one by one: a spread of driver rows cost 2% of a lease (measured). */
export function keyOffers(candidates: Omit<KeyOffer, 'taken' | 'dry'>[]): KeyOffer[] {
  return candidates.map((c) => ({ key: c.key, queued: c.queued, inFlight: c.inFlight, lim: c.lim, delayMs: c.delayMs, taken: 0, dry: false }));
}

/** Records what a key gave for its share. */
export function recordTaken(offer: KeyOffer, share: number, got: number): void {
  offer.taken += got;
  if (got < share) offer.dry = true;
}

/**
 * How many more of `n` jobs each key gets: one per key per round, as many rounds as the keys' room
 * allows, in the keys' order. Room counts what the lease took already: a key's queued count
 * includes jobs backing off, so one may give fewer than its share, and the others are asked again
 * for the rest (none left, or all dry, is all zeros). A key under a minimum delay starts one job
 * per lease.
 */
export function roundRobinShares(keys: KeyOffer[], n: number): number[] {
  const room = keys.map((c) => (c.dry ? 0 : (c.delayMs > 0 ? 1 : Math.min(c.lim - c.inFlight, c.queued)) - c.taken));
  const share = keys.map(() => 0);
  let left = n;
  for (let progress = true; left > 0 && progress;) {
    progress = false;
    for (let i = 0; i < keys.length && left > 0; i++) {
      if (share[i] < room[i]) {
        share[i]++;
        left--;
        progress = true;
      }
    }
  }
  return share;
}
