/**
 * Pages parsed on a pool of worker threads (parse-worker.ts), so that the daemon's thread keeps the
 * queue, the network and the clients: on pages of 20-120 KB the tokenizer alone was a fifth of its
 * time. A body is transferred to its thread, not copied (a Buffer that is a slice of a pool of
 * small ones is copied first: only its own bytes may go); the record comes back.
 *
 * A thread that crashes or runs out of memory is replaced. The page it was reading fails with
 * ParserLost (`culprit`), to be retried as the job's attempts allow; pages sent to it behind that
 * one had their bodies go with it, and are given back to the queue unspent (not culprits).
 * Memory is bounded: each thread's heap by resourceLimits, and the pages sent to a thread ahead of
 * the one it reads by PAGES_AHEAD; the rest wait here, and they are bounded by the jobs the
 * scheduler runs at once, each waiting for its own page.
 *
 * With 0 threads, pages are read on the daemon's thread, in slices that let the event loop in; so
 * are pages under INLINE_BYTES with any number. Pages of BIG_BYTES and more are read on a thread of
 * their own (one more), so that no page waits behind them.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { extractLinksInSlices } from './links';
import { extractorOptions, fieldsOf, parsedPage, unpackPage, type ParsedPage, type ParseRequest } from './parse';
import type { FromParser, ToParser } from './parse-worker';

/** Threads when not set: a core each but the daemon's own, at least one, at most 8 as for page handlers. */
export const DEFAULT_PARSE_THREADS = Math.min(8, Math.max(1, os.availableParallelism() - 1));
/** A thread's heap: a page is at most 10 MiB, and its tree, for a crawl with fields, some ten times that. */
const PARSE_HEAP_MB = 256;
/**
 * Pages sent to a thread ahead of the one it reads, so that it goes from page to page without
 * waiting for the daemon's thread to hear of the last one (as for page handlers, handlers.ts).
 */
const PAGES_AHEAD = 4;
/**
 * The young generation of a thread's heap. V8's own choice (16 MB) held a process reading 3,000
 * pages of 60 KB on one thread at 101 MB peak RSS, 4 MB at 72-75 MB, pages/s within the noise of a
 * loaded machine.
 */
const YOUNG_MB = 4;
/**
 * Pages smaller than this are read on the daemon's thread: sending one costs about what reading it
 * does, and twice the CPU in all. 300-byte pages of 9 links (the crawl bench's) took 52-80 µs of CPU
 * each read here, 94-187 µs read on a thread, 36-49 of it on the daemon's (a loaded machine).
 */
export const INLINE_BYTES = 4 * 1024;
/**
 * Pages this big and bigger are read on a thread of their own: a host serving pages of 10 MB (2 s to
 * read each) took a healthy host's pages, queued behind its own two, from 41 to 3 pages/s.
 */
export const BIG_BYTES = 1024 * 1024;
/** A thread with nothing to read this long ends; the next page starts another. */
const IDLE_MS = 60_000;

/** The page could not be read because its parser thread stopped: `culprit` when it was reading this page. */
export class ParserLost extends Error {
  constructor(
    message: string,
    readonly culprit: boolean,
  ) {
    super(message);
    this.name = 'ParserLost';
  }
}

interface Call {
  message: ToParser;
  resolve: (page: ParsedPage) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  /** It reads pages of BIG_BYTES and more, and only those. */
  big: boolean;
  /** Calls sent, in order: it reads them one after another, the first now. */
  calls: Call[];
  idle: NodeJS.Timeout | null;
}

export class ParsePool {
  private readonly threads = new Set<Thread>();
  private readonly waiting: Call[] = [];
  private nextId = 1;
  private closed = false;

  /** `size`: threads, 0 to read every page on this thread; `inlineBelow`: bytes under which a page is read here. */
  constructor(
    private readonly size: number = DEFAULT_PARSE_THREADS,
    private readonly inlineBelow = INLINE_BYTES,
  ) {}

  /** The page's record; rejects with ParserLost when its thread stopped, or with the parse's own error. */
  parse(request: ParseRequest): Promise<ParsedPage> {
    if (this.closed) return Promise.reject(new ParserLost('the daemon is stopping', false));
    if (this.size === 0 || request.body.byteLength < this.inlineBelow) return this.parseHere(request);
    return new Promise((resolve, reject) => {
      this.waiting.push({ message: { id: this.nextId++, request }, resolve, reject });
      this.pump();
    });
  }

  /** Stops every thread; pages waiting or being read are given back (not culprits). */
  async close(): Promise<void> {
    this.closed = true;
    const stopping = new ParserLost('the daemon is stopping', false);
    for (const call of this.waiting.splice(0)) call.reject(stopping);
    await Promise.all([...this.threads].map((t) => this.retire(t, 'the daemon is stopping')));
  }

  private async parseHere(request: ParseRequest): Promise<ParsedPage> {
    return parsedPage(await extractLinksInSlices(request.body, request.url, extractorOptions(request)), fieldsOf(request.fields));
  }

  /**
   * Waiting pages, in order, each to the thread of its kind (big or not) with the fewest, up to
   * PAGES_AHEAD each; a thread started while there are fewer than `size` of the kind (one for big
   * pages). A page whose kind has no room waits, and those behind it of the other kind go on.
   */
  private pump(): void {
    for (let i = 0; i < this.waiting.length && !this.closed;) {
      const big = this.waiting[i].message.request.body.byteLength >= BIG_BYTES;
      const thread = this.threadFor(big);
      if (thread === null) {
        i++;
        continue;
      }
      const [call] = this.waiting.splice(i, 1);
      if (thread.idle !== null) clearTimeout(thread.idle);
      thread.idle = null;
      // Held open while it reads: a page waited for keeps the process alive; an idle thread does not.
      if (thread.calls.length === 0) thread.worker.ref();
      thread.calls.push(call);
      const { body } = call.message.request;
      // Its own buffer, whole, moves; a slice of a shared one (undici's and Buffer's pools) is copied first.
      const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer ? body : new Uint8Array(body);
      thread.worker.postMessage({ ...call.message, request: { ...call.message.request, body: own } } satisfies ToParser, [own.buffer as ArrayBuffer]);
    }
  }

  /** The thread of the kind with the fewest pages and room for one more, started if it may be; null if none has room. */
  private threadFor(big: boolean): Thread | null {
    let thread: Thread | null = null;
    let ofKind = 0;
    for (const t of this.threads) {
      if (t.big !== big) continue;
      ofKind++;
      if (t.calls.length < PAGES_AHEAD && (thread === null || t.calls.length < thread.calls.length)) thread = t;
    }
    if ((thread === null || thread.calls.length > 0) && ofKind < (big ? 1 : this.size)) thread = this.start(big);
    return thread;
  }

  private start(big: boolean): Thread {
    const worker = new Worker(path.join(__dirname, 'parse-worker.js'), {
      resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB, maxYoungGenerationSizeMb: YOUNG_MB },
    });
    const thread: Thread = { worker, big, calls: [], idle: null };
    this.threads.add(thread);
    worker.on('message', (m: FromParser) => {
      const call = thread.calls[0];
      if (call === undefined || call.message.id !== m.id) return;
      thread.calls.shift();
      if (thread.calls.length === 0) {
        thread.worker.unref();
        thread.idle = setTimeout(() => void this.retire(thread, null), IDLE_MS);
        thread.idle.unref();
      }
      if (m.error === null) call.resolve(unpackPage(m.page));
      else call.reject(new Error(m.error));
      this.pump();
    });
    worker.on('error', (err: Error & { code?: string }) => {
      void this.retire(
        thread,
        err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `ran out of memory (a parser thread may use ${PARSE_HEAP_MB} MB)` : `failed: ${err.message}`,
      );
    });
    worker.on('exit', (code) => void this.retire(thread, `ended (exit code ${code})`));
    worker.unref();
    return thread;
  }

  /**
   * Stops a thread: the page it was reading fails as the culprit (`why`, null for an idle thread's
   * end), those sent behind it are given back; waiting pages go to the others or a new one.
   */
  private async retire(thread: Thread, why: string | null): Promise<void> {
    if (!this.threads.delete(thread)) return;
    if (thread.idle !== null) clearTimeout(thread.idle);
    const [reading, ...behind] = thread.calls.splice(0);
    reading?.reject(new ParserLost(`the page's parser thread ${why ?? 'stopped'}`, why !== null && !this.closed));
    for (const call of behind) call.reject(new ParserLost(`its parser thread ${why ?? 'stopped'} on another page`, false));
    queueMicrotask(() => this.pump());
    await thread.worker.terminate().catch(() => undefined);
  }
}
