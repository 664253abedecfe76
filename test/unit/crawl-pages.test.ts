/**
 * Page records and the link graph against a site whose truth is known: broken links linked from
 * known pages with known texts, a redirect, a page linked from 150 pages, nofollow, out-of-scope
 * and robots.txt-disallowed links. The report, crawl/page, crawl/pages and crawl/links must say
 * exactly that, on both engines.
 */
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PgQueue } from '../../server/src/core/pg/engine';
import { searchPatterns, writeRecords, type PageWrite } from '../../server/src/crawl/pages';
import { PG_CRAWL_COMPONENT, PgCrawlStore } from '../../server/src/crawl/pg-store';
import type { CrawlService } from '../../server/src/crawl/service';
import { crawlerOn } from './helpers/crawler';
import { assertRecordsRodeOnAcks } from './helpers/acked-records';
import { ENGINES } from './helpers/engines';
import { pgDatabase } from './helpers/pg';
import { startHost, status, text, type Route, type TestHost } from './helpers/testsite';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

function html(body: string, head = ''): Route {
  return (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html lang="en"><head>${head}</head><body>${body}</body></html>`);
  };
}
const a = (href: string, label: string, rel = '') => `<a href="${href}"${rel ? ` rel="${rel}"` : ''}>${label}</a>`;

const POPULAR_FROM = 150;

async function site(): Promise<{ main: TestHost; other: TestHost }> {
  const other = await startHost('127.0.0.3', { '/': html('elsewhere') });
  const routes: Record<string, Route> = {
    '/robots.txt': text('User-agent: *\nDisallow: /private\n'),
    '/': html(
      [
        a('/a', 'Page A'),
        a('/b', 'Page  B\n'),
        a('/missing', 'Missing one'),
        a('/old', 'Old page'),
        a(`${other.origin}/`, 'Elsewhere'),
        a('/nf', 'No follow', 'nofollow'),
        a('/hub', 'Hub'),
        a('/private', 'Private'),
      ].join(''),
      '<title>Home</title><meta name="description" content="The home page"><link rel="canonical" href="/">',
    ),
    '/a': html([a('/missing', 'Broken from A'), a('/', 'Home'), a('/b', 'B again')].join(''), '<title>A</title><meta name="robots" content="noindex">'),
    '/b': html(
      [
        a('/gone', 'Server error'),
        a('/a', 'A again'),
        a('/removed', 'Removed'),
        a('/loop1', 'Loop'),
        a(`${other.origin}/${'x'.repeat(3000)}`, 'Long'),
        a('/nul', 'Nul'),
      ].join(''),
      '<title>B</title>',
    ),
    '/loop1': status(301, { location: '/loop2' }),
    '/loop2': status(301, { location: '/loop1' }),
    // A NUL in a title: PostgreSQL stores no NUL in text, and one such record must not stop the others.
    '/nul': html('nul', '<title>a\0b</title>'),
    '/old': status(301, { location: '/new' }),
    '/new': html('new', '<title>New</title>'),
    '/missing': status(404),
    '/gone': status(500),
    '/removed': status(410),
    '/nf': html('never fetched'),
    '/hub': html(Array.from({ length: POPULAR_FROM }, (_, i) => a(`/p/${i}`, `P${i}`)).join(''), '<title>Hub</title>'),
    '/popular': html('popular', '<title>Popular</title>'),
  };
  for (let i = 0; i < POPULAR_FROM; i++) routes[`/p/${i}`] = html(a('/popular', 'Popular') + a('/hub', 'Hub'), `<title>P${i}</title>`);
  const main = await startHost('127.0.0.2', routes);
  hosts.push(main, other);
  return { main, other };
}

for (const engine of ENGINES) {
  // One crawl, looked at from every side: subtests of a test that owns the crawler (and stops it).
  test(`page records and links (${engine.name})`, async (t) => {
    const { main, other } = await site();
    const u = (p: string) => main.url(p);
    const c = await crawlerOn(engine, { settings: { hostBackoffBaseMs: 10, hostBackoffMaxMs: 20 }, config: { maxAttempts: 2 } });
    const crawls: CrawlService = c.crawls;
    const crawlId = (await c.run({ seeds: [u('/')] }, 60_000)).id;

    await t.test('the report: statuses, broken links with their referrers, the redirect', async () => {
      const r = await crawls.report(crawlId);
      const fetched200 = 7 + POPULAR_FROM; // /, /a, /b, /new, /hub, /popular, /nul and the p pages
      assert.deepEqual(r.byStatus, { 200: fetched200, 301: 3, 404: 1, 410: 1, 500: 1, skipped: 1 });
      assert.equal(r.pages, fetched200 + 7);
      // Referrers come in url id order, which is the order met on SQLite and a hash's within a batch on PostgreSQL.
      for (const b of r.brokenLinks) b.referrers.sort((x, y) => (x.url < y.url ? -1 : 1));
      assert.deepEqual(
        r.brokenLinks,
        [
          {
            url: u('/missing'),
            status: 404,
            error: 'HTTP 404',
            referrerCount: 2,
            referrers: [
              { url: u('/'), text: 'Missing one' },
              { url: u('/a'), text: 'Broken from A' },
            ].sort((x, y) => (x.url < y.url ? -1 : 1)),
            foundOn: u('/'),
          },
          {
            url: u('/gone'),
            status: 500,
            error: r.brokenLinks[1]?.error ?? '',
            referrerCount: 1,
            referrers: [{ url: u('/b'), text: 'Server error' }],
            foundOn: u('/b'),
          },
          { url: u('/removed'), status: 410, error: 'HTTP 410', referrerCount: 1, referrers: [{ url: u('/b'), text: 'Removed' }], foundOn: u('/b') },
          // The loop ends in a failure on its second hop, reached by a redirect, not a link: found on the hop before.
          { url: u('/loop2'), status: 301, error: r.brokenLinks[3]?.error ?? '', referrerCount: 0, referrers: [], foundOn: u('/loop1') },
        ].map((b) => ({ ...b, referrers: b.referrers })),
      );
      assert.match(r.brokenLinks[1].error ?? '', /500/);
      assert.match(r.brokenLinks[3].error ?? '', /^redirect loop/);
      assert.equal(r.brokenCount, 4);
      assert.deepEqual(r.redirects, [
        { url: u('/old'), finalUrl: u('/new'), status: 301 },
        { url: u('/loop1'), finalUrl: null, status: 301 },
        { url: u('/loop2'), finalUrl: null, status: 301 },
      ]);
      assert.equal(r.redirectCount, 3);
      assert.deepEqual(r.byContentType, { 'text/html': fetched200, none: 6 });
      assert.deepEqual(
        r.byHost.map((h) => [h.host, h.pages, h.errors]),
        [['127.0.0.2', fetched200 + 7, 4]],
      );
      assert.equal((await crawls.page(crawlId, u('/nul'))).page.title, 'ab');
      assert.equal(r.missingTitles, 0);
      assert.equal(r.slowest.length, 10);
      assert.equal(r.largest[0].url, u('/hub'));
      assert.equal(other.hits.size, 0, 'out of scope: never fetched');
    });

    await t.test('crawl/page: a page linked from 150 pages, found on one of them', async () => {
      const p = await crawls.page(crawlId, u('/popular'));
      assert.equal(p.inlinkCount, POPULAR_FROM);
      assert.equal(p.page.inlinks, POPULAR_FROM);
      assert.equal(new Set(p.inlinks.map((l) => l.url)).size, POPULAR_FROM);
      assert.ok(p.inlinks.every((l) => l.text === 'Popular' && /\/p\/\d+$/.test(l.url)));
      assert.match(p.page.foundOn ?? '', /\/p\/\d+$/);
      assert.equal(p.page.linkText, 'Popular');
      assert.equal(p.page.depth, 3);
      assert.equal(p.page.title, 'Popular');
    });

    await t.test('crawl/page: where the home page links go, and what became of them', async () => {
      const p = await crawls.page(crawlId, u('/'));
      assert.equal(p.page.foundOn, null);
      assert.equal(p.page.description, 'The home page');
      assert.equal(p.page.canonical, u('/'));
      assert.equal(p.page.lang, 'en');
      assert.equal(p.page.outlinks, 8);
      const fate = Object.fromEntries(p.outlinks.map((l) => [l.url, [l.text, l.followed, l.reason]]));
      assert.deepEqual(fate, {
        [u('/a')]: ['Page A', true, null],
        [u('/b')]: ['Page B', true, null],
        [u('/missing')]: ['Missing one', true, null],
        [u('/old')]: ['Old page', true, null],
        [`${other.origin}/`]: ['Elsewhere', false, 'out of scope'],
        [u('/nf')]: ['No follow', false, 'nofollow'],
        [u('/hub')]: ['Hub', true, null],
        [u('/private')]: ['Private', false, 'robots.txt'],
      });
      assert.equal((await crawls.page(crawlId, u('/a'))).page.robots, 'noindex');
    });

    await t.test('a redirect: its record names the end of the chain; the target was found on it', async () => {
      const old = await crawls.page(crawlId, u('/old'));
      assert.equal(old.page.status, 301);
      assert.equal(old.page.finalUrl, u('/new'));
      assert.deepEqual(old.page.redirects, [u('/new')]);
      const target = await crawls.page(crawlId, u('/new'));
      assert.equal(target.page.foundOn, u('/old'));
      assert.equal(target.page.finalUrl, u('/new'));
      assert.deepEqual(target.page.redirects, []);
    });

    await t.test('a page skipped by robots.txt is recorded as skipped, not broken', async () => {
      const p = await crawls.page(crawlId, u('/private'));
      assert.equal(p.page.skipped, true);
      assert.equal(p.page.status, null);
      assert.match(p.page.error ?? '', /robots\.txt/);
      // Found on the page whose link enqueued it, already skipped.
      assert.equal(p.page.foundOn, u('/'));
      assert.equal(p.page.linkText, 'Private');
      assert.equal(main.hits.get('/private'), undefined);
    });

    await t.test('crawl/pages pages through every record once, and filters by status and text', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await crawls.pages(crawlId, { cursor, limit: 37 });
        seen.push(...r.pages.map((p) => p.url));
        cursor = r.nextCursor;
      } while (cursor !== null);
      assert.equal(seen.length, new Set(seen).size);
      assert.equal(seen.length, 7 + POPULAR_FROM + 7);
      const walk = async (status: '2xx' | '3xx' | '4xx' | '5xx' | 'error' | 'failed' | number, limit: number) => {
        const urls: string[] = [];
        let next: string | null = null;
        do {
          const r = await crawls.pages(crawlId, { cursor: next, limit, status });
          urls.push(...r.pages.map((p) => p.url));
          next = r.nextCursor;
        } while (next !== null);
        return urls;
      };
      const ok = await walk('2xx', 7);
      assert.equal(ok.length, 7 + POPULAR_FROM);
      assert.equal(new Set(ok).size, ok.length);
      // A range of several statuses walked across the boundary between them, a page of 1 at a time.
      assert.deepEqual(await walk('4xx', 1), [u('/missing'), u('/removed')]);
      assert.deepEqual(await walk('5xx', 1), [u('/gone')]);
      const fiveHundreds = await crawls.pages(crawlId, { status: 500 });
      assert.deepEqual(
        fiveHundreds.pages.map((p) => p.url),
        [u('/gone')],
      );
      assert.deepEqual(
        (await crawls.pages(crawlId, { status: 404 })).pages.map((p) => p.url),
        [u('/missing')],
      );
      assert.deepEqual(
        (await crawls.pages(crawlId, { status: 500 })).pages.map((p) => p.url),
        [u('/gone')],
      );
      assert.deepEqual(
        (await crawls.pages(crawlId, { status: '3xx' })).pages.map((p) => p.url),
        [u('/old'), u('/loop1'), u('/loop2')],
      );
      assert.deepEqual((await crawls.pages(crawlId, { status: 'error' })).pages, []);
      // Every page that failed, whatever its status: the report's broken pages, the loop's 301 among them.
      const failed = await walk('failed', 1);
      assert.deepEqual([...failed].sort(), (await crawls.report(crawlId)).brokenLinks.map((b) => b.url).sort());
      assert.ok(failed.includes(u('/loop2')) && failed.includes(u('/missing')), failed.join(' '));
      assert.deepEqual(
        (await crawls.pages(crawlId, { search: 'POPULAR' })).pages.map((p) => p.url),
        [u('/popular')],
      );
      assert.deepEqual((await crawls.pages(crawlId, { search: '100%_' })).pages, []);
      await assert.rejects(crawls.pages(crawlId, { cursor: 'nope' }), /cursor/);
      await assert.rejects(crawls.pages('c_unknown', {}), /no crawl/);
    });

    await t.test('crawl/links: every edge once, and the links to one URL', async () => {
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await crawls.links(crawlId, { cursor, limit: 100 });
        all.push(...r.links.map((l) => `${l.from} ${l.to}`));
        cursor = r.nextCursor;
      } while (cursor !== null);
      assert.equal(all.length, new Set(all).size);
      // 8 on /, 3 on /a, 6 on /b, 150 on /hub, 2 on each p page.
      assert.equal(all.length, 8 + 3 + 6 + POPULAR_FROM + 2 * POPULAR_FROM);
      // One link by both ends, found however far down its page's links it is.
      const one = await crawls.links(crawlId, { from: u('/hub'), to: u('/p/149'), limit: 1 });
      assert.deepEqual(
        one.links.map((l) => [l.text, l.followed]),
        [['P149', true]],
      );
      const to = await crawls.links(crawlId, { to: u('/missing'), limit: 1000 });
      assert.deepEqual(to.links.map((l) => [l.from, l.text, l.followed]).sort(), [
        [u('/'), 'Missing one', true],
        [u('/a'), 'Broken from A', true],
      ]);
    });

    await t.test('a job and its page record; a URL found in normalized form', async () => {
      const p = await crawls.page(crawlId, `${main.origin}/b#top`);
      assert.equal(p.page.url, u('/b'));
      assert.ok(p.page.jobId !== null);
      await assert.rejects(crawls.page(crawlId, u('/never')), /no record/);
    });
  });
}

/** A PostgreSQL crawl store on a fresh database, with one crawl, and a record of a page of it to write. */
async function pgStore(crawlId: string) {
  const db = await pgDatabase();
  const queue = await PgQueue.open(db, { components: [PG_CRAWL_COMPONENT] });
  after(() => queue.close());
  const store = new PgCrawlStore(queue.pool);
  await store.insert({ id: crawlId, name: null, seeds: ['http://127.0.0.9/'], options: {} as never, now: Date.now() });
  const write = (url: string, fetchMs: number, over: Partial<PageWrite> = {}): PageWrite => ({
    crawlId,
    url,
    host: '127.0.0.9',
    jobId: null,
    depth: 0,
    status: 200,
    error: null,
    skipped: false,
    redirectTo: null,
    via: [],
    contentType: 'text/html',
    bytes: 10,
    fetchMs,
    fetchedAt: Date.now(),
    title: 't',
    description: null,
    canonical: null,
    robots: null,
    lang: null,
    sha256: null,
    data: null,
    lastmod: null,
    links: [{ url: 'http://127.0.0.9/x', text: 'x', reason: null }],
    ...over,
  });
  return { queue, store, write };
}

/** Leases a job for each URL on the store's queue, for `worker`. */
async function leased(queue: PgQueue, crawlId: string, worker: string, urls: string[]) {
  await queue.enqueue(urls.map((url) => ({ kind: 'crawl', url, key: '127.0.0.9', dedupeKey: url, crawlId })));
  const jobs = await queue.lease(worker, urls.length, { ttlMs: 60_000, defaultLimit: 100 });
  return new Map(jobs.map((j) => [j.url, j]));
}

test('records ride on the acknowledgements that count (postgres): none for a lease lost or a deferral, one refused for its data alone', async () => {
  const crawlId = 'c_acked';
  const { queue, store, write } = await pgStore(crawlId);
  const logged: string[] = [];
  queue.setAckHook(store.pages.ackHook((_level, msg) => logged.push(msg)));
  const u = (p: string) => `http://127.0.0.9${p}`;
  const jobs = await leased(queue, crawlId, 'w', ['/', '/bad', '/odd', '/next', '/later'].map(u));
  const ack = (w: PageWrite, type: 'done' | 'defer' = 'done') => ({
    id: jobs.get(w.url)!.id,
    token: jobs.get(w.url)!.leaseToken,
    outcome: type === 'done' ? { type, attached: w } : { type, reason: 'Retry-After', delayMs: 1000, attached: w },
  });
  const results = await queue.ack('w', [
    ack(write(u('/'), 1, { links: [{ url: u('/next'), text: 'Next', reason: null }] })),
    // 3e9 ms does not fit the integer column: SQLSTATE 22003, a data error.
    ack(write(u('/bad'), 3e9, { links: [{ url: u('/next'), text: 'From bad', reason: null }] })),
    // A record that makes the writer itself throw, not the database.
    ack(write(u('/odd'), 2, { via: null as never })),
    ack(write(u('/next'), 3, { depth: 1, links: [{ url: u('/'), text: 'Home', reason: null }] })),
    ack(write(u('/later'), 4), 'defer'),
  ]);
  await assertRecordsRodeOnAcks(results, store.pages, crawlId, logged);
  assert.ok(logged.some((m) => /\/bad could not be stored, and is left out: .*out of range/.test(m)));

  // A lease lost: its record is not written, and neither are URLs only it named.
  const lost = (await leased(queue, crawlId, 'gone', [u('/lost')])).get(u('/lost'))!;
  const kept = (await leased(queue, crawlId, 'w', [u('/kept')])).get(u('/kept'))!;
  await queue.reclaimWorkers(['gone'], 'worker gone');
  const mixed = await queue.ack('w', [
    {
      id: lost.id,
      token: lost.leaseToken,
      outcome: { type: 'done', attached: write(u('/lost'), 5, { links: [{ url: u('/only-lost'), text: 'x', reason: null }] }) },
    },
    { id: kept.id, token: kept.leaseToken, outcome: { type: 'done', attached: write(u('/kept'), 6) } },
  ]);
  assert.deepEqual(
    mixed.map((r) => r.ok),
    [false, true],
  );
  assert.equal(await store.pages.page(crawlId, u('/lost')), null, 'an attempt whose lease was lost leaves no record');
  assert.equal((await store.pages.page(crawlId, u('/kept')))?.fetchMs, 6);
  const { rows } = await queue.pool.query(`SELECT url FROM crawl_urls WHERE url IN ($1, $2)`, [u('/lost'), u('/only-lost')]);
  assert.deepEqual(rows, [], 'nor any URL only it named');
});

test('a record the database cannot write now fails its acknowledgement with it (postgres); tried again, both go through and no id is cached wrong', async () => {
  const crawlId = 'c_full';
  const { queue, store, write } = await pgStore(crawlId);
  queue.setAckHook(store.pages.ackHook(() => assert.fail('nothing is refused for its data')));
  await queue.pool.query(`
    CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER refuse BEFORE INSERT ON pages FOR EACH ROW EXECUTE FUNCTION refuse();`);
  const home = 'http://127.0.0.9/';
  const job = (await leased(queue, crawlId, 'w', [home])).get(home)!;
  const acks = [
    {
      id: job.id,
      token: job.leaseToken,
      outcome: { type: 'done' as const, attached: write(home, 1, { links: [{ url: 'http://127.0.0.9/new', text: 'New', reason: null }] }) },
    },
  ];
  await assert.rejects(queue.ack('w', acks), /No space left/);
  const { rows } = await queue.pool.query(`SELECT state FROM jobs WHERE id = $1`, [job.id]);
  assert.equal(rows[0].state, 'in_progress', 'the acknowledgement was not written either');
  await queue.pool.query('DROP TRIGGER refuse ON pages');
  assert.equal((await queue.ack('w', acks))[0].ok, true, 'the lease is still held: the first try changed nothing');
  await store.pages.write([write('http://127.0.0.9/new', 2, { depth: 1, links: null })]);
  assert.equal((await store.pages.page(crawlId, 'http://127.0.0.9/new'))?.foundOn, home);
  const orphans = await queue.pool.query('SELECT count(*)::int AS n FROM links l LEFT JOIN crawl_urls c ON c.id = l.to_id WHERE c.id IS NULL');
  assert.equal(orphans.rows[0].n, 0);
});

test('a record the database refuses for its data costs itself only: the rest of its batch is written (postgres)', async () => {
  const { store, write } = await pgStore('c_bad');
  const logged: string[] = [];
  // 3e9 ms does not fit the integer column: SQLSTATE 22003, a data error.
  await writeRecords(store.pages, [write('http://127.0.0.9/a', 5), write('http://127.0.0.9/bad', 3e9), write('http://127.0.0.9/c', 7)], false, (_level, msg) =>
    logged.push(msg),
  );
  assert.equal((await store.pages.page('c_bad', 'http://127.0.0.9/a'))?.fetchMs, 5);
  assert.equal((await store.pages.page('c_bad', 'http://127.0.0.9/c'))?.fetchMs, 7);
  assert.equal(await store.pages.page('c_bad', 'http://127.0.0.9/bad'), null);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^the record of http:\/\/127\.0\.0\.9\/bad could not be stored, and is left out: /);
});

test('a record written again replaces the last in the report counts and keeps where it was found; settling leaves it be (postgres)', async () => {
  const { store, write } = await pgStore('c_again');
  const home = 'http://127.0.0.9/';
  const page = 'http://127.0.0.9/p';
  await store.pages.write([write(home, 3, { links: [{ url: page, text: 'To P', reason: null }] })]);
  // Linked from the home page, fetched first with an error, then again with a 200 and no title.
  await store.pages.write([write(page, 40, { depth: 1, status: 503, error: 'HTTP 503', links: null })]);
  await store.pages.write([write(page, 9, { depth: 1, title: null, links: [{ url: home, text: '', reason: null }] })]);
  // A lost worker's settle writes only records that are missing.
  await store.pages.write([write(page, 77, { depth: 1 }), write('http://127.0.0.9/q', 5, { depth: 1, links: null })], true);

  const record = await store.pages.page('c_again', page);
  assert.equal(record?.status, 200);
  assert.equal(record?.fetchMs, 9);
  assert.equal(record?.foundOn, home);
  assert.equal(record?.linkText, 'To P');
  assert.equal((await store.pages.page('c_again', 'http://127.0.0.9/q'))?.fetchMs, 5);
  const { groups } = await store.pages.reportCounts('c_again');
  assert.deepEqual(
    groups.map((g) => [g.status, g.pages, g.failed, g.fetchMsSum, g.fetchMsCount, g.missingTitles]),
    [['200', 3, 0, 3 + 9 + 5, 3, 1]],
  );
  const fromP = await store.pages.links('c_again', { from: page, after: null, limit: 10 });
  assert.deepEqual(
    fromP.map((l) => [l.to, l.text]),
    [[home, '']],
  );
});

test('the text of a record with half a character is stored with U+FFFD in its place, as a text parameter had it (postgres)', async () => {
  const { store, write } = await pgStore('c_half');
  const url = 'http://127.0.0.9/h';
  await store.pages.write([write(url, 1, { title: 'a\uD83Db', links: [{ url: 'http://127.0.0.9/y', text: 'c\uDE00', reason: null }] })]);
  assert.equal((await store.pages.page('c_half', url))?.title, 'a\uFFFDb');
  const links = await store.pages.links('c_half', { from: url, after: null, limit: 10 });
  assert.deepEqual(
    links.map((l) => l.text),
    ['c\uFFFD'],
  );
});

test('a record holding a NUL, which jsonb refuses, is written with U+FFFD in its place and holds back no acknowledgement (postgres)', async () => {
  const crawlId = 'c_nul';
  const { queue, store, write } = await pgStore(crawlId);
  queue.setAckHook(store.pages.ackHook(() => assert.fail('nothing is refused')));
  const u = (p: string) => `http://127.0.0.9${p}`;
  const jobs = await leased(queue, crawlId, 'w', [u('/nul'), u('/fine')]);
  const ack = (w: PageWrite) => ({ id: jobs.get(w.url)!.id, token: jobs.get(w.url)!.leaseToken, outcome: { type: 'done' as const, attached: w } });
  const results = await queue.ack('w', [
    ack(write(u('/nul'), 1, { title: 'a\u0000b', links: [{ url: u('/x'), text: 'c\u0000d', reason: null }] })),
    ack(write(u('/fine'), 2)),
  ]);
  assert.deepEqual(
    results.map((r) => r.ok),
    [true, true],
  );
  assert.equal((await store.pages.page(crawlId, u('/nul')))?.title, 'a\uFFFDb');
  assert.deepEqual(
    (await store.pages.links(crawlId, { from: u('/nul'), after: null, limit: 10 })).map((l) => l.text),
    ['c\uFFFDd'],
  );
  assert.ok(await store.pages.page(crawlId, u('/fine')));
});

test('a search is matched as given and, with its non-ASCII characters percent-encoded, against URLs as they are kept', () => {
  assert.deepEqual(searchPatterns('POPULAR'), ['%POPULAR%', undefined]);
  assert.deepEqual(searchPatterns('100%_'), ['%100\\%\\_%', undefined], 'LIKE wildcards searched as themselves');
  assert.deepEqual(searchPatterns('/päge'), ['%/päge%', '%/p\\%C3\\%A4ge%'], 'titles hold the text, URLs its encoding (its % searched as itself)');
  assert.equal(searchPatterns('a\ud800b')[1], '%a\\%EF\\%BF\\%BDb%', 'half a surrogate pair (JSON may carry one) encoded as U+FFFD, not a throw');
  assert.deepEqual(searchPatterns('é_%'), ['%é\\_\\%%', '%\\%C3\\%A9\\_\\%%'], "the encoding's % searched as itself");
});
