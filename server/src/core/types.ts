/**
 * The queue's vocabulary. The queue knows jobs, keys (per-host limit buckets) and workers;
 * it knows nothing of crawling, RPC or editors. Times are milliseconds since the epoch.
 */

import type { JobState } from './states';
export { JOB_STATES, type JobState } from './states';

export const EVENT_TYPES = [
  'enqueued',
  'leased',
  'done',
  'skipped',
  'failed',
  'retry',
  'deferred',
  'expired',
  'released',
  'requeued',
  'cancelled',
  'lost_lease',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface JobResult {
  status?: number;
  contentType?: string | null;
  bytes?: number;
  durationMs?: number;
  finalUrl?: string;
  title?: string | null;
  [extra: string]: unknown;
}

export interface Job {
  id: number;
  kind: string;
  url: string;
  /** The limit key: for crawl jobs the URL's hostname, lowercased, without port. */
  key: string;
  crawlId: string | null;
  depth: number | null;
  priority: number;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  /** Times a worker died holding this job (its lease expired or its process was gone). */
  reclaims: number;
  /**
   * Times it was put off (a deferral: Retry-After, robots.txt unreadable, its crawl paused) since
   * an attempt last counted: so a queued job with a backoff and deferrals was put off, one without
   * was retried.
   */
  deferrals: number;
  runAfter: number;
  workerId: string | null;
  leaseToken: string | null;
  leasedAt: number | null;
  leaseExpiresAt: number | null;
  heartbeatAt: number | null;
  lastError: string | null;
  result: JobResult | null;
  /** Handler-specific data, opaque to the queue. */
  payload: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

/** A job as a worker holds it: the lease token fences every acknowledgement. */
export interface LeasedJob extends Job {
  workerId: string;
  leaseToken: string;
}

/** run_after of a job held back until further notice (its crawl is paused). */
export const HELD = Number.MAX_SAFE_INTEGER;

/** Whether a queued job's run_after holds it (HELD, or beyond: the sentinel is compared, not matched). */
export function isHeld(runAfter: number): boolean {
  return runAfter >= HELD;
}

export interface NewJob {
  kind: string;
  url: string;
  key: string;
  /** Deduplication key, usually the normalized URL; unique per crawl (or among standalone jobs). */
  dedupeKey: string;
  crawlId?: string | null;
  depth?: number | null;
  priority?: number;
  maxAttempts?: number;
  payload?: Record<string, unknown> | null;
  /** Not before this time (a paused crawl's jobs are held this way). */
  runAfter?: number;
  /** Start as `skipped` with this reason instead of `queued` (a page robots.txt forbids, say). */
  skipReason?: string;
}

export interface EnqueueResult {
  /** One entry per input: the new job's id, or null where it was a duplicate or over the cap. */
  ids: (number | null)[];
  enqueued: number;
  duplicates: number;
  /** Jobs refused because their crawl had reached its cap. */
  capped: number;
}

export interface EnqueueOptions {
  /** The most jobs a crawl may hold in all; jobs past it are counted, not inserted. */
  crawlCap?: number;
}

/**
 * How a handler's attempt ended; acknowledged under the lease token. `attached`: something of the
 * job kind's, handed to the queue's AckHook in the acknowledgement's transaction (see there);
 * opaque to the queue.
 */
export type Outcome =
  /** `enqueue`: follow-up jobs (a page's links), inserted in the same transaction as the ack, so
   * they exist if and only if the attempt that found them is the one that counted. */
  (
    | { type: 'done'; result?: JobResult; enqueue?: NewJob[]; crawlCap?: number }
    | { type: 'skip'; reason: string; result?: JobResult }
    | { type: 'fail'; error: string; retryable?: boolean; result?: JobResult }
    /** Not the job's fault (a 429, a 503 with Retry-After): run again later without spending an attempt. */
    | { type: 'defer'; reason: string; delayMs: number }
    /** Give the job back untouched (graceful stop): queued at once, the attempt not counted. */
    | { type: 'release'; reason: string }
  ) & { attached?: unknown };

/**
 * A job kind's own writes in the transaction of a batch of acknowledgements, for those accepted
 * (their leases still held) that end an attempt (done, fail, skip) and carry something
 * `attached`: so that no attempt that did not count leaves them, at one commit for both. Each
 * engine takes its own kind: SQLite an AckWriter, PostgreSQL an AckCall.
 */
export type AckHook = AckWriter | AckCall;

/** SQLite's: writes on the queue's connection, synchronously, inside the transaction. */
export interface AckWriter {
  /**
   * What it cannot write for what was written, it leaves out and reports itself, and the
   * acknowledgements go on; it throws only what the database's state caused (full, unreadable),
   * which fails the batch, to be tried again with its acknowledgements.
   */
  write(attached: unknown[]): void;
  /** The transaction that `write` ran in was rolled back: what it made is gone. */
  rolledBack(): void;
}

/**
 * PostgreSQL's: a function of the schema (installed by the kind's own migrations) that the
 * acknowledgement's function calls inside its transaction, in the same round trip, as
 * `fn(arg jsonb, accepted integer[]) RETURNS SETOF jsonb`: `arg` is what `prepare` made of the
 * attachments, `accepted` the places (from 1) of those whose acknowledgement held its lease. As
 * with an AckWriter, what it cannot write for what was written it leaves out and reports in its
 * rows; it raises only what the database's state caused, which fails the batch.
 */
export interface AckCall {
  /** The function's name, a plain identifier. */
  readonly fn: string;
  /** The argument for these attachments as JSON text, and what to do with the rows the function returned once they are committed. */
  prepare(attached: unknown[]): { json: string; committed(rows: unknown[]): void };
}

export interface Ack {
  id: number;
  token: string;
  outcome: Outcome;
  /**
   * The leased job as the lease handed it out, when the caller has it: what the queue needs for its
   * counters never changes while the lease is held, so the queue need not read it back. Without
   * it the queue reads the lease first.
   */
  job?: Pick<LeasedJob, 'key' | 'crawlId' | 'priority' | 'attempts' | 'maxAttempts' | 'leasedAt'>;
}

export interface AckResult {
  id: number;
  /** False when the lease was no longer ours: nothing was written but a `lost_lease` event. */
  ok: boolean;
  state?: JobState;
  /** What became of the outcome's follow-up jobs. */
  enqueued?: EnqueueResult;
}

export interface HeartbeatResult {
  extended: number;
  /** Leases the worker believed it held but no longer does; their handlers must be aborted. */
  lost: { id: number; token: string }[];
}

export interface ReapResult {
  requeued: number;
  failed: number;
}

export interface Stats {
  queued: number;
  in_progress: number;
  done: number;
  skipped: number;
  error: number;
  total: number;
}

/** The queue's counts read on a connection of its own (each engine's stats-reader.ts), for another thread. */
export interface StatsReader {
  /** The counts as of the last commit, as Queue.stats gives them. */
  stats(): Promise<Stats>;
  close(): Promise<void>;
}

export interface CrawlCounts extends Stats {
  /** Jobs refused because the crawl had reached its cap. */
  capped: number;
}

export interface ListFilter {
  state?: JobState;
  key?: string;
  crawlId?: string;
  /** Page size, 1..1000. */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | null;
  /** Newest first (by id, descending): a running crawl's latest results on top. Default oldest first. */
  newestFirst?: boolean;
  /**
   * Only failed jobs (state `error`, implied; another state is refused) of this reason: the class
   * of their last error (core/failure-reason.ts), as `reasons` counts them.
   */
  reason?: string;
  /**
   * An HTTP status ("404") or class ("4xx") of the job's result, or else text found in its URL or
   * last error (ignoring case: ASCII letters on SQLite, the locale's on PostgreSQL); blank: no
   * search. Examines a bounded number of rows per call (parseSearch in job-rules.ts).
   */
  search?: string;
}

export interface JobPage {
  jobs: Job[];
  nextCursor: string | null;
}

export interface JobEvent {
  at: number;
  type: EventType;
  workerId: string | null;
  detail: string | null;
}

export interface LeaseInfo {
  jobId: number;
  url: string;
  key: string;
  workerId: string;
  leaseToken: string;
  leasedAt: number;
  expiresAt: number;
  heartbeatAt: number;
}

export interface KeySummary {
  key: string;
  limit: number;
  inFlight: number;
  queued: number;
  done: number;
  error: number;
  /** Earliest next start allowed by the minimum delay. */
  nextStartAt: number | null;
  /** A deferral of the whole key (a host backing off), with its reason. */
  deferredUntil: number | null;
  deferReason: string | null;
  minDelayMs: number;
}

export interface RequeueFilter {
  ids?: number[];
  /** Requeue every job in this finished state. */
  state?: 'done' | 'skipped' | 'error';
  key?: string;
  crawlId?: string;
  /** Only failed jobs of this reason (the state `error`, implied; another state is refused). */
  reason?: string;
  /** Crawls held (paused, holdCrawl): their jobs go back to the queue held with them, not runnable. */
  heldCrawls?: readonly string[];
}

/** Failed jobs (state `error`) counted by their reason. */
export interface ReasonCount {
  reason: string;
  count: number;
}

export interface ReasonsQuery {
  /** Only this crawl's failed jobs; absent: every job's. */
  crawlId?: string;
  /** Reasons returned at most, 1..1000 (default 1000). */
  limit?: number;
}

export interface CancelFilter {
  ids?: number[];
  crawlId?: string;
}

/** A job's state as the change feed reports it, and when the job last changed (a retry leaves its state as it was). */
export interface JobStateRow {
  id: number;
  state: JobState;
  crawlId: string | null;
  updatedAt: number;
}

/**
 * Which jobs changed, as one reader sees every writer's commits: this process's, other processes'
 * on the same database, and (with a networked engine) other machines'. The reader is told that
 * something may have changed, then asks which jobs.
 */
export interface JobChanges {
  /** Called when something may have changed; the reader then calls `take`. */
  onSignal(listener: () => void): () => void;
  /**
   * The jobs changed since the last take: their ids, or null when more than `max` changed (the
   * reader refetches everything). `missed`: some change may have gone unnamed (the reader
   * refetches when the counts move).
   */
  take(max: number): Promise<{ ids: number[] | null; missed: boolean }>;
  close(): void;
}

export interface LeaseOptions {
  ttlMs: number;
  /** The per-key limit for keys without an override. */
  defaultLimit: number;
  /** The minimum delay between lease starts on one key, for keys without an override. */
  defaultDelayMs?: number;
}

/** A worker as the registry has it (Queue.workers). */
export interface WorkerRecord {
  workerId: string;
  /** Null for a worker that holds leases but was never recorded (a daemon older than the registry). */
  startedAt: number | null;
  /** Its last call to workerSeen; for one never recorded, its leases' latest heartbeat. */
  seenAt: number;
  /** Null while it runs, or when it died without stopping. */
  stoppedAt: number | null;
  /** Leases it holds now. */
  leases: number;
}

/** A stopped or silent worker is forgotten this long after it was last seen. */
export const WORKERS_KEPT_MS = 7 * 24 * 3600_000;

/**
 * The queue, engine-agnostic. Every method is async so that a networked engine (PostgreSQL)
 * can implement the same contract as the embedded SQLite one.
 */
export interface Queue {
  /**
   * The queue's clock (ms since the epoch): every time it stores or compares (leases and their
   * expiry, backoffs, a key's next start) is on it, and so must be those given to it and those
   * read from it to wait on. This machine's on SQLite; the server's on PostgreSQL, shared by
   * every daemon on the database whatever their own clocks say.
   */
  now(): number;
  enqueue(jobs: NewJob[], opts?: EnqueueOptions): Promise<EnqueueResult>;
  /** Up to n ready jobs, by priority then FIFO, round robin across keys, never past a key's limit. */
  lease(workerId: string, n: number, opts: LeaseOptions): Promise<LeasedJob[]>;
  /** Extends every live lease of the worker by ttl; reports which of `held` it no longer holds. */
  heartbeat(workerId: string, ttlMs: number, held: { id: number; token: string }[]): Promise<HeartbeatResult>;
  /** Fenced acknowledgements, applied in one transaction. */
  ack(workerId: string, acks: Ack[]): Promise<AckResult[]>;
  /** The job kind's writes with each batch of acknowledgements (one hook, of the engine's kind; null: none). */
  setAckHook(hook: AckHook | null): void;
  /**
   * Expired leases back to queued (or to error past the reclaim cap), but for those of `self`, the
   * calling process's worker: alive, it is still running them (see Reaper).
   */
  reap(self?: string | null): Promise<ReapResult>;
  /** Every lease of these workers back to queued at once (their processes are known to be gone). */
  reclaimWorkers(workerIds: string[], reason: string): Promise<ReapResult>;
  /** Worker ids that hold leases now. */
  leaseHolders(): Promise<string[]>;
  /**
   * The worker registry. `workerSeen` records a worker at its first call and moves its time last
   * seen at each (its reaper calls it at start and every SEEN_EVERY_MS, busy or idle), and forgets
   * the other workers not heard from for WORKERS_KEPT_MS; `workerStopped` marks a graceful stop.
   */
  workerSeen(workerId: string): Promise<void>;
  workerStopped(workerId: string): Promise<void>;
  /** Recorded workers and those holding leases, the most recently seen first, at most `limit`. */
  workers(limit: number): Promise<WorkerRecord[]>;
  requeue(filter: RequeueFilter): Promise<number>;
  /**
   * Failed jobs by reason, most first (then by reason): read from counters kept with the jobs, so
   * it costs the reasons' rows however many jobs failed.
   */
  reasons(query?: ReasonsQuery): Promise<ReasonCount[]>;
  /** Queued jobs become `skipped`, reason `cancelled`. */
  cancel(filter: CancelFilter): Promise<number>;
  stats(): Promise<Stats>;
  crawlStats(crawlId: string): Promise<CrawlCounts>;
  list(filter: ListFilter): Promise<JobPage>;
  get(id: number): Promise<{ job: Job; events: JobEvent[] } | null>;
  /** Jobs by dedupe key (normalized URL) within a crawl, or among standalone jobs when crawlId is null. */
  findByDedupeKeys(crawlId: string | null, dedupeKeys: string[]): Promise<Job[]>;
  /** These jobs, in one read (ids not found are left out). */
  jobsByIds(ids: number[]): Promise<Job[]>;
  leases(): Promise<LeaseInfo[]>;
  /** Keys busiest first; `live`: only those with queued work a lease may take (not all held), cheaply, however many hosts there are. */
  keys(opts: { limit?: number; defaultLimit: number; defaultDelayMs?: number; live?: boolean }): Promise<KeySummary[]>;
  /** A per-key concurrency limit (null: back to the default). */
  setKeyLimit(key: string, limit: number | null): Promise<void>;
  /** A per-key minimum delay between lease starts (null: none). */
  setKeyDelay(key: string, delayMs: number | null): Promise<void>;
  /**
   * Claims a request start on the key at least `delayMs` after the previous claim, across every
   * process; returns when the request may start (now or later).
   */
  claimStart(key: string, delayMs: number): Promise<number>;
  /** Hold back every job of a key until `until` (a host backing off), with the reason. */
  deferKey(key: string, until: number, reason: string): Promise<void>;
  /**
   * When something not ready at `after` (default: now) becomes ready (a backoff or delay ends), or
   * null. A dispatcher passes the time of its last lease, so that what came due between that lease
   * and this call is not missed.
   */
  nextWakeAt(after?: number): Promise<number | null>;
  /** Holds a crawl's queued jobs (paused) or makes them ready again; returns how many. */
  holdCrawl(crawlId: string, held: boolean): Promise<number>;
  /** Drops bookkeeping rows of idle keys; returns how many. */
  evictIdleKeys(): Promise<number>;
  /** A reader of job changes; `pollMs`: how often an engine that has no change feed looks. */
  changes(opts: { pollMs: number }): JobChanges;
  /** The states of these jobs (ids not found are left out). */
  jobStates(ids: number[]): Promise<JobStateRow[]>;
  /** Cheap change detector: differs after any other connection's commit. */
  changeCounter(): number;
  /** Called after each local commit that changed jobs or keys (to wake a sleeping dispatcher). */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}
