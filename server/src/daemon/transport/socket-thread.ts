/**
 * The Unix socket served from a thread of its own (socket-worker.ts): connections, framing, limits,
 * turns and JSON happen there, and the daemon's thread sees each request as a message and answers
 * it with another. `queue/stats` is answered there outright, from a connection of its own to the
 * database: the daemon's thread runs the crawl, SQLite's commits, the link graph's moves and GC in
 * stretches of 12-20 ms, and a client's `queue/stats` that arrived in one waited it out (p99 28-46
 * ms over the socket during the heavy-page crawl, measured).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger, LogLevel } from '../../core/scheduler';
import { asRpcError, internalError } from './rpc';
import { SocketInUseError, type Handle } from './socket';

/** What the socket's thread is given to start. */
export interface SocketWorkerData {
  path: string;
  methods: readonly string[];
  /** The database whose counts it reads for `queue/stats` (a file or a PostgreSQL URL). */
  db: string;
}

/** The socket's thread to the daemon's. */
export type FromSocket =
  | { t: 'listening' }
  | { t: 'listenFailed'; inUse: boolean; message: string }
  /** `params` as JSON text (socket-worker.ts `forward`). */
  | { t: 'call'; id: number; method: string; params: string | undefined }
  | { t: 'subscribers'; any: boolean }
  | { t: 'log'; level: LogLevel; message: string }
  | { t: 'closed' };

/** The daemon's thread to the socket's. */
export type ToSocket =
  /** The result as JSON text: see `answer`. */
  | { t: 'answer'; id: number; json: string }
  | { t: 'answer'; id: number; error: { code: number; message: string; data?: unknown } }
  /** The request's handler awaits I/O: its turn goes back, as on one thread (turns.ts). */
  | { t: 'yielded'; id: number }
  | { t: 'subscribe'; id: number }
  | { t: 'notify'; method: string; params: unknown }
  | { t: 'stopAccepting' }
  | { t: 'close' };

/** A thread that ended unasked is started again after this long, doubling while it cannot listen. */
const RESTART_AFTER_MS = 1_000;
const RESTART_AFTER_MAX_MS = 30_000;

export class SocketThread {
  private worker: Worker | null = null;
  private anySubscribed = false;
  private closing = false;
  /** The thread listens: one that ends now is started again. */
  private serving = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private restartAfterMs = RESTART_AFTER_MS;
  private closed: (() => void) | null = null;

  /** `onSubscribed`: a connection subscribed, so changes are owed to it (the feed's batch). */
  constructor(
    readonly path: string,
    private readonly methods: readonly string[],
    private readonly handle: Handle,
    private readonly log: Logger,
    private readonly db: string,
    private readonly onSubscribed: () => void = () => {},
  ) {}

  /** Takes the socket path as SocketServer.listen does, on the socket's thread. */
  listen(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = this.start();
      const done = (err: Error | null) => {
        worker.off('message', onMessage).off('error', done).off('exit', exited);
        if (!err) {
          this.serving = true;
          this.restartAfterMs = RESTART_AFTER_MS;
          return resolve();
        }
        void worker.terminate();
        reject(err);
      };
      const exited = (code: number) => done(new Error(`the socket's thread ended before it listened (exit code ${code})`));
      const onMessage = (m: FromSocket) => {
        if (m.t === 'listening') done(null);
        else if (m.t === 'listenFailed') done(m.inUse ? new SocketInUseError(m.message) : new Error(m.message));
      };
      worker.on('message', onMessage).once('error', done).once('exit', exited);
    });
  }

  /** Whether any connection subscribed to notifications. */
  subscribed(): boolean {
    return this.anySubscribed;
  }

  /** Sends a notification to every connection that subscribed. */
  notify(method: string, params: unknown): void {
    this.worker?.postMessage({ t: 'notify', method, params } satisfies ToSocket);
  }

  /** Stops accepting; the file goes unless another daemon has taken the path since. */
  stopAccepting(): void {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.worker?.postMessage({ t: 'stopAccepting' } satisfies ToSocket);
  }

  /** Ends every connection once what it is owed has been written, then the thread. */
  async closeConnections(): Promise<void> {
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      this.closed = resolve;
      worker.once('exit', () => resolve());
      worker.postMessage({ t: 'close' } satisfies ToSocket);
    });
    await worker.terminate();
  }

  private start(): Worker {
    const workerData: SocketWorkerData = { path: this.path, methods: this.methods, db: this.db };
    const worker = new Worker(path.join(__dirname, 'socket-worker.js'), { workerData });
    this.worker = worker;
    worker.on('message', (m: FromSocket) => this.receive(worker, m));
    worker.on('error', (err: unknown) => this.log('error', `the socket's thread failed: ${(err as Error)?.stack ?? String(err)}`));
    worker.on('messageerror', (err) => this.log('error', `a message from the socket's thread could not be read: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.anySubscribed = false;
      const wasServing = this.serving;
      this.serving = false;
      if (this.closing || !wasServing) return;
      this.log('error', `the socket's thread ended (exit code ${code}); serving the socket again in ${RESTART_AFTER_MS} ms`);
      this.restart();
    });
    return worker;
  }

  /** Serves the socket again; a thread that cannot listen is tried again later, unless another daemon took the socket. */
  private restart(): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      this.listen().catch((err: Error) => {
        if (err instanceof SocketInUseError) return this.log('error', `the socket is not served again: ${err.message}`);
        this.restartAfterMs = Math.min(this.restartAfterMs * 2, RESTART_AFTER_MAX_MS);
        this.log('error', `serving the socket again failed: ${err.message}; trying again in ${this.restartAfterMs} ms`);
        this.restart();
      });
    }, this.restartAfterMs);
    this.restartTimer.unref();
  }

  private receive(worker: Worker, m: FromSocket): void {
    switch (m.t) {
      case 'call':
        void this.answer(worker, m.id, m.method, m.params === undefined ? undefined : JSON.parse(m.params));
        return;
      case 'subscribers':
        if (worker !== this.worker) return;
        this.anySubscribed = m.any;
        if (m.any) this.onSubscribed();
        return;
      case 'log':
        this.log(m.level, m.message);
        return;
      case 'closed':
        this.closed?.();
        return;
      default:
        return;
    }
  }

  /**
   * Runs one request on this thread. What goes back goes to the thread that asked, and to none if it
   * has ended: ids start again in a thread started again. A subscription reaches it before the answer,
   * and counts here at once, so the feed's batch owed to the new subscriber is not skipped while the
   * thread's word on it is on its way.
   */
  private async answer(worker: Worker, id: number, method: string, params: unknown): Promise<void> {
    const send = (m: ToSocket) => {
      if (this.worker === worker) worker.postMessage(m);
    };
    let settled = false;
    const subscribe = () => {
      send({ t: 'subscribe', id });
      if (this.worker === worker) this.anySubscribed = true;
    };
    const running = this.handle(method, params, { subscribe });
    // As Turns does on one thread: a request still running once the event loop moves on awaits I/O.
    setImmediate(() => settled || send({ t: 'yielded', id }));
    let reply: ToSocket;
    try {
      // Written here as JSON, copied as a string: copying the value for the other thread cost this
      // one what JSON.stringify does (1.16 against 1.14 ms for 1,000 page records), and the socket's
      // thread then read the copy back and wrote it as JSON again (crawl/pages: 19 ms a call of 1,000, now 17).
      const result: unknown = await running;
      reply = { t: 'answer', id, json: JSON.stringify(result) ?? 'null' };
    } catch (err) {
      // A result JSON cannot write (a BigInt, a cycle) is an internal error, not silence.
      const e = asRpcError(err);
      reply = { t: 'answer', id, error: { code: e.code, message: e.message, data: e.data } };
    }
    settled = true;
    try {
      send(reply);
    } catch (err) {
      // Error data with no structured clone.
      const e = internalError(err);
      send({ t: 'answer', id, error: { code: e.code, message: e.message } });
    }
  }
}
