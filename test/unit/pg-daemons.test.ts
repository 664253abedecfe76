/**
 * Several daemons sharing one PostgreSQL queue, as they would from several machines: the per-host
 * limit exact across all of them, the work shared, and a daemon killed mid-crawl reclaimed by
 * another. (Work started on one and done by another, heard by both: daemon-workers.test.ts, on
 * both engines.)
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RawClient, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { pgClient, pgDatabase } from './helpers/pg';
import { eventually } from './helpers/tmp';

async function daemonsOn(url: string, n: number, args: string[] = []): Promise<{ procs: DaemonProc[]; clients: RawClient[] }> {
  const procs = await Promise.all(Array.from({ length: n }, () => startDaemon({ stateDir: scratch(), args: ['--db', url, ...args] })));
  const clients = await Promise.all(procs.map((p) => RawClient.connect(p.socket)));
  return { procs, clients };
}

async function finished(c: RawClient, crawlId: string, ms = 60_000) {
  return eventually(
    `crawl ${crawlId} to finish`,
    async () => {
      const { crawl } = await c.request('crawl/get', { crawlId });
      return crawl.state === 'finished' ? crawl : null;
    },
    ms,
  );
}

/** A site of `pages` pages on one host, each linking to the next few, so a crawl fans out. */
function chain(pages: number): Record<string, string[]> {
  const site: Record<string, string[]> = {};
  for (let i = 0; i < pages; i++)
    site[i === 0 ? '/' : `/p${i}`] = [1, 2, 3]
      .map((d) => i + d)
      .filter((j) => j < pages)
      .map((j) => `/p${j}`);
  return site;
}

describe('several daemons on one PostgreSQL', () => {
  test('three daemons crawl four hosts: every page once, the per-host limit exact across them, the work shared', async () => {
    const url = await pgDatabase();
    const hosts = ['127.0.0.81', '127.0.0.82', '127.0.0.83', '127.0.0.84'];
    const webs: TestWeb[] = await Promise.all(hosts.map((h) => startWeb(h, chain(40))));
    const { procs, clients } = await daemonsOn(url, 3, ['--per-host', '2', '--max-workers', '8']);
    const { crawlId } = await clients[0].request('crawl/start', { seeds: webs.map((w) => w.url('/')), maxDepth: 100, scope: 'host' });
    const crawl = await finished(clients[1], crawlId, 120_000);
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 160, skipped: 0, error: 0 });
    for (const w of webs) {
      for (const p of Object.keys(chain(40))) assert.equal(w.hits(p), 1, `${w.url(p)} fetched exactly once`);
      assert.ok(w.maxInFlight() <= 2, `${w.url('/')} saw ${w.maxInFlight()} requests at once, over the limit of 2`);
    }
    const db = await pgClient(url);
    const { rows } = await db.query(`SELECT count(DISTINCT worker_id) AS n FROM jobs WHERE crawl_id = $1`, [crawlId]);
    assert.ok(rows[0].n >= 2, `the work was shared (${rows[0].n} daemon(s) ran jobs)`);
    // Every daemon reads the same crawl from the shared store, once each has flushed its page totals.
    await eventually('every daemon to count 160 pages', async () =>
      (await Promise.all(clients.map((c) => c.request('crawl/get', { crawlId })))).every((r) => r.crawl.pages === 160),
    );
    for (const c of clients) c.close();
    await Promise.all(procs.map((p) => p.stop()));
  });

  test('a daemon killed holding a lease: another reclaims the job and finishes it', async () => {
    const url = await pgDatabase();
    const web = await startWeb('127.0.0.85', { '/': ['/slow'] }, ['/slow']);
    const {
      procs: [one, two],
      clients: [c1, c2],
    } = await daemonsOn(url, 2);
    await c2.request('scheduler/pause');
    const w1 = (await c1.request('scheduler/status')).workerId;
    const { crawlId } = await c1.request('crawl/start', { seeds: [web.url('/')] });
    const lease = await eventually('the slow page to be leased by daemon one', async () =>
      (await c2.request('leases/list')).leases.find((l: { url: string }) => l.url === web.url('/slow')),
    );
    assert.equal(lease.workerId, w1);
    await eventually('the slow page to be requested', () => web.waiting('/slow') === 1);
    c1.close();
    await one.stop('SIGKILL');

    web.open('/slow');
    await c2.request('scheduler/resume');
    const crawl = await finished(c2, crawlId);
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 2, skipped: 0, error: 0 });
    const { job, events } = await c2.request('jobs/get', { id: lease.jobId });
    assert.notEqual(job.workerId, w1, 'finished by the daemon still alive');
    const lost = events.filter((e: { type: string }) => e.type === 'expired');
    assert.equal(lost.length, 1, "the dead daemon's lease was reclaimed once");
    assert.equal(lost[0].workerId, w1, 'the history names the daemon that died holding it');
    assert.equal(web.hits('/'), 1);
    c2.close();
    assert.equal((await two.stop()).code, 0);
  });
});
