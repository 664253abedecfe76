/**
 * The daemon's Unix socket: JSON-RPC 2.0 (json-rpc-2.0), one message per line. A Unix socket
 * only, never TCP; the file is 0600 in a 0700 folder. Every line gets a valid answer or, for a
 * client that will not read its answers, a closed connection; nothing a client sends can stop
 * the daemon.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  JSONRPCServer, createJSONRPCErrorResponse, type JSONRPCID, type JSONRPCRequest, type JSONRPCResponse,
} from 'json-rpc-2.0';
import type { Logger } from '../core/scheduler';
import { parseWorkerId, processAlive } from '../core/worker-id';
import { ErrorCodes, MAX_LINE_BYTES } from '../protocol';
import { DaemonClient, NoDaemonError } from './client';
import type { CallContext } from './methods';
import { RpcError } from './rpc';
import { statOrNull } from './paths';
import { Seat, Turns } from './turns';

export type Handle = (method: string, params: unknown, call: CallContext) => Promise<unknown>;

/** A live daemon already serves the socket. */
export class SocketInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketInUseError';
  }
}

/** Requests of one connection running at once; past it, reading pauses until some finish. */
const MAX_IN_FLIGHT = 64;
/** Answers a client has not read yet, in bytes; past it, the client is cut off. */
const MAX_UNREAD_BYTES = 32 * 1024 * 1024;
/** Requests in one batch. */
const MAX_BATCH = 1_000;
/** A batch's answers, in bytes; the members past it are refused rather than answered. */
const MAX_BATCH_ANSWER_BYTES = 16 * 1024 * 1024;
/** Connections at once; more are closed as they come, so a runaway client cannot exhaust descriptors. */
const MAX_CONNECTIONS = 1_024;

export class SocketServer {
  private readonly rpc = new JSONRPCServer<CallContext>({ errorListener: () => {} });
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly turns = new Turns();
  private inode: number | null = null;

  constructor(
    readonly path: string,
    methods: readonly string[],
    handle: Handle,
    private readonly log: Logger,
  ) {
    for (const name of methods) this.rpc.addMethod(name, (params, call) => handle(name, params, call));
    this.rpc.mapErrorToJSONRPCErrorResponse = (id: JSONRPCID, err: unknown) => {
      const e = err instanceof RpcError ? err : new RpcError(ErrorCodes.InternalError, `internal error: ${(err as Error)?.message ?? String(err)}`);
      return createJSONRPCErrorResponse(id, e.code, e.message, e.data);
    };
    // Half-open: a client that writes its requests and then ends its side (`nc -N`, `socket.end()`)
    // still gets every answer; the connection ends once they are all written.
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const c = new Connection(socket, this.rpc, this.turns, this.log);
      this.connections.add(c);
      socket.once('close', () => {
        this.connections.delete(c);
        this.turns.close(c.seat);
      });
    });
    this.server.maxConnections = MAX_CONNECTIONS;
    this.server.on('error', (err) => this.log('error', `socket server: ${err.message}`));
  }

  /**
   * Takes the socket path: refuses when a live daemon answers there, replaces a stale file left by
   * a dead one, never replaces anything that is not a socket. A lock file beside it keeps two
   * daemons starting at the same moment from both deciding the socket is stale.
   */
  async listen(): Promise<void> {
    const release = await lockFor(`${this.path}.lock`);
    try {
      await refuseIfServed(this.path);
      const old = statOrNull(this.path);
      if (old) {
        if (!old.isSocket()) throw new SocketInUseError(`${this.path} exists and is not a socket; refusing to replace it`);
        fs.unlinkSync(this.path);
        this.log('info', `replaced the stale socket ${this.path}`);
      }
      // Created 0600 from the start (umask), then made sure of it (chmod). The bind happens inside
      // listen(), synchronously, so the process-wide umask is narrowed for that call alone.
      const mask = process.umask(0o177);
      let listening: Promise<void>;
      try {
        listening = new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(this.path, () => {
            this.server.off('error', reject);
            resolve();
          });
        });
      } finally {
        process.umask(mask);
      }
      await listening;
      fs.chmodSync(this.path, 0o600);
      this.inode = fs.statSync(this.path).ino;
    } finally {
      release();
    }
  }

  /** Sends a notification to every connection that subscribed. */
  notify(method: string, params: unknown): void {
    const line = `${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`;
    for (const c of this.connections) if (c.subscribed) c.write(line);
  }

  /** Stops accepting; the file goes unless another daemon has taken the path since. */
  stopAccepting(): void {
    this.server.close();
    const st = statOrNull(this.path);
    if (st && this.inode !== null && st.ino === this.inode) {
      try {
        fs.unlinkSync(this.path);
      } catch {
        // Already gone.
      }
    }
  }

  /** Ends every connection once what it is owed has been written. */
  async closeConnections(): Promise<void> {
    await Promise.all([...this.connections].map((c) => c.end()));
  }
}

class Connection {
  subscribed = false;
  /** This connection's place in the round robin of requests (turns.ts). */
  readonly seat = new Seat();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Past a line over the limit: everything up to the next newline is dropped. */
  private discarding = false;
  private inFlight = 0;
  /** The client has ended its side: no more requests will come. */
  private ended = false;
  private readonly call: CallContext = { subscribe: () => { this.subscribed = true; } };

  constructor(
    private readonly socket: net.Socket,
    private readonly rpc: JSONRPCServer<CallContext>,
    private readonly turns: Turns,
    private readonly log: Logger,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      // A last request without its newline is still a request.
      if (this.pendingBytes > 0 && !this.discarding) this.handleLine(this.takeLine().toString('utf8'));
      this.endIfDone();
    });
    socket.on('error', () => {
      // A client that went away mid-answer: nothing to do but forget it.
    });
  }

  write(line: string): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.writableLength > MAX_UNREAD_BYTES) {
      this.log('warn', 'a client stopped reading its answers; closing its connection');
      this.socket.destroy();
      return;
    }
    this.socket.write(line);
  }

  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      // A client that never reads would hold the end forever.
      setTimeout(() => this.socket.destroy(), 2_000).unref();
    });
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      if (this.pendingBytes + piece.length > MAX_LINE_BYTES) {
        this.tooLong();
        continue;
      }
      this.handleLine(this.takeLine(piece).toString('utf8'));
    }
    const rest = chunk.subarray(start);
    if (this.discarding || rest.length === 0) return;
    if (this.pendingBytes + rest.length > MAX_LINE_BYTES) {
      this.tooLong();
      this.discarding = true;
      return;
    }
    // Copied: the chunk's memory is Node's to reuse.
    this.pending.push(Buffer.from(rest));
    this.pendingBytes += rest.length;
  }

  /** The line gathered so far, ended by `last`; the buffer starts afresh. */
  private takeLine(last?: Buffer): Buffer {
    const line = this.pendingBytes === 0 ? last ?? Buffer.alloc(0) : Buffer.concat(last ? [...this.pending, last] : this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  /** The line gathered so far is dropped, and the client told why. */
  private tooLong(): void {
    this.takeLine();
    this.respond(createJSONRPCErrorResponse(null, ErrorCodes.InvalidRequest, `request line longer than ${MAX_LINE_BYTES} bytes; it was dropped`));
  }

  private respond(response: JSONRPCResponse | string | null): void {
    if (response === null) return;
    this.write(`${typeof response === 'string' ? response : JSON.stringify(response)}\n`);
  }

  private handleLine(text: string): void {
    if (text.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.respond(createJSONRPCErrorResponse(null, ErrorCodes.ParseError, 'parse error: the line is not valid JSON'));
    }
    if (Array.isArray(message)) {
      if (message.length === 0) return this.respond(invalid(null, 'an empty batch'));
      if (message.length > MAX_BATCH) return this.respond(invalid(null, `a batch of more than ${MAX_BATCH} requests`));
      this.track(this.batch(message));
      return;
    }
    this.track(this.inTurn(message));
  }

  /**
   * A batch's members run one after another, their answers written as one array. Once the
   * answers pass MAX_BATCH_ANSWER_BYTES the rest are refused, so one line of a few KB cannot make
   * the daemon build gigabytes of answers (a thousand pages of a thousand jobs).
   */
  private async batch(members: unknown[]): Promise<string | null> {
    const parts: string[] = [];
    let bytes = 0;
    for (const m of members) {
      const r = bytes > MAX_BATCH_ANSWER_BYTES ? refuseInBatch(m) : await this.inTurn(m);
      if (r === null) continue;
      const text = JSON.stringify(r);
      bytes += text.length;
      parts.push(text);
    }
    return parts.length ? `[${parts.join(',')}]` : null;
  }

  /** Runs one request; reading pauses while too many are running, so a flood cannot pile up. */
  private track(p: Promise<JSONRPCResponse | string | null>): void {
    this.inFlight++;
    if (this.inFlight >= MAX_IN_FLIGHT) this.socket.pause();
    p.then((r) => this.respond(r), (err) => this.log('error', `socket request failed: ${(err as Error).message}`))
      .finally(() => {
        this.inFlight--;
        if (this.inFlight < MAX_IN_FLIGHT && this.socket.isPaused()) this.socket.resume();
        this.endIfDone();
      });
  }

  /** One request, run in this connection's next turn: a flood from one client cannot hold up the rest. */
  private inTurn(m: unknown): Promise<JSONRPCResponse | null> {
    return this.turns.take(this.seat, () => this.dispatch(m));
  }

  /** Ends our side once the client has ended its own and every request it sent is answered. */
  private endIfDone(): void {
    if (this.ended && this.inFlight === 0 && !this.socket.destroyed) this.socket.end();
  }

  /** The envelope checked here, strictly; json-rpc-2.0 then runs the method. */
  private async dispatch(m: unknown): Promise<JSONRPCResponse | null> {
    if (typeof m !== 'object' || m === null) return invalid(null, 'a request must be an object');
    const r = m as Record<string, unknown>;
    const id = r.id;
    const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    const answerId = validId && id !== undefined ? (id as JSONRPCID) : null;
    if (!validId) return invalid(null, 'id must be a string, a number or null');
    if (r.jsonrpc !== '2.0') return invalid(answerId, 'jsonrpc must be "2.0"');
    if (typeof r.method !== 'string') return invalid(answerId, 'method must be a string');
    if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) {
      return invalid(answerId, 'params must be an object (or omitted)');
    }
    if ('result' in r || 'error' in r) return invalid(answerId, 'a request has no result or error');
    if (!this.rpc.hasMethod(r.method)) {
      if (id === undefined) return null;
      return createJSONRPCErrorResponse(answerId, ErrorCodes.MethodNotFound, `unknown method "${r.method.slice(0, 100)}"`);
    }
    return this.rpc.receive(r as unknown as JSONRPCRequest, this.call);
  }
}

/** The answer to a batch member past the batch's answer budget: none for a notification. */
function refuseInBatch(m: unknown): JSONRPCResponse | null {
  const id = (m as { id?: unknown } | null)?.id;
  if (id === undefined && typeof m === 'object' && m !== null) return null;
  const answerId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  return createJSONRPCErrorResponse(answerId, ErrorCodes.Unavailable, `the batch's answers passed ${MAX_BATCH_ANSWER_BYTES} bytes; send fewer requests in one batch`);
}

function invalid(id: JSONRPCID, what: string): JSONRPCResponse {
  return createJSONRPCErrorResponse(id, ErrorCodes.InvalidRequest, `invalid request: ${what}`);
}

/** Refuses when a daemon answers on the socket, naming it by its worker id and pid. */
async function refuseIfServed(socketPath: string): Promise<void> {
  let client: DaemonClient;
  try {
    client = await DaemonClient.connect(socketPath, 2_000);
  } catch (err) {
    if (err instanceof NoDaemonError) return;
    throw new SocketInUseError(`cannot tell whether ${socketPath} is in use: ${(err as Error).message}`);
  }
  let holder = 'another daemon';
  try {
    const { workerId } = await client.requestWithin('scheduler/status', {}, 2_000);
    const pid = parseWorkerId(workerId)?.pid;
    holder = `the daemon with worker id ${workerId}${pid ? ` (pid ${pid})` : ''}`;
  } catch {
    // It accepts connections but does not answer: still live enough not to be replaced.
  } finally {
    client.close();
  }
  throw new SocketInUseError(`${socketPath} is served by ${holder}; stop it first (crawlctl stop), or give this daemon another --socket`);
}

/**
 * A lock file held for the moment of claiming the socket. A lock left by a dead process (its pid
 * gone) is taken over; a live holder is waited for, a few seconds at most.
 */
async function lockFor(file: string): Promise<() => void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => {
        try {
          fs.unlinkSync(file);
        } catch {
          // Already gone.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let text: string;
    let age: number;
    try {
      text = fs.readFileSync(file, 'utf8');
      age = Date.now() - fs.statSync(file).mtimeMs;
    } catch {
      continue; // Released between our attempts: try again at once.
    }
    const holder = Number(text);
    // An empty lock is one being written this instant, unless it has been empty for a while.
    const writing = text === '' && age < 2_000;
    if (!writing && (!Number.isInteger(holder) || holder <= 0 || !processAlive(holder))) {
      try {
        fs.unlinkSync(file);
      } catch {
        // Another starter took it over first.
      }
      continue;
    }
    if (Date.now() > deadline) throw new SocketInUseError(`another daemon (pid ${text || 'unknown'}) is claiming this socket right now (${file})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

