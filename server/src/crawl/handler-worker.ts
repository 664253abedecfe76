/**
 * A page handler's thread (handlers.ts starts it): the workspace's module is imported here, never
 * on the daemon's thread, and called with one page at a time. What it throws comes back as its
 * message and the top of its stack; what it returns comes back checked (handler-page.ts).
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';
import { describe, handlerOutput, handlerPage, ResultError, type HandlerOutput, type PageInput } from './handler-page';

export type ToHandler =
  | { type: 'load'; id: number; file: string }
  | { type: 'run'; id: number; file: string; page: PageInput };

export type FromHandler = { id: number; output: HandlerOutput | null; error: null } | { id: number; output: null; error: string };

type Handler = (page: ReturnType<typeof handlerPage>) => unknown;

const modules = new Map<string, Promise<Handler>>();

/** The module's default export (a CommonJS module's exports, or their `default`), which must be a function. */
function load(file: string): Promise<Handler> {
  let loaded = modules.get(file);
  if (loaded === undefined) {
    loaded = (import(pathToFileURL(file).href) as Promise<{ default?: unknown }>).catch((err: unknown) => {
      throw err instanceof SyntaxError ? placed(err, file) : err;
    }).then((mod) => {
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

// A promise a handler forgot is said on its log, not the end of its thread (and of whichever page ran then).
process.on('unhandledRejection', (reason) => console.error(`a promise failed and nothing waited for it: ${reason instanceof Error ? reason.stack : String(reason)}`));

/** Calls run one after another, as the pool times them (handlers.ts): the first begins when the one before ends. */
let turn: Promise<unknown> = Promise.resolve();

port.on('message', (m: ToHandler) => {
  turn = turn.then(async (): Promise<FromHandler> => {
    try {
      const handler = await load(m.file);
      if (m.type === 'load') return { id: m.id, output: null, error: null };
      return { id: m.id, output: handlerOutput(await handler(handlerPage(m.page))), error: null };
    } catch (err) {
      return { id: m.id, output: null, error: describe(err, m.file) };
    }
  }).then((reply) => port.postMessage(reply));
});
