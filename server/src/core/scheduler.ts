import type { CoreConfig, LiveConfig } from './config';
import { QueueLockedError } from './errors';
import { Heartbeat } from './heartbeat';
import { Reaper } from './reaper';
import { checkOutcome } from './job-rules';
import { clip } from './text';
import type { Ack, AckResult, LeasedJob, Outcome, Queue } from './types';
import { makeWorkerId } from './worker-id';

export interface HandlerContext {
  /** Fires when the lease is lost (reclaimed, requeued, expired) or the scheduler stops. */
  signal: AbortSignal;
  workerId: string;
  /**
   * Hears, once the attempt's acknowledgement is committed, what became of it (its follow-up
   * jobs' ids): from then on they are in the queue for every process. Not called when the lease
   * was lost, the scheduler stopped first, or the handler threw.
   */
  committed(listener: (result: AckResult) => void): void;
}

/** Runs one job. Resolving with nothing means done; throwing means a retryable failure. */
export type Handler = (job: LeasedJob, ctx: HandlerContext) => Promise<Outcome | void>;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Logger = (level: LogLevel, message: string) => void;

/** The abort reasons a handler can see on its signal. */
export const ABORT_LOST = 'lease lost';
export const ABORT_STOP = 'scheduler stopping';
/**
 * How long a finished handler's acknowledgement waits for others while handlers still run, so that
 * they commit together: on pages of 70 links parsed on one thread, 2 ms halved the transactions
 * (20,400-23,400 to 9,600-10,700 for 20,000 pages) and took 12-14% off the CPU per page. Not waited when no
 * other handler runs: a crawl of one worker pays nothing.
 */
const ACK_GATHER_MS = 2;
/** The longest delay a Node timer keeps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a job whose handler met a locked database waits before it is tried again. */
const LOCKED_RETRY_MS = 1_000;
/** A handler failure's message is logged once, then at most this often, with how many came between. */
const HANDLER_FAILURE_EVERY_MS = 60_000;
/** How often the counts of failures not logged since their message was are looked at, to be logged. */
const HANDLER_FAILURE_FLUSH_MS = 10_000;
/** Messages remembered for that: a handler whose messages all differ must not grow the map. */
const HANDLER_FAILURES_KEPT = 100;
/** A thrown message can carry a whole response or stack: the log keeps its start. */
const LOGGED_MESSAGE_MAX = 500;

export interface SchedulerStatus {
  workerId: string;
  paused: boolean;
  stopping: boolean;
  running: number;
  maxWorkers: number;
  /** Why writing to the queue fails now (database locked or full), or null. */
  lastError: string | null;
  completed: number;
}

interface Running {
  job: LeasedJob;
  abort: AbortController;
  settled: Promise<void>;
  /** The handler has returned: its acknowledgement is queued or being committed. */
  handled: boolean;
  /** Its handler's `committed` listeners. */
  committed: ((result: AckResult) => void)[];
}

/**
 * The dispatcher, the bounded worker pool, the heartbeat and the reaper of one process.
 * The dispatcher leases in batches sized to the free slots and sleeps when nothing is ready,
 * woken by local changes, by another process's commits, or by the next backoff's end.
 * Acknowledgements are batched: all handlers finishing in one tick are acked in one transaction,
 * and while other handlers still run, those finishing within ACK_GATHER_MS of the first.
 */
export class Scheduler {
  readonly workerId: string;
  /** By lease token: the same job can be leased again here while a stale attempt still winds down. */
  private readonly running = new Map<string, Running>();
  private readonly pendingAcks: Ack[] = [];
  private readonly ackWaiters: (() => void)[] = [];
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Handlers running that have not returned: acknowledgements that may still join a batch. */
  private unhandled = 0;
  private readonly heartbeat: Heartbeat;
  private readonly reaper: Reaper;
  private paused = false;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Poked since the dispatcher last began a lease: something may have changed that lease did not see. */
  private dirty = false;
  /** Why writes fail now, by what was tried ('leasing', 'acknowledging', ...), the latest last. */
  private readonly faults = new Map<string, string>();
  /** Handler failures logged, by their clipped message, the least recently logged first. */
  private readonly handlerFailures = new Map<string, { loggedAt: number; since: number }>();
  private handlerFailureFlush: NodeJS.Timeout | undefined;
  /**
   * Finished work that could not be committed (a full or locked database): nothing more is
   * leased until it is, since work leased meanwhile could not be committed either.
   */
  private acksFailing = false;
  private completed = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly queue: Queue,
    private readonly handlers: Record<string, Handler>,
    private config: CoreConfig,
    private readonly log: Logger = () => {},
    workerId = makeWorkerId(),
  ) {
    this.workerId = workerId;
    this.heartbeat = new Heartbeat(
      queue,
      workerId,
      config.leaseTtlMs,
      config.heartbeatMs,
      () => [...this.running.values()].map((r) => ({ id: r.job.id, token: r.job.leaseToken })),
      (lost) => this.leasesLost(lost),
      (err) => this.reportError('heartbeat', err, 'warn'),
      () => this.writesWork('heartbeat'),
    );
    this.reaper = new Reaper(
      queue,
      Math.min(5_000, Math.max(50, config.leaseTtlMs / 4)),
      (r) => {
        this.writesWork('reaper');
        if (r.requeued || r.failed) {
          this.log('info', `reclaimed ${r.requeued} job(s), failed ${r.failed}${r.deadWorkers.length ? ` (dead workers: ${r.deadWorkers.join(', ')})` : ''}`);
        }
      },
      (err) => this.reportError('reaper', err, 'warn'),
      workerId,
      (err) => (err === null ? this.writesWork('the worker registry') : this.reportError('the worker registry', err, 'warn')),
    );
  }

  start(): void {
    if (this.loop) return;
    this.unsubscribe = this.queue.onChange(() => this.poke());
    this.heartbeat.start();
    this.reaper.start();
    this.handlerFailureFlush = setInterval(() => this.flushHandlerFailures(), HANDLER_FAILURE_FLUSH_MS);
    this.handlerFailureFlush.unref();
    this.loop = this.dispatch();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.poke();
  }

  /** Applies a new max-workers and per-host default while running; the rest is fixed at construction (the heartbeat's timer has its TTL). */
  reconfigure(change: LiveConfig): void {
    this.config = { ...this.config, ...change };
    this.poke();
  }

  status(): SchedulerStatus {
    return {
      workerId: this.workerId,
      paused: this.paused,
      stopping: this.stopping,
      running: this.running.size,
      maxWorkers: this.config.maxWorkers,
      lastError: [...this.faults].map(([what, why]) => `${what} failed: ${why}`).pop() ?? null,
      completed: this.completed,
    };
  }

  /** The jobs running in this process now. */
  runningJobs(): LeasedJob[] {
    return [...this.running.values()].map((r) => r.job);
  }

  /**
   * Graceful stop: no new leases; in-flight jobs get the deadline to finish; what is left is
   * aborted and given back to the queue at once rather than left to expire.
   */
  async stop(deadlineMs = this.config.stopDeadlineMs): Promise<void> {
    if (this.stopping) return this.loop ?? undefined;
    this.stopping = true;
    this.poke();
    await this.loop;
    const all = () => Promise.all([...this.running.values()].map((r) => r.settled));
    if (!(await settlesWithin(all(), deadlineMs))) {
      for (const r of this.running.values()) r.abort.abort(ABORT_STOP);
      if (!(await settlesWithin(all(), ABORT_GRACE_MS))) {
        // Handlers deaf to their signal: give their jobs back anyway; their late acks are fenced.
        for (const r of this.running.values()) {
          this.log('warn', `job ${r.job.id} ignored the stop; releasing its lease`);
          this.pendingAcks.push({ id: r.job.id, token: r.job.leaseToken, outcome: { type: 'release', reason: 'worker stopping' }, job: r.job });
        }
      }
    }
    await this.flushAcks();
    // Failures not logged since their message last was are counted now, or never.
    clearInterval(this.handlerFailureFlush);
    for (const [text, { since }] of this.handlerFailures) this.logRepeats(text, since);
    this.handlerFailures.clear();
    this.unsubscribe?.();
    await Promise.all([this.heartbeat.stop(), this.reaper.stop()]);
    // In the registry, stopped rather than silent: a daemon that stopped is not a lost worker. Not
    // waited for long: a database out of reach must not hold the stop (it reads as lost instead).
    const stopped = this.queue.workerStopped(this.workerId).catch((err) => this.reportError('the worker registry', err, 'warn'));
    await settlesWithin(stopped, REGISTRY_STOP_MS);
  }

  private poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  private async dispatch(): Promise<void> {
    while (!this.stopping) {
      const free = this.config.maxWorkers - this.running.size;
      if (this.paused || free <= 0 || this.acksFailing) {
        await this.sleep(null, null);
        continue;
      }
      // This lease sees whatever a poke until now announced. Left set, a poke that came just before
      // it (an acknowledgement committed while the dispatcher yielded) made a second lease at once
      // after it: with 4 daemons on PostgreSQL (the bench's postgres crawl), 9-12% of the leases,
      // two thirds of them empty.
      this.dirty = false;
      let jobs: LeasedJob[];
      const leasedAt = this.queue.now();
      // Read before the lease: another process's commit from here on must end the sleep below.
      let seen: number | null = null;
      try {
        seen = this.queue.changeCounter();
      } catch {
        // A closed or failing database: the lease reports it.
      }
      try {
        jobs = await this.queue.lease(this.workerId, free, {
          ttlMs: this.config.leaseTtlMs,
          defaultLimit: this.config.perHostLimit,
          defaultDelayMs: this.config.perHostDelayMs,
        });
        this.writesWork();
      } catch (err) {
        this.reportError('leasing', err);
        await this.sleep(this.queue.now() + 1000, null);
        continue;
      }
      for (const job of jobs) this.run(job);
      if (jobs.length < free) {
        let wakeAt: number | null;
        try {
          wakeAt = await this.queue.nextWakeAt(leasedAt);
        } catch (err) {
          this.reportError('reading the queue', err);
          wakeAt = this.queue.now() + 1000;
        }
        await this.sleep(wakeAt, seen);
      }
    }
  }

  /**
   * Sleeps until poked, until `untilMs` (on the queue's clock, which is the database server's on
   * PostgreSQL, not this machine's), or (given the change counter as it was read) until another
   * process commits.
   */
  private async sleep(untilMs: number | null, seen: number | null): Promise<void> {
    if (this.dirty) {
      this.dirty = false;
      // Still yield to timers and I/O: a stream of pokes must not starve the event loop.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    await new Promise<void>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const done = () => {
        timers.forEach(clearTimeout);
        this.wake = null;
        resolve();
      };
      this.wake = done;
      // Node fires a timer past 2^31 - 1 ms at once: a backoff weeks away would spin the loop.
      if (untilMs !== null) timers.push(setTimeout(done, Math.min(Math.max(0, untilMs - this.queue.now()), MAX_TIMER_MS)));
      if (seen !== null) {
        const poll = () => {
          try {
            if (this.queue.changeCounter() !== seen) return done();
          } catch {
            // A closed or failing database: the dispatcher's next lease reports it.
            return done();
          }
          timers.push(setTimeout(poll, this.config.pollMs));
        };
        timers.push(setTimeout(poll, this.config.pollMs));
      }
    });
    this.dirty = false;
  }

  private run(job: LeasedJob): void {
    const abort = new AbortController();
    const handler = this.handlers[job.kind];
    // Made before the handler runs: it may listen before its first await.
    const committed: ((result: AckResult) => void)[] = [];
    this.unhandled++;
    const settled = (async (): Promise<Outcome> => {
      if (!handler) return { type: 'fail', error: `no handler for job kind "${job.kind}"`, retryable: false };
      try {
        const ctx: HandlerContext = { signal: abort.signal, workerId: this.workerId, committed: (l) => committed.push(l) };
        return (await handler(job, ctx)) ?? { type: 'done' };
      } catch (err) {
        committed.length = 0; // what it listened for is not what is acknowledged
        if (abort.signal.aborted) return { type: 'fail', error: String(abort.signal.reason) };
        // A write of the handler's that met another process's lock: tried again later, its attempt not spent.
        if (err instanceof QueueLockedError) return { type: 'defer', reason: err.message, delayMs: LOCKED_RETRY_MS };
        // A handler's own outcomes (a 404, a refused connection) are the job's; a throw is ours: a bug,
        // or a database failure, whose cause is logged already.
        if (![...this.faults.values()].includes(message(err))) this.handlerFailed(job, message(err));
        return { type: 'fail', error: message(err), retryable: (err as { retryable?: boolean }).retryable !== false };
      }
    })().then((returned) => {
      running.handled = true;
      this.unhandled--;
      let outcome = returned;
      try {
        checkOutcome(outcome);
      } catch (err) {
        outcome = { type: 'fail', error: `the handler's outcome could not be recorded: ${message(err)}`, retryable: false };
      }
      // Stopped mid-job: the job goes back untouched, its attempt not counted.
      if (abort.signal.reason === ABORT_STOP) outcome = { type: 'release', reason: 'worker stopping' };
      if (outcome !== returned) committed.length = 0;
      return this.ack({ id: job.id, token: job.leaseToken, outcome, job });
    });
    const running: Running = { job, abort, settled, handled: false, committed };
    this.running.set(job.leaseToken, running);
  }

  private leasesLost(lost: { id: number; token: string }[]): void {
    for (const { id, token } of lost) {
      const r = this.running.get(token);
      // A handler already done has nothing to abort: the heartbeat may have seen its own ack's
      // commit before the dispatcher did, and an ack after a real loss is fenced anyway.
      if (!r || r.handled) continue;
      this.log('warn', `lease on job ${id} lost; aborting its handler`);
      r.abort.abort(ABORT_LOST);
    }
  }

  /** Queues an acknowledgement; the slot frees once it is committed. */
  private ack(a: Ack): Promise<void> {
    this.pendingAcks.push(a);
    return new Promise<void>((resolve) => {
      this.ackWaiters.push(resolve);
      this.scheduleFlush();
    });
  }

  /** At once when no other handler runs (nothing else could join), else after ACK_GATHER_MS. */
  private scheduleFlush(): void {
    const now = this.unhandled === 0;
    if (now && this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flushScheduled = false;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (now) setImmediate(() => void this.flushAcks());
    else this.flushTimer = setTimeout(() => void this.flushAcks(), ACK_GATHER_MS);
  }

  private async flushAcks(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pendingAcks.length === 0) return;
    const acks = this.pendingAcks.splice(0);
    const waiters = this.ackWaiters.splice(0);
    try {
      const results = await this.queue.ack(this.workerId, acks);
      results.forEach((r, i) => {
        if (!r.ok) this.log('warn', `job ${r.id}: result refused, the lease had passed to another worker`);
        else {
          this.completed++;
          this.tellCommitted(acks[i], r);
        }
      });
    } catch (err) {
      // Kept and retried: the leases stay ours while the heartbeat runs.
      this.reportError('acknowledging', err);
      this.acksFailing = true;
      this.pendingAcks.unshift(...acks);
      this.ackWaiters.unshift(...waiters);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setTimeout(() => void this.flushAcks(), 500).unref();
      }
      return;
    }
    this.acksFailing = false;
    this.writesWork();
    for (const a of acks) this.running.delete(a.token);
    for (const w of waiters) w();
    this.poke();
  }

  private tellCommitted(a: Ack, result: AckResult): void {
    const r = this.running.get(a.token);
    // Not a handler that never returned (its lease released at a stop): that is not its outcome.
    if (!r || !r.handled || result.id !== a.id) return;
    for (const listener of r.committed) {
      try {
        listener(result);
      } catch (err) {
        this.handlerFailed(r.job, `its committed listener threw: ${message(err)}`);
      }
    }
  }

  /**
   * Logged once per message, then at most once a minute with a count: a bug, or a dependency
   * down, throws for every job, hundreds a second.
   */
  private handlerFailed(job: LeasedJob, why: string): void {
    const text = clip(why, LOGGED_MESSAGE_MAX);
    const now = Date.now();
    const seen = this.handlerFailures.get(text);
    if (seen && now - seen.loggedAt < HANDLER_FAILURE_EVERY_MS) {
      seen.since++;
      return;
    }
    this.handlerFailures.delete(text);
    this.handlerFailures.set(text, { loggedAt: now, since: 0 });
    if (this.handlerFailures.size > HANDLER_FAILURES_KEPT) {
      const [oldest, { since }] = this.handlerFailures.entries().next().value!;
      this.handlerFailures.delete(oldest);
      this.logRepeats(oldest, since);
    }
    const count = seen ? ` (${seen.since + 1} times since it was last logged)` : '';
    this.log('error', `job ${job.id} (${job.kind}): its handler failed${count}: ${text}`);
  }

  /**
   * Counts the failures of each message logged a minute ago or more, and forgets it: a burst that
   * stops is counted a minute on, not at a stop a kill may never reach. The least recently logged
   * come first, so the first logged since ends the pass.
   */
  private flushHandlerFailures(): void {
    const now = Date.now();
    for (const [text, { loggedAt, since }] of this.handlerFailures) {
      if (now - loggedAt < HANDLER_FAILURE_EVERY_MS) return;
      this.handlerFailures.delete(text);
      this.logRepeats(text, since);
    }
  }

  /** The failures with this message since it was last logged, when it is not to be logged again. */
  private logRepeats(text: string, since: number): void {
    if (since > 0) this.log('error', `handlers failed ${since} more time(s) since it was last logged: ${text}`);
  }

  /**
   * Logged once per cause, not once per retry nor once per kind of write: a full disk or a lock
   * makes leases, acknowledgements, heartbeats and the reaper fail alike, and must not flood the log.
   */
  private reportError(what: string, err: unknown, level: LogLevel = 'error'): void {
    const why = message(err);
    if (![...this.faults.values()].includes(why)) this.log(level, `${what} failed: ${why}`);
    this.faults.delete(what);
    this.faults.set(what, why);
  }

  /**
   * A write was committed: the failures seen so far (locked, full) are over, or, after a
   * heartbeat or a reaper pass (`what`), theirs only: a full database takes a heartbeat's update
   * of existing rows, or the reaper's deletes, when it has no room for an acknowledgement's.
   */
  private writesWork(what?: string): void {
    if (this.faults.size === 0) return;
    const after = [...new Set(this.faults.values())].join('; ');
    if (what === undefined) this.faults.clear();
    else this.faults.delete(what);
    if (this.faults.size === 0) this.log('info', `the queue takes writes again (after: ${after})`);
  }
}

/** How long a stopping scheduler waits to mark its worker stopped in the registry. */
const REGISTRY_STOP_MS = 2_000;

/** How long aborted handlers get to wind down before their jobs are released regardless. */
const ABORT_GRACE_MS = 2_000;

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const ok = await Promise.race([p.then(() => true), late]);
  clearTimeout(timer);
  return ok;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
