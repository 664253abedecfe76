import type { Job, JobResult, JobState, Stats } from './types';

/** A jobs row as either engine reads it back (the same column names on both), made a Job. */
export function toJob(r: Record<string, unknown>): Job {
  return {
    id: r.id as number,
    kind: r.kind as string,
    url: r.url as string,
    key: r.key as string,
    crawlId: r.crawl_id as string | null,
    depth: r.depth as number | null,
    priority: r.priority as number,
    state: r.state as JobState,
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    reclaims: r.reclaims as number,
    deferrals: r.deferrals as number,
    runAfter: r.run_after as number,
    workerId: r.worker_id as string | null,
    leaseToken: r.lease_token as string | null,
    leasedAt: r.leased_at as number | null,
    leaseExpiresAt: r.lease_expires_at as number | null,
    heartbeatAt: r.heartbeat_at as number | null,
    lastError: r.last_error as string | null,
    result: r.result ? (JSON.parse(r.result as string) as JobResult) : null,
    payload: r.payload ? (JSON.parse(r.payload as string) as Record<string, unknown>) : null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    finishedAt: r.finished_at as number | null,
  };
}

/** The `counts` rows either engine reads (a state and its jobs), made Stats. */
export function statsOf(rows: readonly { state: JobState; n: number }[]): Stats {
  const out = { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0, total: 0 };
  for (const { state, n } of rows) {
    out[state] = n;
    out.total += n;
  }
  return out;
}
