// Export Crawl Results in the editor: the suggested file name (exportRows.ts); then the writing
// (exportCrawl.ts): the contract's records and formats (server/src/exports.ts, tested in
// exports.test.ts) appended batch by batch, progress, and what is left on disk after a cancel or a
// failure (nothing).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { LinkRecord, Method, PageRecord, ParamsOf, ResultOf } from '../../server/src/protocol';
import { pageRecord } from './helpers/page-record';
import { fileHeader, formatRecords, PAGE_COLUMNS, type BrokenRow } from '../../server/src/exports';
import type { DaemonApi } from '../../client/src/daemonApi';
import { ExportCancelled, exportCrawl, partialPath, type ExportProgress } from '../../client/src/exportCrawl';
import { defaultFileName } from '../../client/src/exportRows';
import { crawledSite } from './helpers/client-daemon';
import { page, status } from './helpers/testsite';

test("the suggested file name: the crawl's name made safe, else its id, the kind and the extension", () => {
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: 'docs' }, 'pages', 'jsonl'), 'docs-pages.jsonl');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: null }, 'links', 'csv'), 'c_1a2b-links.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: 'site' }, 'broken', 'csv'), 'site-broken-links.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: 'https://a.test/x?y' }, 'pages', 'csv'), 'https-a.test-x-y-pages.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: '../../etc/passwd' }, 'pages', 'csv'), 'etc-passwd-pages.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: '  ..  ' }, 'pages', 'csv'), 'c_1a2b-pages.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: 'Café\ttour\n2025' }, 'pages', 'csv'), 'Café-tour-2025-pages.csv');
  assert.equal(defaultFileName({ crawlId: 'c_1a2b', name: 'x'.repeat(300) }, 'pages', 'csv'), `${'x'.repeat(80)}-pages.csv`);
});

// --- writing the file ---------------------------------------------------------------------

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-export-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const target = (ext: string) => path.join(dir, `export-${++n}.${ext}`);

/** crawl/pages over an array, with offsets as cursors, as the daemon pages it. */
class FakeCrawl implements DaemonApi {
  readonly calls: { method: Method; params: unknown }[] = [];
  /** Throws instead of answering the n-th request (1-based). */
  failAt: number | undefined;

  constructor(
    readonly pages: PageRecord[],
    readonly extract?: Record<string, string>,
  ) {}

  async request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    this.calls.push({ method, params });
    if (this.calls.length === this.failAt) throw new Error('the daemon went away');
    await new Promise((r) => setImmediate(r));
    // A CSV of pages asks first for the crawl's extract fields, a column each.
    if (method === 'crawl/get') return { crawl: { options: { extract: this.extract } } } as ResultOf<M>;
    assert.equal(method, 'crawl/pages');
    const { cursor, limit = 100 } = params as ParamsOf<'crawl/pages'>;
    const from = cursor ? Number(cursor) : 0;
    const to = from + limit;
    return { pages: this.pages.slice(from, to), nextCursor: to < this.pages.length ? String(to) : null } as ResultOf<M>;
  }
}

const manyPages = (count: number, over: (i: number) => Partial<PageRecord> = () => ({})) =>
  Array.from({ length: count }, (_, i) => pageRecord({ url: `https://a.test/p${i}`, jobId: i + 1, title: `Page ${i}, "quoted"`, ...over(i) }));

test('pages as CSV: the header, then each batch appended as it comes, progress after each; nothing left beside it', async () => {
  const pages = manyPages(2500, (i) => ({ data: { price: String(i), tags: ['a', `b${i}`] } }));
  const daemon = new FakeCrawl(pages, { price: '.price', 'tags[]': 'a.tag' });
  const file = target('csv');
  const seen: ExportProgress[] = [];
  const result = await exportCrawl(daemon, { crawlId: 'c_1', kind: 'pages', format: 'csv', file }, { onProgress: (p) => seen.push(p) });

  assert.deepEqual(
    daemon.calls.map((c) => c.method),
    ['crawl/get', 'crawl/pages', 'crawl/pages', 'crawl/pages'],
    "the crawl's fields, then a request per 1,000",
  );
  assert.deepEqual(
    daemon.calls.slice(1).map((c) => (c.params as ParamsOf<'crawl/pages'>).cursor),
    [null, '1000', '2000'],
  );
  assert.deepEqual(seen, [
    { records: 1000, urls: 0 },
    { records: 2000, urls: 0 },
    { records: 2500, urls: 0 },
  ]);
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(text, fileHeader('pages', 'csv', ['price', 'tags']) + formatRecords('pages', 'csv', pages, { fields: ['price', 'tags'] }));
  assert.ok(text.startsWith(`${PAGE_COLUMNS.join(',')},data.price,data.tags\r\n`));
  assert.ok(text.includes(',2499,a; b2499\r\n'), 'a column per field, a list joined');
  assert.ok(text.includes('"Page 2499, ""quoted"""'));
  assert.deepEqual(result, { records: 2500, urls: 0, file, bytes: Buffer.byteLength(text) });
  assert.ok(!fs.existsSync(partialPath(file)));
});

test('records larger than the stream buffers: every byte arrives, in order (writes wait for drain)', async () => {
  const big = 'ü'.repeat(40_000);
  const pages = manyPages(300, (i) => ({ description: `${i} ${big}` }));
  const file = target('jsonl');
  await exportCrawl(new FakeCrawl(pages), { crawlId: 'c_1', kind: 'pages', format: 'jsonl', file }, { batch: 7 });
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.length, 301);
  lines.slice(0, 300).forEach((line, i) => assert.deepEqual(JSON.parse(line), pages[i]));
});

test('an empty crawl: an empty JSON Lines file, a CSV file of its header alone', async () => {
  const jsonl = target('jsonl');
  assert.deepEqual(await exportCrawl(new FakeCrawl([]), { crawlId: 'c_1', kind: 'pages', format: 'jsonl', file: jsonl }), {
    records: 0,
    urls: 0,
    file: jsonl,
    bytes: 0,
  });
  assert.equal(fs.readFileSync(jsonl, 'utf8'), '');
  const csv = target('csv');
  assert.equal((await exportCrawl(new FakeCrawl([]), { crawlId: 'c_1', kind: 'pages', format: 'csv', file: csv })).records, 0);
  assert.equal(fs.readFileSync(csv, 'utf8'), fileHeader('pages', 'csv'));
});

test('cancelled: the partial file is deleted and an existing file of that name is left as it was', async () => {
  const file = target('csv');
  fs.writeFileSync(file, 'the previous export\n');
  const daemon = new FakeCrawl(manyPages(50));
  let batches = 0;
  await assert.rejects(
    exportCrawl(
      daemon,
      { crawlId: 'c_1', kind: 'pages', format: 'csv', file },
      {
        batch: 10,
        onProgress: () => batches++,
        isCancelled: () => batches >= 2,
      },
    ),
    ExportCancelled,
  );
  assert.equal(batches, 2);
  // The crawl's fields, then: the second batch's writing read the third ahead; nothing is asked for after the cancel.
  assert.equal(daemon.calls.length, 4, 'no request once cancelled');
  assert.equal(fs.readFileSync(file, 'utf8'), 'the previous export\n');
  assert.ok(!fs.existsSync(partialPath(file)));
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.part')),
    [],
  );
});

test('a failed request: the error as it came, no partial file, no new file', async () => {
  const daemon = new FakeCrawl(manyPages(50));
  daemon.failAt = 3;
  const file = target('csv');
  await assert.rejects(exportCrawl(daemon, { crawlId: 'c_1', kind: 'pages', format: 'csv', file }, { batch: 10 }), /the daemon went away/);
  assert.ok(!fs.existsSync(file));
  assert.ok(!fs.existsSync(partialPath(file)));
});

test('a folder that cannot be written fails before anything is asked of the daemon', async () => {
  const daemon = new FakeCrawl(manyPages(3));
  await assert.rejects(exportCrawl(daemon, { crawlId: 'c_1', kind: 'pages', format: 'csv', file: path.join(dir, 'no-such-folder', 'x.csv') }), {
    code: 'ENOENT',
  });
  assert.equal(daemon.calls.length, 0);
});

test('a real crawl exported: every page record, every link, and its broken links with their referrers', async () => {
  const { d, site, crawlId } = await crawledSite('127.0.0.145', {
    '/': page(['/a', '/gone', '/old', 'http://127.0.0.146/out'], 'Home, "quoted"'),
    '/a': page(['/', '/gone', '/boom'], 'Ünïcödé A'),
    '/gone': status(404),
    '/boom': status(500),
    '/old': status(301, { location: '/a' }),
  });
  const { pages } = await d.request('crawl/pages', { crawlId, limit: 1000 });

  const pagesFile = target('csv');
  const p = await exportCrawl(d, { crawlId, kind: 'pages', format: 'csv', file: pagesFile }, { batch: 2 });
  assert.equal(p.records, pages.length);
  assert.equal(fs.readFileSync(pagesFile, 'utf8'), fileHeader('pages', 'csv') + formatRecords('pages', 'csv', pages), "every record, in the daemon's order");
  const byUrl = new Map(pages.map((x) => [x.url, x]));
  assert.equal(byUrl.get(site.url('/'))?.title, 'Home, "quoted"');
  assert.equal(byUrl.get(site.url('/a'))?.title, 'Ünïcödé A');
  assert.deepEqual(byUrl.get(site.url('/old'))?.redirects, [site.url('/a')]);

  const linksFile = target('jsonl');
  const l = await exportCrawl(d, { crawlId, kind: 'links', format: 'jsonl', file: linksFile }, { batch: 3 });
  const links = fs
    .readFileSync(linksFile, 'utf8')
    .trimEnd()
    .split('\n')
    .map((x) => JSON.parse(x) as LinkRecord);
  assert.equal(l.records, links.length);
  assert.deepEqual(
    links.filter((x) => x.from === site.url('/')).map((x) => [x.to, x.followed, x.reason]),
    [
      [site.url('/a'), true, null],
      [site.url('/gone'), true, null],
      [site.url('/old'), true, null],
      ['http://127.0.0.146/out', false, 'out of scope'],
    ],
  );

  const brokenFile = target('jsonl');
  const b = await exportCrawl(d, { crawlId, kind: 'broken', format: 'jsonl', file: brokenFile }, { batch: 1 });
  const broken = fs
    .readFileSync(brokenFile, 'utf8')
    .trimEnd()
    .split('\n')
    .map((x) => JSON.parse(x) as BrokenRow);
  assert.deepEqual(
    broken.map((x) => [x.url, x.status, x.referrer, x.text]),
    [
      [site.url('/gone'), 404, site.url('/'), '/gone'],
      [site.url('/gone'), 404, site.url('/a'), '/gone'],
      [site.url('/boom'), 500, site.url('/a'), '/boom'],
    ],
  );
  assert.deepEqual({ records: b.records, urls: b.urls }, { records: 3, urls: 2 });
});
