import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { classifyStatus, Fetcher, FetchError, type FetcherOptions, MAX_CODINGS, MAX_HEADER_BYTES, parseRetryAfter } from '../../server/src/crawl/fetcher';
import { LinkExtractor } from '../../server/src/crawl/links';
import { compileScope } from '../../server/src/crawl/scope';
import { type Site, startSite } from './helpers/sites';

const USER_AGENT = 'CrawlOrchestrator/0.1 (+https://example.invalid/bot)';
const DEFAULTS: FetcherOptions = {
  userAgent: USER_AGENT,
  connectTimeoutMs: 2000,
  headersTimeoutMs: 2000,
  bodyTimeoutMs: 2000,
  totalTimeoutMs: 5000,
  maxBodyBytes: 64 * 1024,
  maxRedirects: 5,
};
// Every test awaits only events a correct implementation produces; this turns a hang into a failure.
const TEST_TIMEOUT = { timeout: 10_000 };

async function setup(t: TestContext, handler: RequestListener, options: Partial<FetcherOptions> = {}, host?: string) {
  const site = await startSite(handler, host);
  const fetcher = new Fetcher({ ...DEFAULTS, ...options });
  t.after(async () => {
    await site.close();
    await fetcher.close();
  });
  return { site, fetcher };
}

async function fetchError(promise: Promise<unknown>): Promise<FetchError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FetchError, `expected a FetchError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the fetch to fail');
}

/** Sends headers, then `chunk` every `everyMs` until the client goes away; records the socket. */
function endless(sockets: Socket[], headers: Record<string, string | number>, chunk: Buffer, everyMs: number): RequestListener {
  return (req, res) => {
    sockets.push(req.socket);
    res.writeHead(200, headers);
    const timer = setInterval(() => res.write(chunk), everyMs);
    res.on('close', () => clearInterval(timer));
  };
}

const PAGE = Buffer.from(`<!doctype html><title>Test page</title>${'<p>Some text, repeated. <a href="/next">next</a></p>\n'.repeat(300)}`);

describe('Fetcher: content', TEST_TIMEOUT, () => {
  it('decompresses gzip, deflate and br and hashes the decoded body', async (t) => {
    const encoders: Record<string, (b: Buffer) => Buffer> = {
      gzip: (b) => zlib.gzipSync(b),
      deflate: (b) => zlib.deflateSync(b),
      br: (b) => zlib.brotliCompressSync(b),
    };
    const { site, fetcher } = await setup(t, (req, res) => {
      const encoding = req.url!.slice(1);
      const body = encoders[encoding](PAGE);
      res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8', 'content-encoding': encoding, 'content-length': body.length });
      res.end(body);
    });
    for (const encoding of Object.keys(encoders)) {
      const r = await fetcher.fetch(site.url(`/${encoding}`));
      assert.equal(r.status, 200, encoding);
      assert.ok(r.body.equals(PAGE), encoding);
      assert.equal(r.bytes, PAGE.length, encoding);
      assert.equal(r.rawBytes, encoders[encoding](PAGE).length, encoding);
      assert.ok(r.rawBytes < r.bytes, encoding);
      assert.equal(r.contentType, 'text/html');
      assert.equal(r.charset, 'utf-8');
      assert.equal(r.headers['content-encoding'], encoding);
      assert.equal(r.finalUrl, site.url(`/${encoding}`));
      assert.deepEqual(r.redirects, []);
      assert.ok(r.durationMs >= 0);
    }
  });

  it('sends our User-Agent, Accept-Encoding and Accept', async (t) => {
    const seen: IncomingHttpHeaders[] = [];
    const { site, fetcher } = await setup(t, (req, res) => {
      seen.push(req.headers);
      res.end('ok');
    });
    await fetcher.fetch(site.url('/'));
    await fetcher.fetch(site.url('/'), { accept: 'text/plain' });
    assert.equal(seen[0]['user-agent'], USER_AGENT);
    assert.equal(seen[0]['accept-encoding'], 'gzip, deflate, br');
    assert.match(seen[0].accept ?? '', /^text\/html/);
    assert.equal(seen[1].accept, 'text/plain');
  });

  it('fetches a PDF byte for byte', async (t) => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256))]);
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf' });
      res.end(pdf);
    });
    const r = await fetcher.fetch(site.url('/doc.pdf'));
    assert.equal(r.contentType, 'application/pdf');
    assert.equal(r.charset, null);
    assert.ok(r.body.equals(pdf));
  });

  it('returns error statuses with their bodies', async (t) => {
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain', 'x-multi': ['a', 'b'] });
      res.end('nope');
    });
    const r = await fetcher.fetch(site.url('/missing'));
    assert.equal(r.status, 404);
    assert.equal(r.body.toString(), 'nope');
    assert.equal(r.headers['x-multi'], 'a, b');
    assert.equal(classifyStatus(r.status).outcome, 'error');
  });

  it('streams decoded chunks to onBody, e.g. into a LinkExtractor', async (t) => {
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(PAGE));
    });
    const chunks: Buffer[] = [];
    const extractor = new LinkExtractor(site.url('/page'));
    const r = await fetcher.fetch(site.url('/page'), {
      onBody: (chunk) => {
        chunks.push(chunk);
        extractor.write(chunk);
      },
    });
    assert.ok(Buffer.concat(chunks).equals(r.body));
    const links = extractor.end();
    assert.equal(links.title, 'Test page');
    assert.deepEqual(links.links, [{ url: site.url('/next'), host: site.host, nofollow: false, text: 'next' }]);
  });

  it('rethrows an onBody exception as is and closes the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, endless(sockets, { 'content-type': 'text/html' }, Buffer.alloc(1024, 'a'), 5));
    const boom = new Error('extractor failed');
    await assert.rejects(
      fetcher.fetch(site.url('/'), {
        onBody: () => {
          throw boom;
        },
      }),
      (err) => err === boom,
    );
    await site.closed(sockets[0]);
  });

  it('reports undecodable and unsupported encodings as decode errors', async (t) => {
    const { site, fetcher } = await setup(t, (req, res) => {
      res.writeHead(200, { 'content-encoding': req.url === '/garbage' ? 'gzip' : 'zstd' });
      res.end('this is not gzip at all');
    });
    const garbage = await fetchError(fetcher.fetch(site.url('/garbage')));
    assert.equal(garbage.code, 'decode');
    assert.equal(garbage.retryable, false);
    const zstd = await fetchError(fetcher.fetch(site.url('/zstd')));
    assert.equal(zstd.code, 'decode');
    assert.match(zstd.message, /unsupported Content-Encoding zstd/);
  });

  it('undoes codings stacked up to MAX_CODINGS; more are refused, not given a decoder each', async (t) => {
    const html = Buffer.from('<title>twice</title>');
    const { site, fetcher } = await setup(t, (req, res) => {
      if (req.url === '/twice') {
        res.writeHead(200, { 'content-encoding': 'gzip, br', 'content-type': 'text/html' });
        res.end(zlib.brotliCompressSync(zlib.gzipSync(html)));
        return;
      }
      // 20,000 codings and an empty body: 2.2 s, 357 MB and the event loop held a second, a decoder each.
      res.writeHead(200, { 'content-encoding': Array(20_000).fill('br').join(',') });
      res.end();
    });
    assert.deepEqual((await fetcher.fetch(site.url('/twice'))).body, html);
    const stacked = await fetchError(fetcher.fetch(site.url('/stacked')));
    assert.equal(stacked.code, 'decode');
    assert.equal(stacked.retryable, false);
    assert.match(stacked.message, new RegExp(`20000 Content-Encodings stacked \\(at most ${MAX_CODINGS} are undone\\)`));
  });

  it('rejects a URL it cannot fetch', async (t) => {
    const { fetcher } = await setup(t, (_req, res) => res.end());
    await assert.rejects(fetcher.fetch('ftp://example.com/'), TypeError);
  });
});

describe('Fetcher: redirects', TEST_TIMEOUT, () => {
  it('follows a chain of every redirect status across hosts, normalizing each hop', async (t) => {
    let b: Site | undefined;
    const { site: a, fetcher } = await setup(
      t,
      (req, res) => {
        const to: Record<string, [number, string]> = {
          '/r1': [301, '/r2'],
          '/r2': [302, 'r3'],
          '/r3': [303, `http://127.0.0.3:${b!.port}/r4`],
        };
        const hop = to[req.url!];
        if (hop) {
          res.writeHead(hop[0], { location: hop[1] });
          res.end('moved');
        } else {
          res.end(`final ${req.url}`);
        }
      },
      {},
      '127.0.0.2',
    );
    b = await startSite((req, res) => {
      res.writeHead(req.url === '/r4' ? 307 : 308, { location: req.url === '/r4' ? '/r5' : `//127.0.0.2:${a.port}/final?x=%7e#frag` });
      res.end();
    }, '127.0.0.3');
    t.after(() => b.close());

    const r = await fetcher.fetch(a.url('/r1'));
    assert.equal(r.status, 200);
    assert.equal(r.url, a.url('/r1'));
    assert.equal(r.finalUrl, a.url('/final?x=~'));
    assert.equal(r.body.toString(), 'final /final?x=~');
    assert.deepEqual(r.redirects, [
      { url: a.url('/r1'), status: 301 },
      { url: a.url('/r2'), status: 302 },
      { url: a.url('/r3'), status: 303 },
      { url: b.url('/r4'), status: 307 },
      { url: b.url('/r5'), status: 308 },
    ]);
    // Four requests reached this host; redirect bodies are drained so kept-alive connections get reused.
    assert.ok(a.connections() < 4, `${a.connections()} connections`);
  });

  it('detects a redirect loop', async (t) => {
    const { site, fetcher } = await setup(t, (req, res) => {
      res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' });
      res.end();
    });
    const err = await fetchError(fetcher.fetch(site.url('/a')));
    assert.equal(err.code, 'redirect_loop');
    assert.equal(err.retryable, false);
    assert.match(err.message, /redirects back to http:\/\/127\.0\.0\.1:\d+\/a$/);
  });

  it('stops after maxRedirects', async (t) => {
    let requests = 0;
    const { site, fetcher } = await setup(
      t,
      (req, res) => {
        requests++;
        res.writeHead(301, { location: `/n${Number(req.url!.slice(2)) + 1}` });
        res.end();
      },
      { maxRedirects: 3 },
    );
    const err = await fetchError(fetcher.fetch(site.url('/n0')));
    assert.equal(err.code, 'too_many_redirects');
    assert.equal(err.retryable, false);
    assert.equal(requests, 4, 'the start and three followed hops');
  });

  it('lets checkRedirect refuse a hop, such as one leaving the crawl scope', async (t) => {
    let outsideRequests = 0;
    const outside = await startSite((_req, res) => {
      outsideRequests++;
      res.end('outside');
    }, '127.0.0.3');
    t.after(() => outside.close());
    const { site, fetcher } = await setup(
      t,
      (req, res) => {
        res.writeHead(302, { location: req.url === '/start' ? '/inside' : outside.url('/elsewhere') });
        res.end();
      },
      {},
      '127.0.0.2',
    );
    const scope = compileScope({ seeds: [site.url('/')], scope: 'host' });
    const hops: [string, string][] = [];
    const err = await fetchError(
      fetcher.fetch(site.url('/start'), {
        checkRedirect: (from, to) => {
          hops.push([from, to]);
          return scope.allows(to);
        },
      }),
    );
    assert.equal(err.code, 'blocked');
    assert.equal(err.retryable, false);
    assert.match(err.message, /refused: host 127\.0\.0\.3 is not a seed host$/);
    assert.deepEqual(hops, [
      [site.url('/start'), site.url('/inside')],
      [site.url('/inside'), outside.url('/elsewhere')],
    ]);
    assert.equal(outsideRequests, 0);
  });

  it('rethrows a checkRedirect exception as is', async (t) => {
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    });
    const bug = new Error('scope lookup failed');
    await assert.rejects(
      fetcher.fetch(site.url('/'), {
        checkRedirect: () => {
          throw bug;
        },
      }),
      (err) => err === bug,
    );
  });

  it('refuses redirects to file:, javascript: and non-URLs', async (t) => {
    const { site, fetcher } = await setup(t, (req, res) => {
      const to: Record<string, string> = { '/file': 'file:///etc/passwd', '/js': 'javascript:alert(1)', '/junk': 'http://' };
      res.writeHead(301, { location: to[req.url!] });
      res.end();
    });
    for (const [path, reason] of [
      ['/file', 'scheme file: is not http(s)'],
      ['/js', 'scheme javascript: is not http(s)'],
      ['/junk', 'not a URL'],
    ]) {
      const err = await fetchError(fetcher.fetch(site.url(path)));
      assert.equal(err.code, 'bad_redirect', path);
      assert.equal(err.retryable, false);
      assert.ok(err.message.endsWith(reason), err.message);
    }
  });

  it('reads a UTF-8 Location header as UTF-8', async (t) => {
    const { site, fetcher } = await setup(t, (req, res) => {
      if (req.url === '/old') {
        // Node writes header strings as Latin-1, so this puts the UTF-8 bytes of "/für" on the wire.
        res.writeHead(301, { location: Buffer.from('/für', 'utf8').toString('latin1') });
        res.end();
      } else {
        res.end(req.url);
      }
    });
    const r = await fetcher.fetch(site.url('/old'));
    assert.equal(r.finalUrl, site.url('/f%C3%BCr'));
  });

  it('hands a redirect back unfollowed when asked', async (t) => {
    let requests = 0;
    const { site, fetcher } = await setup(t, (req, res) => {
      requests++;
      res.writeHead(301, { location: req.url === '/old' ? '../New/%7eX#top' : 'mailto:x@example.com' });
      res.end('moved');
    });
    const r = await fetcher.fetch(site.url('/old'), { followRedirects: false });
    assert.equal(r.status, 301);
    assert.equal(r.location, site.url('/New/~X'));
    assert.equal(r.finalUrl, site.url('/old'));
    assert.deepEqual(r.redirects, []);
    assert.equal(r.body.toString(), 'moved');
    assert.equal(requests, 1);
    const err = await fetchError(fetcher.fetch(site.url('/mail'), { followRedirects: false }));
    assert.equal(err.code, 'bad_redirect');
    const followed = await fetchError(fetcher.fetch(site.url('/old')));
    assert.equal(followed.code, 'bad_redirect', 'followed by default');
  });

  it('returns a 3xx without Location as the final response', async (t) => {
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(300);
      res.end('choices');
    });
    const r = await fetcher.fetch(site.url('/'));
    assert.equal(r.status, 300);
    assert.equal(r.location, null);
    assert.equal(classifyStatus(r.status).outcome, 'error');
  });
});

describe('Fetcher: limits and failures', TEST_TIMEOUT, () => {
  it('fails fast on a declared Content-Length over the cap and closes the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, endless(sockets, { 'content-length': 10 * 1024 * 1024 }, Buffer.alloc(16 * 1024), 5));
    const err = await fetchError(fetcher.fetch(site.url('/big')));
    assert.equal(err.code, 'too_large');
    assert.equal(err.retryable, false);
    assert.match(err.message, /Content-Length 10485760 exceeds the 65536-byte limit/);
    await site.closed(sockets[0]);
  });

  it('stops an undeclared (chunked) body at the cap and closes the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, endless(sockets, { 'content-type': 'text/html' }, Buffer.alloc(8 * 1024, 'x'), 2));
    const err = await fetchError(fetcher.fetch(site.url('/stream')));
    assert.equal(err.code, 'too_large');
    assert.match(err.message, /^response body exceeds the 65536-byte limit$/);
    await site.closed(sockets[0]);
  });

  it('caps the decompressed size too (compression bombs)', async (t) => {
    const bomb = zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024));
    const { site, fetcher } = await setup(t, (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.length });
      res.end(bomb);
    });
    assert.ok(bomb.length < DEFAULTS.maxBodyBytes);
    const err = await fetchError(fetcher.fetch(site.url('/bomb')));
    assert.equal(err.code, 'too_large');
    assert.match(err.message, /^decompressed body exceeds/);
  });

  it('truncateAt keeps the first bytes of a body past the cap, declared or not, compressed or not, and closes the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, (req, res) => {
      if (req.url === '/declared') return endless(sockets, { 'content-length': 10 * 1024 * 1024 }, Buffer.alloc(16 * 1024, 'd'), 5)(req, res);
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(Buffer.alloc(4 * 1024 * 1024, 'z')));
    });
    const declared = await fetcher.fetch(site.url('/declared'), { truncateAt: 20_000 });
    assert.equal(declared.truncated, true);
    assert.equal(declared.body.length, 20_000);
    assert.ok(declared.body.every((b) => b === 'd'.charCodeAt(0)));
    await site.closed(sockets[0]);
    const bomb = await fetcher.fetch(site.url('/bomb'), { truncateAt: 30_000 });
    assert.equal(bomb.truncated, true);
    assert.equal(bomb.body.length, 30_000);
    const whole = await fetcher.fetch(site.url('/bomb'), { truncateAt: 8 * 1024 * 1024 }).catch((e: FetchError) => e);
    assert.ok(whole instanceof FetchError && whole.code === 'too_large', 'truncateAt above the cap: the cap still holds');
  });

  it('times out a body that stalls midway, and closes the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(
      t,
      (req, res) => {
        sockets.push(req.socket);
        res.writeHead(200, { 'content-length': 1000 });
        res.write('only the beginning');
      },
      { bodyTimeoutMs: 300 },
    );
    const err = await fetchError(fetcher.fetch(site.url('/stall')));
    assert.equal(err.code, 'timeout');
    assert.equal(err.retryable, true);
    assert.match(err.message, /UND_ERR_BODY_TIMEOUT/);
    await site.closed(sockets[0]);
  });

  it('bounds the whole fetch by totalTimeoutMs even while bytes keep trickling in', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, endless(sockets, { 'content-type': 'text/plain' }, Buffer.from('.'), 20), {
      totalTimeoutMs: 400,
    });
    const err = await fetchError(fetcher.fetch(site.url('/trickle')));
    assert.equal(err.code, 'timeout');
    assert.equal(err.retryable, true);
    assert.match(err.message, /took longer than 400 ms/);
    await site.closed(sockets[0]);
  });

  it('gives up a body that comes slower than 1 KiB/s over a window, though each byte is well within the body timeout', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(
      t,
      (req, res) => {
        if (req.url === '/quick') return endless(sockets, { 'content-type': 'text/plain' }, Buffer.alloc(1024, 'q'), 50)(req, res);
        // A byte every 50 ms: 20 B/s, where the window wants 1 KiB/s.
        return endless(sockets, { 'content-type': 'text/plain' }, Buffer.from('.'), 50)(req, res);
      },
      { slowBodyWindowMs: 300, totalTimeoutMs: 1_500 },
    );
    const slow = await fetchError(fetcher.fetch(site.url('/drip')));
    assert.equal(slow.code, 'timeout');
    assert.equal(slow.retryable, true);
    assert.match(slow.message, /the body came slower than 1 KiB\/s for 0\.3 s/);
    // 20 KiB/s over the same windows is kept up with: only the whole fetch's bound ends it.
    const quick = await fetchError(fetcher.fetch(site.url('/quick')));
    assert.match(quick.message, /took longer than 1500 ms/);
    await site.closed(sockets[0]);
  });

  it('times out when headers never come', async (t) => {
    const { site, fetcher } = await setup(t, () => undefined, { headersTimeoutMs: 300 });
    const err = await fetchError(fetcher.fetch(site.url('/silent')));
    assert.equal(err.code, 'timeout');
    assert.equal(err.retryable, true);
    assert.match(err.message, /UND_ERR_HEADERS_TIMEOUT/);
  });

  it('reports a connection reset mid-body as a retryable network error', async (t) => {
    const { site, fetcher } = await setup(t, (req, res) => {
      res.writeHead(200, { 'content-length': 50_000 });
      res.write(Buffer.alloc(1000), () => req.socket.resetAndDestroy());
    });
    const err = await fetchError(fetcher.fetch(site.url('/reset')));
    assert.equal(err.code, 'network');
    assert.equal(err.retryable, true);
    assert.match(err.message, /\/reset: connection lost after \d+ of 50000 bytes of the body: /);
  });

  it('refuses a response head over MAX_HEADER_BYTES without a retry', async (t) => {
    const { site, fetcher } = await setup(t, (_req, res) => {
      for (let i = 0; i < 1000; i++) res.setHeader(`x-h${i}`, 'v'.repeat(100));
      res.end('ok');
    });
    const err = await fetchError(fetcher.fetch(site.url('/heads')));
    assert.equal(err.code, 'network');
    assert.equal(err.retryable, false);
    assert.match(err.message, new RegExp(`/heads: response headers larger than ${MAX_HEADER_BYTES} bytes$`));
  });

  it('reports a refused connection as a retryable network error', async (t) => {
    const gone = await startSite((_req, res) => res.end());
    await gone.close();
    const fetcher = new Fetcher(DEFAULTS);
    t.after(() => fetcher.close());
    const err = await fetchError(fetcher.fetch(gone.url('/')));
    assert.equal(err.code, 'network');
    assert.equal(err.retryable, true);
    assert.match(err.message, /ECONNREFUSED/);
  });

  it('stops when the caller aborts, closing the connection', async (t) => {
    const sockets: Socket[] = [];
    const { site, fetcher } = await setup(t, endless(sockets, { 'content-type': 'text/plain' }, Buffer.from('data'), 20));
    const controller = new AbortController();
    const err = await fetchError(fetcher.fetch(site.url('/'), { signal: controller.signal, onBody: () => controller.abort() }));
    assert.equal(err.code, 'aborted');
    await site.closed(sockets[0]);
  });

  it('does not start when the signal is already aborted', async (t) => {
    let requests = 0;
    const { site, fetcher } = await setup(t, (_req, res) => {
      requests++;
      res.end();
    });
    const err = await fetchError(fetcher.fetch(site.url('/'), { signal: AbortSignal.abort() }));
    assert.equal(err.code, 'aborted');
    assert.equal(requests, 0);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  const max = 3_600_000;

  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('120', now, max), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now, max), 0);
    assert.equal(parseRetryAfter('2025', now, max), 2_025_000, 'digits alone are seconds, not a year');
    assert.equal(parseRetryAfter('999999', now, max), max);
  });

  it('reads the three HTTP-date forms as GMT', () => {
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 12:00:30 GMT', now, max), 30_000);
    assert.equal(parseRetryAfter('Wednesday, 01-Jan-25 12:01:00 GMT', now, max), 60_000);
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      assert.equal(parseRetryAfter('Wed Jan  1 12:00:05 2025', now, max), 5_000);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it('clamps past dates to 0 and caps far ones', () => {
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 12:00:00 GMT', now, max), 0);
    assert.equal(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT', now, max), max);
  });

  it('returns null for anything else', () => {
    for (const v of [null, undefined, '', '-5', '1.5', '1e3', 'soon', '12:00:00']) assert.equal(parseRetryAfter(v, now, max), null, String(v));
  });
});

describe('classifyStatus', () => {
  it('sorts statuses into done, retry and error', () => {
    for (const s of [200, 203, 204, 299]) assert.equal(classifyStatus(s).outcome, 'done', String(s));
    for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(classifyStatus(s).outcome, 'retry', String(s));
    for (const s of [400, 401, 403, 404, 410, 451, 301, 304, 100, 600]) assert.equal(classifyStatus(s).outcome, 'error', String(s));
    assert.deepEqual(classifyStatus(503), { outcome: 'retry', reason: 'HTTP 503' });
  });
});
