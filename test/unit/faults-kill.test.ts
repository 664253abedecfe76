/**
 * Faults: daemons killed with SIGKILL at seeded random moments of a crawl and restarted, one
 * daemon alone and several on one database. Afterwards every page is done exactly once, every
 * counter equals its COUNT, the file is whole, no host ever saw more requests at once than its
 * limit, and the pages fetched again are no more than the leases the kills took with them.
 * `FAULT_SEED=n` replays another schedule.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { STATE_FILES } from '../../server/src/protocol';
import { RawClient, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { checkIntegrity, checkInvariants, withReadOnly } from './helpers/invariants';
import { killedMidCrawl } from './helpers/killed-totals';
import { prng } from './helpers/prng';
import { page, startHost, type TestHost } from './helpers/testsite';
import { eventually } from './helpers/tmp';

const SEED = Number(process.env.FAULT_SEED ?? 6);
const KILLS = 12;
const PER_HOST = 2;
const MAX_WORKERS = 4;
const ARGS = ['--max-workers', String(MAX_WORKERS), '--per-host', String(PER_HOST)];

interface Web {
  hosts: TestHost[];
  /** Every page's URL, each reachable from the seeds. */
  pages: string[];
  seeds: string[];
}

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

/**
 * `perHost` pages on each address, answered after `delayMs`: each links to the next, to two
 * children (a tree, so links fan out) and to the same page on the next host (so hosts interleave).
 */
async function startWebOf(ips: string[], perHost: number, delayMs: number): Promise<Web> {
  const started: TestHost[] = [];
  const pages: string[] = [];
  // Filled once every host's origin is known; the servers look routes up per request.
  const routes = ips.map((): Record<string, ReturnType<typeof page>> => ({}));
  for (let h = 0; h < ips.length; h++) {
    started.push(await startHost(ips[h], routes[h], delayMs));
  }
  hosts.push(...started);
  for (let h = 0; h < ips.length; h++) {
    const next = started[(h + 1) % ips.length];
    for (let i = 0; i < perHost; i++) {
      const out = [i + 1, 2 * i + 1, 2 * i + 2].filter((k) => k < perHost).map((k) => `/p${k}`);
      out.push(next.url(`/p${i}`));
      pages.push(started[h].url(`/p${i}`));
      routes[h][`/p${i}`] = page(out);
    }
  }
  return { hosts: started, pages, seeds: started.map((s) => s.url('/p0')) };
}

/** The worker id a daemon logged when it started. */
function workerIdOf(d: DaemonProc): string {
  const m = /daemon (\S+) started/.exec(d.stderr());
  assert.ok(m, 'the daemon logged its worker id');
  return m[1];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Before the next kill: the dead daemons' leases have been reclaimed, and jobs already reclaimed
 * twice have finished. A third lost worker fails a job on purpose (a page that kills its workers
 * is not retried forever), and this schedule is about kills, not about poison pages.
 */
async function reclaimsSettled(db: string, live: string[]): Promise<void> {
  await eventually(
    'the dead leases reclaimed and jobs reclaimed twice finished',
    () =>
      withReadOnly(
        db,
        (c) =>
          c
            .prepare(
              `SELECT count(*) FROM jobs WHERE (reclaims >= 2 AND state IN ('queued', 'in_progress'))
                  OR (state = 'in_progress' AND worker_id NOT IN (SELECT value FROM json_each(?)))`,
            )
            .pluck()
            .get(JSON.stringify(live)) === 0,
      ),
    60_000,
  );
}

async function crawlFinished(socket: string, crawlId: string): Promise<void> {
  const c = await RawClient.connect(socket);
  try {
    await eventually('the crawl to finish', async () => (await c.request('crawl/get', { crawlId })).crawl.state === 'finished', 90_000);
  } finally {
    c.close();
  }
}

/** What must hold once the crawl is over and every daemon stopped. */
function checkOutcome(web: Web, db: string, crawlId: string, bound: { leasesLost: number; what: string }): void {
  withReadOnly(db, (c) => {
    checkIntegrity(c);
    checkInvariants(c);
    const rows = c.prepare(`SELECT url, state, reclaims, last_error FROM jobs WHERE crawl_id = ? ORDER BY id`).all(crawlId) as {
      url: string;
      state: string;
      reclaims: number;
      last_error: string | null;
    }[];
    const byUrl = new Map<string, typeof rows>();
    for (const r of rows) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r]);
    const missing = web.pages.filter((u) => !byUrl.has(u));
    const extra = [...byUrl.keys()].filter((u) => !web.pages.includes(u));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'a job for every page, and for nothing else');
    const twice = [...byUrl].filter(([, rs]) => rs.length !== 1).map(([u]) => u);
    assert.deepEqual(twice, [], 'no page queued twice');
    const notDone = rows.filter((r) => r.state !== 'done').map((r) => `${r.url}: ${r.state} (${r.last_error})`);
    assert.deepEqual(notDone, [], 'every page done');
    const pages = c.prepare(`SELECT pages FROM crawls WHERE id = ?`).pluck().get(crawlId);
    assert.equal(pages, rows.length, "the crawl's page count is its pages done: none lost with a kill, none counted twice");

    let refetches = 0;
    let reclaims = 0;
    for (const h of web.hosts) {
      assert.ok(h.maxConcurrent() <= PER_HOST, `${h.origin} saw ${h.maxConcurrent()} requests at once, above its limit of ${PER_HOST}`);
      for (const [p, n] of h.hits) {
        if (p === '/robots.txt') continue;
        const job = byUrl.get(h.url(p))![0];
        assert.ok(n - 1 <= job.reclaims, `${h.url(p)} fetched ${n} times with ${job.reclaims} lease(s) lost`);
        refetches += n - 1;
        reclaims += job.reclaims;
      }
    }
    for (const h of web.hosts) {
      const unfetched = web.pages.filter((u) => u.startsWith(`${h.origin}/`) && !h.hits.has(new URL(u).pathname));
      assert.deepEqual(unfetched, [], 'every page fetched');
    }
    assert.ok(reclaims <= bound.leasesLost, `${reclaims} leases reclaimed, more than ${bound.what} (${bound.leasesLost})`);
    assert.ok(refetches <= reclaims, `${refetches} pages fetched again, more than the ${reclaims} leases lost`);
  });
}

describe('SIGKILL during a crawl', () => {
  test("a crawl's page count commits with its pages: a kill the moment they are done loses none", async () => {
    const db = path.join(scratch(), STATE_FILES.db);
    const figures = (crawlId: string) =>
      Promise.resolve(
        withReadOnly(
          db,
          (c) =>
            c
              .prepare(`SELECT pages, (SELECT count(*) FROM jobs WHERE crawl_id = crawls.id AND state = 'done') AS done FROM crawls WHERE id = ?`)
              .get(crawlId) as { pages: number; done: number },
        ),
      );
    const after = await killedMidCrawl('127.0.0.67', ['--db', db], figures);
    assert.equal(after.pages, after.done, `${after.done} pages done, ${after.pages} counted`);
  });

  test(`one daemon killed ${KILLS} times at random moments and restarted (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    const web = await startWebOf(['127.0.0.61', '127.0.0.62', '127.0.0.63'], 250, 100);
    const stateDir = scratch();
    const db = path.join(stateDir, STATE_FILES.db);
    let d = await startDaemon({ stateDir, args: ARGS });
    const c = await RawClient.connect(d.socket);
    const { crawlId } = await c.request('crawl/start', { seeds: web.seeds, maxDepth: 1000 });
    c.close();

    let held = 0;
    let kills = 0;
    while (kills < KILLS) {
      await reclaimsSettled(db, [workerIdOf(d)]);
      await sleep(100 + rand() * 400);
      const worker = workerIdOf(d);
      await d.stop('SIGKILL');
      kills++;
      // Read before the next daemon starts: the leases the kill took with it, to the job.
      const leases = withReadOnly(
        db,
        (x) => x.prepare(`SELECT count(*) FROM jobs WHERE state = 'in_progress' AND worker_id = ?`).pluck().get(worker) as number,
      );
      held += leases;
      const finished = withReadOnly(db, (x) => x.prepare(`SELECT state FROM crawls WHERE id = ?`).pluck().get(crawlId)) === 'finished';
      d = await startDaemon({ stateDir, args: ARGS });
      if (finished) break;
    }
    assert.ok(kills >= 8, `at least 8 kills landed during the crawl (it finished by kill ${kills})`);
    assert.ok(held > 0, 'some kill caught leases in flight');
    await crawlFinished(d.socket, crawlId);
    assert.equal((await d.stop('SIGTERM')).code, 0);
    checkOutcome(web, db, crawlId, { leasesLost: held, what: 'the leases the kills held' });
  });

  test(`three daemons on one database, killed and restarted independently (seed ${SEED})`, async () => {
    const rand = prng(SEED + 1);
    const web = await startWebOf(['127.0.0.64', '127.0.0.65', '127.0.0.66'], 350, 100);
    const db = path.join(scratch(), STATE_FILES.db);
    const dirs = [scratch(), scratch(), scratch()];
    const start = (i: number) => startDaemon({ stateDir: dirs[i], args: [...ARGS, '--db', db] });
    const daemons = [await start(0), await start(1), await start(2)];
    const c = await RawClient.connect(daemons[0].socket);
    const { crawlId } = await c.request('crawl/start', { seeds: web.seeds, maxDepth: 1000 });
    c.close();

    let kills = 0;
    while (kills < KILLS) {
      await reclaimsSettled(db, daemons.map(workerIdOf));
      await sleep(100 + rand() * 400);
      const i = Math.floor(rand() * daemons.length);
      await daemons[i].stop('SIGKILL');
      kills++;
      const finished = withReadOnly(db, (x) => x.prepare(`SELECT state FROM crawls WHERE id = ?`).pluck().get(crawlId)) === 'finished';
      // The others carry on (and reclaim the dead one's leases) while this one is down a moment.
      await sleep(rand() * 300);
      daemons[i] = await start(i);
      if (finished) break;
    }
    assert.ok(kills >= 8, `at least 8 kills landed during the crawl (it finished by kill ${kills})`);
    await crawlFinished(daemons[0].socket, crawlId);
    const exits = await Promise.all(daemons.map((d) => d.stop('SIGTERM')));
    assert.deepEqual(
      exits.map((e) => e.code),
      [0, 0, 0],
    );
    checkOutcome(web, db, crawlId, { leasesLost: kills * MAX_WORKERS, what: 'kills × workers per daemon' });
  });
});
