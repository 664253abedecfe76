/**
 * A page handler's thread (handlers.ts starts it): the workspace's module is imported here, never
 * on the daemon's thread, and called with one page at a time. What it throws comes back as its
 * message and the top of its stack; what it returns comes back checked (handler-page.ts).
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { BUFFERS_EXIT_CODE, describe, handlerOutput, handlerPage, ResultError, type FromHandler, type HandlerData, type ToHandler } from './handler-page';

type Handler = (page: ReturnType<typeof handlerPage>) => unknown;

const modules = new Map<string, Promise<Handler>>();

/** The module's default export (a CommonJS module's exports, or their `default`), which must be a function. */
function load(file: string): Promise<Handler> {
  let loaded = modules.get(file);
  if (loaded === undefined) {
    loaded = (import(pathToFileURL(file).href) as Promise<{ default?: unknown }>)
      .catch((err: unknown) => {
        throw err instanceof SyntaxError ? placed(err, file) : err;
      })
      .then((mod) => {
        const fn = typeof mod.default === 'function' ? mod.default : (mod.default as { default?: unknown } | undefined)?.default;
        if (typeof fn !== 'function') throw new ResultError('has no default export function: `export default async (page) => ({ data, enqueue })`');
        return fn as Handler;
      });
    modules.set(file, loaded);
  }
  return loaded;
}

/**
 * A module that does not parse, with its line: Node 20 keeps where an import's SyntaxError is out
 * of its stack, and `node --check` (parsing, running nothing) prints it first. Only when the
 * handler's own file is at fault: a module it imports is not checked.
 */
function placed(err: SyntaxError, file: string): SyntaxError {
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  const first = check.stderr?.split('\n', 1)[0] ?? '';
  if (first.startsWith(`${file}:`) && /:\d+$/.test(first)) err.stack = `${first}\n${err.stack}`;
  return err;
}

const port = parentPort!;
const { buffersMb } = workerData as HandlerData;

/**
 * What a handler prints reaches the daemon's log through a pipe: at most OUTPUT_BYTES a window,
 * the rest dropped here and counted, so that a handler printing in a loop costs the daemon's
 * thread nothing.
 */
const OUTPUT_BYTES = 64 * 1024;
const OUTPUT_WINDOW_MS = 10_000;
let written = 0;
let dropped = 0;
let windowAt = 0;
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = (chunk: unknown, ...rest: unknown[]) => {
    // Anything else is the stream's to refuse, as it would.
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return write(chunk, ...rest);
    const now = Date.now();
    if (now - windowAt >= OUTPUT_WINDOW_MS) {
      if (dropped > 0) write(`(${dropped} bytes of output left out)\n`);
      windowAt = now;
      written = 0;
      dropped = 0;
    }
    const encoding = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : undefined;
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : chunk.byteLength;
    if (written + size <= OUTPUT_BYTES) {
      written += size;
      return write(chunk, ...rest);
    }
    dropped += size;
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  };
}

/**
 * Buffers live outside the heap that resourceLimits bounds: a handler keeping them from page to
 * page is stopped when they pass the heap's size (checked between calls and every 100 ms; one that
 * allocates in a loop that never yields is stopped by its time limit).
 */
function checkBuffers(): void {
  // V8's count of memory held outside its heap: 1 µs, where process.memoryUsage() takes 14.
  if (getHeapStatistics().external_memory > buffersMb * 1024 * 1024) process.exit(BUFFERS_EXIT_CODE);
}
setInterval(checkBuffers, 100).unref();

// What a handler forgot (a promise nothing waited for, a throw in a timer) is said on its log, and
// neither ends its thread nor fails whichever page runs then.
process.on('unhandledRejection', (reason) => console.error(`a promise failed and nothing waited for it: ${said(reason)}`));
process.on('uncaughtException', (err) => console.error(`an error nothing caught: ${said(err)}`));

function said(value: unknown): string {
  try {
    return value instanceof Error ? String(value.stack) : String(value);
  } catch {
    return 'a value that cannot be shown';
  }
}

/** A failure as one line: describe's, or a plain one when the thrown value defies even that (a getter that throws). */
function failure(err: unknown, file: string): string {
  try {
    return describe(err, file);
  } catch {
    return 'threw a value that cannot be shown';
  }
}

/** Calls run one after another, as the pool times them (handlers.ts): the first begins when the one before ends. */
let turn: Promise<unknown> = Promise.resolve();

port.on('message', (m: ToHandler) => {
  turn = turn
    .then(async () => {
      let reply: FromHandler;
      try {
        const handler = await load(m.file);
        reply =
          m.type === 'load' ? { id: m.id, output: null, error: null } : { id: m.id, output: handlerOutput(await handler(handlerPage(m.page))), error: null };
      } catch (err) {
        reply = { id: m.id, output: null, error: failure(err, m.file) };
      }
      checkBuffers();
      port.postMessage(reply);
    })
    .catch(() => undefined);
});
