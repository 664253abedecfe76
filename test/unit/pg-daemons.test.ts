/**
 * Several daemons sharing one PostgreSQL queue, as they would from several machines: the per-host
 * limit exact across all of them, the work shared, and a daemon killed mid-crawl reclaimed by
 * another: at once when it ran on this machine, after its leases' TTL when it ran on another.
 * (Work started on one and done by another, heard by both: daemon-workers.test.ts, on both
 * engines.)
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RawClient, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { elsewhere } from './helpers/elsewhere';
import { killedMidCrawl } from './helpers/killed-totals';
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

/** chain(pages), whose middle page also links to /gate: a page that hangs until the test opens it. */
function gated(pages: number): Record<string, string[]> {
  const site = chain(pages);
  site[`/p${pages / 2}`].push('/gate');
  return site;
}

interface Lease {
  jobId: number;
  url: string;
  workerId: string;
  expiresAt: string;
}

/** The `expired` events naming a worker: the leases another daemon took back from it. */
async function reclaimedFrom(url: string, workerId: string): Promise<{ url: string; detail: string; at: number }[]> {
  const db = await pgClient(url);
  const { rows } = await db.query<{ url: string; detail: string; at: string }>(
    `SELECT j.url, e.detail, e.at FROM events e JOIN jobs j ON j.id = e.job_id WHERE e.type = 'expired' AND e.worker_id = $1`,
    [workerId],
  );
  return rows.map((r) => ({ ...r, at: Number(r.at) }));
}

const OTHER_HOST = 'crawl-test-elsewhere';
const other = elsewhere(OTHER_HOST);

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

  test('three daemons crawling, one killed with SIGKILL mid-fetch: the others reclaim its leases at once and finish every page; only what it held is fetched again', async () => {
    const url = await pgDatabase();
    const hosts = ['127.0.0.86', '127.0.0.87', '127.0.0.88', '127.0.0.89'];
    const pages = gated(40);
    const paths = [...Object.keys(pages), '/gate'];
    const webs = await Promise.all(hosts.map((h) => startWeb(h, pages, ['/gate'])));
    // A lease TTL longer than the test: only finding the dead daemon's pid gone brings its leases back.
    const { procs, clients } = await daemonsOn(url, 3, ['--per-host', '2', '--max-workers', '4', '--lease-ttl', '600', '--heartbeat', '1']);
    const ids = await Promise.all(clients.map(async (c) => (await c.request('scheduler/status')).workerId as string));
    const { crawlId } = await clients[0].request('crawl/start', { seeds: webs.map((w) => w.url('/')), maxDepth: 100, scope: 'host' });
    // The victim: whichever daemon holds a gate's lease while the site holds its request, halfway through.
    const held = (await eventually(
      'a gate to be requested',
      async () => {
        const { leases } = (await clients[0].request('leases/list')) as { leases: Lease[] };
        return leases.find((l) => webs.some((w) => l.url === w.url('/gate') && w.waiting('/gate') === 1));
      },
      60_000,
    ))!;
    const v = ids.indexOf(held.workerId);
    assert.ok(v >= 0, `${held.workerId} is one of the three daemons`);
    clients[v].close();
    await procs[v].stop('SIGKILL');
    for (const w of webs) w.open('/gate');

    const alive = clients.filter((_, i) => i !== v);
    const crawl = await finished(alive[0], crawlId, 120_000);
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 4 * paths.length, skipped: 0, error: 0 });
    const reclaimed = await reclaimedFrom(url, held.workerId);
    assert.ok(
      reclaimed.some((r) => r.url === held.url),
      'the gate it held was reclaimed',
    );
    assert.deepEqual([...new Set(reclaimed.map((r) => r.detail))], ['worker process is gone'], 'reclaimed because its process was gone, not by expiry');
    const again = new Set(reclaimed.map((r) => r.url));
    for (const w of webs) {
      for (const p of paths) {
        const n = w.hits(p);
        assert.ok(n === 1 || (n === 2 && again.has(w.url(p))), `${w.url(p)} fetched ${n} time(s): only a page the killed daemon held may be fetched twice`);
      }
      assert.ok(w.maxInFlight() <= 2, `${w.url('/')} saw ${w.maxInFlight()} requests at once, over the limit of 2`);
    }
    assert.equal(webs.find((w) => w.url('/gate') === held.url)!.hits('/gate'), 2, 'the gate it was fetching when it died was fetched again');
    for (const id of ids.filter((_, i) => i !== v)) assert.deepEqual(await reclaimedFrom(url, id), [], 'no lease of a live daemon was taken');
    for (const c of alive) c.close();
    for (const [i, p] of procs.entries()) if (i !== v) assert.equal((await p.stop()).code, 0);
  });

  test("a page's record and its acknowledgement commit together: with records refused (a full disk), nothing is done without its record, even across a kill", async () => {
    const url = await pgDatabase();
    const web = await startWeb('127.0.0.91', chain(12));
    const first = await startDaemon({ stateDir: scratch(), args: ['--db', url] });
    // Migrated by now. Every write of a record is refused as a full disk refuses it, and counted.
    const db = await pgClient(url);
    await db.query(`
      CREATE SEQUENCE refused;
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM nextval('refused'); RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON pages FOR EACH ROW EXECUTE FUNCTION refuse();`);
    const c1 = await RawClient.connect(first.socket);
    const { crawlId } = await c1.request('crawl/start', { seeds: [web.url('/')], maxDepth: 100, scope: 'host' });
    const refused = async () => Number((await db.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM refused`)).rows[0].n);
    // A few refusals: the record tried and tried again, whatever went on beside it.
    await eventually('records to be refused three times', async () => (await refused()) >= 3, 30_000);
    c1.close();
    await first.stop('SIGKILL');
    const recordless = `SELECT j.url FROM jobs j WHERE j.crawl_id = $1 AND j.state = 'done' AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.job_id = j.id)`;
    assert.deepEqual((await db.query(recordless, [crawlId])).rows, [], 'no job was done without its record');
    assert.equal(web.hits('/'), 1, 'the home page was fetched');

    // The disk has room again: another daemon takes the dead one's lease and finishes the crawl, every job with its record.
    await db.query('DROP TRIGGER refuse ON pages');
    const second = await startDaemon({ stateDir: scratch(), args: ['--db', url] });
    const c2 = await RawClient.connect(second.socket);
    const crawl = await finished(c2, crawlId);
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 12, skipped: 0, error: 0 });
    assert.deepEqual((await db.query(recordless, [crawlId])).rows, []);
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pages WHERE crawl_id = $1 AND status = 200`, [crawlId]);
    assert.equal(rows[0].n, 12, 'a record for every page');
    c2.close();
    assert.equal((await second.stop()).code, 0);
  });

  test("a crawl's page count commits with its pages: a kill the moment they are done loses none", async () => {
    const url = await pgDatabase();
    const db = await pgClient(url);
    const figures = async (crawlId: string) =>
      (
        await db.query<{ pages: number; done: number }>(
          `SELECT pages::int AS pages, (SELECT count(*)::int FROM jobs WHERE crawl_id = crawls.id AND state = 'done') AS done FROM crawls WHERE id = $1`,
          [crawlId],
        )
      ).rows[0];
    const after = await killedMidCrawl('127.0.0.92', ['--db', url], figures);
    assert.equal(after.pages, after.done, `${after.done} pages done, ${after.pages} counted`);
  });

  test(
    'a daemon of another machine killed mid-fetch: its lease waits out the TTL (its pid means nothing here), then another finishes the crawl',
    { skip: 'why' in other ? other.why : false },
    async () => {
      const url = await pgDatabase();
      const pages = gated(20);
      const web = await startWeb('127.0.0.90', pages, ['/gate']);
      const ttl = ['--db', url, '--lease-ttl', '6', '--heartbeat', '1'];
      const here = await startDaemon({ stateDir: scratch(), args: ttl });
      const there = await startDaemon({ stateDir: scratch(), args: ttl, wrapper: 'wrapper' in other ? other.wrapper : [] });
      const [ch, ct] = await Promise.all([RawClient.connect(here.socket), RawClient.connect(there.socket)]);
      await ch.request('scheduler/pause');
      const victim = (await ct.request('scheduler/status')).workerId as string;
      assert.ok(victim.startsWith(`${OTHER_HOST}:`), `${victim}: a worker id naming the other host`);
      const { crawlId } = await ct.request('crawl/start', { seeds: [web.url('/')], maxDepth: 100, scope: 'host' });
      await eventually('the gate to be requested', () => web.waiting('/gate') === 1, 60_000);
      const { leases } = (await ch.request('leases/list')) as { leases: Lease[] };
      const gate = leases.find((l) => l.url === web.url('/gate'))!;
      assert.equal(gate.workerId, victim);
      ct.close();
      await there.stop('SIGKILL');
      await ch.request('scheduler/resume');
      web.open('/gate');

      const crawl = await finished(ch, crawlId, 60_000);
      assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: Object.keys(pages).length + 1, skipped: 0, error: 0 });
      const reclaimed = await reclaimedFrom(url, victim);
      const lost = reclaimed.find((r) => r.url === gate.url);
      assert.ok(lost, 'the gate it held was reclaimed');
      assert.equal(lost.detail, 'lease expired');
      // Its lease was this late at least (a heartbeat before the kill may have moved it later).
      assert.ok(lost.at >= Date.parse(gate.expiresAt), `reclaimed at ${new Date(lost.at).toISOString()}, before its lease expired at ${gate.expiresAt}`);
      assert.equal(web.hits('/gate'), 2, 'the gate it was fetching when it died was fetched again');
      ch.close();
      assert.equal((await here.stop()).code, 0);
    },
  );
});
