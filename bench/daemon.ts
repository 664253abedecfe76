/**
 * The Daemon issue's figures: with a deep queue, `queue/stats` and the first page of `jobs/list`
 * over the Unix socket, timed at the client, and the daemon's memory across rounds of requests.
 *
 * It reuses the million-job database. So that the daemon stays idle while it is measured (its
 * only handler is the crawl kind; it would otherwise fail the bench's jobs one by one), every host
 * is first deferred for an hour through the queue's own deferKey, the state of a queue whose hosts
 * all back off. The client is a plain newline-delimited JSON-RPC one, so that this file does not
 * depend on the daemon's code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import { elapsedMs, log, median, now, percentile } from './measure';

export const DAEMON_MAIN = path.join(__dirname, '..', 'server', 'src', 'daemon', 'process', 'main.js');

export class RpcClient {
  private buffered = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line) as { id?: number; result?: unknown; error?: { message: string } };
        const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id!);
        if (msg.error) p.reject(new Error(msg.error.message));
        else p.resolve(msg.result);
      }
    });
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('the daemon closed the connection'));
      this.pending.clear();
    });
  }

  static connect(file: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(file);
      s.once('connect', () => resolve(new RpcClient(s)));
      s.once('error', reject);
    });
  }

  request(method: string, params: unknown, timeoutMs = 60_000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** RSS now and its high-water mark, in MB, from /proc (Linux). */
export function memoryOf(pid: number): { rssMb: number; hwmMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

export interface Timing {
  medianMs: number;
  p99Ms: number;
}

export interface DaemonResult {
  queued: number;
  startMs: number;
  stats: Timing;
  list: Timing;
  listQueued: Timing;
  /** scheduler/status, once: it explains why nothing runs, reading every host's totals. */
  statusMs: number | null;
  rssByRoundMb: number[];
  peakRssMb: number;
}

export async function waitForSocket(file: string, child: ChildProcess, ms: number): Promise<RpcClient> {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited with ${child.exitCode} before serving`);
    try {
      return await RpcClient.connect(file);
    } catch {
      if (Date.now() > end) throw new Error(`the daemon did not serve ${file} within ${ms / 1000} s`);
      await sleep(50);
    }
  }
}

async function time(calls: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = now();
    await fn();
    out.push(elapsedMs(start));
  }
  return out;
}

export async function daemonOverSocket(dbFile: string, dir: string, hosts: number, rounds: number, perRound = 200): Promise<DaemonResult> {
  const q = new SqliteQueue(dbFile);
  const until = Date.now() + 3600_000;
  for (let h = 0; h < hosts; h++) await q.deferKey(`h${h}.test`, until, 'held by the benchmark so the daemon stays idle');
  const queued = (await q.stats()).queued;
  await q.close();

  const started = now();
  return withDaemon(dir, ['--db', dbFile], async (c, child) => {
    const startMs = elapsedMs(started);
    log(`daemon: serving after ${(startMs / 1000).toFixed(1)} s`);
    const stats: number[] = [];
    const list: number[] = [];
    const listQueued: number[] = [];
    const rssByRoundMb: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // The first round warms up the daemon and is not counted.
      const s = await time(perRound, () => c.request('queue/stats', {}));
      const l = await time(perRound, () => c.request('jobs/list', {}));
      const lq = await time(perRound, () => c.request('jobs/list', { state: 'queued' }));
      if (r > 0) {
        stats.push(...s);
        list.push(...l);
        listQueued.push(...lq);
      }
      rssByRoundMb.push(memoryOf(child.pid!).rssMb);
    }
    let statusMs: number | null = null;
    try {
      statusMs = (await time(1, () => c.request('scheduler/status', {}, 120_000)))[0];
    } catch (err) {
      log(`daemon: scheduler/status failed: ${(err as Error).message}`);
    }
    const peakRssMb = memoryOf(child.pid!).hwmMb;
    const t = (xs: number[]): Timing => ({ medianMs: median(xs), p99Ms: percentile(xs, 99) });
    return { queued, startMs, stats: t(stats), list: t(list), listQueued: t(listQueued), statusMs, rssByRoundMb, peakRssMb };
  });
}

/** A daemon process on `dir` with these flags, serving `fn` over its socket; its stderr's end told with a failure, and stopped after. */
async function withDaemon<T>(dir: string, flags: string[], fn: (client: RpcClient, child: ChildProcess) => Promise<T>): Promise<T> {
  const socket = path.join(dir, 'd.sock');
  const child = spawn(process.execPath, [DAEMON_MAIN, '--state-dir', dir, '--socket', socket, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let client: RpcClient | null = null;
  try {
    client = await waitForSocket(socket, child, 60_000);
    return await fn(client, child);
  } catch (err) {
    throw new Error(`${(err as Error).message}; daemon stderr: ${stderr.trim().slice(-800)}`);
  } finally {
    await stopDaemon(child, client);
  }
}

export async function stopDaemon(child: ChildProcess, client: RpcClient | null): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await client?.request('daemon/shutdown', {}, 5_000);
  } catch {
    child.kill('SIGTERM');
  }
  client?.close();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export interface CrawlStatsResult {
  pages: number;
  wallMs: number;
  finished: boolean;
  /** `queue/stats` over the socket while the crawl ran, one call after another with STATS_GAP_MS between. */
  stats: Timing;
  calls: number;
  peakRssMb: number;
}

/** Between two `queue/stats` calls while a crawl runs: a client polling, as the editor's views do (every 250 ms), only closer. */
const STATS_GAP_MS = 10;

/**
 * A crawl run by a daemon process, as `crawlctl crawl` would start it, with `queue/stats` timed at
 * the client over the socket all the while: what a client waits for while the daemon's thread
 * also runs the crawl.
 */
export async function statsDuringCrawl(
  dir: string,
  crawl: { seeds: string[]; maxDepth: number; maxPages: number },
  opts: { maxWorkers: number; perHost: number; deadlineMs: number },
): Promise<CrawlStatsResult> {
  return withDaemon(dir, ['--max-workers', String(opts.maxWorkers), '--per-host', String(opts.perHost)], async (c, child) => {
    const started = now();
    const { crawlId } = (await c.request('crawl/start', { ...crawl, scope: 'host' })) as { crawlId: string };
    const samples: number[] = [];
    let record = { state: 'running', pages: 0 };
    let checked = now();
    while (record.state === 'running' && elapsedMs(started) < opts.deadlineMs) {
      samples.push(...(await time(1, () => c.request('queue/stats', {}))));
      if (elapsedMs(checked) >= 250) {
        checked = now();
        record = ((await c.request('crawl/get', { crawlId })) as { crawl: typeof record }).crawl;
      }
      await sleep(STATS_GAP_MS);
    }
    const wallMs = elapsedMs(started);
    record = ((await c.request('crawl/get', { crawlId })) as { crawl: typeof record }).crawl;
    return {
      pages: record.pages,
      wallMs,
      finished: record.state === 'finished',
      stats: { medianMs: median(samples), p99Ms: percentile(samples, 99) },
      calls: samples.length,
      peakRssMb: memoryOf(child.pid!).hwmMb,
    };
  });
}
