/**
 * Page records and the link graph: what a crawl leaves its user. Every URL a crawl fetched or
 * tried gets a record (status, timings, title, description, where it was found), and every link
 * of every page an edge (from, to, text, and why it was not followed), so that a broken page can
 * be listed with every page that links to it. The engines store them (sqlite-pages.ts,
 * pg-pages.ts), written with the acknowledgements of the attempts they record; this module holds
 * what both share: the shapes, the fallbacks for a record refused, and the assembly of records,
 * redirect chains and the report.
 */
import { hash } from 'node:crypto';
import type { LinkReason, PageRecord, StatusClass } from '../protocol';
import { INLINKS_COUNTED, LINK_REASONS } from '../protocol';
import { BoundedMap } from './bounded';
import type { AckHook } from '../core/types';
import { wellFormed } from '../core/failure-reason';

/** One link of a page as the page handler saw it. */
export interface LinkWrite {
  url: string;
  text: string;
  /** Null: followed (enqueued, or known to be queued already). */
  reason: LinkReason | null;
}

/** A page record as the page handler writes it, after every attempt that ends with an outcome. */
export interface PageWrite {
  crawlId: string;
  url: string;
  host: string;
  jobId: number | null;
  depth: number | null;
  status: number | null;
  error: string | null;
  skipped: boolean;
  /** The next hop of a redirect. */
  redirectTo: string | null;
  /** For a redirect's target: the chain that led here; its last URL is where it was found. */
  via: readonly string[];
  contentType: string | null;
  bytes: number | null;
  fetchMs: number | null;
  fetchedAt: number | null;
  title: string | null;
  description: string | null;
  canonical: string | null;
  robots: string | null;
  lang: string | null;
  sha256: string | null;
  /** Fields extracted from the page (the crawl's extract); null for none. */
  data: Record<string, unknown> | null;
  /** The `<lastmod>` its sitemap gave it. */
  lastmod: string | null;
  /** A link or a sitemap queued it (so it was found on a page); default: its depth is past 0 (it is no seed). */
  linked?: boolean;
  /** The page's links (null: not read, such as a redirect or an error page). */
  links: readonly LinkWrite[] | null;
}

/** Whether a record's URL was found on a page (a link, a sitemap), so its found-on is looked up. */
export function isLinked(w: PageWrite): boolean {
  return w.linked ?? (w.depth ?? 0) > 0;
}

/** A stored record, its URLs resolved, before redirect chains are followed: the wire's fields and the store's own. */
export interface PageRow extends Omit<PageRecord, 'finalUrl' | 'redirects' | 'fetchedAt'> {
  urlId: number;
  host: string;
  /** The next hop of a redirect. */
  redirectTo: string | null;
  fetchedAt: number | null;
}

/** A page record as the service hands it on: the wire's PageRecord with its time in epoch ms. */
export interface PageInfo extends Omit<PageRow, 'urlId' | 'redirectTo' | 'host'> {
  finalUrl: string | null;
  redirects: string[];
}

/** An edge as stored; `hasPage`: whether its target has a record (was fetched or tried). */
export interface LinkRow {
  from: string;
  to: string;
  text: string;
  reason: LinkReason | null;
  hasPage: boolean;
  /** Where paging goes on from. */
  cursor: string;
}

/**
 * Where a page of records ends. Records come in url id order, or, filtered by status, in status
 * then url id order, so that either walks an index and a page deep into a million costs what the
 * first does.
 */
export interface PagesAfter {
  status: number;
  urlId: number;
}

export interface PagesQuery {
  after: PagesAfter;
  limit: number;
  status?: number | StatusClass;
  search?: string;
}

export interface LinksQuery {
  /** The cursor of the last link of the previous page; null for the first. */
  after: string | null;
  limit: number;
  from?: string;
  to?: string;
}

/** The parts of a report the engine counts; the service assembles the rest. */
export interface ReportCounts {
  /** The crawl's records counted by host, content type and status (page_groups, kept as they are written). */
  groups: GroupRow[];
  broken: { url: string; urlId: number; status: number | null; error: string | null; referrerCount: number; foundOn: string | null }[];
  /** The first REPORT_LISTED, in the order met; GroupRow counts them all. */
  redirects: { url: string; status: number; redirectTo: string | null }[];
  slowest: { url: string; fetchMs: number }[];
  largest: { url: string; bytes: number }[];
}

/** Where records and edges live: one implementation per queue engine, in the crawl store's database. */
export interface PageStore {
  /**
   * Writes records and their pages' links in one transaction. A record replaces the URL's last
   * one (a page fetched again after a retry or a requeue), and so do its links; `onlyNew` writes
   * only records for URLs that have none (jobs that ended without the handler: lost workers).
   */
  write(batch: readonly PageWrite[], onlyNew?: boolean): Promise<void>;
  /** The queue's AckHook that writes records with their acknowledgements (PageWrites attached to outcomes). */
  ackHook(log: (level: 'warn', msg: string) => void): AckHook;
  pages(crawlId: string, q: PagesQuery): Promise<PageRow[]>;
  page(crawlId: string, url: string): Promise<PageRow | null>;
  /** The first `limit` links to a URL, with the count of all of them. */
  inlinks(crawlId: string, url: string, limit: number): Promise<{ links: { url: string; text: string }[]; count: number }>;
  links(crawlId: string, q: LinksQuery): Promise<LinkRow[]>;
  /** Where each URL redirects to (its record's next hop), for the URLs given that redirect. */
  redirectTargets(crawlId: string, urls: readonly string[]): Promise<Map<string, string>>;
  /** The first `limit` pages linking to each URL (by its url id), in one go. */
  referrers(urlIds: readonly number[], limit: number): Promise<Map<number, { url: string; text: string }[]>>;
  reportCounts(crawlId: string): Promise<ReportCounts>;
  /**
   * The crawl's pages fetched from `from` to before `to` (ms), by their fetchedAt in buckets of
   * `bucketMs`, oldest first; empty buckets left out; of its last RATE_RECORDS records (SQLite:
   * written last; PostgreSQL: found last). Failures with no response have no fetchedAt.
   */
  rates(crawlId: string, from: number, to: number, bucketMs: number): Promise<RateBucket[]>;
}

/**
 * Records a crawl's rate over time reads at most, the latest: every one of a crawl of 100,000
 * took 240 ms of the daemon's thread on SQLite, the last 50,000 36 ms (median of 7).
 */
export const RATE_RECORDS = 50_000;

/** A bucket of a crawl's rate over time: its start (ms), the pages fetched in it, and of them those that failed. */
export interface RateBucket {
  at: number;
  pages: number;
  failures: number;
}

/**
 * A crawl's figures by host, content type ('' for none) and status (the number, or `skipped`, or
 * `error` for a failure with no response): a row per combination, kept by every record written
 * (the record it replaces taken off), so the report reads a few rows whatever the crawl's size.
 * Counted from the records instead, the report took 10.5 s at a million pages, all of it on the
 * daemon's one thread.
 */
export interface GroupRow {
  host: string;
  contentType: string;
  status: string;
  pages: number;
  /** Records that failed (not skipped): broken, where linked. */
  failed: number;
  fetchMsSum: number;
  fetchMsCount: number;
  /** HTML pages fetched with no title. */
  missingTitles: number;
}

/** The content types read as HTML: links extracted, titles expected. */
export const HTML_TYPES: ReadonlySet<string> = new Set(['text/html', 'application/xhtml+xml']);

/** Link reasons as stored: their index in LINK_REASONS, so an edge costs a byte, not a phrase. */
export function reasonCode(reason: LinkReason | null): number | null {
  return reason === null ? null : LINK_REASONS.indexOf(reason);
}

export function reasonOf(code: number | null): LinkReason | null {
  return code === null ? null : (LINK_REASONS[code] ?? null);
}

/**
 * What a crawl's URL is found by: 16 bytes of SHA-256 over the crawl id and the URL (a collision
 * would take some 2^64 tries). An index of these is a quarter the size of one over the URLs'
 * text, and so dirties fewer pages per link written; PostgreSQL's btree would also refuse URLs
 * past about 2.7 KB, where URLs may be 8 KiB.
 */
export function urlKey(crawlId: string, url: string): Buffer {
  // One call: a Hash object made and fed three times took 4.1 µs a key against 2.4 (the same bytes).
  return hash('sha256', `${crawlId}\n${url}`, 'buffer').subarray(0, 16);
}

/**
 * A record read back with its URLs resolved: both engines' SQL (quoted aliases keep their case in
 * PostgreSQL and are plain names in SQLite). Inlinks are counted up to INLINKS_COUNTED.
 */
export const RECORD_SQL = `
  SELECT p.url_id AS "urlId", u.url, p.job_id AS "jobId", p.host, p.status, p.error, p.skipped, r.url AS "redirectTo",
         p.content_type AS "contentType", p.bytes, p.fetch_ms AS "fetchMs", p.fetched_at AS "fetchedAt", p.lastmod, p.depth, p.title,
         p.description, p.canonical, p.robots, p.lang, f.url AS "foundOn", t.text AS "linkText", p.outlinks,
         (SELECT count(*) FROM (SELECT 1 FROM links i WHERE i.to_id = p.url_id LIMIT ${INLINKS_COUNTED}) i) AS inlinks, p.sha256, p.data
    FROM pages p
    JOIN crawl_urls u ON u.id = p.url_id
    LEFT JOIN crawl_urls r ON r.id = p.redirect_to
    LEFT JOIN crawl_urls f ON f.id = p.found_on
    LEFT JOIN link_texts t ON t.id = p.link_text`;

/** An edge read back with its URLs and text resolved, and whether its target has a record: both engines' SQL. */
export const LINK_SQL = `
  SELECT f.url AS "from", u.url AS "to", t.text, l.reason, l.from_id AS "fromId", l.to_id AS "toId",
         EXISTS (SELECT 1 FROM pages p WHERE p.url_id = l.to_id) AS "hasPage"
    FROM links l
    JOIN crawl_urls f ON f.id = l.from_id
    JOIN crawl_urls u ON u.id = l.to_id
    LEFT JOIN link_texts t ON t.id = l.text_id`;

/** A record that failed (not skipped): a broken link, when linked. Both engines' SQL, on `pages`. */
export const FAILED_SQL = 'error IS NOT NULL AND NOT skipped';
/**
 * Links that put their target in the queue: followed, or enqueued already skipped by a robots.txt
 * known when they were found (their target's record is written when the crawl ends, and was found
 * on the page all the same).
 */
export const ENQUEUED_LINK_SQL = `(reason IS NULL OR reason = ${LINK_REASONS.indexOf('robots.txt')})`;

/** ENQUEUED_LINK_SQL of one link. */
export function enqueues(reason: LinkReason | null): boolean {
  return reason === null || reason === 'robots.txt';
}

/**
 * The LIKE patterns of a crawl/pages search (`\` escapes): the text as given, and the text with its
 * non-ASCII characters percent-encoded as URLs are kept ("päge" finds /p%C3%A4ge), undefined when the same.
 */
export function searchPatterns(search: string): [string, string | undefined] {
  const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  // Made well formed first: encodeURIComponent throws on half a surrogate pair, which JSON may carry.
  const encoded = wellFormed(search).replace(/[^\x00-\x7f]+/g, (s) => encodeURIComponent(s));
  return [like(search), encoded === search ? undefined : like(encoded)];
}

/** Both engines' SQL (on `pages` as p) of the status classes that are no range: failed with no response, failed at all. */
export const CLASS_SQL = { error: 'p.status IS NULL AND NOT p.skipped', failed: FAILED_SQL } as const;

/** A status filter as a SQL range: [low, high]; or the pages that failed with no response (`error`), or failed at all (`failed`). */
export function statusRange(status: number | StatusClass): [number, number] | 'error' | 'failed' {
  if (typeof status === 'number') return [status, status];
  if (status === 'error' || status === 'failed') return status;
  const low = Number(status[0]) * 100;
  return [low, low + 99];
}

/** The cursor of crawl/pages: `<status>.<url id>` of the last record, a string the client hands back untouched. */
export function pagesCursor(rows: readonly PageRow[], limit: number): string | null {
  const last = rows[rows.length - 1];
  return rows.length === limit ? `${last.status ?? 0}.${last.urlId}` : null;
}

export function parsePagesCursor(cursor: string | null | undefined): PagesAfter {
  if (cursor === null || cursor === undefined || cursor === '') return { status: 0, urlId: 0 };
  const m = /^(\d{1,3})\.(\d{1,15})$/.exec(cursor);
  if (!m) throw new RangeError('cursor: not a cursor crawl/pages gave');
  return { status: Number(m[1]), urlId: Number(m[2]) };
}

/** A link cursor: `<from id>.<to id>`, both url ids. */
export function parseLinkCursor(cursor: string | null): [number, number] {
  if (cursor === null) return [0, 0];
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(cursor);
  if (!m) throw new RangeError('cursor: not a cursor crawl/links gave');
  return [Number(m[1]), Number(m[2])];
}

/** Redirect hops followed at most when a record's chain is read back (the fetcher's own limit is 10). */
const MAX_HOPS = 20;

/**
 * Redirect chains hop by hop, from URLs that redirect to their first hop: each hop is a record of
 * its own (fetched as a job of its own), so a chain is followed through the records.
 */
export async function redirectChains(
  store: PageStore,
  crawlId: string,
  starts: readonly { url: string; redirectTo: string | null }[],
): Promise<Map<string, { hops: string[]; finalUrl: string | null }>> {
  const chains = new Map<string, { hops: string[]; finalUrl: string | null }>();
  let open = starts.filter((r) => r.redirectTo !== null);
  for (const r of open) chains.set(r.url, { hops: [r.redirectTo as string], finalUrl: r.redirectTo });
  // Every chain advances one hop per round, in one read for all of them; one that comes back on
  // itself, or goes on past MAX_HOPS, ends nowhere.
  for (let hop = 1; open.length > 0; hop++) {
    const next = await store.redirectTargets(
      crawlId,
      open.map((r) => chains.get(r.url)!.hops.at(-1) as string),
    );
    open = open.filter((r) => {
      const chain = chains.get(r.url)!;
      const to = next.get(chain.hops.at(-1) as string);
      if (to === undefined) return false;
      chain.hops.push(to);
      chain.finalUrl = to === r.url || chain.hops.indexOf(to) < chain.hops.length - 1 || hop >= MAX_HOPS ? null : to;
      return chain.finalUrl !== null;
    });
  }
  return chains;
}

/** Records with their redirect chains followed: a page that redirected names the end of its chain as its final URL. */
export async function withChains(store: PageStore, crawlId: string, rows: readonly PageRow[]): Promise<PageInfo[]> {
  const chains = await redirectChains(store, crawlId, rows);
  // Field by field: a rest-and-spread copy cost 5 µs a record, a quarter of an export's.
  return rows.map((r): PageInfo => {
    const chain = chains.get(r.url);
    return {
      url: r.url,
      jobId: r.jobId,
      finalUrl: chain ? chain.finalUrl : r.status !== null ? r.url : null,
      redirects: chain?.hops ?? [],
      status: r.status,
      error: r.error,
      skipped: r.skipped,
      contentType: r.contentType,
      bytes: r.bytes,
      fetchMs: r.fetchMs,
      fetchedAt: r.fetchedAt,
      lastmod: r.lastmod,
      depth: r.depth,
      title: r.title,
      description: r.description,
      canonical: r.canonical,
      robots: r.robots,
      lang: r.lang,
      foundOn: r.foundOn,
      linkText: r.linkText,
      outlinks: r.outlinks,
      inlinks: r.inlinks,
      sha256: r.sha256,
      data: r.data,
    };
  });
}

/**
 * A followed link whose target was never fetched or tried: in a crawl that ended, the queue
 * refused it at the crawl's cap, or the crawl was cancelled before it came up.
 */
export function linkFate(link: Pick<LinkRow, 'reason' | 'hasPage'>, crawlState: string): { followed: boolean; reason: LinkReason | null } {
  if (link.reason !== null) return { followed: false, reason: link.reason };
  if (!link.hasPage && crawlState === 'finished') return { followed: false, reason: 'past max pages' };
  if (!link.hasPage && crawlState === 'cancelled') return { followed: false, reason: 'crawl cancelled' };
  return { followed: true, reason: null };
}

/** url ids and text ids remembered per store, at most: a crawl's pages link the same URLs over and over. */
const MAX_CACHED = 200_000;

/**
 * Ids of URLs and link texts already in the database, so most of a page's links cost no lookup.
 * Ids are never deleted, so a cached one stays true once its transaction commits; the SQLite
 * store caches them as it makes them, and forgets them all when a transaction rolls back.
 */
export class IdCache extends BoundedMap<string, number> {
  constructor(max = MAX_CACHED) {
    super(max);
  }
}

/** Crawls whose URL ids UrlIdCache keeps, each up to half of MAX_CACHED; the one written longest ago goes first. */
const CRAWLS_CACHED = 4;

/**
 * URL ids by crawl, then by URL: V8 keeps a string's hash on the string, so a link's URL, looked
 * up already by the frontier, costs no hashing here, where a `${crawlId} ${url}` key is a new
 * string to flatten and hash at every lookup (530 ns a lookup against 150, replaying a crawl's links).
 */
export class UrlIdCache {
  private readonly crawls = new Map<string, IdCache>();
  /** The crawl looked up last, and its ids: nearly every lookup is for the crawl before. */
  private last: [string, IdCache | undefined] = ['', undefined];

  get(crawlId: string, url: string): number | undefined {
    return this.of(crawlId)?.get(url);
  }

  set(crawlId: string, url: string, id: number): void {
    let ids = this.of(crawlId);
    if (!ids) {
      if (this.crawls.size >= CRAWLS_CACHED) this.crawls.delete(this.crawls.keys().next().value as string);
      this.crawls.set(crawlId, (ids = new IdCache(MAX_CACHED / 2)));
      this.last = [crawlId, ids];
    }
    ids.set(url, id);
  }

  clear(): void {
    this.crawls.clear();
    this.last = ['', undefined];
  }

  /** A crawl's ids, made the last to go. */
  private of(crawlId: string): IdCache | undefined {
    if (this.last[0] === crawlId && this.last[1] !== undefined) return this.last[1];
    const ids = this.crawls.get(crawlId);
    if (ids) {
      this.crawls.delete(crawlId);
      this.crawls.set(crawlId, ids);
    }
    this.last = [crawlId, ids];
    return ids;
  }
}

/**
 * Whether a write failed because of what was written rather than the database's state: such a
 * batch is written record by record, so that one bad record (a constraint, a value the engine
 * will not store) costs itself, not every record after it. SQLite's extended codes and
 * PostgreSQL's SQLSTATE classes 22 (data), 23 (integrity) and 54 (limits, a too-long index entry).
 */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/.test(code) || /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}

/**
 * Writes records; a batch refused for its data is written one record at a time, and records
 * refused alone are dropped, each logged. Throws only what the database's state caused (locked,
 * full, unreachable), for the caller to keep the batch and try again.
 */
export async function writeRecords(store: PageStore, batch: readonly PageWrite[], onlyNew: boolean, log: (level: 'warn', msg: string) => void): Promise<void> {
  try {
    await store.write(batch, onlyNew);
  } catch (err) {
    if (!isDataError(err)) throw err;
    for (const w of batch) {
      try {
        await store.write([w], onlyNew);
      } catch (one) {
        if (!isDataError(one)) throw one;
        leftOut(w, one, log);
      }
    }
  }
}

/**
 * writeRecords on a synchronous engine, inside the caller's transaction (each try a savepoint),
 * which must go on: only what `isStateError` names is thrown, and a record that fails for any
 * other reason is left out, where writeRecords would keep it to try again.
 */
export function writeRecordsNow(
  write: (batch: readonly PageWrite[]) => void,
  batch: readonly PageWrite[],
  log: (level: 'warn', msg: string) => void,
  isStateError: (err: unknown) => boolean,
): void {
  try {
    write(batch);
  } catch (err) {
    if (isStateError(err)) throw err;
    for (const w of batch) {
      try {
        write([w]);
      } catch (one) {
        if (isStateError(one)) throw one;
        leftOut(w, one, log);
      }
    }
  }
}

/** Logs a record left out, and why. */
export function leftOut(w: PageWrite, err: unknown, log: (level: 'warn', msg: string) => void): void {
  log('warn', `the record of ${w.url.slice(0, 200)} could not be stored, and is left out: ${(err as Error).message}`);
}
