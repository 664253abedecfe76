/**
 * The export formats of crawl results, part of the contract: crawlctl and the editor write the
 * same files. What can be exported (a crawl's pages, its links, or its broken links with every
 * page linking to them), the columns of each, one record as a JSON line or a CSV row, and the one
 * reader of the records from the daemon (crawl/pages and crawl/links with their cursors), and the
 * writer that holds the export back while its output is full (Sink).
 *
 * Like protocol.ts it depends on nothing of the daemon's and on no `node:` module: the extension
 * imports it. Its one library, csv-stringify, is bundled into the extension and installed with
 * crawlctl.
 */
import { stringify } from 'csv-stringify/sync';
import type { Writable } from 'node:stream';
import type { CrawlOptions, LinkRecord, Method, PageRecord, ParamsOf, ResultOf, StatusClass } from './protocol';

/** What is exported: page records, every link with its fate, or each broken URL once per page linking to it. */
export const EXPORT_KINDS = ['pages', 'links', 'broken'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];
export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Records asked for at once: the most crawl/pages and crawl/links give. */
export const EXPORT_BATCH = 1000;

/**
 * One row of a broken-links export: a URL that failed, and one page that links to it (or whose
 * redirect led to it); null for none, a seed.
 */
export interface BrokenRow {
  url: string;
  status: number | null;
  error: string | null;
  referrer: string | null;
  /** The referrer's link text; null when there is no link (no referrer, or a redirect). */
  text: string | null;
}

/** PageRecord's fields in the contract's order: the CSV's columns. */
export const PAGE_COLUMNS = [
  'url',
  'jobId',
  'finalUrl',
  'redirects',
  'status',
  'error',
  'skipped',
  'contentType',
  'bytes',
  'fetchMs',
  'fetchedAt',
  'lastmod',
  'depth',
  'title',
  'description',
  'canonical',
  'robots',
  'lang',
  'foundOn',
  'linkText',
  'outlinks',
  'inlinks',
  'sha256',
  'data',
] as const satisfies readonly (keyof PageRecord)[];
// A field added to PageRecord and not here fails to compile (its place in the order is up to whoever adds it).
const EVERY_PAGE_FIELD: Exclude<keyof PageRecord, (typeof PAGE_COLUMNS)[number]> extends never ? true : never = true;
void EVERY_PAGE_FIELD;

export const LINK_COLUMNS = ['from', 'to', 'text', 'followed', 'reason'] as const satisfies readonly (keyof LinkRecord)[];
export const BROKEN_COLUMNS = ['url', 'status', 'error', 'referrer', 'text'] as const satisfies readonly (keyof BrokenRow)[];

/** The columns of each kind, in order: the CSV header, and the order of a JSON line's keys. */
export const EXPORT_COLUMNS = { pages: PAGE_COLUMNS, links: LINK_COLUMNS, broken: BROKEN_COLUMNS } as const satisfies Record<ExportKind, readonly string[]>;

/** The record of each kind. */
export interface ExportRecords {
  pages: PageRecord;
  links: LinkRecord;
  broken: BrokenRow;
}
export type ExportRecord<K extends ExportKind = ExportKind> = ExportRecords[K];

// ---------------------------------------------------------------------------------------------
// Formats

/** A CSV cell: null and undefined are empty, booleans `true`/`false`, numbers as JavaScript writes them. */
export type Cell = string | number | boolean | null | undefined;

/**
 * CSV as RFC 4180 writes it: fields separated by commas, records ended by CRLF, a field that holds
 * a comma, a double quote, a CR or an LF put in double quotes, its double quotes doubled; every
 * other field as it is (spaces kept: they are part of the field). csv-stringify quotes a field
 * holding the whole record delimiter (CRLF) but not a lone CR or LF: `quoted_match` does.
 *
 * No guard against "formula injection" (a cell starting with =, +, - or @ that a spreadsheet would
 * evaluate; csv-stringify's `escape_formulas` stays off): an export is data, and prefixing or
 * quoting such cells would change the values that other tools read back. Whoever opens one in a
 * spreadsheet imports it as text.
 */
const CSV_OPTIONS = {
  record_delimiter: 'windows',
  quoted_match: /[\r\n]/,
  cast: { boolean: (value: boolean) => String(value) },
} as const;

/** Rows of cells as CSV text, each row CRLF-terminated ('' for no rows). */
export function csvRows(rows: readonly (readonly Cell[])[]): string {
  return rows.length === 0 ? '' : stringify(rows as Cell[][], CSV_OPTIONS);
}

/**
 * The header row of a kind's CSV. Pages have a column for each of `fields`, the crawl's extract
 * fields (dataFields), after their `data` as JSON: `data.price`.
 */
export function csvHeader(kind: ExportKind, fields: readonly string[] = []): string {
  return csvRows([kind === 'pages' ? [...PAGE_COLUMNS, ...fields.map((f) => `data.${f}`)] : EXPORT_COLUMNS[kind]]);
}

/** How a field's values are joined in its CSV cell: the JSON line has the list itself. */
export const CSV_LIST_SEPARATOR = '; ';

/** A data value as a CSV cell: a list joined with CSV_LIST_SEPARATOR, an object as JSON. */
function dataCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(CSV_LIST_SEPARATOR);
  return typeof value === 'object' ? JSON.stringify(value) : (value as Cell);
}

/**
 * A record's CSV cells, in its kind's column order: a page's redirects joined with spaces, its
 * data as JSON text, then each of `fields` of its data (see csvHeader).
 */
export function recordCells<K extends ExportKind>(kind: K, record: ExportRecord<K>, fields: readonly string[] = []): Cell[] {
  if (kind === 'pages') {
    const p = record as PageRecord;
    const cells = PAGE_COLUMNS.map((column): Cell => {
      if (column === 'redirects') return p.redirects.join(' ');
      if (column === 'data') return p.data === null || p.data === undefined ? null : JSON.stringify(p.data);
      return p[column];
    });
    for (const f of fields) cells.push(dataCell(p.data && Object.prototype.hasOwnProperty.call(p.data, f) ? p.data[f] : null));
    return cells;
  }
  const cells = record as unknown as Record<string, Cell>;
  return EXPORT_COLUMNS[kind].map((column) => cells[column]);
}

/** One JSON Lines line: the record as one line of JSON, keys in its kind's column order (missing ones null). */
export function jsonLine<K extends ExportKind>(kind: K, record: ExportRecord<K>): string {
  const columns = EXPORT_COLUMNS[kind];
  // The daemon's records come with exactly these keys in this order (JSON.parse keeps it): written
  // as they are, a page costs 1.4 µs; copied into a new object key by key, 6-7.5 µs.
  // JSON.stringify escapes CR and LF inside strings, so a record never spans two lines.
  if (hasColumns(record, columns)) return `${JSON.stringify(record)}\n`;
  const ordered: Record<string, unknown> = {};
  const fields = record as unknown as Record<string, unknown>;
  for (const column of columns) ordered[column] = fields[column] ?? null;
  return `${JSON.stringify(ordered)}\n`;
}

/** Whether an object's own keys are `columns`, in that order, none undefined (which JSON would leave out). */
function hasColumns(record: object, columns: readonly string[]): boolean {
  const fields = record as Record<string, unknown>;
  let i = 0;
  // for-in, not Object.entries: no array per key (1.2 µs a page against 1.6). An inherited key
  // would show here and not in JSON: it fails the check, and the slow path is right anyway.
  for (const key in fields) {
    if (key !== columns[i++] || fields[key] === undefined) return false;
  }
  return i === columns.length;
}

export interface FormatOptions {
  /** What each CSV text cell is written as (crawlctl escapes control characters on a terminal); exact when absent. */
  csvText?: (text: string) => string;
  /** The crawl's data fields, a CSV column each (dataFields). */
  fields?: readonly string[];
}

/** Records in a format, ready to append to the file. */
export function formatRecords<K extends ExportKind>(kind: K, format: ExportFormat, records: readonly ExportRecord<K>[], opts: FormatOptions = {}): string {
  if (format === 'jsonl') return records.map((r) => jsonLine(kind, r)).join('');
  const { csvText, fields } = opts;
  const rows = records.map((r) => recordCells(kind, r, fields));
  return csvRows(csvText ? rows.map((cells) => cells.map((c) => (typeof c === 'string' ? csvText(c) : c))) : rows);
}

/** What the file starts with: CSV's header row, nothing for JSON Lines. */
export function fileHeader(kind: ExportKind, format: ExportFormat, fields: readonly string[] = []): string {
  return format === 'csv' ? csvHeader(kind, fields) : '';
}

/** The keys of a crawl's extract fields in its records' data (`tags[]` is `tags`): a CSV column each. */
export function dataFields(options: CrawlOptions): string[] {
  return Object.keys(options.extract ?? {}).map((name) => name.replace(/\[\]$/, ''));
}

/** Pages whose data names the columns of a handler's keys. */
const HANDLER_KEYS_FROM = 1_000;

/**
 * The data fields an export has columns for: for a CSV of its pages, the crawl's extract fields,
 * then for a crawl with a handler the other keys of its first HANDLER_KEYS_FROM pages' data, in
 * the order met (as Scrapy's CSV takes its columns from the first item; every key is in `data`
 * anyway); none otherwise.
 */
export async function exportFields(ask: Ask, crawlId: string, kind: ExportKind, format: ExportFormat): Promise<string[]> {
  if (kind !== 'pages' || format !== 'csv') return [];
  const { options } = (await ask('crawl/get', { crawlId })).crawl;
  const fields = new Set(dataFields(options));
  if (options.handler !== undefined) {
    const { pages } = await ask('crawl/pages', { crawlId, limit: HANDLER_KEYS_FROM });
    for (const p of pages) for (const key of Object.keys(p.data ?? {})) fields.add(key);
  }
  return [...fields];
}

// ---------------------------------------------------------------------------------------------
// Reading the records

/** A request to the daemon: crawlctl's client and the editor's each pass their own. */
export type Ask = <M extends Method>(method: M, params: ParamsOf<M>) => Promise<ResultOf<M>>;

/** Records read in one request, in the order they are written. */
export interface ExportBatch<K extends ExportKind = ExportKind> {
  records: ExportRecord<K>[];
  /** For `broken`: the broken URLs these rows begin (a URL with many referrers spans several batches); 0 otherwise. */
  urls: number;
}

/**
 * A crawl's records of a kind, a request at a time (`batchSize` records each, 1,000 at most; tests
 * ask for fewer): the next request is made only once the batch before was taken. `broken` reads
 * the pages that failed (crawl/report's broken pages: a 4xx, a 5xx, no response, a redirect loop,
 * a handler that threw; skipped pages are not), and for each URL every link to it, paged too; a
 * URL nothing links to (reached by a redirect, or a seed) is one row.
 */
export async function* exportBatches<K extends ExportKind>(ask: Ask, crawlId: string, kind: K, batchSize = EXPORT_BATCH): AsyncGenerator<ExportBatch<K>> {
  const limit = Math.min(EXPORT_BATCH, Math.max(1, Math.floor(batchSize)));
  const batch = (records: ExportRecord[], urls = 0) => ({ records, urls }) as ExportBatch<K>;
  if (kind === 'pages') {
    for await (const pages of pageBatches(ask, crawlId, limit)) if (pages.length) yield batch(pages);
    return;
  }
  if (kind === 'links') {
    for await (const links of linkBatches(ask, crawlId, limit)) if (links.length) yield batch(links);
    return;
  }
  for await (const pages of pageBatches(ask, crawlId, limit, 'failed')) {
    for (const page of pages) {
      let counted = false;
      for await (const links of linkBatches(ask, crawlId, limit, page.url)) {
        if (links.length === 0) continue;
        yield batch(brokenRows(page, links), counted ? 0 : 1);
        counted = true;
      }
      if (!counted) yield batch(brokenRows(page, []), 1);
    }
  }
}

/**
 * The rows of one broken URL: one per link to it or, when nothing links to it, one naming the
 * page that first queued it (whose redirect led there: no link text), else one with no referrer
 * (a seed).
 */
export function brokenRows(page: PageRecord, linksTo: readonly LinkRecord[]): BrokenRow[] {
  const base = { url: page.url, status: page.status, error: page.error };
  if (linksTo.length > 0) return linksTo.map((l) => ({ ...base, referrer: l.from, text: l.text }));
  return [{ ...base, referrer: page.foundOn, text: null }];
}

function pageBatches(ask: Ask, crawlId: string, limit: number, status?: StatusClass): AsyncGenerator<PageRecord[]> {
  return paged(async (cursor) => {
    const r = await ask('crawl/pages', { crawlId, cursor, limit, ...(status !== undefined && { status }) });
    return [r.pages, r.nextCursor];
  });
}

function linkBatches(ask: Ask, crawlId: string, limit: number, to?: string): AsyncGenerator<LinkRecord[]> {
  return paged(async (cursor) => {
    const r = await ask('crawl/links', { crawlId, cursor, limit, ...(to !== undefined && { to }) });
    return [r.links, r.nextCursor];
  });
}

/**
 * Pages of a cursor walk, the next one asked for while the one before is being written: the
 * daemon reads and the exporter writes at the same time (taking turns, each waited half the time).
 * One page is read ahead at most, so memory stays flat.
 */
async function* paged<T>(read: (cursor: string | null) => Promise<[T[], string | null]>): AsyncGenerator<T[]> {
  let next: Promise<[T[], string | null]> | null = read(null);
  while (next !== null) {
    const [items, cursor]: [T[], string | null] = await next;
    next = cursor ? read(cursor) : null;
    // A read ahead that fails while this page is written is seen when it is awaited, not before.
    next?.catch(() => {});
    yield items;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The output gave out: its reader went away, or it could not be written (a full disk). */
export class OutputError extends Error {
  /** The reader went away (`| head`): the end of the output is not wanted, which is no failure. */
  readonly readerGone: boolean;

  constructor(failure: Error | null) {
    super(failure ? failure.message : 'the output was closed');
    this.name = 'OutputError';
    this.readerGone = failure === null || (failure as NodeJS.ErrnoException).code === 'EPIPE';
  }
}

/** A stream written in chunks, each awaited while the stream holds more than it wants. */
export class Sink {
  private failure: Error | null = null;
  private closed = false;

  constructor(private readonly stream: Writable | NodeJS.WriteStream) {
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
    stream.on('close', () => {
      this.closed = true;
    });
  }

  async write(chunk: string): Promise<void> {
    this.check();
    if (chunk === '') return;
    if (this.stream.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
      this.stream.on('close', done);
    });
    this.check();
  }

  private check(): void {
    if (this.failure) throw new OutputError(this.failure);
    if (this.closed) throw new OutputError(null);
  }
}
