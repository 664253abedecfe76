/**
 * Soak: a million jobs through the Scheduler (lease, run, heartbeat, ack, reap: what a daemon
 * runs) against a local site, each job one HTTP GET. The queue and scheduler run in a child
 * process of their own, so its memory and file descriptors are theirs alone; it samples RSS, the
 * heap after a full GC, open file descriptors (/proc/self/fd) and the database's size (file +
 * WAL) at every 5% of the jobs. Memory should be flat after warm-up (the first 10%).
 *
 * `SOAK_JOBS=n` (or `node out/bench/soak.js n`) runs a lighter soak; the default is the issue's
 * million (about four minutes at ~5,000 jobs/s).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { validateConfig } from '../server/src/core/config';
import { Scheduler } from '../server/src/core/scheduler';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import type { LeasedJob, NewJob } from '../server/src/core/types';
import { tuneHeap } from '../server/src/daemon/process/heap';
import { fmt, log, makeRoot } from './measure';

export const SOAK_DEFAULT_JOBS = 1_000_000;
const HOSTS = 8;
const PER_HOST = 8;
const WORKERS = 64;
/** The backlog is topped up to this, not enqueued at once: a feed, as a crawl's frontier is. */
const BACKLOG = 20_000;
const SAMPLES = 20;
/** Samples up to this fraction of the jobs are warm-up: caches, prepared statements, JIT. */
const WARMUP = 0.1;

export interface SoakSample {
  done: number;
  seconds: number;
  rssMb: number;
  /** Heap in use after a full collection: what is retained, not what awaits collection. */
  heapMb: number;
  fds: number;
  dbMb: number;
}

export interface SoakResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  samples: SoakSample[];
  /** The sample warm-up ends at. */
  warm: SoakSample;
  last: SoakSample;
  rssRatio: number;
  heapRatio: number;
  /** Most requests one host served at once (server-measured); the limit is PER_HOST. */
  maxPerHost: number;
  perHostLimit: number;
  failed: number;
}

/** Jobs from the environment, or the million. */
export function soakJobs(arg = process.env.SOAK_JOBS): number {
  if (arg === undefined || arg === '') return SOAK_DEFAULT_JOBS;
  const n = Number(arg);
  if (!Number.isInteger(n) || n < SAMPLES) throw new Error(`soak: the job count must be a whole number of at least ${SAMPLES} (got "${arg}")`);
  return n;
}

interface Site {
  origins: string[];
  maxPerHost(): number;
  close(): Promise<void>;
}

/** One tiny server per loopback address (each a distinct host), answering every path with "ok". */
async function startSite(): Promise<Site> {
  const servers: http.Server[] = [];
  const origins: string[] = [];
  let most = 0;
  for (let h = 0; h < HOSTS; h++) {
    let inFlight = 0;
    const server = http.createServer((_req, res) => {
      most = Math.max(most, ++inFlight);
      res.on('close', () => {
        inFlight--;
      });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
    server.keepAliveTimeout = 60_000;
    const ip = `127.0.0.${81 + h}`;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, ip, resolve);
    });
    servers.push(server);
    origins.push(`http://${ip}:${(server.address() as AddressInfo).port}`);
  }
  return {
    origins,
    maxPerHost: () => most,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      ).then(() => {}),
  };
}

/** Runs the soak in a child process against a site served from this one. */
export async function soak(dir: string, jobs: number): Promise<SoakResult> {
  const site = await startSite();
  try {
    const child = spawn(process.execPath, ['--expose-gc', __filename, '--child', String(jobs), path.join(dir, 'soak.db'), ...site.origins], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (code !== 0 || !line) throw new Error(`the soak child exited with ${code} without a result`);
    const r = JSON.parse(line) as Omit<SoakResult, 'maxPerHost' | 'perHostLimit'>;
    return { ...r, maxPerHost: site.maxPerHost(), perHostLimit: PER_HOST };
  } finally {
    await site.close();
  }
}

/** The samples as a small table. */
export function soakTable(r: SoakResult): string {
  const head = ['jobs done', 'seconds', 'RSS MB', 'heap MB', 'fds', 'db MB'];
  const rows = r.samples.map((s) => [
    s.done.toLocaleString('en-US'),
    s.seconds.toFixed(1),
    s.rssMb.toFixed(1),
    s.heapMb.toFixed(1),
    String(s.fds),
    s.dbMb.toFixed(1),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join('  ');
  return [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function soakSummary(r: SoakResult): string {
  return (
    `${r.jobs.toLocaleString('en-US')} jobs in ${r.seconds.toFixed(0)} s (${fmt(r.jobsPerSecond)} jobs/s), ${r.failed} failed; ` +
    `after warm-up (${r.warm.done.toLocaleString('en-US')} jobs) to the end: RSS ${r.warm.rssMb.toFixed(1)} → ${r.last.rssMb.toFixed(1)} MB (${r.rssRatio.toFixed(2)}×), ` +
    `heap ${r.warm.heapMb.toFixed(1)} → ${r.last.heapMb.toFixed(1)} MB (${r.heapRatio.toFixed(2)}×), fds ${r.warm.fds} → ${r.last.fds}; ` +
    `database ${r.last.dbMb.toFixed(0)} MB; at most ${r.maxPerHost} requests at once per host (limit ${r.perHostLimit})`
  );
}

// ---------------------------------------------------------------------------------------------
// The child: queue, scheduler, feeder and sampler.

async function child(jobs: number, file: string, origins: string[]): Promise<void> {
  const q = new SqliteQueue(file);
  const agent = new http.Agent({ keepAlive: true, maxSockets: PER_HOST });
  const get = (job: LeasedJob, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(job.url, { agent, signal }, (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        res.once('error', reject);
      });
      req.once('error', reject);
    });
  const scheduler = new Scheduler(
    q,
    { get: (job, ctx) => get(job, ctx.signal) },
    validateConfig({ maxWorkers: WORKERS, perHostLimit: PER_HOST, leaseTtlMs: 30_000, heartbeatMs: 10_000, pollMs: 50 }),
    (level, message) => {
      if (level !== 'info') process.stderr.write(`soak ${level}: ${message}\n`);
    },
  );

  const started = performance.now();
  const samples: SoakSample[] = [];
  const sample = (done: number) => {
    (globalThis as { gc?: () => void }).gc?.();
    const size = (p: string) => (fs.existsSync(p) ? fs.statSync(p).size : 0);
    samples.push({
      done,
      seconds: (performance.now() - started) / 1000,
      rssMb: process.memoryUsage().rss / 2 ** 20,
      heapMb: process.memoryUsage().heapUsed / 2 ** 20,
      fds: fs.readdirSync('/proc/self/fd').length,
      dbMb: (size(file) + size(`${file}-wal`)) / 2 ** 20,
    });
  };
  sample(0);
  scheduler.start();

  let enqueued = 0;
  let next = 1;
  for (;;) {
    const s = await q.stats();
    const finished = s.done + s.error + s.skipped;
    while (next <= SAMPLES && finished >= (next * jobs) / SAMPLES) {
      sample(finished);
      next++;
    }
    if (finished >= jobs) break;
    if (enqueued < jobs && s.queued < BACKLOG / 2) {
      const batch: NewJob[] = [];
      for (const end = Math.min(jobs, enqueued + BACKLOG / 2); enqueued < end; enqueued++) {
        const origin = origins[enqueued % origins.length];
        const url = `${origin}/j${enqueued}`;
        batch.push({ kind: 'get', url, key: new URL(origin).host, dedupeKey: url });
      }
      await q.enqueue(batch);
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await scheduler.stop();
  const { error } = await q.stats();
  await q.close();
  agent.destroy();
  const warm = samples[Math.round(SAMPLES * WARMUP)];
  const last = samples[samples.length - 1];
  const result: Omit<SoakResult, 'maxPerHost' | 'perHostLimit'> = {
    jobs,
    seconds,
    jobsPerSecond: jobs / seconds,
    samples,
    warm,
    last,
    rssRatio: last.rssMb / warm.rssMb,
    heapRatio: last.heapMb / warm.heapMb,
    failed: error,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  if (process.argv[2] === '--child') {
    tuneHeap(); // as the daemon does
    const [jobs, file, ...origins] = process.argv.slice(3);
    child(Number(jobs), file, origins).then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  } else {
    // Alone: `node out/bench/soak.js [jobs]`, the table and the summary on stdout.
    const root = makeRoot();
    const jobs = soakJobs(process.argv[2] ?? process.env.SOAK_JOBS);
    log(`soak: ${jobs.toLocaleString('en-US')} jobs...`);
    soak(root, jobs)
      .finally(() => fs.rmSync(root, { recursive: true, force: true }))
      .then(
        (r) => {
          process.stdout.write(`${soakTable(r)}\n\n${soakSummary(r)}\n`);
        },
        (err: unknown) => {
          process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
          process.exit(1);
        },
      );
  }
}
