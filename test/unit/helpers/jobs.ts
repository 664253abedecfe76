import type { NewJob } from '../../../server/src/core/types';
import type { Job } from '../../../server/src/protocol';

/** A crawl-like job for host `key`; the URL doubles as the dedupe key. */
export function job(key: string, n: number | string, extra: Partial<NewJob> = {}): NewJob {
  const url = `http://${key}/${n}`;
  return { kind: 'test', url, key, dedupeKey: url, ...extra };
}

export function jobs(keys: string[], perKey: number, extra: Partial<NewJob> = {}): NewJob[] {
  const out: NewJob[] = [];
  for (let i = 0; i < perKey; i++) for (const k of keys) out.push(job(k, i, extra));
  return out;
}

/** A job as the wire gives it (jobs/get, jobs/list): queued, never leased, but for what `over` says. */
export function sentJob(over: Partial<Job> = {}): Job {
  return {
    id: 1,
    url: 'https://example.com/a',
    host: 'example.com',
    crawlId: null,
    depth: 0,
    state: 'queued',
    priority: 0,
    attempts: 0,
    maxAttempts: 3,
    lostWorkers: 0,
    deferrals: 0,
    runAfter: null,
    held: false,
    workerId: null,
    leasedAt: null,
    leaseExpiresAt: null,
    heartbeatAt: null,
    lastError: null,
    createdAt: '2026-01-02T03:04:05.000Z',
    updatedAt: '2026-01-02T03:04:05.000Z',
    result: null,
    ...over,
  };
}
