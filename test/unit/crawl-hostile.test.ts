/**
 * Hostile servers through the real crawl path (crawl service, scheduler, SQLite file): each case
 * ends in the state a crawler user expects with a clear error, frees its worker (one worker only,
 * so a page left hanging would keep the crawl from finishing) and leaves no socket or file open.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createGzip } from 'node:zlib';
import type { CrawlSettings } from '../../server/src/crawl/crawls';
import type { StartCrawl } from '../../server/src/crawl/service';
import { crawler } from './helpers/crawler';
import { flood, head, leavesNoFds, startRawHost, trickle, type RawHost, type RawRoute } from './helpers/hostile';
import { checkInvariants } from './helpers/invariants';
import { page, startHost, type Route, type TestHost } from './helpers/testsite';
import { eventually } from './helpers/tmp';

const servers: (RawHost | TestHost)[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function raw(ip: string, routes: Record<string, RawRoute>): Promise<RawHost> {
  const h = await startRawHost(ip, routes);
  servers.push(h);
  return h;
}

async function http(ip: string, routes: Record<string, Route>): Promise<TestHost> {
  const h = await startHost(ip, routes);
  servers.push(h);
  return h;
}

/** A page that answers properly, for the crawl to reach once the worker is free again. */
const CANARY = '/canary';
const canaryRoute: RawRoute = (socket) => {
  const body = '<title>canary</title>';
  socket.write(head({ 'content-length': body.length }) + body);
};

/**
 * Crawls `seeds` with one worker and two attempts per page, then stops everything it started and
 * checks that no file descriptor is left open. `check` sees the finished crawl while it still runs.
 */
async function hostileCrawl(
  hosts: () => Promise<(RawHost | TestHost)[]>,
  seeds: (hosts: (RawHost | TestHost)[]) => StartCrawl,
  check: (c: { crawl: Awaited<ReturnType<ReturnType<typeof crawler>['run']>>; cr: ReturnType<typeof crawler>; hosts: (RawHost | TestHost)[] }) => Promise<void>,
  settings: Partial<CrawlSettings> = {},
): Promise<void> {
  await leavesNoFds(async () => {
    const started = await hosts();
    const cr = crawler({
      settings,
      config: { maxWorkers: 1, perHostLimit: 1 },
      queue: { maxAttempts: 2, backoff: { baseMs: 20, maxMs: 20 } },
    });
    const crawl = await cr.run(seeds(started), 60_000);
    await check({ crawl, cr, hosts: started });
    checkInvariants(cr.queue);
    await cr.stop();
    await Promise.all(started.map((h) => h.close()));
  });
}

/** The connections that served these paths are closed: none was left half-read in a pool. */
async function connectionsClosed(h: RawHost, ...paths: string[]): Promise<void> {
  // Well under undici's 4 s keep-alive timeout, so a connection left idle in the pool would fail this.
  for (const p of paths) await eventually(`${h.url(p)}: its connections closed`, () => h.openFor(p) === 0, 3000);
}

describe('hostile servers', { timeout: 120_000 }, () => {
  before(async () => {
    // The first crawl opens what a process keeps for good (the libuv thread pool, lazy modules); not a leak.
    const warm = await raw('127.0.0.2', { '/': canaryRoute });
    const cr = crawler();
    await cr.run({ seeds: [warm.url('/')] });
    await cr.stop();
    await warm.close();
  });

  test('one byte per second, in the head or the body: ends at the timeouts, retried, then error', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/slow-head': (s) => trickle(s, head({ 'content-length': 5 }) + 'hello', 1000),
          '/slow-body': (s) => {
            s.write(head({ 'content-length': 100 }));
            trickle(s, 'x'.repeat(100), 1000);
          },
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: ['/slow-head', '/slow-body', CANARY].map((p) => h.url(p)) }),
      async ({ cr, crawl, hosts: [h] }) => {
        const slowHead = await cr.byUrl(crawl.id, h.url('/slow-head'));
        assert.deepEqual([slowHead.job.state, slowHead.job.attempts], ['error', 2], 'a timeout is retried, then an error');
        assert.match(slowHead.job.lastError!, /headers|took longer than/i);
        const slowBody = await cr.byUrl(crawl.id, h.url('/slow-body'));
        assert.deepEqual([slowBody.job.state, slowBody.job.attempts], ['error', 2], slowBody.job.lastError ?? undefined);
        assert.match(slowBody.job.lastError!, /took longer than 2500 ms/);
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done', 'the worker was freed for the next page');
        await connectionsClosed(h as RawHost, '/slow-head', '/slow-body');
      },
      // The pause between body bytes stays far under bodyTimeoutMs, so only the whole-fetch bound can end it.
      { headersTimeoutMs: 1500, bodyTimeoutMs: 5000, totalTimeoutMs: 2500 },
    );
  });

  test('a body that never ends stops at the size cap, not retried', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/endless': (s) => {
            s.write(head({ 'transfer-encoding': 'chunked' }));
            const data = '<p>again</p>'.repeat(2000).slice(0, 0x4000);
            flood(s, Buffer.from(`4000\r\n${data}\r\n`));
          },
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: [h.url('/endless'), h.url(CANARY)] }),
      async ({ cr, crawl, hosts: [h] }) => {
        const endless = await cr.byUrl(crawl.id, h.url('/endless'));
        assert.deepEqual([endless.job.state, endless.job.attempts], ['error', 1], endless.job.lastError ?? undefined);
        assert.equal(endless.job.lastError, 'response body exceeds the 1048576-byte limit');
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
        await connectionsClosed(h as RawHost, '/endless');
      },
      { maxBodyBytes: 1024 * 1024 },
    );
  });

  test('a wrong Content-Length: a short body is an error; a long one is cut where it says, smuggling nothing', async () => {
    const smuggled = '<title>smuggled</title>';
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/': (s) => {
            const body = '<title>home</title><a href="/short">s</a><a href="/next">n</a><a href="/long">l</a>';
            s.write(head({ 'content-length': body.length }) + body);
          },
          // Declares more than it sends, then hangs up.
          '/long': (s) => {
            s.write(head({ 'content-length': 1000 }) + '<title>cut</title>');
            s.end();
          },
          // Declares less than it sends; the rest looks like the answer to the next request.
          '/short': (s) => {
            const body = '<title>short</title>';
            s.write(head({ 'content-length': body.length }) + body + head({ 'content-length': smuggled.length }) + smuggled);
          },
          '/next': (s) => {
            const body = '<title>next</title>';
            s.write(head({ 'content-length': body.length }) + body);
          },
        }),
      ],
      ([h]) => ({ seeds: [h.url('/')] }),
      async ({ cr, crawl, hosts: [h] }) => {
        const long = await cr.byUrl(crawl.id, h.url('/long'));
        assert.deepEqual([long.job.state, long.job.attempts], ['error', 2], 'a truncated body is retried, then an error');
        assert.match(long.job.lastError!, /^connection lost after 18 of 1000 bytes of the body: /);
        const short = await cr.byUrl(crawl.id, h.url('/short'));
        assert.equal(short.job.state, 'done');
        assert.equal(short.job.result!.title, 'short');
        const next = await cr.byUrl(crawl.id, h.url('/next'));
        assert.equal(next.job.state, 'done');
        assert.equal(next.job.result!.title, 'next', 'the bytes past the declared length were not read as the next response');
        await connectionsClosed(h as RawHost, '/long', '/short');
      },
      { robots: false },
    );
  });

  test('broken chunked encoding: invalid sizes are an error at once; a body cut between chunks is retried', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/bad-size': (s) => s.write(head({ 'transfer-encoding': 'chunked' }) + '5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n'),
          '/cut': (s) => {
            s.write(head({ 'transfer-encoding': 'chunked' }) + '5\r\nhello\r\n');
            s.end();
          },
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: ['/bad-size', '/cut', CANARY].map((p) => h.url(p)) }),
      async ({ cr, crawl, hosts: [h] }) => {
        const bad = await cr.byUrl(crawl.id, h.url('/bad-size'));
        assert.deepEqual([bad.job.state, bad.job.attempts], ['error', 1], 'a protocol error does not get better with a retry');
        assert.match(bad.job.lastError!, /^Response does not match the HTTP\/1\.1 protocol \(Invalid character in chunk size\)/);
        const cut = await cr.byUrl(crawl.id, h.url('/cut'));
        assert.deepEqual([cut.job.state, cut.job.attempts], ['error', 2], cut.job.lastError ?? undefined);
        assert.match(cut.job.lastError!, /^connection lost after \d+ bytes of the body: /);
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
        await connectionsClosed(h as RawHost, '/bad-size', '/cut');
      },
    );
  });

  test('broken gzip is an error naming the decompression, not retried', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/garbage': (s) => {
            const body = randomBytes(4096);
            s.write(head({ 'content-encoding': 'gzip', 'content-length': body.length }));
            s.write(body);
          },
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: [h.url('/garbage'), h.url(CANARY)] }),
      async ({ cr, crawl, hosts: [h] }) => {
        const garbage = await cr.byUrl(crawl.id, h.url('/garbage'));
        assert.deepEqual([garbage.job.state, garbage.job.attempts], ['error', 1], garbage.job.lastError ?? undefined);
        assert.match(garbage.job.lastError!, /^cannot decompress http:\/\/127\.0\.0\.2:\d+\/garbage: /);
        // Its HTTP framing was whole, so the connection may serve the next page.
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
      },
    );
  });

  test('a thousand headers: small ones are read; ones past the header size limit are an error, not retried', async () => {
    const many = (size: number) => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, 'v'.repeat(size)]));
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/small': (s) => s.write(head({ ...many(1), 'content-length': 15 }) + '<title>1k</title>'.slice(0, 15)),
          '/large': (s) => s.write(head({ ...many(100), 'content-length': 2 }) + 'ok'),
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: ['/small', '/large', CANARY].map((p) => h.url(p)) }),
      async ({ cr, crawl, hosts: [h] }) => {
        const small = await cr.byUrl(crawl.id, h.url('/small'));
        assert.equal(small.job.state, 'done');
        assert.equal(small.job.result!.status, 200);
        const large = await cr.byUrl(crawl.id, h.url('/large'));
        assert.deepEqual([large.job.state, large.job.attempts], ['error', 1], large.job.lastError ?? undefined);
        assert.match(large.job.lastError!, /^response headers larger than 65536 bytes$/);
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
        await connectionsClosed(h as RawHost, '/large');
      },
    );
  });

  test('a redirect to file: or javascript: is an error naming the scheme; nothing else is fetched', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/file': (s) => s.write(head({ location: 'file:///etc/passwd', 'content-length': 0 }, 'HTTP/1.1 302 Found')),
          '/js': (s) => s.write(head({ location: 'javascript:alert(document.cookie)', 'content-length': 0 }, 'HTTP/1.1 301 Moved')),
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: ['/file', '/js', CANARY].map((p) => h.url(p)), scope: 'any' }),
      async ({ cr, crawl, hosts: [h] }) => {
        const file = await cr.byUrl(crawl.id, h.url('/file'));
        assert.deepEqual([file.job.state, file.job.attempts], ['error', 1], file.job.lastError ?? undefined);
        assert.match(file.job.lastError!, /redirects to file:\/\/\/etc\/passwd: scheme file: is not http\(s\)/);
        const js = await cr.byUrl(crawl.id, h.url('/js'));
        assert.deepEqual([js.job.state, js.job.attempts], ['error', 1], js.job.lastError ?? undefined);
        assert.match(js.job.lastError!, /scheme javascript: is not http\(s\)/);
        assert.equal(crawl.counts.total, 3, 'no job was made of either target');
        assert.equal(crawl.counts.done, 1);
      },
    );
  });

  test('a 60 KB Location is an error that quotes its start, and nothing stored holds all of it', async () => {
    const location = `/${'L'.repeat(60 * 1024)}`;
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/far': (s) => s.write(head({ location, 'content-length': 0 }, 'HTTP/1.1 302 Found')),
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: ['/far', CANARY].map((p) => h.url(p)), scope: 'any' }),
      async ({ cr, crawl, hosts: [h] }) => {
        const far = await cr.byUrl(crawl.id, h.url('/far'));
        assert.equal(far.job.state, 'error');
        assert.match(far.job.lastError!, /^http:\/\/127\.0\.0\.2:\d+\/far redirects to \/L{298}…: longer than 8 KiB$/);
        for (const e of far.events) assert.ok((e.detail ?? '').length < 1000, `${e.type}: ${e.detail?.length} characters`);
        assert.ok(JSON.stringify(far).length < 4000, 'the job document stays small');
      },
    );
  });

  test('a redirect loop across hosts ends in error naming the chain; an endless chain at the redirect limit', async () => {
    // Routes are read per request, so each host's can point at the other once both have ports.
    const routesA: Record<string, RawRoute> = {};
    const routesB: Record<string, RawRoute> = { [CANARY]: canaryRoute };
    await hostileCrawl(
      async () => {
        const hosts = [await raw('127.0.0.2', routesA), await raw('127.0.0.3', routesB)];
        const [a, b] = hosts;
        const hop =
          (to: RawHost, path: string): RawRoute =>
          (s) =>
            s.write(head({ location: to.url(path), 'content-length': 0 }, 'HTTP/1.1 302 Found'));
        routesA['/loop'] = hop(b, '/loop');
        routesB['/loop'] = hop(a, '/loop');
        // /chain/n alternates between the hosts and never repeats a URL.
        for (let n = 0; n < 40; n += 2) {
          routesA[`/chain/${n}`] = hop(b, `/chain/${n + 1}`);
          routesB[`/chain/${n + 1}`] = hop(a, `/chain/${n + 2}`);
        }
        return hosts;
      },
      ([a, b]) => ({ seeds: [a.url('/loop'), a.url('/chain/0'), b.url(CANARY)], maxDepth: 0 }),
      async ({ cr, crawl, hosts: [a, b] }) => {
        const back = await cr.byUrl(crawl.id, b.url('/loop'));
        assert.deepEqual([back.job.state, back.job.attempts], ['error', 1], back.job.lastError ?? undefined);
        assert.equal(back.job.lastError, `redirect loop: ${a.url('/loop')} → ${b.url('/loop')} → ${a.url('/loop')}`);
        assert.equal(a.hits.get('/loop'), 1, 'the loop fetched its first URL once');
        // maxRedirects is 10: /chain/0 and ten hops were fetched, the tenth hop is the error.
        const tenth = await cr.byUrl(crawl.id, a.url('/chain/10'));
        assert.deepEqual([tenth.job.state, tenth.job.attempts], ['error', 1], tenth.job.lastError ?? undefined);
        assert.equal(tenth.job.lastError, `more than 10 redirects from ${a.url('/chain/0')}`);
        assert.equal(b.hits.get('/chain/11'), undefined);
        assert.equal(crawl.counts.total, 2 + 11 + 1);
        assert.equal(crawl.counts.error, 2);
      },
      { robots: false },
    );
  });

  test('a connection reset mid-body is retried, then an error saying how far the body got', async () => {
    await hostileCrawl(
      async () => [
        await raw('127.0.0.2', {
          '/reset': (s) => s.write(head({ 'content-length': 100_000 }) + '<html>'.repeat(1000), () => s.resetAndDestroy()),
          [CANARY]: canaryRoute,
        }),
      ],
      ([h]) => ({ seeds: [h.url('/reset'), h.url(CANARY)] }),
      async ({ cr, crawl, hosts: [h] }) => {
        const reset = await cr.byUrl(crawl.id, h.url('/reset'));
        assert.deepEqual([reset.job.state, reset.job.attempts], ['error', 2], reset.job.lastError ?? undefined);
        assert.match(reset.job.lastError!, /^connection lost after \d+ of 100000 bytes of the body: /);
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
        await connectionsClosed(h as RawHost, '/reset');
      },
    );
  });

  test('an HTML page of 50 MB: declared, chunked or gzipped, it ends at the 10 MiB cap without being retried', async () => {
    const FIFTY_MB = 50 * 1024 * 1024;
    const filler = Buffer.from('<p>filler <a href="/never">never</a></p>\n'.repeat(1600));
    const html = (res: ServerResponse, headers: Record<string, string | number> = {}) => {
      res.writeHead(200, { 'content-type': 'text/html', ...headers });
      return res;
    };
    await hostileCrawl(
      async () => [
        await http('127.0.0.2', {
          '/declared': (_req, res) => flood(html(res, { 'content-length': FIFTY_MB }), filler, FIFTY_MB, () => res.end()),
          '/chunked': (_req, res) => flood(html(res), filler, FIFTY_MB, () => res.end()),
          '/gzipped': (_req, res) => {
            const gzip = createGzip();
            gzip.pipe(html(res, { 'content-encoding': 'gzip' }));
            res.on('close', () => gzip.destroy());
            flood(gzip, filler, FIFTY_MB, () => gzip.end());
          },
          [CANARY]: page([]),
        }),
      ],
      ([h]) => ({ seeds: ['/declared', '/chunked', '/gzipped', CANARY].map((p) => h.url(p)) }),
      async ({ cr, crawl, hosts: [h] }) => {
        const expect = {
          '/declared': 'declared Content-Length 52428800 exceeds',
          '/chunked': 'response body exceeds',
          '/gzipped': 'decompressed body exceeds',
        };
        for (const [path, message] of Object.entries(expect)) {
          const j = await cr.byUrl(crawl.id, h.url(path));
          assert.deepEqual([j.job.state, j.job.attempts], ['error', 1], path);
          assert.equal(j.job.lastError, `${message} the 10485760-byte limit`, path);
        }
        assert.equal((h as TestHost).hits.get('/never'), undefined, 'no link was taken from a page over the cap');
        assert.equal((await cr.byUrl(crawl.id, h.url(CANARY))).job.state, 'done');
      },
      { maxBodyBytes: 10 * 1024 * 1024 },
    );
  });

  test('ten thousand links on one page: all read, out-of-scope ones counted, the rest capped by max pages', async () => {
    const links = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? `/p/${i}` : `http://127.0.0.3:1/p/${i}`));
    await hostileCrawl(
      async () => {
        const routes: Record<string, Route> = { '/': page(links, 'many') };
        for (let i = 0; i < 10_000; i += 2) routes[`/p/${i}`] = page([], `p${i}`);
        return [await http('127.0.0.2', routes)];
      },
      ([h]) => ({ seeds: [h.url('/')], maxPages: 25 }),
      async ({ cr, crawl, hosts: [h] }) => {
        const home = await cr.byUrl(crawl.id, h.url('/'));
        assert.equal(home.job.state, 'done');
        assert.equal(home.job.result!.outlinks, 10_000);
        assert.equal(crawl.counts.total, 25);
        assert.equal(crawl.counts.done, 25);
        assert.equal(crawl.dropped['out of scope'], 5000);
        assert.equal(crawl.dropped['past max pages'], 5000 - 24);
      },
    );
  });
});
