/**
 * WARC archives of a crawl's responses: `warc/<crawlId>-<n>.warc.gz` in the state folder, WARC/1.1
 * records built and digested by warcio (the webrecorder project's library, what replay tools
 * read), each record its own gzip member. Every response a page fetch gets (redirects and errors
 * too) is a `response` record with its `request` beside it (WARC-Concurrent-To); a file starts
 * with a `warcinfo` record and ends past `maxFileBytes`, the next one taking over.
 *
 * - The body is stored as the crawler decoded it: its Content-Encoding is taken off the headers and
 *   Content-Length set to what is stored, so the record's payload and its headers agree.
 * - A pair of records is one write to the end of the file, so a process killed at any point leaves
 *   whole records and at most one cut one at the end; a daemon starting again never appends to a
 *   file it did not open itself, but starts the next one.
 * - Digests are SHA-256 through node:crypto: warcio's own hasher instantiates WebAssembly for each
 *   record (1 ms a record, 90% of it).
 * - It runs in a worker thread (archive.ts): building, digesting and compressing records cost about
 *   0.1 ms a page of the benchmark's, and a 10 MiB body's gzip alone some 100 ms.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { WARCRecord, WARCSerializer } from 'warcio';
import { PRODUCT, VERSION } from '../version';
import { crawlFiles, fileIndex, nextFileName } from './warc-files';

/** A new file past this size (Heritrix's default is 1 GB too). */
export const WARC_FILE_BYTES = 1024 * 1024 * 1024;

/** One fetch as the WARC keeps it. */
export interface Exchange {
  url: string;
  /** When the response came (epoch ms). */
  date: number;
  requestHeaders: Record<string, string>;
  status: number;
  /** Lowercased names, as the fetcher gives them. */
  responseHeaders: Record<string, string>;
  body: Uint8Array;
}

/** warcio's serializer with its digests from node:crypto. */
class Serializer extends WARCSerializer {
  override async newHasher(): ReturnType<WARCSerializer['newHasher']> {
    const hash = createHash('sha256');
    const hasher = {
      init: () => hasher,
      update: (data: Uint8Array) => {
        hash.update(data);
        return hasher;
      },
      digest: (type?: string) => {
        const bytes = hash.digest();
        return type === 'binary' ? new Uint8Array(bytes) : bytes.toString('hex');
      },
    };
    return hasher as unknown as Awaited<ReturnType<WARCSerializer['newHasher']>>;
  }
}

/** A record as one gzip member. */
async function member(record: WARCRecord): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of new Serializer(record, { gzip: false })) chunks.push(chunk as Uint8Array);
  return zlib.gzipSync(Buffer.concat(chunks));
}

/** Headers as sent on the wire would read them, the stored body's length and no content coding. */
function storedHeaders(headers: Record<string, string>, length: number): [string, string][] {
  const out = Object.entries(headers).filter(([name]) => name !== 'content-encoding' && name !== 'transfer-encoding' && name !== 'content-length');
  out.push(['content-length', String(length)]);
  return out;
}

/** A crawl's open file: where the next records go. */
interface Open {
  fd: number;
  bytes: number;
  /** When it was last written (epoch ms): a file idle for IDLE_CLOSE_MS is closed. */
  at: number;
}

/**
 * An open file idle this long is closed (the next record begins a new file): a crawl cancelled, or
 * finished by another daemon sharing the state folder, leaves no descriptor open here for good.
 */
export const IDLE_CLOSE_MS = 60_000;

/** Writes the records of every crawl that keeps them, one folder, one process's files. */
export class WarcWriter {
  private readonly open = new Map<string, Open>();

  constructor(
    readonly dir: string,
    private readonly info: { userAgent: string; robots: boolean },
    private readonly maxFileBytes = WARC_FILE_BYTES,
  ) {}

  /** Appends a fetch's request and response to the crawl's file. */
  async add(crawlId: string, x: Exchange): Promise<void> {
    const date = new Date(x.date).toISOString();
    const target = new URL(x.url);
    const response = WARCRecord.create(
      {
        url: x.url,
        date,
        type: 'response',
        warcVersion: 'WARC/1.1',
        keepHeadersCase: false,
        statusline: `HTTP/1.1 ${x.status} ${STATUS_CODES[x.status] ?? ''}`.trimEnd(),
        httpHeaders: storedHeaders(x.responseHeaders, x.body.byteLength),
      },
      [x.body],
    );
    const request = WARCRecord.create(
      {
        url: x.url,
        date,
        type: 'request',
        warcVersion: 'WARC/1.1',
        keepHeadersCase: false,
        statusline: `GET ${target.pathname}${target.search} HTTP/1.1`,
        httpHeaders: [['host', target.host], ...Object.entries(x.requestHeaders)],
        warcHeaders: { 'WARC-Concurrent-To': response.warcHeaders.headers.get('WARC-Record-ID') as string },
      },
      [],
    );
    const bytes = Buffer.concat([await member(response), await member(request)]);
    const f = await this.fileFor(crawlId, bytes.byteLength);
    try {
      writeAll(f.fd, bytes);
    } catch (err) {
      // Part of the pair may be in: that file ends here (a cut record last, as a kill leaves it), the next record starts another.
      this.finish(crawlId);
      throw err;
    }
    f.bytes += bytes.byteLength;
    f.at = Date.now();
  }

  /** Closes the files not written for IDLE_CLOSE_MS. */
  closeIdle(now = Date.now()): void {
    for (const [crawlId, f] of this.open) if (now - f.at >= IDLE_CLOSE_MS) this.finish(crawlId);
  }

  /** Closes a crawl's file (its crawl ended); a later record starts a new one. */
  finish(crawlId: string): void {
    const f = this.open.get(crawlId);
    this.open.delete(crawlId);
    if (f) fs.closeSync(f.fd);
  }

  close(): void {
    for (const id of [...this.open.keys()]) this.finish(id);
  }

  /** The crawl's open file, or a new one when there is none or these bytes would take it past its size. */
  private async fileFor(crawlId: string, adding: number): Promise<Open> {
    const current = this.open.get(crawlId);
    if (current && current.bytes + adding <= this.maxFileBytes) return current;
    this.finish(crawlId);
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let name = '';
    let fd: number | null = null;
    while (fd === null) {
      name = nextFileName(
        crawlId,
        crawlFiles(fs.readdirSync(this.dir), crawlId).map((n) => fileIndex(crawlId, n)!),
      );
      try {
        // 'wx': a file of that name is another process's (or a run's that stopped): never written into.
        fd = fs.openSync(path.join(this.dir, name), 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const info = await member(
      WARCRecord.createWARCInfo(
        { filename: name, warcVersion: 'WARC/1.1' },
        {
          software: `${PRODUCT}/${VERSION} (warcio.js)`,
          format: 'WARC File Format 1.1',
          'http-header-user-agent': this.info.userAgent,
          robots: this.info.robots ? 'obey' : 'ignore',
          isPartOf: crawlId,
        },
      ),
    );
    try {
      writeAll(fd, info);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const opened = { fd, bytes: info.byteLength, at: Date.now() };
    this.open.set(crawlId, opened);
    return opened;
  }
}

/** Every byte, however many writes it takes (a regular file takes all at once, but may be short when full). */
function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.byteLength;) at += fs.writeSync(fd, bytes, at, bytes.byteLength - at);
}
