/**
 * What our queue is compared with, each on the same lifecycle, machine and database settings
 * (WAL, synchronous=NORMAL, a busy timeout):
 * - bare SQL: one jobs table, one index, no events, counters, limits or dedupe: the ceiling;
 *   and the same with only the per-host indexes the features need: the ceiling of any design
 *   that keeps each host's jobs together;
 * - the original pattern the review criticised: a new connection (with its pragmas) per
 *   operation, one job per lease transaction, stats as six COUNT(*) queries;
 * - plainjob (npm), a popular better-sqlite3 queue, through its own API.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { runLifecycle, type BenchJob, type LifecycleDriver, type LifecycleResult } from './lifecycle';
import { elapsedMs, median, now } from './measure';

function pragmas(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
}

const token = () => randomBytes(8).toString('hex');

/**
 * The three indexes that keep each host's jobs together, which the queue's features need and bare
 * SQL has none of: dedupe on the URL (it begins with the host), each host's ready jobs in order
 * (leasing fair across hosts at a cost that does not grow with depth), each host's jobs by id
 * (listing by host). Only their upkeep is added: the lifecycle still leases by id.
 */
const PER_HOST_INDEXES = `
  CREATE UNIQUE INDEX jobs_dedupe ON jobs (url);
  CREATE INDEX jobs_ready ON jobs (key, id) WHERE state = 0;
  CREATE INDEX jobs_key ON jobs (key, id);`;

export async function lifecycleBare(dir: string, jobs: number, hosts: number, perHostIndexes = false): Promise<LifecycleResult> {
  const db = new Database(path.join(dir, 'bare.db'));
  pragmas(db);
  db.exec(`
    CREATE TABLE jobs (id INTEGER PRIMARY KEY, url TEXT NOT NULL, key TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0,
                       lease_token TEXT, lease_expires_at INTEGER);
    CREATE INDEX jobs_state ON jobs (state, id);
    ${perHostIndexes ? PER_HOST_INDEXES : ''}`);
  const insert = db.prepare(`INSERT INTO jobs (url, key) VALUES (?, ?)`);
  const lease = db.prepare(`
    UPDATE jobs SET state = 1, lease_token = :token, lease_expires_at = :expires
     WHERE id IN (SELECT id FROM jobs WHERE state = 0 ORDER BY id LIMIT :n)
    RETURNING id, url, key, lease_token AS token`);
  const complete = db.prepare(`UPDATE jobs SET state = 2, lease_token = NULL WHERE id = ? AND lease_token = ? AND state = 1`);
  const enqueueTx = db.transaction((batch: BenchJob[]) => {
    for (const j of batch) insert.run(j.url, j.key);
  });
  const ackTx = db.transaction((leased: { id: number; token: string }[]) => {
    for (const j of leased) complete.run(j.id, j.token);
  });
  const driver: LifecycleDriver<{ id: number; token: string }> = {
    enqueue: (batch) => enqueueTx.immediate(batch),
    lease: (n) => lease.all({ token: token(), expires: Date.now() + 60_000, n }) as { id: number; token: string }[],
    ack: (leased) => ackTx.immediate(leased),
    close: () => {
      db.close();
    },
  };
  try {
    return await runLifecycle(driver, jobs, hosts);
  } finally {
    await driver.close();
  }
}

const ORIGINAL_SCHEMA = `
  CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, key TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
    worker_id TEXT, lease_token TEXT, lease_expires_at INTEGER, created_at INTEGER, updated_at INTEGER);
  CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, priority DESC, id);`;

const STATES = ['queued', 'in_progress', 'done', 'skipped', 'error'];

/** A connection as the original code made one for every operation: opened, pragmas set, closed after. */
function withConnection<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    pragmas(db);
    return fn(db);
  } finally {
    db.close();
  }
}

/** The original pattern's stats: five COUNTs by state and one of everything, on a connection of its own. */
export function originalStats(file: string): Record<string, number> {
  return withConnection(file, (db) => {
    const out: Record<string, number> = {};
    for (const s of STATES) out[s] = db.prepare(`SELECT count(*) FROM jobs WHERE state = ?`).pluck().get(s) as number;
    out.total = db.prepare(`SELECT count(*) FROM jobs`).pluck().get() as number;
    return out;
  });
}

/**
 * The original pattern. One long-lived connection stays open beside it, idle (as another worker
 * or the editor's view would hold one): without it, every close of the last connection would
 * also checkpoint the WAL into the database, and the pattern would look even slower than it is.
 */
export async function lifecycleOriginal(dir: string, jobs: number, hosts: number): Promise<LifecycleResult> {
  const file = path.join(dir, 'original.db');
  withConnection(file, (db) => db.exec(ORIGINAL_SCHEMA));
  const bystander = new Database(file);
  const driver: LifecycleDriver<{ id: number; token: string }> = {
    enqueue: (batch) =>
      withConnection(file, (db) => {
        const insert = db.prepare(`INSERT INTO jobs (url, key, created_at, updated_at) VALUES (?, ?, ?, ?)`);
        const t = Date.now();
        db.transaction(() => {
          for (const j of batch) insert.run(j.url, j.key, t, t);
        }).immediate();
      }),
    lease: (n) => {
      const out: { id: number; token: string }[] = [];
      for (let i = 0; i < n; i++) {
        const got = withConnection(file, (db) =>
          db
            .transaction(() => {
              const id = db.prepare(`SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1`).pluck().get() as number | undefined;
              if (id === undefined) return null;
              const t = token();
              const at = Date.now();
              db.prepare(
                `UPDATE jobs SET state = 'in_progress', worker_id = ?, lease_token = ?, lease_expires_at = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?`,
              ).run('w', t, at + 60_000, at, id);
              return { id, token: t };
            })
            .immediate(),
        );
        if (!got) break;
        out.push(got);
      }
      return out;
    },
    ack: (leased) => {
      for (const j of leased) {
        withConnection(file, (db) => {
          db.prepare(`UPDATE jobs SET state = 'done', lease_token = NULL, updated_at = ? WHERE id = ? AND lease_token = ?`).run(Date.now(), j.id, j.token);
        });
      }
    },
    stats: () => originalStats(file),
    close: () => {
      bystander.close();
    },
  };
  try {
    return await runLifecycle(driver, jobs, hosts);
  } finally {
    await driver.close();
  }
}

/** The original pattern's six COUNTs against an existing database (our million-job one), timed per call. */
export function originalCountsLatency(file: string, calls: number): { medianMs: number; maxMs: number } {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = now();
    originalStats(file);
    times.push(elapsedMs(start));
  }
  return { medianMs: median(times), maxMs: Math.max(...times) };
}

/**
 * plainjob through its own API, as its worker drives it: getAndMarkJobAsProcessing (one job per
 * transaction, the only lease it has) then getJobById for the job's data, markJobAsDone when done.
 * In its favour: its done-marks are wrapped 100 to a transaction (its API commits each alone),
 * and it is given no stats call (its countJobs is a COUNT(*) per call).
 */
export async function lifecyclePlainjob(dir: string, jobs: number, hosts: number): Promise<LifecycleResult> {
  // plainjob is an ES module; this file is CommonJS.
  const { better, defineQueue } = await import('plainjob');
  const db = new Database(path.join(dir, 'plainjob.db'));
  const silent = { error() {}, warn() {}, info() {}, debug() {} };
  const queue = defineQueue({ connection: better(db), logger: silent });
  const doneTx = db.transaction((ids: number[]) => {
    for (const id of ids) queue.markJobAsDone(id);
  });
  const driver: LifecycleDriver<number> = {
    enqueue: (batch) => {
      queue.addMany('noop', batch);
    },
    lease: (n) => {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        const got = queue.getAndMarkJobAsProcessing('noop');
        if (!got) break;
        const job = queue.getJobById(got.id);
        if (job) ids.push(job.id);
      }
      return ids;
    },
    ack: (ids) => doneTx(ids),
    close: () => queue.close(),
  };
  try {
    return await runLifecycle(driver, jobs, hosts);
  } finally {
    await driver.close();
  }
}
