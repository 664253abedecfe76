import * as assert from 'node:assert/strict';
import pg from 'pg';
import type { PgQueue } from '../../../server/src/core/pg/engine';
import { HELD } from '../../../server/src/core/types';
import { misreasoned, type ReasonRow } from './invariants';

/**
 * What must hold between any two transactions of the PostgreSQL engine, read in one snapshot:
 * every counter (summed over its shards) equals the COUNT it stands for, every live lease is
 * whole, and no key holds more leases than `maxInFlight` (when given).
 */
export async function checkPgInvariants(q: PgQueue, maxInFlight?: number): Promise<void> {
  const client = await q.pool.connect();
  const all = async (sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const states = (rows: { state: string; n: number }[]) => Object.fromEntries(rows.filter((r) => r.n !== 0).map((r) => [r.state, r.n]));
    assert.deepEqual(
      states((await all(`SELECT state, sum(n) AS n FROM counts GROUP BY state ORDER BY state`)) as { state: string; n: number }[]),
      states((await all(`SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY state`)) as { state: string; n: number }[]),
      'stats counters equal COUNT(*) by state',
    );
    assert.deepEqual(
      await all(`SELECT key, queued, in_flight, held FROM keys WHERE queued <> 0 OR in_flight <> 0 OR held <> 0 ORDER BY key`),
      await all(
        `SELECT key, count(*) FILTER (WHERE state = 'queued') AS queued, count(*) FILTER (WHERE state = 'in_progress') AS in_flight,
                        count(*) FILTER (WHERE state = 'queued' AND run_after >= $1) AS held
                   FROM jobs GROUP BY key HAVING count(*) FILTER (WHERE state IN ('queued', 'in_progress')) > 0 ORDER BY key`,
        [HELD],
      ),
      'per-key queued, in-flight and held counters equal COUNT(*)',
    );
    assert.deepEqual(
      await all(`SELECT key, done, skipped, error FROM key_totals WHERE done + skipped + error > 0 ORDER BY key`),
      await all(`SELECT key, count(*) FILTER (WHERE state = 'done') AS done, count(*) FILTER (WHERE state = 'skipped') AS skipped,
                        count(*) FILTER (WHERE state = 'error') AS error
                   FROM jobs GROUP BY key HAVING count(*) FILTER (WHERE state IN ('done', 'skipped', 'error')) > 0 ORDER BY key`),
      'per-key finished counters equal COUNT(*)',
    );
    assert.deepEqual(
      await all(`SELECT crawl_id, sum(queued) AS queued, sum(in_progress) AS in_progress, sum(done) AS done, sum(skipped) AS skipped, sum(error) AS error
                   FROM crawl_counts GROUP BY crawl_id HAVING sum(queued + in_progress + done + skipped + error) > 0 ORDER BY crawl_id`),
      await all(`SELECT crawl_id, count(*) FILTER (WHERE state = 'queued') AS queued, count(*) FILTER (WHERE state = 'in_progress') AS in_progress,
                        count(*) FILTER (WHERE state = 'done') AS done, count(*) FILTER (WHERE state = 'skipped') AS skipped,
                        count(*) FILTER (WHERE state = 'error') AS error
                   FROM jobs WHERE crawl_id IS NOT NULL GROUP BY crawl_id ORDER BY crawl_id`),
      'per-crawl counters equal COUNT(*)',
    );
    assert.deepEqual(
      await all(`SELECT crawl_id, reason, sum(n) AS n FROM reason_counts GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 2`),
      await all(`SELECT coalesce(crawl_id, '') AS crawl_id, reason, count(*) AS n FROM jobs WHERE state = 'error' GROUP BY 1, 2 ORDER BY 1, 2`),
      'failed jobs by crawl and reason equal COUNT(*)',
    );
    assert.deepEqual(
      misreasoned((await all(`SELECT id, state, last_error, reason FROM jobs WHERE state = 'error' OR reason IS NOT NULL`)) as ReasonRow[]),
      [],
      "a failed job, and only a failed job, has its error's reason",
    );
    const [broken] = await all(`SELECT count(*) AS n FROM jobs WHERE state = 'in_progress'
      AND (lease_token IS NULL OR worker_id IS NULL OR lease_expires_at IS NULL)`);
    assert.equal(broken.n, 0, 'every in-progress job has a whole lease');
    const [negative] = await all(`SELECT count(*) AS n FROM keys WHERE queued < 0 OR in_flight < 0 OR held < 0 OR held > queued`);
    assert.equal(negative.n, 0, 'no negative key counters, no more held than queued');
    if (maxInFlight !== undefined) {
      assert.deepEqual(await all(`SELECT key, in_flight FROM keys WHERE in_flight > ${Number(maxInFlight)}`), [], `no key past ${maxInFlight} leases`);
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** One value of a test's own read (a count, say) on the queue's database. */
export async function pgValue<T>(q: PgQueue, sql: string, params: unknown[] = []): Promise<T> {
  const { rows } = await q.pool.query(sql, params);
  return Object.values(rows[0] as pg.QueryResultRow)[0] as T;
}

interface PlanNode {
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/**
 * What the lease's scan of keys reads, told without timing: the index it walks (null: a
 * sequential scan) and the key rows it read, from the executed plan of the scan inside the lease
 * function (auto_explain, its plans sent to this connection as notices), in a transaction rolled
 * back. Nothing is at its limit, so the scan reads every row it can.
 */
export async function pgLeaseScan(q: PgQueue): Promise<{ index: string | null; rows: number }> {
  const client = await q.pool.connect();
  const plans: { 'Query Text': string; Plan: PlanNode }[] = [];
  const heard = (m: { message?: string }) => {
    if (m.message?.includes('"Query Text"')) plans.push(JSON.parse(m.message.slice(m.message.indexOf('{'))) as (typeof plans)[number]);
  };
  client.on('notice', heard);
  try {
    await client.query('BEGIN');
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET LOCAL auto_explain.log_min_duration = 0; SET LOCAL auto_explain.log_analyze = on;
      SET LOCAL auto_explain.log_nested_statements = on; SET LOCAL auto_explain.log_format = json; SET LOCAL client_min_messages = log`);
    await client.query(`SELECT * FROM lease_jobs('scan', 1000000, 1, 0, 0, 1000, 'scan', 0, 'scan', 'scan', 7000)`);
  } finally {
    await client.query('ROLLBACK');
    client.off('notice', heard);
    client.release();
  }
  const scan = plans.find((p) => p['Query Text'].includes('FROM keys k'));
  assert.ok(scan, 'the lease scanned the keys');
  const nodes: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    if (n['Relation Name'] === 'keys') nodes.push(n);
    n.Plans?.forEach(walk);
  };
  walk(scan.Plan);
  assert.equal(nodes.length, 1, 'the keys are read once');
  const [k] = nodes;
  // An index scan names its index; a bitmap heap scan's comes from its bitmap index scan below.
  const index = k['Index Name'] ?? k.Plans?.find((p) => p['Index Name'])?.['Index Name'] ?? null;
  return { index, rows: k['Actual Rows'] * k['Actual Loops'] + (k['Rows Removed by Filter'] ?? 0) + (k['Rows Removed by Index Recheck'] ?? 0) };
}

/** The database as the queue's schema version 1 left it: no held counts, keys_rr on queued > 0, no failure reasons. */
export async function pgBackToSchema1(q: PgQueue): Promise<void> {
  await q.pool.query(`
    DROP FUNCTION ack_jobs_with, ack_jobs, lease_jobs, change_payload, book;
    DROP TYPE ack_link, job_move;
    DROP TABLE reason_counts;
    ALTER TABLE jobs DROP COLUMN reason;
    DROP TABLE crawl_room;
    DROP INDEX keys_rr;
    ALTER TABLE keys DROP COLUMN held;
    CREATE INDEX keys_rr ON keys (top_priority DESC, last_served) WHERE queued > 0;
    ALTER TABLE jobs DROP COLUMN deferrals;
    DROP TABLE workers;
    UPDATE schema_versions SET version = 1 WHERE component = 'queue';`);
}
