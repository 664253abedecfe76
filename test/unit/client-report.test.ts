/**
 * The crawl report's view model and page shell: what the webview draws from the daemon's answers,
 * and the Content Security Policy it is drawn under. The report itself, live in a real editor, is
 * covered end to end (test/e2e/crawl.test.ts).
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHtml, jobCsp, jobHtml, reportCsp, reportHtml } from '../../client/src/report/html';
import { BROKEN_SHOWN, averageRates, historyAsked, historyPoints, ratePoint, rateSummary, reportView } from '../../client/src/report/model';
import { failureReason } from '../../server/src/core/failure-reason';
import type { Crawl, CrawlReport, Host, Lease, Worker } from '../../server/src/protocol';

function crawl(counts: Partial<Crawl['counts']> = {}, cancelled = 0): Crawl {
  return {
    crawlId: 'c_1',
    name: 'docs',
    seeds: ['http://a.test/'],
    options: {} as Crawl['options'],
    state: 'running',
    counts: { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0, capped: 0, ...counts } as Crawl['counts'],
    cancelled,
    pages: 0,
    bytes: 0,
    dropped: {},
    fromSitemaps: 0,
    sitemapsRead: 0,
    pagesPerSecond: 12.5,
    createdAt: '2026-12-06T10:00:00.000Z',
    finishedAt: null,
  };
}

const report: CrawlReport = {
  crawlId: 'c_1',
  pages: 30,
  byStatus: { 200: 20, 404: 4, 500: 1, error: 3, skipped: 2 },
  byContentType: { 'text/html': 25 },
  byHost: [
    { host: 'a.test', pages: 25, errors: 5, meanFetchMs: 12.4 },
    { host: 'b.test', pages: 5, errors: 3, meanFetchMs: null },
  ],
  brokenLinks: [
    {
      url: 'http://a.test/gone',
      status: 404,
      error: 'HTTP 404',
      referrerCount: 7,
      referrers: Array.from({ length: 7 }, (_, i) => ({ url: `http://a.test/p${i}`, text: `P${i}` })),
      foundOn: 'http://a.test/p0',
    },
    {
      url: 'http://b.test/',
      status: null,
      error: 'http://b.test/: connect ECONNREFUSED 127.0.0.3:80',
      referrerCount: 1,
      referrers: [{ url: 'http://a.test/', text: 'B' }],
      foundOn: 'http://a.test/',
    },
    {
      url: 'http://b.test/x',
      status: null,
      error: 'http://b.test/x: connect ECONNREFUSED 127.0.0.3:80',
      referrerCount: 1,
      referrers: [],
      foundOn: 'http://a.test/',
    },
  ],
  brokenCount: 8,
  redirects: [{ url: 'http://a.test/old', finalUrl: 'http://a.test/new', status: 301 }],
  redirectCount: 1,
  slowest: [{ url: 'http://a.test/slow', fetchMs: 900 }],
  largest: [{ url: 'http://a.test/big', bytes: 9000 }],
  missingTitles: 2,
};

const hosts: Host[] = [
  { host: 'a.test', limit: 2, inFlight: 1, queued: 3, done: 20, error: 5, state: 'busy', until: null, reason: null },
  {
    host: 'b.test',
    limit: 2,
    inFlight: 0,
    queued: 1,
    done: 0,
    error: 3,
    state: 'backoff',
    until: '2026-12-06T10:05:00.000Z',
    reason: 'connect ECONNREFUSED (3 in a row)',
  },
  { host: 'other.test', limit: 2, inFlight: 2, queued: 9, done: 0, error: 0, state: 'busy', until: null, reason: null },
];
const lease = (workerId: string, host: string, url: string, heartbeatAt: string): Lease => ({
  jobId: 1,
  url,
  host,
  workerId,
  leasedAt: heartbeatAt,
  expiresAt: heartbeatAt.replace('10:0', '10:1'),
  heartbeatAt,
});

const worker = (workerId: string, state: Worker['state'], leases: number, seenAt: string, more: Partial<Worker> = {}): Worker => ({
  workerId,
  host: 'm',
  pid: 1,
  startedAt: '2026-12-06T09:00:00.000Z',
  seenAt,
  stoppedAt: null,
  state,
  leases,
  self: false,
  ...more,
});

/** The view of a crawl's report with nothing else to show: no hosts, leases, workers or rates. */
const viewOf = (r: Parameters<typeof reportView>[0]['report']) =>
  reportView({ crawl: crawl(), reasons: [], now: 0, report: r, hosts: [], leases: [], workers: [], running: [], queued: [], rates: [] });

test('the view: counts, statuses, failures by reason, broken links with where they are found, hosts and workers of this crawl', () => {
  const v = reportView({
    crawl: crawl({ done: 20, queued: 4, in_progress: 1, error: 8, skipped: 2 }),
    report,
    // jobs/reasons of the crawl: what the queue counts, whatever the broken links listed say.
    reasons: [
      { reason: 'HTTP 404', count: 4 },
      { reason: 'ECONNREFUSED', count: 3 },
      { reason: 'HTTP 500', count: 1 },
    ],
    now: Date.parse('2026-12-06T10:00:04.000Z'),
    hosts,
    leases: [
      lease('w1', 'a.test', 'http://a.test/q', '2026-12-06T10:00:01.000Z'),
      lease('w1', 'a.test', 'http://a.test/r', '2026-12-06T10:00:03.000Z'),
      lease('w2', 'other.test', 'http://other.test/', '2026-12-06T10:00:02.000Z'),
    ],
    workers: [
      worker('w0', 'stopped', 0, '2026-12-06T09:30:00.000Z', { stoppedAt: '2026-12-06T09:30:00.000Z' }),
      worker('w1', 'live', 5, '2026-12-06T10:00:02.000Z', { self: true }),
      worker('w9', 'lost', 1, '2026-12-06T09:50:00.000Z'),
      worker('w8', 'live', 0, '2026-12-06T10:00:04.000Z'),
    ],
    running: ['a.test'],
    queued: [],
    rates: [],
  });
  assert.equal(v.title, 'docs (c_1)');
  assert.deepEqual(
    v.counts.map((c) => `${c.label} ${c.count}`),
    ['done 20', 'queued 4', 'running 1', 'failed 8', 'skipped 2'],
  );
  assert.deepEqual(
    v.byStatus.map((r) => `${r.label} ${r.count}`),
    ['HTTP 200 20', 'HTTP 404 4', 'no response 3', 'skipped 2', 'HTTP 500 1'],
  );
  assert.deepEqual(
    v.failures.map((r) => `${r.label} ${r.count}`),
    ['HTTP 404 4', 'ECONNREFUSED 3', 'HTTP 500 1'],
  );
  // Each a click away from its jobs: the pages' by status (crawl/pages), the failed ones by reason (jobs/list).
  assert.deepEqual(Object.fromEntries(v.byStatus.map((r) => [r.label, r.pages])), {
    'HTTP 200': { status: 200 },
    'HTTP 404': { status: 404 },
    'no response': { status: 'error' },
    skipped: null,
    'HTTP 500': { status: 500 },
  });
  assert.deepEqual(
    v.failures.map((r) => r.pages),
    [{ reason: 'HTTP 404' }, { reason: 'ECONNREFUSED' }, { reason: 'HTTP 500' }],
  );
  assert.deepEqual(v.broken[0], {
    url: 'http://a.test/gone',
    what: 'HTTP 404',
    referrerCount: 7,
    referrers: report.brokenLinks[0].referrers.slice(0, 5),
    foundOn: 'http://a.test/p0',
  });
  assert.equal(v.broken[1].what, 'ECONNREFUSED');
  assert.deepEqual(
    v.hosts.map((h) => [h.host, h.state, h.reason, h.errors]),
    [
      ['a.test', 'busy', null, 5],
      ['b.test', 'backoff', 'connect ECONNREFUSED (3 in a row)', 3],
    ],
  );
  // Every worker of the database, live first, then lost, then stopped, the latest seen first; w2
  // holds leases of the crawl but is not listed (past the list's length): shown all the same.
  assert.deepEqual(
    v.workers.map((w) => [w.workerId, w.state, w.self, w.crawlLeases, w.leases, w.seenAt, w.leaseEndsAt, w.jobs.map((j) => j.url)]),
    [
      ['w8', 'live', false, 0, 0, '2026-12-06T10:00:04.000Z', null, []],
      ['w1', 'live', true, 2, 5, '2026-12-06T10:00:03.000Z', '2026-12-06T10:10:03.000Z', ['http://a.test/q', 'http://a.test/r']],
      ['w2', null, false, 1, 1, '2026-12-06T10:00:02.000Z', '2026-12-06T10:10:02.000Z', ['http://other.test/']],
      ['w9', 'lost', false, 0, 1, '2026-12-06T09:50:00.000Z', null, []],
      ['w0', 'stopped', false, 0, 0, '2026-12-06T09:30:00.000Z', null, []],
    ],
  );
  assert.equal(v.workersListed, true);
  // A daemon that does not list its workers (older, or the read failed): the crawl's lease holders.
  const unlisted = reportView({
    crawl: crawl(),
    report,
    reasons: [],
    now: 0,
    hosts,
    leases: [lease('w1', 'a.test', 'http://a.test/q', '2026-12-06T10:00:01.000Z')],
    workers: null,
    running: [],
    queued: [],
    rates: [],
  });
  assert.deepEqual(
    unlisted.workers.map((w) => [w.workerId, w.state, w.crawlLeases]),
    [['w1', null, 1]],
  );
  assert.equal(unlisted.workersListed, false);
});

test('a host of the crawl the daemon does not list keeps its figures, its state unknown', () => {
  const v = reportView({
    crawl: crawl(),
    reasons: [],
    now: 0,
    report,
    hosts: hosts.filter((h) => h.host !== 'b.test'),
    leases: [],
    workers: [],
    running: [],
    queued: [],
    rates: [],
  });
  assert.deepEqual(
    v.hosts.map((h) => [h.host, h.state, h.inFlight, h.pages]),
    [
      ['a.test', 'busy', 1, 25],
      ['b.test', null, null, 5],
    ],
  );
});

test('a redirect that failed (a loop) is listed broken by its reason, not by its 3xx', () => {
  const loop = {
    url: 'http://a.test/l1',
    status: 301,
    error: 'redirect loop: http://a.test/l1 → http://a.test/l2 → http://a.test/l1',
    referrerCount: 1,
    referrers: [],
    foundOn: null,
  };
  const v = viewOf({ ...report, byStatus: { 301: 1 }, brokenLinks: [loop] });
  assert.equal(v.broken[0].what, 'redirect loop: … → … → …');
  // A page that failed with a 200 (its handler threw) is listed by why, and one reached by a redirect says from where.
  const threw = { ...loop, url: 'http://a.test/t', status: 200, error: 'handler: boom', referrerCount: 0, foundOn: 'http://a.test/old' };
  const w = viewOf({ ...report, brokenLinks: [threw] });
  assert.deepEqual([w.broken[0].what, w.broken[0].foundOn], ['handler: boom', 'http://a.test/old']);
});

test("a status crawl/pages cannot filter by (a server's 600) is counted, with no jobs to click to", () => {
  const v = viewOf({ ...report, byStatus: { 600: 1, 200: 2 }, brokenLinks: [] });
  assert.deepEqual(v.byStatus, [
    { label: 'HTTP 200', count: 2, pages: { status: 200 } },
    { label: 'HTTP 600', count: 1, pages: null },
  ]);
});

test('broken links are cut at BROKEN_SHOWN; the count says how many there are', () => {
  const many = Array.from({ length: BROKEN_SHOWN + 5 }, (_, i) => ({
    url: `http://a.test/${i}`,
    status: 404,
    error: 'HTTP 404',
    referrerCount: 1,
    referrers: [],
    foundOn: null,
  }));
  const v = viewOf({ ...report, brokenLinks: many, brokenCount: 5_000 });
  assert.equal(v.broken.length, BROKEN_SHOWN);
  assert.equal(v.brokenCount, 5_000);
});

test('a failure reason leaves out the URLs it happened at, ports and colons in paths too', () => {
  assert.equal(failureReason('http://b.test/x?y=1: connect ECONNREFUSED 127.0.0.3:80'), 'ECONNREFUSED');
  assert.equal(failureReason('fetch of http://127.0.0.1:8080/slow took longer than 30000 ms'), 'took longer than N ms');
  assert.equal(failureReason('http://a.test:8080/x: other side closed (UND_ERR_SOCKET)'), 'other side closed (UND_ERR_SOCKET)');
  assert.equal(failureReason('http://w.test/wiki/Special:Random: response headers larger than 65536 bytes'), 'response headers larger than N bytes');
  assert.equal(failureReason('more than 10 redirects starting at http://a.test:81/x'), 'more than 10 redirects starting at …');
  assert.equal(failureReason('robots.txt could not be read in 5 tries (unreachable)'), 'robots.txt could not be read in 5 tries (unreachable)');
});

test('a rate point is pages and failures a second between two readings', () => {
  const at = Date.parse('2026-12-06T10:00:00Z');
  const p = ratePoint({ at, crawl: crawl({ done: 10, error: 1 }) }, { at: at + 2_000, crawl: crawl({ done: 30, error: 5, skipped: 2 }) });
  assert.deepEqual(p, { t: (at + 2_000) / 1000, pages: 13, errors: 2 });
  assert.equal(ratePoint({ at, crawl: crawl() }, { at, crawl: crawl() }), null);
  const finished = { ...crawl({ done: 30 }), state: 'finished' as const };
  assert.equal(ratePoint({ at, crawl: finished }, { at: at + 2_000, crawl: finished }), null, 'a crawl that ended fetches nothing: no point of zero');
  assert.notEqual(ratePoint({ at, crawl: crawl({ done: 29 }) }, { at: at + 2_000, crawl: finished }), null, 'its last pages');
});

test("a crawl with fewer than two readings is charted as its run's average, from its start to its end (or now)", () => {
  const start = Date.parse('2026-12-06T10:00:00.000Z');
  const ended = { ...crawl({ done: 6, error: 2 }), state: 'finished' as const, finishedAt: '2026-12-06T10:00:00.500Z' };
  const flat = { pages: 16, errors: 4 };
  assert.deepEqual(averageRates(ended, start + 60_000), [
    { t: start / 1000, ...flat },
    { t: (start + 500) / 1000, ...flat },
  ]);
  const one = { t: start / 1000 + 0.5, pages: 3, errors: 0 };
  const v = reportView({ crawl: ended, reasons: [], now: start + 60_000, report, hosts: [], leases: [], workers: [], running: [], queued: [], rates: [one] });
  assert.equal(v.ratesAveraged, true);
  assert.deepEqual(v.rates, averageRates(ended, start + 60_000));
  // Running: the average so far, until two readings are in.
  const running = crawl({ done: 20 });
  assert.deepEqual(averageRates(running, start + 4_000).at(-1), { t: (start + 4_000) / 1000, pages: 5, errors: 0 });
  const read = reportView({
    crawl: running,
    reasons: [],
    now: start + 4_000,
    report,
    hosts: [],
    leases: [],
    workers: [],
    running: [],
    queued: [],
    rates: [one, { ...one, t: one.t + 2 }],
  });
  assert.equal(read.ratesAveraged, false);
  assert.equal(read.rates.length, 2);
  assert.deepEqual(averageRates({ ...ended, finishedAt: ended.createdAt }, start), [], 'no time passed: no rate');
});

test('the page allows nothing from the network: scripts by nonce, styles and images from the extension only', () => {
  const csp = reportCsp('https://file+.vscode-resource.vscode-cdn.net', 'abc123');
  assert.equal(
    csp,
    "default-src 'none'; style-src https://file+.vscode-resource.vscode-cdn.net; script-src 'nonce-abc123'; img-src https://file+.vscode-resource.vscode-cdn.net data:; font-src https://file+.vscode-resource.vscode-cdn.net",
  );
  const html = reportHtml({
    cspSource: 'vscode-resource:',
    nonce: 'n"1',
    scriptUri: 'vscode-resource:/r.js',
    styleUris: ['vscode-resource:/r.css'],
    title: 'Report: <docs> (c_1)',
  });
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;/);
  assert.match(html, /<script nonce="n&quot;1" src="vscode-resource:\/r\.js"><\/script>/);
  assert.match(html, /<title>Report: &lt;docs&gt; \(c_1\)<\/title>/);
  assert.doesNotMatch(html, /https?:\/\//, 'no address on the network');
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test("a job's page is drawn under the report's policy with no script at all, its rendered body as it came", () => {
  const csp = jobCsp('vscode-resource:');
  assert.equal(
    csp,
    "default-src 'none'; style-src vscode-resource:; img-src vscode-resource: data:; font-src vscode-resource:; form-action 'none'; base-uri 'none'",
  );
  assert.doesNotMatch(csp, /script-src/, 'default-src none: no script runs');
  const html = jobHtml({ cspSource: 'vscode-resource:', styleUris: ['vscode-resource:/r.css'], title: 'Job <7>', body: '<h1>Job 7: Done</h1>' });
  assert.ok(html.includes(`content="${escapeHtml(csp)}"`), html);
  assert.match(html, /<main id="job"><h1>Job 7: Done<\/h1><\/main>/);
  assert.match(html, /<title>Job &lt;7&gt;<\/title>/);
  assert.doesNotMatch(html, /<script/);
});

test("a host the crawl waits on is listed though none of its pages is in yet; a host past its hold, or busy with other crawls' work, says so", () => {
  const now = Date.parse('2026-12-06T10:00:04.000Z');
  const listed: Host[] = [
    { host: 'a.test', limit: 2, inFlight: 2, queued: 9, done: 20, error: 0, state: 'busy', until: null, reason: '2 of 2 requests in flight' },
    {
      host: 'stuck.test',
      limit: 2,
      inFlight: 0,
      queued: 1,
      done: 0,
      error: 0,
      state: 'blocked',
      until: '2026-12-06T10:01:00.000Z',
      reason: 'robots.txt unreachable',
    },
    // Read before its backoff ended, as a paused crawl's host stays: over by now.
    { host: 'late.test', limit: 2, inFlight: 0, queued: 1, done: 0, error: 0, state: 'backoff', until: '2026-12-06T10:00:03.000Z', reason: 'HTTP 429' },
  ];
  const one = { ...report, byHost: [{ host: 'a.test', pages: 25, errors: 0, meanFetchMs: 10 }] };
  const view = (c: ReturnType<typeof crawl>, running: string[], queued: string[]) =>
    reportView({ crawl: c, reasons: [], now, report: one, hosts: listed, leases: [], workers: [], rates: [], running, queued });
  const v = view(crawl({ queued: 2 }), [], ['stuck.test', 'late.test']);
  assert.deepEqual(
    v.hosts.map((h) => [h.host, h.state, h.reason, h.until, h.crawlInFlight, h.queued, h.pages]),
    [
      ['stuck.test', 'blocked', 'robots.txt unreachable', '2026-12-06T10:01:00.000Z', 0, 1, 0],
      ['a.test', 'busy', "2 of 2 requests in flight, none of them this crawl's", null, 0, 0, 25],
      ['late.test', 'ready', null, null, 0, 1, 0],
    ],
  );
  const mine = view(crawl(), ['a.test', 'a.test'], []);
  assert.deepEqual(
    mine.hosts.map((h) => [h.host, h.reason, h.crawlInFlight]),
    [['a.test', '2 of 2 requests in flight', 2]],
  );
});

test("the chart's history: asked for the run in at most 600 buckets, drawn with its empty buckets as zeros, and said in words", () => {
  const ran = { ...crawl(), state: 'finished' as const, createdAt: '2026-12-06T10:00:00.000Z', finishedAt: '2026-12-06T12:00:00.000Z' };
  // Two hours: 12-second buckets cover it.
  assert.deepEqual(historyAsked(ran, Date.parse('2026-12-06T13:00:00.000Z')), { crawlId: 'c_1', since: '2026-12-06T10:00:00.000Z', bucketSeconds: 12 });
  // Running for an hour: the last twenty minutes, in the readings' two seconds.
  assert.deepEqual(historyAsked(crawl(), Date.parse('2026-12-06T11:00:01.000Z')), { crawlId: 'c_1', since: '2026-12-06T10:40:00.000Z', bucketSeconds: 2 });
  const points = historyPoints(
    {
      bucketSeconds: 2,
      buckets: [
        { at: '2026-12-06T10:00:00.000Z', pages: 80, failures: 0 },
        { at: '2026-12-06T10:00:04.000Z', pages: 4, failures: 1 },
      ],
    },
    Date.parse('2026-12-06T10:00:09.000Z'),
  );
  const t0 = Date.parse('2026-12-06T10:00:00.000Z') / 1000;
  assert.deepEqual(points, [
    { t: t0 + 2, pages: 40, errors: 0 },
    { t: t0 + 4, pages: 0, errors: 0 },
    { t: t0 + 6, pages: 2, errors: 0.5 },
    { t: t0 + 8, pages: 0, errors: 0 },
    { t: t0 + 9, pages: 0, errors: 0 },
  ]);
  const clock = (t: number) => `${t - t0}s`;
  assert.equal(
    rateSummary(points, false, clock),
    'From 2s to 9s: at most 40.0 pages per second (at 2s), 0.0 at the last reading; at most 0.5 failures per second (at 6s).',
  );
  const v = reportView({ crawl: crawl(), reasons: [], now: 0, report, hosts: [], leases: [], workers: [], running: [], queued: [], rates: points });
  assert.equal(v.ratesAveraged, false);
  assert.match(v.rateSummary, /^From .* at most 40\.0 pages per second/);
});
