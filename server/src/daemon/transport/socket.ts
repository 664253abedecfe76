/**
 * The daemon's Unix socket: JSON-RPC 2.0 (json-rpc-2.0), one message per line. A Unix socket
 * only, never TCP; the file is 0600 in a 0700 folder. Every line gets a valid answer or, for a
 * client that will not read its answers, a closed connection; nothing a client sends can stop
 * the daemon.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { JSONRPCServer, createJSONRPCErrorResponse, type JSONRPCID, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import type { Logger } from '../../core/scheduler';
import { parseWorkerId, processAlive } from '../../core/worker-id';
import { ErrorCodes, MAX_LINE_BYTES } from '../../protocol';
import { DaemonClient, NoDaemonError } from './client';
import type { CallContext } from '../methods';
import { asRpcError } from './rpc';
import { BIND_FOLDER_PREFIX, boundIn, statOrNull } from '../process/paths';
import { Seat, Turns, type TurnRelease } from './turns';

export type Handle = (method: string, params: unknown, call: CallContext) => Promise<unknown>;

/**
 * An answer already written as JSON (the daemon's thread writes its answers so: socket-thread.ts),
 * put into the response as it is rather than parsed and written again.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A response as the line's JSON, a JsonText result spliced in. */
function responseJson(r: JSONRPCResponse): string {
  if (!('result' in r) || !(r.result instanceof JsonText)) return JSON.stringify(r);
  return `{"jsonrpc":"2.0","id":${JSON.stringify(r.id)},"result":${r.result.text}}`;
}

/** A live daemon already serves the socket. */
export class SocketInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketInUseError';
  }
}

/** Requests of one connection running at once; past it, reading pauses until some finish. */
const MAX_IN_FLIGHT = 64;
/** Requests in one batch. */
const MAX_BATCH = 1_000;
/** A batch's answers, in bytes; the members past it are refused rather than answered. */
const MAX_BATCH_ANSWER_BYTES = 16 * 1024 * 1024;
/** At most one log line per this long about clients refused at the connection limit. */
const REFUSAL_LOG_MS = 10_000;
/** How much of a line that cannot be parsed (too long, not JSON) is read for its id. */
const ID_PREFIX_BYTES = 1024;
/** A request's start up to its id: `{"jsonrpc":"2.0","id":7,` or `{"id":"a",`. */
const LEADING_ID = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|null)\s*[,}]/;

/**
 * What the socket's clients may make the daemon hold. Bytes are counted as string length, which
 * is the byte count for JSON's ASCII. Each cap alone was not enough: 20 clients that sent
 * `jobs/list` and never read took the daemon to 757 MB RSS, 120 to 970 MB (measured), each under
 * its own 32 MB.
 */
export interface SocketLimits {
  /** Answers one client has not read yet; past it, that client is cut off. */
  maxUnreadBytes: number;
  /**
   * Unread answers and partial request lines of all clients together; past it, a client that
   * holds at least the average stops being read (it can ask for nothing more) until it has read
   * what it holds. 128 MB lets four clients reach their own cap before anyone is paused.
   */
  pauseAtBytes: number;
  /**
   * The same total never passes this: the clients holding the most are dropped first. 256 MB on
   * top of a daemon's few tens of MB live heap stays well inside a small machine's memory, and
   * is sixteen of the largest batch answers (MAX_BATCH_ANSWER_BYTES), or fourteen of the longest
   * request lines (MAX_LINE_BYTES, 18 MiB), partial or waiting for their turn.
   */
  dropAtBytes: number;
  /** Connections at once; more are answered with an error and closed, so a runaway client cannot exhaust descriptors. */
  maxConnections: number;
}

export const SOCKET_LIMITS: SocketLimits = {
  maxUnreadBytes: 32 * 1024 * 1024,
  pauseAtBytes: 128 * 1024 * 1024,
  dropAtBytes: 256 * 1024 * 1024,
  maxConnections: 1_024,
};

/** How a SocketServer serves, beside its limits. */
export interface Serving {
  /** Until when a request's turn lasts (turns.ts): `io` when methods run on this thread. */
  turns?: TurnRelease;
  /** Told when the first connection subscribes to notifications and when the last one that had goes. */
  onSubscribers?: (any: boolean) => void;
}

export class SocketServer {
  private readonly rpc = new JSONRPCServer<CallContext>({ errorListener: () => {} });
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly turns: Turns;
  private readonly holdings: Holdings;
  private anySubscribed = false;
  private readonly limits: SocketLimits;
  private inode: number | null = null;
  private nextClient = 1;
  /** Clients refused at the connection limit and not logged yet, and when the last line was. */
  private refusedUnlogged = 0;
  private refusalLogTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    methods: readonly string[],
    handle: Handle,
    private readonly log: Logger,
    limits: Partial<SocketLimits> = {},
    private readonly serving: Serving = {},
  ) {
    this.limits = { ...SOCKET_LIMITS, ...limits };
    this.turns = new Turns(undefined, serving.turns);
    this.holdings = new Holdings(this.connections, this.limits, log);
    for (const name of methods) {
      this.rpc.addMethod(name, (params, call) =>
        handle(name, params, {
          ...call,
          subscribe: () => {
            call.subscribe();
            this.subscribersChanged();
          },
        }),
      );
    }
    this.rpc.mapErrorToJSONRPCErrorResponse = (id: JSONRPCID, err: unknown) => {
      const e = asRpcError(err);
      return createJSONRPCErrorResponse(id, e.code, e.message, e.data);
    };
    // Half-open: a client that writes its requests and then ends its side (`nc -N`, `socket.end()`)
    // still gets every answer; the connection ends once they are all written.
    // Not net.Server's maxConnections: it closes a connection past the limit without a word.
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => {
      if (this.connections.size >= this.limits.maxConnections) return this.refuse(socket);
      const c = new Connection(socket, this.nextClient++, this.rpc, this.turns, this.holdings, this.limits.maxUnreadBytes, this.log);
      this.connections.add(c);
      socket.once('close', () => {
        this.connections.delete(c);
        this.holdings.forget(c);
        this.turns.close(c.seat);
        if (c.subscribed) this.subscribersChanged();
      });
    });
    this.server.on('error', (err) => this.log('error', `socket server: ${err.message}`));
  }

  /** All clients' unread answers and partial request lines now, and the most they ever held at once. */
  get held(): { bytes: number; peakBytes: number } {
    return { bytes: this.holdings.total, peakBytes: this.holdings.peak };
  }

  /** A client past the connection limit is told why, then closed; the log says so, a line per REFUSAL_LOG_MS at most. */
  private refuse(socket: net.Socket): void {
    socket.on('error', () => {});
    // What it sent is read and dropped, so closing does not reset the connection before it reads the answer.
    socket.resume();
    const max = this.limits.maxConnections;
    const answer = createJSONRPCErrorResponse(
      null,
      ErrorCodes.Unavailable,
      `too many connections: the daemon serves at most ${max} at once; close some of its clients and try again`,
    );
    socket.end(`${JSON.stringify(answer)}\n`, () => socket.destroy());
    this.refusedUnlogged++;
    if (this.refusalLogTimer) return;
    const logRefusals = () => {
      if (this.refusedUnlogged === 0) {
        this.refusalLogTimer = null;
        return;
      }
      const n = this.refusedUnlogged;
      this.refusedUnlogged = 0;
      this.log('warn', `refused ${n === 1 ? 'a client' : `${n} clients`}: ${max} connections were open, the most allowed`);
      this.refusalLogTimer = setTimeout(logRefusals, REFUSAL_LOG_MS).unref();
    };
    logRefusals();
  }

  /**
   * Takes the socket path: refuses when a live daemon answers there, replaces a stale file left by
   * a dead one, never replaces anything that is not a socket. A lock file beside it keeps two
   * daemons starting at the same moment from both deciding the socket is stale.
   */
  async listen(): Promise<void> {
    const release = await lockFor(`${this.path}.lock`, this.log);
    try {
      await refuseIfServed(this.path);
      const old = statOrNull(this.path);
      if (old) {
        if (!old.isSocket()) throw new SocketInUseError(`${this.path} exists and is not a socket; refusing to replace it`);
        fs.unlinkSync(this.path);
        this.log('info', `replaced the stale socket ${this.path}`);
      }
      // Bound inside a folder of its own (0700, mkdtemp), made 0600, then linked into place: no one
      // else can open it at any moment, with no process-wide umask (a worker thread cannot set one,
      // and narrowing it for the whole process would narrow every folder made meanwhile). A link
      // never replaces what may have appeared at the path since; and closing unlinks the name it
      // was bound at, gone already, never the path another daemon may hold by then. Paths that
      // leave no room for the folder are refused when they are resolved (paths.ts servesSocket).
      const folder = fs.mkdtempSync(path.join(path.dirname(this.path), BIND_FOLDER_PREFIX));
      const at = boundIn(folder);
      try {
        await new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(at, () => {
            this.server.off('error', reject);
            resolve();
          });
        });
        fs.chmodSync(at, 0o600);
        try {
          fs.linkSync(at, this.path);
        } catch (err) {
          this.server.close();
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new SocketInUseError(`${this.path} appeared while this daemon was taking it`);
          }
          throw err;
        }
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
      }
      this.inode = fs.statSync(this.path).ino;
    } finally {
      release();
    }
  }

  /** Whether any connection subscribed to notifications. */
  subscribed(): boolean {
    for (const c of this.connections) if (c.subscribed) return true;
    return false;
  }

  private subscribersChanged(): void {
    const any = this.subscribed();
    if (any === this.anySubscribed) return;
    this.anySubscribed = any;
    this.serving.onSubscribers?.(any);
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

/**
 * What all connections hold: unread answers (the socket's write buffer) and partial request
 * lines. Every byte enters through Connection.write or Connection.receive, which ask first.
 */
class Holdings {
  total = 0;
  peak = 0;

  constructor(
    private readonly connections: ReadonlySet<Connection>,
    private readonly limits: SocketLimits,
    private readonly log: Logger,
  ) {}

  /**
   * Room for `bytes` more held by `c`: the clients holding the most are dropped until the total
   * fits under dropAtBytes. False if `c` itself was dropped.
   */
  admit(c: Connection, bytes: number): boolean {
    while (this.total + bytes > this.limits.dropAtBytes) {
      let largest: Connection | null = null;
      for (const o of this.connections) if (o.held > 0 && (!largest || o.held > largest.held)) largest = o;
      // Nothing else holds anything: the one line alone is over the cap.
      const victim = largest ?? c;
      this.log(
        'warn',
        `dropped ${victim.name()}: it held ${mb(victim.held)} MB of unread answers and partial requests, the most of any client, and all clients together would have passed ${mb(this.limits.dropAtBytes)} MB`,
      );
      victim.drop();
      if (victim === c) return false;
    }
    return true;
  }

  /** `c` now holds `held` bytes. True when the total is past pauseAtBytes and `c` holds at least the average. */
  update(c: Connection, held: number): boolean {
    this.total += held - c.held;
    c.held = held;
    if (this.total > this.peak) this.peak = this.total;
    return this.total > this.limits.pauseAtBytes && held > 0 && held * this.connections.size >= this.total;
  }

  forget(c: Connection): void {
    this.total -= c.held;
    c.held = 0;
  }
}

class Connection {
  subscribed = false;
  /** This connection's place in the round robin of requests (turns.ts). */
  readonly seat = new Seat();
  /** Bytes counted for it in Holdings. */
  held = 0;
  dropped = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /**
   * Bytes of the lines whose requests are waiting for their turn or running, counted as held:
   * parsed, a request of 18 MiB takes more than that until it is answered.
   */
  private queuedBytes = 0;
  /** Past a line over the limit: everything up to the next newline is dropped. */
  private discarding = false;
  private inFlight = 0;
  /** Not read from, its requests not run, until it has read its answers: all clients together hold too much. */
  private memoryPaused = false;
  /** The client has ended its side: no more requests will come. */
  private ended = false;
  private requests = 0;
  private lastMethod = '';
  private readonly since = Date.now();
  private readonly call: CallContext = {
    subscribe: () => {
      this.subscribed = true;
    },
  };
  /** Called as each answer leaves for the kernel: the socket's write buffer is smaller by it. */
  private readonly written = () => this.account();

  constructor(
    private readonly socket: net.Socket,
    private readonly id: number,
    private readonly rpc: JSONRPCServer<CallContext>,
    private readonly turns: Turns,
    private readonly holdings: Holdings,
    private readonly maxUnreadBytes: number,
    private readonly log: Logger,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      this.ended = true;
      // A last request without its newline is still a request.
      if (this.pendingBytes > 0 && !this.discarding) this.handleLine(this.takeLine());
      this.endIfDone();
    });
    socket.on('error', () => {
      // A client that went away mid-answer: nothing to do but forget it.
    });
  }

  write(line: string): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (this.socket.writableLength > this.maxUnreadBytes) {
      this.log('warn', `dropped ${this.name()}: it stopped reading its answers and left ${mb(this.socket.writableLength)} MB unread`);
      this.drop();
      return;
    }
    if (!this.holdings.admit(this, line.length)) return;
    this.socket.write(line, this.written);
    this.account();
  }

  /** For the log: which client, and what it was doing. */
  name(): string {
    const last = this.lastMethod ? `, the last ${this.lastMethod}` : '';
    return `client #${this.id} (connected ${Math.round((Date.now() - this.since) / 1000)} s, ${this.requests} requests${last})`;
  }

  /** Closed at once: what it held is let go now, not when the socket has finished closing. */
  drop(): void {
    this.dropped = true;
    this.socket.destroy();
    this.holdings.forget(this);
  }

  /**
   * Reading pauses while too many requests run, while their lines come to a longest line, or while
   * all clients hold too much and this one a large part: one client's waiting requests stay under
   * twice MAX_LINE_BYTES.
   */
  private updateReading(): void {
    if (this.socket.destroyed) return;
    const pause = this.memoryPaused || this.inFlight >= MAX_IN_FLIGHT || this.queuedBytes >= MAX_LINE_BYTES;
    if (pause && !this.socket.isPaused()) this.socket.pause();
    else if (!pause && this.socket.isPaused()) this.socket.resume();
  }

  /**
   * Tells Holdings what this connection holds now. Paused for memory (not read, its requests out
   * of turns), it stays paused until it has read every answer: only unread answers pause it,
   * since a paused client's partial line cannot shrink.
   */
  private account(): void {
    if (this.dropped) return;
    const unread = this.socket.destroyed ? 0 : this.socket.writableLength;
    const crowded = this.holdings.update(this, unread + this.pendingBytes + this.queuedBytes);
    const paused = unread > 0 && (this.memoryPaused || crowded);
    if (paused === this.memoryPaused) return;
    this.memoryPaused = paused;
    this.turns.bench(this.seat, paused);
    this.updateReading();
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
        this.tooLong(piece);
        continue;
      }
      this.handleLine(this.takeLine(piece));
      if (this.dropped) return;
    }
    const rest = chunk.subarray(start);
    if (this.discarding || rest.length === 0) return;
    if (this.pendingBytes + rest.length > MAX_LINE_BYTES) {
      this.tooLong(rest);
      this.discarding = true;
      return;
    }
    if (!this.holdings.admit(this, rest.length)) return;
    // Copied: the chunk's memory is Node's to reuse.
    this.pending.push(Buffer.from(rest));
    this.pendingBytes += rest.length;
    this.account();
  }

  /** The line gathered so far, ended by `last`; the buffer starts afresh. */
  private takeLine(last?: Buffer): Buffer {
    const line = this.pendingBytes === 0 ? (last ?? Buffer.alloc(0)) : Buffer.concat(last ? [...this.pending, last] : this.pending);
    this.pending = [];
    const had = this.pendingBytes;
    this.pendingBytes = 0;
    if (had > 0) this.account();
    return line;
  }

  /**
   * The line gathered so far is dropped, and the client told why, with the request's id when the
   * line starts with it: a client waiting for that id would otherwise wait forever.
   */
  private tooLong(more: Buffer): void {
    const parts: Buffer[] = [];
    let bytes = 0;
    for (const b of [...this.pending, more]) {
      if (bytes >= ID_PREFIX_BYTES) break;
      const part = b.subarray(0, ID_PREFIX_BYTES - bytes);
      parts.push(part);
      bytes += part.length;
    }
    const id = leadingId(Buffer.concat(parts).toString('utf8'));
    this.takeLine();
    this.respond(createJSONRPCErrorResponse(id, ErrorCodes.InvalidRequest, `request line longer than ${MAX_LINE_BYTES} bytes; it was dropped`));
  }

  private respond(response: JSONRPCResponse | string | null): void {
    if (response === null) return;
    this.write(`${typeof response === 'string' ? response : responseJson(response)}\n`);
  }

  private handleLine(line: Buffer): void {
    const text = line.toString('utf8');
    if (text.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.respond(
        createJSONRPCErrorResponse(leadingId(text.slice(0, ID_PREFIX_BYTES)), ErrorCodes.ParseError, 'parse error: the line is not valid JSON'),
      );
    }
    if (Array.isArray(message)) {
      if (message.length === 0) return this.respond(invalid(null, 'an empty batch'));
      if (message.length > MAX_BATCH) return this.respond(invalid(null, `a batch of more than ${MAX_BATCH} requests`));
      this.track(this.batch(message), line.length);
      return;
    }
    this.track(this.inTurn(message), line.length);
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
      const text = responseJson(r);
      bytes += text.length;
      parts.push(text);
    }
    return parts.length ? `[${parts.join(',')}]` : null;
  }

  /**
   * Runs one request of `bytes` on the line; reading pauses while too many are running, so a flood
   * cannot pile up. Its bytes count as held until it is answered.
   */
  private track(p: Promise<JSONRPCResponse | string | null>, bytes: number): void {
    this.inFlight++;
    this.queuedBytes += bytes;
    this.account();
    this.updateReading();
    p.then(
      (r) => this.respond(r),
      (err) => this.log('error', `socket request failed: ${(err as Error).message}`),
    ).finally(() => {
      this.inFlight--;
      this.queuedBytes -= bytes;
      this.account();
      this.updateReading();
      this.endIfDone();
    });
  }

  /** One request, run in this connection's next turn: a flood from one client cannot hold up the rest. */
  private inTurn(m: unknown): Promise<JSONRPCResponse | null> {
    return this.turns.take(this.seat, (awaitsIo) => this.dispatch(m, awaitsIo));
  }

  /** Ends our side once the client has ended its own and every request it sent is answered. */
  private endIfDone(): void {
    if (this.ended && this.inFlight === 0 && !this.socket.destroyed) this.socket.end();
  }

  /** The envelope checked here, strictly; json-rpc-2.0 then runs the method. */
  private async dispatch(m: unknown, awaitsIo: () => void): Promise<JSONRPCResponse | null> {
    if (typeof m !== 'object' || m === null) return invalid(null, 'a request must be an object');
    const r = m as Record<string, unknown>;
    const id = r.id;
    const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    const answerId = validId && id !== undefined ? id : null;
    if (!validId) return invalid(null, 'id must be a string, a number or null');
    if (r.jsonrpc !== '2.0') return invalid(answerId, 'jsonrpc must be "2.0"');
    if (typeof r.method !== 'string') return invalid(answerId, 'method must be a string');
    if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) {
      return invalid(answerId, 'params must be an object (or omitted)');
    }
    if ('result' in r || 'error' in r) return invalid(answerId, 'a request has no result or error');
    this.requests++;
    this.lastMethod = r.method.slice(0, 100);
    if (!this.rpc.hasMethod(r.method)) {
      if (id === undefined) return null;
      return createJSONRPCErrorResponse(answerId, ErrorCodes.MethodNotFound, `unknown method "${r.method.slice(0, 100)}"`);
    }
    return this.rpc.receive(r as unknown as JSONRPCRequest, { ...this.call, awaitsIo });
  }
}

/** The answer to a batch member past the batch's answer budget: none for a notification. */
function refuseInBatch(m: unknown): JSONRPCResponse | null {
  const id = (m as { id?: unknown } | null)?.id;
  if (id === undefined && typeof m === 'object' && m !== null) return null;
  const answerId = typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  return createJSONRPCErrorResponse(
    answerId,
    ErrorCodes.Unavailable,
    `the batch's answers passed ${MAX_BATCH_ANSWER_BYTES} bytes; send fewer requests in one batch`,
  );
}

/** The id a line starts with, read from its first ID_PREFIX_BYTES alone; null when it does not start with one. */
function leadingId(start: string): JSONRPCID {
  const m = LEADING_ID.exec(start);
  if (!m) return null;
  try {
    const id: unknown = JSON.parse(m[1]);
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
  } catch {
    return null; // A string id with a bad escape.
  }
}

/** Bytes as MiB to one decimal, for the log. */
function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
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

/** How long a daemon waits for another that is claiming the same socket. */
const LOCK_WAIT_MS = 5_000;
/** Between two looks at a lock held by a live process. */
const LOCK_RETRY_MS = 50;
/** An empty (or unreadable) lock younger than this is one being written this instant. */
const LOCK_WRITING_MS = 2_000;
/** Lock files this process holds: a lock naming our own pid is otherwise a dead process's (pids are reused, in containers above all). */
const heldLocks = new Set<string>();

/**
 * A lock file held for the moment of claiming the socket. A lock left by a dead process (its pid
 * gone) is taken over; a live holder is waited for, LOCK_WAIT_MS at most. Every retry waits on a
 * timer: a lock that could not be removed once made this loop spin synchronously, at full CPU
 * and deaf to SIGTERM, forever.
 */
async function lockFor(file: string, log: Logger): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    const claim = claimLock(file);
    if (typeof claim === 'function') return claim;
    if (claim.stuck || Date.now() >= deadline) throw new SocketInUseError(claim.why);
    if (claim.live && !told) {
      told = true;
      log('info', `${claim.live}; waiting up to ${LOCK_WAIT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, claim.live ? LOCK_RETRY_MS : 0));
  }
}

/**
 * One attempt at the lock: its release, or why not. `live`: who holds it, worth waiting for;
 * `stuck`: it will not go by itself; neither: it changed under us, try again.
 */
function claimLock(file: string): (() => void) | { why: string; live?: string; stuck?: boolean } {
  const socket = file.replace(/\.lock$/, '');
  const changing = {
    why: `the lock file ${file} kept changing: other processes are claiming ${socket} at the same time; try again, or give this daemon another --socket`,
  };
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    heldLocks.add(file);
    return () => {
      heldLocks.delete(file);
      try {
        fs.unlinkSync(file);
      } catch {
        // Already gone.
      }
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      return {
        stuck: true,
        why: `cannot create the lock file ${file} (${code ?? (err as Error).message}); give this daemon a --socket in a folder its user (${describeUser(process.getuid?.())}) can write`,
      };
    }
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return changing;
  }
  let text: string | null;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return changing;
    text = null; // Another user's, unreadable to us.
  }
  const owner = describeUser(st.uid);
  const pid = text !== null && /^[1-9]\d{0,9}$/.test(text) ? Number(text) : null;
  const mine = pid === process.pid && heldLocks.has(file);
  if (pid !== null && (mine || (pid !== process.pid && processAlive(pid)))) {
    const live = `${file} is held by pid ${pid} (${owner}), which is running`;
    return {
      live,
      why:
        `${live}: another daemon is claiming ${socket} right now; let it start and use it, or give this daemon another --socket. ` +
        `If pid ${pid} is not a crawl daemon, remove ${file}`,
    };
  }
  if ((text === '' || text === null) && Date.now() - st.mtimeMs < LOCK_WRITING_MS) {
    const live = `${file} (${owner}) is being written`;
    return { live, why: `${live} by another daemon claiming ${socket}; let it start and use it, or give this daemon another --socket` };
  }
  try {
    fs.unlinkSync(file);
    return changing;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return changing;
    const left =
      pid !== null ? `was left by pid ${pid}, which is gone` : text === null ? 'cannot be read' : `holds no pid (${JSON.stringify(text.slice(0, 40))})`;
    const dir = path.dirname(file);
    const sticky = ((statOrNull(dir)?.mode ?? 0) & 0o1000) !== 0;
    const folder = sticky ? `${dir} has the sticky bit, so only the file's owner may remove it` : `this user cannot write ${dir}`;
    return {
      stuck: true,
      why:
        `the lock file ${file} ${left}, but this daemon (${describeUser(process.getuid?.())}) cannot remove it (${code}): it belongs to ${owner}, and ${folder}. ` +
        'Have its owner (or root) remove it, or give this daemon a --socket in a folder of its own',
    };
  }
}

/** "user alice (uid 1000)" when /etc/passwd names the uid, else "uid 1000". */
function describeUser(uid: number | undefined): string {
  if (uid === undefined) return 'this user';
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (id === String(uid) && name) return `user ${name} (uid ${uid})`;
    }
  } catch {
    // No passwd file (some containers): the uid alone.
  }
  return `uid ${uid}`;
}
