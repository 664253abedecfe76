/**
 * The queue lifecycle on PostgreSQL (issue 7): the same no-op jobs as section 1, enqueued, leased
 * in batches of 100 and acknowledged, by 1, 2 and 4 worker processes sharing one database, beside
 * SqliteQueue in one process in the same run. The server is a throwaway cluster on a Unix socket
 * (server/src/demo/pg-cluster.ts) with commits as durable as SQLite's synchronous=NORMAL (not
 * flushed at each commit, nothing corrupted by a crash); CRAWL_BENCH_PG_URL names a server of your
 * own instead (its role must be allowed to create databases).
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { createDatabase, startCluster, type Cluster } from '../server/src/demo/pg-cluster';
import { lifecycleOurs } from './queue';
import { elapsedMs, log, now, tempDir, type Figure } from './measure';

const CHILD = path.join(__dirname, 'pg-child.js');

export const PG_SIZES = { jobs: 20_000, hosts: 100, workers: [1, 2, 4], repeats: 2 };

/** The benchmark's PostgreSQL: a throwaway cluster, or CRAWL_BENCH_PG_URL's server. */
export function pgServer(): { adminUrl: string; urlFor(db: string): string; stop(): void } {
  const own = process.env.CRAWL_BENCH_PG_URL;
  if (!own) return startCluster({ fsync: 'on', full_page_writes: 'on', synchronous_commit: 'off' }) satisfies Cluster;
  return {
    adminUrl: own,
    urlFor: (db) => Object.assign(new URL(own), { pathname: `/${db}` }).toString(),
    stop: () => {},
  };
}

/** `workers` processes on one fresh database: jobs per second from "go" until the last is done. */
async function lifecycleProcesses(url: string, jobs: number, hosts: number, workers: number): Promise<number> {
  const share = Math.ceil(jobs / workers);
  const children = Array.from({ length: workers }, (_, i) =>
    fork(CHILD, [
      JSON.stringify({
        url,
        first: i * share,
        count: Math.min(share, jobs - i * share),
        hosts,
      }),
    ]),
  );
  const message = (c: ReturnType<typeof fork>) =>
    new Promise<Record<string, number>>((resolve, reject) => {
      c.once('message', (m) => resolve(m as Record<string, number>));
      c.once('exit', (code) => reject(new Error(`a lifecycle worker exited with ${code}`)));
    });
  try {
    await Promise.all(children.map(message));
    const start = now();
    const results = children.map(message);
    for (const c of children) c.send('go');
    const finished = (await Promise.all(results)).reduce((n, r) => n + r.finished, 0);
    const ms = elapsedMs(start);
    if (finished !== jobs) throw new Error(`${finished} of ${jobs} jobs finished`);
    return (jobs * 1000) / ms;
  } finally {
    for (const c of children) c.kill();
  }
}

/** Section 5's figures: SqliteQueue's lifecycle, then PostgreSQL's with 1, 2 and 4 processes. */
export async function pgLifecycle(root: string): Promise<Figure[]> {
  const S = PG_SIZES;
  const section = '9. PostgreSQL engine: lifecycle';
  const server = pgServer();
  try {
    let db = 0;
    const sqlite: number[] = [];
    const byWorkers = new Map<number, number[]>(S.workers.map((w) => [w, []]));
    // Interleaved, so that a disturbance of the machine does not fall on one variant only.
    for (let r = 0; r < S.repeats; r++) {
      const s = await lifecycleOurs(tempDir(root, `pg-sqlite-${r}`), S.jobs, S.hosts);
      log(`postgres: SqliteQueue, 1 process: ${Math.round(s.jobsPerSecond).toLocaleString('en-US')} jobs/s`);
      sqlite.push(s.jobsPerSecond);
      for (const w of S.workers) {
        const name = `crawl_bench_${process.pid}_${db++}`;
        await createDatabase(server.adminUrl, name);
        const rate = await lifecycleProcesses(server.urlFor(name), S.jobs, S.hosts, w);
        log(`postgres: PgQueue, ${w} process(es): ${Math.round(rate).toLocaleString('en-US')} jobs/s`);
        byWorkers.get(w)!.push(rate);
      }
    }
    const best = Math.max(...sqlite);
    return S.workers.map((w) => {
      const value = Math.max(...byWorkers.get(w)!);
      return {
        section,
        name: `PgQueue lifecycle, ${w} worker process${w > 1 ? 'es' : ''}`,
        value,
        unit: 'jobs/s',
        baseline: { name: 'SqliteQueue, 1 process', value: best, unit: 'jobs/s' },
        ratio: value / best,
        ratioLabel: 'PostgreSQL / SQLite',
        note: `${S.jobs.toLocaleString('en-US')} no-op jobs over ${S.hosts} hosts, batches of 100, stats per batch; best of ${S.repeats}`,
      };
    });
  } finally {
    server.stop();
  }
}
