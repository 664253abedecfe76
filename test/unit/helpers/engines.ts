/**
 * The queue engines the contract tests run against: `for (const engine of ENGINES)` around a
 * suite runs it on SQLite (a file in a temp folder) and on PostgreSQL (a fresh database on the
 * test cluster, helpers/pg.ts). Each opens a queue on a database of its own, opens more
 * connections onto the same database (as other processes would), and checks its invariants.
 */
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { PgQueue, type PgQueueOptions } from '../../../server/src/core/pg/engine';
import { PgStatsReader } from '../../../server/src/core/pg/stats-reader';
import { SqliteQueue, type SqliteQueueOptions } from '../../../server/src/core/sqlite/engine';
import { SqliteStatsReader } from '../../../server/src/core/sqlite/stats-reader';
import type { Queue, StatsReader } from '../../../server/src/core/types';
import { checkInvariants, sqliteBackToSchema1, sqliteLeaseScan } from './invariants';
import { pgClient, pgDatabase } from './pg';
import { checkPgInvariants, pgBackToSchema1, pgLeaseScan, pgValue } from './pg-invariants';
import { eventually, tempDb } from './tmp';

export type EngineOptions = Omit<SqliteQueueOptions & PgQueueOptions, 'busyTimeoutMs' | 'poolSize'>;

export interface Engine {
  name: 'sqlite' | 'postgres';
  /** A new database: a file path or a URL. */
  database(): Promise<string>;
  /** A queue on that database, closed when the test file ends. */
  connect(where: string, opts?: EngineOptions): Promise<Queue>;
  /** The engine's reader of counts on a connection of its own (another thread's), closed when the test file ends. */
  statsReader(where: string): StatsReader;
  /** Counters equal COUNT(*), leases whole; with `maxInFlight`, no key past it. */
  check(q: Queue, maxInFlight?: number): Promise<void>;
  /** Event rows stored for a job (after trimming). */
  eventRows(q: Queue, jobId: number): Promise<number>;
  /** Per-key bookkeeping rows held. */
  keyRows(q: Queue): Promise<number>;
  /** The index a lease's scan of keys walks, and how many key rows it reads at most. */
  leaseScan(q: Queue): Promise<{ index: string | null; rows: number }>;
  /** Takes the database back to the queue's schema version 1 (a migration test reopens it). */
  backToSchema1(q: Queue): Promise<void>;
  /**
   * Holds jobs from another connection, as another process's transaction would, so that writes
   * meeting them queue up behind it: on PostgreSQL their rows' locks (`waiting` sees each writer
   * wait), on SQLite the file's write lock (writers cannot be watched waiting there).
   */
  holdJobs(where: string, ids: number[]): Promise<{ waiting(writers: number): Promise<void>; release(): Promise<void> }>;
}

const sqlite: Engine = {
  name: 'sqlite',
  database: async () => tempDb(),
  connect: async (where, opts) => {
    const q = new SqliteQueue(where, opts);
    after(() => q.close());
    return q;
  },
  statsReader: (where) => closedAfter(new SqliteStatsReader(where)),
  check: async (q, maxInFlight) => {
    const s = q as SqliteQueue;
    checkInvariants(s);
    if (maxInFlight !== undefined) {
      const over = s.db.prepare(`SELECT key FROM keys WHERE in_flight > ?`).all(maxInFlight);
      if (over.length) throw new Error(`keys past ${maxInFlight} leases: ${JSON.stringify(over)}`);
    }
  },
  eventRows: async (q, id) => (q as SqliteQueue).db.prepare('SELECT count(*) FROM events WHERE job_id = ?').pluck().get(id) as number,
  keyRows: async (q) => (q as SqliteQueue).keyRows(),
  leaseScan: async (q) => sqliteLeaseScan(q as SqliteQueue),
  backToSchema1: async (q) => sqliteBackToSchema1(q as SqliteQueue),
  holdJobs: async (where) => {
    const db = new Database(where);
    db.exec('BEGIN IMMEDIATE');
    return {
      waiting: () => new Promise((resolve) => setImmediate(resolve)),
      release: async () => {
        db.exec('COMMIT');
        db.close();
      },
    };
  },
};

const postgres: Engine = {
  name: 'postgres',
  database: () => pgDatabase(),
  connect: async (where, opts) => {
    const q = await PgQueue.open(where, opts);
    after(() => q.close());
    return q;
  },
  statsReader: (where) => closedAfter(new PgStatsReader(where)),
  check: (q, maxInFlight) => checkPgInvariants(q as PgQueue, maxInFlight),
  eventRows: (q, id) => pgValue<number>(q as PgQueue, 'SELECT count(*) FROM events WHERE job_id = $1', [id]),
  keyRows: (q) => (q as PgQueue).keyRows(),
  leaseScan: (q) => pgLeaseScan(q as PgQueue),
  backToSchema1: (q) => pgBackToSchema1(q as PgQueue),
  holdJobs: async (where, ids) => {
    const holder = await pgClient(where);
    const watcher = await pgClient(where);
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM jobs WHERE id = ANY($1::bigint[]) FOR UPDATE', [ids]);
    return {
      waiting: async (writers) => {
        await eventually(
          `${writers} writers waiting on the held rows`,
          async () =>
            (
              await watcher.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
              )
            ).rows[0].n >= writers,
        );
      },
      release: async () => {
        await holder.query('ROLLBACK');
      },
    };
  },
};

function closedAfter(reader: StatsReader): StatsReader {
  after(() => reader.close());
  return reader;
}

export const ENGINES: readonly Engine[] = [sqlite, postgres];

/** A queue on a fresh database of the engine. */
export async function openQueue(engine: Engine, opts?: EngineOptions): Promise<{ q: Queue; where: string }> {
  const where = await engine.database();
  return { q: await engine.connect(where, opts), where };
}
