import type pg from 'pg';
import { REPORT_LISTED } from '../protocol';
import {
  ENQUEUED_LINK_SQL,
  FAILED_SQL,
  LINK_SQL,
  RECORD_SQL,
  GroupDeltas,
  IdCache,
  isLinked,
  parseLinkCursor,
  urlKey,
  type GroupFields,
  reasonCode,
  reasonOf,
  statusRange,
  type LinkRow,
  type LinksQuery,
  type PageRow,
  type PagesQuery,
  type PageStore,
  type PageWrite,
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

const PAGE_COLUMNS = [
  ['url_id', 'bigint'],
  ['crawl_id', 'text'],
  ['job_id', 'bigint'],
  ['host', 'text'],
  ['status', 'integer'],
  ['error', 'text'],
  ['skipped', 'boolean'],
  ['redirect_to', 'bigint'],
  ['content_type', 'text'],
  ['bytes', 'bigint'],
  ['fetch_ms', 'integer'],
  ['fetched_at', 'bigint'],
  ['depth', 'integer'],
  ['title', 'text'],
  ['description', 'text'],
  ['canonical', 'text'],
  ['robots', 'text'],
  ['lang', 'text'],
  ['found_on', 'bigint'],
  ['link_text', 'bigint'],
  ['outlinks', 'integer'],
  ['sha256', 'text'],
  ['data', 'text'],
  ['lastmod', 'text'],
] as const;

/** Migration 3 of the crawl component: a sitemap's `<lastmod>` for the URLs it named. */
export const PG_LASTMOD_MIGRATION = `ALTER TABLE pages ADD COLUMN lastmod text;`;

/** A page record's columns, as column arrays (unnest), in url id order. Built once, from the constant list above. */
const INSERT_PAGES = `
  INSERT INTO pages (${PAGE_COLUMNS.map(([c]) => c).join(', ')})
  SELECT * FROM unnest(${PAGE_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) AS t
   ORDER BY 1`;
const UPDATE_PAGE = PAGE_COLUMNS.slice(1)
  .map(([c]) => `${c} = excluded.${c}`)
  .join(', ');

const SQL = {
  /**
   * Only URLs not there yet, in key order so writers meeting on the same URLs wait for
   * one another rather than deadlock; ON CONFLICT catches a concurrent twin. (ON CONFLICT alone
   * spends a sequence number on every URL it finds there.)
   */
  insertUrls: `
    INSERT INTO crawl_urls (crawl_id, url, key)
    SELECT c, u, k FROM unnest($1::text[], $2::text[], $3::bytea[]) AS t(c, u, k)
     WHERE NOT EXISTS (SELECT 1 FROM crawl_urls x WHERE x.key = t.k)
     ORDER BY k
    ON CONFLICT DO NOTHING`,
  urlIds: `SELECT id, crawl_id AS "crawlId", url FROM crawl_urls WHERE key = ANY($1::bytea[])`,
  insertTexts: `
    INSERT INTO link_texts (text) SELECT t FROM unnest($1::text[]) AS t
     WHERE NOT EXISTS (SELECT 1 FROM link_texts x WHERE x.text = t) ORDER BY t
    ON CONFLICT DO NOTHING`,
  textIds: `SELECT id, text FROM link_texts WHERE text = ANY($1::text[])`,
  existing: `
    SELECT url_id AS "urlId", found_on AS "foundOn", link_text AS "linkText", host, content_type AS "contentType", status, skipped, error,
           fetch_ms AS "fetchMs", title
      FROM pages WHERE url_id = ANY($1::bigint[])`,
  /** In key order (GroupDeltas.list), so writers adding to the same rows wait for one another rather than deadlock. */
  addGroups: `
    INSERT INTO page_groups (crawl_id, host, content_type, status, pages, failed, fetch_ms_sum, fetch_ms_count, missing_titles)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
    ON CONFLICT (crawl_id, host, content_type, status) DO UPDATE SET pages = page_groups.pages + excluded.pages,
      failed = page_groups.failed + excluded.failed, fetch_ms_sum = page_groups.fetch_ms_sum + excluded.fetch_ms_sum,
      fetch_ms_count = page_groups.fetch_ms_count + excluded.fetch_ms_count,
      missing_titles = page_groups.missing_titles + excluded.missing_titles`,
  firstReferrers: `
    SELECT t.id, r.from_id AS "fromId", r.text_id AS "textId"
      FROM unnest($1::bigint[]) AS t(id)
     CROSS JOIN LATERAL (
       SELECT l.from_id, l.text_id
         FROM (SELECT from_id, text_id FROM links WHERE to_id = t.id AND ${ENQUEUED_LINK_SQL} LIMIT 1000) l
         JOIN pages p ON p.url_id = l.from_id
        ORDER BY p.fetched_at, l.from_id LIMIT 1) r`,
  /** A record replaces the URL's last one. */
  upsert: `${INSERT_PAGES} ON CONFLICT (url_id) DO UPDATE SET ${UPDATE_PAGE}`,
  /** Only records for URLs that have none (settle). */
  insertNew: `${INSERT_PAGES} ON CONFLICT (url_id) DO NOTHING`,
  dropLinks: `DELETE FROM links WHERE from_id = ANY($1::bigint[])`,
  insertLinks: `
    INSERT INTO links (from_id, to_id, text_id, reason)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[]) ORDER BY 1, 2
    ON CONFLICT DO NOTHING`,
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
           (SELECT count(*) FROM links l WHERE l.to_id = p.url_id) AS "referrerCount"
      FROM pages p JOIN crawl_urls u ON u.id = p.url_id
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
};

type LinkSqlRow = { from: string; to: string; text: string | null; reason: number | null; fromId: number; toId: number; hasPage: boolean };

function toLink(r: LinkSqlRow): LinkRow {
  return { from: r.from, to: r.to, text: r.text ?? '', reason: reasonOf(r.reason), hasPage: r.hasPage, cursor: `${r.fromId}.${r.toId}` };
}

/** bigint columns come as numbers already (the pool's type parsers, core/pg/open.ts). */
function toPage(r: Record<string, unknown>): PageRow {
  r.data = r.data === null || r.data === undefined ? null : JSON.parse(r.data as string);
  return r as unknown as PageRow;
}

/** How long a write waits for a row lock another transaction holds. */
const LOCK_TIMEOUT = '5s';

/** Page records and links on the PostgreSQL queue's pool; a batch is one transaction of a few statements. */
export class PgPageStore implements PageStore {
  private readonly urlIds = new IdCache();
  private readonly textIds = new IdCache();

  constructor(private readonly pool: pg.Pool) {}

  async write(input: readonly PageWrite[], onlyNew = false): Promise<void> {
    // One record per URL in a statement (an upsert may not touch a row twice): the last wins.
    const batch = [...new Map(input.map((w) => [`${w.crawlId} ${w.url}`, w])).values()];
    if (batch.length === 0) return;
    const client = await this.pool.connect();
    let broken: Error | undefined;
    const dropped = (err: Error) => {
      broken = err;
    };
    client.on('error', dropped);
    try {
      await client.query('BEGIN');
      // A row another daemon inserted and has not committed is waited for; not past this (that
      // daemon may be cut off mid-transaction): the records are kept and written with the next batch.
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const made = await this.resolve(client, batch);
      const urlId = (crawlId: string, url: string) => made.urls.get(`${crawlId} ${url}`) as number;
      const ids = batch.map((w) => urlId(w.crawlId, w.url));
      const existing = new Map(
        (await client.query<GroupFields & { urlId: number; foundOn: number | null; linkText: number | null }>(SQL.existing, [ids])).rows.map((r) => [
          r.urlId,
          r,
        ]),
      );
      const groups = new GroupDeltas();
      const asked = batch.filter((w, i) => !existing.has(ids[i]) && w.via.length === 0 && isLinked(w)).map((w) => urlId(w.crawlId, w.url));
      const referrers = new Map(
        asked.length === 0
          ? []
          : (await client.query<{ id: number; fromId: number; textId: number | null }>(SQL.firstReferrers, [asked])).rows.map((r) => [r.id, r]),
      );
      const cols: unknown[][] = PAGE_COLUMNS.map(() => []);
      const linkCols: unknown[][] = [[], [], [], []];
      const written: number[] = [];
      batch.forEach((w, i) => {
        const id = ids[i];
        const old = existing.get(id);
        if (old && onlyNew) return;
        written.push(id);
        if (old) groups.add(w.crawlId, old, -1);
        groups.add(w.crawlId, w, 1);
        const first = referrers.get(id);
        const foundOn = old ? old.foundOn : w.via.length > 0 ? urlId(w.crawlId, w.via[w.via.length - 1]) : (first?.fromId ?? null);
        const linkText = old ? old.linkText : (first?.textId ?? null);
        const row = [
          id,
          w.crawlId,
          w.jobId,
          w.host,
          w.status,
          w.error,
          w.skipped,
          w.redirectTo === null ? null : urlId(w.crawlId, w.redirectTo),
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
        ];
        row.forEach((v, c) => cols[c].push(v));
        for (const link of w.links ?? []) {
          linkCols[0].push(id);
          linkCols[1].push(urlId(w.crawlId, link.url));
          linkCols[2].push(link.text === '' ? null : made.texts.get(link.text));
          linkCols[3].push(reasonCode(link.reason));
        }
      });
      if (cols[0].length > 0) await client.query(onlyNew ? SQL.insertNew : SQL.upsert, cols);
      // Every written page's links go first, not only those of records read as there: another
      // daemon running the same job (a lease lost) may commit its record meanwhile.
      if (written.length > 0) await client.query(SQL.dropLinks, [written]);
      if (linkCols[0].length > 0) await client.query(SQL.insertLinks, linkCols);
      const g = groups.list();
      if (g.length > 0) {
        await client.query(SQL.addGroups, [
          g.map((r) => r.crawlId),
          g.map((r) => r.host),
          g.map((r) => r.contentType),
          g.map((r) => r.status),
          g.map((r) => r.pages),
          g.map((r) => r.failed),
          g.map((r) => r.fetchMsSum),
          g.map((r) => r.fetchMsCount),
          g.map((r) => r.missingTitles),
        ]);
      }
      await client.query('COMMIT');
      // Ids are cached once committed: a rolled-back insert's ids do not exist.
      for (const [k, v] of made.newUrls) this.urlIds.set(k, v);
      for (const [k, v] of made.newTexts) this.textIds.set(k, v);
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      client.off('error', dropped);
      client.release(broken);
    }
  }

  /** The ids of every URL and text the batch names, made where missing, in two statements each. */
  private async resolve(client: pg.PoolClient, batch: readonly PageWrite[]) {
    const urls = new Map<string, number>();
    const texts = new Map<string, number>();
    const wantUrls = new Map<string, [string, string, Buffer]>();
    const wantTexts = new Set<string>();
    const needUrl = (crawlId: string, url: string) => {
      const key = `${crawlId} ${url}`;
      const id = this.urlIds.get(key);
      if (id !== undefined) urls.set(key, id);
      else if (!wantUrls.has(key)) wantUrls.set(key, [crawlId, url, urlKey(crawlId, url)]);
    };
    for (const w of batch) {
      needUrl(w.crawlId, w.url);
      if (w.redirectTo !== null) needUrl(w.crawlId, w.redirectTo);
      if (w.via.length > 0) needUrl(w.crawlId, w.via[w.via.length - 1]);
      for (const link of w.links ?? []) {
        needUrl(w.crawlId, link.url);
        if (link.text === '') continue;
        const id = this.textIds.get(link.text);
        if (id !== undefined) texts.set(link.text, id);
        else wantTexts.add(link.text);
      }
    }
    const newUrls = new Map<string, number>();
    const newTexts = new Map<string, number>();
    if (wantUrls.size > 0) {
      const want = [...wantUrls.values()];
      const keys = want.map((p) => p[2]);
      await client.query(SQL.insertUrls, [want.map((p) => p[0]), want.map((p) => p[1]), keys]);
      for (const r of (await client.query<{ id: number; crawlId: string; url: string }>(SQL.urlIds, [keys])).rows) {
        urls.set(`${r.crawlId} ${r.url}`, r.id);
        newUrls.set(`${r.crawlId} ${r.url}`, r.id);
      }
    }
    if (wantTexts.size > 0) {
      const list = [...wantTexts];
      await client.query(SQL.insertTexts, [list]);
      for (const r of (await client.query<{ id: number; text: string }>(SQL.textIds, [list])).rows) {
        texts.set(r.text, r.id);
        newTexts.set(r.text, r.id);
      }
    }
    return { urls, texts, newUrls, newTexts };
  }

  async pages(crawlId: string, q: PagesQuery): Promise<PageRow[]> {
    const params: unknown[] = [crawlId, q.after.urlId, q.limit];
    const where = ['p.crawl_id = $1'];
    const range = q.status === undefined ? undefined : statusRange(q.status);
    let order = 'p.url_id';
    if (range === null) where.push('p.status IS NULL AND NOT p.skipped');
    if (range) {
      // In the order of pages_status, so a page of a filtered walk is an index range, never a sort.
      where.push(`p.status BETWEEN $${params.push(range[0])} AND $${params.push(range[1])}`, `(p.status, p.url_id) > ($${params.push(q.after.status)}, $2)`);
      order = 'p.status, p.url_id';
    } else {
      where.push('p.url_id > $2');
    }
    if (q.search !== undefined) {
      const n = params.push(`%${q.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(u.url ILIKE $${n} OR p.title ILIKE $${n})`);
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
