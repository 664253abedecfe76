import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { HELD, type LeasedJob, type NewJob, type Outcome } from '../../server/src/core/types';
import { CRAWL_COMPONENT, createCrawlService, DEFAULT_USER_AGENT, pagesPerSecond, SqliteCrawlStore } from '../../server/src/crawl/crawls';
import { MAX_WAITS_IN_A_ROW, NOT_CRAWLABLE, PAUSED_RECHECK_MS } from '../../server/src/crawl/page';
import { MAX_ROBOTS_TRIES } from '../../server/src/crawl/politeness';
import { VERSION } from '../../server/src/version';
import { crawler, QUICK } from './helpers/crawler';
import { checkInvariants } from './helpers/invariants';
import { page, startHost, status, text, type TestHost } from './helpers/testsite';
import { eventually, tempDir } from './helpers/tmp';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));
async function host(ip: string, routes: Parameters<typeof startHost>[1], delayMs = 0) {
  const h = await startHost(ip, routes, delayMs);
  hosts.push(h);
  return h;
}

describe('crawling a site', () => {
  test('every reachable page in scope once; robots.txt and Crawl-delay obeyed; limits held', async () => {
    const b = await host('127.0.0.3', {
      '/robots.txt': text('User-agent: *\nCrawl-delay: 0.2\n'),
      '/': page(['/b1', '/b2']),
      '/b1': page(['/', '/b2']),
      '/b2': page(['/b1']),
    });
    const c = await host('127.0.0.4', { '/robots.txt': text(''), '/': page([]) });
    const a = await host(
      '127.0.0.2',
      {
        '/robots.txt': text('User-agent: *\nDisallow: /private\nAllow: /private/ok\n'),
        '/': page(['/a1', '/a2', '/a3', '/a4', '/private/x', '/private/ok', b.url('/'), c.url('/'), '#top', 'mailto:x@y.z']),
        '/a1': page(['/a2', '/a3', '/']),
        '/a2': page(['/a1', '/a4', '/a5']),
        '/a3': page(['/a5', '/a1']),
        '/a4': page(['/a5']),
        '/a5': page(['/']),
        '/private/ok': page([]),
      },
      30,
    );
    const cr = crawler({ config: { perHostLimit: 2, maxWorkers: 8 } });
    const crawl = await cr.run({ seeds: [a.url('/'), b.url('/')], scope: 'host' });

    for (const p of ['/', '/a1', '/a2', '/a3', '/a4', '/a5', '/private/ok']) assert.equal(a.hits.get(p), 1, `${p} fetched once`);
    for (const p of ['/', '/b1', '/b2']) assert.equal(b.hits.get(p), 1, `b${p} fetched once`);
    assert.equal(a.hits.get('/robots.txt'), 1, 'robots.txt fetched once per host');
    assert.equal(a.hits.get('/private/x'), undefined, 'a disallowed page is never fetched');
    assert.equal(c.hits.size, 0, 'an out-of-scope host is never contacted');

    const blocked = await cr.byUrl(crawl.id, a.url('/private/x'));
    assert.equal(blocked.job.state, 'skipped');
    assert.equal(blocked.job.lastError, 'robots.txt: Disallow: /private');

    assert.ok(a.maxConcurrent() <= 2, `host a: at most 2 at once (saw ${a.maxConcurrent()})`);
    assert.ok(b.minInterval() >= 180, `host b: Crawl-delay 0.2 s kept (shortest gap ${b.minInterval().toFixed(0)} ms)`);
    assert.equal(crawl.counts.done, 10);
    assert.equal(crawl.counts.skipped, 1);
    assert.equal(crawl.pages, 10);
    assert.ok(crawl.dropped['out of scope'] >= 1, 'the out-of-scope link was counted');
    assert.equal(crawl.dropped[NOT_CRAWLABLE], 1, 'the mailto: link was counted, though no edge keeps it');
    const home = await cr.byUrl(crawl.id, a.url('/'));
    assert.equal(home.job.result!.title, 'page');
    assert.equal(home.job.result!.status, 200);
    assert.equal(home.job.result!.sha256, null, 'no body kept, none named');
    checkInvariants(cr.queue);
  });

  test('redirects: chains, loops, out of scope, onto a known URL', async () => {
    const other = await host('127.0.0.6', { '/': page([]) });
    const a = await host('127.0.0.5', {
      '/': page(['/r1', '/loop1', '/out', '/dup']),
      '/r1': status(302, { location: '/r2' }),
      '/r2': status(301, { location: '/final' }),
      '/final': page([], 'Final'),
      '/loop1': status(302, { location: '/loop2' }),
      '/loop2': status(302, { location: '/loop1' }),
      '/out': status(301, { location: other.url('/') }),
      '/dup': status(301, { location: '/' }),
    });
    const cr = crawler({ settings: { robots: false } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal(a.hits.get('/final'), 1);
    assert.equal(a.hits.get('/'), 1, 'a redirect onto a URL the crawl has is not a second fetch');
    const r1 = await cr.byUrl(crawl.id, a.url('/r1'));
    assert.equal(r1.job.state, 'done');
    assert.equal(r1.job.result!.status, 302);
    assert.equal(r1.job.result!.finalUrl, a.url('/r2'));
    assert.equal((await cr.byUrl(crawl.id, a.url('/final'))).job.result!.title, 'Final');
    const loop2 = await cr.byUrl(crawl.id, a.url('/loop2'));
    assert.equal(loop2.job.state, 'error');
    assert.match(loop2.job.lastError!, /redirect loop: .*loop1 → .*loop2 → .*loop1/);
    const out = await cr.byUrl(crawl.id, a.url('/out'));
    assert.equal(out.job.state, 'skipped');
    assert.match(out.job.lastError!, /host 127\.0\.0\.6 is not a seed host/);
    assert.equal(other.hits.size, 0);
  });

  test('429 with Retry-After waits without spending an attempt; a 503 that recovers is retried', async () => {
    const a = await host('127.0.0.7', {
      '/': page(['/busy', '/flaky']),
      '/busy': (req, res, hit) => (hit === 1 ? status(429, { 'retry-after': '1' }) : page([]))(req, res, hit),
      '/flaky': (req, res, hit) => (hit <= 2 ? status(503) : page([]))(req, res, hit),
    });
    const cr = crawler({ settings: { robots: false }, queue: { maxAttempts: 5, backoff: { baseMs: 50, maxMs: 100 } } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    const busy = await cr.byUrl(crawl.id, a.url('/busy'));
    assert.equal(busy.job.state, 'done');
    assert.equal(busy.job.attempts, 1, 'the 429 did not spend an attempt');
    assert.ok(busy.events.some((e) => e.type === 'deferred' && /Retry-After 1s/.test(e.detail ?? '')));
    const flaky = await cr.byUrl(crawl.id, a.url('/flaky'));
    assert.equal(flaky.job.state, 'done');
    assert.equal(flaky.job.attempts, 3);
    assert.equal(flaky.events.filter((e) => e.type === 'retry').length, 2);
  });

  test('4xx ends in error without a retry; a stalled body and an oversized one end in error', async () => {
    const a = await host('127.0.0.8', {
      '/': page(['/gone', '/stall', '/huge']),
      '/gone': status(410),
      '/stall': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '1000' });
        res.write('<html><body>half');
      },
      '/huge': (_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end('x'.repeat(64 * 1024));
      },
    });
    const cr = crawler({
      settings: { robots: false, bodyTimeoutMs: 300, maxBodyBytes: 16 * 1024 },
      queue: { maxAttempts: 2, backoff: { baseMs: 20, maxMs: 20 } },
    });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    const gone = await cr.byUrl(crawl.id, a.url('/gone'));
    assert.deepEqual([gone.job.state, gone.job.attempts, gone.job.lastError], ['error', 1, 'HTTP 410']);
    const stall = await cr.byUrl(crawl.id, a.url('/stall'));
    assert.equal(stall.job.state, 'error');
    assert.equal(stall.job.attempts, 2, 'a timeout is retried');
    assert.match(stall.job.lastError!, /timeout|Timeout/);
    const huge = await cr.byUrl(crawl.id, a.url('/huge'));
    assert.deepEqual([huge.job.state, huge.job.attempts], ['error', 1]);
    assert.match(huge.job.lastError!, /exceeds the 16384-byte limit/);
    assert.equal(crawl.counts.error, 3);
  });

  test('gzip, a PDF, malformed HTML, and a configurable User-Agent naming the product', async () => {
    let userAgent = '';
    const a = await host('127.0.0.9', {
      '/': (req, res) => {
        userAgent = req.headers['user-agent'] ?? '';
        res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
        res.end(gzipSync('<title>zipped</title><a href="/doc.pdf">pdf</a><a href="/messy">m</a>'));
      },
      '/doc.pdf': text('%PDF-1.4 <a href="/never">', 'application/pdf'),
      '/messy': text('<html><body><a href=/m1>one<a href=\'/m2\'><div><p><a href="/m3" rel="nofollow">3</a><a href="/m4"', 'text/html'),
      '/m1': page([]),
      '/m2': page([]),
      '/m3': page([]),
      '/m4': page([]),
    });
    const cr = crawler({ settings: { robots: false } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal(userAgent, DEFAULT_USER_AGENT);
    assert.match(userAgent, new RegExp(`^CrawlOrchestrator/${VERSION.replace(/\./g, '\\.')} `));
    assert.equal((await cr.byUrl(crawl.id, a.url('/'))).job.result!.title, 'zipped');
    const pdf = await cr.byUrl(crawl.id, a.url('/doc.pdf'));
    assert.equal(pdf.job.result!.contentType, 'application/pdf');
    assert.equal(a.hits.get('/never'), undefined, 'no links are read out of a PDF');
    assert.equal(a.hits.get('/m1'), 1);
    assert.equal(a.hits.get('/m2'), 1);
    assert.equal(a.hits.get('/m3'), undefined, 'rel=nofollow honoured');
    assert.equal(crawl.dropped.nofollow, 1);
  });

  test('a link trap (an endless calendar) is bounded by max depth, then by max pages', async () => {
    const calendar = (req: { url?: string }, res: import('node:http').ServerResponse) => {
      const n = Number(/\/cal\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      return page([`/cal/${n + 1}`, `/cal/${n + 2}`])(req as never, res, 1);
    };
    const routes = new Proxy({}, { get: (_t, p) => (String(p).startsWith('/cal/') ? calendar : undefined) });
    const a = await host('127.0.0.10', routes);
    const cr = crawler({ settings: { robots: false } });
    const byDepth = await cr.run({ seeds: [a.url('/cal/0')], maxDepth: 4 });
    assert.equal(byDepth.counts.done, 9, 'depths 0 to 4 of a two-link chain reach /cal/0 to /cal/8');
    assert.ok(byDepth.dropped['past max depth'] > 0);
    const byPages = await cr.run({ seeds: [a.url('/cal/0')], maxDepth: 1000, maxPages: 5 });
    assert.equal(byPages.counts.total, 5);
    assert.ok(byPages.dropped['past max pages'] > 0, 'links past max pages are counted, not enqueued');
  });

  test('by default a chain of pages is followed to its end, however deep, and stopped by max pages', async () => {
    // Chapters that link to the next one, as books of a documentation site do: 40 links deep.
    const LAST = 40;
    const chapter = (req: { url?: string }, res: import('node:http').ServerResponse) => {
      const n = Number(/\/ch\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      return page(n < LAST ? [`/ch/${n + 1}`] : [])(req as never, res, 1);
    };
    const routes = new Proxy({}, { get: (_t, p) => (String(p).startsWith('/ch/') ? chapter : undefined) });
    const a = await host('127.0.0.26', routes);
    const cr = crawler({ settings: { robots: false } });
    const whole = await cr.run({ seeds: [a.url('/ch/0')] });
    assert.equal(whole.options.maxDepth, null, 'no limit unless one is asked for');
    assert.equal(whole.counts.done, LAST + 1, 'every chapter, past the old default depth of 3');
    assert.equal((await cr.byUrl(whole.id, a.url(`/ch/${LAST}`))).job.depth, LAST);
    assert.equal(whole.dropped['past max depth'], undefined);

    const capped = await cr.run({ seeds: [a.url('/ch/0')], maxPages: 12 });
    assert.equal(capped.counts.total, 12, 'max pages bounds a crawl without a depth limit');
    assert.equal(capped.counts.done, 12);
    assert.equal((await cr.byUrl(capped.id, a.url('/ch/11'))).job.depth, 11, 'the chain in order up to the cap');
    assert.equal(capped.dropped['past max pages'], 1);

    // A daemon started with a default depth: a crawl without one gets it, and null still means none.
    const limited = crawler({ settings: { robots: false, defaultMaxDepth: 2 } });
    assert.equal((await limited.run({ seeds: [a.url('/ch/0')] })).counts.done, 3);
    assert.equal((await limited.run({ seeds: [a.url('/ch/0')], maxDepth: null })).counts.done, LAST + 1);
  });

  test("robots.txt unreachable holds its origin's pages until a retry succeeds; bodies are stored by hash", async () => {
    const a = await host('127.0.0.11', {
      '/robots.txt': (req, res, hit) => (hit === 1 ? status(503) : text('User-agent: *\nAllow: /\n'))(req, res, hit),
      '/': page([], 'Stored'),
    });
    const cr = crawler();
    const crawl = await cr.run({ seeds: [a.url('/')], storeBodies: true });
    const crawlId = crawl.id;
    assert.equal(crawl.counts.done, 1);
    assert.equal(a.hits.get('/robots.txt'), 2, 'robots.txt tried again after the 503');
    const home = await cr.byUrl(crawlId, a.url('/'));
    assert.equal(home.job.attempts, 1, 'waiting for robots.txt spent no attempt');
    assert.ok(
      home.events.some((e) => e.type === 'deferred' && (e.detail ?? '').startsWith(`robots.txt returned 503, try 1 of ${MAX_ROBOTS_TRIES}; not before `)),
    );
    const sha = String(home.job.result!.sha256);
    const file = path.join(cr.dir, 'bodies', sha.slice(0, 2), sha);
    assert.equal(createHash('sha256').update(fs.readFileSync(file)).digest('hex'), sha, 'named by its SHA-256');
    assert.match(fs.readFileSync(file, 'utf8'), /<title>Stored<\/title>/);
  });
});

describe('hosts that never get better, and robots.txt that cannot be used as it comes', () => {
  test('a host that only ever answers 503 with Retry-After: 0 is asked again after a floor, and its page ends in error', async () => {
    const a = await host('127.0.0.12', { '/': page(['/maint']), '/maint': status(503, { 'retry-after': '0' }) });
    const cr = crawler({ settings: { robots: false }, queue: { maxAttempts: 2, backoff: { baseMs: 50, maxMs: 100 } } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal(crawl.state, 'finished');
    const maint = await cr.byUrl(crawl.id, a.url('/maint'));
    assert.equal(maint.job.state, 'error');
    assert.match(maint.job.lastError!, /asked to wait \d+ times in a row/);
    // The waits in a row, then the attempts: not the hundreds a zero wait would bring.
    assert.equal(a.hits.get('/maint'), MAX_WAITS_IN_A_ROW + 2);
    assert.equal(maint.events.filter((e) => e.type === 'deferred' && /Retry-After 1s/.test(e.detail ?? '')).length, MAX_WAITS_IN_A_ROW);
    // Past them the host is held no longer than a backoff's longest (here 0.5 s, where it asked 1 s; an hour, for some).
    assert.ok(
      cr.logs.some((l) => /host 127\.0\.0\.12 held (again )?until .*asked 6 times in a row: held 0\.5 s, a backoff's longest/.test(l)),
      cr.logs.join('\n'),
    );
  });

  test("a robots.txt that is never readable ends its host's pages in error, and the crawl finishes", async () => {
    const a = await host('127.0.0.13', { '/robots.txt': status(503), '/': page([]) });
    const cr = crawler();
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal(crawl.state, 'finished');
    const home = await cr.byUrl(crawl.id, a.url('/'));
    assert.equal(home.job.state, 'error');
    assert.equal(home.job.lastError, `robots.txt returned 503 (read ${MAX_ROBOTS_TRIES} times)`, 'the cause first');
    assert.equal(a.hits.get('/robots.txt'), MAX_ROBOTS_TRIES);
    assert.equal(a.hits.get('/') ?? 0, 0, 'the page itself was never fetched');
  });

  test("a link found while its host's robots.txt is briefly unreadable is still crawled", async () => {
    const later = await host('127.0.0.14', {
      '/robots.txt': (req, res, hit) => (hit === 1 ? status(503) : text('User-agent: *\nAllow: /\n'))(req, res, hit),
      '/': page([]),
      '/a': page([]),
    });
    // Its page is slow, so its link to /a is planned while the other host's robots.txt is still unreadable.
    const linking = await host('127.0.0.15', { '/': page([later.url('/a')]) }, 300);
    const cr = crawler();
    const crawl = await cr.run({ seeds: [later.url('/'), linking.url('/')], scope: 'host' });
    const a = await cr.byUrl(crawl.id, later.url('/a'));
    assert.equal(a.job.state, 'done', `${a.job.state}: ${a.job.lastError}`);
    assert.equal(later.hits.get('/a'), 1);
    assert.equal(later.hits.get('/robots.txt'), 2);
  });

  test('a finished crawl whose failed jobs are requeued runs again, then finishes again', async () => {
    const a = await host('127.0.0.19', {
      '/': page(['/flaky']),
      '/flaky': (req, res, hit) => (hit === 1 ? status(404) : page([]))(req, res, hit),
    });
    const cr = crawler({ settings: { robots: false } });
    const first = await cr.run({ seeds: [a.url('/')] });
    assert.deepEqual([first.state, first.counts.error], ['finished', 1]);
    assert.equal(await cr.crawls.requeue({ state: 'error', crawlId: first.id }), 1);
    assert.equal((await cr.crawls.get(first.id)).state, 'running', 'work again: running again');
    const again = await eventually('finished again', async () => {
      const c = await cr.crawls.get(first.id);
      return c.state === 'finished' ? c : null;
    });
    assert.deepEqual([again!.counts.done, again!.counts.error], [2, 0]);
    assert.equal(a.hits.get('/flaky'), 2);
  });

  test('a page whose charset only its <meta> names: its links are read in that charset', async () => {
    const a = await host('127.0.0.18', {
      '/': (_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(Buffer.from('<html><head><meta charset="windows-1252"></head><body><a href="/caf\xe9">caf\xe9</a></body></html>', 'latin1'));
      },
      '/caf%C3%A9': page([]),
    });
    const cr = crawler({ settings: { robots: false } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal((await cr.byUrl(crawl.id, a.url('/caf%C3%A9'))).job.state, 'done');
    assert.equal(a.hits.get('/caf%C3%A9'), 1);
    assert.equal(crawl.counts.total, 2, 'no mis-decoded URL beside it');
  });

  test('robots.txt: past 500 KiB only the first 500 KiB count; a redirect loop means no robots.txt', async () => {
    const padding = `# ${'x'.repeat(1000)}\n`.repeat(600);
    const big = await host('127.0.0.16', {
      '/robots.txt': text(`User-agent: *\nDisallow: /private\n${padding}Disallow: /late\n`),
      '/': page(['/private', '/late']),
      '/private': page([]),
      '/late': page([]),
    });
    const looping = await host('127.0.0.17', {
      '/robots.txt': (_req, res) => {
        res.writeHead(302, { location: '/robots2.txt' });
        res.end();
      },
      '/robots2.txt': (_req, res) => {
        res.writeHead(302, { location: '/robots.txt' });
        res.end();
      },
      '/': page([]),
    });
    const cr = crawler();
    const crawl = await cr.run({ seeds: [big.url('/'), looping.url('/')], scope: 'host' });
    assert.equal((await cr.byUrl(crawl.id, big.url('/private'))).job.state, 'skipped');
    assert.equal((await cr.byUrl(crawl.id, big.url('/late'))).job.state, 'done', 'a rule past 500 KiB is not read');
    assert.equal(big.hits.get('/private') ?? 0, 0);
    assert.equal((await cr.byUrl(crawl.id, looping.url('/'))).job.state, 'done');
    assert.equal(looping.hits.get('/robots.txt'), 1, 'read once, then taken as unavailable');
  });
});

describe('a crawl changed by another process', () => {
  test("a worker that has built the crawl's frontier sees it paused, resumed and cancelled; nothing is fetched while paused", async () => {
    const a = await host('127.0.0.12', {
      '/robots.txt': text(''),
      '/': page([]),
      '/one': page(['/one-link']),
      '/two': page(['/two-link']),
      '/three': page([]),
    });
    // Two processes' worth of queue and crawl service on one file; the second runs the pages.
    const dir = tempDir();
    const open = () => {
      const queue = new SqliteQueue(path.join(dir, 'queue.db'), { components: [CRAWL_COMPONENT] });
      return { queue, crawls: createCrawlService(queue, new SqliteCrawlStore(queue.db), { ...QUICK, bodiesDir: path.join(dir, 'bodies') }) };
    };
    const [one, two] = [open(), open()];
    after(async () => {
      for (const p of [one, two]) {
        await p.crawls.close();
        await p.queue.close();
      }
    });
    const { crawlId } = await one.crawls.start({ seeds: ['/', '/one', '/two', '/three'].map((u) => a.url(u)) });
    const leased = await two.queue.lease('two', 4, { ttlMs: 60_000, defaultLimit: 4 });
    const run = async (path: string): Promise<Outcome | void> => {
      const job = leased.find((j: LeasedJob) => j.url === a.url(path))!;
      return two.crawls.handler(job, { signal: new AbortController().signal, workerId: 'two', committed: () => {} });
    };
    const links = (o: Outcome | void): NewJob[] => (o?.type === 'done' ? (o.enqueue ?? []) : []);

    assert.equal((await run('/'))?.type, 'done', 'the first page builds the frontier');
    await one.crawls.pause(crawlId);
    // A job that reaches a worker while its crawl is paused (a retry, a reclaim) is not fetched.
    assert.deepEqual(await run('/one'), { type: 'defer', reason: 'crawl paused', delayMs: PAUSED_RECHECK_MS });
    assert.equal(a.hits.get('/one'), undefined, "a paused crawl's page is not fetched");
    // Links added while paused (crawl/enqueue) wait held.
    const {
      jobs: [added],
    } = await two.queue.list({ crawlId, state: 'queued', limit: 10 });
    assert.equal(added, undefined, 'pausing held nothing here: every job was leased');
    await one.crawls.enqueue({ crawlId, urls: [a.url('/added')] });
    const held = (await two.queue.list({ crawlId, state: 'queued', limit: 10 })).jobs;
    assert.deepEqual(
      held.map((j) => [j.url, j.runAfter]),
      [[a.url('/added'), HELD]],
    );
    await one.crawls.resume(crawlId);
    assert.deepEqual(
      (await two.queue.list({ crawlId, state: 'queued', limit: 10 })).jobs.map((j) => j.runAfter),
      [0],
      'released by the resume',
    );
    const resumed = links(await run('/two'));
    assert.deepEqual(
      resumed.map((j) => [j.url, j.runAfter]),
      [[a.url('/two-link'), 0]],
    );
    await one.crawls.cancel(crawlId);
    assert.deepEqual(await run('/three'), { type: 'skip', reason: 'crawl cancelled' });
    assert.equal(a.hits.get('/three'), undefined, "a cancelled crawl's page is not fetched");
  });
});

describe('pages per second', () => {
  const running = { state: 'running' as const, createdAt: 0, finishedAt: null };
  test('over the last ten seconds while pages finish', () => {
    const samples = [
      { at: 20_000, pages: 40 },
      { at: 30_000, pages: 90 },
    ];
    assert.equal(pagesPerSecond({ ...running, pages: 90 }, samples, 30_000, 2), 5);
  });

  test('pages slower than the window: the rate since the start, not 0.0 while they are fetched', () => {
    const samples = [
      { at: 20_000, pages: 6 },
      { at: 25_000, pages: 6 },
      { at: 30_000, pages: 6 },
    ];
    assert.equal(pagesPerSecond({ ...running, pages: 6 }, samples, 30_000, 1), 0.2);
  });

  test('none while nothing is fetched: paused, or every host holding it back', () => {
    const samples = [
      { at: 20_000, pages: 40 },
      { at: 30_000, pages: 90 },
    ];
    assert.equal(pagesPerSecond({ ...running, pages: 90 }, samples, 30_000, 0), 0);
    assert.equal(pagesPerSecond({ ...running, state: 'paused', pages: 90 }, samples, 30_000, 2), 0);
  });

  test('a finished crawl: its pages over its whole run', () => {
    assert.equal(pagesPerSecond({ state: 'finished', pages: 100, createdAt: 0, finishedAt: 50_000 }, [], 90_000, 0), 2);
  });
});
