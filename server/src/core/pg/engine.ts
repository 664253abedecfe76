/**
 * The networked engine: the queue on PostgreSQL, for daemons on several machines sharing one
 * crawl. The same contract and semantics as the SQLite engine (read docs/design.md); what differs
 * is how they hold across processes that share no lock:
 *   - a lease and an acknowledgement are each one call of a function of the schema (schema.ts,
 *     migrations 7 and 8), one round trip in a transaction of its own, so the rows they lock stay
 *     locked for the function's run only; the job kind's own writes with an acknowledgement (its
 *     AckCall, a function of its own) run inside that call;
 *   - a lease locks the rows of the keys it takes from (FOR UPDATE SKIP LOCKED), so a per-host
 *     limit is read and raised under that key's lock by one daemon at a time, and no lease waits;
 *   - the jobs it takes are locked the same way; acknowledgements are fenced by the lease token;
 *   - counters are sharded rows (schema.ts), so transactions do not queue on one hot row;
 *   - a crawl's places under its cap are reserved in its crawl_room row, so two daemons cannot
 *     both take its last places;
 *   - every commit that changes jobs notifies the others (changes.ts), which wakes their
 *     dispatchers at once: nobody polls;
 *   - times are on the server's clock (clock.ts), whatever each machine's own says.
 * Transactions and calls that lose a deadlock or a serialization race are run again from the start.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DatabaseOpenError, QueueError } from '../errors';
import {
  checkOutcome,
  forAckHook,
  checkReasonsQuery,
  crawlCounts,
  history,
  pageFrom,
  checkListFilter,
  reclaimFailures,
  requeueFrom,
  ruleDefaults,
  settle,
  toKeySummary,
  validateNewJob,
  windowEnd,
  type MovedRow,
  type QueueOptions,
  type Settled,
  type StoredEvent,
} from '../job-rules';
import { statsOf, toJob } from '../rows';
import {
  HELD,
  type Ack,
  type AckCall,
  type AckHook,
  type AckResult,
  type CancelFilter,
  type CrawlCounts,
  type EnqueueOptions,
  type EnqueueResult,
  type EventType,
  type HeartbeatResult,
  type Job,
  type JobChanges,
  type JobEvent,
  type JobPage,
  type JobState,
  type JobStateRow,
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
  WORKERS_KEPT_MS,
  type WorkerRecord,
} from '../types';
import { CHANNEL, Listener, PAYLOAD_MAX, PgJobChanges, decodePayload, encodePayload, type Changed } from './changes';
import { redactUrl } from '../db-url';
import { QUEUE_COMPONENT, SideConnection, clientConfig, describePgError, openPool, unanswered, type Component, type Migration } from './open';
import { COUNTER_SHARDS } from './schema';
import { PG_SQL as SQL, pgListSql, pgListWindowSql } from './sql';
import { PgTally } from './tally';
import { ServerClock } from './clock';

export interface PgQueueOptions extends QueueOptions<Migration> {
  /** Connections in the pool (default 10); the listening connection is one more. */
  poolSize?: number;
  /** How often the listening connection checks that it still hears, and how long it waits for it (LISTEN_CHECK_MS). */
  listenCheckMs?: number;
  /** The longest a statement may run (STATEMENT_TIMEOUT_MS); a connection that does not answer is given QUERY_GRACE_MS more. */
  statementTimeoutMs?: number;
}

type Row = Record<string, unknown>;

/** Deadlock detected, serialization failure: the transaction is safe to run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TRIES = 10;
/**
 * Other processes' commits wake this one's dispatcher after this long, together. Each of them
 * woke every dispatcher with free workers at once: while one leases, the next commit lands, so
 * each leased again at once, one round trip after another, and with 4 daemons of 16 workers on
 * 40 places (the benchmark's postgres section) 63% of leases came back empty. This process's own
 * commits (its acknowledgements free its workers) still wake it at once.
 */
const FOREIGN_WAKE_MS = 20;

/** One write transaction's state: its connection, counters, events and the jobs it changed. */
class Tx {
  readonly tally = new PgTally();
  readonly changed = new Set<number>();
  /** Places reserved under crawl caps (PgQueue.reserve), and those filled by new jobs. */
  readonly reserved = new Map<string, number>();
  readonly placed = new Map<string, number>();
  everything = false;
  private readonly events: unknown[][] = [[], [], [], [], [], [], []];
  private readonly trims = new Set<number>();

  constructor(
    readonly client: pg.PoolClient,
    readonly now: number,
  ) {}

  query<R extends pg.QueryResultRow = Row>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.client.query<R>(text, values);
  }

  /** An event row, written at the end of the transaction in the order given. */
  event(
    id: number,
    type: EventType,
    workerId: string | null,
    detail: string | null,
    lease: { attempt: number | null; leasedAt: number | null } | null = null,
    trim = false,
  ): void {
    [id, this.now, type, workerId, detail, lease?.attempt ?? null, lease?.leasedAt ?? null].forEach((v, i) => this.events[i].push(v));
    if (trim) this.trims.add(id);
  }

  touch(ids: Iterable<number>): void {
    for (const id of ids) this.changed.add(id);
  }

  async finish(eventsPerJob: number, notify: string | null): Promise<void> {
    if (this.events[0].length) await this.query(SQL.insertEvents, this.events);
    if (this.trims.size) await this.query(SQL.trimEvents, [[...this.trims], eventsPerJob]);
    const r = this.tally.rows();
    const work = r.update.length + r.bump.length + r.totals.length + r.crawls.length + r.states.length + r.reasons.length;
    if (work === 0 && notify === null) return;
    const keys = [...r.update, ...r.bump].map((k) => k.key).sort();
    if (keys.length) await this.query(SQL.lockKeys, [keys]);
    const json = JSON.stringify;
    await this.query(SQL.finish, [
      shard(),
      this.tally.anyServed(),
      this.now,
      json(r.update),
      json(r.bump),
      json(r.totals),
      json(r.crawls),
      json(r.states),
      json(r.reasons),
      CHANNEL,
      notify,
    ]);
  }
}

/** The PostgreSQL engine. Open with `await PgQueue.open(url, opts)`. */
export class PgQueue implements Queue {
  /** Names this queue's notifications, so it can tell its own from other processes'. */
  private readonly origin = randomBytes(4).toString('hex');
  private readonly listeners = new Set<() => void>();
  private readonly readers = new Set<PgJobChanges>();
  /** The job rules' options with their defaults (clock, retries, backoff, history). */
  private readonly rules: ReturnType<typeof ruleDefaults>;
  private counter = 0;
  /** The onChange call that other processes' commits since the last have asked for (feed). */
  private foreignWake: NodeJS.Timeout | undefined;
  private listener: Listener | null = null;
  /** Reservations under crawl caps run here, each committed at once, apart from any transaction. */
  private reserver: SideConnection | null = null;
  private closed = false;
  private ackHook: AckCall | null = null;

  /** The server's clock, as this machine's (the injected clock, if any) corrected by their offset. */
  private readonly clock: ServerClock;

  private constructor(
    readonly pool: pg.Pool,
    opts: PgQueueOptions,
  ) {
    this.clock = new ServerClock(opts.clock ?? Date.now, pool);
    this.rules = ruleDefaults({ ...opts, clock: () => this.clock.now() });
  }

  /**
   * Connects, refuses a foreign or newer schema before writing anything, migrates the queue's
   * tables and those of `opts.components` (each versioned on its own), and starts listening.
   */
  static async open(url: string, opts: PgQueueOptions = {}): Promise<PgQueue> {
    const components: Component[] = [QUEUE_COMPONENT, ...(opts.components ?? [])];
    const pool = await openPool(url, components, { max: opts.poolSize, statementTimeoutMs: opts.statementTimeoutMs });
    const q = new PgQueue(pool, opts);
    q.listener = new Listener(
      clientConfig(url, opts.statementTimeoutMs),
      (p) => q.heard(p),
      () => q.feed(null, false, true),
      opts.listenCheckMs,
    );
    q.reserver = new SideConnection(clientConfig(url, opts.statementTimeoutMs));
    try {
      await q.clock.start();
      await q.listener.start();
    } catch (err) {
      await q.close();
      throw new DatabaseOpenError(describePgError(err, url), redactUrl(url));
    }
    return q;
  }

  setAckHook(hook: AckHook | null): void {
    if (hook !== null && !('fn' in hook)) throw new QueueError('the PostgreSQL engine writes with the acknowledgement on the server: it takes an AckCall');
    if (hook !== null && !/^[a-z_][a-z0-9_]*$/.test(hook.fn)) throw new QueueError(`an AckCall names a function of the schema by a plain name, not ${hook.fn}`);
    this.ackHook = hook;
  }

  now(): number {
    return this.rules.now();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A commit's changes to the readers and, unless quiet, to the onChange listeners: at once for
   * this process's commits, at most once per FOREIGN_WAKE_MS for other processes' (see there).
   */
  private feed(ids: Changed, quiet: boolean, foreign: boolean): void {
    if (foreign && !quiet) this.counter++;
    for (const r of this.readers) r.add(ids);
    if (quiet) return;
    if (!foreign) return this.wakeListeners();
    if (this.foreignWake !== undefined) return;
    this.foreignWake = setTimeout(() => {
      this.foreignWake = undefined;
      this.wakeListeners();
    }, FOREIGN_WAKE_MS);
  }

  private wakeListeners(): void {
    for (const l of this.listeners) l();
  }

  private heard(payload: string): void {
    const p = decodePayload(payload);
    if (!p) return this.feed(null, false, true);
    if (p.origin === this.origin) return;
    this.feed(p.ids, p.quiet, true);
  }

  /**
   * Runs fn in a transaction and commits with the tally, the events and a notification of the
   * jobs changed; run again from the start if it lost a deadlock. Listeners hear of it unless
   * `quiet` (a lease makes no work ready: waking dispatchers for it would spin them).
   */
  private async write<T>(fn: (tx: Tx) => Promise<T>, quiet = false, notifyAlways = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // Checked out, a client has no listener of the pool's: a connection dropped mid-transaction
      // would be an unhandled 'error' and end the process. The statement in flight fails instead.
      const dropped = (err: Error) => {
        broken = err;
      };
      client.on('error', dropped);
      let tx: Tx | undefined;
      try {
        await client.query('BEGIN');
        tx = new Tx(client, this.rules.now());
        const out = await fn(tx);
        const touched = tx.everything || tx.changed.size > 0 || notifyAlways;
        const ids = tx.everything ? null : tx.changed;
        await tx.finish(this.rules.eventsPerJob, touched ? encodePayload(this.origin, quiet, ids) : null);
        await client.query('COMMIT');
        await this.releaseRoom(tx, true);
        if (touched) this.feed(ids === null ? null : [...ids], quiet, false);
        return out;
      } catch (err) {
        // A connection that did not answer is dropped, not asked to roll back (its server rolls back when it sees it gone).
        if (unanswered(err)) broken = err as Error;
        else
          await client.query('ROLLBACK').catch((e: Error) => {
            broken = e;
          });
        if (tx) await this.releaseRoom(tx, false);
        if (attempt < MAX_TRIES && RETRYABLE.has((err as { code?: string }).code ?? '')) {
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw err;
      } finally {
        client.off('error', dropped);
        client.release(broken);
      }
    }
  }

  /**
   * Places for `want` new jobs under a crawl's cap, reserved at once in a statement of its own, so
   * that no lock is held through the transaction that fills them; what it does not fill goes back
   * when it ends (releaseRoom). A process killed in between leaves its places taken: the crawl may
   * then stop that many jobs short of its cap, never past it.
   */
  private async reserve(tx: Tx, crawlId: string, want: number, cap: number): Promise<number> {
    if (want === 0) return 0;
    const reserver = this.reserver!;
    let r = await reserver.query<{ granted: number }>(SQL.reserveRoom, [crawlId, want, cap]);
    if (r.rowCount === 0) {
      await reserver.query(SQL.newRoom, [crawlId]);
      r = await reserver.query<{ granted: number }>(SQL.reserveRoom, [crawlId, want, cap]);
    }
    const granted = r.rows[0].granted;
    tx.reserved.set(crawlId, (tx.reserved.get(crawlId) ?? 0) + granted);
    return granted;
  }

  /** Gives back the places a transaction reserved and did not fill (all of them if it rolled back). */
  private async releaseRoom(tx: Tx, committed: boolean): Promise<void> {
    for (const [crawlId, n] of tx.reserved) {
      const unused = n - (committed ? (tx.placed.get(crawlId) ?? 0) : 0);
      if (unused > 0) await this.reserver!.query(SQL.releaseRoom, [crawlId, unused]).catch(() => {});
    }
  }

  async enqueue(jobs: NewJob[], opts: EnqueueOptions = {}): Promise<EnqueueResult> {
    for (const j of jobs) validateNewJob(j);
    if (jobs.length === 0) return { ids: [], enqueued: 0, duplicates: 0, capped: 0 };
    return this.write((tx) => this.insertJobs(tx, jobs, opts.crawlCap));
  }

  /** Inserts new jobs, skipping duplicates and, per crawl, whatever would pass `crawlCap`. */
  private async insertJobs(tx: Tx, jobs: NewJob[], crawlCap?: number): Promise<EnqueueResult> {
    const pair = (j: NewJob) => `${j.crawlId ?? ''}\u0000${j.dedupeKey}`;
    // Under a crawl cap, a duplicate takes no room: those already there are known before counting.
    const taken = new Set<string>();
    if (crawlCap !== undefined && jobs.some((j) => j.crawlId)) {
      const firsts = new Map<string, NewJob>();
      for (const j of jobs) if (!firsts.has(pair(j))) firsts.set(pair(j), j);
      const probe = [...firsts.values()];
      const { rows } = await tx.query<{ c: string; d: string }>(SQL.existing, [probe.map((j) => j.crawlId ?? ''), probe.map((j) => j.dedupeKey)]);
      for (const r of rows) taken.add(`${r.c}\u0000${r.d}`);
    }

    // New jobs each capped crawl would take, so that one reservation covers the batch.
    const wanted = new Map<string, number>();
    if (crawlCap !== undefined) {
      const counted = new Set<string>();
      for (const j of jobs) {
        const p = pair(j);
        if (!j.crawlId || taken.has(p) || counted.has(p)) continue;
        counted.add(p);
        wanted.set(j.crawlId, (wanted.get(j.crawlId) ?? 0) + 1);
      }
    }
    const room = new Map<string, number>();
    const capped = new Map<string, number>();
    const toInsert: NewJob[] = [];
    const planned = new Set<string>();
    const cappedAt = new Set<number>();
    /** Jobs refused past a cap here: their twins are duplicates, not capped again. */
    const refused = new Set<string>();
    for (const [ord, j] of jobs.entries()) {
      const p = pair(j);
      const crawlId = j.crawlId ?? null;
      // A duplicate takes no room, and is counted as one even past the cap.
      if (taken.has(p) || planned.has(p) || refused.has(p)) continue;
      if (crawlId !== null && crawlCap !== undefined) {
        if (!room.has(crawlId)) room.set(crawlId, await this.reserve(tx, crawlId, wanted.get(crawlId) ?? 0, crawlCap));
        if (room.get(crawlId)! <= 0) {
          capped.set(crawlId, (capped.get(crawlId) ?? 0) + 1);
          cappedAt.add(ord);
          refused.add(p);
          continue;
        }
      }
      if (crawlId !== null && room.has(crawlId)) room.set(crawlId, room.get(crawlId)! - 1);
      planned.add(p);
      toInsert.push(j);
    }

    const idOf = new Map<string, number>();
    if (toInsert.length) {
      const cols: unknown[][] = Array.from({ length: 12 }, () => []);
      for (const j of toInsert) {
        const r = this.newJobRow(j);
        [r.kind, r.url, r.key, r.d, r.c, r.depth, r.priority, r.state, r.max_attempts, r.run_after, r.last_error, r.payload].forEach((v, i) => cols[i].push(v));
      }
      const { rows } = await tx.query<{ id: number; c: string; d: string }>(SQL.insertJobs, [...cols, tx.now]);
      for (const r of rows) {
        idOf.set(`${r.c}\u0000${r.d}`, r.id);
        if (room.has(r.c)) tx.placed.set(r.c, (tx.placed.get(r.c) ?? 0) + 1);
      }
    }

    const ids: (number | null)[] = [];
    const seen = new Set<string>();
    let enqueued = 0;
    for (const [ord, j] of jobs.entries()) {
      const p = pair(j);
      const id = seen.has(p) || cappedAt.has(ord) ? undefined : idOf.get(p);
      if (!cappedAt.has(ord)) seen.add(p);
      if (id === undefined) {
        ids.push(null);
        continue;
      }
      ids.push(id);
      enqueued++;
      tx.tally.move({ key: j.key, crawl_id: j.crawlId ?? null, priority: j.priority ?? 0 }, null, j.skipReason === undefined ? 'queued' : 'skipped');
      if (j.skipReason === undefined && (j.runAfter ?? 0) >= HELD) tx.tally.held(j.key, 1);
    }
    tx.touch(idOf.values());
    let cappedTotal = 0;
    for (const [crawlId, n] of capped) {
      tx.tally.capped(crawlId, n);
      cappedTotal += n;
    }
    return { ids, enqueued, duplicates: jobs.length - enqueued - cappedTotal, capped: cappedTotal };
  }

  async lease(workerId: string, n: number, opts: LeaseOptions): Promise<LeasedJob[]> {
    if (!(n >= 1)) return [];
    const batch = randomBytes(8).toString('hex');
    const now = this.rules.now();
    const { rows } = await this.call<Row>(SQL.leaseJobs, [
      workerId,
      Math.floor(n),
      opts.defaultLimit,
      opts.defaultDelayMs ?? 0,
      now,
      opts.ttlMs,
      batch,
      shard(),
      CHANNEL,
      this.origin,
      PAYLOAD_MAX,
    ]);
    if (rows.length === 0) return [];
    const jobs = rows.map((r) => leasedJob(r, workerId, `${batch}.${r.id as number}`, now, opts.ttlMs));
    this.feed(
      jobs.map((j) => j.id),
      true,
      false,
    );
    return jobs;
  }

  /**
   * One statement in a transaction of its own (a function of the schema's that does a lease's or
   * an acknowledgement's whole work), run again if it lost a deadlock.
   */
  private async call<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query<R>(text, values);
      } catch (err) {
        if (attempt < MAX_TRIES && RETRYABLE.has((err as { code?: string }).code ?? '')) {
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw err;
      }
    }
  }

  async heartbeat(workerId: string, ttlMs: number, held: { id: number; token: string }[]): Promise<HeartbeatResult> {
    const { rows } = await this.pool.query<{ id: number; token: string }>(SQL.heartbeat, [workerId, this.rules.now(), ttlMs, held.map((h) => h.id)]);
    const live = new Map(rows.map((r) => [r.id, r.token]));
    return { extended: rows.length, lost: held.filter((h) => live.get(h.id) !== h.token) };
  }

  async ack(workerId: string, acks: Ack[]): Promise<AckResult[]> {
    if (acks.length === 0) return [];
    for (const a of acks) checkOutcome(a.outcome);
    type Held = { key: string; crawl_id: string | null; priority: number; attempts: number; max_attempts: number; leased_at: number | null };
    // The scheduler acknowledges with the leased job; an ack without it is read first.
    const unknown = acks.filter((a) => !a.job).map((a) => a.id);
    const read = new Map<string, Held>();
    if (unknown.length) {
      const { rows } = await this.pool.query<Held & { id: number; lease_token: string }>(SQL.heldLeases, [unknown]);
      for (const r of rows) read.set(`${r.id}.${r.lease_token}`, r);
    }
    const now = this.rules.now();
    const rows: Row[] = [];
    const links: Row[] = [];
    const plans = acks.map((a, ord) => {
      const held: Held | undefined = a.job
        ? {
            key: a.job.key,
            crawl_id: a.job.crawlId,
            priority: a.job.priority,
            attempts: a.job.attempts,
            max_attempts: a.job.maxAttempts,
            leased_at: a.job.leasedAt,
          }
        : read.get(`${a.id}.${a.token}`);
      const lost = `${a.outcome.type} refused: the lease was no longer held`;
      if (!held) {
        rows.push({ ord, id: a.id, token: a.token, lost });
        return null;
      }
      const next = settle(a.outcome, { attempts: held.attempts, maxAttempts: held.max_attempts, now, backoff: this.rules.backoff, random: this.rules.random });
      const r: Settled = next.row;
      const again = r.state === 'queued';
      rows.push({
        ord,
        id: a.id,
        token: a.token,
        state: r.state,
        run_after: r.runAfter,
        finished_at: r.finishedAt,
        result: r.result,
        last_error: r.lastError,
        reason: r.reason,
        delta: r.attemptsDelta,
        deferred: r.deferralsDelta,
        outcome: r.outcome,
        key: held.key,
        crawl_id: held.crawl_id,
        priority: held.priority,
        held: again && r.runAfter >= HELD ? 1 : 0,
        // An attempt that ends the job is told by the job row itself; one that sends it round again is written down.
        event: again ? next.event : null,
        detail: next.detail,
        attempt: held.attempts,
        leased_at: held.leased_at,
        lost,
      });
      if (a.outcome.type === 'done') {
        const cap = a.outcome.crawlCap ?? null;
        a.outcome.enqueue?.forEach((j, i) => links.push({ ack: ord, ord: i, ...this.newJobRow(j), cap }));
      }
      return r.state;
    });
    // What the acknowledgements that end an attempt carry, for the kind's function, each with its acknowledgement's place.
    const hook = this.ackHook;
    const from: number[] = [];
    const attached: unknown[] = [];
    if (hook)
      acks.forEach((a, ord) => {
        if (plans[ord] === null || !forAckHook(a)) return;
        from.push(ord);
        attached.push(a.outcome.attached);
      });
    const hooked = hook && attached.length > 0 ? hook.prepare(attached) : null;
    const { rows: out } = await this.call<{ ack_ord: number; link_ord: number | null; job_id: number | null; capped: boolean | null; hooked: unknown }>(
      SQL.ackJobs,
      [
        hooked ? hook!.fn : null,
        hooked ? hooked.json : null,
        from,
        JSON.stringify(rows),
        JSON.stringify(links),
        workerId,
        now,
        this.rules.eventsPerJob,
        shard(),
        CHANNEL,
        this.origin,
        PAYLOAD_MAX,
      ],
    );
    const matched = new Set<number>();
    const found = new Map<number, { ids: (number | null)[]; enqueued: number; capped: number }>();
    const returned: unknown[] = [];
    for (const r of out) {
      if (r.hooked !== null) {
        returned.push(r.hooked);
        continue;
      }
      if (r.link_ord === null) {
        matched.add(r.ack_ord);
        continue;
      }
      let f = found.get(r.ack_ord);
      if (!f) found.set(r.ack_ord, (f = { ids: [], enqueued: 0, capped: 0 }));
      f.ids[r.link_ord] = r.job_id;
      if (r.job_id !== null) f.enqueued++;
      if (r.capped) f.capped++;
    }
    const changed: number[] = [];
    const results = acks.map((a, ord): AckResult => {
      const state = plans[ord];
      if (state === null || !matched.has(ord)) return { id: a.id, ok: false };
      changed.push(a.id);
      const f = found.get(ord);
      if (!f) return { id: a.id, ok: true, state };
      const n = f.ids.length;
      for (const id of f.ids) if (id !== null) changed.push(id);
      return { id: a.id, ok: true, state, enqueued: { ids: f.ids, enqueued: f.enqueued, duplicates: n - f.enqueued - f.capped, capped: f.capped } };
    });
    // The call was its own transaction: what the hook wrote is committed.
    hooked?.committed(returned);
    if (changed.length) this.feed(changed, false, false);
    return results;
  }

  /** A new job as the statements that insert jobs read it (by name, from JSON). */
  private newJobRow(j: NewJob): Row {
    return {
      kind: j.kind,
      url: j.url,
      key: j.key,
      d: j.dedupeKey,
      // No crawl travels as null ('' is none as well: the pair is matched on coalesce).
      c: j.crawlId || null,
      depth: j.depth ?? null,
      priority: j.priority ?? 0,
      state: j.skipReason === undefined ? 'queued' : 'skipped',
      max_attempts: j.maxAttempts ?? this.rules.maxAttempts,
      run_after: j.runAfter ?? 0,
      last_error: j.skipReason ?? null,
      payload: j.payload ? JSON.stringify(j.payload) : null,
    };
  }

  async reap(self: string | null = null): Promise<ReapResult> {
    // Most reaper ticks find nothing: look before writing.
    const { rowCount } = await this.pool.query(SQL.anyExpired, [this.rules.now(), self]);
    if (!rowCount) return { requeued: 0, failed: 0 };
    return this.reclaim(SQL.reapExpired, [self], 'lease expired');
  }

  async reclaimWorkers(workerIds: string[], reason: string): Promise<ReapResult> {
    if (workerIds.length === 0) return { requeued: 0, failed: 0 };
    return this.reclaim(SQL.reclaimWorkers, [workerIds], reason);
  }

  private reclaim(sql: string, params: unknown[], reason: string): Promise<ReapResult> {
    return this.write(async (tx) => {
      const { rows } = await tx.query<MovedRow & { last_error: string | null }>(sql, [tx.now, reason, this.rules.maxReclaims, ...params]);
      const failing = reclaimFailures(rows);
      if (failing.length) await tx.query(SQL.setReasons, [failing.map((row) => row.id), failing.map((row) => row.reason)]);
      let failed = 0;
      for (const row of rows.sort((a, b) => a.id - b.id)) {
        tx.tally.move(row, 'in_progress', row.state);
        if (row.state === 'error') failed++;
        const detail = row.state === 'error' ? `${reason}; gave up after ${row.reclaims} lost workers` : reason;
        tx.event(row.id, 'expired', row.worker_id, detail, { attempt: row.attempts + 1, leasedAt: row.leased_at }, true);
      }
      tx.touch(rows.map((r) => r.id));
      return { requeued: rows.length - failed, failed };
    });
  }

  async workerSeen(workerId: string): Promise<void> {
    const now = this.rules.now();
    await this.pool.query(SQL.workerSeen, [workerId, now, now - WORKERS_KEPT_MS]);
  }

  async workerStopped(workerId: string): Promise<void> {
    await this.pool.query(SQL.workerStopped, [workerId, this.rules.now()]);
  }

  async workers(limit: number): Promise<WorkerRecord[]> {
    return (await this.pool.query<WorkerRecord>(SQL.workers, [limit])).rows;
  }

  async leaseHolders(): Promise<string[]> {
    const { rows } = await this.pool.query<{ worker_id: string }>(SQL.leaseHolders);
    return rows.map((r) => r.worker_id);
  }

  async requeue(filter: RequeueFilter): Promise<number> {
    const from = requeueFrom(filter);
    const params = [filter.ids ?? null, filter.key ?? null, filter.crawlId ?? null];
    return this.write(async (tx) => {
      let n = 0;
      for (const state of from) {
        const { rows } = await tx.query<MovedRow>(SQL.requeue, [state, ...params, tx.now, filter.reason ?? null, filter.heldCrawls ?? [], HELD]);
        for (const row of rows.sort((a, b) => a.id - b.id)) {
          tx.tally.move(row, state, 'queued');
          if (row.run_after >= HELD) tx.tally.held(row.key, 1);
          // A lease taken back is recorded with the requeue, or the history would lose it.
          const taken = state === 'in_progress' ? { attempt: null, leasedAt: row.leased_at } : null;
          tx.event(row.id, 'requeued', taken ? row.worker_id : null, `was ${state}`, taken, true);
        }
        tx.touch(rows.map((r) => r.id));
        n += rows.length;
      }
      return n;
    });
  }

  async cancel(filter: CancelFilter): Promise<number> {
    if (!filter.ids && !filter.crawlId) return 0;
    return this.write(async (tx) => {
      const { rows } = await tx.query<MovedRow>(SQL.cancel, [filter.ids ?? null, filter.crawlId ?? null, tx.now]);
      for (const row of rows) {
        tx.tally.move(row, 'queued', 'skipped');
        if (row.run_after >= HELD) tx.tally.held(row.key, -1);
      }
      tx.touch(rows.map((r) => r.id));
      return rows.length;
    });
  }

  async reasons(query: ReasonsQuery = {}): Promise<ReasonCount[]> {
    const { crawlId, limit } = checkReasonsQuery(query);
    const { rows } =
      crawlId === undefined ? await this.pool.query<ReasonCount>(SQL.reasons, [limit]) : await this.pool.query<ReasonCount>(SQL.crawlReasons, [crawlId, limit]);
    return rows;
  }

  async stats(): Promise<Stats> {
    return statsOf((await this.pool.query<{ state: JobState; n: number }>(SQL.stats)).rows);
  }

  /** The same counts the slow way; tests compare it with stats(). */
  async countByState(): Promise<Stats> {
    return statsOf((await this.pool.query<{ state: JobState; n: number }>(SQL.countByState)).rows);
  }

  async crawlStats(crawlId: string): Promise<CrawlCounts> {
    const {
      rows: [r],
    } = await this.pool.query<Omit<CrawlCounts, 'total'>>(SQL.crawlStats, [crawlId]);
    return crawlCounts(r);
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const { limit, after, shape, search } = checkListFilter(filter);
    const params: unknown[] = [after];
    if (shape.state) params.push(filter.state);
    if (shape.key) params.push(filter.key);
    if (shape.crawlId) params.push(filter.crawlId);
    if (shape.reason) params.push(filter.reason);
    const window = search
      ? windowEnd(
          (
            await this.pool.query<{ id: number }>(pgListWindowSql(shape), [after, ...(shape.walk ? [filter[shape.walk]] : []), this.rules.searchBudget - 1])
          ).rows.map((r) => r.id),
          shape.newestFirst,
        )
      : undefined;
    if (window) params.push(window.until);
    if (search?.kind === 'status') params.push(search.low, search.high);
    if (search?.kind === 'text') params.push(search.like);
    params.push(limit + 1);
    const { rows } = await this.pool.query<Row>(pgListSql(shape), params);
    return pageFrom(rows.map(toJob), limit, window);
  }

  async get(id: number): Promise<{ job: Job; events: JobEvent[] } | null> {
    if (!Number.isSafeInteger(id)) return null;
    const {
      rows: [row],
    } = await this.pool.query<Row>(SQL.getJob, [id]);
    if (!row) return null;
    const job = toJob(row);
    const { rows: events } = await this.pool.query<StoredEvent>(SQL.jobEvents, [id]);
    return { job, events: history(job, row.outcome as EventType | null, events) };
  }

  async jobsByIds(ids: number[]): Promise<Job[]> {
    if (ids.length === 0) return [];
    return (await this.pool.query<Row>(SQL.jobsByIds, [ids])).rows.map(toJob);
  }

  async findByDedupeKeys(crawlId: string | null, dedupeKeys: string[]): Promise<Job[]> {
    if (dedupeKeys.length === 0) return [];
    return (await this.pool.query<Row>(SQL.findByDedupeKeys, [crawlId, dedupeKeys])).rows.map(toJob);
  }

  async leases(): Promise<LeaseInfo[]> {
    return (await this.pool.query<LeaseInfo>(SQL.leases)).rows;
  }

  async keys(opts: { limit?: number; defaultLimit: number; defaultDelayMs?: number; live?: boolean }): Promise<KeySummary[]> {
    const { rows } = await this.pool.query<Row>(opts.live ? SQL.liveKeySummaries : SQL.keySummaries, [
      opts.defaultLimit,
      opts.defaultDelayMs ?? 0,
      opts.limit ?? 1000,
    ]);
    return rows.map(toKeySummary);
  }

  async setKeyLimit(key: string, limit: number | null): Promise<void> {
    if (limit !== null && !(Number.isInteger(limit) && limit >= 1)) throw new QueueError('limit must be an integer ≥ 1');
    await this.write(
      async (tx) => {
        await tx.query(SQL.setKeyLimit, [key, limit]);
        await tx.query(SQL.dropEmptySettings, [key]);
      },
      false,
      true,
    );
  }

  async setKeyDelay(key: string, delayMs: number | null): Promise<void> {
    if (delayMs !== null && !(Number.isFinite(delayMs) && delayMs >= 0)) throw new QueueError('delay must be a number ≥ 0');
    await this.write(
      async (tx) => {
        await tx.query(SQL.setKeyDelay, [key, delayMs === null ? null : Math.round(delayMs)]);
        await tx.query(SQL.dropEmptySettings, [key]);
      },
      false,
      true,
    );
  }

  async claimStart(key: string, delayMs: number): Promise<number> {
    const {
      rows: [r],
    } = await this.pool.query<{ last_start_at: number }>(SQL.claimStart, [key, this.rules.now(), Math.max(0, Math.round(delayMs))]);
    return r.last_start_at;
  }

  async deferKey(key: string, until: number, reason: string): Promise<void> {
    await this.write(
      async (tx) => {
        await tx.query(SQL.deferKey, [key, Math.round(until), reason]);
      },
      false,
      true,
    );
  }

  async holdCrawl(crawlId: string, held: boolean): Promise<number> {
    return this.write(
      async (tx) => {
        const { rows } = await tx.query<{ id: number }>(held ? SQL.holdCrawl : SQL.releaseCrawl, [crawlId, HELD, tx.now]);
        tx.touch(rows.map((r) => r.id));
        return rows.length;
      },
      false,
      true,
    );
  }

  async nextWakeAt(after = this.rules.now()): Promise<number | null> {
    const {
      rows: [r],
    } = await this.pool.query<{ at: number | null }>(SQL.nextWake, [after, HELD]);
    return r.at;
  }

  async evictIdleKeys(): Promise<number> {
    return (await this.pool.query(SQL.evictIdleKeys, [this.rules.now()])).rowCount ?? 0;
  }

  /** Rows of per-key bookkeeping held now (bounded: idle keys are evicted). */
  async keyRows(): Promise<number> {
    return (await this.pool.query<{ n: number }>(SQL.countKeys)).rows[0].n;
  }

  changes(_opts: { pollMs: number }): JobChanges {
    const reader = new PgJobChanges((r) => this.readers.delete(r));
    this.readers.add(reader);
    return reader;
  }

  async jobStates(ids: number[]): Promise<JobStateRow[]> {
    if (ids.length === 0) return [];
    return (await this.pool.query<JobStateRow>(SQL.states, [ids])).rows;
  }

  /** Notifications heard from other processes' commits (every one but leases). */
  changeCounter(): number {
    return this.counter;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.foreignWake);
    this.listeners.clear();
    for (const r of [...this.readers]) r.close();
    await this.clock.stop();
    await this.listener?.close();
    await this.reserver?.end().catch(() => {});
    await this.pool.end();
  }
}

/** The counter shard a transaction adds to (schema.ts COUNTER_SHARDS). */
function shard(): number {
  return Math.floor(Math.random() * COUNTER_SHARDS);
}

/** A leased job from a `leaseJobs` row and the lease just taken. */
function leasedJob(r: Row, workerId: string, leaseToken: string, now: number, ttlMs: number): LeasedJob {
  return {
    id: r.id as number,
    kind: r.kind as string,
    url: r.url as string,
    key: r.key as string,
    crawlId: r.crawl_id as string | null,
    depth: r.depth as number | null,
    priority: r.priority as number,
    state: 'in_progress',
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    reclaims: r.reclaims as number,
    deferrals: r.deferrals as number,
    runAfter: 0,
    workerId,
    leaseToken,
    leasedAt: now,
    leaseExpiresAt: now + ttlMs,
    heartbeatAt: now,
    lastError: r.last_error as string | null,
    result: null,
    payload: r.payload ? (JSON.parse(r.payload as string) as Record<string, unknown>) : null,
    createdAt: r.created_at as number,
    updatedAt: now,
    finishedAt: null,
  };
}
