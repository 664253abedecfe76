/**
 * One origin of a host and the rest of it: a robots.txt that cannot be read holds only its own
 * origin's pages, while the host's other ports run on; one with no server behind it (nothing
 * listening) ends its pages as broken links within their own attempts, the cause first, as their
 * own fetch would have; and the reads in a row of an unreadable robots.txt outlive a restart.
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { failureReason } from '../../server/src/core/failure-reason';
import { idleReason } from '../../server/src/daemon/idle';
import { MAX_ROBOTS_TRIES } from '../../server/src/crawl/politeness';
import { crawler, crawlerOn } from './helpers/crawler';
import { ENGINES } from './helpers/engines';
import { page, startHost, status, text, type Route, type TestHost } from './helpers/testsite';
import { eventually } from './helpers/tmp';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));
async function host(ip: string, routes: Record<string, Route>) {
  const h = await startHost(ip, routes);
  hosts.push(h);
  return h;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A port of `ip` that nothing listens on: bound, then let go (no other test uses these addresses). */
async function deadPort(ip: string): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ip, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

ENGINES.forEach((engine, i) => {
  const ip = (n: number) => `127.0.0.${201 + 4 * i + n}`;
  describe(`an origin apart from its host (${engine.name})`, () => {
    test("a robots.txt answering 503 holds its own port's pages, not the host's other port", async () => {
      const held = await host(ip(0), { '/robots.txt': status(503), '/x': page([]) });
      const site = await host(ip(0), {
        '/robots.txt': text(''),
        '/': page([held.url('/x'), '/a1']),
        '/a1': page(['/a2']),
        '/a2': page(['/a3']),
        '/a3': page([]),
      });
      // A minute before the unreadable robots.txt is read again: far longer than the site takes.
      const cr = await crawlerOn(engine, { settings: { robotsRetryMs: 60_000 }, config: { perHostLimit: 1 } });
      const { crawlId } = await cr.crawls.start({ seeds: [site.url('/')], scope: 'host' });
      const pages = ['/', '/a1', '/a2', '/a3'].map((p) => site.url(p));
      await eventually(
        "the other port's pages",
        async () => (await cr.queue.findByDedupeKeys(crawlId, pages)).filter((j) => j.state === 'done').length === pages.length,
        20_000,
      );
      for (const p of ['/', '/a1', '/a2', '/a3']) assert.equal(site.hits.get(p), 1, p);
      const x = await cr.byUrl(crawlId, held.url('/x'));
      assert.equal(x.job.state, 'queued', 'its own page waits for its robots.txt');
      assert.equal(x.job.attempts, 0);
      assert.equal(held.hits.get('/robots.txt'), 1);
      assert.equal(held.hits.get('/x') ?? 0, 0, 'never fetched while its robots.txt is unreadable');
      // The hosts view says which origin waits, and why.
      const [h] = (await cr.crawls.hosts({ defaultLimit: 1 })).filter((k) => k.host === ip(0));
      assert.equal(h.state, 'blocked');
      assert.equal(h.reason, `${held.origin}: robots.txt returned 503, try 1 of ${MAX_ROBOTS_TRIES}`);
      assert.ok(
        cr.logs.some((l) => l.startsWith(`info: origin ${held.origin} held until`)),
        cr.logs.join('\n'),
      );
      // And so does the sentence of why nothing runs.
      const idle = await eventually('nothing running', async () => idleReason(cr.queue, cr.crawls, cr.scheduler.status(), 1));
      assert.match(
        String(idle),
        new RegExp(`^Nothing runs although 1 job is queued: waiting for robots\\.txt: ${esc(held.origin)}: robots\\.txt returned 503, try 1 of 5 until `),
      );
    });

    test('a port nothing listens on: its pages are broken links within their own attempts, the cause first', async () => {
      const dead = await deadPort(ip(1));
      const refused = `http://${ip(1)}:${dead}/refused`;
      // A seed of its own, on an address nothing listens on at all.
      const lone = `http://${ip(2)}:${await deadPort(ip(2))}/`;
      const site = await host(ip(1), { '/robots.txt': text(''), '/': page([refused, '/a1']), '/a1': page([]) });
      // Five reads of robots.txt a minute apart would not end within the run's 30 s.
      const cr = await crawlerOn(engine, { settings: { robotsRetryMs: 60_000 } });
      const crawl = await cr.run({ seeds: [site.url('/'), lone], scope: 'host' });
      assert.equal(crawl.counts.done, 2);
      assert.equal(crawl.counts.error, 2);
      for (const [url, at] of [
        [refused, `${ip(1)}:${dead}`],
        [lone, new URL(lone).host],
      ]) {
        const j = await cr.byUrl(crawl.id, url);
        assert.equal(j.job.state, 'error');
        assert.equal(j.job.lastError, `connect ECONNREFUSED ${at} (ECONNREFUSED)`);
        assert.equal(failureReason(j.job.lastError), 'ECONNREFUSED');
        // The page's own retries (3 attempts, the queue's backoff), not waits for robots.txt.
        assert.equal(j.job.attempts, 3);
        assert.equal(j.job.deferrals, 0);
      }
      const broken = await cr.crawls.pages(crawl.id, { status: 'error', limit: 10 });
      assert.deepEqual(
        broken.pages.map((p) => [p.url, p.error]).sort(),
        [
          [lone, `connect ECONNREFUSED ${new URL(lone).host} (ECONNREFUSED)`],
          [refused, `connect ECONNREFUSED ${ip(1)}:${dead} (ECONNREFUSED)`],
        ].sort(),
      );
    });
  });
});

test('the reads in a row of an unreadable robots.txt outlive a restart: 5 in all, not 5 more', async () => {
  const a = await host('127.0.0.209', { '/robots.txt': status(503), '/': page([]) });
  const first = crawler();
  const { crawlId } = await first.crawls.start({ seeds: [a.url('/')] });
  await eventually('a second read', () => (a.hits.get('/robots.txt') ?? 0) >= 2);
  await first.stop();
  assert.ok(a.hits.get('/robots.txt')! < MAX_ROBOTS_TRIES);
  const second = crawler({ db: first.db });
  const done = await eventually('the crawl finished', async () => (await second.crawls.get(crawlId)).state === 'finished', 20_000);
  assert.ok(done);
  assert.equal(a.hits.get('/robots.txt'), MAX_ROBOTS_TRIES);
  const home = await second.byUrl(crawlId, a.url('/'));
  assert.equal(home.job.state, 'error');
  assert.equal(home.job.lastError, `robots.txt returned 503 (read ${MAX_ROBOTS_TRIES} times)`);
  assert.equal(a.hits.get('/') ?? 0, 0);
});
