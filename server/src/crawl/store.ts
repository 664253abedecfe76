import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { retryWhileBusy } from '../core/sqlite/busy';
import type { AckHook, AckWriter } from '../core/types';
import type { CrawlOptions, CrawlState } from '../protocol';
import type { PageStore, PageWrite } from './pages';
import { LASTMOD_MIGRATION, LINK_LOG_MIGRATION, LINKS_BY_TARGET_MIGRATION, PAGES_LOG_MIGRATION, PAGES_MIGRATION, SqlitePageStore } from './sqlite-pages';

/**
 * The crawl kind's own tables, in the queue's database file, versioned as the `crawl` component.
 * Jobs stay the queue's; a crawl row holds what the queue does not know: seeds, options, state,
 * and page and byte totals.
 */
export const CRAWL_COMPONENT = {
  name: 'crawl',
  migrations: [
    /* 1 */ `
    CREATE TABLE crawls (
      id          TEXT    PRIMARY KEY,
      name        TEXT,
      seeds       TEXT    NOT NULL,                -- JSON array of normalized seed URLs
      options     TEXT    NOT NULL,                -- JSON CrawlOptions
      state       TEXT    NOT NULL CHECK (state IN ('running','paused','finished','cancelled')),
      pages       INTEGER NOT NULL DEFAULT 0,      -- 2xx pages fetched
      bytes       INTEGER NOT NULL DEFAULT 0,      -- their decoded bytes
      created_at  INTEGER NOT NULL,
      finished_at INTEGER
    ) WITHOUT ROWID;

    -- Links seen but not enqueued, by reason (out of scope, max depth, nofollow...).
    CREATE TABLE crawl_dropped (
      crawl_id TEXT    NOT NULL,
      reason   TEXT    NOT NULL,
      n        INTEGER NOT NULL,
      PRIMARY KEY (crawl_id, reason)
    ) WITHOUT ROWID;

    -- robots.txt per origin, parsed, with an expiry (RFC 9309 allows caching up to 24 hours).
    CREATE TABLE robots (
      origin     TEXT    PRIMARY KEY,
      data       TEXT    NOT NULL,                 -- JSON from Robots.toJSON()
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    `,
    /* 2 */ PAGES_MIGRATION,
    /* 3 */ LINK_LOG_MIGRATION,
    /* 4 */ `
    -- The state alone, which every page reads: through the table, the read walked the row's seeds
    -- (a JSON array in overflow pages, 200 KB for 5,000 seeds): 130 µs a page in a daemon.
    CREATE INDEX crawls_state ON crawls (id, state);
    `,
    /* 5 */ PAGES_LOG_MIGRATION,
    /* 6 */ LASTMOD_MIGRATION,
    /* 7 */ LINKS_BY_TARGET_MIGRATION,
  ],
};

export interface CrawlRow {
  id: string;
  name: string | null;
  seeds: string[];
  options: CrawlOptions;
  state: CrawlState;
  pages: number;
  bytes: number;
  createdAt: number;
  finishedAt: number | null;
}

export const SQL = {
  insert: `INSERT INTO crawls (id, name, seeds, options, state, created_at) VALUES (:id, :name, :seeds, :options, 'running', :now)`,
  get: `SELECT * FROM crawls WHERE id = ?`,
  /** SQLite's planner takes the primary key, whose rows hold the seeds: 20 µs a read from memory at 5,000 seeds, 0.6 through the index. */
  state: `SELECT state FROM crawls INDEXED BY crawls_state WHERE id = ?`,
  list: `SELECT * FROM crawls ORDER BY created_at DESC, id`,
  active: `SELECT * FROM crawls WHERE state IN ('running', 'paused')`,
  setState: `UPDATE crawls SET state = :state, finished_at = :finishedAt WHERE id = :id`,
  /** Finishes a running crawl only if it still is one (another process may have got there first). */
  finish: `UPDATE crawls SET state = 'finished', finished_at = :now WHERE id = :id AND state = 'running'`,
  addTotals: `UPDATE crawls SET pages = pages + :pages, bytes = bytes + :bytes WHERE id = :id`,
  addDropped: `
    INSERT INTO crawl_dropped (crawl_id, reason, n) VALUES (:id, :reason, :n)
    ON CONFLICT (crawl_id, reason) DO UPDATE SET n = n + excluded.n`,
  dropped: `SELECT reason, n FROM crawl_dropped WHERE crawl_id = ?`,
  getRobots: `SELECT data, expires_at AS expiresAt FROM robots WHERE origin = ?`,
  putRobots: `
    INSERT INTO robots (origin, data, expires_at) VALUES (:origin, :data, :expiresAt)
    ON CONFLICT (origin) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
  dropExpiredRobots: `DELETE FROM robots WHERE expires_at < ?`,
} as const;

type Row = Record<string, unknown>;

/**
 * What an attempt of a crawl's job writes with its acknowledgement (the queue's AckHook): its
 * page's record (null: records are off), and what its page adds to the crawl's totals (null: it
 * counted none, a failure or a skip). Written in the acknowledgement's transaction, a crawl's
 * totals are never ahead of or behind its jobs: counted in memory and written every 250 ms, a
 * `kill -9` lost up to 250 ms of them, and clients read counts a tick behind the jobs.
 */
export interface CrawlAck {
  page: PageWrite | null;
  totals: CrawlTotals | null;
}

/** What one page adds to its crawl's figures: a page, its bytes, and its links dropped by reason. */
export interface CrawlTotals {
  crawlId: string;
  pages: number;
  bytes: number;
  dropped: Record<string, number>;
}

/** Where crawls live beside the queue's jobs: one implementation per queue engine. */
export interface CrawlStore {
  /** Page records and the link graph. */
  readonly pages: PageStore;
  insert(c: { id: string; name: string | null; seeds: string[]; options: CrawlOptions; now: number }): Promise<void>;
  get(id: string): Promise<CrawlRow | null>;
  /** Only the state: what every page checks before fetching (a whole row costs two JSON parses). */
  state(id: string): Promise<CrawlState | null>;
  list(): Promise<CrawlRow[]>;
  /** Running and paused crawls. */
  active(): Promise<CrawlRow[]>;
  setState(id: string, state: CrawlState, finishedAt: number | null): Promise<void>;
  /** Finishes a running crawl; false when it was not running (another process got there first). */
  finish(id: string, now: number): Promise<boolean>;
  /** What writes each attempt's CrawlAck with its acknowledgement, for the queue of this store's engine. */
  ackHook(log: (level: 'warn', msg: string) => void): AckHook;
  dropped(id: string): Promise<Record<string, number>>;
  /** Adds `n` to one of a crawl's named counters (crawl_dropped: its links dropped by reason, and counts kept there under names no reason has). */
  addCount(id: string, name: string, n: number): Promise<void>;
  getRobots(origin: string): Promise<{ data: unknown; expiresAt: number } | null>;
  putRobots(origin: string, data: unknown, expiresAt: number): Promise<void>;
  dropExpiredRobots(now: number): Promise<void>;
}

/** The crawl store in the SQLite queue's own file and connection. */
export class SqliteCrawlStore implements CrawlStore {
  private readonly s: { [K in keyof typeof SQL]: Statement };
  readonly pages: SqlitePageStore;

  constructor(private readonly db: Database.Database) {
    this.s = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)])) as SqliteCrawlStore['s'];
    this.pages = new SqlitePageStore(db);
  }

  /** A write, tried again on timers while another process holds the lock (busy.ts). */
  private write<T>(fn: () => T): Promise<T> {
    return retryWhileBusy(fn, this.db.name);
  }

  async insert(c: { id: string; name: string | null; seeds: string[]; options: CrawlOptions; now: number }): Promise<void> {
    await this.write(() => this.s.insert.run({ id: c.id, name: c.name, seeds: JSON.stringify(c.seeds), options: JSON.stringify(c.options), now: c.now }));
  }

  async get(id: string): Promise<CrawlRow | null> {
    const r = this.s.get.get(id) as Row | undefined;
    return r ? toCrawl(r) : null;
  }

  async state(id: string): Promise<CrawlState | null> {
    return (this.s.state.pluck().get(id) as CrawlState | undefined) ?? null;
  }

  async list(): Promise<CrawlRow[]> {
    return (this.s.list.all() as Row[]).map(toCrawl);
  }

  async active(): Promise<CrawlRow[]> {
    return (this.s.active.all() as Row[]).map(toCrawl);
  }

  async setState(id: string, state: CrawlState, finishedAt: number | null): Promise<void> {
    await this.write(() => this.s.setState.run({ id, state, finishedAt }));
  }

  /** With the page logs moved in: a finished crawl's records all read from \`pages\`, whatever holds the lock later. */
  async finish(id: string, now: number): Promise<boolean> {
    return this.write(() =>
      this.db
        .transaction(() => {
          const finished = this.s.finish.run({ id, now }).changes > 0;
          if (finished) this.pages.moveLogs();
          return finished;
        })
        .immediate(),
    );
  }

  /** Totals and records on the queue's connection, inside its transaction; records as SqlitePageStore.ackHook writes them. */
  ackHook(log: (level: 'warn', msg: string) => void): AckWriter {
    const records = this.pages.ackHook(log);
    return {
      write: (attached) => {
        const pages: PageWrite[] = [];
        // Summed by crawl first: a batch's pages are mostly one crawl's, a row written once.
        const sums = new Map<string, { pages: number; bytes: number; dropped: Map<string, number> }>();
        for (const { page, totals } of attached as CrawlAck[]) {
          if (page) pages.push(page);
          if (!totals) continue;
          let sum = sums.get(totals.crawlId);
          if (!sum) sums.set(totals.crawlId, (sum = { pages: 0, bytes: 0, dropped: new Map() }));
          sum.pages += totals.pages;
          sum.bytes += totals.bytes;
          for (const [reason, n] of Object.entries(totals.dropped)) sum.dropped.set(reason, (sum.dropped.get(reason) ?? 0) + n);
        }
        for (const [id, sum] of sums) {
          this.s.addTotals.run({ id, pages: sum.pages, bytes: sum.bytes });
          for (const [reason, n] of sum.dropped) this.s.addDropped.run({ id, reason, n });
        }
        if (pages.length > 0) records.write(pages);
      },
      rolledBack: () => records.rolledBack(),
    };
  }

  async dropped(id: string): Promise<Record<string, number>> {
    return Object.fromEntries((this.s.dropped.all(id) as { reason: string; n: number }[]).map((r) => [r.reason, r.n]));
  }

  async addCount(id: string, name: string, n: number): Promise<void> {
    await this.write(() => this.s.addDropped.run({ id, reason: name, n }));
  }

  async getRobots(origin: string): Promise<{ data: unknown; expiresAt: number } | null> {
    const r = this.s.getRobots.get(origin) as { data: string; expiresAt: number } | undefined;
    return r ? { data: JSON.parse(r.data), expiresAt: r.expiresAt } : null;
  }

  async putRobots(origin: string, data: unknown, expiresAt: number): Promise<void> {
    await this.write(() => this.s.putRobots.run({ origin, data: JSON.stringify(data), expiresAt }));
  }

  async dropExpiredRobots(now: number): Promise<void> {
    await this.write(() => this.s.dropExpiredRobots.run(now));
  }
}

export function toCrawl(r: Row): CrawlRow {
  return {
    id: r.id as string,
    name: r.name as string | null,
    seeds: JSON.parse(r.seeds as string) as string[],
    options: JSON.parse(r.options as string) as CrawlOptions,
    state: r.state as CrawlState,
    pages: r.pages as number,
    bytes: r.bytes as number,
    createdAt: r.created_at as number,
    finishedAt: r.finished_at as number | null,
  };
}
