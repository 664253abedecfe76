import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { MIGRATIONS } from './schema';
import { openDatabase, type Migration } from './open';
import { BUSY_TIMEOUT_MS, retryWhileBusy } from './busy';
import { SqliteJobChanges } from './changes';
import { CHANGES_SQL, SQL, listSql, listWindowSql } from './sql';
import { Tally } from './tally';
import { WalFlusher } from './wal-flush';
import { Checkpointer } from './checkpoint';
import { QueueError } from '../errors';
import {
  checkOutcome,
  forAckHook,
  checkReasonsQuery,
  crawlCounts,
  history,
  pageFrom,
  checkListFilter,
  keyOffers,
  reclaimFailures,
  requeueFrom,
  roundRobinShares,
  ruleDefaults,
  settle,
  recordTaken,
  toKeySummary,
  validateNewJob,
  windowEnd,
  type MovedRow,
  type QueueOptions,
  type StoredEvent,
} from '../job-rules';
import { statsOf, toJob } from '../rows';
import {
  HELD,
  type Ack,
  type AckHook,
  type AckWriter,
  type AckResult,
  type EnqueueResult,
  type EventType,
  type HeartbeatResult,
  type Job,
  type JobEvent,
  type JobPage,
  type JobState,
  type KeySummary,
  type LeaseInfo,
  type LeaseOptions,
  type LeasedJob,
  type ListFilter,
  type NewJob,
  type Queue,
  type ReapResult,
  type ReasonCount,
  type ReasonsQuery,
  type RequeueFilter,
  type Stats,
  type CancelFilter,
  type CrawlCounts,
  type EnqueueOptions,
  type JobChanges,
  type JobStateRow,
  WORKERS_KEPT_MS,
  type WorkerRecord,
} from '../types';

export interface SqliteQueueOptions extends QueueOptions<Migration> {
  /** How long a write waits on the thread for another process's lock before retrying on a timer (busy.ts). */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/** The embedded engine: one long-lived connection, statements prepared once, WAL. */
export class SqliteQueue implements Queue {
  readonly db: Database.Database;
  private readonly s: { [K in keyof typeof SQL]: Statement };
  private readonly listStatements = new Map<string, Statement>();
  private statesStatement: Statement | undefined;
  private readonly listeners = new Set<() => void>();
  /** The job rules' options with their defaults (clock, retries, backoff, history). */
  private readonly rules: ReturnType<typeof ruleDefaults>;
  private readonly flusher: WalFlusher | null;
  /** Copies the WAL back off this thread (checkpoint.ts); null for a database in memory. */
  readonly checkpointer: Checkpointer | null;
  private ackHook: AckWriter | null = null;

  constructor(
    readonly path: string,
    opts: SqliteQueueOptions = {},
  ) {
    this.db = openDatabase(path, [{ name: 'queue', migrations: MIGRATIONS }, ...(opts.components ?? [])], {
      busyTimeoutMs: opts.busyTimeoutMs ?? BUSY_TIMEOUT_MS,
    });
    this.s = Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, this.db.prepare(sql)])) as SqliteQueue['s'];
    this.rules = ruleDefaults(opts);
    this.flusher = path === ':memory:' ? null : new WalFlusher(`${path}-wal`);
    this.checkpointer = path === ':memory:' ? null : new Checkpointer(this.db, path);
  }

  setAckHook(hook: AckHook | null): void {
    if (hook !== null && !('write' in hook))
      throw new QueueError('the SQLite engine writes with the acknowledgement on its own connection: it takes an AckWriter');
    this.ackHook = hook;
  }

  now(): number {
    return this.rules.now();
  }

  /** Called after every local commit that changed jobs, so a sleeping dispatcher can wake. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /**
   * Runs fn in a BEGIN IMMEDIATE transaction with a fresh tally, applied before commit, again
   * while another process holds the lock (`unlocked`). Listeners hear of it unless `quiet`: a
   * lease makes no work ready, and waking the dispatcher for its own lease would spin it.
   */
  private write<T>(fn: (tally: Tally, now: number) => T, quiet = false, rolledBack?: () => void): Promise<T> {
    return this.unlocked(() => {
      let result: T;
      try {
        result = this.db
          .transaction(() => {
            const tally = new Tally();
            const now = this.rules.now();
            const out = fn(tally, now);
            tally.apply(this.s, now);
            return out;
          })
          .immediate();
      } catch (err) {
        rolledBack?.();
        throw err;
      }
      this.flusher?.committed();
      if (!quiet) this.changed();
      return result;
    });
  }

  /** A write, tried again on timers while another process holds the lock: the thread is never held long. */
  private unlocked<T>(fn: () => T): Promise<T> {
    return retryWhileBusy(() => {
      const result = fn();
      this.checkpointer?.committed();
      return result;
    }, this.path);
  }

  /** An event row; one that ends an attempt carries the attempt's lease (number and start). */
  private event(
    id: number,
    at: number,
    type: EventType,
    workerId: string | null,
    detail: string | null,
    lease: { attempt: number | null; leasedAt: number | null } | null = null,
  ): void {
    this.s.insertEvent.run({ id, at, type, workerId, detail, attempt: lease?.attempt ?? null, leasedAt: lease?.leasedAt ?? null });
  }

  async enqueue(jobs: NewJob[], opts: EnqueueOptions = {}): Promise<EnqueueResult> {
    for (const j of jobs) validateNewJob(j);
    return this.write((tally, now) => this.insertJobs(tally, now, jobs, opts.crawlCap));
  }

  /** Inserts new jobs, skipping duplicates and, per crawl, whatever would pass `crawlCap`. */
  private insertJobs(tally: Tally, now: number, jobs: NewJob[], crawlCap?: number): EnqueueResult {
    const ids: (number | null)[] = [];
    const room = new Map<string, number>();
    const capped = new Map<string, number>();
    /** Crawl and dedupe key of each job refused past a cap here: its twins are duplicates. */
    const refused = new Set<string>();
    let enqueued = 0;
    for (const j of jobs) {
      const crawlId = j.crawlId ?? null;
      if (crawlId !== null && crawlCap !== undefined) {
        if (!room.has(crawlId)) {
          const stored = (this.s.crawlTotal.pluck().get(crawlId) as number | undefined) ?? 0;
          room.set(crawlId, crawlCap - stored - tally.crawlAdded(crawlId));
        }
        if (room.get(crawlId)! <= 0) {
          ids.push(null);
          // A duplicate takes no room: it is counted as one, not as capped (as before the cap).
          const pair = `${crawlId}\u0000${j.dedupeKey}`;
          if (!refused.has(pair) && !this.s.hasDedupeKey.get(crawlId, j.dedupeKey)) {
            refused.add(pair);
            capped.set(crawlId, (capped.get(crawlId) ?? 0) + 1);
          }
          continue;
        }
      }
      const state: JobState = j.skipReason === undefined ? 'queued' : 'skipped';
      const skipped = state === 'skipped';
      const inserted = this.s.insertJob.run(
        j.kind,
        j.url,
        j.key,
        j.dedupeKey,
        crawlId,
        j.depth ?? null,
        j.priority ?? 0,
        state,
        j.maxAttempts ?? this.rules.maxAttempts,
        j.runAfter ?? 0,
        j.skipReason ?? null,
        j.payload ? JSON.stringify(j.payload) : null,
        now,
        now,
        skipped ? now : null,
        skipped ? 'skipped' : null,
      );
      if (inserted.changes === 0) {
        ids.push(null);
        continue;
      }
      const id = Number(inserted.lastInsertRowid);
      ids.push(id);
      enqueued++;
      if (crawlId !== null && room.has(crawlId)) room.set(crawlId, room.get(crawlId)! - 1);
      tally.move({ key: j.key, crawl_id: crawlId, priority: j.priority ?? 0 }, null, state);
      if (!skipped && (j.runAfter ?? 0) >= HELD) tally.held(j.key, 1);
    }
    let cappedTotal = 0;
    for (const [crawlId, n] of capped) {
      this.s.bumpCapped.run({ crawlId, n });
      cappedTotal += n;
    }
    return { ids, enqueued, duplicates: jobs.length - enqueued - cappedTotal, capped: cappedTotal };
  }

  async lease(workerId: string, n: number, opts: LeaseOptions): Promise<LeasedJob[]> {
    if (!(n >= 1)) return [];
    return this.write((tally, now) => {
      const { ids, served, seq } = this.pickReadyJobs(Math.floor(n), opts.defaultLimit, opts.defaultDelayMs ?? 0, now);
      if (ids.length === 0) return [];
      const idList = JSON.stringify(ids);
      const batch = randomBytes(8).toString('hex');
      this.s.leaseJobs.run({ workerId, now, ttlMs: opts.ttlMs, ids: idList, batch });
      // Raw rows: building objects column by column costs more than the lease itself.
      const rows = this.s.leasedJobs.raw(true).all({ ids: idList }) as unknown[][];
      const jobs = rows.map((r) => leasedJob(r, workerId, `${batch}.${r[0] as number}`, now, opts.ttlMs));
      for (const job of jobs) tally.move({ key: job.key, crawl_id: job.crawlId, priority: job.priority }, 'queued', 'in_progress');
      tally.leaseSeq = seq;
      for (const [key, delayMs] of served) tally.served(key, delayMs);
      return jobs;
    }, true);
  }

  /**
   * Round robin over the keys that may start a job now: one job per key per round, as many rounds
   * as the batch needs and the keys' limits allow. Reads only keys with work, then an index seek
   * per key, so its cost does not grow with the depth of the queue.
   */
  private pickReadyJobs(n: number, defaultLimit: number, defaultDelayMs: number, now: number) {
    const ids: number[] = [];
    /** Keys leased from, with their minimum delay. */
    const served = new Map<string, number>();
    let skip = 0;
    while (ids.length < n) {
      const candidates = take(this.s.leaseCandidates.iterate({ defaultLimit, defaultDelayMs, now }), skip, n) as {
        key: string;
        queued: number;
        inFlight: number;
        lim: number;
        delayMs: number;
      }[];
      if (candidates.length === 0) break;
      skip += candidates.length;
      const page = keyOffers(candidates);
      for (let share = roundRobinShares(page, n - ids.length); share.some((s) => s > 0); share = roundRobinShares(page, n - ids.length)) {
        page.forEach((c, i) => {
          if (share[i] === 0) return;
          const ready = this.s.readyJobsOfKey.pluck();
          // Past the jobs this lease took from the key already (they are leased after the picking).
          const got =
            share[i] === 1 && c.taken === 0
              ? [ready.get({ key: c.key, now }) as number | undefined].filter((id): id is number => id !== undefined)
              : (take(ready.iterate({ key: c.key, now }), c.taken, share[i]) as number[]);
          recordTaken(c, share[i], got.length);
          if (got.length === 0) return;
          ids.push(...got);
          served.set(c.key, c.delayMs);
        });
      }
      if (candidates.length < n) break;
    }
    // Taken only for a lease that found work: an empty one writes nothing, so it wakes no other process.
    const seq = ids.length > 0 ? (this.s.nextLeaseSeq.pluck().get() as number) : 0;
    return { ids, served, seq };
  }

  async heartbeat(workerId: string, ttlMs: number, held: { id: number; token: string }[]): Promise<HeartbeatResult> {
    const rows = await this.unlocked(
      () => this.s.heartbeat.all({ workerId, ttlMs, now: this.rules.now(), ids: JSON.stringify(held.map((h) => h.id)) }) as { id: number; token: string }[],
    );
    const live = new Map(rows.map((r) => [r.id, r.token]));
    return { extended: rows.length, lost: held.filter((h) => live.get(h.id) !== h.token) };
  }

  async ack(workerId: string, acks: Ack[]): Promise<AckResult[]> {
    if (acks.length === 0) return [];
    for (const a of acks) checkOutcome(a.outcome);
    const hook = this.ackHook;
    let hooked = false;
    return this.write(
      (tally, now) => {
        const results = acks.map((a) => this.ackOne(tally, now, workerId, a));
        if (!hook) return results;
        const attached = acks.filter((a, i) => results[i].ok && forAckHook(a)).map((a) => a.outcome.attached);
        if (attached.length > 0) {
          hooked = true;
          hook.write(attached);
        }
        return results;
      },
      false,
      () => {
        if (hooked) hook!.rolledBack();
        hooked = false;
      },
    );
  }

  /** Where a lease is fenced: the update matches only (id, token, in_progress). */
  private ackOne(tally: Tally, now: number, workerId: string, { id, token, outcome, job }: Ack): AckResult {
    const held = job
      ? { key: job.key, crawl_id: job.crawlId, priority: job.priority, attempts: job.attempts, max_attempts: job.maxAttempts, leased_at: job.leasedAt }
      : (this.s.heldLease.get({ id, token }) as
          { key: string; crawl_id: string | null; priority: number; attempts: number; max_attempts: number; leased_at: number | null } | undefined);
    const next =
      held && settle(outcome, { attempts: held.attempts, maxAttempts: held.max_attempts, now, backoff: this.rules.backoff, random: this.rules.random });
    const r = next?.row;
    if (
      !held ||
      !r ||
      this.s.ack.run(r.state, r.runAfter, r.finishedAt, r.result, r.lastError, r.reason, r.attemptsDelta, r.deferralsDelta, r.outcome, now, id, token)
        .changes === 0
    ) {
      this.s.insertEventIfJob.run({ at: now, type: 'lost_lease', workerId, detail: `${outcome.type} refused: the lease was no longer held`, id });
      return { id, ok: false };
    }
    tally.move({ ...held, reason: r.reason }, 'in_progress', next.row.state);
    if (next.row.state === 'queued' && next.row.runAfter >= HELD) tally.held(held.key, 1);
    // An attempt that ends the job is told by the job row itself (see history()); one that sends
    // it round again is written down, with its lease.
    if (next.row.state === 'queued') {
      this.event(id, now, next.event, workerId, next.detail, { attempt: held.attempts, leasedAt: held.leased_at });
      this.s.trimEvents.run({ id, keep: this.rules.eventsPerJob });
    }
    if (outcome.type === 'done' && outcome.enqueue?.length) {
      return { id, ok: true, state: next.row.state, enqueued: this.insertJobs(tally, now, outcome.enqueue, outcome.crawlCap) };
    }
    return { id, ok: true, state: next.row.state };
  }

  async reap(self: string | null = null): Promise<ReapResult> {
    // Most reaper ticks find nothing: look before taking the write lock.
    if (!this.s.anyExpired.get({ now: this.rules.now(), self })) return { requeued: 0, failed: 0 };
    return this.reclaim(this.s.reapExpired, { self }, 'expired', 'lease expired');
  }

  async reclaimWorkers(workerIds: string[], reason: string): Promise<ReapResult> {
    if (workerIds.length === 0) return { requeued: 0, failed: 0 };
    return this.reclaim(this.s.reclaimWorkers, { workers: JSON.stringify(workerIds) }, 'expired', reason);
  }

  private reclaim(stmt: Statement, params: Row, type: EventType, reason: string): Promise<ReapResult> {
    return this.write((tally, now) => {
      const rows = stmt.all({ ...params, now, reason, maxReclaims: this.rules.maxReclaims }) as (MovedRow & { last_error: string | null })[];
      const failing = reclaimFailures(rows);
      if (failing.length) this.s.setReasons.run(JSON.stringify(failing.map((row) => [row.id, row.reason])));
      let failed = 0;
      for (const row of rows) {
        tally.move(row, 'in_progress', row.state);
        if (row.state === 'error') failed++;
        const detail = row.state === 'error' ? `${reason}; gave up after ${row.reclaims} lost workers` : reason;
        this.event(row.id, now, type, row.worker_id, detail, { attempt: row.attempts + 1, leasedAt: row.leased_at });
        this.s.trimEvents.run({ id: row.id, keep: this.rules.eventsPerJob });
      }
      return { requeued: rows.length - failed, failed };
    });
  }

  async leaseHolders(): Promise<string[]> {
    return this.s.leaseHolders.pluck().all() as string[];
  }

  async workerSeen(workerId: string): Promise<void> {
    const now = this.rules.now();
    await this.unlocked(() =>
      this.db
        .transaction(() => {
          this.s.forgetWorkers.run({ before: now - WORKERS_KEPT_MS, workerId });
          this.s.workerSeen.run({ workerId, now });
        })
        .immediate(),
    );
  }

  async workerStopped(workerId: string): Promise<void> {
    const now = this.rules.now();
    await this.unlocked(() => this.s.workerStopped.run({ workerId, now }));
  }

  async workers(limit: number): Promise<WorkerRecord[]> {
    return this.s.workers.all({ limit }) as WorkerRecord[];
  }

  async requeue(filter: RequeueFilter): Promise<number> {
    const from = requeueFrom(filter);
    const params = {
      ids: filter.ids ? JSON.stringify(filter.ids) : null,
      key: filter.key ?? null,
      crawlId: filter.crawlId ?? null,
      ...(filter.reason !== undefined && { reason: filter.reason }),
    };
    const [closing, requeue] = filter.reason === undefined ? [this.s.recordClosing, this.s.requeue] : [this.s.recordClosingOfReason, this.s.requeueOfReason];
    return this.write((tally, now) => {
      let n = 0;
      for (const state of from) {
        closing.run({ ...params, from: state });
        const rows = requeue.all({ ...params, from: state, now, heldCrawls: JSON.stringify(filter.heldCrawls ?? []), held: HELD }) as MovedRow[];
        if (state === 'error' && rows.length) this.s.clearReasons.run(JSON.stringify(rows.map((row) => row.id)));
        for (const row of rows) {
          tally.move(row, state, 'queued');
          if (row.run_after >= HELD) tally.held(row.key, 1);
          // A lease taken back is recorded with the requeue, or the history would lose it.
          const taken = state === 'in_progress' ? { attempt: null, leasedAt: row.leased_at } : null;
          this.event(row.id, now, 'requeued', taken ? row.worker_id : null, `was ${state}`, taken);
          this.s.trimEvents.run({ id: row.id, keep: this.rules.eventsPerJob });
        }
        n += rows.length;
      }
      return n;
    });
  }

  async cancel(filter: CancelFilter): Promise<number> {
    if (!filter.ids && !filter.crawlId) return 0;
    return this.write((tally, now) => {
      const rows = this.s.cancel.all({
        ids: filter.ids ? JSON.stringify(filter.ids) : null,
        crawlId: filter.crawlId ?? null,
        now,
      }) as MovedRow[];
      for (const row of rows) {
        tally.move(row, 'queued', 'skipped');
        if (row.run_after >= HELD) tally.held(row.key, -1);
      }
      return rows.length;
    });
  }

  async reasons(query: ReasonsQuery = {}): Promise<ReasonCount[]> {
    const { crawlId, limit } = checkReasonsQuery(query);
    return (crawlId === undefined ? this.s.reasons.all({ limit }) : this.s.crawlReasons.all({ crawlId, limit })) as ReasonCount[];
  }

  async stats(): Promise<Stats> {
    return statsOf(this.s.stats.all() as { state: JobState; n: number }[]);
  }

  /** The same counts the slow way; tests compare it with stats(). */
  countByState(): Stats {
    return statsOf(this.s.countByState.all() as { state: JobState; n: number }[]);
  }

  async crawlStats(crawlId: string): Promise<CrawlCounts> {
    return crawlCounts(this.s.crawlStats.get(crawlId) as Omit<CrawlCounts, 'total'> | undefined);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const { limit, after, shape, search } = checkListFilter(filter);
    const filters = {
      ...(shape.state && { state: filter.state }),
      ...(shape.key && { key: filter.key }),
      ...(shape.crawlId && { crawlId: filter.crawlId }),
      ...(shape.reason && { reason: filter.reason }),
    };
    const window = search
      ? windowEnd(
          this.listStatement(`window:${JSON.stringify(shape)}`, () => listWindowSql(shape))
            .pluck()
            .all({
              after,
              skip: this.rules.searchBudget - 1,
              ...(shape.walk && { [shape.walk]: filters[shape.walk] }),
            }) as number[],
          shape.newestFirst,
        )
      : undefined;
    const rows = this.listStatement(JSON.stringify(shape), () => listSql(shape)).all({
      after,
      limit: limit + 1,
      ...filters,
      ...(window && { until: window.until }),
      ...(search?.kind === 'status' && { low: search.low, high: search.high }),
      ...(search?.kind === 'text' && { like: search.like }),
    }) as Row[];
    return pageFrom(rows.map(toJob), limit, window);
  }

  private listStatement(name: string, sql: () => string): Statement {
    let stmt = this.listStatements.get(name);
    if (!stmt) this.listStatements.set(name, (stmt = this.db.prepare(sql())));
    return stmt;
  }

  async get(id: number): Promise<{ job: Job; events: JobEvent[] } | null> {
    const row = this.s.getJob.get(id) as Row | undefined;
    if (!row) return null;
    const job = toJob(row);
    return { job, events: history(job, row.outcome as EventType | null, this.s.jobEvents.all(id) as StoredEvent[]) };
  }

  async jobsByIds(ids: number[]): Promise<Job[]> {
    if (ids.length === 0) return [];
    return (this.s.jobsByIds.all(JSON.stringify(ids)) as Row[]).map(toJob);
  }

  async findByDedupeKeys(crawlId: string | null, dedupeKeys: string[]): Promise<Job[]> {
    if (dedupeKeys.length === 0) return [];
    return (this.s.findByDedupeKeys.all({ crawlId, keys: JSON.stringify(dedupeKeys) }) as Row[]).map(toJob);
  }

  async leases(): Promise<LeaseInfo[]> {
    return this.s.leases.all() as LeaseInfo[];
  }

  async keys(opts: { limit?: number; defaultLimit: number; defaultDelayMs?: number; live?: boolean }): Promise<KeySummary[]> {
    const rows = (opts.live ? this.s.liveKeySummaries : this.s.keySummaries).all({
      defaultLimit: opts.defaultLimit,
      defaultDelayMs: opts.defaultDelayMs ?? 0,
      limit: opts.limit ?? 1000,
    }) as Row[];
    return rows.map(toKeySummary);
  }

  async setKeyLimit(key: string, limit: number | null): Promise<void> {
    if (limit !== null && !(Number.isInteger(limit) && limit >= 1)) throw new QueueError('limit must be an integer ≥ 1');
    await this.unlocked(() =>
      this.db
        .transaction(() => {
          this.s.setKeyLimit.run({ key, limit });
          this.s.dropEmptySettings.run(key);
        })
        .immediate(),
    );
    this.changed();
  }

  async setKeyDelay(key: string, delayMs: number | null): Promise<void> {
    if (delayMs !== null && !(Number.isFinite(delayMs) && delayMs >= 0)) throw new QueueError('delay must be a number ≥ 0');
    await this.unlocked(() =>
      this.db
        .transaction(() => {
          this.s.setKeyDelay.run({ key, delayMs: delayMs === null ? null : Math.round(delayMs) });
          this.s.dropEmptySettings.run(key);
        })
        .immediate(),
    );
    this.changed();
  }

  async claimStart(key: string, delayMs: number): Promise<number> {
    return this.unlocked(() => this.s.claimStart.pluck().get({ key, delayMs: Math.max(0, Math.round(delayMs)), now: this.rules.now() }) as number);
  }

  async deferKey(key: string, until: number, reason: string): Promise<void> {
    await this.unlocked(() => this.s.deferKey.run({ key, until: Math.round(until), reason }));
    this.changed();
  }

  async holdCrawl(crawlId: string, held: boolean): Promise<number> {
    const [keys, jobs] = held ? [this.s.holdCrawlKeys, this.s.holdCrawl] : [this.s.releaseCrawlKeys, this.s.releaseCrawl];
    // The keys' held counts first, from the very jobs the second statement moves (one write lock).
    const n = await this.unlocked(() =>
      this.db
        .transaction(() => {
          keys.run({ crawlId, held: HELD });
          return jobs.run({ crawlId, held: HELD, now: this.rules.now() }).changes;
        })
        .immediate(),
    );
    this.changed();
    return n;
  }

  async nextWakeAt(after = this.rules.now()): Promise<number | null> {
    const now = after;
    const job = this.s.nextDelayedJob.pluck().get({ now, held: HELD }) as number | null;
    const key = this.s.nextKeyStart.pluck().get({ now }) as number | null;
    if (job === null) return key;
    return key === null ? job : Math.min(job, key);
  }

  async evictIdleKeys(): Promise<number> {
    return this.unlocked(() => this.s.evictIdleKeys.run({ now: this.rules.now() }).changes);
  }

  /** Rows of per-key bookkeeping held now (bounded: idle keys are evicted). */
  keyRows(): number {
    return this.s.countKeys.pluck().get() as number;
  }

  changes(opts: { pollMs: number }): JobChanges {
    return new SqliteJobChanges(
      this.db,
      () => this.changeCounter(),
      (l) => this.onChange(l),
      opts.pollMs,
    );
  }

  async jobStates(ids: number[]): Promise<JobStateRow[]> {
    this.statesStatement ??= this.db.prepare(CHANGES_SQL.states);
    return this.statesStatement.all(JSON.stringify(ids)) as JobStateRow[];
  }

  changeCounter(): number {
    return this.s.dataVersion.pluck().get() as number;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.checkpointer?.close();
    await this.flusher?.close();
    if (this.db.open) this.db.close();
  }
}

/** A leased job from a raw `leasedJobs` row and the lease just taken. */
function leasedJob(r: unknown[], workerId: string, leaseToken: string, now: number, ttlMs: number): LeasedJob {
  return {
    id: r[0] as number,
    kind: r[1] as string,
    url: r[2] as string,
    key: r[3] as string,
    crawlId: r[4] as string | null,
    depth: r[5] as number | null,
    priority: r[6] as number,
    state: 'in_progress',
    attempts: r[7] as number,
    maxAttempts: r[8] as number,
    reclaims: r[9] as number,
    deferrals: r[13] as number,
    runAfter: 0,
    workerId,
    leaseToken,
    leasedAt: now,
    leaseExpiresAt: now + ttlMs,
    heartbeatAt: now,
    lastError: r[10] as string | null,
    result: null,
    payload: r[11] ? (JSON.parse(r[11] as string) as Record<string, unknown>) : null,
    createdAt: r[12] as number,
    updatedAt: now,
    finishedAt: null,
  };
}

/** Rows `skip` to `skip + count` of a statement's iterator; ending the loop early resets the statement. */
function take<T>(rows: IterableIterator<T>, skip: number, count: number): T[] {
  const out: T[] = [];
  let i = 0;
  for (const row of rows) {
    if (i++ < skip) continue;
    out.push(row);
    if (out.length === count) break;
  }
  return out;
}
