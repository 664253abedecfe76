import type pg from 'pg';
import type { Component } from '../core/pg/open';
import type { CrawlOptions, CrawlState } from '../protocol';
import { PG_ACK_RECORD_MIGRATION, PG_LASTMOD_MIGRATION, PG_PAGES_MIGRATION, PG_RECORD_MIGRATION, PgPageStore } from './pg-pages';
import { toCrawl, type CrawlRow, type CrawlStore, type CrawlTotals } from './store';

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
  /** Every crawl's totals and drop counts in one statement, so a flush is all or nothing. */
  addTotals: `
    WITH totals AS (
      UPDATE crawls c SET pages = c.pages + t.pages, bytes = c.bytes + t.bytes
        FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(id, pages, bytes)
       WHERE c.id = t.id
    )
    INSERT INTO crawl_dropped (crawl_id, reason, n)
    SELECT * FROM unnest($4::text[], $5::text[], $6::bigint[])
    ON CONFLICT (crawl_id, reason) DO UPDATE SET n = crawl_dropped.n + excluded.n`,
  dropped: `SELECT reason, n FROM crawl_dropped WHERE crawl_id = $1`,
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

  async addTotals(totals: CrawlTotals): Promise<void> {
    const ids: string[] = [],
      pages: number[] = [],
      bytes: number[] = [];
    const dropIds: string[] = [],
      reasons: string[] = [],
      counts: number[] = [];
    for (const [id, t] of totals) {
      if (t.pages || t.bytes) {
        ids.push(id);
        pages.push(t.pages);
        bytes.push(t.bytes);
      }
      for (const [reason, n] of t.dropped) {
        dropIds.push(id);
        reasons.push(reason);
        counts.push(n);
      }
    }
    await this.pool.query(SQL.addTotals, [ids, pages, bytes, dropIds, reasons, counts]);
  }

  async dropped(id: string): Promise<Record<string, number>> {
    const { rows } = await this.pool.query(SQL.dropped, [id]);
    return Object.fromEntries(rows.map((r: { reason: string; n: number }) => [r.reason, r.n]));
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
