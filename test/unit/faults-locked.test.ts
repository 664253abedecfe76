/**
 * Faults: another process holds the queue database's write lock (`BEGIN EXCLUSIVE`, as a SQLite
 * browser does) in the middle of a crawl. In WAL mode readers go on; writes wait on timers, not on
 * the daemon's thread, so every client stays answered, and the crawl carries on when the lock goes.
 */
import Database from 'better-sqlite3';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT, createCrawlService, SqliteCrawlStore } from '../../server/src/crawl/crawls';
import { STATE_FILES } from '../../server/src/protocol';
import { crawler, QUICK } from './helpers/crawler';
import { RawClient, scratch, startDaemon } from './helpers/daemon-proc';
import { crawlEndedWhole } from './helpers/invariants';
import { page, startHost, text, type Route } from './helpers/testsite';
import { eventually, tempDir } from './helpers/tmp';

const PAGES = 400;
/** Longer than the daemon's lease TTL (3 s in the tests' quick settings): its leases expire meanwhile. */
const LOCK_MS = 6_000;

/** Another process that takes the write lock, says `locked`, holds it `ms`, then says `released`. */
function lockFor(db: string, ms: number) {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(db)});
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN EXCLUSIVE');
    console.log('locked');
    setTimeout(() => { db.exec('COMMIT'); db.close(); console.log('released'); }, ${ms});`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let said = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    said += d;
  });
  after(() => child.kill('SIGKILL'));
  return { locked: () => said.includes('locked'), released: () => said.includes('released') };
}

test('a locked database: every client answered throughout, the lock named, and the crawl completes exactly once it goes', async () => {
  const routes: Record<string, Route> = { '/robots.txt': text('') };
  for (let i = 0; i < PAGES; i++) routes[`/p${i}`] = page([1, 2, 3, 4, 5].map((k) => `/p${i + k}`).filter((p) => Number(p.slice(2)) < PAGES));
  const host = await startHost('127.0.0.72', routes, 20);
  after(() => host.close());

  const stateDir = scratch();
  const db = path.join(stateDir, STATE_FILES.db);
  const d = await startDaemon({ stateDir, args: ['--max-workers', '4', '--per-host', '2'] });
  const c = await RawClient.connect(d.socket);
  const { crawlId } = await c.request('crawl/start', { seeds: [host.url('/p0')], maxDepth: 1000 });
  await eventually('the crawl under way', async () => (await c.request('queue/stats')).done >= 20);

  const lock = lockFor(db, LOCK_MS);
  await eventually('the other process to hold the lock', lock.locked);
  // Every request is answered while the lock is held: counted, one after another.
  let answers = 0;
  let named = '';
  let midway: { done: number; listed: number; state: string } | null = null;
  while (!lock.released()) {
    const stats = await c.request('queue/stats');
    answers++;
    if (answers % 20 === 0) {
      const reason = (await c.request('scheduler/status')).idleReason as string | null;
      if (reason && /locked by another process/.test(reason) && !lock.released()) named = reason;
      if (!midway) {
        const listed = (await c.request('jobs/list', { crawlId, limit: 1000 })).jobs.length;
        midway = { done: stats.done, listed, state: (await c.request('crawl/get', { crawlId })).crawl.state };
      }
    }
  }
  // Before writes gave the thread back, one answer came in a 6 s lock (every write waited 5 s).
  assert.ok(answers >= 100, `queue/stats answered ${answers} times during a ${LOCK_MS / 1000} s lock`);
  assert.match(
    named,
    /Nothing (more )?runs although .*: \w+ failed: the queue database is locked by another process \(.*queue\.db/,
    'scheduler/status names the lock while it is held',
  );
  assert.ok(midway && midway.done < PAGES && midway.listed > midway.done && midway.state === 'running', `reads during the lock: ${JSON.stringify(midway)}`);

  await eventually('the crawl to finish', async () => (await c.request('crawl/get', { crawlId })).crawl.state === 'finished', 60_000);
  const crawl = (await c.request('crawl/get', { crawlId })).crawl;
  assert.equal(crawl.pages, PAGES, 'every page counted, none lost while the totals could not be written');
  assert.equal(crawl.counts.done, PAGES);
  assert.equal((await c.request('scheduler/status')).idleReason, null);
  const log = d.stderr();
  const lockLines = log.split('\n').filter((l) => /failed: the queue database is locked/.test(l));
  assert.equal(lockLines.length, 1, `the lock logged once, not per write nor per retry:\n${lockLines.join('\n')}`);
  assert.match(log, /the queue takes writes again/);
  c.close();
  assert.equal((await d.stop('SIGTERM')).code, 0, 'the daemon never died: it stops cleanly');

  const rows = crawlEndedWhole(db, crawlId, PAGES);
  // The lock outlasted the lease TTL: the daemon's own reaper must not take the leases its
  // heartbeat could not renew, or their pages are fetched twice.
  assert.deepEqual(
    rows.filter((r) => r.reclaims > 0),
    [],
    'no lease of its own reclaimed',
  );
  for (const r of rows) assert.equal(host.hits.get(new URL(r.url).pathname), 1, `${r.url} fetched once`);
  assert.ok(host.maxConcurrent() <= 2, `at most 2 requests at once (saw ${host.maxConcurrent()})`);
});

test("a page's totals ride on its acknowledgement: refused by a lock, both are kept and written together", async () => {
  const site = await startHost('127.0.0.73', { '/robots.txt': text(''), '/a': page([]), '/b': page([]), '/c': page([]) });
  after(() => site.close());
  const dir = tempDir();
  const db = path.join(dir, 'queue.db');
  const queue = new SqliteQueue(db, { components: [CRAWL_COMPONENT] });
  const crawls = createCrawlService(queue, new SqliteCrawlStore(queue.db), { ...QUICK, bodiesDir: path.join(dir, 'bodies') });
  const other = new Database(db);
  after(async () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    await crawls.close();
    await queue.close();
  });
  const { crawlId } = await crawls.start({ seeds: ['/a', '/b', '/c'].map((p) => site.url(p)) });
  const leased = await queue.lease('w', 3, { ttlMs: 60_000, defaultLimit: 3 });
  assert.equal(leased.length, 3);
  const acks = [];
  for (const job of leased) {
    const outcome = await crawls.handler(job, { signal: new AbortController().signal, workerId: 'w', committed: () => {} });
    assert.ok(outcome, 'the page has an outcome');
    acks.push({ id: job.id, token: job.leaseToken, outcome });
  }
  other.exec('BEGIN IMMEDIATE');
  await assert.rejects(queue.ack('w', acks), 'the acknowledgements meet the lock');
  assert.equal((await crawls.get(crawlId)).pages, 0, 'no page counted before its acknowledgement commits');

  other.exec('COMMIT');
  assert.deepEqual(
    (await queue.ack('w', acks)).map((r) => r.ok),
    [true, true, true],
  );
  const crawl = await crawls.get(crawlId);
  assert.deepEqual({ pages: crawl.pages, done: crawl.counts.done }, { pages: 3, done: 3 }, 'counted with their acknowledgements, once');
});

test('a page fetched while the lock was taken is kept: what is written after the fetch does not throw it away', async () => {
  let other: Database.Database | null = null;
  // The fetch is under way when another process takes the write lock, for longer than a write's
  // retries last (2 s): the slot's end, written after the response, meets the lock.
  const slow: Route = async (req, res) => {
    other = new Database(cr.db);
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => {
      other!.exec('COMMIT');
      other!.close();
    }, 3_000);
    await new Promise((r) => setTimeout(r, 200));
    await page([])(req, res, 1);
  };
  const site = await startHost('127.0.0.73', { '/robots.txt': text(''), '/slow': slow });
  after(() => site.close());
  // A delay per host makes every page go through a slot (politeness.inSlot).
  const cr = crawler({ settings: { defaultDelayMs: 50 } });
  const crawl = await cr.run({ seeds: [site.url('/slow')] });
  assert.equal(crawl.counts.done, 1);
  assert.equal(site.hits.get('/slow'), 1, 'fetched once');
  const job = await cr.byUrl(crawl.id, site.url('/slow'));
  assert.deepEqual(
    job.events.filter((e) => e.type === 'deferred'),
    [],
    'not deferred to be fetched again',
  );
});
