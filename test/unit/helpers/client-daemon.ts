/**
 * A real daemon, in process, for the client's unit tests: its database, crawl service and method
 * table answer the tree's and the status bar's requests exactly as over the wire (params checked
 * by the contract's schemas). Its scheduler is paused, so nothing is fetched; tests move jobs
 * between states through the queue with a worker id of their own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import type { SqliteQueue } from '../../../server/src/core/sqlite/engine';
import { Daemon } from '../../../server/src/daemon/daemon';
import { daemonOptions } from '../../../server/src/daemon/process/options';
import type { Method, ParamsOf, ResultOf } from '../../../server/src/protocol';
import { startHost, type Route, type TestHost } from './testsite';
import { eventually } from './tmp';

export interface Call {
  method: Method;
  params: unknown;
}

export class TestDaemon {
  /** Every request made, in order. */
  readonly calls: Call[] = [];
  /** When set, every request fails with it (a daemon that went away mid-request). */
  failWith: Error | undefined;

  private constructor(
    readonly daemon: Daemon,
    private readonly dir: string,
  ) {}

  /** Call `stop` when done (in an `after` hook of the same suite). */
  static async start(): Promise<TestDaemon> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-test-'));
    const options = daemonOptions({ 'state-dir': path.join(dir, '.crawl'), 'max-workers': 4, 'per-host': 2 });
    const daemon = await Daemon.start({ ...options, log: () => {}, socketInUse: 'continue' });
    daemon.scheduler.pause();
    return new TestDaemon(daemon, dir);
  }

  async stop(): Promise<void> {
    await this.daemon.stop('the test ended', 0);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The test daemon runs on SQLite (a file in its state folder). */
  get queue(): SqliteQueue {
    return this.daemon.queue as SqliteQueue;
  }

  async request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    this.calls.push({ method, params });
    if (this.failWith) throw this.failWith;
    return (await this.daemon.call(method, params, { subscribe: () => {} })) as ResultOf<M>;
  }

  callsOf(method: Method): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.params);
  }

  /** Leases up to `n` queued jobs to worker `w-test`, as a running worker would hold them. */
  async lease(n: number): Promise<{ id: number; token: string }[]> {
    const jobs = await this.queue.lease('w-test', n, { ttlMs: 30_000, defaultLimit: 100 });
    return jobs.map((j) => ({ id: j.id, token: j.leaseToken }));
  }

  /** Leases `n` jobs and fails them for good with `error`. */
  async fail(n: number, error: string): Promise<number[]> {
    const held = await this.lease(n);
    await this.queue.ack(
      'w-test',
      held.map((h) => ({ ...h, outcome: { type: 'fail' as const, error, retryable: false } })),
    );
    return held.map((h) => h.id);
  }

  /** Leases `n` jobs and finishes them as fetched pages. */
  async finish(n: number): Promise<number[]> {
    const held = await this.lease(n);
    const result = { status: 200, contentType: 'text/html', bytes: 2048, durationMs: 35, title: 'A page' };
    await this.queue.ack(
      'w-test',
      held.map((h) => ({ ...h, outcome: { type: 'done' as const, result } })),
    );
    return held.map((h) => h.id);
  }
}

/** A daemon that has crawled a loopback site to its end (host scope), both closed when the test ends. */
export async function crawledSite(ip: string, routes: Record<string, Route>): Promise<{ d: TestDaemon; site: TestHost; crawlId: string }> {
  const d = await TestDaemon.start();
  const site = await startHost(ip, routes);
  after(async () => {
    await d.stop();
    await site.close();
  });
  d.daemon.scheduler.resume();
  const { crawlId } = await d.request('crawl/start', { seeds: [site.url('/')], scope: 'host' });
  await eventually('the crawl to finish', async () => (await d.request('crawl/get', { crawlId })).crawl.state === 'finished');
  return { d, site, crawlId };
}
