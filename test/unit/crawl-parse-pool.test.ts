/**
 * Pages parsed on worker threads (crawl/parse-pool.ts): the same records the daemon's thread made
 * of the link extractor's corpus, bodies transferred rather than copied, a thread that crashes
 * replaced with its page retried and the crawl finished, and the pool's size flag checked.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { extractData, parseFields } from '../../server/src/crawl/extract';
import { extractLinks, sniffEncoding } from '../../server/src/crawl/links';
import type { ParseRequest } from '../../server/src/crawl/parse';
import { BIG_BYTES, INLINE_BYTES, ParsePool, ParserLost } from '../../server/src/crawl/parse-pool';
import { UsageError } from '../../server/src/daemon/process/args';
import { parseDaemonArgs } from '../../server/src/daemon/process/options';
import { crawler } from './helpers/crawler';
import { htmlPiece } from './helpers/html-pieces';
import { page, startHost, text, type TestHost } from './helpers/testsite';

const PAGE = 'https://example.com/dir/page.html';
/** What the test hook (parse-worker.ts) crashes a thread on. */
const CRASH = 'crash-this-parser-thread';
const FIELDS = { heading: 'title', 'hrefs[]': 'a @href', 'texts[]': 'a, p' };

const pools: ParsePool[] = [];
after(() => Promise.all(pools.map((p) => p.close())));
/** Every page to a thread, however small, unless `threads` is 0. */
function pool(threads: number): ParsePool {
  const p = new ParsePool(threads, 0);
  pools.push(p);
  return p;
}

/** What the daemon's thread made of a page before the pool (page.ts, at ab36f2c): the extraction, then the fields on its tree. */
function asBefore(r: ParseRequest) {
  const { tree, ...links } = extractLinks(r.body, r.url, { botToken: r.botToken, encoding: sniffEncoding(r.body, r.charset), document: r.fields !== null });
  const extracted = r.fields !== null && tree !== null ? extractData(tree.document, parseFields(r.fields)) : null;
  return {
    ...links,
    data: extracted?.data ?? null,
    stopped: extracted?.stopped ?? [],
    failed: extracted?.failed ?? [],
    treeTruncated: tree?.truncated ?? false,
  };
}

/** The corpus: the link extractor's random pages, and pages in the encodings its tests settle. */
function corpus(): { body: Buffer; charset: string | null }[] {
  const latin = (s: string) => Buffer.from(s, 'latin1');
  const pages = fc.sample(fc.array(htmlPiece, { maxLength: 40 }), { numRuns: 300, seed: 17 }).map((pieces, i) => ({
    body: Buffer.from(pieces.join('')),
    charset: [null, 'utf-8', 'windows-1252', 'no-such-charset'][i % 4],
  }));
  return [
    ...pages,
    { body: latin('<title>Fran\xe7ais</title><a href="/caf\xe9">c</a>'), charset: 'windows-1252' },
    { body: latin('<html><head><meta charset="windows-1252"></head><body><a href="/caf\xe9">caf\xe9</a></body></html>'), charset: null },
    { body: latin('<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS"><title>\x93\xfa\x96\x7b</title><a href="/x">x</a>'), charset: null },
    { body: latin('<meta charset="utf-16"><title>caf\xc3\xa9</title>'), charset: null },
    {
      body: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<title>UTF-16</title><a href="/\u00e9t\u00e9">\u00e9t\u00e9</a>', 'utf16le')]),
      charset: 'iso-8859-2',
    },
    { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), latin('<meta charset="windows-1252"><title>bom</title>')]), charset: 'iso-8859-2' },
    { body: latin(`${' '.repeat(1100)}<meta charset="windows-1252"><title>caf\xe9</title>`), charset: null },
  ];
}

describe('parsing on worker threads', () => {
  test("gives the daemon's thread's records of the link and encoding corpus, with and without fields", async () => {
    const threads = pool(1);
    const here = pool(0);
    const requests = corpus().flatMap(({ body, charset }, i) => {
      const r = { url: PAGE, charset, botToken: 'crawl-orchestrator', fields: i % 3 === 0 ? FIELDS : null };
      // Each its own copy of the body: the pool takes the one it is given.
      return [0, 1, 2].map(() => ({ ...r, body: Buffer.from(body) }));
    });
    const results = await Promise.all(requests.map((r, i) => (i % 3 === 2 ? here.parse(r) : i % 3 === 1 ? threads.parse(r) : Promise.resolve(asBefore(r)))));
    for (let i = 0; i < results.length; i += 3) {
      assert.deepEqual(results[i + 1], results[i], `on a thread: ${requests[i].body.toString('latin1').slice(0, 200)}`);
      assert.deepEqual(results[i + 2], results[i], `on this thread: ${requests[i].body.toString('latin1').slice(0, 200)}`);
    }
    assert.ok(
      results.some((r) => r.links.length > 0 && r.data !== null),
      'the corpus has links and fields',
    );
  });

  test('reads a small page on this thread, even with threads', async () => {
    const p = new ParsePool(1);
    pools.push(p);
    const body = Buffer.from(`<title>small</title>${'<a href="/x">x</a>'.repeat(100)}`);
    const big = new Uint8Array(Buffer.from(`<title>big</title>${'<a href="/x">x</a>'.repeat(300)}`));
    const length = body.byteLength;
    assert.equal((await p.parse({ url: PAGE, body, charset: null, botToken: 'bot', fields: null })).title, 'small');
    assert.equal(body.byteLength, length, 'not sent: still here');
    assert.equal((await p.parse({ url: PAGE, body: big, charset: null, botToken: 'bot', fields: null })).title, 'big');
    assert.equal(big.byteLength, 0, 'a page of 4 KB or more is sent');
  });

  test('a big page is read on a thread of its own: pages sent after it, of one thread, do not wait for it', async () => {
    const p = pool(1);
    // Some 8 MB of nesting: the slowest kind of page to read, a good part of a second here, where the small ones take a few ms.
    const huge = Buffer.from(`<title>huge</title>${'<b><i>'.repeat(1_400_000)}`);
    assert.ok(huge.byteLength >= BIG_BYTES);
    const small = (n: number) => Buffer.from(`<title>small ${n}</title>${'<a href="/x">x</a>'.repeat(300)}`);
    const order: string[] = [];
    const reading = [huge, small(1), small(2)].map((body) =>
      p.parse({ url: PAGE, body, charset: null, botToken: 'bot', fields: null }).then((r) => order.push(r.title ?? '')),
    );
    await Promise.all(reading);
    assert.deepEqual(order, ['small 1', 'small 2', 'huge']);
  });

  test('transfers a body that owns its buffer, and copies a slice of a shared one', async () => {
    const p = pool(1);
    const owned = new Uint8Array(Buffer.from(`<title>big</title>${'<a href="/x">x</a>'.repeat(1000)}`));
    assert.equal(owned.byteLength, owned.buffer.byteLength);
    const big = await p.parse({ url: PAGE, body: owned, charset: null, botToken: 'bot', fields: null });
    assert.equal(big.title, 'big');
    assert.equal(owned.byteLength, 0, 'moved to the thread: nothing left here');
    // Small Buffers are slices of one 8 KB pool, whose neighbours must stay.
    const small = Buffer.from('<title>small</title>');
    const neighbour = Buffer.from('a neighbour in the pool');
    assert.notEqual(small.byteLength, small.buffer.byteLength);
    const r = await p.parse({ url: PAGE, body: small, charset: null, botToken: 'bot', fields: null });
    assert.equal(r.title, 'small');
    assert.equal(small.toString(), '<title>small</title>', 'copied: still here');
    assert.equal(neighbour.toString(), 'a neighbour in the pool');
    // So is a view into a larger buffer.
    const whole = Buffer.from(`<!-- before --><title>inside</title>${' '.repeat(8000)}`);
    const view = whole.subarray('<!-- before -->'.length);
    assert.equal((await p.parse({ url: PAGE, body: view, charset: null, botToken: 'bot', fields: null })).title, 'inside');
    assert.equal(whole.byteLength, 8036, 'the buffer it is a view of stays here');
  });

  describe('a thread that crashes', () => {
    let saved: string | undefined;
    before(() => {
      saved = process.env.CRAWL_TEST_PARSE_CRASH;
      process.env.CRAWL_TEST_PARSE_CRASH = CRASH;
    });
    after(() => {
      if (saved === undefined) delete process.env.CRAWL_TEST_PARSE_CRASH;
      else process.env.CRAWL_TEST_PARSE_CRASH = saved;
    });

    test('fails the page it was reading, gives back those sent behind it, and is replaced', async () => {
      const p = pool(1);
      const req = (html: string): ParseRequest => ({ url: PAGE, body: Buffer.from(html), charset: null, botToken: 'bot', fields: null });
      const settled = await Promise.allSettled([
        p.parse(req(`<title>${CRASH}</title>`)),
        p.parse(req('<title>behind</title>')),
        p.parse(req('<title>also</title>')),
      ]);
      const [culprit, ...behind] = settled.map((s) => (s.status === 'rejected' ? (s.reason as ParserLost) : null));
      assert.ok(culprit instanceof ParserLost && culprit.culprit, `the page that crashed it is the culprit: ${String(culprit)}`);
      assert.match(culprit.message, /parser thread ended \(exit code 87\)/);
      for (const lost of behind) assert.ok(lost instanceof ParserLost && !lost.culprit, `a page behind it is not: ${String(lost)}`);
      assert.equal((await p.parse(req('<title>next</title>'))).title, 'next', 'a new thread reads the next page');
    });

    const hosts: TestHost[] = [];
    after(() => Promise.all(hosts.map((h) => h.close())));

    test("retries the page, whose job pays an attempt, and the crawl finishes; a page that always crashes it fails, the daemon's thread never", async () => {
      // Past INLINE_BYTES, so that a thread reads them.
      const crashing = `<title>${CRASH}</title>${' '.repeat(INLINE_BYTES)}`;
      const crashOnce = (_req: unknown, res: import('node:http').ServerResponse, hit: number) => {
        res.setHeader('content-type', 'text/html');
        res.end(hit === 1 ? crashing : `<title>second try</title><a href="/">home</a>${' '.repeat(INLINE_BYTES)}`);
      };
      const h = await startHost('127.0.0.2', {
        '/robots.txt': text(''),
        '/': page(['/once', '/always', '/fine']),
        '/once': crashOnce,
        '/always': text(crashing, 'text/html'),
        '/fine': page(['/']),
      });
      hosts.push(h);
      const cr = crawler({ settings: { parseThreads: 1 } });
      const crawl = await cr.run({ seeds: [h.url('/')], scope: 'host' });
      assert.equal(crawl.counts.done, 3);
      const once = await cr.byUrl(crawl.id, h.url('/once'));
      assert.equal(once.job.state, 'done');
      assert.equal(once.job.attempts, 2, 'its crash spent one attempt');
      // Fetched again once more when it was sent behind /always as that one crashed the thread: released, unspent.
      assert.ok(h.hits.get('/once')! >= 2, `fetched ${h.hits.get('/once')} times`);
      const always = await cr.byUrl(crawl.id, h.url('/always'));
      assert.equal(always.job.state, 'error');
      assert.match(always.job.lastError ?? '', /parser thread ended/);
      const pageOnce = await cr.crawls.page(crawl.id, h.url('/once'));
      assert.equal(pageOnce.page.title, 'second try');
    });
  });
});

test('--parse-threads takes 0 to 64 or auto, and refuses anything else', () => {
  const threads = (...argv: string[]) => parseDaemonArgs(argv).options.parseThreads;
  assert.equal(threads(), undefined);
  assert.equal(threads('--parse-threads', 'auto'), undefined);
  assert.equal(threads('--parse-threads', '0'), 0);
  assert.equal(threads('--parse-threads=3'), 3);
  assert.equal(threads('--parse-threads', '64'), 64);
  for (const bad of ['65', '-1', '1.5', 'none']) {
    assert.throws(
      () => threads('--parse-threads', bad),
      (err: Error) => err instanceof UsageError && /--parse-threads: must be a whole number from 0 to 64, or auto/.test(err.message),
      bad,
    );
  }
});
