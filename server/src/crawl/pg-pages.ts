import type pg from 'pg';
import { wellFormed } from '../core/failure-reason';
import type { AckCall } from '../core/types';
import { REPORT_LISTED } from '../protocol';
import {
  ENQUEUED_LINK_SQL,
  FAILED_SQL,
  LINK_SQL,
  RECORD_SQL,
  HTML_TYPES,
  IdCache,
  isLinked,
  leftOut,
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
  type PageWrite,
  RATE_RECORDS,
  type RateBucket,
  type ReportCounts,
} from './pages';

/** Migration 2 of the crawl component on PostgreSQL: the design of sqlite-pages.ts. */
export const PG_PAGES_MIGRATION = `
  CREATE TABLE crawl_urls (
    id       bigserial PRIMARY KEY,
    crawl_id text      NOT NULL,
    url      text      NOT NULL,
    key      bytea     NOT NULL UNIQUE           -- urlKey(crawl_id, url)
  );
  CREATE TABLE link_texts (
    id   bigserial PRIMARY KEY,
    text text      NOT NULL UNIQUE
  );
  CREATE TABLE pages (
    url_id       bigint   PRIMARY KEY,
    crawl_id     text     NOT NULL,
    job_id       bigint,
    host         text     NOT NULL,
    status       integer,
    error        text,
    skipped      boolean  NOT NULL DEFAULT false,
    redirect_to  bigint,
    content_type text,
    bytes        bigint,
    fetch_ms     integer,
    fetched_at   bigint,
    depth        integer,
    title        text,
    description  text,
    canonical    text,
    robots       text,
    lang         text,
    found_on     bigint,
    link_text    bigint,
    outlinks     integer  NOT NULL DEFAULT 0,
    sha256       text,
    data         text
  );
  CREATE INDEX pages_crawl    ON pages (crawl_id, url_id);
  CREATE INDEX pages_status   ON pages (crawl_id, status, url_id);
  CREATE INDEX pages_fetch_ms ON pages (crawl_id, fetch_ms);
  CREATE INDEX pages_bytes    ON pages (crawl_id, bytes);
  CREATE INDEX pages_broken   ON pages (crawl_id) WHERE error IS NOT NULL AND NOT skipped;
  CREATE TABLE page_groups (
    crawl_id       text   NOT NULL,
    host           text   NOT NULL,
    content_type   text   NOT NULL,
    status         text   NOT NULL,
    pages          bigint NOT NULL,
    failed         bigint NOT NULL,
    fetch_ms_sum   bigint NOT NULL,
    fetch_ms_count bigint NOT NULL,
    missing_titles bigint NOT NULL,
    PRIMARY KEY (crawl_id, host, content_type, status)
  );
  CREATE TABLE links (
    from_id bigint   NOT NULL,
    to_id   bigint   NOT NULL,
    text_id bigint,
    reason  smallint,
    PRIMARY KEY (from_id, to_id)
  );
  CREATE INDEX links_to ON links (to_id, from_id);
`;

/** How long a write waits for a row lock another transaction holds. */
const LOCK_TIMEOUT = '5s';

/** Migration 3 of the crawl component: a sitemap's `<lastmod>` for the URLs it named. */
export const PG_LASTMOD_MIGRATION = `ALTER TABLE pages ADD COLUMN lastmod text;`;

/** The columns a record's write sets, in the order record_pages reads and inserts them. */
const RECORD_COLUMNS = `crawl_id, job_id, host, status, error, skipped, redirect_to, content_type, bytes, fetch_ms, fetched_at, depth, title,
                       description, canonical, robots, lang, found_on, link_text, outlinks, sha256, data, lastmod`;

/**
 * Migration 4 of the crawl component: a batch of records in one round trip (issue 18), where it
 * was a transaction of 10 to 13 statements, each a round trip and a wake-up of the server (in a
 * web-bound crawl of one daemon, 6.5 of its 11 statements a page). The URLs and link texts the
 * batch names come once each, as [id] where the daemon knows it, else as [crawl id, url, key in
 * hex] and [text]; the pages and their links name them by their place in those lists (from 1).
 * Returns the ids it looked up, for the daemon to cache. The order of every write is the one the
 * statements had: URLs in key order, texts in text order, records in url id order, links in (from,
 * to) order and group rows in key order, so that daemons writing the same rows wait for one
 * another rather than deadlock.
 */
export const PG_RECORD_MIGRATION = `
  CREATE FUNCTION record_pages(p_urls jsonb, p_texts jsonb, p_pages jsonb, p_links jsonb, p_only_new boolean)
  RETURNS TABLE (r_text boolean, r_ord integer, r_id bigint) LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  DECLARE
    v_urls bigint[]; v_texts bigint[]; v_written bigint[];
  BEGIN
    -- A row another daemon inserted and has not committed is waited for; not past this (that
    -- daemon may be cut off mid-transaction): the records are kept and written with the next batch.
    PERFORM set_config('lock_timeout', '${LOCK_TIMEOUT}', true);

    -- Only URLs not there yet (ON CONFLICT alone spends a sequence number on every URL it finds
    -- there); ON CONFLICT catches a concurrent twin.
    INSERT INTO crawl_urls (crawl_id, url, key)
    SELECT u.v->>0, u.v->>1, decode(u.v->>2, 'hex') FROM jsonb_array_elements(p_urls) u(v)
     WHERE jsonb_array_length(u.v) = 3 AND NOT EXISTS (SELECT 1 FROM crawl_urls x WHERE x.key = decode(u.v->>2, 'hex'))
     ORDER BY 3
    ON CONFLICT DO NOTHING;
    v_urls := ARRAY(
      SELECT CASE WHEN jsonb_array_length(u.v) = 1 THEN (u.v->>0)::bigint
                  ELSE (SELECT x.id FROM crawl_urls x WHERE x.key = decode(u.v->>2, 'hex')) END
        FROM jsonb_array_elements(p_urls) WITH ORDINALITY u(v, o) ORDER BY u.o);
    INSERT INTO link_texts (text)
    SELECT t.v->>0 FROM jsonb_array_elements(p_texts) t(v)
     WHERE jsonb_typeof(t.v->0) = 'string' AND NOT EXISTS (SELECT 1 FROM link_texts x WHERE x.text = t.v->>0)
     ORDER BY 1
    ON CONFLICT DO NOTHING;
    v_texts := ARRAY(
      SELECT CASE WHEN jsonb_typeof(t.v->0) = 'number' THEN (t.v->>0)::bigint ELSE (SELECT x.id FROM link_texts x WHERE x.text = t.v->>0) END
        FROM jsonb_array_elements(p_texts) WITH ORDINALITY t(v, o) ORDER BY t.o);

    -- The records, each with the one it replaces (whose found-on and link text it keeps) and, for a
    -- linked URL met first, its first referrer (among the first thousand that enqueued it, the one
    -- fetched first); the group rows they change (the old record's taken off).
    WITH p AS (
      SELECT v_urls[x.u] AS url_id, x.* FROM jsonb_to_recordset(p_pages) AS x(
        u integer, crawl_id text, job_id bigint, host text, status integer, error text, skipped boolean, redirect integer, via integer,
        ask boolean, content_type text, bytes bigint, fetch_ms integer, fetched_at bigint, depth integer, title text, description text,
        canonical text, robots text, lang text, outlinks integer, sha256 text, data text, lastmod text)),
    old AS (SELECT o.* FROM pages o WHERE o.url_id IN (SELECT url_id FROM p)),
    ref AS (
      SELECT p.url_id, r.from_id, r.text_id FROM p
       CROSS JOIN LATERAL (
         SELECT l.from_id, l.text_id
           FROM (SELECT from_id, text_id FROM links WHERE to_id = p.url_id AND ${ENQUEUED_LINK_SQL} LIMIT 1000) l
           JOIN pages f ON f.url_id = l.from_id
          ORDER BY f.fetched_at, l.from_id LIMIT 1) r
       WHERE p.ask AND NOT EXISTS (SELECT 1 FROM old WHERE old.url_id = p.url_id)),
    w AS (
      INSERT INTO pages (url_id, ${RECORD_COLUMNS})
      SELECT p.url_id, p.crawl_id, p.job_id, p.host, p.status, p.error, p.skipped, v_urls[p.redirect], p.content_type, p.bytes, p.fetch_ms,
             p.fetched_at, p.depth, p.title, p.description, p.canonical, p.robots, p.lang,
             CASE WHEN old.url_id IS NOT NULL THEN old.found_on WHEN p.via IS NOT NULL THEN v_urls[p.via] ELSE ref.from_id END,
             CASE WHEN old.url_id IS NOT NULL THEN old.link_text ELSE ref.text_id END,
             p.outlinks, p.sha256, p.data, p.lastmod
        FROM p LEFT JOIN old ON old.url_id = p.url_id LEFT JOIN ref ON ref.url_id = p.url_id
       WHERE NOT (p_only_new AND old.url_id IS NOT NULL)
       ORDER BY 1
      ON CONFLICT (url_id) DO UPDATE SET (${RECORD_COLUMNS}) = ROW(${RECORD_COLUMNS.replace(/(\w+)/g, 'excluded.$1')})
       WHERE NOT p_only_new
      RETURNING url_id),
    d AS (
      SELECT p.crawl_id, p.host, coalesce(p.content_type, '') AS content_type,
             coalesce(p.status::text, CASE WHEN p.skipped THEN 'skipped' ELSE 'error' END) AS status, 1 AS sign,
             p.error, p.skipped, p.fetch_ms, p.title, p.status AS code
        FROM p JOIN w ON w.url_id = p.url_id
      UNION ALL
      SELECT p.crawl_id, old.host, coalesce(old.content_type, ''), coalesce(old.status::text, CASE WHEN old.skipped THEN 'skipped' ELSE 'error' END), -1,
             old.error, old.skipped, old.fetch_ms, old.title, old.status
        FROM p JOIN w ON w.url_id = p.url_id JOIN old ON old.url_id = p.url_id),
    g AS (
      SELECT crawl_id, host, content_type, status, sum(sign) AS pages,
             sum(CASE WHEN error IS NOT NULL AND NOT skipped THEN sign ELSE 0 END) AS failed,
             sum(coalesce(fetch_ms, 0) * sign) AS fetch_ms_sum,
             sum(CASE WHEN fetch_ms IS NOT NULL THEN sign ELSE 0 END) AS fetch_ms_count,
             sum(CASE WHEN title IS NULL AND code BETWEEN 200 AND 299 AND content_type IN (${[...HTML_TYPES].map((t) => `'${t}'`).join(', ')})
                      THEN sign ELSE 0 END) AS missing_titles
        FROM d GROUP BY 1, 2, 3, 4),
    gw AS (
      INSERT INTO page_groups (crawl_id, host, content_type, status, pages, failed, fetch_ms_sum, fetch_ms_count, missing_titles)
      SELECT * FROM g WHERE pages <> 0 OR failed <> 0 OR fetch_ms_sum <> 0 OR fetch_ms_count <> 0 OR missing_titles <> 0
       ORDER BY crawl_id, host, content_type, status
      ON CONFLICT (crawl_id, host, content_type, status) DO UPDATE SET pages = page_groups.pages + excluded.pages,
        failed = page_groups.failed + excluded.failed, fetch_ms_sum = page_groups.fetch_ms_sum + excluded.fetch_ms_sum,
        fetch_ms_count = page_groups.fetch_ms_count + excluded.fetch_ms_count,
        missing_titles = page_groups.missing_titles + excluded.missing_titles)
    SELECT coalesce(array_agg(url_id), '{}') INTO v_written FROM w;

    -- Every written page's links go first, not only those of records read as there: another
    -- daemon running the same job (a lease lost) may have committed its record meanwhile.
    DELETE FROM links WHERE from_id = ANY(v_written);
    INSERT INTO links (from_id, to_id, text_id, reason)
    SELECT v_urls[l.f], v_urls[l.t], v_texts[l.x], l.r FROM jsonb_to_recordset(p_links) AS l(f integer, t integer, x integer, r smallint)
     WHERE v_urls[l.f] = ANY(v_written)
     ORDER BY 1, 2
    ON CONFLICT DO NOTHING;

    RETURN QUERY SELECT false, u.o::integer, v_urls[u.o] FROM jsonb_array_elements(p_urls) WITH ORDINALITY u(v, o) WHERE jsonb_array_length(u.v) = 3;
    RETURN QUERY SELECT true, t.o::integer, v_texts[t.o] FROM jsonb_array_elements(p_texts) WITH ORDINALITY t(v, o) WHERE jsonb_typeof(t.v->0) = 'string';
  END
  $fn$;
`;

/** SQLSTATE classes of a record refused for what it holds (see isDataError in pages.ts): 22 data, 23 integrity, 54 limits. */
const REFUSED = 'data_exception OR integrity_constraint_violation OR program_limit_exceeded';

/**
 * Migration 5 of the crawl component: records written with their acknowledgements (the queue's
 * AckCall, core/pg/schema.ts migration 8), in their transaction and round trip. The argument is
 * record_pages' lists ({urls, texts, pages, links}), each page and link tagged with its
 * attachment's place (a); `whole` says no URL has two records in it. Only the records of the
 * accepted attachments are written, the last for a URL; when every one was accepted and no URL
 * repeats, the lists go to record_pages as they came. A batch refused for its data is written
 * record by record, each in a subtransaction, and a record refused alone is left out and returned
 * ({left: its place, error}) for the daemon to log: the acknowledgements go on. Anything else (a
 * lock waited on past record_pages' lock_timeout, a full disk) fails the batch, acknowledgements
 * and all, to be tried again together. The lock_timeout record_pages sets is put back after, so
 * the acknowledgement's own waits keep theirs.
 */
export const PG_ACK_RECORD_MIGRATION = `
  -- record_pages for some of a batch's pages, and their links; the URLs and texts no other of
  -- them names are passed as known ids ([0]), so they are neither looked up nor inserted.
  CREATE FUNCTION record_subset(p_arg jsonb, p_pages jsonb)
  RETURNS TABLE (r_text boolean, r_ord integer, r_id bigint) LANGUAGE sql AS $fn$
    WITH pg AS (SELECT p FROM jsonb_array_elements(p_pages) p),
    lk AS (SELECT l FROM jsonb_array_elements(p_arg->'links') l WHERE l->'a' IN (SELECT p->'a' FROM pg)),
    u AS (SELECT (p->>'u')::integer AS o FROM pg UNION SELECT (p->>'redirect')::integer FROM pg UNION SELECT (p->>'via')::integer FROM pg
          UNION SELECT (l->>'f')::integer FROM lk UNION SELECT (l->>'t')::integer FROM lk),
    x AS (SELECT (l->>'x')::integer AS o FROM lk)
    SELECT r.* FROM record_pages(
      (SELECT coalesce(jsonb_agg(CASE WHEN e.o IN (SELECT o FROM u WHERE o IS NOT NULL) THEN e.v ELSE '[0]' END ORDER BY e.o), '[]')
         FROM jsonb_array_elements(p_arg->'urls') WITH ORDINALITY e(v, o)),
      (SELECT coalesce(jsonb_agg(CASE WHEN e.o IN (SELECT o FROM x WHERE o IS NOT NULL) THEN e.v ELSE '[0]' END ORDER BY e.o), '[]')
         FROM jsonb_array_elements(p_arg->'texts') WITH ORDINALITY e(v, o)),
      p_pages, (SELECT coalesce(jsonb_agg(l), '[]') FROM lk), false) r
  $fn$;

  CREATE FUNCTION record_acked(p_arg jsonb, p_accepted integer[]) RETURNS SETOF jsonb LANGUAGE plpgsql AS $fn$
  DECLARE
    v_timeout text := current_setting('lock_timeout');
    v_whole boolean := (p_arg->>'whole')::boolean AND cardinality(p_accepted) = jsonb_array_length(p_arg->'pages');
    v_pages jsonb := p_arg->'pages'; v_page jsonb;
  BEGIN
    IF NOT v_whole THEN
      SELECT coalesce(jsonb_agg(p ORDER BY (p->>'a')::integer), '[]') INTO v_pages
        FROM (SELECT DISTINCT ON ((p->>'u')::integer) p FROM jsonb_array_elements(p_arg->'pages') p
               WHERE (p->>'a')::integer = ANY(p_accepted) ORDER BY (p->>'u')::integer, (p->>'a')::integer DESC) s;
    END IF;
    BEGIN
      IF v_whole THEN
        RETURN QUERY SELECT jsonb_build_array(r_text, r_ord, r_id)
          FROM record_pages(p_arg->'urls', p_arg->'texts', v_pages, p_arg->'links', false);
      ELSE
        RETURN QUERY SELECT jsonb_build_array(r_text, r_ord, r_id) FROM record_subset(p_arg, v_pages);
      END IF;
    EXCEPTION WHEN ${REFUSED} THEN
      FOR v_page IN SELECT p FROM jsonb_array_elements(v_pages) p LOOP
        BEGIN
          RETURN QUERY SELECT jsonb_build_array(r_text, r_ord, r_id) FROM record_subset(p_arg, jsonb_build_array(v_page));
        EXCEPTION WHEN ${REFUSED} THEN
          RETURN NEXT jsonb_build_object('left', v_page->'a', 'error', SQLERRM);
        END;
      END LOOP;
    END;
    PERFORM set_config('lock_timeout', v_timeout, true);
  END
  $fn$;
`;

const SQL = {
  record: `SELECT * FROM record_pages($1::jsonb, $2::jsonb, $3::jsonb, $4::jsonb, $5)`,
  page: `${RECORD_SQL} WHERE p.url_id = (SELECT id FROM crawl_urls WHERE key = $1)`,
  urlId: `SELECT id FROM crawl_urls WHERE key = $1`,
  inlinks: `
    SELECT f.url, coalesce(t.text, '') AS text
      FROM links l JOIN crawl_urls f ON f.id = l.from_id LEFT JOIN link_texts t ON t.id = l.text_id
     WHERE l.to_id = $1 ORDER BY l.from_id LIMIT $2`,
  inlinkCount: `SELECT count(*) AS n FROM links WHERE to_id = $1`,
  /**
   * Driven by the crawl's pages, each page's links through its key: joined the other way, the
   * planner walked pages from the crawl's start and probed links per page, 17–22 s for the last
   * page of a 20,000-page crawl beside a larger one.
   */
  linksAll: `
    SELECT f.url AS "from", u.url AS "to", t.text, l.reason, p.url_id AS "fromId", l.to_id AS "toId",
           EXISTS (SELECT 1 FROM pages x WHERE x.url_id = l.to_id) AS "hasPage"
      FROM pages p
     CROSS JOIN LATERAL (
       SELECT to_id, text_id, reason FROM links
        WHERE from_id = p.url_id AND (p.url_id > $2 OR to_id > $3) ORDER BY to_id) l
      JOIN crawl_urls f ON f.id = p.url_id
      JOIN crawl_urls u ON u.id = l.to_id
      LEFT JOIN link_texts t ON t.id = l.text_id
     WHERE p.crawl_id = $1 AND p.url_id >= $2
     ORDER BY p.url_id, l.to_id LIMIT $4`,
  link: `${LINK_SQL} WHERE l.from_id = $1 AND l.to_id = $2`,
  linksFrom: `${LINK_SQL} WHERE l.from_id = $1 AND l.to_id > $2 ORDER BY l.to_id LIMIT $3`,
  linksTo: `${LINK_SQL} WHERE l.to_id = $1 AND l.from_id > $2 ORDER BY l.from_id LIMIT $3`,
  redirectTargets: `
    SELECT u.url, r.url AS "to"
      FROM crawl_urls u JOIN pages p ON p.url_id = u.id JOIN crawl_urls r ON r.id = p.redirect_to
     WHERE u.key = ANY($1::bytea[])`,
  groups: `
    SELECT host, content_type AS "contentType", status, pages, failed, fetch_ms_sum AS "fetchMsSum", fetch_ms_count AS "fetchMsCount",
           missing_titles AS "missingTitles"
      FROM page_groups WHERE crawl_id = $1 AND pages > 0`,
  broken: `
    SELECT u.url, p.url_id AS "urlId", p.status, p.error,
           (SELECT count(*) FROM links l WHERE l.to_id = p.url_id) AS "referrerCount", f.url AS "foundOn"
      FROM pages p JOIN crawl_urls u ON u.id = p.url_id LEFT JOIN crawl_urls f ON f.id = p.found_on
     WHERE p.crawl_id = $1 AND ${FAILED_SQL}`,
  referrers: `
    SELECT t.id, f.url, coalesce(x.text, '') AS text
      FROM unnest($1::bigint[]) AS t(id)
     CROSS JOIN LATERAL (SELECT from_id, text_id FROM links WHERE to_id = t.id ORDER BY from_id LIMIT $2) l
      JOIN crawl_urls f ON f.id = l.from_id
      LEFT JOIN link_texts x ON x.id = l.text_id
     ORDER BY t.id, l.from_id`,
  redirects: `
    SELECT u.url, p.status, r.url AS "redirectTo"
      FROM pages p JOIN crawl_urls u ON u.id = p.url_id LEFT JOIN crawl_urls r ON r.id = p.redirect_to
     WHERE p.crawl_id = $1 AND p.status BETWEEN 300 AND 399 ORDER BY p.url_id LIMIT ${REPORT_LISTED}`,
  slowest: `
    SELECT u.url, p.fetch_ms AS "fetchMs" FROM pages p JOIN crawl_urls u ON u.id = p.url_id
     WHERE p.crawl_id = $1 AND p.fetch_ms IS NOT NULL ORDER BY p.fetch_ms DESC LIMIT 10`,
  largest: `
    SELECT u.url, p.bytes FROM pages p JOIN crawl_urls u ON u.id = p.url_id
     WHERE p.crawl_id = $1 AND p.bytes IS NOT NULL ORDER BY p.bytes DESC LIMIT 10`,
  rates: `
    SELECT fetched_at / $4 * $4 AS at, count(*)::int AS pages, count(*) FILTER (WHERE ${FAILED_SQL})::int AS failures
      FROM (SELECT fetched_at, error, skipped FROM pages WHERE crawl_id = $1 ORDER BY url_id DESC LIMIT ${RATE_RECORDS}) p
     WHERE fetched_at >= $2 AND fetched_at < $3 AND NOT skipped GROUP BY 1 ORDER BY 1`,
};

type LinkSqlRow = { from: string; to: string; text: string | null; reason: number | null; fromId: number; toId: number; hasPage: boolean };

function toLink(r: LinkSqlRow): LinkRow {
  return { from: r.from, to: r.to, text: r.text ?? '', reason: reasonOf(r.reason), hasPage: r.hasPage, cursor: `${r.fromId}.${r.toId}` };
}

/**
 * JSON for a jsonb parameter. PostgreSQL's jsonb refuses the escape of half a character (a lone
 * surrogate, which JSON.stringify writes as \udXXX) where a text parameter took it as U+FFFD, and
 * a NUL (\u0000) outright: the rare text that holds one is written as U+FFFD. The records ride on
 * their acknowledgement, whose parameter it is: one the server refused failed the whole batch,
 * again at every retry, before any handler of its own could leave that record out.
 */
function jsonb(value: unknown): string {
  const json = JSON.stringify(value);
  return /\\u(?:[dD][89a-fA-F]|0000)/.test(json)
    ? JSON.stringify(value, (_, v: unknown) => (typeof v === 'string' ? wellFormed(v).replace(/\0/g, '\uFFFD') : v))
    : json;
}

/** bigint columns come as numbers already (the pool's type parsers, core/pg/open.ts). */
function toPage(r: Record<string, unknown>): PageRow {
  r.data = r.data === null || r.data === undefined ? null : JSON.parse(r.data as string);
  return r as unknown as PageRow;
}

/** Page records and links on the PostgreSQL queue's pool; a batch is one call of record_pages. */
export class PgPageStore implements PageStore {
  private readonly urlIds = new IdCache();
  private readonly textIds = new IdCache();

  constructor(private readonly pool: pg.Pool) {}

  async write(input: readonly PageWrite[], onlyNew = false): Promise<void> {
    // One record per URL in a statement (an upsert may not touch a row twice): the last wins.
    const batch = [...new Map(input.map((w) => [`${w.crawlId} ${w.url}`, w])).values()];
    if (batch.length === 0) return;
    const lists = this.lists();
    for (const w of batch) lists.add(w, null);
    const { rows } = await this.pool.query<{ r_text: boolean; r_ord: number; r_id: number }>(SQL.record, [
      jsonb(lists.urls),
      jsonb(lists.texts),
      jsonb(lists.pages),
      jsonb(lists.links),
      onlyNew,
    ]);
    // The call is its own transaction: ids it returns are committed, so true from now on.
    for (const r of rows) lists.cache(r.r_text, r.r_ord, r.r_id);
  }

  /**
   * Records written with the acknowledgements of their attempts (PgQueue's AckCall: record_acked,
   * migration 5), in their transaction and round trip: no attempt that did not count leaves one,
   * and a page costs one call, not two. A record refused for its data is left out and logged, and
   * its acknowledgement goes on; one that cannot even be put into the call is, too.
   */
  ackHook(log: (level: 'warn', msg: string) => void): AckCall {
    return {
      fn: 'record_acked',
      prepare: (attached) => {
        const batch = attached as PageWrite[];
        const lists = this.lists();
        let whole = true;
        const seen = new Set<string>();
        batch.forEach((w, i) => {
          try {
            lists.add(w, i + 1);
          } catch (err) {
            whole = false;
            leftOut(w, err, log);
            return;
          }
          const key = `${w.crawlId} ${w.url}`;
          if (seen.has(key)) whole = false;
          seen.add(key);
        });
        return {
          json: jsonb({ urls: lists.urls, texts: lists.texts, pages: lists.pages, links: lists.links, whole }),
          committed: (rows) => {
            for (const r of rows as ([boolean, number, number] | { left: number; error: string })[]) {
              if (Array.isArray(r)) lists.cache(...r);
              else leftOut(batch[r.left - 1], new Error(r.error), log);
            }
          },
        };
      },
    };
  }

  /**
   * record_pages' lists for a batch: each URL and text once, by its place in the list (from 1), as
   * its id where known, else as what makes it; the pages and links name them by place, and carry
   * their attachment's place (`a`) when they ride on acknowledgements.
   */
  private lists() {
    const urls: unknown[][] = [];
    const urlAt = new Map<string, number>();
    const texts: unknown[][] = [];
    const textAt = new Map<string, number>();
    const pages: Record<string, unknown>[] = [];
    const links: Record<string, unknown>[] = [];
    const url = (crawlId: string, u: string): number => {
      const key = `${crawlId} ${u}`;
      let at = urlAt.get(key);
      if (at === undefined) {
        const id = this.urlIds.get(key);
        urlAt.set(key, (at = urls.push(id === undefined ? [crawlId, u, urlKey(crawlId, u).toString('hex')] : [id])));
      }
      return at;
    };
    const text = (t: string): number => {
      let at = textAt.get(t);
      if (at === undefined) {
        const id = this.textIds.get(t);
        textAt.set(t, (at = texts.push([id ?? t])));
      }
      return at;
    };
    return {
      urls,
      texts,
      pages,
      links,
      add: (w: PageWrite, a: number | null) => {
        const from = url(w.crawlId, w.url);
        const own = (w.links ?? []).map((link) => ({
          ...(a === null ? {} : { a }),
          f: from,
          t: url(w.crawlId, link.url),
          x: link.text === '' ? null : text(link.text),
          r: reasonCode(link.reason),
        }));
        pages.push({
          ...(a === null ? {} : { a }),
          u: from,
          crawl_id: w.crawlId,
          job_id: w.jobId,
          host: w.host,
          status: w.status,
          error: w.error,
          skipped: w.skipped,
          redirect: w.redirectTo === null ? null : url(w.crawlId, w.redirectTo),
          via: w.via.length > 0 ? url(w.crawlId, w.via[w.via.length - 1]) : null,
          ask: w.via.length === 0 && isLinked(w),
          content_type: w.contentType,
          bytes: w.bytes,
          fetch_ms: w.fetchMs,
          fetched_at: w.fetchedAt,
          depth: w.depth,
          title: w.title,
          description: w.description,
          canonical: w.canonical,
          robots: w.robots,
          lang: w.lang,
          outlinks: w.links?.length ?? 0,
          sha256: w.sha256,
          data: w.data === null ? null : JSON.stringify(w.data),
          lastmod: w.lastmod,
        });
        links.push(...own);
      },
      /** An id record_pages made or found, cached once committed. */
      cache: (isText: boolean, ord: number, id: number) => {
        const made = (isText ? texts : urls)[ord - 1];
        if (isText) this.textIds.set(made[0] as string, id);
        else this.urlIds.set(`${made[0] as string} ${made[1] as string}`, id);
      },
    };
  }

  async pages(crawlId: string, q: PagesQuery): Promise<PageRow[]> {
    const params: unknown[] = [crawlId, q.after.urlId, q.limit];
    const where = ['p.crawl_id = $1'];
    const range = q.status === undefined ? undefined : statusRange(q.status);
    let order = 'p.url_id';
    if (typeof range === 'string') where.push(CLASS_SQL[range]);
    if (Array.isArray(range)) {
      // In the order of pages_status, so a page of a filtered walk is an index range, never a sort.
      where.push(`p.status BETWEEN $${params.push(range[0])} AND $${params.push(range[1])}`, `(p.status, p.url_id) > ($${params.push(q.after.status)}, $2)`);
      order = 'p.status, p.url_id';
    } else {
      where.push('p.url_id > $2');
    }
    if (q.search !== undefined) {
      const [search, searchUrl] = searchPatterns(q.search);
      const n = params.push(search);
      where.push(`(u.url ILIKE $${n} OR p.title ILIKE $${n}${searchUrl === undefined ? '' : ` OR u.url ILIKE $${params.push(searchUrl)}`})`);
    }
    // Built from fixed fragments only; every value is a bound parameter.
    const { rows } = await this.pool.query(`${RECORD_SQL} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $3`, params);
    return rows.map(toPage);
  }

  async page(crawlId: string, url: string): Promise<PageRow | null> {
    const { rows } = await this.pool.query<Record<string, unknown>>(SQL.page, [urlKey(crawlId, url)]);
    return rows.length ? toPage(rows[0]) : null;
  }

  private async idOf(crawlId: string, url: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ id: number }>(SQL.urlId, [urlKey(crawlId, url)]);
    return rows[0]?.id;
  }

  async inlinks(crawlId: string, url: string, limit: number): Promise<{ links: { url: string; text: string }[]; count: number }> {
    const id = await this.idOf(crawlId, url);
    if (id === undefined) return { links: [], count: 0 };
    const [links, count] = await Promise.all([
      this.pool.query<{ url: string; text: string }>(SQL.inlinks, [id, limit]),
      this.pool.query<{ n: number }>(SQL.inlinkCount, [id]),
    ]);
    return { links: links.rows, count: count.rows[0].n };
  }

  async links(crawlId: string, q: LinksQuery): Promise<LinkRow[]> {
    const [afterFrom, afterTo] = parseLinkCursor(q.after);
    let rows: LinkSqlRow[];
    if (q.from !== undefined && q.to !== undefined) {
      const [from, to] = await Promise.all([this.idOf(crawlId, q.from), this.idOf(crawlId, q.to)]);
      rows = from === undefined || to === undefined || q.after !== null ? [] : (await this.pool.query<LinkSqlRow>(SQL.link, [from, to])).rows;
    } else if (q.from !== undefined) {
      const from = await this.idOf(crawlId, q.from);
      rows = from === undefined ? [] : (await this.pool.query<LinkSqlRow>(SQL.linksFrom, [from, afterTo, q.limit])).rows;
    } else if (q.to !== undefined) {
      const to = await this.idOf(crawlId, q.to);
      rows = to === undefined ? [] : (await this.pool.query<LinkSqlRow>(SQL.linksTo, [to, afterFrom, q.limit])).rows;
    } else {
      rows = (await this.pool.query<LinkSqlRow>(SQL.linksAll, [crawlId, afterFrom, afterTo, q.limit])).rows;
    }
    return rows.map(toLink);
  }

  async redirectTargets(crawlId: string, urls: readonly string[]): Promise<Map<string, string>> {
    if (urls.length === 0) return new Map();
    const { rows } = await this.pool.query<{ url: string; to: string }>(SQL.redirectTargets, [urls.map((u) => urlKey(crawlId, u))]);
    return new Map(rows.map((r) => [r.url, r.to]));
  }

  async referrers(urlIds: readonly number[], limit: number): Promise<Map<number, { url: string; text: string }[]>> {
    const out = new Map<number, { url: string; text: string }[]>();
    if (urlIds.length === 0) return out;
    const { rows } = await this.pool.query<{ id: number; url: string; text: string }>(SQL.referrers, [urlIds, limit]);
    for (const r of rows) {
      const list = out.get(r.id) ?? [];
      list.push({ url: r.url, text: r.text });
      out.set(r.id, list);
    }
    return out;
  }

  async rates(crawlId: string, from: number, to: number, bucketMs: number): Promise<RateBucket[]> {
    const { rows } = await this.pool.query<{ at: string; pages: number; failures: number }>(SQL.rates, [crawlId, from, to, bucketMs]);
    return rows.map((r) => ({ at: Number(r.at), pages: r.pages, failures: r.failures }));
  }

  async reportCounts(crawlId: string): Promise<ReportCounts> {
    // One snapshot for every figure.
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const q = async <T extends pg.QueryResultRow>(sql: string) => (await client.query<T>(sql, [crawlId])).rows;
      const counts: ReportCounts = {
        groups: await q(SQL.groups),
        broken: await q(SQL.broken),
        redirects: await q(SQL.redirects),
        slowest: await q(SQL.slowest),
        largest: await q(SQL.largest),
      };
      await client.query('COMMIT');
      return counts;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}
