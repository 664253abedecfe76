/**
 * The socket's thread (socket-thread.ts starts it): a SocketServer whose requests are sent to the
 * daemon's thread as messages and answered from there, but for `queue/stats`, read here on a
 * connection of its own. A request is sent on once its turn comes, a few at a time, so one
 * client's flood still waits behind the others' requests as it did on one thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isPostgresUrl } from '../../core/db-url';
import type { LogLevel } from '../../core/scheduler';
import { SqliteStatsReader } from '../../core/sqlite/stats-reader';
import type { StatsReader } from '../../core/types';
import { RateMeter, sampleSteadily, statsAnswer } from '../notify/rate';
import type { CallContext } from '../methods';
import { RpcError, invalidParams } from './rpc';
import { JsonText, SocketInUseError, SocketServer } from './socket';
import type { FromSocket, SocketWorkerData, ToSocket } from './socket-thread';

/**
 * Requests at the daemon's thread at once, each until it is answered or awaits I/O (turns.ts
 * `told`): it runs one at a time, and a few keep it busy without letting one client's requests
 * queue there ahead of another's.
 */
const AT_ONCE = 4;

const port = parentPort!;
const { path, methods, db } = workerData as SocketWorkerData;
const post = (m: FromSocket) => port.postMessage(m);
const log = (level: LogLevel, message: string) => post({ t: 'log', level, message });

// pg is loaded only for PostgreSQL: a thread loads its modules anew, and the daemon's start waits for it to listen.
const reader: StatsReader = isPostgresUrl(db)
  ? new (require('../../core/pg/stats-reader') as typeof import('../../core/pg/stats-reader')).PgStatsReader(db)
  : new SqliteStatsReader(db);
const rate = new RateMeter();
const sampler = sampleSteadily(() => reader.stats(), rate);
/** Stopping: every request goes to the daemon's thread, which says so. */
let stopping = false;

/** Requests sent to the daemon's thread, by id, with the connection each came on. */
const waiting = new Map<number, { call: CallContext; resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
let nextId = 1;

/**
 * Params cross as JSON text: a structured clone of params nested thousands deep is made here and then
 * refused by the daemon's thread (a `messageerror`, the call lost and its turn held for good), where
 * text always arrives. Nested too deep even to be written again, they are refused here.
 */
function forward(method: string, params: unknown, call: CallContext): Promise<unknown> {
  let text: string | undefined;
  try {
    text = params === undefined ? undefined : JSON.stringify(params);
  } catch {
    return Promise.reject(invalidParams('params: nested too deeply'));
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { call, resolve, reject });
    post({ t: 'call', id, method, params: text });
  });
}

/**
 * `queue/stats` takes no params: none, or `{}`. Checked here by hand: the schemas (params.ts, zod)
 * took 166 ms to load, which the daemon's start would wait for; anything else goes to the daemon's
 * thread, which words the refusal.
 */
function noParams(params: unknown): boolean {
  return params === undefined || (typeof params === 'object' && params !== null && !Array.isArray(params) && Object.keys(params).length === 0);
}

async function handle(method: string, params: unknown, call: CallContext): Promise<unknown> {
  if (method === 'queue/stats' && !stopping && noParams(params)) {
    // Its own I/O (PostgreSQL's) gives the turn back as the daemon's thread's does.
    setImmediate(() => call.awaitsIo?.());
    try {
      return statsAnswer(await reader.stats(), rate);
    } catch {
      // Unreadable here (the database locked past the timeout, a lost connection): asked where the queue is.
    }
  }
  return forward(method, params, call);
}

const server = new SocketServer(
  path,
  methods,
  handle,
  log,
  {},
  { turns: { until: 'told', concurrent: AT_ONCE }, onSubscribers: (any) => post({ t: 'subscribers', any }) },
);

port.on('messageerror', (err) => log('error', `a message from the daemon's thread could not be read: ${err.message}`));
port.on('message', (m: ToSocket) => {
  switch (m.t) {
    case 'answer': {
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if ('error' in m) w.reject(new RpcError(m.error.code, m.error.message, m.error.data));
      else w.resolve(new JsonText(m.json));
      return;
    }
    case 'yielded':
      waiting.get(m.id)?.call.awaitsIo?.();
      return;
    case 'subscribe':
      waiting.get(m.id)?.call.subscribe();
      // Said even when nothing changed here: the daemon's thread counted the subscriber as it was
      // made, and must hear that there is none if its connection has gone meanwhile.
      post({ t: 'subscribers', any: server.subscribed() });
      return;
    case 'notify':
      server.notify(m.method, m.params);
      return;
    case 'stopAccepting':
      stopping = true;
      server.stopAccepting();
      return;
    case 'close':
      void close();
      return;
    default:
      return;
  }
});

async function close(): Promise<void> {
  clearInterval(sampler);
  await server.closeConnections();
  await reader.close().catch(() => {});
  post({ t: 'closed' });
}

server.listen().then(
  () => {
    // Told to stop while it was taking the socket: it lets go of it at once.
    if (stopping) server.stopAccepting();
    post({ t: 'listening' });
  },
  (err: Error) => post({ t: 'listenFailed', inUse: err instanceof SocketInUseError, message: err.message }),
);
