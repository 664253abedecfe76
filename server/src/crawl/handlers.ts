/**
 * Page handlers: a workspace's JavaScript module called for each page a crawl fetches, on a pool of
 * worker threads (handler-worker.ts), one page per thread at a time, so that a handler that hangs
 * is stopped with its thread and blamed alone. Each call has a time limit, each thread a heap
 * limit; a handler that throws, hangs, runs out of memory or ends its thread fails its page with
 * what happened and never the daemon. When the module's file changes, threads that loaded the old
 * version are replaced, so the next page runs the new one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/scheduler';
import { BUFFERS_EXIT_CODE, type FromHandler, type HandlerData, type HandlerOutput, type PageInput, type ToHandler } from './handler-page';

/** How long a handler may take over a page, unless its crawl says otherwise. */
const HANDLER_TIMEOUT_MS = 10_000;

/** A crawl's time limit for its handler (crawl/start's handlerTimeout, in seconds), in ms. */
export function handlerTimeoutMs(seconds: number | undefined): number {
  return seconds === undefined ? HANDLER_TIMEOUT_MS : seconds * 1000;
}
/** The heap a handler's thread may use: a page is at most 10 MiB, its tree some ten times that. */
const HANDLER_HEAP_MB = 256;
/**
 * Threads at most: a handler's work is CPU work, and the daemon's own thread has a core. On two
 * vCPUs the benchmark's crawl with a handler ran 1,297 pages/s in 164 MB on one thread, 1,360 in
 * 189 MB on two (`node out/bench/run.js crawl`).
 */
const HANDLER_THREADS = Math.min(8, Math.max(1, os.availableParallelism() - 1));
/** How long a module's version is taken as read: a page fetched this long after a save runs the saved module. */
export const VERSION_MS = 100;
/** A thread with nothing to do this long ends (a crawl's next page starts another in about 30 ms). */
const IDLE_MS = 60_000;
/** Lines of a handler's console output that reach the log per window, at most: a line a page would flood it. */
const LOG_LINES = 50;
const LOG_WINDOW_MS = 10_000;
/** File names a handler may have: modules Node imports as they are. */
const EXTENSIONS = new Set(['.mjs', '.js', '.cjs']);

/** A page's handler failed it; the message says how. */
export class HandlerError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'HandlerError';
  }
}

/**
 * The handler a crawl names, checked: a module file inside the workspace, symbolic links
 * resolved (a link out of the workspace is outside it). Relative paths are from `base`. Returns
 * the file's real path; throws HandlerError saying what is wrong.
 */
export function handlerFile(given: string, base: string, workspace: string | null): string {
  if (workspace === null) throw new HandlerError(NO_WORKSPACE);
  if (given.includes('\0')) throw new HandlerError('handler: not a file path');
  const ext = path.extname(given).toLowerCase();
  if (!EXTENSIONS.has(ext)) throw new HandlerError(`handler: ${given} is not a JavaScript module (.mjs, .js or .cjs)`);
  let real: string;
  let root: string;
  try {
    // The system's own resolution, as readVersion's: it gives a name's case as on disk (Windows, macOS).
    real = fs.realpathSync.native(path.resolve(base, given));
    root = fs.realpathSync.native(workspace);
  } catch (err) {
    throw new HandlerError(`handler: ${given}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!isInside(root, real)) throw new HandlerError(`handler: ${given} is outside the workspace (${root}); only the workspace's own code runs`);
  if (!fs.statSync(real).isFile()) throw new HandlerError(`handler: ${given} is not a file`);
  return real;
}

const NO_WORKSPACE = 'handler: page handlers are off in this daemon (--handlers=false, or the editor has no workspace folder open)';

/** Whether a real path is inside a real folder (`..scrape.mjs` is a name like any other). */
function isInside(root: string, real: string): boolean {
  const inside = path.relative(root, real);
  return inside !== '' && inside !== '..' && !inside.startsWith(`..${path.sep}`) && !path.isAbsolute(inside);
}

interface Call {
  message: ToHandler;
  file: string;
  version: string;
  timeoutMs: number;
  resolve: (output: HandlerOutput | null) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  /** The version of each module it imported: a thread never imports a file twice. */
  versions: Map<string, string>;
  /** Calls sent, in order: it runs them one after another, the first now. */
  calls: Call[];
  /** The time limit of the call it runs now. */
  timer: NodeJS.Timeout | null;
  /** The module of its latest call, whose console output most likely is what it prints. */
  last: string | null;
  idle: NodeJS.Timeout | null;
}

export interface PoolLimits {
  threads: number;
  heapMb: number;
}

/**
 * Calls a thread is sent ahead of the one it runs, so that it goes from page to page without
 * waiting for the daemon's thread to hear of the last one: with one call a thread at a time, two
 * threads kept the benchmark's crawl at 0.58 times its pages/s without a handler, waiting, not
 * working (1.3 of 2 cores busy).
 */
const QUEUED_PER_THREAD = 4;
/** The young generation of a thread's heap: a page's tree dies young, and 16 MB (V8's own choice) grew two threads' RSS by 50 MB more. */
const YOUNG_MB = 4;

export class HandlerPool {
  private readonly threads = new Set<Thread>();
  private readonly waiting: Call[] = [];
  private readonly moduleVersions = new Map<string, { at: number; version: Promise<string> }>();
  private nextId = 1;
  private closed = false;
  private logged = 0;
  private unlogged = 0;
  private logWindow = 0;
  /** The workspace's real path, read once. */
  private root: Promise<string> | null = null;

  /** `workspace`: where the modules it runs must be, checked again as they are run (null: none runs). */
  constructor(
    private readonly log: Logger,
    private readonly workspace: string | null,
    private readonly limits: PoolLimits = { threads: HANDLER_THREADS, heapMb: HANDLER_HEAP_MB },
  ) {}

  /** Imports the module on a thread, to find that it loads and exports a function; throws HandlerError if not. */
  async check(file: string, timeoutMs: number): Promise<void> {
    await this.call(file, { type: 'load', id: 0, file }, timeoutMs);
  }

  /** The handler's output for a page; throws HandlerError when it fails the page. */
  async run(file: string, page: PageInput, timeoutMs: number): Promise<HandlerOutput> {
    return (await this.call(file, { type: 'run', id: 0, file, page }, timeoutMs))!;
  }

  /** Stops every thread; calls waiting or running fail, to be tried again. */
  async close(): Promise<void> {
    this.closed = true;
    const stopping = new HandlerError('the daemon is stopping', true);
    for (const call of this.waiting.splice(0)) call.reject(stopping);
    await Promise.all([...this.threads].map((t) => this.retire(t, stopping)));
  }

  private async call(file: string, message: ToHandler, timeoutMs: number): Promise<HandlerOutput | null> {
    if (this.closed) throw new HandlerError('the daemon is stopping', true);
    const version = await this.versionOf(file);
    if (this.closed) throw new HandlerError('the daemon is stopping', true);
    return new Promise((resolve, reject) => {
      this.waiting.push({ message: { ...message, id: this.nextId++ }, file, version, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /**
   * The module's version: its file's identity, size and times, read again once VERSION_MS have
   * passed, so that a page fetched after a save runs what was saved. Read for every page, the
   * stat cost the daemon's thread 12 µs a page, 5% of the crawl's pages/s. Each read checks
   * again that the file is still inside this daemon's workspace: the crawl may have been started
   * by another daemon (a shared database), or its file replaced by a link leading out.
   */
  private versionOf(file: string): Promise<string> {
    const now = Date.now();
    const known = this.moduleVersions.get(file);
    if (known !== undefined && now - known.at < VERSION_MS) return known.version;
    const version = this.readVersion(file).catch((err: unknown) => {
      // Not kept: the next page looks again.
      if (this.moduleVersions.get(file)?.version === version) this.moduleVersions.delete(file);
      throw err;
    });
    this.moduleVersions.set(file, { at: now, version });
    return version;
  }

  private async readVersion(file: string): Promise<string> {
    if (this.workspace === null) throw new HandlerError(NO_WORKSPACE);
    const name = path.basename(file);
    try {
      this.root ??= fs.promises.realpath(this.workspace);
      const [root, real, st] = await Promise.all([this.root, fs.promises.realpath(file), fs.promises.stat(file)]);
      if (real !== file || !isInside(root, real)) throw new HandlerError(`${file} is not inside this daemon's workspace (${root}) as the crawl's handler`);
      return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      if (err instanceof HandlerError) throw err;
      this.root = null;
      throw new HandlerError(`${name}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file is gone' : (err as Error).message}`);
    }
  }

  /**
   * Hands waiting calls to threads: the least busy that has the module's version or has not
   * imported it, else a new one; a thread with nothing to do that holds an older version is
   * replaced rather than made to import a second copy.
   */
  private pump(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const call = this.waiting[0];
      let thread: Thread | undefined;
      for (const t of this.threads) {
        const has = t.versions.get(call.file);
        if ((has === undefined || has === call.version) && t.calls.length < QUEUED_PER_THREAD && (thread === undefined || t.calls.length < thread.calls.length))
          thread = t;
      }
      if (thread === undefined || (thread.calls.length > 0 && this.threads.size < this.limits.threads)) {
        if (this.threads.size >= this.limits.threads) {
          const stale = [...this.threads].find((t) => t.calls.length === 0);
          if (stale === undefined) return;
          void this.retire(stale, null);
        }
        thread = this.start();
      }
      this.waiting.shift();
      this.send(thread, call);
    }
  }

  private send(thread: Thread, call: Call): void {
    if (thread.idle !== null) clearTimeout(thread.idle);
    thread.idle = null;
    thread.calls.push(call);
    thread.last = call.file;
    thread.versions.set(call.file, call.version);
    if (thread.calls.length === 1) this.time(thread);
    const m = call.message;
    if (m.type === 'run') {
      // A copy of its own, handed over rather than cloned: a small body is a slice of an 8 KB pool,
      // which a clone copies whole (the messages cost 23 µs a page that way, 15 µs this way).
      const body = new Uint8Array(m.page.body);
      thread.worker.postMessage({ ...m, page: { ...m.page, body } }, [body.buffer]);
    } else {
      thread.worker.postMessage(m);
    }
  }

  /** The time limit of the call the thread runs now: from when it began, as near as this thread can tell. */
  private time(thread: Thread): void {
    const call = thread.calls[0];
    thread.timer = setTimeout(() => {
      void this.retire(thread, new HandlerError(`took longer than ${call.timeoutMs / 1000} s over the page, and its thread was stopped`));
    }, call.timeoutMs);
  }

  private start(): Thread {
    const worker = new Worker(path.join(__dirname, 'handler-worker.js'), {
      resourceLimits: { maxOldGenerationSizeMb: this.limits.heapMb, maxYoungGenerationSizeMb: YOUNG_MB },
      // Buffers live outside the heap: the thread watches its own (handler-worker.ts).
      workerData: { buffersMb: this.limits.heapMb } satisfies HandlerData,
      // Its console goes to the log: the daemon's stdout may be the editor's channel.
      stdout: true,
      stderr: true,
    });
    const thread: Thread = { worker, versions: new Map(), calls: [], timer: null, last: null, idle: null };
    this.threads.add(thread);
    worker.on('message', (m: FromHandler) => {
      const call = thread.calls[0];
      if (call === undefined || call.message.id !== m.id) return;
      thread.calls.shift();
      if (thread.timer !== null) clearTimeout(thread.timer);
      thread.timer = null;
      if (thread.calls.length > 0) this.time(thread);
      else {
        thread.idle = setTimeout(() => void this.retire(thread, null), IDLE_MS);
        thread.idle.unref();
      }
      if (m.error === null) call.resolve(m.output);
      else call.reject(new HandlerError(m.error));
      this.pump();
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const message =
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `ran out of memory (a handler's thread may use ${this.limits.heapMb} MB), and its thread was stopped`
          : `its thread failed: ${err.message}`;
      void this.retire(thread, new HandlerError(message));
    });
    worker.on('exit', (code) => {
      const message =
        code === BUFFERS_EXIT_CODE
          ? `ran out of memory (its buffers passed ${this.limits.heapMb} MB), and its thread was stopped`
          : `its thread ended (exit code ${code}); a handler must not call process.exit()`;
      void this.retire(thread, new HandlerError(message));
    });
    for (const [stream, level] of [
      [worker.stdout, 'info'],
      [worker.stderr, 'warn'],
    ] as const) {
      eachLine(stream, (line) => this.console(thread, level, line));
    }
    worker.unref();
    return thread;
  }

  /**
   * Stops a thread. The call it ran fails with `why`; those queued behind it, which had not begun
   * (but for one begun as the call before ended, just when its time ran out),
   * go to another thread (all fail with `why` when the pool is closing).
   */
  private async retire(thread: Thread, why: HandlerError | null): Promise<void> {
    if (!this.threads.delete(thread)) return;
    const [running, ...queued] = thread.calls.splice(0);
    if (thread.timer !== null) clearTimeout(thread.timer);
    if (thread.idle !== null) clearTimeout(thread.idle);
    running?.reject(why ?? new HandlerError('its thread was stopped', true));
    if (this.closed) for (const call of queued) call.reject(why ?? new HandlerError('the daemon is stopping', true));
    else {
      this.waiting.unshift(...queued);
      queueMicrotask(() => this.pump());
    }
    await thread.worker.terminate().catch(() => undefined);
  }

  /** A line a handler printed, in the log under its module's name, LOG_LINES per window at most. */
  private console(thread: Thread, level: 'info' | 'warn', line: string): void {
    const now = Date.now();
    if (now - this.logWindow >= LOG_WINDOW_MS) {
      if (this.unlogged > 0) this.log('warn', `page handlers printed ${this.unlogged} more line(s), not logged`);
      this.logWindow = now;
      this.logged = 0;
      this.unlogged = 0;
    }
    if (this.logged >= LOG_LINES) {
      this.unlogged++;
      return;
    }
    this.logged++;
    // Output comes through a stream, a little after it is printed: most likely from the thread's latest call.
    const who = thread.last === null ? 'a page handler' : path.basename(thread.last);
    this.log(level, `${who}: ${line}`);
  }
}

/** The longest line of a handler's output the log keeps; the rest of it is dropped as it comes. */
const MAX_LINE_CHARS = 1_000;
/** How long text with no line break after it waits for the rest of its line before it is logged as it is. */
const PARTIAL_LINE_MS = 500;

/**
 * A stream's lines, each cut to MAX_LINE_CHARS as it arrives: output with no line break (700 MB of
 * it) grew readline's line on the daemon's thread until a string could not hold it.
 */
function eachLine(stream: NodeJS.ReadableStream, line: (text: string) => void): void {
  let current = '';
  let cut = false;
  let quiet: NodeJS.Timeout | null = null;
  const flush = () => {
    if (quiet !== null) clearTimeout(quiet);
    quiet = null;
    if (current !== '' || cut) line(cut ? `${current}…` : current.replace(/\r$/, ''));
    current = '';
    cut = false;
  };
  stream.setEncoding('utf8');
  // Text printed with no line break after it (`progress 50%`) is a line once nothing follows for a while, or at the end.
  stream.on('end', flush);
  stream.on('data', (chunk: string) => {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); ; nl = chunk.indexOf('\n', from)) {
      const piece = chunk.slice(from, nl < 0 ? chunk.length : nl);
      if (!cut && current.length + piece.length > MAX_LINE_CHARS) {
        current += piece.slice(0, MAX_LINE_CHARS - current.length);
        cut = true;
      } else if (!cut) {
        current += piece;
      }
      if (nl < 0) break;
      flush();
      from = nl + 1;
    }
    if (current !== '' && quiet === null) {
      quiet = setTimeout(flush, PARTIAL_LINE_MS);
      quiet.unref();
    }
  });
}
