import Database from 'better-sqlite3';
import * as assert from 'node:assert/strict';
import type { SqliteQueue } from '../../../server/src/core/sqlite/engine';
import { failureReason } from '../../../server/src/core/failure-reason';
import { SQL } from '../../../server/src/core/sqlite/sql';
import { HELD } from '../../../server/src/core/types';

/**
 * What must hold between any two transactions: every counter equals the COUNT it stands for,
 * and every live lease is whole. Takes the queue of this process, or a connection to a database
 * another process owns (see `openReadOnly`); either way the checks read one snapshot.
 */
export function checkInvariants(queueOrDb: SqliteQueue | Database.Database): void {
  const q = { db: 'db' in queueOrDb ? queueOrDb.db : queueOrDb };
  q.db.transaction(() => checkSnapshot(q))();
}

/** A read-only connection to a queue database, closed when `use` returns. */
export function withReadOnly<T>(dbPath: string, use: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return use(db);
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` reads "ok" (it lists what is wrong otherwise). */
/**
 * After a crawl that went through a fault: the file is sound, its bookkeeping agrees with its
 * rows, and the crawl has one job per page, every one done. Returns the rows, for the test's own checks.
 */
export function crawlEndedWhole(dbPath: string, crawlId: string, pages: number): { url: string; state: string; reclaims: number }[] {
  return withReadOnly(dbPath, (x) => {
    checkIntegrity(x);
    checkInvariants(x);
    const rows = x.prepare(`SELECT url, state, reclaims FROM jobs WHERE crawl_id = ?`).all(crawlId) as { url: string; state: string; reclaims: number }[];
    assert.equal(rows.length, pages, 'one job per page');
    assert.deepEqual(
      rows.filter((r) => r.state !== 'done'),
      [],
      'every page done',
    );
    return rows;
  });
}

export function checkIntegrity(db: Database.Database): void {
  assert.deepEqual(db.pragma('integrity_check', { simple: false }), [{ integrity_check: 'ok' }], 'PRAGMA integrity_check is ok');
}

function checkSnapshot(q: { db: Database.Database }): void {
  assert.deepEqual(statsNow(q), countByState(q), 'stats counters equal COUNT(*) by state');
  const keyCounts = q.db
    .prepare(
      `
    SELECT key, sum(state = 'queued') AS queued, sum(state = 'in_progress') AS in_flight,
           sum(state = 'queued' AND run_after >= :held) AS held
      FROM jobs GROUP BY key HAVING queued > 0 OR in_flight > 0 ORDER BY key`,
    )
    .all({ held: HELD });
  const keyRows = q.db.prepare(`SELECT key, queued, in_flight, held FROM keys WHERE queued > 0 OR in_flight > 0 ORDER BY key`).all();
  assert.deepEqual(keyRows, keyCounts, 'per-key queued, in-flight and held counters equal COUNT(*)');
  const totals = q.db
    .prepare(
      `
    SELECT key, sum(state = 'done') AS done, sum(state = 'skipped') AS skipped, sum(state = 'error') AS error
      FROM jobs GROUP BY key HAVING done + skipped + error > 0 ORDER BY key`,
    )
    .all();
  const totalRows = q.db.prepare(`SELECT key, done, skipped, error FROM key_totals WHERE done + skipped + error > 0 ORDER BY key`).all();
  assert.deepEqual(totalRows, totals, 'per-key finished counters equal COUNT(*)');
  const crawlCounts = q.db
    .prepare(
      `
    SELECT crawl_id, sum(state='queued') AS queued, sum(state='in_progress') AS in_progress, sum(state='done') AS done,
           sum(state='skipped') AS skipped, sum(state='error') AS error
      FROM jobs WHERE crawl_id IS NOT NULL GROUP BY crawl_id ORDER BY crawl_id`,
    )
    .all();
  const crawlRows = q.db
    .prepare(
      `
    SELECT crawl_id, queued, in_progress, done, skipped, error FROM crawl_counts
     WHERE queued + in_progress + done + skipped + error > 0 ORDER BY crawl_id`,
    )
    .all();
  assert.deepEqual(crawlRows, crawlCounts, 'per-crawl counters equal COUNT(*)');
  const reasonCounts = q.db
    .prepare(
      `
    SELECT ifnull(crawl_id, '') AS crawl_id, reason, count(*) AS n FROM jobs WHERE state = 'error' GROUP BY 1, 2 ORDER BY 1, 2`,
    )
    .all();
  const reasonRows = q.db.prepare(`SELECT crawl_id, reason, n FROM reason_counts WHERE n <> 0 ORDER BY 1, 2`).all();
  assert.deepEqual(reasonRows, reasonCounts, 'failed jobs by crawl and reason equal COUNT(*)');
  assert.deepEqual(
    misreasoned(q.db.prepare(`SELECT id, state, last_error, reason FROM jobs WHERE state = 'error' OR reason IS NOT NULL`).all() as ReasonRow[]),
    [],
    "a failed job, and only a failed job, has its error's reason",
  );
  const broken = q.db
    .prepare(
      `
    SELECT count(*) FROM jobs WHERE state = 'in_progress'
       AND (lease_token IS NULL OR worker_id IS NULL OR lease_expires_at IS NULL)`,
    )
    .pluck()
    .get();
  assert.equal(broken, 0, 'every in-progress job has a whole lease');
  const negative = q.db.prepare(`SELECT count(*) FROM keys WHERE queued < 0 OR in_flight < 0 OR held < 0 OR held > queued`).pluck().get();
  assert.equal(negative, 0, 'no negative key counters, no more held than queued');
}

export interface ReasonRow {
  id: number;
  state: string;
  last_error: string | null;
  reason: string | null;
}

/** The rows whose reason is not what it must be: their error's, failed; null, in any other state. */
export function misreasoned(rows: ReasonRow[]): ReasonRow[] {
  return rows.filter((r) => r.reason !== (r.state === 'error' ? failureReason(r.last_error ?? '') : null));
}

function countByState(q: { db: Database.Database }) {
  const out = { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0, total: 0 };
  for (const { state, n } of q.db.prepare(`SELECT state, count(*) AS n FROM jobs GROUP BY state`).all() as { state: keyof typeof out; n: number }[]) {
    out[state] = n;
    out.total += n;
  }
  return out;
}

function statsNow(q: { db: Database.Database }) {
  const out = { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0, total: 0 };
  for (const { state, n } of q.db.prepare(`SELECT state, n FROM counts`).all() as { state: keyof typeof out; n: number }[]) {
    out[state] = n;
    out.total += n;
  }
  return out;
}

/**
 * What the lease's scan of keys reads, told without timing: the index its plan walks, and the
 * entries in that index (the most the walk can read: it stops early, never reads past them).
 */
export function sqliteLeaseScan(q: SqliteQueue): { index: string | null; rows: number } {
  const plan = q.db.prepare(`EXPLAIN QUERY PLAN ${SQL.leaseCandidates}`).all({ defaultLimit: 1, defaultDelayMs: 0, now: 0 }) as { detail: string }[];
  const index = plan.map((p) => /^SCAN k USING (?:COVERING )?INDEX (\w+)/.exec(p.detail)?.[1]).find((i) => i !== undefined) ?? null;
  if (index === null) return { index, rows: q.db.prepare(`SELECT count(*) FROM keys`).pluck().get() as number };
  // dbstat reads the b-tree itself: in an index every cell, interior or leaf, is one entry.
  return { index, rows: q.db.prepare(`SELECT coalesce(sum(ncell), 0) FROM dbstat WHERE name = ?`).pluck().get(index) as number };
}

/** The database as the queue's schema version 1 left it: no held counts, keys_rr on queued > 0, no failure reasons. */
export function sqliteBackToSchema1(q: SqliteQueue): void {
  q.db.exec(`
    DROP INDEX jobs_reason;
    DROP INDEX jobs_crawl_reason;
    ALTER TABLE jobs DROP COLUMN reason;
    DROP TABLE reason_counts;
    DROP INDEX keys_rr;
    ALTER TABLE keys DROP COLUMN held;
    CREATE INDEX keys_rr ON keys (top_priority DESC, last_served) WHERE queued > 0;
    ALTER TABLE jobs DROP COLUMN deferrals;
    DROP TABLE workers;
    UPDATE schema_versions SET version = 1 WHERE component = 'queue';`);
}
