import type Database from 'better-sqlite3';
import { failureReason } from '../failure-reason';
import { HELD } from '../types';
import type { Migration } from './open';

/**
 * The queue's schema, versioned in `schema_versions` (open.ts). Each migration runs once, in order,
 * in one transaction. The comments are the design: read them before the engine.
 */
export const MIGRATIONS: readonly Migration[] = [
  /* 1 */ `
  -- One row per job. A job is in exactly one state; a lease is (worker_id, lease_token,
  -- lease_expires_at) and is only meaningful while state = 'in_progress'. lease_token changes at
  -- every lease, so an acknowledgement carrying an old token is fenced off.
  CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    kind             TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    key              TEXT    NOT NULL,           -- limit bucket: the host for crawl jobs
    dedupe_key       TEXT    NOT NULL,           -- normalized URL
    crawl_id         TEXT,
    depth            INTEGER,
    priority         INTEGER NOT NULL DEFAULT 0,
    -- queued, in_progress, done, skipped or error; set only by the statements in sql.ts. (A CHECK
    -- constraint here would cost a third of every state change: measured.)
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    reclaims         INTEGER NOT NULL DEFAULT 0, -- leases lost to dead workers
    run_after        INTEGER NOT NULL DEFAULT 0, -- 0: ready now; otherwise a backoff's end
    worker_id        TEXT,
    lease_token      TEXT,
    leased_at        INTEGER,
    lease_expires_at INTEGER,
    heartbeat_at     INTEGER,
    last_error       TEXT,
    result           TEXT,                       -- JSON
    payload          TEXT,                       -- JSON, the handler's own
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    -- How a finished job's last step ended (done, skipped, failed, cancelled) when this row is its
    -- only record: the common path writes no event row. NULL when an event row tells it.
    outcome          TEXT
  );

  -- Deduplication: one job per normalized URL per crawl, and one among standalone jobs.
  CREATE UNIQUE INDEX jobs_dedupe ON jobs (ifnull(crawl_id, ''), dedupe_key);
  -- Leasing: the ready jobs of one key, best first. Partial, so done jobs cost it nothing.
  CREATE INDEX jobs_ready ON jobs (key, priority DESC, id) WHERE state = 'queued';
  -- Backoffs: only delayed queued jobs are here, to find when the next one comes due.
  CREATE INDEX jobs_delayed ON jobs (run_after) WHERE state = 'queued' AND run_after > 0;
  -- Listing with keyset paging by state; heartbeats, reaping and the lease list read its
  -- in_progress range, which is as small as the number of leases held.
  CREATE INDEX jobs_state ON jobs (state, id);
  -- Listing by host or crawl. Without the state, these never change after the insert: every
  -- state change would otherwise rewrite two more index entries.
  CREATE INDEX jobs_key ON jobs (key, id);
  CREATE INDEX jobs_crawl ON jobs (crawl_id, id) WHERE crawl_id IS NOT NULL;

  -- A job's history, attempt by attempt. The row that ends an attempt (done, failed, retry,
  -- expired...) also records its lease (attempt, leased_at, worker_id): one row per attempt, not
  -- one per transition, and the 'enqueued' and 'leased' events are read back from these and the
  -- job row. Trimmed to the newest rows per job whenever a job goes round again (retry, reclaim,
  -- requeue), so it cannot grow without bound.
  CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    job_id    INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    worker_id TEXT,
    detail    TEXT,
    attempt   INTEGER,
    leased_at INTEGER
  );
  CREATE INDEX events_job ON events (job_id, id);

  -- Counts by state, kept in the same transactions as the changes: stats in O(1).
  CREATE TABLE counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO counts (state, n) VALUES ('queued',0),('in_progress',0),('done',0),('skipped',0),('error',0);

  -- The same counts per crawl: a crawl is finished when its queued and in_progress are 0.
  CREATE TABLE crawl_counts (
    crawl_id    TEXT PRIMARY KEY,
    queued      INTEGER NOT NULL DEFAULT 0,
    in_progress INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    error       INTEGER NOT NULL DEFAULT 0,
    capped      INTEGER NOT NULL DEFAULT 0       -- jobs refused past the crawl's cap
  ) WITHOUT ROWID;

  -- Live per-key bookkeeping, shared by every process on the database: the lease transaction
  -- reads and writes it under the write lock, so limits hold exactly across processes. A row
  -- exists only while the key has work, leases, or a delay still running; idle rows are evicted.
  -- A minimum delay is kept twice: leases are paced by next_start_at, so no worker leases a job
  -- only to wait; and each request claims its start (last_start_at), so the delay holds between
  -- the requests themselves whatever the jitter between a lease and its request.
  CREATE TABLE keys (
    key            TEXT PRIMARY KEY,
    queued         INTEGER NOT NULL DEFAULT 0,   -- queued jobs, ready or backing off
    in_flight      INTEGER NOT NULL DEFAULT 0,   -- leases held now, by any process
    top_priority   INTEGER NOT NULL DEFAULT 0,   -- best priority among its queued jobs
    last_served    INTEGER NOT NULL DEFAULT 0,   -- lease sequence number: round robin order
    next_start_at  INTEGER NOT NULL DEFAULT 0,   -- the minimum delay's next allowed lease start
    last_start_at  INTEGER NOT NULL DEFAULT 0,   -- the latest request start claimed (claimStart)
    deferred_until INTEGER NOT NULL DEFAULT 0,   -- the whole key held back (host backoff)
    defer_reason   TEXT
  ) WITHOUT ROWID;
  -- The dispatcher's scan: keys with work, best priority first, least recently served first.
  CREATE INDEX keys_rr ON keys (top_priority DESC, last_served) WHERE queued > 0;

  -- Finished jobs per key, for the hosts summary (queued and in-flight counts live in keys).
  -- Never evicted: like the jobs themselves, it grows with the hosts crawled, not with time.
  CREATE TABLE key_totals (
    key     TEXT    PRIMARY KEY,
    done    INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    error   INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  -- Per-key overrides set by users or learned (Crawl-delay). Few rows; never evicted.
  CREATE TABLE key_settings (
    key          TEXT PRIMARY KEY,
    lim          INTEGER CHECK (lim IS NULL OR lim >= 1),
    min_delay_ms INTEGER CHECK (min_delay_ms IS NULL OR min_delay_ms >= 0)
  ) WITHOUT ROWID;

  -- Small named values: the lease sequence.
  CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO meta (name, value) VALUES ('lease_seq', 0);
  `,
  /* 2 */ `
  -- A paused crawl's queued jobs wait with run_after at the HELD sentinel (or beyond). Counted per
  -- key, in the same transactions as queued, so the dispatcher's scan (keys_rr) leaves out the
  -- keys whose every queued job is held: a paused crawl over many hosts costs a lease nothing.
  -- queued still counts them (what users see); queued - held is the work a lease may find.
  ALTER TABLE keys ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
  UPDATE keys SET held = h.n
    FROM (SELECT key, count(*) AS n FROM jobs WHERE state = 'queued' AND run_after > 0 AND run_after >= ${HELD} GROUP BY key) h
   WHERE keys.key = h.key;
  DROP INDEX keys_rr;
  CREATE INDEX keys_rr ON keys (top_priority DESC, last_served) WHERE queued > held;
  `,
  /* 3 */ `
  -- Deferrals since an attempt last counted (set by ack, cleared by requeue): what a job's row
  -- says of a page put off 20 times by Retry-After, and, with run_after, whether a queued job waits
  -- out a deferral or a retry's backoff. Adding a column with a constant default rewrites nothing.
  ALTER TABLE jobs ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
  `,
  /* 4 */ `
  -- Every worker that ran on this database (Queue.workerSeen): when it started, when it was last
  -- heard from, busy or idle, and when it stopped, so that who holds what, and who died holding
  -- it, can be listed. A few rows a daemon start; forgotten a week after they were last seen.
  CREATE TABLE workers (
    id         TEXT    PRIMARY KEY,             -- host:pid:nonce@space (worker-id.ts)
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    stopped_at INTEGER
  ) WITHOUT ROWID;
  `,
  /* 5 */ (db) => {
    db.exec(`
    -- Why a failed job failed, as a class: core/failure-reason.ts's of its last error (errno codes
    -- kept, URLs and figures with units taken out), computed in JavaScript by the engine where a
    -- job fails (an acknowledgement, a reclaim past its cap). NULL in every other state: a requeue
    -- clears it. So failures are counted and listed by why, however many there are.
    ALTER TABLE jobs ADD COLUMN reason TEXT;

    -- Failed jobs per crawl ('' for jobs of none) and reason, kept in the same transactions as the
    -- jobs (tally.ts), as crawl_counts is: Queue.reasons reads these rows, not the failures. A row
    -- stays when its count falls to 0: like key_totals, they grow with the reasons met, not with time.
    CREATE TABLE reason_counts (
      crawl_id TEXT    NOT NULL,
      reason   TEXT    NOT NULL,
      n        INTEGER NOT NULL,
      PRIMARY KEY (crawl_id, reason)
    ) WITHOUT ROWID;
    `);
    backfillReasons(db);
    db.exec(`
    -- Listing one reason's failed jobs, of every crawl or of one, keyset-paged by id either way.
    -- Partial: only failed jobs have a reason, so no other job costs them an entry or a write.
    -- Made after the backfill: one build, not a million inserts.
    CREATE INDEX jobs_reason ON jobs (reason, id) WHERE reason IS NOT NULL;
    CREATE INDEX jobs_crawl_reason ON jobs (crawl_id, reason, id) WHERE reason IS NOT NULL;
    `);
  },
];

/** Failed jobs a statement of migration 5's backfill writes at most: each stays small, however many failed. */
const BACKFILL_BATCH = 10_000;

/**
 * The reasons of the jobs that failed before there were any, written by id range through a
 * function of this connection (SQLite stores nothing of it), then counted.
 */
function backfillReasons(db: Database.Database): void {
  db.function('failure_reason', { deterministic: true }, (error: unknown) => failureReason(typeof error === 'string' ? error : ''));
  const edge = db.prepare(`SELECT max(id) FROM (SELECT id FROM jobs WHERE state = 'error' AND id > ? ORDER BY id LIMIT ${BACKFILL_BATCH})`).pluck();
  const fill = db.prepare(`UPDATE jobs SET reason = failure_reason(last_error) WHERE state = 'error' AND id > ? AND id <= ?`);
  for (let after = 0, until = edge.get(after) as number | null; until !== null; after = until, until = edge.get(after) as number | null) {
    fill.run(after, until);
  }
  db.exec(`INSERT INTO reason_counts (crawl_id, reason, n) SELECT ifnull(crawl_id, ''), reason, count(*) FROM jobs WHERE state = 'error' GROUP BY 1, 2`);
}

export const SCHEMA_VERSION = MIGRATIONS.length;
