import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { AckWriter } from '../core/types';
import { isBusy, retryWhileBusy } from '../core/sqlite/busy';
import { REPORT_LISTED } from '../protocol';
import {
  ENQUEUED_LINK_SQL,
  enqueues,
  FAILED_SQL,
  writeRecordsNow,
  LINK_SQL,
  RECORD_SQL,
  IdCache,
  isLinked,
  UrlIdCache,
  parseLinkCursor,
  urlKey,
  reasonCode,
  reasonOf,
  CLASS_SQL,
  searchPatterns,
  statusRange,
  type LinkRow,
  type LinksQuery,
  type PageRow,
  type PagesQuery,
  type PageStore,
  HTML_TYPES,
  type LinkWrite,
  type PageWrite,
  RATE_RECORDS,
  type RateBucket,
  type ReportCounts,
} from './pages';

/**
 * Migration 2 of the crawl component: page records and the link graph. URLs and link texts are
 * stored once and referred to by integer ids; an edge is four integers, so a page's links cost
 * about what its URLs cost the first time and a few bytes each after.
 */
export const PAGES_MIGRATION = `
  -- Every URL a crawl met: its pages and every link's target, in or out of scope.
  CREATE TABLE crawl_urls (
    id       INTEGER PRIMARY KEY,
    crawl_id TEXT    NOT NULL,
    url      TEXT    NOT NULL,
    key      BLOB    NOT NULL                   -- urlKey(crawl_id, url)
  );
  CREATE UNIQUE INDEX crawl_urls_key ON crawl_urls (key);

  -- Link texts, each once ("Home", "Next" are on every page).
  CREATE TABLE link_texts (
    id   INTEGER PRIMARY KEY,
    text TEXT    NOT NULL UNIQUE
  );

  -- A record per URL fetched or tried: its last attempt's outcome.
  CREATE TABLE pages (
    url_id       INTEGER PRIMARY KEY,           -- crawl_urls.id
    crawl_id     TEXT    NOT NULL,
    job_id       INTEGER,
    host         TEXT    NOT NULL,
    status       INTEGER,                       -- null: no response
    error        TEXT,
    skipped      INTEGER NOT NULL DEFAULT 0,    -- 1: not fetched on purpose (robots.txt, scope), not broken
    redirect_to  INTEGER,                       -- crawl_urls.id of a redirect's next hop
    content_type TEXT,
    bytes        INTEGER,
    fetch_ms     INTEGER,
    fetched_at   INTEGER,
    depth        INTEGER,
    title        TEXT,
    description  TEXT,
    canonical    TEXT,
    robots       TEXT,
    lang         TEXT,
    found_on     INTEGER,                       -- crawl_urls.id of the page that linked it first
    link_text    INTEGER,                       -- link_texts.id of that link
    outlinks     INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT,
    data         TEXT                           -- JSON, from extraction
  );
  CREATE INDEX pages_crawl    ON pages (crawl_id);
  CREATE INDEX pages_status   ON pages (crawl_id, status);
  CREATE INDEX pages_fetch_ms ON pages (crawl_id, fetch_ms);
  CREATE INDEX pages_bytes    ON pages (crawl_id, bytes);
  CREATE INDEX pages_broken   ON pages (crawl_id) WHERE error IS NOT NULL AND NOT skipped;

  -- The records counted by host, content type and status, kept as they are written (GroupRow).
  CREATE TABLE page_groups (
    crawl_id       TEXT    NOT NULL,
    host           TEXT    NOT NULL,
    content_type   TEXT    NOT NULL,              -- '' for none
    status         TEXT    NOT NULL,              -- the number, 'skipped' or 'error'
    pages          INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    fetch_ms_sum   INTEGER NOT NULL,
    fetch_ms_count INTEGER NOT NULL,
    missing_titles INTEGER NOT NULL,
    PRIMARY KEY (crawl_id, host, content_type, status)
  ) WITHOUT ROWID;

  -- The link graph: a page's links, one row per distinct target.
  CREATE TABLE links (
    from_id INTEGER NOT NULL,                   -- crawl_urls.id of the page
    to_id   INTEGER NOT NULL,                   -- crawl_urls.id of the target
    text_id INTEGER,                            -- link_texts.id; null for no text
    reason  INTEGER,                            -- null: followed; else an index of LINK_REASONS
    PRIMARY KEY (from_id, to_id)
  ) WITHOUT ROWID;
  CREATE INDEX links_to ON links (to_id, from_id);
`;

/**
 * Migration 3: what a record costs to write. A page's links are logged as one row and moved into
 * `links` in bulk, sorted (SqlitePageStore.move); the URL row keeps the followed link that
 * first met it, the found-on of its record; link texts are deduplicated by the writer's cache
 * rather than a unique index. Written one by one into `links` (two indexes, one of them in target
 * order) and `link_texts`, a record dirtied some eleven pages of the file: 44 KB of WAL each.
 */
export const LINK_LOG_MIGRATION = `
  -- Pages' links not yet in \`links\`, a row for each time a page's links were written; read through \`links\` only, after a move.
  CREATE TABLE links_pending (
    from_id INTEGER NOT NULL,
    links   TEXT    NOT NULL                    -- JSON [[to_id, text_id, reason], ...] in the page's order
  );
  ALTER TABLE crawl_urls ADD COLUMN found_on INTEGER;
  ALTER TABLE crawl_urls ADD COLUMN link_text INTEGER;
  -- URLs with no record yet (queued by a crawl under way) get their referrer as the records did.
  UPDATE crawl_urls SET (found_on, link_text) = (
    SELECT l.from_id, l.text_id FROM links l JOIN pages p ON p.url_id = l.from_id
     WHERE l.to_id = crawl_urls.id AND ${ENQUEUED_LINK_SQL} ORDER BY p.fetched_at, l.from_id LIMIT 1)
   WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE p.url_id = crawl_urls.id);

  -- Without its unique index: a text the writer's cache has forgotten is stored again.
  CREATE TABLE link_texts_cached (
    id   INTEGER PRIMARY KEY,
    text TEXT    NOT NULL
  );
  INSERT INTO link_texts_cached (id, text) SELECT id, text FROM link_texts;
  DROP TABLE link_texts;
  ALTER TABLE link_texts_cached RENAME TO link_texts;
`;

/**
 * Migration 5: records are logged too. Written into `pages` one by one, a record dirtied a page of
 * each of its five indexes at every commit; logged (the last for each URL) and moved in url id
 * order with the links, replaying the benchmark crawl's 20,400 records wrote 272 MB of WAL
 * instead of 485, and took 86 µs of CPU a record instead of 102 (old and new builds interleaved).
 */
export const PAGES_LOG_MIGRATION = `
  -- Records not yet in \`pages\`, the last written for each URL; \`pages\`' columns, in its order (a test keeps them so).
  CREATE TABLE pages_pending (
    url_id       INTEGER PRIMARY KEY,
    crawl_id     TEXT    NOT NULL,
    job_id       INTEGER,
    host         TEXT    NOT NULL,
    status       INTEGER,
    error        TEXT,
    skipped      INTEGER NOT NULL DEFAULT 0,
    redirect_to  INTEGER,
    content_type TEXT,
    bytes        INTEGER,
    fetch_ms     INTEGER,
    fetched_at   INTEGER,
    depth        INTEGER,
    title        TEXT,
    description  TEXT,
    canonical    TEXT,
    robots       TEXT,
    lang         TEXT,
    found_on     INTEGER,
    link_text    INTEGER,
    outlinks     INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT,
    data         TEXT
  );
`;

/** Migration 6: a sitemap's `<lastmod>` for the URLs it named. */
export const LASTMOD_MIGRATION = `
  ALTER TABLE pages ADD COLUMN lastmod TEXT;
  ALTER TABLE pages_pending ADD COLUMN lastmod TEXT;
`;

/**
 * Migration 7: a page's links kept with its record, and indexed by target only. Kept twice (by page
 * and by target, two B-trees written at every move), the graph was 0.89 of the 2.4 database pages a
 * record wrote to the WAL, replaying the benchmark crawl's 20,400 records; forward reads (a page's
 * links, an export) come from the record's JSON, sorted by target.
 *
 * The index by target is two tables, read as one (the view \`links\`): each move's links go into
 * \`links_recent\`, small, and are merged into \`links_merged\` in slices of targets once it holds
 * RECENT_MERGED_AT (SqlitePageStore.mergeSlice). A move straight into one big index rewrote a
 * leaf of it for every few links as it grew: replaying 7,000 records of pages shaped like real
 * ones (70 links each), 8 of the 10 WAL pages a record wrote and 338 µs of CPU a record.
 */
export const LINKS_BY_TARGET_MIGRATION = `
  -- The logs moved in as SqlitePageStore.move did (the records logged are counted in page_groups already).
  INSERT OR IGNORE INTO links (from_id, to_id, text_id, reason)
  SELECT p.from_id, j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM links_pending p, json_each(p.links) j
   ORDER BY p.from_id, j.value ->> 0, p.rowid, j.key;
  DROP TABLE links_pending;
  INSERT OR REPLACE INTO pages SELECT * FROM pages_pending ORDER BY url_id;
  DROP TABLE pages_pending;

  ALTER TABLE pages ADD COLUMN links TEXT;          -- JSON [[to_id, text_id, reason], ...], a link a target, by to_id
  UPDATE pages SET links = (SELECT json_group_array(json_array(to_id, text_id, reason) ORDER BY to_id) FROM links WHERE from_id = pages.url_id)
   WHERE outlinks > 0;

  -- Links by target: whose links reach a URL (inlinks, referrers), in two parts read as one.
  CREATE TABLE links_merged (
    to_id   INTEGER NOT NULL,
    from_id INTEGER NOT NULL,
    text_id INTEGER,
    reason  INTEGER,
    PRIMARY KEY (to_id, from_id)
  ) WITHOUT ROWID;
  INSERT INTO links_merged (to_id, from_id, text_id, reason) SELECT to_id, from_id, text_id, reason FROM links ORDER BY to_id, from_id;
  DROP TABLE links;
  -- The links moved in since the last merge, from the log as it is moved.
  CREATE TABLE links_recent (
    to_id   INTEGER NOT NULL,
    from_id INTEGER NOT NULL,
    text_id INTEGER,
    reason  INTEGER,
    PRIMARY KEY (to_id, from_id)
  ) WITHOUT ROWID;
  -- A link is in one or the other (a merge moves it; a page fetched again drops its links from both).
  CREATE VIEW links AS
    SELECT to_id, from_id, text_id, reason FROM links_merged UNION ALL SELECT to_id, from_id, text_id, reason FROM links_recent;

  -- Records not yet in \`pages\`, with their links, appended to: keyed by url id, a record's row went where its id
  -- fell, and every commit rewrote several of the log's pages (0.57 of the 2.4 a record wrote, replayed).
  -- \`pages\`' columns, in its order (a test keeps them so).
  CREATE TABLE pages_pending (
    url_id       INTEGER NOT NULL,
    crawl_id     TEXT    NOT NULL,
    job_id       INTEGER,
    host         TEXT    NOT NULL,
    status       INTEGER,
    error        TEXT,
    skipped      INTEGER NOT NULL DEFAULT 0,
    redirect_to  INTEGER,
    content_type TEXT,
    bytes        INTEGER,
    fetch_ms     INTEGER,
    fetched_at   INTEGER,
    depth        INTEGER,
    title        TEXT,
    description  TEXT,
    canonical    TEXT,
    robots       TEXT,
    lang         TEXT,
    found_on     INTEGER,
    link_text    INTEGER,
    outlinks     INTEGER NOT NULL DEFAULT 0,
    sha256       TEXT,
    data         TEXT,
    lastmod      TEXT,
    links        TEXT
  );
  -- The last record of a URL replaces the one before (INSERT OR REPLACE).
  CREATE UNIQUE INDEX pages_pending_url ON pages_pending (url_id);
`;

/**
 * Links logged (with their records, in `pages_pending`) before they are moved into `links` in one
 * sorted statement, which dirties each page of its index once for all its links. Replaying the 20,400 records of the benchmark's
 * crawl as it wrote them (about 6 a transaction, 5 links each): 128 µs of CPU and 44 KB of WAL a
 * record written straight into `links` and a unique `link_texts`, 88 µs and 23 KB through the
 * log; a move took 5-10 ms on the daemon's thread (twice as long at 8,000, for no less CPU).
 */
export const LINKS_MOVED_AT = 4_000;
/** Links in `links_recent` that start a merge into `links_merged` (LINKS_BY_TARGET_MIGRATION). */
export const RECENT_MERGED_AT = 64_000;
/** Links merged a write, at most (a slice ends with its target's last link): about what a move writes. */
export const MERGE_SLICE = 4_000;
/** Records logged before they are moved, for pages with few links (errors, redirects). */
export const PAGES_MOVED_AT = 1_000;

/**
 * What the database's state caused (locked, full, unwritable, gone), to fail an acknowledgement's
 * batch and be tried again with it; anything else a record caused (a constraint, a value SQLite
 * will not bind) costs that record alone.
 */
function isStateError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|READONLY|CORRUPT|CANTOPEN|NOTADB|PROTOCOL|INTERRUPT)/.test(code);
  return err instanceof TypeError && /database connection is not open/.test(err.message);
}

/** A record's group row's columns (GroupRow): its status as counted, then what it adds. */
const GROUP_OF = `
  crawl_id, host, coalesce(content_type, '') AS content_type,
  CASE WHEN status IS NOT NULL THEN CAST(status AS TEXT) WHEN skipped THEN 'skipped' ELSE 'error' END AS status,
  error IS NOT NULL AND NOT skipped AS failed, fetch_ms,
  (title IS NULL AND status BETWEEN 200 AND 299 AND content_type IN (${[...HTML_TYPES].map((t) => `'${t}'`).join(', ')})) IS TRUE AS missing_title`;

/** The columns of `pages` and `pages_pending` a record writes. */
const WRITTEN = `url_id, crawl_id, job_id, host, status, error, skipped, redirect_to, content_type, bytes, fetch_ms,
                 fetched_at, depth, title, description, canonical, robots, lang, found_on, link_text, outlinks, sha256, data, lastmod, links`;

/**
 * LINK_SQL's columns, read from the pages' own links (the engines share LINK_SQL for links by target).
 * A page's links are read with jsonb_each, here and in the statements below: json_each gives each
 * link as JSON text, which every \`->>\` parses again; jsonb_each gives it as JSONB, read in place.
 * Taking 1.2 million links of 70-link pages apart, 0.34 µs a link against 0.55; moving them into
 * \`links_recent\` (a 4,000-link move a transaction, with its commit), 1.35 µs against 1.55.
 */
const OUTLINK_SQL = `
  SELECT f.url AS "from", u.url AS "to", t.text, j.value ->> 2 AS reason, p.url_id AS "fromId", j.value ->> 0 AS "toId",
         EXISTS (SELECT 1 FROM pages x WHERE x.url_id = j.value ->> 0) AS "hasPage"
    FROM pages p
    JOIN jsonb_each(p.links) j
    JOIN crawl_urls f ON f.id = p.url_id
    JOIN crawl_urls u ON u.id = j.value ->> 0
    LEFT JOIN link_texts t ON t.id = j.value ->> 1`;

const SQL = {
  urlId: `SELECT id FROM crawl_urls WHERE key = ?`,
  /** `found`: whether the URL's found-on is known (see urlId). */
  urlRow: `SELECT id, found_on IS NOT NULL AS found FROM crawl_urls WHERE key = ?`,
  insertUrl: `INSERT INTO crawl_urls (crawl_id, url, key, found_on, link_text) VALUES (?, ?, ?, ?, ?)`,
  foundUrl: `UPDATE crawl_urls SET found_on = ?, link_text = ? WHERE id = ? AND found_on IS NULL`,
  insertText: `INSERT INTO link_texts (text) VALUES (?)`,
  /**
   * Whether the URL has a record (\`has\`): the one logged, which comes after the one in \`pages\`;
   * its found-on; how many links the record in \`pages\` has in the index by target (none once one logged
   * replaced it: they were dropped then); the URL's own found-on.
   */
  existing: `
    SELECT coalesce(q.url_id, p.url_id) IS NOT NULL AS has, iif(q.url_id IS NULL, p.found_on, q.found_on) AS foundOn,
           iif(q.url_id IS NULL, p.link_text, q.link_text) AS linkText, iif(q.url_id IS NULL, coalesce(p.outlinks, 0), 0) AS movedLinks,
           u.found_on AS urlFoundOn, u.link_text AS urlLinkText
      FROM crawl_urls u LEFT JOIN pages_pending q ON q.url_id = u.id LEFT JOIN pages p ON p.url_id = u.id
     WHERE u.id = ?`,
  /**
   * The logged records counted into their groups, and the records in \`pages\` they replace counted
   * out, before the move: one statement a move, where a statement a batch (its sums made in JavaScript) cost 4 µs a
   * record and a page of the WAL at every commit (replayed).
   */
  moveGroups: `
    INSERT INTO page_groups (crawl_id, host, content_type, status, pages, failed, fetch_ms_sum, fetch_ms_count, missing_titles)
    SELECT crawl_id, host, content_type, status, sum(sign), sum(sign * failed), sum(sign * coalesce(fetch_ms, 0)), sum(sign * (fetch_ms IS NOT NULL)),
           sum(sign * missing_title)
      FROM (SELECT 1 AS sign, ${GROUP_OF} FROM pages_pending
            UNION ALL
            SELECT -1, ${GROUP_OF} FROM pages WHERE url_id IN (SELECT url_id FROM pages_pending))
     GROUP BY crawl_id, host, content_type, status
    ON CONFLICT DO UPDATE SET pages = pages + excluded.pages, failed = failed + excluded.failed,
      fetch_ms_sum = fetch_ms_sum + excluded.fetch_ms_sum, fetch_ms_count = fetch_ms_count + excluded.fetch_ms_count,
      missing_titles = missing_titles + excluded.missing_titles`,
  /** Bound by position, in WRITTEN's order: named, the 22 values cost 3-10 µs more a record (replayed). */
  logPage: `INSERT OR REPLACE INTO pages_pending (${WRITTEN}) VALUES (${WRITTEN.split(',')
    .map(() => '?')
    .join(', ')})`,
  movePages: `INSERT OR REPLACE INTO pages (${WRITTEN}) SELECT ${WRITTEN} FROM pages_pending ORDER BY url_id`,
  clearPages: `DELETE FROM pages_pending`,
  /** The links of the URL's moved record, out of the index by target (those of one still logged are not in it yet). */
  dropMerged: `DELETE FROM links_merged WHERE (to_id, from_id) IN (SELECT j.value ->> 0, p.url_id FROM pages p, jsonb_each(p.links) j WHERE p.url_id = ?)`,
  dropRecent: `DELETE FROM links_recent WHERE (to_id, from_id) IN (SELECT j.value ->> 0, p.url_id FROM pages p, jsonb_each(p.links) j WHERE p.url_id = ?)`,
  hasPending: `SELECT EXISTS (SELECT 1 FROM pages_pending)`,
  /** In index order. REPLACE, though a page's links are each logged once: a conflict here would stop every move after it. */
  movePending: `
    INSERT OR REPLACE INTO links_recent (to_id, from_id, text_id, reason)
    SELECT j.value ->> 0, p.url_id, j.value ->> 1, j.value ->> 2 FROM pages_pending p, jsonb_each(p.links) j
     ORDER BY 1, 2`,
  page: `${RECORD_SQL} WHERE p.url_id = (SELECT id FROM crawl_urls WHERE key = ?)`,
  /** Each part's first in index order, then the first of both: through the view, SQLite sorted every inlink (12× at 2,000). */
  inlinks: `
    SELECT f.url, coalesce(t.text, '') AS text
      FROM (SELECT * FROM (SELECT from_id, text_id FROM links_merged WHERE to_id = @to ORDER BY from_id LIMIT @limit)
            UNION ALL
            SELECT * FROM (SELECT from_id, text_id FROM links_recent WHERE to_id = @to ORDER BY from_id LIMIT @limit)) l
      JOIN crawl_urls f ON f.id = l.from_id LEFT JOIN link_texts t ON t.id = l.text_id
     ORDER BY l.from_id LIMIT @limit`,
  inlinkCount: `SELECT count(*) FROM links WHERE to_id = ?`,
  recentLinks: `SELECT count(*) FROM links_recent`,
  /** The target that ends a merge's slice of about MERGE_SLICE links after \`after\` (none: the rest). */
  sliceEnd: `SELECT to_id FROM links_recent WHERE to_id > ? ORDER BY to_id LIMIT 1 OFFSET ${MERGE_SLICE}`,
  /** REPLACE: a link in \`links_recent\` is the newer. */
  mergeSlice: `INSERT OR REPLACE INTO links_merged SELECT * FROM links_recent WHERE to_id > ? AND to_id <= ? ORDER BY to_id, from_id`,
  clearSlice: `DELETE FROM links_recent WHERE to_id > ? AND to_id <= ?`,
  /** Pages in url id order, each page's links in target order (as its JSON keeps them). */
  linksAll: `
    ${OUTLINK_SQL}
     WHERE p.crawl_id = @crawlId AND p.url_id >= @from AND (p.url_id > @from OR j.value ->> 0 > @to)
     ORDER BY p.url_id, j.value ->> 0 LIMIT @limit`,
  linksFrom: `${OUTLINK_SQL} WHERE p.url_id = ? AND j.value ->> 0 > ? ORDER BY j.value ->> 0 LIMIT ?`,
  link: `${OUTLINK_SQL} WHERE p.url_id = ? AND j.value ->> 0 = ?`,
  linksTo: `${LINK_SQL} WHERE l.to_id = ? AND l.from_id > ? ORDER BY l.from_id LIMIT ?`,
  redirectTarget: `
    SELECT r.url FROM pages p JOIN crawl_urls r ON r.id = p.redirect_to
     WHERE p.url_id = (SELECT id FROM crawl_urls WHERE key = ?)`,

  groups: `
    SELECT host, content_type AS contentType, status, pages, failed, fetch_ms_sum AS fetchMsSum, fetch_ms_count AS fetchMsCount,
           missing_titles AS missingTitles
      FROM page_groups WHERE crawl_id = ? AND pages > 0`,
  /** Through pages_broken, a partial index of exactly these; referrers counted in each part (through the view, SQLite scanned both). */
  broken: `
    SELECT u.url, p.url_id AS urlId, p.status, p.error,
           (SELECT count(*) FROM links_merged l WHERE l.to_id = p.url_id) + (SELECT count(*) FROM links_recent l WHERE l.to_id = p.url_id) AS referrerCount,
           f.url AS foundOn
      FROM pages p JOIN crawl_urls u ON u.id = p.url_id LEFT JOIN crawl_urls f ON f.id = p.found_on
     WHERE p.crawl_id = ? AND ${FAILED_SQL}`,
  redirects: `
    SELECT u.url, p.status, r.url AS redirectTo
      FROM pages p JOIN crawl_urls u ON u.id = p.url_id LEFT JOIN crawl_urls r ON r.id = p.redirect_to
     WHERE p.crawl_id = ? AND p.status BETWEEN 300 AND 399 ORDER BY p.url_id LIMIT ${REPORT_LISTED}`,
  slowest: `
    SELECT u.url, p.fetch_ms AS fetchMs FROM pages p JOIN crawl_urls u ON u.id = p.url_id
     WHERE p.crawl_id = ? AND p.fetch_ms IS NOT NULL ORDER BY p.fetch_ms DESC LIMIT 10`,
  largest: `
    SELECT u.url, p.bytes FROM pages p JOIN crawl_urls u ON u.id = p.url_id
     WHERE p.crawl_id = ? AND p.bytes IS NOT NULL ORDER BY p.bytes DESC LIMIT 10`,
  rates: `
    SELECT fetched_at - fetched_at % @bucket AS at, count(*) AS pages, sum(${FAILED_SQL}) AS failures
      FROM (SELECT fetched_at, error, skipped FROM pages INDEXED BY pages_crawl WHERE crawl_id = @crawlId ORDER BY rowid DESC LIMIT @most)
     WHERE fetched_at >= @from AND fetched_at < @to AND NOT skipped GROUP BY 1 ORDER BY 1`,
} as const;

type LinkSqlRow = { from: string; to: string; text: string | null; reason: number | null; fromId: number; toId: number; hasPage: number };

function toLink(r: LinkSqlRow): LinkRow {
  return { from: r.from, to: r.to, text: r.text ?? '', reason: reasonOf(r.reason), hasPage: r.hasPage === 1, cursor: `${r.fromId}.${r.toId}` };
}

/** RECORD_SQL's columns, in order: `recordOf` reads them by position. */
const RECORD_COLUMNS = [
  'urlId',
  'url',
  'jobId',
  'host',
  'status',
  'error',
  'skipped',
  'redirectTo',
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
] as const;

/**
 * A RECORD_SQL row, read as an array, made a record: better-sqlite3 builds a row object key by key
 * (7-8 µs a record), an array and a literal cost 3.8 µs; an export is mostly this.
 */
function recordOf(a: unknown[]): PageRow {
  type N = number | null;
  type S = string | null;
  // Typed field by field, so that a field PageRow gains and this misses does not compile.
  const row: PageRow = {
    urlId: a[0] as number,
    url: a[1] as string,
    jobId: a[2] as N,
    host: a[3] as string,
    status: a[4] as N,
    error: a[5] as S,
    skipped: a[6] === 1,
    redirectTo: a[7] as S,
    contentType: a[8] as S,
    bytes: a[9] as N,
    fetchMs: a[10] as N,
    fetchedAt: a[11] as N,
    lastmod: a[12] as S,
    depth: a[13] as N,
    title: a[14] as S,
    description: a[15] as S,
    canonical: a[16] as S,
    robots: a[17] as S,
    lang: a[18] as S,
    foundOn: a[19] as S,
    linkText: a[20] as S,
    outlinks: a[21] as number,
    inlinks: a[22] as number,
    sha256: a[23] as S,
    data: a[24] === null ? null : (JSON.parse(a[24] as string) as Record<string, unknown>),
  };
  return row;
}

/** A RECORD_SQL statement, prepared to give arrays, its columns checked against what recordOf reads. */
function recordStatement(db: Database.Database, sql: string): Statement {
  const s = db.prepare(sql).raw(true);
  const names = s.columns().map((c) => c.name);
  if (names.join() !== RECORD_COLUMNS.join()) throw new Error(`page record columns out of step: ${names.join()}`);
  return s;
}

/** What writeOne reads of a URL before writing its record (SQL.existing). */
interface ExistingRow {
  has: number;
  foundOn: number | null;
  linkText: number | null;
  movedLinks: number;
  urlFoundOn: number | null;
  urlLinkText: number | null;
}

/** Page records and links in the SQLite queue's own file, written on its connection. */
export class SqlitePageStore implements PageStore {
  private readonly s: { [K in keyof typeof SQL]: Statement };
  private readonly urlIds = new UrlIdCache();
  private readonly textIds = new IdCache();
  private readonly queries = new Map<string, Statement>();
  /** Links and records logged since the logs were last moved. */
  private logged = { links: 0, pages: 0 };
  /** Links in \`links_recent\`, as this store counts them (other processes move links in too). */
  private recent: number;
  /** The target a merge into \`links_merged\` has reached; null: no merge under way. */
  private merged: number | null = null;

  constructor(private readonly db: Database.Database) {
    this.s = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, k === 'page' ? recordStatement(db, v) : db.prepare(v)])) as SqlitePageStore['s'];
    this.recent = this.s.recentLinks.pluck().get() as number;
  }

  async write(batch: readonly PageWrite[], onlyNew = false): Promise<void> {
    if (batch.length === 0) return;
    await retryWhileBusy(() => {
      try {
        this.db.transaction(() => this.writeAll(batch, onlyNew)).immediate();
      } catch (err) {
        // A lock refused at BEGIN made nothing.
        if (!isBusy(err)) this.forgetIds();
        throw err;
      }
    }, this.db.name);
  }

  /**
   * Records written with the acknowledgements of their attempts (SqliteQueue's AckWriter), in their
   * transaction: no attempt that did not count leaves one, and a page costs one commit, not two.
   * A record that fails for anything but the database's state is rolled back alone (savepoints, as
   * writeRecords does with transactions), and the acknowledgements go on.
   */
  ackHook(log: (level: 'warn', msg: string) => void): AckWriter {
    const inSavepoint = this.db.transaction((batch: readonly PageWrite[]) => this.writeAll(batch, false));
    const savepoint = (batch: readonly PageWrite[]) => {
      try {
        inSavepoint(batch);
      } catch (err) {
        this.forgetIds();
        throw err;
      }
    };
    return {
      write: (attached) => writeRecordsNow(savepoint, attached as PageWrite[], log, isStateError),
      rolledBack: () => this.forgetIds(),
    };
  }

  private writeAll(batch: readonly PageWrite[], onlyNew: boolean): void {
    for (const w of batch) this.writeOne(w, onlyNew);
    if (this.logged.links >= LINKS_MOVED_AT || this.logged.pages >= PAGES_MOVED_AT) this.move();
    else if (this.merged !== null) this.mergeSlice(this.merged);
    else if (this.recent >= RECENT_MERGED_AT) this.merged = 0;
  }

  /**
   * Moves the next slice of \`links_recent\` (by target, after \`after\`) into \`links_merged\`, one
   * a write, each about what a move writes: a merge at once rewrote most of the big index in
   * one write. Both are read as one, so a slice merged or not reads the same; one rolled back
   * (with its write) is merged by the next pass.
   */
  private mergeSlice(after: number): void {
    const end = this.s.sliceEnd.pluck().get(after) as number | undefined;
    const to = end ?? Number.MAX_SAFE_INTEGER;
    this.s.mergeSlice.run(after, to);
    this.s.clearSlice.run(after, to);
    if (end !== undefined) {
      this.merged = end;
    } else {
      this.merged = null;
      this.recent = this.s.recentLinks.pluck().get() as number;
    }
  }

  /** Ids are cached as they are made: those of a transaction rolled back would be wrong. */
  private forgetIds(): void {
    this.urlIds.clear();
    this.textIds.clear();
    // A merge's slice or a move rolled back with them: the merge starts again from the first target, counted anew.
    this.merged = null;
    this.recent = this.s.recentLinks.pluck().get() as number;
  }

  private writeOne(w: PageWrite, onlyNew: boolean): void {
    const urlId = this.urlId(w.crawlId, w.url, null);
    const known = this.s.existing.get(urlId) as ExistingRow;
    const existing = known.has === 1 ? known : null;
    if (existing && onlyNew) return;
    let foundOn = existing?.foundOn ?? null;
    let linkText = existing?.linkText ?? null;
    if (!existing && w.via.length > 0) foundOn = this.urlId(w.crawlId, w.via[w.via.length - 1], null);
    else if (!existing && isLinked(w)) [foundOn, linkText] = [known.urlFoundOn, known.urlLinkText];
    // A record still logged is replaced with its links; one moved has its links in the index by target.
    if (known.movedLinks > 0) {
      this.s.dropMerged.run(urlId);
      this.s.dropRecent.run(urlId);
    }
    const links = w.links && w.links.length > 0 ? this.linksOf(w.crawlId, urlId, w.links) : null;
    this.s.logPage.run(
      urlId,
      w.crawlId,
      w.jobId,
      w.host,
      w.status,
      w.error,
      w.skipped ? 1 : 0,
      w.redirectTo === null ? null : this.urlId(w.crawlId, w.redirectTo, null),
      w.contentType,
      w.bytes,
      w.fetchMs,
      w.fetchedAt,
      w.depth,
      w.title,
      w.description,
      w.canonical,
      w.robots,
      w.lang,
      foundOn,
      linkText,
      w.links?.length ?? 0,
      w.sha256,
      w.data === null ? null : JSON.stringify(w.data),
      w.lastmod,
      links === null ? null : JSON.stringify(links),
    );
    this.logged.pages++;
    this.logged.links += links?.length ?? 0;
  }

  /** A page's links as its record keeps them: [to_id, text_id, reason], the first link to each target, by to_id. */
  private linksOf(crawlId: string, urlId: number, links: readonly LinkWrite[]): [number, number | null, number | null][] {
    const byTarget = new Map<number, [number, number | null, number | null]>();
    for (const link of links) {
      const textId = this.textId(link.text);
      const toId = this.urlId(crawlId, link.url, enqueues(link.reason) ? [urlId, textId] : null);
      if (!byTarget.has(toId)) byTarget.set(toId, [toId, textId, reasonCode(link.reason)]);
    }
    return [...byTarget.values()].sort((a, b) => a[0] - b[0]);
  }

  /** Moves the logged records and links into `pages` and `links`, inside the caller's transaction. */
  private move(): void {
    this.s.moveGroups.run();
    this.recent += this.s.movePending.run().changes;
    this.s.movePages.run();
    this.s.clearPages.run();
    this.logged = { links: 0, pages: 0 };
  }

  /** The logs moved in now, inside the caller's transaction (a crawl finishing; SQL that reads the tables itself). */
  moveLogs(): void {
    if (this.s.hasPending.pluck().get() === 1) this.move();
  }

  /**
   * Before a read of `pages` or `links`: the logs moved in, whoever wrote them (another process, a
   * run that stopped), waiting out another process's lock as writes do. A read must go on while
   * the database takes no writes (locked past that, the disk full): it reads without what was
   * logged last, which the next write that gets through moves in; but a paged read (`complete`:
   * an export) fails, for what came in behind its cursor would be skipped without a word.
   */
  private async current(complete = false): Promise<void> {
    if (this.s.hasPending.pluck().get() === 0) return;
    try {
      await retryWhileBusy(() => this.db.transaction(() => this.move()).immediate(), this.db.name);
    } catch (err) {
      if (complete) throw new Error(`the page records logged last could not be moved in to be read: ${(err as Error).message}`);
    }
  }

  /**
   * A URL's id, made if new. `via`: a link that puts the URL in the queue ([page id, text id]),
   * which becomes its found-on if it has none yet. Cached ids are negative while the URL's
   * found-on is unknown, so a followed link costs no statement once it is known.
   */
  private urlId(crawlId: string, url: string, via: [number, number | null] | null): number {
    let cached = this.urlIds.get(crawlId, url);
    if (cached === undefined) {
      const k = urlKey(crawlId, url);
      const row = this.s.urlRow.get(k) as { id: number; found: number } | undefined;
      if (row === undefined) {
        const id = Number(this.s.insertUrl.run(crawlId, url, k, via?.[0] ?? null, via?.[1] ?? null).lastInsertRowid);
        this.urlIds.set(crawlId, url, via ? id : -id);
        return id;
      }
      cached = row.found === 1 ? row.id : -row.id;
      this.urlIds.set(crawlId, url, cached);
    }
    if (cached < 0 && via !== null) {
      this.s.foundUrl.run(via[0], via[1], -cached);
      this.urlIds.set(crawlId, url, -cached);
    }
    return Math.abs(cached);
  }

  /** A text's id, made if the cache does not have it (see LINK_LOG_MIGRATION). */
  private textId(text: string): number | null {
    if (text === '') return null;
    const cached = this.textIds.get(text);
    if (cached !== undefined) return cached;
    const id = Number(this.s.insertText.run(text).lastInsertRowid);
    this.textIds.set(text, id);
    return id;
  }

  async pages(crawlId: string, q: PagesQuery): Promise<PageRow[]> {
    await this.current(true);
    const range = q.status === undefined ? undefined : statusRange(q.status);
    const [search, searchUrl] = q.search === undefined ? [] : searchPatterns(q.search);
    const [low, high] = Array.isArray(range) ? range : [];
    const params = { crawlId, afterStatus: q.after.status, afterId: q.after.urlId, limit: q.limit, low, high, search, searchUrl };
    const query = (where: string[], order: string, p: typeof params) => {
      if (search !== undefined) {
        where.push(`(u.url LIKE @search ESCAPE '\\' OR p.title LIKE @search ESCAPE '\\'${searchUrl ? ` OR u.url LIKE @searchUrl ESCAPE '\\'` : ''})`);
      }
      // Built from fixed fragments only; every value is a bound parameter.
      const sql = `${RECORD_SQL} WHERE p.crawl_id = @crawlId AND ${where.join(' AND ')} ORDER BY ${order} LIMIT @limit`;
      return (this.prepared(sql).all(Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined))) as unknown[][]).map(recordOf);
    };
    if (range === undefined) return query(['p.url_id > @afterId'], 'p.url_id', params);
    // `failed` as pages_broken is made: its partial index, in url id order.
    if (typeof range === 'string') return query([CLASS_SQL[range], 'p.url_id > @afterId'], 'p.url_id', params);
    // A status range in pages_status order: the rest of the cursor's status (an equality, so an
    // index seek past its url id), then the statuses after it. One query with both conditions
    // walked every earlier row of the status: 17 ms a page at 300,000.
    const rows = range[0] <= q.after.status && q.after.status <= range[1] ? query(['p.status = @afterStatus', 'p.url_id > @afterId'], 'p.url_id', params) : [];
    if (rows.length < q.limit) {
      rows.push(...query(['p.status > @afterStatus', 'p.status BETWEEN @low AND @high'], 'p.status, p.url_id', { ...params, limit: q.limit - rows.length }));
    }
    return rows;
  }

  /** The few shapes of the pages query, each prepared once. */
  private prepared(sql: string): Statement {
    let s = this.queries.get(sql);
    if (!s) this.queries.set(sql, (s = recordStatement(this.db, sql)));
    return s;
  }

  async page(crawlId: string, url: string): Promise<PageRow | null> {
    await this.current();
    const r = this.s.page.get(urlKey(crawlId, url)) as unknown[] | undefined;
    return r ? recordOf(r) : null;
  }

  async inlinks(crawlId: string, url: string, limit: number): Promise<{ links: { url: string; text: string }[]; count: number }> {
    await this.current();
    const id = this.s.urlId.pluck().get(urlKey(crawlId, url)) as number | undefined;
    if (id === undefined) return { links: [], count: 0 };
    return {
      links: this.s.inlinks.all({ to: id, limit }) as { url: string; text: string }[],
      count: this.s.inlinkCount.pluck().get(id) as number,
    };
  }

  async links(crawlId: string, q: LinksQuery): Promise<LinkRow[]> {
    await this.current(true);
    const [afterFrom, afterTo] = parseLinkCursor(q.after);
    const idOf = (url: string) => this.s.urlId.pluck().get(urlKey(crawlId, url)) as number | undefined;
    let rows: LinkSqlRow[];
    if (q.from !== undefined && q.to !== undefined) {
      const [from, to] = [idOf(q.from), idOf(q.to)];
      rows = from === undefined || to === undefined || q.after !== null ? [] : (this.s.link.all(from, to) as LinkSqlRow[]);
    } else if (q.from !== undefined) {
      const from = idOf(q.from);
      rows = from === undefined ? [] : (this.s.linksFrom.all(from, afterTo, q.limit) as LinkSqlRow[]);
    } else if (q.to !== undefined) {
      const to = idOf(q.to);
      rows = to === undefined ? [] : (this.s.linksTo.all(to, afterFrom, q.limit) as LinkSqlRow[]);
    } else {
      rows = this.s.linksAll.all({ crawlId, from: afterFrom, to: afterTo, limit: q.limit }) as LinkSqlRow[];
    }
    return rows.map(toLink);
  }

  async redirectTargets(crawlId: string, urls: readonly string[]): Promise<Map<string, string>> {
    await this.current();
    const out = new Map<string, string>();
    for (const url of urls) {
      const to = this.s.redirectTarget.pluck().get(urlKey(crawlId, url)) as string | undefined;
      if (to !== undefined) out.set(url, to);
    }
    return out;
  }

  async referrers(urlIds: readonly number[], limit: number): Promise<Map<number, { url: string; text: string }[]>> {
    await this.current();
    return new Map(urlIds.map((id) => [id, this.s.inlinks.all({ to: id, limit }) as { url: string; text: string }[]]));
  }

  async rates(crawlId: string, from: number, to: number, bucketMs: number): Promise<RateBucket[]> {
    await this.current();
    return this.s.rates.all({ crawlId, from, to, bucket: bucketMs, most: RATE_RECORDS }) as RateBucket[];
  }

  async reportCounts(crawlId: string): Promise<ReportCounts> {
    await this.current();
    // One snapshot for every figure: a read transaction in WAL mode sees one state of the file.
    return this.db
      .transaction(() => ({
        groups: this.s.groups.all(crawlId) as ReportCounts['groups'],
        broken: this.s.broken.all(crawlId) as ReportCounts['broken'],
        redirects: this.s.redirects.all(crawlId) as ReportCounts['redirects'],
        slowest: this.s.slowest.all(crawlId) as ReportCounts['slowest'],
        largest: this.s.largest.all(crawlId) as ReportCounts['largest'],
      }))
      .deferred();
  }
}
