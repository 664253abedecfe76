/**
 * Our queue (SqliteQueue, the engine the daemon runs) under the lifecycle, with per-host limits
 * binding, and at a million queued jobs: lease latency and stats latency.
 */
import * as path from 'node:path';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import type { Ack, LeasedJob, NewJob } from '../server/src/core/types';
import { benchJob, runLifecycle, type BenchJob, type LifecycleDriver, type LifecycleResult } from './lifecycle';
import { elapsedMs, log, median, now, percentile } from './measure';

const WORKER = 'bench:1:0';
const TTL_MS = 60_000;

function newJob(j: BenchJob): NewJob {
  return { kind: 'bench', url: j.url, key: j.key, dedupeKey: j.url };
}

/** Acknowledged as the Scheduler does it: with the leased job, so the queue need not read it back. */
const done = (j: LeasedJob): Ack => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done' }, job: j });

/** The lifecycle through SqliteQueue; limits set high enough not to bind (that is section 2). */
export async function lifecycleOurs(dir: string, jobs: number, hosts: number): Promise<LifecycleResult> {
  const q = new SqliteQueue(path.join(dir, 'ours.db'));
  const driver: LifecycleDriver<LeasedJob> = {
    enqueue: async (batch) => {
      await q.enqueue(batch.map(newJob));
    },
    lease: (n) => q.lease(WORKER, n, { ttlMs: TTL_MS, defaultLimit: 10_000 }),
    ack: async (leased) => {
      await q.ack(WORKER, leased.map(done));
    },
    stats: () => q.stats(),
    close: () => q.close(),
  };
  try {
    return await runLifecycle(driver, jobs, hosts);
  } finally {
    await driver.close();
  }
}

export interface BindingResult {
  jobs: number;
  hosts: number;
  limit: number;
  batches: number;
  /** Batches that got fewer jobs than the hosts with work could give (min(100, limit × hosts)). */
  shortBatches: number;
  /** Batches while at least 100 / limit hosts still had work: these must all be full. */
  batchesWithRoom: number;
  fullBatchesWithRoom: number;
  maxPerHostInBatch: number;
  ms: number;
  jobsPerSecond: number;
}

/**
 * 200 hosts at limit 2, the backlog grouped by host (all of host 0's jobs, then host 1's...), as
 * a crawl of a few big sites looks. A naive scan of queued rows by id would find host 0's jobs
 * first and stall at 2 per batch; the engine's per-key bookkeeping must fill every batch.
 * Jobs are acked after each lease, so the limit binds within each lease of 100.
 */
export async function perHostBinding(dir: string, hosts: number, perHost: number, limit: number): Promise<BindingResult> {
  const q = new SqliteQueue(path.join(dir, 'binding.db'));
  try {
    const remaining = new Map<string, number>();
    for (let h = 0; h < hosts; h++) {
      const key = `h${h}.test`;
      remaining.set(key, perHost);
      const all: NewJob[] = [];
      for (let i = 0; i < perHost; i++) all.push(newJob({ url: `http://${key}/page/${i}`, key }));
      await q.enqueue(all);
    }
    const total = hosts * perHost;
    let finished = 0;
    let batches = 0;
    let shortBatches = 0;
    let batchesWithRoom = 0;
    let fullBatchesWithRoom = 0;
    let maxPerHost = 0;
    let hostsWithWork = hosts;
    const start = now();
    while (finished < total) {
      const capacity = Math.min(100, limit * hostsWithWork);
      const leased = await q.lease(WORKER, 100, { ttlMs: TTL_MS, defaultLimit: limit });
      if (leased.length === 0) throw new Error(`lease handed out nothing with ${total - finished} jobs left`);
      await q.ack(WORKER, leased.map(done));
      batches++;
      if (leased.length < capacity) shortBatches++;
      if (capacity === 100) {
        batchesWithRoom++;
        if (leased.length === 100) fullBatchesWithRoom++;
      }
      const perHostNow = new Map<string, number>();
      for (const j of leased) {
        perHostNow.set(j.key, (perHostNow.get(j.key) ?? 0) + 1);
        const left = remaining.get(j.key)! - 1;
        remaining.set(j.key, left);
        if (left === 0) hostsWithWork--;
      }
      for (const n of perHostNow.values()) maxPerHost = Math.max(maxPerHost, n);
      finished += leased.length;
    }
    const ms = elapsedMs(start);
    return {
      jobs: total,
      hosts,
      limit,
      batches,
      shortBatches,
      batchesWithRoom,
      fullBatchesWithRoom,
      maxPerHostInBatch: maxPerHost,
      ms,
      jobsPerSecond: (total * 1000) / ms,
    };
  } finally {
    await q.close();
  }
}

export interface LatencyResult {
  queued: number;
  hosts: number;
  samples: number;
  medianMs: number;
  p99Ms: number;
}

/**
 * Fills a queue with `queued` jobs over `hosts` hosts (job i on host i % hosts) through the
 * queue's own enqueue, in transactions of `perTransaction` jobs.
 */
export async function fill(q: SqliteQueue, queued: number, hosts: number, perTransaction: number, first = 0): Promise<void> {
  for (let i = first; i < first + queued; i += perTransaction) {
    const batch: NewJob[] = [];
    for (let j = i; j < Math.min(first + queued, i + perTransaction); j++) batch.push(newJob(benchJob(j, hosts)));
    await q.enqueue(batch);
  }
}

/** A queue filled with `queued` jobs over `hosts` hosts, whose depth the sampling keeps. */
export interface Depth {
  q: SqliteQueue;
  queued: number;
  hosts: number;
}

/**
 * lease(…, 100, …) then ack of what came back, timed together; between samples (not timed) 100
 * fresh jobs are enqueued over the same hosts, so each queue's depth stays where it was. The
 * queues take turns, sample by sample, so that whatever else the machine does falls on both alike.
 */
export async function leaseLatency(depths: Depth[], samples: number, warmup = 30): Promise<LatencyResult[]> {
  const next = depths.map((d) => d.queued);
  const times: number[][] = depths.map(() => []);
  for (let s = 0; s < warmup + samples; s++) {
    for (const [i, d] of depths.entries()) {
      const start = now();
      const leased = await d.q.lease(WORKER, 100, { ttlMs: TTL_MS, defaultLimit: 2 });
      await d.q.ack(WORKER, leased.map(done));
      const ms = elapsedMs(start);
      if (leased.length !== 100) throw new Error(`lease returned ${leased.length} jobs, not 100`);
      if (s >= warmup) times[i].push(ms);
      await fill(d.q, leased.length, d.hosts, 100, next[i]);
      next[i] += leased.length;
    }
  }
  return depths.map((d, i) => ({ queued: d.queued, hosts: d.hosts, samples, medianMs: median(times[i]), p99Ms: percentile(times[i], 99) }));
}

export async function statsLatency(q: SqliteQueue, calls: number): Promise<{ medianMs: number; p99Ms: number; total: number }> {
  const times: number[] = [];
  let total = 0;
  for (let i = 0; i < calls; i++) {
    const start = now();
    const s = await q.stats();
    times.push(elapsedMs(start));
    total = s.total;
  }
  return { medianMs: median(times), p99Ms: percentile(times, 99), total };
}

/**
 * A faster path to the same state as `fill` (one enqueue per `perTransaction` jobs): the same
 * rows written by a few set-based statements instead of one statement per job from JavaScript.
 * It knows the engine's tables, so `fastFillMatches` checks it against enqueue before each run,
 * comparing every table row by row; on any difference the bench falls back to enqueue.
 */
function fastFill(q: SqliteQueue, queued: number, hosts: number, at: number): void {
  q.db
    .transaction(() => {
      // Numbers bind as REAL: the CASTs keep `i % hosts` integral, so the key text matches enqueue's.
      q.db
        .prepare(
          `
      INSERT INTO jobs (kind, url, key, dedupe_key, crawl_id, depth, priority, state, max_attempts, run_after,
                        last_error, payload, created_at, updated_at, finished_at)
      WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(:queued AS INTEGER) - 1),
           j(i, key) AS (SELECT i, 'h' || (i % CAST(:hosts AS INTEGER)) || '.test' FROM n)
      SELECT 'bench', 'http://' || key || '/page/' || i, key, 'http://' || key || '/page/' || i, NULL, NULL, 0, 'queued', 3, 0,
             NULL, NULL, :at, :at, NULL
        FROM j ORDER BY i`,
        )
        .run({ queued, hosts, at });
      q.db.prepare(`UPDATE counts SET n = n + :queued WHERE state = 'queued'`).run({ queued });
      q.db.prepare(`INSERT INTO keys (key, queued, in_flight, top_priority) SELECT key, count(*), 0, 0 FROM jobs GROUP BY key`).run();
    })
    .immediate();
}

/** Every table's rows, sorted, as text: two databases in the same state give the same dump. */
function dump(q: SqliteQueue): string {
  const tables = q.db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
  return tables
    .map(
      (t) =>
        `${t}\n${q.db
          .prepare(`SELECT * FROM "${t}"`)
          .all()
          .map((r) => JSON.stringify(r))
          .sort()
          .join('\n')}`,
    )
    .join('\n');
}

/** Whether fastFill leaves a database exactly as enqueue does (a small sample, a fixed clock). */
export async function fastFillMatches(dir: string): Promise<boolean> {
  const at = 1_700_000_000_000;
  const viaEnqueue = new SqliteQueue(path.join(dir, 'check-enqueue.db'), { clock: () => at });
  const viaFast = new SqliteQueue(path.join(dir, 'check-fast.db'), { clock: () => at });
  try {
    await fill(viaEnqueue, 3_000, 700, 1_000);
    fastFill(viaFast, 3_000, 700, at);
    return dump(viaEnqueue) === dump(viaFast);
  } finally {
    await viaEnqueue.close();
    await viaFast.close();
  }
}

/** The million-job database, reused by the stats section, the original pattern's COUNTs and the daemon. */
export async function buildMillion(file: string, queued: number, hosts: number, fast: boolean): Promise<{ ms: number }> {
  const q = new SqliteQueue(file);
  const start = now();
  try {
    if (fast) fastFill(q, queued, hosts, Date.now());
    else await fill(q, queued, hosts, 20_000);
  } finally {
    await q.close();
  }
  const ms = elapsedMs(start);
  log(
    `built ${queued.toLocaleString('en-US')} queued jobs over ${hosts.toLocaleString('en-US')} hosts ${fast ? 'by the checked fast path' : 'through enqueue'} in ${(ms / 1000).toFixed(1)} s`,
  );
  return { ms };
}

export interface PausedResult {
  held: number;
  heldHosts: number;
  holdMs: number;
  releaseMs: number;
  none: LatencyResult;
  paused: LatencyResult;
}

/**
 * Lease latency beside a paused crawl: two queues of `queued` ready jobs over `hosts` hosts, one
 * of them also holding a paused crawl of `held` jobs over `heldHosts` other hosts, sampled in
 * turns (leaseLatency). The paused crawl's hosts must cost a lease nothing. Pausing and resuming
 * that crawl are timed once each, at the end.
 */
export async function pausedLatency(dir: string, queued: number, hosts: number, held: number, heldHosts: number, samples: number): Promise<PausedResult> {
  const none = new SqliteQueue(path.join(dir, 'unpaused.db'));
  const paused = new SqliteQueue(path.join(dir, 'paused.db'));
  try {
    for (const q of [none, paused]) await fill(q, queued, hosts, queued);
    for (let i = 0; i < held; i += 20_000) {
      const batch: NewJob[] = [];
      for (let j = i; j < Math.min(held, i + 20_000); j++) {
        const key = `p${j % heldHosts}.test`;
        batch.push({ kind: 'bench', url: `http://${key}/page/${j}`, key, dedupeKey: `http://${key}/page/${j}`, crawlId: 'paused' });
      }
      await paused.enqueue(batch);
    }
    let start = now();
    if ((await paused.holdCrawl('paused', true)) !== held) throw new Error('the paused crawl was not held whole');
    const holdMs = elapsedMs(start);
    const [a, b] = await leaseLatency(
      [
        { q: none, queued, hosts },
        { q: paused, queued, hosts },
      ],
      samples,
    );
    start = now();
    await paused.holdCrawl('paused', false);
    const releaseMs = elapsedMs(start);
    return { held, heldHosts, holdMs, releaseMs, none: a, paused: b };
  } finally {
    await none.close();
    await paused.close();
  }
}
