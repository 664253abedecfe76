/**
 * Sitemaps: a crawl with `sitemaps` reads the seed host's robots.txt for its `Sitemap:` lines and
 * crawls what they name: an index, a gzipped sitemap, a plain one with entities and CDATA, one over
 * the protocol's 50,000 URLs. Their URLs join at depth 0 under the crawl's scope and robots.txt,
 * each with its `<lastmod>` in its record, counted apart; on both engines. A host with no
 * `Sitemap:` line is read at /sitemap.xml.
 */
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import { DEFAULT_MAX_LINKS } from '../../server/src/crawl/links';
import { parseSitemap, SITEMAP_MAX_URLS } from '../../server/src/crawl/sitemap';
import { crawlerOn } from './helpers/crawler';
import { crawlctl, startDaemon } from './helpers/daemon-proc';
import { ENGINES } from './helpers/engines';
import { startHost, text, type Route, type TestHost } from './helpers/testsite';
import type { Crawl } from '../../server/src/protocol';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

const xml =
  (type: string, body: string | Buffer): Route =>
  (_req, res) => {
    res.setHeader('content-type', type);
    res.end(body);
  };
const html = (links: string[] = []) => xml('text/html', `<html><body>${links.map((l) => `<a href="${l}">x</a>`).join('')}</body></html>`);
const urlset = (entries: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${entries}</urlset>`;

test('a sitemap is read as the protocol says: entities, CDATA, prefixes, lastmod, a text list, the 50,000-URL limit', async () => {
  const map = await parseSitemap(
    urlset(
      '<url><loc> https://a.test/x?a=1&amp;b=2 </loc><lastmod>2024-05-06</lastmod></url><url><loc><![CDATA[https://a.test/y]]></loc></url><url><lastmod>x</lastmod></url>',
    ),
  );
  assert.deepEqual(map, {
    kind: 'urlset',
    entries: [
      { loc: 'https://a.test/x?a=1&b=2', lastmod: '2024-05-06' },
      { loc: 'https://a.test/y', lastmod: null },
    ],
    cut: 0,
  });
  const index = await parseSitemap(
    '<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9"><sm:sitemap><sm:loc>https://a.test/s1.xml</sm:loc></sm:sitemap></sm:sitemapindex>',
  );
  assert.deepEqual(index, { kind: 'index', entries: [{ loc: 'https://a.test/s1.xml', lastmod: null }], cut: 0 });
  assert.deepEqual(await parseSitemap('https://a.test/1\r\n\nhttps://a.test/2\n'), {
    kind: 'text',
    entries: [
      { loc: 'https://a.test/1', lastmod: null },
      { loc: 'https://a.test/2', lastmod: null },
    ],
    cut: 0,
  });
  const over = await parseSitemap(urlset('<url><loc>https://a.test/p</loc></url>'.repeat(SITEMAP_MAX_URLS + 3)));
  assert.equal(over.entries.length, SITEMAP_MAX_URLS);
  assert.equal(over.cut, 3);
  // An image sitemap's <image:loc> is the image's, not the page's; a line or a <loc> that is no absolute URL is no entry.
  const images = await parseSitemap(
    urlset(
      '<url><loc>https://a.test/a</loc><image:image><image:loc>https://a.test/i.jpg</image:loc></image:image><lastmod>2020-01-01</lastmod></url><url><loc>/relative</loc></url>',
    ),
  );
  assert.deepEqual(images.entries, [{ loc: 'https://a.test/a', lastmod: '2020-01-01' }]);
  assert.deepEqual((await parseSitemap('Not found\n{"error": 1}\nhttps://a.test/ok\n')).entries, [{ loc: 'https://a.test/ok', lastmod: null }]);
  // Nesting costs nothing: a million unclosed elements read in linear time, no entry made up.
  assert.deepEqual(await parseSitemap(`<urlset>${'<x>'.repeat(1_000_000)}`), { kind: 'urlset', entries: [], cut: 0 });
});

for (const engine of ENGINES) {
  test(`a crawl with sitemaps crawls what the seed host's sitemaps name, each URL's lastmod in its record (${engine.name})`, async () => {
    const other = await startHost('127.0.0.51', {});
    let site!: TestHost;
    const u = (p: string) => site.url(p);
    const routes: Record<string, Route> = {
      '/': html(['/p/1']),
      '/robots.txt': (req, res, hit) => text(`User-agent: *\nDisallow: /private\nSitemap: ${u('/sitemap_index.xml')}\n`)(req, res, hit),
      '/sitemap_index.xml': (req, res, hit) =>
        xml(
          'application/xml',
          `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${['/sitemap-a.xml.gz', '/sitemap-b.xml', '/sitemap-big.xml', '/nested-index.xml']
            .map((p) => `<sitemap><loc>${u(p)}</loc></sitemap>`)
            .join('')}</sitemapindex>`,
        )(req, res, hit),
      '/sitemap-a.xml.gz': (req, res, hit) =>
        xml(
          'application/gzip',
          zlib.gzipSync(
            urlset(`<url><loc>${u('/p/1')}</loc></url><url><loc>${u('/p/2')}</loc><lastmod>2024-01-02</lastmod></url><url><loc>${u('/private/x')}</loc></url>`),
          ),
        )(req, res, hit),
      '/sitemap-b.xml': (req, res, hit) =>
        xml(
          'text/xml',
          urlset(`<url><loc>${u('/p/3')}?a=1&amp;b=2</loc><lastmod>2025-03-04T05:06:07+00:00</lastmod></url><url><loc><![CDATA[${u('/p/4')}]]></loc></url>`),
        )(req, res, hit),
      // Out of the crawl's scope (another host), and one past the limit.
      '/sitemap-big.xml': xml(
        'application/xml',
        urlset(Array.from({ length: SITEMAP_MAX_URLS + 1 }, (_, i) => `<url><loc>${other.url(`/o/${i}`)}</loc></url>`).join('')),
      ),
      // An index an index names: not read (the protocol nests none; nested, they never ended).
      '/nested-index.xml': (req, res, hit) =>
        xml(
          'application/xml',
          `<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>${u('/deeper.xml')}</loc></sitemap></sitemapindex>`,
        )(req, res, hit),
      '/p/1': html(),
      '/p/2': html(),
      '/p/3?a=1&b=2': html(),
      // Found on a sitemap, so fetched after it: its link to that sitemap is a page to crawl all the same.
      '/p/4': html(['/sitemap-b.xml']),
    };
    site = await startHost('127.0.0.50', routes);
    hosts.push(site, other);
    const c = await crawlerOn(engine);
    const crawl = await c.run({ seeds: [u('/')], sitemaps: true }, 60_000);
    assert.equal(crawl.options.sitemaps, true);

    const byUrl = new Map((await c.crawls.pages(crawl.id, { limit: 1000 })).pages.map((p) => [p.url, p]));
    for (const p of ['/p/1', '/p/2', '/p/3?a=1&b=2', '/p/4']) assert.equal(byUrl.get(u(p))?.status, 200, `${p} fetched`);
    assert.equal(byUrl.get(u('/p/2'))?.lastmod, '2024-01-02');
    assert.equal(byUrl.get(u('/p/3?a=1&b=2'))?.lastmod, '2025-03-04T05:06:07+00:00');
    assert.equal(byUrl.get(u('/p/4'))?.lastmod, null);
    assert.equal(byUrl.get(u('/p/2'))?.depth, 0, "a sitemap's URL joins at depth 0");
    assert.equal(byUrl.get(u('/p/2'))?.foundOn, u('/sitemap-a.xml.gz'), 'found on its sitemap');
    assert.equal(byUrl.get(u('/private/x'))?.skipped, true, 'robots.txt still applies');
    assert.equal(other.hits.size, 0, 'out of scope: never fetched');
    assert.equal(site.hits.get('/sitemap-b.xml'), 2, 'read as a sitemap, then fetched as the page a link names');
    assert.equal(byUrl.get(u('/sitemap-big.xml'))?.outlinks, DEFAULT_MAX_LINKS, "its links recorded as a page's are, up to 20,000");
    assert.ok(
      c.logs.some((l) => /names 1 URL\(s\) past the protocol's 50,000/.test(l)),
      c.logs.join('\n'),
    );
    // robots.txt's record links the sitemaps it names; the index's, its sitemaps.
    assert.equal(byUrl.get(u('/robots.txt'))?.outlinks, 1);
    assert.equal(byUrl.get(u('/sitemap_index.xml'))?.outlinks, 4);
    assert.equal(byUrl.get(u('/nested-index.xml'))?.skipped, true);
    assert.match(byUrl.get(u('/nested-index.xml'))?.error ?? '', /a sitemap index named by a sitemap index: not read/);
    assert.equal(site.hits.get('/deeper.xml'), undefined, 'what it names is not fetched');
    // Counted apart: the URLs sitemaps queued (/p/1 maybe first by the seed's link, /private/x queued skipped).
    const rec = await c.crawls.get(crawl.id);
    assert.ok(rec.fromSitemaps >= 4 && rec.fromSitemaps <= 5, `fromSitemaps ${rec.fromSitemaps}`);
    assert.equal(rec.dropped['(from sitemaps)'], undefined, 'not among the dropped links');
    assert.ok((rec.dropped['out of scope'] ?? 0) >= SITEMAP_MAX_URLS);
  });
}

test("crawlctl: --sitemaps, the summary counts what sitemaps queued, `job` shows a page's lastmod", async () => {
  const site: TestHost = await startHost('127.0.0.53', {
    '/': html(),
    '/robots.txt': (req, res, hit) => text(`Sitemap: ${site.url('/map.xml')}\n`)(req, res, hit),
    '/map.xml': (req, res, hit) => xml('application/xml', urlset(`<url><loc>${site.url('/dated')}</loc><lastmod>2023-09-10</lastmod></url>`))(req, res, hit),
    '/dated': html(),
  });
  hosts.push(site);
  const daemon = await startDaemon();
  after(() => daemon.stop());
  const at = ['--state-dir', daemon.stateDir];
  const r = await crawlctl(['crawl', site.url('/'), '--sitemaps', '--wait', ...at], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}from sitemaps: 1 URL in scope$/m);
  const crawlId = /^Crawl (c_\w+)/m.exec(r.stdout)![1];
  const page = JSON.parse((await crawlctl(['export', crawlId, ...at])).stdout.split('\n').find((l) => l.includes('/dated'))!) as {
    jobId: number;
    lastmod: string;
  };
  assert.equal(page.lastmod, '2023-09-10');
  assert.match((await crawlctl(['job', String(page.jobId), ...at])).stdout, /^lastmod +2023-09-10$/m);
});

test('robots.txt that redirects still names its sitemaps; a missing sitemap breaks nothing; sitemap files count toward max pages but are never refused by it, nor by patterns', async () => {
  const site: TestHost = await startHost('127.0.0.54', {
    '/': html(),
    '/robots.txt': (_req, res) => {
      res.writeHead(301, { location: '/real-robots.txt' });
      res.end();
    },
    '/real-robots.txt': (req, res, hit) => text(`Sitemap: ${site.url('/index.xml')}\nSitemap: ${site.url('/gone.xml')}\n`)(req, res, hit),
    '/index.xml': (req, res, hit) =>
      xml('application/xml', `<sitemapindex><sitemap><loc>${site.url('/maps/post-sitemap.xml')}</loc></sitemap></sitemapindex>`)(req, res, hit),
    '/maps/post-sitemap.xml': (req, res, hit) =>
      xml('application/xml', urlset(`<url><loc>${site.url('/docs/a')}</loc></url><url><loc>${site.url('/docs/b')}</loc></url>`))(req, res, hit),
    '/docs/a': html(),
    '/docs/b': html(),
  });
  hosts.push(site);
  const c = await crawlerOn(ENGINES[0]);
  // Only /docs/ pages; max pages 1: the seed takes it, and robots.txt, the index and both sitemaps are read all the same.
  const crawl = await c.run({ seeds: [site.url('/docs/a')], sitemaps: true, include: ['*/docs/*'], maxPages: 1 });
  const rec = await c.crawls.get(crawl.id);
  assert.equal(rec.counts.error, 0, 'a sitemap robots.txt names and that is gone is skipped, not an error');
  assert.equal(site.hits.get('/maps/post-sitemap.xml'), 1, 'read though the include pattern is for pages');
  assert.equal(site.hits.get('/docs/b') ?? 0, 0, "the sitemap's page is past max pages");
  assert.ok((rec.dropped['past max pages'] ?? 0) >= 1, JSON.stringify(rec.dropped));
  const gone = (await c.crawls.pages(crawl.id, { limit: 100 })).pages.find((p) => p.url === site.url('/gone.xml'));
  assert.deepEqual([gone?.skipped, gone?.error], [true, 'no sitemap: HTTP 404']);
});

test('a host whose robots.txt names no sitemap is read at /sitemap.xml; a crawl without sitemaps reads none', async () => {
  const site: TestHost = await startHost('127.0.0.52', {
    '/': html(),
    '/sitemap.xml': (req, res, hit) => xml('application/xml', urlset(`<url><loc>${site.url('/from-map')}</loc></url>`))(req, res, hit),
    '/from-map': html(),
  });
  hosts.push(site);
  const c = await crawlerOn(ENGINES[0]);
  const plain = await c.run({ seeds: [site.url('/')] });
  assert.equal((await c.crawls.get(plain.id)).fromSitemaps, 0);
  assert.equal(site.hits.get('/sitemap.xml') ?? 0, 0, 'no sitemap read unless asked');
  const mapped = await c.run({ seeds: [site.url('/')], sitemaps: true });
  assert.equal(site.hits.get('/sitemap.xml'), 1);
  const pages = (await c.crawls.pages(mapped.id, { limit: 100 })).pages.map((p) => new URL(p.url).pathname).sort();
  assert.deepEqual(pages, ['/', '/from-map', '/robots.txt', '/sitemap.xml']);
});

test('a crawl reads no more sitemaps than its budget, however many robots.txt and indexes name, and says so once', async () => {
  const maps = Array.from({ length: 5 }, (_, i) => `/maps/${i}.xml`);
  const routes: Record<string, Route> = {
    '/': html(),
    '/robots.txt': (req, res, hit) => text(`Sitemap: ${site.url('/index.xml')}\n`)(req, res, hit),
    '/index.xml': (req, res, hit) =>
      xml('application/xml', `<sitemapindex>${maps.map((m) => `<sitemap><loc>${site.url(m)}</loc></sitemap>`).join('')}</sitemapindex>`)(req, res, hit),
  };
  for (const [i, m] of maps.entries()) {
    routes[m] = (req, res, hit) => xml('application/xml', urlset(`<url><loc>${site.url(`/p/${i}`)}</loc></url>`))(req, res, hit);
    routes[`/p/${i}`] = html();
  }
  const site: TestHost = await startHost('127.0.0.55', routes);
  hosts.push(site);
  // Three sitemaps: the index robots.txt names, and two of the five it names.
  const c = await crawlerOn(ENGINES[0], { settings: { maxSitemaps: 3 } });
  await c.run({ seeds: [site.url('/')], sitemaps: true });
  assert.equal(maps.filter((m) => site.hits.has(m)).length, 2);
  assert.equal(c.logs.filter((l) => /name more than the 3 a crawl reads: the rest are not read/.test(l)).length, 1, c.logs.join('\n'));
});

test('crawl --wait --sitemaps whose every page is skipped warns that nothing was fetched: the sitemaps it read are no pages of the site', async () => {
  const site: TestHost = await startHost('127.0.0.56', {
    '/': html(),
    '/robots.txt': (req, res, hit) => text(`User-agent: *\nDisallow: /\nSitemap: ${site.url('/map.xml')}\n`)(req, res, hit),
    '/map.xml': (req, res, hit) => xml('application/xml', urlset(`<url><loc>${site.url('/listed')}</loc></url>`))(req, res, hit),
  });
  hosts.push(site);
  const daemon = await startDaemon();
  after(() => daemon.stop());
  const r = await crawlctl(['crawl', site.url('/'), '--sitemaps', '--wait', '--state-dir', daemon.stateDir], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: no page was fetched, every one was skipped/);
  const crawlId = /^Crawl (c_\w+)/m.exec(r.stdout)![1];
  const { crawls } = JSON.parse((await crawlctl(['crawls', '--json', '--state-dir', daemon.stateDir])).stdout) as { crawls: Crawl[] };
  const crawl = crawls.find((c) => c.crawlId === crawlId)!;
  assert.deepEqual(
    [crawl.counts.done, crawl.counts.skipped, crawl.sitemapsRead, crawl.pages],
    [1, 2, 1, 1],
    'robots.txt read for its sitemaps (done); / and the sitemap, which it disallows too, skipped',
  );
});
