/**
 * The Unix socket served from a thread of its own (socket-worker.ts): connections, framing, limits,
 * turns and JSON happen there, and the daemon's thread sees each request as a message and answers
 * it with another. `queue/stats` is answered there outright, from a connection of its own to the
 * database: the daemon's thread runs the crawl, SQLite's commits, the link graph's moves and GC in
 * stretches of 12-20 ms, and a client's `queue/stats` that arrived in one waited it out (p99 25-28
 * ms over the socket during the heavy-page crawl, measured).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger, LogLevel } from '../../core/scheduler';
import { ErrorCodes } from '../../protocol';
import { RpcError } from './rpc';
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
  | { t: 'call'; id: number; method: string; params: unknown }
  | { t: 'subscribers'; any: boolean }
  | { t: 'log'; level: LogLevel; message: string }
  | { t: 'closed' };

/** The daemon's thread to the socket's. */
export type ToSocket =
  | { t: 'answer'; id: number; result: unknown }
  | { t: 'answer'; id: number; error: { code: number; message: string; data?: unknown } }
  | { t: 'subscribe'; id: number }
  | { t: 'notify'; method: string; params: unknown }
  | { t: 'stopAccepting' }
  | { t: 'close' };

/** A thread that ended unasked is started again after this long, so a thread that cannot run does not spin. */
const RESTART_AFTER_MS = 1_000;

export class SocketThread {
  private worker: Worker | null = null;
  private anySubscribed = false;
  private closing = false;
  /** The thread listens: one that ends now is started again. */
  private serving = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private closed: (() => void) | null = null;

  constructor(
    readonly path: string,
    private readonly methods: readonly string[],
    private readonly handle: Handle,
    private readonly log: Logger,
    private readonly db: string,
  ) {}

  /**
   * Takes the socket path as SocketServer.listen does, on the socket's thread. A thread cannot set
   * the process's umask: it is narrowed here until the socket is bound, so the file is 0600 from
   * its first moment (anything else made meanwhile is only the more private for it).
   */
  listen(): Promise<void> {
    const mask = process.umask(0o177);
    return new Promise<void>((resolve, reject) => {
      const worker = this.start();
      const done = (err: Error | null) => {
        process.umask(mask);
        worker.off('message', onMessage).off('error', done).off('exit', exited);
        if (!err) {
          this.serving = true;
          return resolve();
        }
        this.closing = true;
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
    this.post({ t: 'notify', method, params });
  }

  /** Stops accepting; the file goes unless another daemon has taken the path since. */
  stopAccepting(): void {
    this.post({ t: 'stopAccepting' });
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
      this.post({ t: 'close' });
    });
    await worker.terminate();
  }

  private start(): Worker {
    const workerData: SocketWorkerData = { path: this.path, methods: this.methods, db: this.db };
    const worker = new Worker(path.join(__dirname, 'socket-worker.js'), { workerData });
    this.worker = worker;
    worker.on('message', (m: FromSocket) => this.receive(m));
    worker.on('error', (err) => this.log('error', `the socket's thread failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      this.anySubscribed = false;
      const wasServing = this.serving;
      this.serving = false;
      if (this.closing || !wasServing) return;
      this.log('error', `the socket's thread ended (exit code ${code}); serving the socket again in ${RESTART_AFTER_MS} ms`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closing) this.listen().catch((err: Error) => this.log('error', `serving the socket again failed: ${err.message}`));
      }, RESTART_AFTER_MS);
      this.restartTimer.unref();
    });
    return worker;
  }

  private receive(m: FromSocket): void {
    switch (m.t) {
      case 'call':
        void this.answer(m.id, m.method, m.params);
        return;
      case 'subscribers':
        this.anySubscribed = m.any;
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

  /** Runs one request on this thread; its subscription, if it makes one, reaches the socket's thread before its answer. */
  private async answer(id: number, method: string, params: unknown): Promise<void> {
    let reply: ToSocket;
    try {
      const result = await this.handle(method, params, { subscribe: () => this.post({ t: 'subscribe', id }) });
      reply = { t: 'answer', id, result };
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError(ErrorCodes.InternalError, `internal error: ${(err as Error)?.message ?? String(err)}`);
      reply = { t: 'answer', id, error: { code: e.code, message: e.message, data: e.data } };
    }
    try {
      this.worker?.postMessage(reply);
    } catch (err) {
      // An answer that cannot be copied to the thread (a value with no structured clone) is an internal error, not silence.
      this.post({ t: 'answer', id, error: { code: ErrorCodes.InternalError, message: `internal error: ${(err as Error).message}` } });
    }
  }

  private post(m: ToSocket): void {
    this.worker?.postMessage(m);
  }
}
