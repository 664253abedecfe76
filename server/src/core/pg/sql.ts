/**
 * Every SQL statement of the PostgreSQL queue engine, in one place. Batches travel as arrays
 * (unnest), so a statement moves a hundred jobs in one round trip. Times come in as parameters
 * from the engine's clock (the server's, as measured in clock.ts), never now(): tests move that
 * clock by hand. Parameters are bound, never spliced.
 */
import type { ListShape } from '../job-rules';

const LEASE_CLEARED = `lease_token = NULL, lease_expires_at = NULL`;
const MOVED = `RETURNING id, key, crawl_id, priority, state, attempts, max_attempts, reclaims, worker_id, leased_at, run_after`;
/** A reclaim's, with the error of the jobs it failed, whose reason the engine computes and writes (setReasons). */
const RECLAIMED = `${MOVED}, last_error`;

/** A dead worker's jobs go round again, until they have killed $3 (maxReclaims) workers. */
const RECLAIM_SET = `
  state = CASE WHEN reclaims + 1 >= $3 THEN 'error' ELSE 'queued' END,
  last_error = CASE WHEN reclaims + 1 >= $3 THEN 'lost its worker ' || (reclaims + 1) || ' times (' || $2 || ')' ELSE last_error END,
  finished_at = CASE WHEN reclaims + 1 >= $3 THEN $1::bigint ELSE NULL END,
  reclaims = reclaims + 1, attempts = attempts - 1, run_after = 0, ${LEASE_CLEARED}, updated_at = $1`;

/** The filters of a requeue: $ids, $key, $crawlId, $reason, each null for "any". */
const FILTERS = `
  AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
  AND ($3::text IS NULL OR key = $3)
  AND ($4::text IS NULL OR crawl_id = $4)
  AND ($6::text IS NULL OR reason = $6)`;

export const PG_SQL = {
  /** Which of a batch's (crawl, dedupe key) pairs exist already: an index probe each. */
  existing: `
    SELECT u.c, u.d FROM unnest($1::text[], $2::text[]) AS u(c, d)
      JOIN jobs j ON coalesce(j.crawl_id, '') = u.c AND j.dedupe_key = u.d`,
  /** A batch of new jobs in the order given, so that ids, and so the queue's FIFO, follow it. */
  insertJobs: insertJobs('ord'),
  /**
   * Up to $2 places under cap $3 for crawl $1, in a statement of its own: the row is locked only
   * for it. What is taken is the larger of the places counted so far and the crawl's committed
   * jobs (jobs enqueued without a cap count too).
   */
  reserveRoom: `
    UPDATE crawl_room
       SET granted = least($2::bigint, greatest($3::bigint - greatest(used, t.n), 0)),
           used = greatest(used, t.n) + least($2::bigint, greatest($3::bigint - greatest(used, t.n), 0))
      FROM (SELECT coalesce(sum(queued + in_progress + done + skipped + error), 0) AS n FROM crawl_counts WHERE crawl_id = $1) t
     WHERE crawl_id = $1
    RETURNING granted`,
  newRoom: `INSERT INTO crawl_room (crawl_id, used, granted) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING`,
  /** Places reserved and not used (duplicates met at insert, a rolled-back transaction) go back. */
  releaseRoom: `UPDATE crawl_room SET used = used - $2 WHERE crawl_id = $1`,

  /** Events in input order; a stale ack's event only for a job that exists. */
  insertEvents: `
    INSERT INTO events (job_id, at, type, worker_id, detail, attempt, leased_at)
    SELECT job_id, at, type, worker_id, detail, attempt, leased_at
      FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[])
           WITH ORDINALITY AS u(job_id, at, type, worker_id, detail, attempt, leased_at, ord)
     WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = u.job_id)
     ORDER BY ord`,
  trimEvents: `
    DELETE FROM events e USING (
      SELECT u.id, (SELECT id FROM events WHERE job_id = u.id ORDER BY id DESC OFFSET $2 - 1 LIMIT 1) AS edge
        FROM unnest($1::bigint[]) AS u(id)) t
     WHERE e.job_id = t.id AND e.id < t.edge`,

  /** A lease in one round trip (schema.ts migration 7, lease_jobs): $1 worker ... $11 the notification's largest payload. */
  leaseJobs: `SELECT * FROM lease_jobs($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,

  /**
   * Where a lease is renewed, by the configured TTL: the leases the worker says it holds ($4). One
   * whose lease_jobs answer was lost (a timeout, a dropped connection) must expire and be reclaimed,
   * not be renewed for as long as the worker lives.
   */
  heartbeat: `
    UPDATE jobs SET lease_expires_at = $2::bigint + $3::bigint, heartbeat_at = $2
     WHERE id = ANY($4::bigint[]) AND state = 'in_progress' AND worker_id = $1
    RETURNING id, lease_token AS token`,

  heldLeases: `
    SELECT id, lease_token, key, crawl_id, priority, attempts, max_attempts, leased_at FROM jobs
     WHERE id = ANY($1::bigint[]) AND state = 'in_progress'`,
  /**
   * Acknowledgements in one round trip (schema.ts migrations 7 and 8, ack_jobs_with): $1 the job
   * kind's hook function (or NULL), $2 its argument and $3 the acknowledgement of each attachment;
   * $4 the acks and $5 their links as JSON rows, read by name; fenced there: only the holder's live
   * lease (id AND token AND state) matches.
   */
  ackJobs: `SELECT * FROM ack_jobs_with($1, $2::jsonb, $3::integer[], $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10, $11, $12)`,

  anyExpired: `SELECT 1 FROM jobs WHERE state = 'in_progress' AND lease_expires_at < $1 AND worker_id IS DISTINCT FROM $2 LIMIT 1`,
  reapExpired: `UPDATE jobs SET ${RECLAIM_SET} WHERE state = 'in_progress' AND lease_expires_at < $1 AND worker_id IS DISTINCT FROM $4 ${RECLAIMED}`,
  reclaimWorkers: `UPDATE jobs SET ${RECLAIM_SET} WHERE state = 'in_progress' AND worker_id = ANY($4::text[]) ${RECLAIMED}`,
  /** The reasons of jobs a reclaim failed, computed from their errors in JavaScript. */
  setReasons: `UPDATE jobs SET reason = u.reason FROM unnest($1::bigint[], $2::text[]) AS u(id, reason) WHERE jobs.id = u.id`,
  leaseHolders: `SELECT DISTINCT worker_id FROM jobs WHERE state = 'in_progress'`,

  /** The worker registry: $1 worker, $2 now, $3 forget those silent since (see the SQLite engine's). */
  workerSeen: `
    WITH forgot AS (DELETE FROM workers WHERE coalesce(stopped_at, seen_at) < $3 AND id <> $1)
    INSERT INTO workers (id, started_at, seen_at) VALUES ($1, $2, $2)
    ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, stopped_at = NULL`,
  workerStopped: `UPDATE workers SET stopped_at = $2, seen_at = $2 WHERE id = $1`,
  workers: `
    WITH held AS (SELECT worker_id, count(*) AS n, max(heartbeat_at) AS beat FROM jobs WHERE state = 'in_progress' GROUP BY worker_id)
    SELECT * FROM (
      SELECT w.id AS "workerId", w.started_at AS "startedAt", w.seen_at AS "seenAt", w.stopped_at AS "stoppedAt", coalesce(h.n, 0) AS leases
        FROM workers w LEFT JOIN held h ON h.worker_id = w.id
      UNION ALL
      SELECT h.worker_id, NULL, h.beat, NULL, h.n FROM held h WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = h.worker_id)
    ) r ORDER BY "seenAt" DESC, "workerId" LIMIT $1`,

  /**
   * Requeue from one state at a time, so the counters know where each job came from. One statement
   * locks the jobs, moves them, and writes down the event that closed each finished one (see the
   * SQLite engine's recordClosing), so only the requeue that moved a job writes it: one that waited
   * on another's lock finds the job queued and leaves it, where reading first and moving after
   * wrote the event twice. $7: crawls held (paused), whose jobs go back held ($8, HELD).
   */
  requeue: `
    WITH old AS (
      SELECT id, finished_at, outcome, worker_id, last_error, reason, attempts, max_attempts, leased_at FROM jobs
       WHERE state = $1 ${FILTERS}
         FOR UPDATE),
    moved AS (
      UPDATE jobs SET state = 'queued', attempts = 0, reclaims = 0, deferrals = 0, result = NULL,
             run_after = CASE WHEN jobs.crawl_id = ANY($7::text[]) THEN $8::bigint ELSE 0 END,
             last_error = NULL, reason = NULL, finished_at = NULL, outcome = NULL, ${LEASE_CLEARED}, updated_at = $5
        FROM old WHERE jobs.id = old.id AND jobs.state = $1
      RETURNING jobs.id, jobs.key, jobs.crawl_id, jobs.priority, jobs.state, jobs.attempts, jobs.max_attempts, jobs.reclaims,
                jobs.worker_id, jobs.leased_at, jobs.run_after,
                old.finished_at AS closed_at, old.outcome AS closed_as, old.last_error AS closed_error, old.attempts AS closed_attempts,
                old.max_attempts AS closed_max, old.reason AS closed_reason),
    closing AS (
      INSERT INTO events (job_id, at, type, worker_id, detail, attempt, leased_at)
      SELECT id, closed_at, closed_as, CASE WHEN closed_as = 'cancelled' THEN NULL ELSE worker_id END,
             CASE WHEN closed_as = 'failed' THEN closed_error || ' (attempt ' || closed_attempts || '/' || closed_max || ')' ELSE closed_error END,
             CASE WHEN closed_as = 'cancelled' OR leased_at IS NULL THEN NULL ELSE closed_attempts END,
             CASE WHEN closed_as = 'cancelled' THEN NULL ELSE leased_at END
        FROM moved WHERE closed_as IS NOT NULL
       ORDER BY id)
    SELECT id, key, crawl_id, priority, state, attempts, max_attempts, reclaims, worker_id, leased_at, run_after, closed_reason AS reason FROM moved`,
  cancel: `
    UPDATE jobs SET state = 'skipped', last_error = 'cancelled', outcome = 'cancelled', updated_at = $3, finished_at = $3
     WHERE state = 'queued'
       AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))
       AND ($2::text IS NULL OR crawl_id = $2)
    ${MOVED}`,

  /**
   * One transaction's bookkeeping in one statement, ending with its notification (delivered on
   * commit). Per key: keys whose queued jobs left the queue (leased from, cancelled, reclaimed...)
   * have a row, and their best remaining priority is looked up again (an index seek that sees this
   * transaction's changes), the keys leased from taking their round-robin turn (one lease sequence
   * number per transaction) and pacing; keys that only gained jobs or lost leases are created if
   * need be. Then finished jobs per key, per crawl and per state, each in this transaction's shard ($1).
   */
  /**
   * The key rows a transaction's bookkeeping will write, locked first and in key order: the
   * bookkeeping statement's parts run in no set order, and two transactions locking the same hosts
   * in different orders would deadlock (found at two daemons: about one a second, each a second).
   */
  lockKeys: `SELECT 1 FROM keys WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE`,
  /**
   * A transaction's bookkeeping, in one statement: $1 the counter shard, $2 whether a lease was
   * served (a round-robin turn is taken), $3 now, $4-$9 the rows of PgTally.rows() as JSON (each
   * field read by name), $10 and $11 the channel and payload of the change notification, if any.
   */
  finish: `
    WITH seq AS (SELECT CASE WHEN $2::boolean THEN nextval('lease_seq') END AS n),
    updated AS (
      UPDATE keys k SET queued = k.queued + u.queued, in_flight = k.in_flight + u.in_flight, held = k.held + u.held,
             last_served = CASE WHEN u.served THEN (SELECT n FROM seq) ELSE k.last_served END,
             next_start_at = CASE WHEN u.delay_ms > 0 THEN $3 + u.delay_ms ELSE k.next_start_at END,
             top_priority = coalesce(
               (SELECT priority FROM jobs WHERE key = k.key AND state = 'queued' ORDER BY priority DESC, id LIMIT 1), 0)
        FROM jsonb_to_recordset($4::jsonb) AS u(key text, queued bigint, in_flight bigint, served boolean, delay_ms bigint, held bigint)
       WHERE k.key = u.key),
    bumped AS (
      INSERT INTO keys (key, queued, in_flight, top_priority, held)
      SELECT key, queued, in_flight, coalesce(priority, 0), held
        FROM jsonb_to_recordset($5::jsonb) AS u(key text, queued bigint, in_flight bigint, priority int, held bigint)
      ON CONFLICT (key) DO UPDATE SET
        queued = keys.queued + excluded.queued, in_flight = keys.in_flight + excluded.in_flight, held = keys.held + excluded.held,
        top_priority = CASE WHEN excluded.queued > 0 THEN greatest(keys.top_priority, excluded.top_priority) ELSE keys.top_priority END),
    totals AS (
      INSERT INTO key_totals (key, done, skipped, error)
      SELECT key, done, skipped, error FROM jsonb_to_recordset($6::jsonb) AS u(key text, done bigint, skipped bigint, error bigint)
      ON CONFLICT (key) DO UPDATE SET done = key_totals.done + excluded.done,
        skipped = key_totals.skipped + excluded.skipped, error = key_totals.error + excluded.error),
    crawls AS (
      INSERT INTO crawl_counts (crawl_id, shard, queued, in_progress, done, skipped, error, capped)
      SELECT crawl_id, $1, queued, in_progress, done, skipped, error, capped
        FROM jsonb_to_recordset($7::jsonb)
             AS u(crawl_id text, queued bigint, in_progress bigint, done bigint, skipped bigint, error bigint, capped bigint)
      ON CONFLICT (crawl_id, shard) DO UPDATE SET
        queued = crawl_counts.queued + excluded.queued, in_progress = crawl_counts.in_progress + excluded.in_progress,
        done = crawl_counts.done + excluded.done, skipped = crawl_counts.skipped + excluded.skipped,
        error = crawl_counts.error + excluded.error, capped = crawl_counts.capped + excluded.capped),
    states AS (
      INSERT INTO counts (state, shard, n)
      SELECT state, $1, n FROM jsonb_to_recordset($8::jsonb) AS u(state text, n bigint)
      ON CONFLICT (state, shard) DO UPDATE SET n = counts.n + excluded.n),
    reasons AS (
      INSERT INTO reason_counts (crawl_id, reason, shard, n)
      SELECT crawl_id, reason, $1, n FROM jsonb_to_recordset($9::jsonb) AS u(crawl_id text, reason text, n bigint)
      ON CONFLICT (crawl_id, reason, shard) DO UPDATE SET n = reason_counts.n + excluded.n)
    SELECT pg_notify($10, $11) WHERE $11::text IS NOT NULL`,

  stats: `SELECT state, sum(n) AS n FROM counts GROUP BY state`,
  crawlStats: `
    SELECT sum(queued) AS queued, sum(in_progress) AS in_progress, sum(done) AS done, sum(skipped) AS skipped,
           sum(error) AS error, sum(capped) AS capped
      FROM crawl_counts WHERE crawl_id = $1`,
  countByState: `SELECT state, count(*) AS n FROM jobs GROUP BY state`,
  /**
   * Failed jobs by reason, from the counters' shards: every crawl's, or one crawl's (its primary
   * key's range). Ties in byte order, as SQLite's, whatever the database's collation.
   */
  reasons: `
    SELECT reason, sum(n) AS count FROM reason_counts GROUP BY reason HAVING sum(n) > 0
     ORDER BY count DESC, reason COLLATE "C" LIMIT $1`,
  crawlReasons: `
    SELECT reason, sum(n) AS count FROM reason_counts WHERE crawl_id = $1 GROUP BY reason HAVING sum(n) > 0
     ORDER BY count DESC, reason COLLATE "C" LIMIT $2`,

  getJob: `SELECT * FROM jobs WHERE id = $1`,
  jobsByIds: `SELECT * FROM jobs WHERE id = ANY($1::bigint[])`,
  findByDedupeKeys: `SELECT * FROM jobs WHERE coalesce(crawl_id, '') = coalesce($1, '') AND dedupe_key = ANY($2::text[])`,
  jobEvents: `SELECT at, type, worker_id AS "workerId", detail, attempt, leased_at AS "leasedAt" FROM events WHERE job_id = $1 ORDER BY id`,
  leases: `
    SELECT id AS "jobId", url, key, worker_id AS "workerId", lease_token AS "leaseToken", leased_at AS "leasedAt",
           lease_expires_at AS "expiresAt", heartbeat_at AS "heartbeatAt"
      FROM jobs WHERE state = 'in_progress' ORDER BY lease_expires_at`,

  keySummaries: `
    SELECT a.key, coalesce(k.queued, 0) AS queued, coalesce(k.in_flight, 0) AS "inFlight",
           coalesce(t.done, 0) AS done, coalesce(t.error, 0) AS error,
           coalesce(s.lim, $1) AS lim, coalesce(s.min_delay_ms, $2) AS "minDelayMs",
           k.next_start_at AS "nextStartAt", k.deferred_until AS "deferredUntil", k.defer_reason AS "deferReason"
      FROM (SELECT key FROM keys UNION SELECT key FROM key_totals) a
      LEFT JOIN keys k ON k.key = a.key
      LEFT JOIN key_totals t ON t.key = a.key
      LEFT JOIN key_settings s ON s.key = a.key
     ORDER BY "inFlight" DESC, queued DESC, a.key
     LIMIT $3`,
  liveKeySummaries: `
    SELECT k.key, k.queued, k.in_flight AS "inFlight", coalesce(t.done, 0) AS done, coalesce(t.error, 0) AS error,
           coalesce(s.lim, $1) AS lim, coalesce(s.min_delay_ms, $2) AS "minDelayMs",
           k.next_start_at AS "nextStartAt", k.deferred_until AS "deferredUntil", k.defer_reason AS "deferReason"
      FROM keys k
      LEFT JOIN key_totals t ON t.key = k.key
      LEFT JOIN key_settings s ON s.key = k.key
     WHERE k.queued > k.held
     ORDER BY k.top_priority DESC, k.last_served
     LIMIT $3`,

  setKeyLimit: `
    INSERT INTO key_settings (key, lim) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET lim = excluded.lim`,
  setKeyDelay: `
    INSERT INTO key_settings (key, min_delay_ms) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET min_delay_ms = excluded.min_delay_ms`,
  dropEmptySettings: `DELETE FROM key_settings WHERE key = $1 AND lim IS NULL AND min_delay_ms IS NULL`,
  /** A request's start slot: at least $3 after the last one claimed; the row lock orders claimers. */
  claimStart: `
    INSERT INTO keys (key, last_start_at, next_start_at) VALUES ($1, $2::bigint, $2::bigint + $3::bigint)
    ON CONFLICT (key) DO UPDATE SET
      last_start_at = greatest($2, keys.last_start_at + $3),
      next_start_at = greatest(keys.next_start_at, greatest($2, keys.last_start_at + $3) + $3)
    RETURNING last_start_at`,
  deferKey: `
    INSERT INTO keys (key, deferred_until, defer_reason) VALUES ($1, $2, $3)
    ON CONFLICT (key) DO UPDATE SET deferred_until = excluded.deferred_until, defer_reason = excluded.defer_reason`,

  nextWake: `
    SELECT least(
      (SELECT min(run_after) FROM jobs WHERE state = 'queued' AND run_after > 0 AND run_after > $1 AND run_after < $2),
      (SELECT min(greatest(next_start_at, deferred_until)) FROM keys
        WHERE queued > held AND greatest(next_start_at, deferred_until) > $1)) AS at`,
  /**
   * A paused crawl's queued jobs wait with run_after at the HELD sentinel ($2); resuming makes
   * them ready. The keys' held counts move in the same statement, by the jobs it moved.
   */
  holdCrawl: `
    WITH moved AS (
      UPDATE jobs SET run_after = $2, updated_at = $3 WHERE crawl_id = $1 AND state = 'queued' AND run_after < $2 RETURNING id, key),
    counted AS (
      UPDATE keys SET held = keys.held + m.n FROM (SELECT key, count(*) AS n FROM moved GROUP BY key) m WHERE keys.key = m.key)
    SELECT id FROM moved`,
  releaseCrawl: `
    WITH moved AS (
      UPDATE jobs SET run_after = 0, updated_at = $3 WHERE crawl_id = $1 AND state = 'queued' AND run_after = $2 RETURNING id, key),
    counted AS (
      UPDATE keys SET held = keys.held - m.n FROM (SELECT key, count(*) AS n FROM moved GROUP BY key) m WHERE keys.key = m.key)
    SELECT id FROM moved`,
  evictIdleKeys: `
    DELETE FROM keys WHERE queued = 0 AND in_flight = 0 AND next_start_at <= $1 AND deferred_until <= $1
       AND last_start_at <= $1`,
  countKeys: `SELECT count(*) AS n FROM keys`,
  states: `SELECT id, state, crawl_id AS "crawlId", updated_at AS "updatedAt" FROM jobs WHERE id = ANY($1::bigint[])`,
} as const;

/** Listing statements, one per filter combination so each can use its index (walked either way); keyset paging on id. */
export function pgListSql(filter: ListShape): string {
  const { where, n: next } = listWhere(filter);
  let n = next;
  // A search looks only within its window (job-rules.ts windowEnd); values are bound parameters.
  if (filter.search) where.push(filter.newestFirst ? `id >= $${n++}` : `id <= $${n++}`);
  if (filter.search === 'status') {
    // Only a JSON number is a status, as on SQLite (where text never falls between two numbers).
    // PostgreSQL's json refuses a whole text holding the escape \u0000 ("cannot be converted to
    // text") or a lone surrogate's (\ud83d) wherever it is: each such escape (pairs too) becomes
    // \u0020, which keeps the JSON valid (after an escaped backslash it is literal text and stays
    // literal) and every number as it was.
    const json = `regexp_replace(result, '\\\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\\\u0020', 'g')::json`;
    where.push(`CASE WHEN json_typeof(${json} -> 'status') = 'number' THEN (${json} ->> 'status')::numeric END BETWEEN $${n++} AND $${n++}`);
  }
  if (filter.search === 'text') {
    where.push(`(url ILIKE $${n} ESCAPE '\\' OR last_error ILIKE $${n} ESCAPE '\\')`);
    n++;
  }
  return `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY id${filter.newestFirst ? ' DESC' : ''} LIMIT $${n}`;
}

/**
 * A search's window: the budget-th row past the cursor of the one filter it walks (ListShape.walk,
 * bound as $2), and whether one follows it; the skip is the last parameter. As on SQLite, the
 * rows counted are those examined, not those matching every filter.
 */
export function pgListWindowSql(filter: ListShape): string {
  const where = [filter.newestFirst ? 'id < $1' : 'id > $1'];
  let n = 2;
  if (filter.walk) where.push(`${WALKED_COLUMN[filter.walk]} = $${n++}`);
  return `SELECT id FROM jobs WHERE ${where.join(' AND ')} ORDER BY id${filter.newestFirst ? ' DESC' : ''} LIMIT 2 OFFSET $${n}`;
}

const WALKED_COLUMN = { state: 'state', key: 'key', crawlId: 'crawl_id', reason: 'reason' } as const;

/** The cursor ($1) and the filters set, in that order, and the next parameter's number. */
function listWhere(filter: ListShape): { where: string[]; n: number } {
  const where = [filter.newestFirst ? 'id < $1' : 'id > $1'];
  let n = 2;
  if (filter.state) where.push(`state = $${n++}`);
  if (filter.key) where.push(`key = $${n++}`);
  if (filter.crawlId) where.push(`crawl_id = $${n++}`);
  if (filter.reason) where.push(`reason = $${n++}`);
  return { where, n };
}

/**
 * New jobs from column arrays. Jobs already there are filtered out before they are given an id
 * (ON CONFLICT alone would spend one); ON CONFLICT catches a concurrent twin.
 */
function insertJobs(order: 'ord' | 'c, d'): string {
  return `
    INSERT INTO jobs (kind, url, key, dedupe_key, crawl_id, depth, priority, state, max_attempts,
                      run_after, last_error, payload, created_at, updated_at, finished_at, outcome)
    SELECT kind, url, key, d, c, depth, priority, state, max_attempts, run_after, last_error, payload, $13, $13,
           CASE WHEN state = 'skipped' THEN $13::bigint END, CASE WHEN state = 'skipped' THEN 'skipped' END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::text[],
                  $9::int[], $10::bigint[], $11::text[], $12::text[])
           WITH ORDINALITY AS u(kind, url, key, d, c, depth, priority, state, max_attempts, run_after, last_error, payload, ord)
     WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE coalesce(j.crawl_id, '') = coalesce(u.c, '') AND j.dedupe_key = u.d)
     ORDER BY ${order}
    ON CONFLICT DO NOTHING
    RETURNING id, coalesce(crawl_id, '') AS c, dedupe_key AS d`;
}
