import type { NewJob } from '../../../server/src/core/types';

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
