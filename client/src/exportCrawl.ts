/**
 * Export Crawl Results, the writing half: reads the records a request at a time and formats them
 * as the contract says (server/src/exports.ts, as crawlctl does), appending each batch to a write
 * stream (waiting for it to drain when it asks to), to a `.part` file beside the target that is
 * renamed over it once complete. A cancelled or failed export deletes the partial file, so the
 * target is either the whole export or untouched.
 * No `vscode` here: the command (commands.ts) wraps it in a progress notification.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sink, exportBatches, exportFields, fileHeader, formatRecords, type Ask, type ExportFormat, type ExportKind } from '../../server/src/exports';
import type { DaemonApi } from './daemonApi';

export interface ExportRequest {
  crawlId: string;
  kind: ExportKind;
  format: ExportFormat;
  /** Absolute path of the file to write (replaced once the export is complete). */
  file: string;
}

export interface ExportProgress {
  /** Records (rows) written so far. */
  records: number;
  /** Broken URLs seen so far (broken exports only). */
  urls: number;
}

export interface ExportResult extends ExportProgress {
  file: string;
  bytes: number;
}

/** Thrown when the export was cancelled; the partial file is gone by then. */
export class ExportCancelled extends Error {
  constructor() {
    super('The export was cancelled.');
    this.name = 'ExportCancelled';
  }
}

export interface ExportOptions {
  /** Called after each batch written. */
  onProgress?: (progress: ExportProgress) => void;
  /** Checked between requests and batches. */
  isCancelled?: () => boolean;
  /** Records per request, 1,000 at most (tests use small ones). */
  batch?: number;
}

/**
 * Writes the export and resolves with what was written. On cancellation it rejects with
 * ExportCancelled, on any failure with that error; either way after removing the partial file
 * (a failure to remove it is added to the error's message).
 */
export async function exportCrawl(daemon: DaemonApi, req: ExportRequest, opts: ExportOptions = {}): Promise<ExportResult> {
  const partial = partialPath(req.file);
  const out = new StreamWriter(fs.createWriteStream(partial, { flags: 'w', encoding: 'utf8' }));
  const progress: ExportProgress = { records: 0, urls: 0 };
  const check = () => {
    if (opts.isCancelled?.()) throw new ExportCancelled();
  };
  // Cancellation is seen before each request and as soon as it is answered.
  const ask: Ask = async (method, params) => {
    check();
    const result = await daemon.request(method, params);
    check();
    return result;
  };
  try {
    await out.opened();
    const fields = await exportFields(ask, req.crawlId, req.kind, req.format);
    await out.write(fileHeader(req.kind, req.format, fields));
    for await (const { records, urls } of exportBatches(ask, req.crawlId, req.kind, opts.batch)) {
      await out.write(formatRecords(req.kind, req.format, records, { fields }));
      progress.records += records.length;
      progress.urls += urls;
      opts.onProgress?.({ ...progress });
    }
    check();
    const bytes = await out.close();
    await fs.promises.rename(partial, req.file);
    return { ...progress, file: req.file, bytes };
  } catch (err) {
    await out.abort();
    const left = await fs.promises.rm(partial, { force: true }).then(
      () => undefined,
      (e: Error) => e,
    );
    if (left) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`${why} The partial file ${partial} could not be deleted: ${left.message}`);
    }
    throw err;
  }
}

/** Where an export is written until it is complete: beside the target, so the rename stays on one file system. */
export function partialPath(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file)}.part`);
}

/** A file as awaited calls: crawlctl's Sink for the writes, and the file's opening, closing and bytes. */
class StreamWriter {
  private failure: Error | undefined;
  private bytes = 0;
  private readonly sink: Sink;

  constructor(private readonly stream: fs.WriteStream) {
    this.sink = new Sink(stream);
    stream.on('error', (err) => {
      this.failure ??= err;
    });
  }

  /** Resolves once the file is open (an unwritable folder fails here, before any request). */
  async opened(): Promise<void> {
    if (this.failure) throw this.failure;
    // once() rejects with the stream's 'error' should that come first.
    if (this.stream.pending) await once(this.stream, 'ready');
  }

  async write(chunk: string): Promise<void> {
    this.bytes += Buffer.byteLength(chunk);
    await this.sink.write(chunk);
  }

  /**
   * Flushes and closes the file; resolves with the bytes written once its descriptor is closed
   * (Windows refuses to rename an open file).
   */
  close(): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.failure || this.stream.destroyed) return reject(this.failure ?? new Error('the file was closed before the export ended'));
      this.stream.once('close', () => (this.failure ? reject(this.failure) : resolve(this.bytes)));
      this.stream.end();
    });
  }

  /** Stops writing and closes the file descriptor, whatever state the stream is in. */
  abort(): Promise<void> {
    if (this.stream.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.destroy();
    });
  }
}
