/**
 * The daemon's side of the WARC files: records go to a worker thread (warc-worker.ts), which
 * writes them as warc.ts says; a page's acknowledgement waits until its records are in the file.
 * A writer that dies (out of memory, a bug) fails the pages waiting on it, each to be tried again,
 * and the next record starts a new one.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WarcFile } from '../protocol';
import { warcFiles, type Exchange } from './warc';
import type { FromWriter, ToWriter, WriterData } from './warc-worker';

/** The writer's heap, at most: it holds a record or two at a time (a body is at most 10 MiB). */
const WRITER_HEAP_MB = 128;

type Request = { type: 'add'; crawlId: string; exchange: Exchange } | { type: 'finish'; crawlId: string } | { type: 'close' };

export class WarcArchive {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 1;

  constructor(
    readonly dir: string,
    private readonly info: { userAgent: string },
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

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await this.send({ type: 'close' }).catch(() => undefined);
    this.worker = null;
    await worker.terminate();
  }

  private send(request: Request): Promise<void> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } as ToWriter);
    });
  }

  private start(): Worker {
    const workerData: WriterData = { dir: this.dir, userAgent: this.info.userAgent, maxFileBytes: this.maxFileBytes };
    // Beside this file in the compiled tree and in the bundle (scripts/bundle.mjs) alike.
    const worker = new Worker(path.join(__dirname, 'warc-worker.js'), { workerData, resourceLimits: { maxOldGenerationSizeMb: WRITER_HEAP_MB } });
    worker.on('message', (m: FromWriter) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error === null) w?.resolve();
      else w?.reject(new Error(m.error));
    });
    const died = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the WARC writer stopped (exit code ${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
