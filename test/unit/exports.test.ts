/**
 * The export formats of the contract (server/src/exports.ts), which crawlctl and the editor both
 * write: the exact bytes of CSV rows (RFC 4180, through csv-stringify with our options) and JSON
 * lines, the columns of each kind, broken-link rows, and the reading of the records from a fake
 * daemon: cursors, 1,000 a request, the order of a broken-links export and its referrers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  BROKEN_COLUMNS,
  EXPORT_BATCH,
  EXPORT_COLUMNS,
  LINK_COLUMNS,
  PAGE_COLUMNS,
  brokenRows,
  csvHeader,
  csvRows,
  exportBatches,
  fileHeader,
  formatRecords,
  jsonLine,
  recordCells,
  type Ask,
  type Cell,
  type ExportBatch,
  type ExportKind,
} from '../../server/src/exports';
import type { LinkRecord, Method, PageRecord } from '../../server/src/protocol';
import { pageRecord } from './helpers/page-record';

/** RFC 4180, strictly: a quote only opens a field, a quoted field ends at a comma or CRLF, every record ends with CRLF. */
function parseCsv(s: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < s.length) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new Error('unterminated quoted field');
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
    } else {
      while (i < s.length && s[i] !== ',' && s[i] !== '\r') {
        if (s[i] === '"' || s[i] === '\n') throw new Error(`bare ${JSON.stringify(s[i])} at ${i}`);
        field += s[i++];
      }
    }
    row.push(field);
    if (s[i] === ',') {
      i++;
      continue;
    }
    if (s[i] === '\r' && s[i + 1] === '\n') {
      rows.push(row);
      row = [];
      i += 2;
      continue;
    }
    throw new Error(`a field ends with ${JSON.stringify(s.slice(i, i + 5))} at ${i}, not a comma or CRLF`);
  }
  if (row.length) throw new Error('the last record is not ended by CRLF');
  return rows;
}

/** One cell as CSV: its row without the CRLF. */
const field = (value: Cell) => csvRows([[value]]).slice(0, -2);

describe('CSV', () => {
  test('quoted only when a comma, a quote, CR or LF is in it; quotes doubled; nulls empty; booleans as words', () => {
    assert.equal(field('plain text'), 'plain text');
    assert.equal(field(' spaces kept '), ' spaces kept ', 'spaces are part of a field');
    assert.equal(field('a,b'), '"a,b"');
    assert.equal(field('say "hi"'), '"say ""hi"""');
    assert.equal(field('"'), '""""');
    assert.equal(field('line 1\nline 2'), '"line 1\nline 2"', 'a lone LF is quoted');
    assert.equal(field('cr\ronly'), '"cr\ronly"', 'a lone CR is quoted');
    assert.equal(field('crlf\r\n'), '"crlf\r\n"');
    assert.equal(field('Café – 日本語 🕷️'), 'Café – 日本語 🕷️');
    assert.equal(field(''), '');
    assert.equal(field(null), '');
    assert.equal(field(undefined), '');
    assert.equal(field(0), '0');
    assert.equal(field(404), '404');
    assert.equal(field(12.5), '12.5');
    assert.equal(field(false), 'false');
    assert.equal(field(true), 'true');
    assert.equal(field('=HYPERLINK("x")'), '"=HYPERLINK(""x"")"', 'formulas are data: written as they are, quoted only for the quote');
    assert.equal(field('+1'), '+1');
    assert.equal(field('@SUM(A1)'), '@SUM(A1)');
    assert.equal(csvRows([['a', 'b,c', null, 3]]), 'a,"b,c",,3\r\n');
    assert.equal(csvRows([['a'], ['b', true]]), 'a\r\nb,true\r\n', 'CRLF after each record');
    assert.equal(csvRows([]), '', 'no rows, no text');
  });

  test('any records read back the same (a strict RFC 4180 reader)', () => {
    const cell = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'é', ',', '"', '\r', '\n', ' ', '=', '日', '🙂'), maxLength: 12 }),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.constantFrom('"', ',', '\r\n', '\n', '\r', '""', ' , '),
    );
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 1, maxLength: 8 }), { maxLength: 8 }), (rows) => {
        // One empty cell alone is an empty line, which reads back as one empty field: the same.
        assert.deepEqual(parseCsv(csvRows(rows)), rows);
      }),
      { numRuns: 1000 },
    );
  });

  test('text cells through csvText (crawlctl on a terminal); numbers, booleans and the quoting untouched', () => {
    const shout = { csvText: (s: string) => s.toUpperCase().replace(/\n/g, '\\n') };
    const link: LinkRecord = { from: 'https://a.test/', to: 'https://b.test/', text: 'b,\nc', followed: false, reason: null };
    assert.equal(formatRecords('links', 'csv', [link], shout), 'HTTPS://A.TEST/,HTTPS://B.TEST/,"B,\\nC",false,\r\n');
    assert.equal(formatRecords('links', 'jsonl', [link], shout), jsonLine('links', link), 'JSON lines are never changed');
  });
});

describe('columns and records', () => {
  test("pages: every PageRecord field in the contract's order; redirects joined with spaces, data as JSON text", () => {
    assert.deepEqual(
      [...PAGE_COLUMNS],
      [
        'url',
        'jobId',
        'finalUrl',
        'redirects',
        'status',
        'error',
        'skipped',
        'contentType',
        'bytes',
        'fetchMs',
        'fetchedAt',
        'lastmod',
        'depth',
        'title',
        'description',
        'canonical',
        'robots',
        'lang',
        'foundOn',
        'linkText',
        'outlinks',
        'inlinks',
        'sha256',
        'data',
      ],
    );
    assert.deepEqual(Object.keys(pageRecord()).sort(), [...PAGE_COLUMNS].sort(), "the test's record has every column");
    assert.equal(csvHeader('pages'), `${PAGE_COLUMNS.join(',')}\r\n`);
    assert.deepEqual(EXPORT_COLUMNS, { pages: PAGE_COLUMNS, links: LINK_COLUMNS, broken: BROKEN_COLUMNS });

    const p = pageRecord({
      url: 'https://a.test/old?x=1,2',
      redirects: ['https://a.test/mid', 'https://a.test/new'],
      finalUrl: 'https://a.test/new',
      title: 'He said "yes", twice\nand left',
      description: 'Ünïcödé 🕷️',
      foundOn: 'https://a.test/',
      linkText: 'Old',
      status: null,
      error: 'connect ECONNREFUSED',
      data: { price: 12.5, tags: ['a', 'b'], note: 'x,"y"' },
    });
    const rows = parseCsv(formatRecords('pages', 'csv', [p]));
    assert.equal(rows.length, 1);
    const row = rows[0];
    assert.equal(row.length, PAGE_COLUMNS.length);
    const cell = (name: (typeof PAGE_COLUMNS)[number]) => row[PAGE_COLUMNS.indexOf(name)];
    assert.equal(cell('url'), 'https://a.test/old?x=1,2');
    assert.equal(cell('redirects'), 'https://a.test/mid https://a.test/new');
    assert.equal(cell('title'), 'He said "yes", twice\nand left');
    assert.equal(cell('description'), 'Ünïcödé 🕷️');
    assert.equal(cell('status'), '', 'null is an empty cell');
    assert.equal(cell('error'), 'connect ECONNREFUSED');
    assert.equal(cell('skipped'), 'false');
    assert.equal(cell('jobId'), '1');
    assert.deepEqual(JSON.parse(cell('data')), { price: 12.5, tags: ['a', 'b'], note: 'x,"y"' });
    assert.equal(recordCells('pages', pageRecord())[PAGE_COLUMNS.indexOf('data')], null, 'no data: an empty cell');
    assert.equal(recordCells('pages', pageRecord())[PAGE_COLUMNS.indexOf('redirects')], '', 'no redirects: an empty cell');
    // Exactly the bytes, for a simple record.
    assert.equal(
      formatRecords('pages', 'csv', [pageRecord()]),
      'https://a.test/,1,https://a.test/,,200,,false,text/html,2048,35,2025-01-02T03:04:05.000Z,,0,Home,,,,en,,,3,0,,\r\n',
    );
    assert.equal(fileHeader('pages', 'csv'), csvHeader('pages'));
    assert.equal(fileHeader('pages', 'jsonl'), '', 'JSON Lines has no header');
  });

  test('JSON Lines: one object a line, every column in order, line breaks escaped', () => {
    const p = pageRecord({ title: 'two\nlines\r\nand \u2028 a separator', redirects: ['https://a.test/b'], data: { k: 'v' } });
    const { data: _, ...noData } = pageRecord({ url: 'https://a.test/2' });
    const text = formatRecords('pages', 'jsonl', [p, noData as PageRecord]);
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '', 'every line ends with LF');
    const first = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(first), [...PAGE_COLUMNS]);
    assert.deepEqual(first, { ...p });
    assert.equal(first.title, 'two\nlines\r\nand \u2028 a separator');
    assert.deepEqual(first.redirects, ['https://a.test/b'], 'redirects stay an array in JSON');
    assert.deepEqual(JSON.parse(lines[1]), pageRecord({ url: 'https://a.test/2' }), 'a missing field is null');

    const link: LinkRecord = { from: 'https://a.test/', to: 'https://b.test/', text: 'B, "the other"', followed: false, reason: 'out of scope' };
    const reordered = { reason: link.reason, followed: link.followed, text: link.text, to: link.to, from: link.from };
    assert.equal(
      jsonLine('links', reordered),
      '{"from":"https://a.test/","to":"https://b.test/","text":"B, \\"the other\\"","followed":false,"reason":"out of scope"}\n',
    );
    const line = jsonLine('links', link);
    assert.equal(jsonLine('links', reordered), line, 'in order as given or not, the same line');
    assert.equal(jsonLine('links', { ...link, extra: 1 } as LinkRecord), line, 'a key past the columns is left out');
    assert.deepEqual(
      JSON.parse(jsonLine('links', { ...link, text: undefined } as unknown as LinkRecord)),
      { ...link, text: null },
      'an undefined column is null',
    );
    assert.equal(formatRecords('links', 'csv', [link]), 'https://a.test/,https://b.test/,"B, ""the other""",false,out of scope\r\n');
    assert.equal(formatRecords('links', 'csv', [{ ...link, followed: true, reason: null }]), 'https://a.test/,https://b.test/,"B, ""the other""",true,\r\n');
    assert.equal(csvHeader('links'), 'from,to,text,followed,reason\r\n');
    assert.equal(formatRecords('links', 'csv', []), '');
  });

  test('broken links: a row per referrer; a redirect target names the page that queued it; a seed has no referrer', () => {
    const broken = pageRecord({ url: 'https://a.test/gone', status: 404, error: 'HTTP 404', foundOn: 'https://a.test/', linkText: 'Gone' });
    const links: LinkRecord[] = [
      { from: 'https://a.test/', to: broken.url, text: 'Gone', followed: true, reason: null },
      { from: 'https://a.test/b', to: broken.url, text: '', followed: true, reason: null },
    ];
    assert.deepEqual(brokenRows(broken, links), [
      { url: 'https://a.test/gone', status: 404, error: 'HTTP 404', referrer: 'https://a.test/', text: 'Gone' },
      { url: 'https://a.test/gone', status: 404, error: 'HTTP 404', referrer: 'https://a.test/b', text: '' },
    ]);
    const seed = pageRecord({ url: 'https://down.test/', status: null, error: 'ECONNREFUSED', foundOn: null });
    assert.deepEqual(brokenRows(seed, []), [{ url: 'https://down.test/', status: null, error: 'ECONNREFUSED', referrer: null, text: null }]);
    const redirected = pageRecord({ url: 'https://a.test/new', status: 500, error: 'HTTP 500', foundOn: 'https://a.test/old', linkText: 'Old' });
    assert.deepEqual(brokenRows(redirected, []), [{ url: 'https://a.test/new', status: 500, error: 'HTTP 500', referrer: 'https://a.test/old', text: null }]);

    assert.equal(csvHeader('broken'), 'url,status,error,referrer,text\r\n');
    assert.equal(
      formatRecords('broken', 'csv', [...brokenRows(broken, links), ...brokenRows(seed, [])]),
      'https://a.test/gone,404,HTTP 404,https://a.test/,Gone\r\nhttps://a.test/gone,404,HTTP 404,https://a.test/b,\r\nhttps://down.test/,,ECONNREFUSED,,\r\n',
    );
    assert.equal(
      formatRecords('broken', 'jsonl', brokenRows(seed, [])),
      '{"url":"https://down.test/","status":null,"error":"ECONNREFUSED","referrer":null,"text":null}\n',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Reading the records

const classOf = (p: PageRecord): string => (p.status === null ? (p.skipped ? 'skipped' : 'error') : `${String(p.status)[0]}xx`);
/** crawl/pages' status filter: a class, or `failed` (an error, whatever the status, and not skipped). */
const inClass = (p: PageRecord, status: string): boolean => (status === 'failed' ? p.error !== null && !p.skipped : classOf(p) === status);

/** crawl/pages and crawl/links over arrays, paged by index cursors as the daemon pages them (`error` leaves skipped pages out); it keeps the calls. */
function fakeDaemon(pages: PageRecord[], links: LinkRecord[] = []) {
  const calls: { method: Method; params: any }[] = [];
  const slice = <T>(all: T[], cursor: string | null | undefined, limit = 100) => {
    const from = cursor ? Number(cursor) : 0;
    return { items: all.slice(from, from + limit), nextCursor: from + limit < all.length ? String(from + limit) : null };
  };
  const ask = (async (method: Method, params: any) => {
    calls.push({ method, params });
    await new Promise((r) => setImmediate(r));
    if (method === 'crawl/pages') {
      const r = slice(
        pages.filter((p) => params.status === undefined || inClass(p, params.status)),
        params.cursor,
        params.limit,
      );
      return { pages: r.items, nextCursor: r.nextCursor };
    }
    if (method === 'crawl/links') {
      const r = slice(
        links.filter((l) => params.to === undefined || l.to === params.to),
        params.cursor,
        params.limit,
      );
      return { links: r.items, nextCursor: r.nextCursor };
    }
    throw new Error(`unexpected ${method}`);
  }) as Ask;
  return { ask, calls };
}

async function all<K extends ExportKind>(batches: AsyncGenerator<ExportBatch<K>>): Promise<ExportBatch<K>[]> {
  const got: ExportBatch<K>[] = [];
  for await (const b of batches) got.push(b);
  return got;
}

describe('exportBatches', () => {
  const many = Array.from({ length: 2 * EXPORT_BATCH + 500 }, (_, i) => pageRecord({ url: `https://a.test/p/${i}`, jobId: i + 1 }));

  test('pages: every record once, in order, a request per 1,000, one read ahead of the batch being written and no more', async () => {
    const { ask, calls } = fakeDaemon(many);
    const batches = exportBatches(ask, 'c_1', 'pages');
    const first = await batches.next();
    assert.equal(first.done, false);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls.length, 2, 'the next batch is asked for while the first is written, and only it');
    const rest = await all(batches);
    const got = [first.value, ...rest];
    assert.deepEqual(
      got.map((b) => b.records.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(
      got.flatMap((b) => b.records),
      many,
    );
    assert.ok(got.every((b) => b.urls === 0));
    assert.deepEqual(
      calls.map((c) => [c.method, c.params]),
      [
        ['crawl/pages', { crawlId: 'c_1', cursor: null, limit: 1000 }],
        ['crawl/pages', { crawlId: 'c_1', cursor: '1000', limit: 1000 }],
        ['crawl/pages', { crawlId: 'c_1', cursor: '2000', limit: 1000 }],
      ],
    );
  });

  test('the batch size asked for: smaller ones as given, never above 1,000 nor below 1', async () => {
    const sizes = async (batchSize: number) => {
      const { ask, calls } = fakeDaemon(many.slice(0, 5));
      await all(exportBatches(ask, 'c_1', 'pages', batchSize));
      return calls.map((c) => c.params.limit);
    };
    assert.deepEqual(await sizes(2), [2, 2, 2]);
    assert.deepEqual(await sizes(5000), [1000]);
    assert.deepEqual(await sizes(0), [1, 1, 1, 1, 1]);
  });

  test('links: every link once; an empty crawl yields no batch', async () => {
    const links: LinkRecord[] = Array.from({ length: 5 }, (_, i) => ({
      from: 'https://a.test/',
      to: `https://a.test/${i}`,
      text: `Link\n${i}`,
      followed: i % 2 === 0,
      reason: i % 2 === 0 ? null : 'nofollow',
    }));
    const { ask, calls } = fakeDaemon([], links);
    const got = await all(exportBatches(ask, 'c_1', 'links', 2));
    assert.deepEqual(
      got.flatMap((b) => b.records),
      links,
    );
    assert.deepEqual(
      calls.map((c) => c.params.cursor),
      [null, '2', '4'],
    );
    assert.deepEqual(await all(exportBatches(fakeDaemon([], []).ask, 'c_1', 'links')), []);
    assert.deepEqual(await all(exportBatches(fakeDaemon([], []).ask, 'c_1', 'pages')), []);
  });

  test("broken: every page that failed, whatever its status, in the crawl's order; a row per page linking to each, paged; a redirect target, a seed; skipped pages are not broken", async () => {
    const pages = [
      pageRecord({ url: 'https://a.test/', status: 200 }),
      pageRecord({ url: 'https://down.test/', status: null, error: 'ECONNREFUSED', foundOn: null }),
      pageRecord({ url: 'https://a.test/oops', status: 500, error: 'HTTP 500', foundOn: 'https://a.test/' }),
      pageRecord({ url: 'https://a.test/gone', status: 404, error: 'HTTP 404', foundOn: 'https://a.test/' }),
      pageRecord({ url: 'https://a.test/private', status: null, error: 'robots.txt', skipped: true, foundOn: 'https://a.test/' }),
      pageRecord({ url: 'https://a.test/moved-to-nowhere', status: 410, error: 'HTTP 410', foundOn: 'https://a.test/old', linkText: 'Old' }),
      // Failed with a status that is no failure's: a redirect loop, a handler that threw.
      pageRecord({ url: 'https://a.test/loop', status: 301, error: 'redirect loop', foundOn: null }),
      pageRecord({ url: 'https://a.test/threw', status: 200, error: 'handler: boom', foundOn: null }),
    ];
    const links: LinkRecord[] = [
      { from: 'https://a.test/', to: 'https://a.test/gone', text: 'Gone, "really"', followed: true, reason: null },
      { from: 'https://a.test/', to: 'https://a.test/oops', text: 'Oops', followed: true, reason: null },
      { from: 'https://a.test/b', to: 'https://a.test/gone', text: '', followed: true, reason: null },
      { from: 'https://a.test/c', to: 'https://a.test/gone', text: 'again', followed: true, reason: null },
      { from: 'https://a.test/', to: 'https://a.test/private', text: 'Private', followed: false, reason: 'robots.txt' },
    ];
    const { ask, calls } = fakeDaemon(pages, links);
    const got = await all(exportBatches(ask, 'c_1', 'broken', 2));
    assert.deepEqual(
      got.flatMap((b) => b.records.map((r) => [r.url, r.status, r.error, r.referrer, r.text])),
      [
        ['https://down.test/', null, 'ECONNREFUSED', null, null],
        ['https://a.test/oops', 500, 'HTTP 500', 'https://a.test/', 'Oops'],
        ['https://a.test/gone', 404, 'HTTP 404', 'https://a.test/', 'Gone, "really"'],
        ['https://a.test/gone', 404, 'HTTP 404', 'https://a.test/b', ''],
        ['https://a.test/gone', 404, 'HTTP 404', 'https://a.test/c', 'again'],
        // Reached by a redirect: no link to it, the page whose redirect queued it instead.
        ['https://a.test/moved-to-nowhere', 410, 'HTTP 410', 'https://a.test/old', null],
        ['https://a.test/loop', 301, 'redirect loop', null, null],
        ['https://a.test/threw', 200, 'handler: boom', null, null],
      ],
    );
    // /gone's three referrers come in two batches: the URL is counted in the first.
    assert.deepEqual(
      got.map((b) => [b.records.length, b.urls]),
      [
        [1, 1],
        [1, 1],
        [2, 1],
        [1, 0],
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    );
    const asked = calls.map((c) => ({ method: c.method, ...c.params }));
    assert.deepEqual(
      asked.filter((c) => c.method === 'crawl/pages').map((c) => [c.status, c.cursor]),
      [
        ['failed', null],
        ['failed', '2'],
        ['failed', '4'],
      ],
    );
    assert.deepEqual(
      asked.filter((c) => c.to === 'https://a.test/gone').map((c) => c.cursor),
      [null, '2'],
      'the links to a URL are paged too',
    );
    assert.ok(!asked.some((c) => c.to === 'https://a.test/private'), 'a skipped page is not read as broken');
  });

  test('a failed request ends the reading with its error', async () => {
    const { ask } = fakeDaemon(many);
    let n = 0;
    const failing: Ask = (method, params) => (++n === 2 ? Promise.reject(new Error('the daemon went away')) : ask(method, params));
    const batches = exportBatches(failing, 'c_1', 'pages');
    assert.equal((await batches.next()).value?.records.length, 1000);
    await assert.rejects(batches.next(), /the daemon went away/);
  });
});
