/**
 * The daemon's side of the WARC files: records go to a worker thread (warc-worker.ts), which
 * writes them as warc.ts says; a page's acknowledgement waits until its records are in the file.
 * A writer that dies (out of memory, a bug) fails the pages waiting on it, each to be tried again,
 * and the next record starts a new one. Once closed, it takes no more.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WarcFile } from '../protocol';
import type { Exchange } from './warc';
import { warcFiles } from './warc-files';
import type { FromWriter, ToWriter, WriterData } from './warc-worker';

/** The writer's heap, at most: it holds a record or two at a time (a body is at most 10 MiB). */
const WRITER_HEAP_MB = 128;

type Request = { type: 'add'; crawlId: string; exchange: Exchange } | { type: 'finish'; crawlId: string } | { type: 'close' };

type Waiting = Map<number, { resolve: () => void; reject: (err: Error) => void }>;

export class WarcArchive {
  private worker: { thread: Worker; waiting: Waiting } | null = null;
  private closed = false;
  private nextId = 1;

  constructor(
    readonly dir: string,
    private readonly info: { userAgent: string; robots: boolean },
    private readonly maxFileBytes: number,
  ) {}

  /** Appends a fetch's request and response; resolves once they are in the file. */
  add(crawlId: string, exchange: Exchange): Promise<void> {
    return this.send({ type: 'add', crawlId, exchange });
  }

  /** A crawl's files, oldest first, with their sizes now. */
  files(crawlId: string): Promise<WarcFile[]> {
    return warcFiles(this.dir, crawlId);
  }

  /** Closes a crawl's file (its crawl ended); a later record starts a new one. */
  async finish(crawlId: string): Promise<void> {
    if (this.worker) await this.send({ type: 'finish', crawlId });
  }

  /** Writes what it was given, closes the files and stops the thread; what comes after is refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    // Refused from now on; what was sent before is written first (the writer takes messages in order).
    this.closed = true;
    const worker = this.worker;
    if (worker) await this.post(worker, { type: 'close' }).catch(() => undefined);
    this.worker = null;
    await worker?.thread.terminate();
  }

  private send(request: Request): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the WARC writer is closed (the daemon is stopping)'));
    return this.post(this.worker ?? this.start(), request);
  }

  private post(worker: NonNullable<WarcArchive['worker']>, request: Request): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      worker.waiting.set(id, { resolve, reject });
      worker.thread.postMessage({ ...request, id } satisfies ToWriter);
    });
  }

  private start(): NonNullable<WarcArchive['worker']> {
    const workerData: WriterData = { dir: this.dir, userAgent: this.info.userAgent, robots: this.info.robots, maxFileBytes: this.maxFileBytes };
    // Beside this file in the compiled tree and in the bundle (scripts/bundle.mjs) alike.
    const thread = new Worker(path.join(__dirname, 'warc-worker.js'), { workerData, resourceLimits: { maxOldGenerationSizeMb: WRITER_HEAP_MB } });
    const worker = { thread, waiting: new Map() as Waiting };
    thread.on('message', (m: FromWriter) => {
      const w = worker.waiting.get(m.id);
      worker.waiting.delete(m.id);
      if (m.error === null) w?.resolve();
      else w?.reject(new Error(m.error));
    });
    // Whatever this thread still owed fails, whether or not it is the current one.
    const died = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const w of worker.waiting.values()) w.reject(err);
      worker.waiting.clear();
    };
    thread.on('error', died);
    thread.on('exit', (code) => died(new Error(`the WARC writer stopped (exit code ${code})`)));
    thread.unref();
    this.worker = worker;
    return worker;
  }
}
