/**
 * Every SQL statement of the SQLite queue engine, in one place. Each state change of a job is one
 * statement; the engine turns what moved into counter and per-key deltas. The per-job statements
 * of the hot path (enqueue, lease, ack) avoid RETURNING, which SQLite implements by buffering
 * rows and which costs more than the update itself; the rarer bulk changes (reap, requeue,
 * cancel) use it. Parameters are bound, never spliced: nothing from a client becomes SQL text.
 */
import type { ListShape } from '../job-rules';

/** A live lease is its token and expiry. worker_id and leased_at stay: the last holder is what a
 * user debugging a job wants to see. */
const LEASE_CLEARED = `lease_token = NULL, lease_expires_at = NULL`;
/**
 * A reclaimed job: back in the queue with the attempt it lost given back, or failed for good once
 * it has lost :maxReclaims workers (pg/sql.ts has its twin).
 */
const RECLAIM_SET = `
       state = CASE WHEN reclaims + 1 >= :maxReclaims THEN 'error' ELSE 'queued' END,
       last_error = CASE WHEN reclaims + 1 >= :maxReclaims
                         THEN 'lost its worker ' || (reclaims + 1) || ' times (' || :reason || ')'
                         ELSE last_error END,
       finished_at = CASE WHEN reclaims + 1 >= :maxReclaims THEN :now ELSE NULL END,
       reclaims = reclaims + 1, attempts = attempts - 1, run_after = 0,
       ${LEASE_CLEARED}, updated_at = :now`;
/** What the bulk transitions return, so the engine can keep its counters and write the events. */
const MOVED = `RETURNING id, key, crawl_id, priority, state, attempts, max_attempts, reclaims, worker_id, leased_at, run_after`;
/** A reclaim's, with the error of the jobs it failed, whose reason the engine computes and writes (setReasons). */
const RECLAIMED = `${MOVED}, last_error`;
/**
 * Which jobs a requeue takes (from one state at a time, :from), for recordClosing and requeue alike.
 * One of a reason says so plainly, so that its index is walked: the reason's failures, not every
 * failed job (`:reason IS NULL OR ...` walked all 100,000 of a queue's, 130 ms, to find none).
 */
function requeued(ofReason: boolean): string {
  return `
     WHERE state = :from${ofReason ? ' AND reason = :reason' : ''}
       AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
       AND (:key IS NULL OR key = :key)
       AND (:crawlId IS NULL OR crawl_id = :crawlId)`;
}

/**
 * Before a finished job is requeued, the event that closed it is written down: until then the
 * job row itself told it (history() in the engine), unless a stored row did (cancelled, given
 * up after lost workers, skipped at enqueue).
 */
function recordClosing(ofReason: boolean): string {
  return `
    INSERT INTO events (job_id, at, type, worker_id, detail, attempt, leased_at)
    SELECT id, finished_at, outcome, CASE WHEN outcome = 'cancelled' THEN NULL ELSE worker_id END,
           CASE WHEN outcome = 'failed' THEN last_error || ' (attempt ' || attempts || '/' || max_attempts || ')' ELSE last_error END,
           CASE WHEN outcome = 'cancelled' OR leased_at IS NULL THEN NULL ELSE attempts END,
           CASE WHEN outcome = 'cancelled' THEN NULL ELSE leased_at END
      FROM jobs ${requeued(ofReason)} AND outcome IS NOT NULL`;
}

/**
 * Requeue from one state at a time, so the counters know where each job came from. The reason
 * is left for RETURNING (which gives a row as updated) to say what a failed job leaves with,
 * then cleared (clearReasons).
 */
function requeue(ofReason: boolean): string {
  return `
    UPDATE jobs SET state = 'queued', attempts = 0, reclaims = 0, deferrals = 0, result = NULL,
           run_after = CASE WHEN crawl_id IN (SELECT value FROM json_each(:heldCrawls)) THEN :held ELSE 0 END,
           last_error = NULL, finished_at = NULL, outcome = NULL, ${LEASE_CLEARED}, updated_at = :now
    ${requeued(ofReason)}
    ${MOVED}, reason`;
}

export const SQL = {
  /** Positional: binding sixteen named parameters costs a third of the insert (measured). */
  insertJob: `
    INSERT INTO jobs (kind, url, key, dedupe_key, crawl_id, depth, priority, state, max_attempts,
                      run_after, last_error, payload, created_at, updated_at, finished_at, outcome)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO NOTHING`,

  insertEvent: `
    INSERT INTO events (job_id, at, type, worker_id, detail, attempt, leased_at)
    VALUES (:id, :at, :type, :workerId, :detail, :attempt, :leasedAt)`,
  insertEventIfJob: `
    INSERT INTO events (job_id, at, type, worker_id, detail)
    SELECT id, :at, :type, :workerId, :detail FROM jobs WHERE id = :id`,
  trimEvents: `
    DELETE FROM events WHERE job_id = :id AND id <
      (SELECT id FROM events WHERE job_id = :id ORDER BY id DESC LIMIT 1 OFFSET :keep - 1)`,

  nextLeaseSeq: `UPDATE meta SET value = value + 1 WHERE name = 'lease_seq' RETURNING value`,

  /**
   * Keys that may start a job now, best priority first, then least recently served (round robin).
   * No bound LIMIT here or below: SQLite plans `LIMIT ?` five times slower; the engine stops
   * stepping once it has enough rows. `queued > held` is keys_rr's condition, so the scan walks
   * that index and never meets a key whose jobs are all held (a paused crawl's).
   */
  leaseCandidates: `
    SELECT k.key, k.queued - k.held AS queued, k.in_flight AS inFlight,
           coalesce(s.lim, :defaultLimit) AS lim, coalesce(s.min_delay_ms, :defaultDelayMs) AS delayMs
      FROM keys k LEFT JOIN key_settings s ON s.key = k.key
     WHERE k.queued > k.held
       AND k.in_flight < coalesce(s.lim, :defaultLimit)
       AND k.next_start_at <= :now AND k.deferred_until <= :now
     ORDER BY k.top_priority DESC, k.last_served`,

  readyJobsOfKey: `
    SELECT id FROM jobs
     WHERE key = :key AND state = 'queued' AND run_after <= :now
     ORDER BY priority DESC, id`,

  /** Where a lease is taken: a token new to every lease (a random batch part and the id), attempts counted. */
  leaseJobs: `
    UPDATE jobs SET state = 'in_progress', worker_id = :workerId,
           lease_token = :batch || '.' || id, leased_at = :now,
           lease_expires_at = :now + :ttlMs, heartbeat_at = :now,
           attempts = attempts + 1, updated_at = :now
     WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'queued'`,
  /** What a worker needs of the jobs it just leased; the lease itself it is told by the engine. */
  leasedJobs: `
    SELECT id, kind, url, key, crawl_id, depth, priority, attempts, max_attempts, reclaims, last_error,
           payload, created_at, deferrals
      FROM jobs WHERE id IN (SELECT value FROM json_each(:ids))`,

  /** Where a lease is renewed: every live lease of this worker, by the configured TTL. */
  /** The leases the worker says it holds (:ids): one it was never told of must expire, not live as long as the worker. */
  heartbeat: `
    UPDATE jobs SET lease_expires_at = :now + :ttlMs, heartbeat_at = :now
     WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'in_progress' AND worker_id = :workerId
    RETURNING id, lease_token AS token`,

  /** The lease an acknowledgement claims to hold, if it still does. */
  heldLease: `
    SELECT key, crawl_id, priority, attempts, max_attempts, leased_at FROM jobs
     WHERE id = :id AND lease_token = :token AND state = 'in_progress'`,
  /** Where a lease is fenced: only the holder's live lease (id AND token AND state) matches. */
  ack: `
    UPDATE jobs SET state = ?, run_after = ?, finished_at = ?, result = ?, last_error = ?, reason = ?,
           attempts = attempts + ?, deferrals = coalesce(deferrals + ?, 0), outcome = ?, ${LEASE_CLEARED}, updated_at = ?
     WHERE id = ? AND lease_token = ? AND state = 'in_progress'`,

  /** Reclaims: a dead worker's jobs go round again, until they have killed :maxReclaims workers. */
  reapExpired: `UPDATE jobs SET ${RECLAIM_SET} WHERE state = 'in_progress' AND lease_expires_at < :now AND worker_id IS NOT :self ${RECLAIMED}`,
  reclaimWorkers: `UPDATE jobs SET ${RECLAIM_SET} WHERE state = 'in_progress' AND worker_id IN (SELECT value FROM json_each(:workers)) ${RECLAIMED}`,
  /** [[id, reason], ...]: the reasons of jobs a reclaim failed, computed from their errors in JavaScript. */
  setReasons: `UPDATE jobs SET reason = r.value ->> 1 FROM json_each(?) r WHERE jobs.id = r.value ->> 0`,
  anyExpired: `SELECT 1 FROM jobs WHERE state = 'in_progress' AND lease_expires_at < :now AND worker_id IS NOT :self LIMIT 1`,
  leaseHolders: `SELECT DISTINCT worker_id FROM jobs WHERE state = 'in_progress'`,

  /** The worker registry (Queue.workerSeen): recorded, or seen again; those long silent forgotten. */
  workerSeen: `
    INSERT INTO workers (id, started_at, seen_at) VALUES (:workerId, :now, :now)
    ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, stopped_at = NULL`,
  forgetWorkers: `DELETE FROM workers WHERE coalesce(stopped_at, seen_at) < :before AND id <> :workerId`,
  workerStopped: `UPDATE workers SET stopped_at = :now, seen_at = :now WHERE id = :workerId`,
  /** Recorded workers with their leases, and lease holders never recorded (a daemon older than the registry). */
  workers: `
    WITH held AS (SELECT worker_id, count(*) AS n, max(heartbeat_at) AS beat FROM jobs WHERE state = 'in_progress' GROUP BY worker_id)
    SELECT w.id AS workerId, w.started_at AS startedAt, w.seen_at AS seenAt, w.stopped_at AS stoppedAt, coalesce(h.n, 0) AS leases
      FROM workers w LEFT JOIN held h ON h.worker_id = w.id
    UNION ALL
    SELECT h.worker_id, NULL, h.beat, NULL, h.n FROM held h WHERE NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = h.worker_id)
    ORDER BY seenAt DESC, workerId LIMIT :limit`,

  recordClosing: recordClosing(false),
  requeue: requeue(false),
  /** The same, of one reason's failed jobs (the state is then `error`). */
  recordClosingOfReason: recordClosing(true),
  requeueOfReason: requeue(true),
  clearReasons: `UPDATE jobs SET reason = NULL WHERE id IN (SELECT value FROM json_each(?))`,
  cancel: `
    UPDATE jobs SET state = 'skipped', last_error = 'cancelled', outcome = 'cancelled', updated_at = :now, finished_at = :now
     WHERE state = 'queued'
       AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
       AND (:crawlId IS NULL OR crawl_id = :crawlId)
    ${MOVED}`,

  // Counter bookkeeping, applied once per transaction with the summed deltas (tally.ts): one
  // statement per table, the deltas of every key as one JSON array.
  /** {state: delta, ...} */
  bumpCounts: `UPDATE counts SET n = n + d.value FROM json_each(?) d WHERE counts.state = d.key`,
  bumpCrawl: `
    INSERT INTO crawl_counts (crawl_id, queued, in_progress, done, skipped, error)
    VALUES (:crawlId, :queued, :in_progress, :done, :skipped, :error)
    ON CONFLICT (crawl_id) DO UPDATE SET
      queued = queued + excluded.queued, in_progress = in_progress + excluded.in_progress,
      done = done + excluded.done, skipped = skipped + excluded.skipped, error = error + excluded.error`,
  /** [[crawlId or '', reason, delta], ...] */
  bumpReasons: `
    INSERT INTO reason_counts (crawl_id, reason, n)
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
    ON CONFLICT (crawl_id, reason) DO UPDATE SET n = n + excluded.n`,
  /** [[key, done, skipped, error], ...] */
  bumpKeyTotals: `
    INSERT INTO key_totals (key, done, skipped, error)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?) WHERE true
    ON CONFLICT (key) DO UPDATE SET
      done = done + excluded.done, skipped = skipped + excluded.skipped, error = error + excluded.error`,
  // Per-key counters, two ways. Upserts fed from a JSON array, so one statement writes each key's
  // row once (an UPDATE … FROM would materialize the join first: measured slower). A NOT NULL
  // column is checked before the conflict is, so every candidate value is a valid fresh row.
  /**
   * [[key, inFlight], ...] for keys whose leases alone changed (acks that finish jobs): the SET
   * leaves queued and top_priority alone, so SQLite leaves keys_rr alone too.
   */
  keysInFlight: `
    INSERT INTO keys (key, in_flight) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true
    ON CONFLICT (key) DO UPDATE SET in_flight = in_flight + excluded.in_flight`,
  /**
   * [[key, queued, inFlight, priority, held], ...] for keys no job left the queue of: counters, and
   * the best priority raised by the jobs that entered it (queued > 0; priority is then theirs).
   */
  keysBump: `
    INSERT INTO keys (key, queued, in_flight, top_priority, held)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true
    ON CONFLICT (key) DO UPDATE SET
      queued = queued + excluded.queued, in_flight = in_flight + excluded.in_flight, held = held + excluded.held,
      top_priority = CASE WHEN excluded.queued > 0 THEN max(top_priority, excluded.top_priority) ELSE top_priority END`,
  /**
   * [[key, queued, inFlight, seq, nextStartAt, held], ...] for keys jobs left the queue of (leased
   * from, or cancelled): counters, the best remaining priority (an index seek), and for a lease its
   * round-robin turn (seq > 0) and pacing (nextStartAt > 0).
   */
  keysRecount: `
    INSERT INTO keys (key, queued, in_flight, last_served, next_start_at, held, top_priority)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
           coalesce((SELECT priority FROM jobs WHERE key = value ->> 0 AND state = 'queued' ORDER BY priority DESC, id LIMIT 1), 0)
      FROM json_each(?) WHERE true
    ON CONFLICT (key) DO UPDATE SET
      queued = queued + excluded.queued, in_flight = in_flight + excluded.in_flight, held = held + excluded.held,
      last_served = max(last_served, excluded.last_served),
      next_start_at = CASE WHEN excluded.next_start_at > 0 THEN excluded.next_start_at ELSE next_start_at END,
      top_priority = excluded.top_priority`,

  stats: `SELECT state, n FROM counts`,
  crawlStats: `SELECT queued, in_progress, done, skipped, error, capped FROM crawl_counts WHERE crawl_id = ?`,
  crawlTotal: `SELECT queued + in_progress + done + skipped + error FROM crawl_counts WHERE crawl_id = ?`,
  bumpCapped: `
    INSERT INTO crawl_counts (crawl_id, capped) VALUES (:crawlId, :n)
    ON CONFLICT (crawl_id) DO UPDATE SET capped = capped + excluded.capped`,
  countByState: `SELECT state, count(*) AS n FROM jobs GROUP BY state`,
  /** Failed jobs by reason, from the counters: every crawl's summed, or one crawl's rows (its primary key's range). */
  reasons: `SELECT reason, sum(n) AS count FROM reason_counts GROUP BY reason HAVING count > 0 ORDER BY count DESC, reason LIMIT :limit`,
  crawlReasons: `SELECT reason, n AS count FROM reason_counts WHERE crawl_id = :crawlId AND n > 0 ORDER BY n DESC, reason LIMIT :limit`,

  getJob: `SELECT * FROM jobs WHERE id = ?`,
  /** Whether a crawl (or the standalone jobs, '') already has this dedupe key: jobs_dedupe's seek. */
  hasDedupeKey: `SELECT 1 FROM jobs WHERE ifnull(crawl_id, '') = ? AND dedupe_key = ?`,
  findByDedupeKeys: `
    SELECT * FROM jobs WHERE ifnull(crawl_id, '') = ifnull(:crawlId, '')
       AND dedupe_key IN (SELECT value FROM json_each(:keys))`,
  jobsByIds: `SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?))`,
  jobEvents: `SELECT at, type, worker_id AS workerId, detail, attempt, leased_at AS leasedAt FROM events WHERE job_id = ? ORDER BY id`,
  leases: `
    SELECT id AS jobId, url, key, worker_id AS workerId, lease_token AS leaseToken, leased_at AS leasedAt,
           lease_expires_at AS expiresAt, heartbeat_at AS heartbeatAt
      FROM jobs WHERE state = 'in_progress' ORDER BY lease_expires_at`,

  /** Every key with live work or finished jobs, busiest first: from per-key counters, not from jobs. */
  keySummaries: `
    SELECT a.key, coalesce(k.queued, 0) AS queued, coalesce(k.in_flight, 0) AS inFlight,
           coalesce(t.done, 0) AS done, coalesce(t.error, 0) AS error,
           coalesce(s.lim, :defaultLimit) AS lim, coalesce(s.min_delay_ms, :defaultDelayMs) AS minDelayMs,
           k.next_start_at AS nextStartAt, k.deferred_until AS deferredUntil, k.defer_reason AS deferReason
      FROM (SELECT key FROM keys UNION SELECT key FROM key_totals) a
      LEFT JOIN keys k ON k.key = a.key
      LEFT JOIN key_totals t ON t.key = a.key
      LEFT JOIN key_settings s ON s.key = a.key
     ORDER BY inFlight DESC, queued DESC, a.key
     LIMIT :limit`,

  /**
   * Only keys with queued work a lease may take (not all held), in the dispatcher's order (its
   * partial index: no sort, no scan of idle or paused hosts).
   */
  liveKeySummaries: `
    SELECT k.key, k.queued, k.in_flight AS inFlight, coalesce(t.done, 0) AS done, coalesce(t.error, 0) AS error,
           coalesce(s.lim, :defaultLimit) AS lim, coalesce(s.min_delay_ms, :defaultDelayMs) AS minDelayMs,
           k.next_start_at AS nextStartAt, k.deferred_until AS deferredUntil, k.defer_reason AS deferReason
      FROM keys k
      LEFT JOIN key_totals t ON t.key = k.key
      LEFT JOIN key_settings s ON s.key = k.key
     WHERE k.queued > k.held
     ORDER BY k.top_priority DESC, k.last_served
     LIMIT :limit`,

  setKeyLimit: `
    INSERT INTO key_settings (key, lim) VALUES (:key, :limit)
    ON CONFLICT (key) DO UPDATE SET lim = excluded.lim`,
  setKeyDelay: `
    INSERT INTO key_settings (key, min_delay_ms) VALUES (:key, :delayMs)
    ON CONFLICT (key) DO UPDATE SET min_delay_ms = excluded.min_delay_ms`,
  dropEmptySettings: `DELETE FROM key_settings WHERE key = ? AND lim IS NULL AND min_delay_ms IS NULL`,
  /** A request's start slot: at least :delayMs after the last one claimed (old values on the right). */
  claimStart: `
    INSERT INTO keys (key, last_start_at, next_start_at) VALUES (:key, :now, :now + :delayMs)
    ON CONFLICT (key) DO UPDATE SET
      last_start_at = max(:now, last_start_at + :delayMs),
      next_start_at = max(next_start_at, max(:now, last_start_at + :delayMs) + :delayMs)
    RETURNING last_start_at`,
  deferKey: `
    INSERT INTO keys (key, deferred_until, defer_reason) VALUES (:key, :until, :reason)
    ON CONFLICT (key) DO UPDATE SET deferred_until = excluded.deferred_until, defer_reason = excluded.defer_reason`,

  // `run_after > 0` repeats the partial index's condition so the planner can use it.
  nextDelayedJob: `
    SELECT min(run_after) FROM jobs
     WHERE state = 'queued' AND run_after > 0 AND run_after > :now AND run_after < :held`,
  /**
   * A paused crawl's queued jobs wait with run_after at the HELD sentinel; resuming makes them
   * ready. Each runs after its keys' held counts are moved by the same jobs, counted per key.
   */
  holdCrawl: `UPDATE jobs SET run_after = :held, updated_at = :now WHERE crawl_id = :crawlId AND state = 'queued' AND run_after < :held`,
  holdCrawlKeys: `
    UPDATE keys SET held = held + h.n
      FROM (SELECT key, count(*) AS n FROM jobs WHERE crawl_id = :crawlId AND state = 'queued' AND run_after < :held GROUP BY key) h
     WHERE keys.key = h.key`,
  releaseCrawl: `UPDATE jobs SET run_after = 0, updated_at = :now WHERE crawl_id = :crawlId AND state = 'queued' AND run_after = :held`,
  releaseCrawlKeys: `
    UPDATE keys SET held = held - h.n
      FROM (SELECT key, count(*) AS n FROM jobs WHERE crawl_id = :crawlId AND state = 'queued' AND run_after = :held GROUP BY key) h
     WHERE keys.key = h.key`,
  nextKeyStart: `
    SELECT min(max(next_start_at, deferred_until)) FROM keys
     WHERE queued > held AND max(next_start_at, deferred_until) > :now`,
  evictIdleKeys: `
    DELETE FROM keys WHERE queued = 0 AND in_flight = 0 AND next_start_at <= :now AND deferred_until <= :now
       AND last_start_at <= :now`,
  countKeys: `SELECT count(*) FROM keys`,

  dataVersion: `PRAGMA data_version`,
} as const;

/**
 * The change feed's reads (changes.ts): each an index edge or a range scan, so a look costs
 * nothing like the queue's size.
 */
export const CHANGES_SQL = {
  maxEvent: `SELECT coalesce(max(id), 0) FROM events`,
  maxJob: `SELECT coalesce(max(id), 0) FROM jobs`,
  leasedCount: `SELECT count(*) FROM jobs WHERE state = 'in_progress'`,
  eventsSince: `SELECT id, job_id AS jobId FROM events WHERE id > ? ORDER BY id LIMIT ?`,
  jobsSince: `SELECT id FROM jobs WHERE id > ? ORDER BY id LIMIT ?`,
  leased: `SELECT id FROM jobs WHERE state = 'in_progress' LIMIT ?`,
  states: `SELECT id, state, crawl_id AS crawlId, updated_at AS updatedAt FROM jobs WHERE id IN (SELECT value FROM json_each(?))`,
} as const;

/** Listing statements, one per filter combination so each can use its index (walked either way); keyset paging on id. */
export function listSql(filter: ListShape): string {
  const where = listWhere(filter);
  // A search looks only within its window (job-rules.ts windowEnd); values are bound parameters.
  if (filter.search) where.push(filter.newestFirst ? 'id >= :until' : 'id <= :until');
  if (filter.search === 'status') where.push(`json_extract(result, '$.status') BETWEEN :low AND :high`);
  if (filter.search === 'text') where.push(`(url LIKE :like ESCAPE '\\' OR last_error LIKE :like ESCAPE '\\')`);
  // A search walks the index its window counted, whatever the planner would pick for the rest.
  const from = filter.search ? walked(filter) : 'jobs';
  return `SELECT * FROM ${from} WHERE ${where.join(' AND ')} ORDER BY id${filter.newestFirst ? ' DESC' : ''} LIMIT :limit`;
}

/**
 * A search's window: the budget-th row past the cursor of the one index it walks (ListShape.walk),
 * and whether one follows it. The other filters are left out, so the rows counted are the rows
 * the search examines: with two filters, counting their matches walked every row of one index
 * that failed the other (a crawl's done jobs among a million of other crawls).
 */
export function listWindowSql(filter: ListShape): string {
  const where = [filter.newestFirst ? 'id < :after' : 'id > :after'];
  if (filter.walk) where.push(FILTER_SQL[filter.walk]);
  return `SELECT id FROM ${walked(filter)} WHERE ${where.join(' AND ')} ORDER BY id${filter.newestFirst ? ' DESC' : ''} LIMIT 2 OFFSET :skip`;
}

const FILTER_SQL = { state: 'state = :state', key: 'key = :key', crawlId: 'crawl_id = :crawlId', reason: 'reason = :reason' } as const;
const WALKED_INDEX = { state: 'jobs_state', key: 'jobs_key', crawlId: 'jobs_crawl', reason: 'jobs_reason' } as const;

/** The jobs table held to the walked index, or with no filter to the ids themselves (NOT INDEXED keeps the rowid range). */
function walked(filter: ListShape): string {
  return filter.walk ? `jobs INDEXED BY ${WALKED_INDEX[filter.walk]}` : 'jobs NOT INDEXED';
}

function listWhere(filter: ListShape): string[] {
  const where = [filter.newestFirst ? 'id < :after' : 'id > :after'];
  if (filter.state) where.push(FILTER_SQL.state);
  if (filter.key) where.push(FILTER_SQL.key);
  if (filter.crawlId) where.push(FILTER_SQL.crawlId);
  if (filter.reason) where.push(FILTER_SQL.reason);
  return where;
}
