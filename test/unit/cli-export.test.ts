/**
 * `crawlctl export`, `crawlctl report` and `job`'s page record. In process: what the export writes
 * (the contract's formats, tested in exports.test.ts, with crawlctl's own escaping), its
 * backpressure against a fake daemon, and the report's layout. As processes: a real daemon
 * crawling real loopback sites (a broken link from two known pages with known link texts, a
 * redirect, a seed that is gone; and a site of 2,500 pages, three cursor pages of records),
 * exported and reported through files and the shell's pipes.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { exportCrawl } from '../../server/src/cli/export';
import { Sink } from '../../server/src/exports';
import { EXPORT_BATCH, fileHeader, formatRecords, type Ask } from '../../server/src/exports';
import { LISTED_REFERRERS, reportText } from '../../server/src/cli/report';
import type { CrawlReport, LinkRecord, Method, PageRecord } from '../../server/src/protocol';
import { crawlctl, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { pipes, SLOWLY } from './helpers/pipes';
import { startHost, status, text as textRoute, type Route, type TestHost } from './helpers/testsite';

// ---------------------------------------------------------------------------------------------
// Helpers

function record(url: string, over: Partial<PageRecord> = {}): PageRecord {
  return {
    url,
    jobId: 1,
    finalUrl: url,
    redirects: [],
    status: 200,
    error: null,
    skipped: false,
    contentType: 'text/html',
    bytes: 100,
    fetchMs: 3,
    fetchedAt: '2025-01-01T00:00:00.000Z',
    depth: 0,
    title: 't',
    description: null,
    canonical: null,
    robots: null,
    lang: null,
    foundOn: null,
    linkText: null,
    outlinks: 0,
    inlinks: 0,
    sha256: null,
    data: null,
    lastmod: null,
    ...over,
  };
}

/** A daemon's crawl/pages over fixed records, paged by index cursors; it keeps the calls. */
function fakeDaemon(pages: PageRecord[]) {
  const calls: { method: string; params: any }[] = [];
  const ask = (async (method: Method, params: any) => {
    calls.push({ method, params });
    if (method === 'crawl/get' && params.crawlId === 'c_1') return { crawl: { options: {} } };
    if (method !== 'crawl/pages' || params.crawlId !== 'c_1') throw new Error(`unexpected ${method} of ${params.crawlId}`);
    const from = params.cursor ? Number(params.cursor) : 0;
    const next = from + params.limit;
    return { pages: pages.slice(from, next), nextCursor: next < pages.length ? String(next) : null };
  }) as Ask;
  return { ask, calls };
}

/** A stream that keeps what it is given, taking each chunk at once or only when released. */
class Collector extends Writable {
  readonly chunks: string[] = [];
  private held: (() => void)[] = [];
  hold = false;

  constructor(highWaterMark = 16 * 1024) {
    super({ highWaterMark, decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(String(chunk));
    if (this.hold) this.held.push(() => done());
    else done();
  }

  /** Takes whatever waits, and everything after it. */
  release(): void {
    this.hold = false;
    for (const d of this.held.splice(0)) d();
  }

  get text(): string {
    return this.chunks.join('');
  }
}

async function run(ask: Ask, what: 'pages', format: 'jsonl' | 'csv', opts = {}) {
  const out = new Collector();
  const counts = await exportCrawl(ask, 'c_1', what, format, new Sink(out), opts);
  return { counts, text: out.text };
}

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

// ---------------------------------------------------------------------------------------------
// In process

describe('export against a fake daemon', () => {
  const many = Array.from({ length: 2 * EXPORT_BATCH + 500 }, (_, i) => record(`http://a.test/p/${i}`, { jobId: i + 1, depth: i % 7 }));

  test("the contract's formats, the CSV header first, over several cursor pages; the lines counted", async () => {
    const { ask, calls } = fakeDaemon(many);
    const jsonl = await run(ask, 'pages', 'jsonl');
    assert.equal(jsonl.text, formatRecords('pages', 'jsonl', many));
    assert.deepEqual(jsonl.counts, { rows: many.length, urls: 0 });
    assert.equal(calls.length, 3);
    const csv = await run(ask, 'pages', 'csv');
    assert.equal(csv.text, fileHeader('pages', 'csv') + formatRecords('pages', 'csv', many));
    assert.deepEqual(csv.counts, { rows: many.length, urls: 0 }, 'the header is not a line of data');
  });

  test('what a terminal would act on: JSON lines escape it losslessly; CSV escapes it only for a terminal', async () => {
    const evil = [record('http://a.test/', { title: 'x\x1b]0;pwned\x07\u009b2J\u202eevil' })];
    const { ask } = fakeDaemon(evil);
    const jsonl = (await run(ask, 'pages', 'jsonl')).text;
    assert.doesNotMatch(jsonl, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    assert.equal(JSON.parse(jsonl).title, evil[0].title, 'the same value read back');
    const exact = (await run(ask, 'pages', 'csv')).text;
    assert.equal(exact, fileHeader('pages', 'csv') + formatRecords('pages', 'csv', evil), 'to a file or a pipe: exact');
    const shown = (await run(ask, 'pages', 'csv', { terminal: true })).text;
    assert.doesNotMatch(shown, /[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u202e]/);
    assert.match(shown, /x\\x1b\]0;pwned\\x07\\x9b2J\\u202eevil/);
  });

  /** An export of `many` to an output that takes nothing until released. */
  const held = () => {
    const { ask, calls } = fakeDaemon(many);
    const out = new Collector(1024);
    out.hold = true;
    return { calls, out, done: exportCrawl(ask, 'c_1', 'pages', 'jsonl', new Sink(out)) };
  };

  test('backpressure: while the output holds a page, one more is read ahead and no further', async () => {
    const { calls, out, done } = held();
    await ticks(50);
    assert.equal(calls.length, 2, 'the first page is written and waits for the reader; the second is read meanwhile');
    assert.equal(out.chunks.length, 1);
    out.release();
    const counts = await done;
    assert.equal(calls.length, 3);
    assert.equal(counts.rows, many.length);
    assert.equal(out.text.split('\n').length - 1, many.length);
  });

  test('a reader that goes away ends the export, and no more is asked for', async () => {
    const { calls, out, done } = held();
    await ticks(20);
    out.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await assert.rejects(done, { name: 'OutputError', message: 'write EPIPE' });
    assert.equal(calls.length, 2, 'the page read ahead, and none after');
  });
});

describe('the report, as text', () => {
  const long = `http://example.test/${'very-long-segment/'.repeat(8)}end.html`;
  const report: CrawlReport = {
    crawlId: 'c_1',
    pages: 1234,
    byStatus: { error: 3, 404: 19, 200: 812, 301: 4, skipped: 2 },
    byContentType: { 'text/html': 800, 'application/pdf': 12, none: 3 },
    byHost: [
      { host: 'example.test', pages: 1200, errors: 22, meanFetchMs: 45.4 },
      { host: 'cdn.example.test', pages: 34, errors: 0, meanFetchMs: null },
    ],
    brokenLinks: [
      {
        url: 'http://example.test/missing',
        status: 404,
        error: 'HTTP 404',
        referrerCount: 7,
        referrers: Array.from({ length: 7 }, (_, i) => ({
          url: i === 0 ? long : `http://example.test/r${i}`,
          text: i === 1 ? 'a \x1b[31mred\x1b[0m link' : `text ${i}`,
        })),
        foundOn: long,
      },
      { url: 'http://down.test/', status: null, error: 'connect ECONNREFUSED 127.0.0.1:9', referrerCount: 0, referrers: [], foundOn: null },
      { url: 'http://example.test/moved-away', status: 404, error: 'HTTP 404', referrerCount: 0, referrers: [], foundOn: 'http://example.test/old' },
      {
        url: 'http://example.test/threw',
        status: 200,
        error: 'handler: boom',
        referrerCount: 1,
        referrers: [{ url: 'http://example.test/', text: 'Threw' }],
        foundOn: 'http://example.test/',
      },
    ],
    brokenCount: 4,
    redirects: [
      { url: 'http://example.test/old', finalUrl: 'http://example.test/new', status: 301 },
      { url: long, finalUrl: `${long}?moved`, status: 308 },
    ],
    redirectCount: 2,
    slowest: [
      { url: long, fetchMs: 1234.4 },
      { url: 'http://example.test/', fetchMs: 12 },
    ],
    largest: [{ url: 'http://example.test/big.pdf', bytes: 5 * 1024 * 1024 }],
    missingTitles: 2,
  };

  test('every section, in 80 columns, long URLs cut in the middle, remote text escaped', () => {
    const shown = `${reportText(report, 80)}`;
    const lines = shown.split('\n');
    for (const l of lines) assert.ok([...l].length <= 80, `${[...l].length} columns: ${l}`);
    assert.equal(lines[0], 'Crawl c_1: 1,234 pages');
    assert.match(shown, /^Statuses {8}200 × 812, 301 × 4, 404 × 19, error × 3, skipped × 2$/m);
    assert.match(shown, /^Content types {3}text\/html × 800, application\/pdf × 12, none × 3$/m);
    assert.match(shown, /^Missing titles {2}2 HTML pages without a title$/m);
    assert.match(shown, /^ {2}example\.test +1,200 +22 +45 ms$/m);
    assert.match(shown, /^Broken links \(4 URLs\)$/m);
    assert.match(
      shown,
      /^ {2}http:\/\/example\.test\/missing\n {4}HTTP 404 · linked from 7 pages\n {6}http:\/\/example\.test\/very-lon.*….*end\.html {2}"text 0"$/m,
    );
    assert.match(shown, /^ {6}http:\/\/example\.test\/r1 {2}"a \\x1b\[31mred\\x1b\[0m link"$/m);
    assert.equal(shown.match(/^ {6}http:\/\/example\.test\/r\d/gm)?.length, LISTED_REFERRERS - 1);
    assert.match(shown, /^ {6}and 2 more \(crawlctl export c_1 --what broken\)$/m);
    assert.match(shown, /^ {2}http:\/\/down\.test\/\n {4}connect ECONNREFUSED 127\.0\.0\.1:9 · linked from no page \(a seed\)$/m);
    // Reached by a redirect, not a link: where from, not "a seed"; failed with a 200: why, not the status.
    assert.match(shown, /^ {2}http:\/\/example\.test\/moved-away\n {4}HTTP 404 · reached by a redirect\n {6}from http:\/\/example\.test\/old$/m);
    assert.match(shown, /^ {2}http:\/\/example\.test\/threw\n {4}handler: boom · linked from 1 page$/m);
    assert.match(shown, /^Redirects \(2\)\n {2}301 {2}http:\/\/example\.test\/old → http:\/\/example\.test\/new$/m);
    assert.match(shown, /^ {2}308 {2}http:\/\/example\.te…\S*end\.html → http:\/\/example\.te…\S*end\.html\?moved$/m);
    assert.match(shown, /^Slowest pages\n {2}1,234 ms {2}http:\/\/example\.test\/very.*….*\/end\.html\n {5}12 ms {2}http:\/\/example\.test\/$/m);
    assert.match(shown, /^Largest pages\n {2}5\.0 MB {2}http:\/\/example\.test\/big\.pdf$/m);
    assert.doesNotMatch(shown, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  });

  test('an empty crawl says so', () => {
    const shown = `${reportText({ ...report, pages: 0, byStatus: {}, byContentType: {}, byHost: [], brokenLinks: [], brokenCount: 0, redirects: [], redirectCount: 0, slowest: [], largest: [], missingTitles: 0 })}`;
    assert.match(shown, /^Crawl c_1: 0 pages$/m);
    assert.match(shown, /^Broken links: none$/m);
    assert.match(shown, /^Redirects: none$/m);
    assert.doesNotMatch(shown, /Slowest|Largest|Hosts/);
  });
});

// ---------------------------------------------------------------------------------------------
// crawlctl and a real daemon

/** An HTML page with these links and their texts. */
function html(title: string, links: [href: string, text: string][]): Route {
  return (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(
      `<!doctype html><html lang="en"><head><title>${title}</title><meta name="description" content="About ${title}"></head>` +
        `<body>${links.map(([href, t]) => `<a href="${href}">${t}</a>`).join('\n')}</body></html>`,
    );
  };
}

/** Pages of the big site (three cursor pages of 1,000): a binary tree, so the crawl goes wide at once. */
const BIG = 2500;

let daemon: DaemonProc;
let site: TestHost;
let big: TestHost;
let dir: string;
let crawlId: string;
let bigCrawlId: string;
const at = () => ['--state-dir', daemon.stateDir];
const u = (p: string) => site.url(p);

let piped: ReturnType<typeof pipes>;
const slowly = SLOWLY;

async function crawlOf(seeds: string[]): Promise<string> {
  const r = await crawlctl(['crawl', ...seeds, '--wait', '--json', '--allow-failures', ...at()], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.crawl.state, 'finished');
  return out.crawlId as string;
}

const jsonLines = (s: string) =>
  s
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('with a daemon and loopback sites', () => {
  before(async () => {
    dir = scratch('crawlctl-export-');
    piped = pipes(dir, () => daemon.stateDir);
    site = await startHost('127.0.0.44', {
      '/robots.txt': textRoute(''),
      '/': html('Home, "sweet" home', [
        ['/a', 'About us'],
        ['/b', 'Blog'],
        ['/missing', 'Missing page'],
        ['/old', 'Old page'],
      ]),
      '/a': html('About', [
        ['/missing', 'gone, for "good"'],
        ['/b', 'Blog'],
      ]),
      '/b': html('Blog', [['/', 'Home']]),
      '/old': status(301, { location: '/new' }),
      '/new': html('New', []),
      // /missing and /seed-gone: 404
    });
    const routes: Record<string, Route> = { '/robots.txt': textRoute('') };
    for (let i = 0; i < BIG; i++) {
      routes[`/p/${i}`] = html(
        `Page ${i}`,
        [2 * i + 1, 2 * i + 2].filter((k) => k < BIG).map((k) => [`/p/${k}`, `to ${k}`]),
      );
    }
    big = await startHost('127.0.0.45', routes);
    daemon = await startDaemon({ args: ['--per-host', '8', '--max-workers', '16'] });
    crawlId = await crawlOf([u('/'), u('/seed-gone')]);
    bigCrawlId = await crawlOf([big.url('/p/0')]);
  });

  after(async () => {
    await daemon?.stop();
    await site?.close();
    await big?.close();
  });

  test('output that cannot be written (a full disk) fails the command, said once and without a stack trace', async () => {
    for (const args of [
      ['export', crawlId],
      ['export', crawlId, '--format', 'csv'],
      ['report', crawlId, '--json'],
      ['crawls', '--json'],
      ['jobs', '--all'],
    ]) {
      const full = fs.openSync('/dev/full', 'w');
      try {
        const r = await crawlctl([...args, ...at()], { stdout: full });
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr.match(/cannot write standard output: ENOSPC/g)?.length, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      } finally {
        fs.closeSync(full);
      }
    }
  });

  describe('crawlctl export', () => {
    test('pages as JSON lines: one a page, with its status', async () => {
      const r = await crawlctl(['export', crawlId, ...at()]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'nothing but the data, and that on stdout');
      const pages: PageRecord[] = jsonLines(r.stdout);
      const byUrl = new Map(pages.map((p) => [p.url, p]));
      assert.equal(byUrl.size, pages.length, 'each URL once');
      const statuses = Object.fromEntries(['/', '/a', '/b', '/missing', '/seed-gone', '/new'].map((p) => [p, byUrl.get(u(p))?.status]));
      assert.deepEqual(statuses, { '/': 200, '/a': 200, '/b': 200, '/missing': 404, '/seed-gone': 404, '/new': 200 });
      const old = byUrl.get(u('/old'));
      assert.ok(old, 'the redirecting URL has its record');
      assert.equal(old.finalUrl, u('/new'));
      assert.deepEqual(old.redirects.at(-1), u('/new'));
      assert.equal(byUrl.get(u('/'))?.title, 'Home, "sweet" home');
      assert.equal(byUrl.get(u('/a'))?.foundOn, u('/'));
      assert.equal(byUrl.get(u('/a'))?.linkText, 'About us');
      assert.deepEqual([...pages.map((p) => p.url)].sort(), [...byUrl.keys()].sort());
    });

    test('pages as CSV: the header, then a row a page that reads back as the JSON records', async () => {
      const [csv, jsonl] = await Promise.all([crawlctl(['export', crawlId, '--format', 'csv', ...at()]), crawlctl(['export', crawlId, ...at()])]);
      assert.equal(csv.code, 0, csv.stderr);
      assert.ok(
        csv.stdout.startsWith(
          'url,jobId,finalUrl,redirects,status,error,skipped,contentType,bytes,fetchMs,fetchedAt,lastmod,depth,title,' +
            'description,canonical,robots,lang,foundOn,linkText,outlinks,inlinks,sha256,data\r\n',
        ),
      );
      const records: PageRecord[] = jsonLines(jsonl.stdout);
      assert.ok(records.length > 5);
      assert.equal(csv.stdout, fileHeader('pages', 'csv') + formatRecords('pages', 'csv', records));
      assert.ok(csv.stdout.includes('"Home, ""sweet"" home"'), 'a title with a comma and quotes, quoted');
    });

    test("a crawl with --extract fields: its data in every page's JSON line, a CSV column each; a bad selector refused", async () => {
      const bad = await crawlctl(['crawl', u('/'), '--extract', 'title=title[', ...at()]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /extract\.title: not a CSS selector/);
      assert.equal((await crawlctl(['crawl', u('/'), '--extract', 'title', ...at()])).code, 2, 'no = : a usage error');
      const r = await crawlctl(['crawl', u('/'), '--extract', 'heading=title', '--extract', 'to[]=a @href', '--wait', '--json', '--allow-failures', ...at()], {
        timeoutMs: 180_000,
      });
      assert.equal(r.code, 0, r.stderr);
      const id = JSON.parse(r.stdout).crawlId as string;
      const byUrl = new Map((jsonLines((await crawlctl(['export', id, ...at()])).stdout) as PageRecord[]).map((p) => [p.url, p]));
      assert.deepEqual(byUrl.get(u('/a'))?.data, { heading: 'About', to: ['/missing', '/b'] });
      assert.deepEqual(byUrl.get(u('/missing'))?.data, null, 'no page read: no data');
      const job = (await crawlctl(['job', String(byUrl.get(u('/a'))!.jobId), ...at()])).stdout;
      assert.match(job, /^data\.heading +About$/m);
      assert.match(job, /^data\.to +\/missing; \/b$/m);
      const csv = (await crawlctl(['export', id, '--format', 'csv', ...at()])).stdout.split('\r\n');
      assert.ok(csv[0].endsWith(',sha256,data,data.heading,data.to'), csv[0]);
      assert.ok(csv.some((row) => row.startsWith(`${u('/a')},`) && row.endsWith(',About,/missing; /b')));
    });

    test('links: the known edges with their texts', async () => {
      const r = await crawlctl(['export', crawlId, '--what', 'links', ...at()]);
      assert.equal(r.code, 0, r.stderr);
      const links: LinkRecord[] = jsonLines(r.stdout);
      const has = (from: string, to: string, text: string) => links.some((l) => l.from === u(from) && l.to === u(to) && l.text === text);
      assert.ok(has('/', '/a', 'About us'));
      assert.ok(has('/', '/missing', 'Missing page'));
      assert.ok(has('/a', '/missing', 'gone, for "good"'));
      assert.ok(has('/b', '/', 'Home'));
      assert.ok(has('/', '/old', 'Old page'));
      for (const l of links) assert.deepEqual(Object.keys(l), ['from', 'to', 'text', 'followed', 'reason']);
    });

    test('broken: exactly each broken URL with each page linking to it, and the seed that is gone alone', async () => {
      const r = await crawlctl(['export', crawlId, '--what', 'broken', ...at()]);
      assert.equal(r.code, 0, r.stderr);
      const broken = jsonLines(r.stdout);
      const rows = broken.map((x) => ({ ...x, error: undefined }));
      const key = (x: { url: string; referrer: string | null }) => `${x.url} ${x.referrer}`;
      assert.deepEqual(
        rows.sort((a, b) => key(a).localeCompare(key(b))),
        [
          { url: u('/missing'), status: 404, error: undefined, referrer: u('/'), text: 'Missing page' },
          { url: u('/missing'), status: 404, error: undefined, referrer: u('/a'), text: 'gone, for "good"' },
          { url: u('/seed-gone'), status: 404, error: undefined, referrer: null, text: null },
        ],
      );
      const csv = (await crawlctl(['export', crawlId, '--what', 'broken', '--format', 'csv', ...at()])).stdout;
      assert.equal(csv, fileHeader('broken', 'csv') + formatRecords('broken', 'csv', broken), 'the same rows, in the same order');
    });

    test('-o FILE: the data in the file, a one-line summary on stderr, nothing on stdout', async () => {
      const file = path.join(dir, 'broken.csv');
      fs.writeFileSync(file, 'old content that must go\n'.repeat(1000));
      const r = await crawlctl(['export', crawlId, '--what', 'broken', '--format', 'csv', '-o', file, ...at()]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `exported 2 broken URLs (3 lines: one per page linking to them) to ${file}\n`);
      const written = fs.readFileSync(file, 'utf8');
      assert.ok(written.startsWith('url,status,error,referrer,text\r\n'), 'truncated, then the header');
      assert.equal(written.match(/\r\n/g)?.length, 4, 'and 3 rows');

      const pagesFile = path.join(dir, 'pages.jsonl');
      const p = await crawlctl(['export', crawlId, '--output', pagesFile, '--json', ...at()]);
      assert.equal(p.code, 0, p.stderr);
      const summary = JSON.parse(p.stdout);
      assert.equal(summary.rows, jsonLines(fs.readFileSync(pagesFile, 'utf8')).length);
      assert.deepEqual({ ...summary, rows: 0 }, { crawlId, what: 'pages', format: 'jsonl', file: pagesFile, rows: 0 });

      const nowhere = await crawlctl(['export', crawlId, '-o', path.join(dir, 'no-such-folder', 'x.jsonl'), ...at()]);
      assert.equal(nowhere.code, 2);
      assert.match(nowhere.stderr, /^crawlctl export: cannot write .*x\.jsonl: no such folder$/m);
    });

    test('an unknown crawl: the daemon\'s "no crawl" and exit 1, no file touched; bad flags exit 2', async () => {
      const file = path.join(dir, 'keep.jsonl');
      fs.writeFileSync(file, 'keep me\n');
      const r = await crawlctl(['export', 'c_nope', '-o', file, ...at()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^crawlctl export: no crawl c_nope$/m);
      assert.equal(r.stdout, '');
      assert.equal(fs.readFileSync(file, 'utf8'), 'keep me\n');
      const rep = await crawlctl(['report', 'c_nope', ...at()]);
      assert.equal(rep.code, 1);
      assert.match(rep.stderr, /^crawlctl report: no crawl c_nope$/m);

      const bad = await crawlctl(['export', crawlId, '--what', 'brokne', ...at()]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--what: must be one of pages, links, broken \(got "brokne"\)/);
      const typo = await crawlctl(['export', crawlId, '--fromat', 'csv', ...at()]);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /unknown flag --fromat\nDid you mean "--format"\?/);
      assert.equal((await crawlctl(['export', ...at()])).code, 2);
    });

    test('| head -1: the first line, then a quiet exit 0', async () => {
      const r = await piped(['export', bigCrawlId], 'head -1 >"$OUT"');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'no EPIPE trace');
      const lines = r.got.toString('utf8').split('\n');
      assert.equal(lines.length, 2);
      assert.equal(JSON.parse(lines[0]).url.startsWith(big.url('/p/')), true);
    });

    test('a large export through a slow pipe reader arrives whole: pages, links and CSV past a cursor page', async () => {
      const pages = await piped(['export', bigCrawlId], slowly);
      assert.equal(pages.code, 0, pages.stderr);
      assert.equal(pages.stderr, '');
      const records: PageRecord[] = jsonLines(pages.got.toString('utf8'));
      assert.equal(records.length, BIG);
      assert.equal(new Set(records.map((p) => p.url)).size, BIG);
      assert.ok(records.every((p) => p.status === 200));

      const links = await piped(['export', bigCrawlId, '--what', 'links'], slowly);
      assert.equal(links.code, 0, links.stderr);
      assert.equal(jsonLines(links.got.toString('utf8')).length, BIG - 1, 'every page but the root is linked once');

      const csv = await piped(['export', bigCrawlId, '--format', 'csv'], slowly);
      assert.equal(csv.code, 0, csv.stderr);
      assert.equal(csv.got.toString('utf8'), fileHeader('pages', 'csv') + formatRecords('pages', 'csv', records));

      const counted = await piped(['export', bigCrawlId], 'wc -l >"$OUT"');
      assert.equal(counted.code, 0, counted.stderr);
      assert.equal(counted.got.toString('utf8').trim(), String(BIG));
    });
  });

  describe('crawlctl report', () => {
    test('the broken URL with its two referrers and their texts, the redirect, the statuses', async () => {
      const r = await crawlctl(['report', crawlId, ...at()]);
      assert.equal(r.code, 0, r.stderr);
      const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(r.stdout, new RegExp(`^Crawl ${crawlId}: \\d+ pages$`, 'm'));
      assert.match(r.stdout, /^Statuses {8}200 × \d+, 301 × 1, 404 × 2$/m);
      assert.match(r.stdout, new RegExp(`^ {2}${esc(u('/missing'))}\\n {4}HTTP 404 · linked from 2 pages$`, 'm'));
      assert.match(r.stdout, new RegExp(`^ {6}${esc(u('/'))} {2}"Missing page"$`, 'm'));
      assert.match(r.stdout, new RegExp(`^ {6}${esc(u('/a'))} {2}"gone, for "good""$`, 'm'));
      assert.match(r.stdout, new RegExp(`^ {2}${esc(u('/seed-gone'))}\\n {4}HTTP 404 · linked from no page \\(a seed\\)$`, 'm'));
      assert.match(r.stdout, new RegExp(`^ {2}301 {2}${esc(u('/old'))} → ${esc(u('/new'))}$`, 'm'));
      for (const l of r.stdout.split('\n')) assert.ok([...l].length <= 80, l);
    });

    test('--json: the report as the daemon gave it', async () => {
      const r = await crawlctl(['report', crawlId, '--json', ...at()]);
      assert.equal(r.code, 0, r.stderr);
      const report: CrawlReport = JSON.parse(r.stdout);
      assert.equal(report.crawlId, crawlId);
      const missing = report.brokenLinks.find((b) => b.url === u('/missing'));
      assert.equal(missing?.referrerCount, 2);
      assert.deepEqual(missing?.referrers.map((x) => [x.url, x.text]).sort(), [
        [u('/'), 'Missing page'],
        [u('/a'), 'gone, for "good"'],
      ]);
      assert.deepEqual(
        report.redirects.map((x) => [x.url, x.finalUrl, x.status]),
        [[u('/old'), u('/new'), 301]],
      );
    });
  });

  describe('crawlctl job with a page record', () => {
    test('where it was found and with what text, what the page says of itself; --json has page', async () => {
      const list = JSON.parse((await crawlctl(['jobs', '--crawl', crawlId, '--all', '--json', ...at()])).stdout);
      const job = list.jobs.find((j: { url: string }) => j.url === u('/a'));
      assert.ok(job);
      const r = await crawlctl(['job', String(job.id), ...at()]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Page record:$/m);
      assert.match(r.stdout, new RegExp(`^found on +${u('/').replace(/\./g, '\\.')} {2}"About us"$`, 'm'));
      assert.match(r.stdout, /^title +About$/m);
      assert.match(r.stdout, /^description +About About$/m);
      assert.match(r.stdout, /^lang +en$/m);
      assert.match(r.stdout, /^links +2 out · \d+ in$/m);
      const j = JSON.parse((await crawlctl(['job', String(job.id), '--json', ...at()])).stdout);
      assert.equal(j.page.url, u('/a'));
      assert.equal(j.page.foundOn, u('/'));
      assert.equal(j.page.linkText, 'About us');

      const old = list.jobs.find((x: { url: string }) => x.url === u('/old'));
      const shown = await crawlctl(['job', String(old.id), ...at()]);
      assert.match(shown.stdout, new RegExp(`^redirects +${u('/old').replace(/\./g, '\\.')} → ${u('/new').replace(/\./g, '\\.')}$`, 'm'));
    });
  });
});

describe('help', () => {
  test('export and report in the list and with their own help; the exit codes', async () => {
    const help = await crawlctl(['help']);
    assert.match(help.stdout, /^ {2}export <crawlId> /m);
    assert.match(help.stdout, /^ {2}report <crawlId> /m);
    assert.match(help.stdout, /Exit codes: 0 ok/);
    const ex = await crawlctl(['export', '--help']);
    assert.equal(ex.code, 0);
    for (const re of [/--what W/, /--format F/, /--output FILE/, /-o FILE/, /^Exit codes: 0 exported/m]) assert.match(ex.stdout, re);
    assert.match((await crawlctl(['report', '--help'])).stdout, /^Exit codes: 0 the report was printed/m);
  });
});
