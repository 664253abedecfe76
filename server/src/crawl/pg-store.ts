import type pg from 'pg';
import type { Component } from '../core/pg/open';
import type { AckCall } from '../core/types';
import type { CrawlOptions, CrawlState } from '../protocol';
import type { PageWrite } from './pages';
import { PG_ACK_RECORD_MIGRATION, PG_LASTMOD_MIGRATION, PG_PAGES_MIGRATION, PG_RECORD_MIGRATION, PgPageStore } from './pg-pages';
import { toCrawl, type CrawlAck, type CrawlRow, type CrawlStore } from './store';

/**
 * The crawl kind's tables on PostgreSQL, beside the queue's in its schema, versioned as the
 * `crawl` component. The same design as the SQLite store (store.ts); every write is one statement (a batch of page
 * records, one call of a function of the schema: pg-pages.ts).
 */
export const PG_CRAWL_COMPONENT: Component = {
  name: 'crawl',
  migrations: [
    /* 1 */ `
    CREATE TABLE crawls (
      id          text   PRIMARY KEY,
      name        text,
      seeds       text   NOT NULL,
      options     text   NOT NULL,
      state       text   NOT NULL CHECK (state IN ('running','paused','finished','cancelled')),
      pages       bigint NOT NULL DEFAULT 0,
      bytes       bigint NOT NULL DEFAULT 0,
      created_at  bigint NOT NULL,
      finished_at bigint
    );
    CREATE TABLE crawl_dropped (
      crawl_id text   NOT NULL,
      reason   text   NOT NULL,
      n        bigint NOT NULL,
      PRIMARY KEY (crawl_id, reason)
    );
    CREATE TABLE robots (
      origin     text   PRIMARY KEY,
      data       text   NOT NULL,
      expires_at bigint NOT NULL
    );
    `,
    /* 2 */ PG_PAGES_MIGRATION,
    /* 3 */ PG_LASTMOD_MIGRATION,
    /* 4 */ PG_RECORD_MIGRATION,
    /* 5 */ PG_ACK_RECORD_MIGRATION,
    /* 6 */ `
    -- A crawl's totals written with the acknowledgements that counted them (CrawlAck, store.ts),
    -- and their pages' records (record_acked). p_arg: {totals: [{a, c: crawl, p: pages, b: bytes,
    -- d: {reason: n}}], at: [the attachment's place of each record], records: record_acked's
    -- argument or null}. The records first: the crawl's row, locked by its update, is then held
    -- only while the acknowledgement itself runs, which locks the crawl's counters anyway.
    -- Crawls and reasons are locked in the order of their keys, as every batch takes them.
    CREATE FUNCTION crawl_acked(p_arg jsonb, p_accepted integer[]) RETURNS SETOF jsonb LANGUAGE plpgsql AS $fn$
    BEGIN
      IF jsonb_typeof(p_arg->'records') = 'object' THEN
        RETURN QUERY SELECT * FROM record_acked(p_arg->'records', ARRAY(
          SELECT o::integer FROM jsonb_array_elements(p_arg->'at') WITH ORDINALITY e(v, o) WHERE (v #>> '{}')::integer = ANY(p_accepted)));
      END IF;
      WITH t AS (
        SELECT e->>'c' AS id, (e->>'p')::bigint AS pages, (e->>'b')::bigint AS bytes
          FROM jsonb_array_elements(p_arg->'totals') e WHERE (e->>'a')::integer = ANY(p_accepted)),
      sums AS (SELECT id, sum(pages) AS pages, sum(bytes) AS bytes FROM t GROUP BY id),
      locked AS (SELECT c.id FROM crawls c JOIN sums s ON s.id = c.id ORDER BY c.id FOR UPDATE OF c)
      UPDATE crawls c SET pages = c.pages + s.pages, bytes = c.bytes + s.bytes
        FROM sums s WHERE c.id = s.id AND c.id IN (SELECT id FROM locked);
      INSERT INTO crawl_dropped (crawl_id, reason, n)
      SELECT e->>'c', d.key, sum(d.value::bigint)
        FROM jsonb_array_elements(p_arg->'totals') e, jsonb_each_text(e->'d') d
       WHERE (e->>'a')::integer = ANY(p_accepted)
       GROUP BY 1, 2 ORDER BY 1, 2
      ON CONFLICT (crawl_id, reason) DO UPDATE SET n = crawl_dropped.n + excluded.n;
    END
    $fn$;
    `,
  ],
};

const SQL = {
  insert: `INSERT INTO crawls (id, name, seeds, options, state, created_at) VALUES ($1, $2, $3, $4, 'running', $5)`,
  get: `SELECT * FROM crawls WHERE id = $1`,
  state: `SELECT state FROM crawls WHERE id = $1`,
  list: `SELECT * FROM crawls ORDER BY created_at DESC, id`,
  active: `SELECT * FROM crawls WHERE state IN ('running', 'paused')`,
  setState: `UPDATE crawls SET state = $2, finished_at = $3 WHERE id = $1`,
  finish: `UPDATE crawls SET state = 'finished', finished_at = $2 WHERE id = $1 AND state = 'running'`,
  dropped: `SELECT reason, n FROM crawl_dropped WHERE crawl_id = $1`,
  addCount: `
    INSERT INTO crawl_dropped (crawl_id, reason, n) VALUES ($1, $2, $3)
    ON CONFLICT (crawl_id, reason) DO UPDATE SET n = crawl_dropped.n + excluded.n`,
  getRobots: `SELECT data, expires_at AS "expiresAt" FROM robots WHERE origin = $1`,
  putRobots: `
    INSERT INTO robots (origin, data, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (origin) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
  dropExpiredRobots: `DELETE FROM robots WHERE expires_at < $1`,
} as const;

/** The crawl store on the PostgreSQL queue's pool. */
export class PgCrawlStore implements CrawlStore {
  readonly pages: PgPageStore;

  constructor(private readonly pool: pg.Pool) {
    this.pages = new PgPageStore(pool);
  }

  async insert(c: { id: string; name: string | null; seeds: string[]; options: CrawlOptions; now: number }): Promise<void> {
    await this.pool.query(SQL.insert, [c.id, c.name, JSON.stringify(c.seeds), JSON.stringify(c.options), c.now]);
  }

  async get(id: string): Promise<CrawlRow | null> {
    const { rows } = await this.pool.query<Record<string, unknown>>(SQL.get, [id]);
    return rows.length ? toCrawl(rows[0]) : null;
  }

  async state(id: string): Promise<CrawlState | null> {
    const { rows } = await this.pool.query<{ state: CrawlState }>(SQL.state, [id]);
    return rows.length ? rows[0].state : null;
  }

  async list(): Promise<CrawlRow[]> {
    return (await this.pool.query(SQL.list)).rows.map(toCrawl);
  }

  async active(): Promise<CrawlRow[]> {
    return (await this.pool.query(SQL.active)).rows.map(toCrawl);
  }

  async setState(id: string, state: CrawlState, finishedAt: number | null): Promise<void> {
    await this.pool.query(SQL.setState, [id, state, finishedAt]);
  }

  async finish(id: string, now: number): Promise<boolean> {
    return ((await this.pool.query(SQL.finish, [id, now])).rowCount ?? 0) > 0;
  }

  /** crawl_acked (migration 6): the totals, and the records as PgPageStore.ackHook prepares them. */
  ackHook(log: (level: 'warn', msg: string) => void): AckCall {
    const records = this.pages.ackHook(log);
    return {
      fn: 'crawl_acked',
      prepare: (attached) => {
        const pages: PageWrite[] = [];
        const at: number[] = [];
        const totals: { a: number; c: string; p: number; b: number; d: Record<string, number> }[] = [];
        (attached as CrawlAck[]).forEach(({ page, totals: t }, i) => {
          if (page) {
            pages.push(page);
            at.push(i + 1);
          }
          if (t) totals.push({ a: i + 1, c: t.crawlId, p: t.pages, b: t.bytes, d: t.dropped });
        });
        const recorded = pages.length > 0 ? records.prepare(pages) : null;
        return {
          json: `{"totals":${JSON.stringify(totals)},"at":${JSON.stringify(at)},"records":${recorded?.json ?? 'null'}}`,
          committed: (rows) => recorded?.committed(rows),
        };
      },
    };
  }

  async dropped(id: string): Promise<Record<string, number>> {
    const { rows } = await this.pool.query(SQL.dropped, [id]);
    return Object.fromEntries(rows.map((r: { reason: string; n: number }) => [r.reason, r.n]));
  }

  async addCount(id: string, name: string, n: number): Promise<void> {
    await this.pool.query(SQL.addCount, [id, name, n]);
  }

  async getRobots(origin: string): Promise<{ data: unknown; expiresAt: number } | null> {
    const { rows } = await this.pool.query<{ data: string; expiresAt: number }>(SQL.getRobots, [origin]);
    return rows.length ? { data: JSON.parse(rows[0].data) as unknown, expiresAt: rows[0].expiresAt } : null;
  }

  async putRobots(origin: string, data: unknown, expiresAt: number): Promise<void> {
    await this.pool.query(SQL.putRobots, [origin, JSON.stringify(data), expiresAt]);
  }

  async dropExpiredRobots(now: number): Promise<void> {
    await this.pool.query(SQL.dropExpiredRobots, [now]);
  }
}
