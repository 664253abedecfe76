/**
 * Faults: the database full in the middle of a crawl. `PRAGMA max_page_count` makes it so without
 * a small disk; it does not persist, so the daemon applies it from the test-only environment
 * variable CRAWLD_TEST_MAX_PAGE_COUNT. Room returns when another program frees pages in the file
 * (here: drops a table it had filled), as when disk space comes back.
 */
import Database from 'better-sqlite3';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { validateConfig } from '../../server/src/core/config';
import { Scheduler } from '../../server/src/core/scheduler';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT } from '../../server/src/crawl/store';
import { STATE_FILES } from '../../server/src/protocol';
import { RawClient, scratch, startDaemon } from './helpers/daemon-proc';
import { checkInvariants, crawlEndedWhole } from './helpers/invariants';
import { job } from './helpers/jobs';
import { page, startHost, type Route } from './helpers/testsite';
import { eventually, tempDb } from './helpers/tmp';

const PAGES = 400;

/** CPU time (user + system) a process has used, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line, counted from the pid, in clock ticks (100 Hz).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

test('a full database: reported, no more leases, reads still served, and the crawl carries on once room returns', async () => {
  // Each page links to the next five, so every page done adds rows: the file grows as the crawl goes.
  const routes: Record<string, Route> = {};
  for (let i = 0; i < PAGES; i++) routes[`/p${i}`] = page([1, 2, 3, 4, 5].map((k) => `/p${i + k}`).filter((p) => Number(p.slice(2)) < PAGES));
  const host = await startHost('127.0.0.71', routes, 10);
  after(() => host.close());

  const stateDir = scratch();
  const db = path.join(stateDir, STATE_FILES.db);
  // The queue's schema, then pages another program holds (and will give back).
  const setup = new SqliteQueue(db, { components: [CRAWL_COMPONENT] });
  setup.db.exec(`CREATE TABLE other_program (b BLOB)`);
  setup.db
    .prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO other_program SELECT zeroblob(3000) FROM n`)
    .run();
  const pages = setup.db.pragma('page_count', { simple: true }) as number;
  await setup.close();

  // A little room: the crawl starts, then fills it.
  const d = await startDaemon({ stateDir, args: ['--max-workers', '4', '--per-host', '2'], env: { CRAWLD_TEST_MAX_PAGE_COUNT: String(pages + 6) } });
  const c = await RawClient.connect(d.socket);
  const { crawlId } = await c.request('crawl/start', { seeds: [host.url('/p0')], maxDepth: 1000 });

  const reason = await eventually(
    'the daemon to report the full database',
    async () => {
      const s = await c.request('scheduler/status');
      return /full/.test(s.idleReason ?? '') ? (s.idleReason as string) : '';
    },
    30_000,
  );
  assert.match(reason, /database or disk is full/);
  assert.match(d.stderr(), /error: \w+ failed: database or disk is full/, 'a log line says so');

  // Full: nothing more is leased, the process idles, and each kind of failure is logged once.
  const before = (await c.request('leases/list')).leases.map((l: { jobId: number }) => l.jobId);
  const cpu = cpuSeconds(d.child.pid!);
  await new Promise((r) => setTimeout(r, 2_000));
  const later = (await c.request('leases/list')).leases.map((l: { jobId: number }) => l.jobId);
  assert.deepEqual(
    later.filter((id: number) => !before.includes(id)),
    [],
    'no new lease while full',
  );
  const spent = cpuSeconds(d.child.pid!) - cpu;
  assert.ok(spent < 0.5, `the daemon idles while full (${spent.toFixed(2)} s of CPU in 2 s)`);
  const fullLines = d
    .stderr()
    .split('\n')
    .filter((l) => /database or disk is full/.test(l));
  assert.ok(fullLines.length <= 4, `each failure logged once, not per retry:\n${fullLines.join('\n')}`);

  // Reads are served.
  const stats = await c.request('queue/stats');
  assert.ok(stats.queued > 0 && stats.done > 0 && stats.done < PAGES, `stats mid-crawl: ${JSON.stringify(stats)}`);
  const listed = await c.request('jobs/list', { crawlId, limit: 1000 });
  assert.equal(listed.jobs.length, stats.total, 'jobs/list reads every job');
  assert.equal((await c.request('crawl/get', { crawlId })).crawl.state, 'running');

  // Room returns: the other program drops its table; its pages go to the file's free list.
  const other = new Database(db);
  other.pragma('busy_timeout = 5000');
  other.exec(`DROP TABLE other_program`);
  other.close();

  await eventually('the crawl to finish', async () => (await c.request('crawl/get', { crawlId })).crawl.state === 'finished', 60_000);
  assert.match(d.stderr(), /the queue takes writes again/);
  assert.equal((await c.request('scheduler/status')).idleReason, null);
  c.close();
  assert.equal((await d.stop('SIGTERM')).code, 0, 'the daemon never died: it stops cleanly');

  const rows = crawlEndedWhole(db, crawlId, PAGES);
  assert.equal(new Set(rows.map((r) => r.url)).size, PAGES, 'no page twice');
  for (const r of rows) {
    const hits = host.hits.get(new URL(r.url).pathname) ?? 0;
    assert.ok(hits >= 1 && hits - 1 <= r.reclaims, `${r.url} fetched ${hits} times with ${r.reclaims} lease(s) lost`);
  }
  assert.ok(host.maxConcurrent() <= 2, `at most 2 requests at once (saw ${host.maxConcurrent()})`);
});

test('the scheduler leases nothing while its finished work cannot be committed, and catches up when it can', async () => {
  const db = tempDb();
  const queue = new SqliteQueue(db);
  await queue.enqueue([job('a', 1), job('a', 2)]);
  // Each job finds many links: its acknowledgement needs pages the capped file does not have.
  const links = Array.from({ length: 200 }, (_, i) => job('links.example', `${i}/${'x'.repeat(200)}`));
  const started: string[] = [];
  const logs: string[] = [];
  const scheduler = new Scheduler(
    queue,
    {
      test: async (j) => {
        started.push(j.url);
        return { type: 'done', enqueue: j.key === 'a' ? links.map((l) => ({ ...l, dedupeKey: `${j.url} ${l.url}` })) : [] };
      },
    },
    validateConfig({ maxWorkers: 8, perHostLimit: 2, leaseTtlMs: 60_000, heartbeatMs: 1_000, pollMs: 20 }),
    (level, m) => logs.push(`${level}: ${m}`),
  );
  queue.db.pragma(`max_page_count = ${queue.db.pragma('page_count', { simple: true }) as number}`);
  const other = new SqliteQueue(db);
  scheduler.start();
  try {
    await eventually('the acknowledgements to fail', () => /acknowledging failed: database or disk is full/.test(scheduler.status().lastError ?? ''));
    assert.equal(started.length, 2);

    // Work another connection adds (it has no cap) is not leased here while acks fail:
    // it could not be committed either. Six slots are free; 'b' is under its limit.
    await other.enqueue([job('b', 1)]);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(started, ['http://a/1', 'http://a/2'], 'nothing more leased while full');
    assert.equal(logs.filter((l) => /full/.test(l)).length, 1, `one log line, not one per retry: ${logs.join('\n')}`);

    // Room returns: the acks go through with their links, then the rest runs.
    queue.db.pragma('max_page_count = 1000000');
    await eventually('every job done', async () => (await queue.stats()).done === 2 + 1 + links.length * 2, 20_000);
    assert.equal(scheduler.status().lastError, null);
    assert.ok(logs.some((l) => /the queue takes writes again/.test(l)));
    assert.equal(started.filter((u) => u.startsWith('http://a/')).length, 2, 'the jobs whose acks waited ran once');
  } finally {
    queue.db.pragma('max_page_count = 1000000');
    await scheduler.stop();
    await other.close();
  }
  checkInvariants(queue);
  await queue.close();
});
