/**
 * A client of the daemon's socket: JSON-RPC 2.0, one message per line. Used by `crawlctl`, the
 * demo and a daemon checking whether a socket is already served.
 */
import * as net from 'node:net';
import { JSONRPCClient, JSONRPCErrorException, type JSONRPCResponse } from 'json-rpc-2.0';
import type { Method, Notification, Notifications, ParamsOf, ResultOf } from '../../protocol';

/** Nobody answers on the socket: no daemon runs there (or a dead one left its file behind). */
export class NoDaemonError extends Error {
  constructor(
    readonly socketPath: string,
    readonly reason: NodeJS.ErrnoException,
  ) {
    super(`no daemon is running at ${socketPath}`);
    this.name = 'NoDaemonError';
  }
}

/** The daemon answered with an error. */
export class RemoteError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

type NotificationHandler = <N extends Notification>(method: N, params: Notifications[N]) => void;

export class DaemonClient {
  private readonly rpc: JSONRPCClient;
  private readonly handlers = new Set<NotificationHandler>();
  private readonly closeHandlers = new Set<() => void>();
  /** The chunks of a line not yet ended. */
  private pending: Buffer[] = [];
  private closed = false;
  /** An error the daemon sent about the connection itself (id null), such as too many connections. */
  private refusal: string | null = null;

  private constructor(private readonly socket: net.Socket) {
    this.rpc = new JSONRPCClient((request) => {
      if (this.closed) throw new Error('the connection to the daemon is closed');
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => {
      // 'close' follows and fails whatever is pending.
    });
    socket.on('close', () => {
      this.closed = true;
      this.rpc.rejectAllPendingRequests(this.refusal ?? 'the daemon closed the connection');
      for (const h of this.closeHandlers) h();
    });
  }

  /** Connects, or rejects with NoDaemonError when nothing listens there. */
  static connect(socketPath: string, timeoutMs = 5_000): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the daemon at ${socketPath} did not accept the connection within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new DaemonClient(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK' || err.code === 'ENOTDIR')
          reject(new NoDaemonError(socketPath, err));
        else reject(err);
      });
    });
  }

  async request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    try {
      return (await this.rpc.request(method, params)) as ResultOf<M>;
    } catch (err) {
      if (err instanceof JSONRPCErrorException) throw new RemoteError(err.code, err.message, err.data);
      throw err;
    }
  }

  /** Like request, but a timeout turns a hung daemon into an error. */
  async requestWithin<M extends Method>(method: M, params: ParamsOf<M>, ms: number): Promise<ResultOf<M>> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the daemon did not answer ${method} within ${ms / 1000}s`)), ms);
    });
    try {
      return await Promise.race([this.request(method, params), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  onNotification(handler: NotificationHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.add(handler);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /**
   * Lines out of chunks. A long answer (a page of 1,000 records is megabytes) comes in many
   * chunks, so each is kept apart until its line ends, and only a new chunk is searched for the
   * end: joining and searching the whole buffer on every 64 KB chunk made a line cost its length
   * squared (0.77 s of a 100,000-page export went there). Bytes, not text: a line is decoded once,
   * whole (UTF-8 never has byte 10 inside a character), where decoding each chunk and joining the
   * pieces cost a 100,000-page export 0.2 s more.
   */
  private receive(chunk: Buffer): void {
    let nl = chunk.indexOf(10);
    if (nl < 0) {
      this.pending.push(chunk);
      return;
    }
    this.pending.push(chunk.subarray(0, nl));
    const lines = [Buffer.concat(this.pending).toString('utf8')];
    this.pending = [];
    for (let from = nl + 1; ; from = nl + 1) {
      nl = chunk.indexOf(10, from);
      if (nl < 0) {
        if (from < chunk.length) this.pending.push(chunk.subarray(from));
        break;
      }
      lines.push(chunk.toString('utf8', from, nl));
    }
    for (const line of lines) this.handle(line);
  }

  private handle(line: string): void {
    if (line.trim() === '') return;
    let msg: { method?: unknown; params?: unknown; id?: unknown; error?: { message?: unknown } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // The daemon only writes JSON; a torn line would be a bug there, not here.
    }
    if (typeof msg.method === 'string') {
      for (const h of this.handlers) h(msg.method as Notification, msg.params as never);
    } else if (msg.id === null && typeof msg.error?.message === 'string') {
      this.refusal = `the daemon closed the connection: ${msg.error.message}`;
    } else {
      this.rpc.receive(msg as JSONRPCResponse);
    }
  }
}
