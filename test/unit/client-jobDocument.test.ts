// Show Details: the job document's history, split attempt by attempt, from a real daemon's jobs/get;
// a crawl's job's page section (its record, where it was found, its links) from a real crawl.
import './helpers/vscode';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PageRecord } from '../../server/src/protocol';
import { DATA_VALUES_SHOWN, JobDocuments, attempts, pageSection, renderJobDocument } from '../../client/src/jobDocument';
import { crawledSite, TestDaemon } from './helpers/client-daemon';
import { page, status } from './helpers/testsite';
import { sentJob } from './helpers/jobs';

test('each lease starts an attempt; the record, result and every event are there', async () => {
  const d = await TestDaemon.start();
  after(() => d.stop());
  const { ids } = await d.request('jobs/enqueue', { urls: ['https://a.test/page'], maxAttempts: 2 });
  await d.fail(1, 'HTTP 500');
  await d.request('jobs/requeue', { ids });
  await d.finish(1);
  const { job, events } = await d.request('jobs/get', { id: ids[0] });

  const sections = attempts(events);
  assert.deepEqual(
    sections.map((s) => s.title),
    ['Before the first lease', 'Lease 1: attempt 1 of 2, worker w-test', 'Lease 2: attempt 1 of 2, worker w-test'],
  );
  assert.deepEqual(
    sections.map((s) => s.events.map((e) => e.type)),
    [['enqueued'], ['leased', 'failed', 'requeued'], ['leased', 'done']],
  );

  const text = renderJobDocument(job, events, Date.now());
  assert.match(text, new RegExp(`^# Job ${ids[0]}: Done\\n\\n<https://a\\.test/page>`));
  assert.match(text, /\| what happened \| HTTP 200 \|/);
  assert.match(text, /\| attempts \| 1 of 2 spent \|/);
  assert.match(text, /\| may start \| — \|/);
  assert.match(text, /\| last error \| — \|/);
  assert.match(text, /- status: 200\n- content type: text\/html\n- size: 2\.0 KiB \(2048 bytes\)\n- duration: 35 ms/);
  assert.match(text, /## History \(6 events\)/);
  // Local times to the millisecond, never the wire's ISO UTC.
  assert.match(text, /\| \d\d:\d\d:\d\d\.\d{3} \| \+\d+ ms \| failed \| w-test \| HTTP 500 \(attempt 1\/2\) \|/);
  assert.doesNotMatch(text, /\d{4}-\d\d-\d\dT/);
  assert.match(text, /## Lease\n\nNot leased\./);
});

test("what a web server or a worker wrote is text in the document, never HTML, a link or a code span's end", async () => {
  const d = await TestDaemon.start();
  after(() => d.stop());
  const { ids } = await d.request('jobs/enqueue', { urls: ['https://a.test/page'], maxAttempts: 2 });
  // As the fetcher words a redirect it refuses, quoting the server's Location header.
  const hostile = 'redirects to <form action="https://evil.example"><input name=p></form> [Sign in](https://evil.example) `x';
  await d.fail(1, hostile);
  const { job, events } = await d.request('jobs/get', { id: ids[0] });
  const text = renderJobDocument({ ...job, workerId: 'w`<b>', leaseExpiresAt: job.updatedAt, result: null }, events, Date.now());
  // Outside autolinks (<https://...>, which Markdown takes literally), no < and no [text](url) unescaped.
  const bare = text.replace(/^<https:\/\/a\.test\/page>$/m, '');
  assert.doesNotMatch(bare, /(^|[^\\])</m, bare);
  assert.doesNotMatch(bare, /(^|[^\\])\[Sign in(^|[^\\])\]\(/m);
  assert.match(bare, /\| last error \| redirects to \\<form action="https:\/\/evil\.example"\\>/);
  assert.match(bare, /- worker: w\\`\\<b\\>/);
  assert.match(bare, /\| failed \| w-test \| redirects to \\<form/);
});

test('a lease whose lost worker made the queue give the job up is titled so, not "not counted"', async () => {
  const d = await TestDaemon.start();
  after(() => d.stop());
  const { ids } = await d.request('jobs/enqueue', { urls: ['https://a.test/lost'], maxAttempts: 2 });
  for (let lost = 1; lost <= 3; lost++) {
    assert.equal((await d.lease(1)).length, 1);
    await d.queue.reclaimWorkers(['w-test'], 'worker w-test gone');
  }
  const { job, events } = await d.request('jobs/get', { id: ids[0] });
  assert.equal(job.state, 'error');
  assert.deepEqual(
    attempts(events).map((s) => s.title),
    [
      'Before the first lease',
      'Lease 1: attempt 1 of 2, lost its worker, not counted, worker w-test',
      'Lease 2: attempt 1 of 2, lost its worker, not counted, worker w-test',
      'Lease 3: attempt 1 of 2, lost its worker, gave up, worker w-test',
    ],
  );
});

// --- the page section ------------------------------------------------------------------------

const PAGE: PageRecord = {
  url: 'https://a.test/old',
  jobId: 7,
  finalUrl: 'https://a.test/new',
  redirects: ['https://a.test/mid', 'https://a.test/new'],
  status: 200,
  error: null,
  skipped: false,
  contentType: 'text/html; charset=utf-8',
  bytes: 2048,
  fetchMs: 35,
  fetchedAt: '2025-01-02T03:04:05.000Z',
  lastmod: null,
  depth: 1,
  title: 'A *bold* <b>claim</b> & [more](javascript:alert(1))\nsecond line',
  description: 'Cats. Dogs - and #1 pets!',
  canonical: 'https://a.test/new',
  robots: 'noindex, nofollow',
  lang: 'en',
  foundOn: 'https://a.test/',
  linkText: 'Old _page_',
  outlinks: 3,
  inlinks: 2,
  sha256: 'ab'.repeat(32),
  data: null,
};

test('the page section: each field, the redirect chain hop by hop, remote text escaped for Markdown, a link to the job it was found on', () => {
  const links = {
    page: PAGE,
    inlinkCount: 60,
    inlinks: Array.from({ length: 55 }, (_, i) => ({ url: `https://a.test/in${i}`, text: i === 0 ? '' : `In | ${i}` })),
    outlinks: [
      { url: 'https://a.test/x', text: 'X', followed: true, reason: null },
      { url: 'https://b.test/', text: 'B <script>', followed: false, reason: 'out of scope' as const },
      { url: 'https://a.test/y', text: 'Y', followed: false, reason: 'nofollow' as const },
      { url: 'https://a.test/z', text: 'Z', followed: false, reason: 'out of scope' as const },
    ],
  };
  const text = pageSection({ page: PAGE, links, foundOnJobId: 3 }, Date.parse('2025-01-02T03:05:05.000Z')).join('\n');
  assert.match(text, /^## Page$/m);
  assert.match(text, /^- status: 200$/m);
  assert.match(text, /^- URL: <https:\/\/a\.test\/old>$/m);
  assert.match(text, /^- final URL: <https:\/\/a\.test\/new>$/m);
  assert.ok(
    text.includes(
      ['- redirect chain (2 hops):', '  1. <https://a.test/old> (asked for)', '  2. <https://a.test/mid>', '  3. <https://a.test/new> (final)'].join('\n'),
    ),
    text,
  );
  // Markdown in a title is shown, not acted on: one line, emphasis, HTML, links and entities escaped.
  assert.match(text, /^- title: A \\\*bold\\\* \\<b\\>claim\\<\/b\\> \\& \\\[more\\\]\(javascript:alert\(1\)\) second line$/m);
  assert.match(text, /^- description: Cats\. Dogs - and #1 pets\\!$/m);
  assert.match(text, /^- canonical: <https:\/\/a\.test\/new>$/m);
  assert.match(text, /^- robots: noindex, nofollow$/m);
  assert.match(text, /^- lang: en$/m);
  assert.match(text, /^- content type: text\/html; charset=utf-8$/m);
  assert.match(text, /^- size: 2\.0 KiB \(2,048 bytes\)$/m);
  assert.match(text, /^- fetch time: 35 ms$/m);
  const at = new Date('2025-01-02T03:04:05.000Z');
  const clock = [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  assert.match(text, new RegExp(`^- fetched at: ${clock}$`, 'm'));
  assert.match(text, /^- depth: 1$/m);
  assert.match(text, new RegExp(`^- sha256: \`${'ab'.repeat(32)}\`$`, 'm'));
  assert.ok(text.includes('- found on: [https://a.test/](command:crawlOrchestrator.showJobDetails?%5B3%5D) (job 3), link text “Old \\_page\\_”'), text);
  assert.deepEqual(text.match(/command:[^)]*/g), ['command:crawlOrchestrator.showJobDetails?%5B3%5D'], 'the one link that runs a command');

  assert.match(text, /^## Links to this page \(60\)$/m);
  assert.match(text, /^- <https:\/\/a\.test\/in0> \(no link text\)$/m);
  assert.match(text, /^- <https:\/\/a\.test\/in1> “In \\\| 1”$/m);
  assert.match(text, /^- <https:\/\/a\.test\/in49> /m);
  assert.doesNotMatch(text, /in50>/, 'the first 50 inlinks only');
  assert.match(text, /^- and 10 more$/m);
  assert.match(text, /^## Links on this page \(4: 1 followed\)$/m);
  assert.match(text, /^Not followed: out of scope 2 · nofollow 1$/m);
  assert.match(text, /^- <https:\/\/a\.test\/x> “X”: followed$/m);
  assert.match(text, /^- <https:\/\/b\.test\/> “B \\<script\\>”: not followed \(out of scope\)$/m);
});

test('the page section without links (a crawl/page that failed), a seed, a page with no response, a URL that is no autolink', () => {
  const seed = { ...PAGE, foundOn: null, linkText: null, status: null, error: 'ECONNREFUSED', redirects: [], finalUrl: null, url: 'https://a.test/a b<c>' };
  const text = pageSection({ page: seed, links: 'Method not found: crawl/page' }, Date.now()).join('\n');
  assert.match(text, /^- status: — \(no response\)$/m);
  assert.match(text, /^- error: ECONNREFUSED$/m);
  assert.match(text, /^- URL: https:\/\/a\.test\/a b\\<c\\>$/m);
  assert.match(text, /^- redirects: none$/m);
  assert.match(text, /^- found on: — \(a seed\)$/m);
  assert.match(text, /^The page's links could not be read: Method not found: crawl\/page$/m);
  const skipped = pageSection({ page: { ...seed, skipped: true, error: 'robots.txt forbids it' } }, Date.now()).join('\n');
  assert.match(skipped, /^- status: — \(not fetched: skipped\)$/m);
  assert.match(skipped, /^- skipped: robots\.txt forbids it$/m);
  assert.doesNotMatch(skipped, /## Links/);
  // The job of the page it was found on is not known: the URL as a plain link.
  assert.match(pageSection({ page: PAGE }, Date.now()).join('\n'), /^- found on: <https:\/\/a\.test\/>, link text “Old \\_page\\_”$/m);
});

test("the page section shows the page's data: each field, a list's first values, no match said so, remote text escaped", () => {
  const data = { price: '12.50', name: '*Bold* <b>', tags: Array.from({ length: DATA_VALUES_SHOWN + 3 }, (_, i) => `t${i}`), none: [], missing: null, n: 3 };
  const text = pageSection({ page: { ...PAGE, data } }, Date.now()).join('\n');
  const section = text.slice(text.indexOf('## Data'));
  assert.match(section, /^- price: “12\.50”$/m);
  assert.match(section, /^- name: “\\\*Bold\\\* \\<b\\>”$/m);
  assert.match(section, new RegExp(`^- tags \\(${DATA_VALUES_SHOWN + 3} matches\\):\\n  - “t0”$`, 'm'));
  assert.match(section, /^ {2}- and 3 more$/m);
  assert.match(section, /^- none \(0 matches\)$/m);
  assert.match(section, /^- missing: — \(no match\)$/m);
  assert.match(section, /^- n: 3$/m);
  assert.doesNotMatch(pageSection({ page: PAGE }, Date.now()).join('\n'), /## Data/, 'no data: no section');
});

test("a crawl's job document shows its page, where it was found (a link to that page's job) and its links, from a real crawl", async () => {
  const { d, site, crawlId } = await crawledSite('127.0.0.141', {
    '/': page(['/a', '/old'], 'Home'),
    '/a': page(['/', '/b', 'http://127.0.0.142/elsewhere', '/missing'], 'Page *A*'),
    '/b': page([], 'Page B'),
    '/old': status(301, { location: '/new' }),
    '/new': page(['/'], 'New'),
  });
  const { jobs } = await d.request('jobs/list', { crawlId, limit: 100 });
  const jobOf = (p: string) => jobs.find((j) => j.url === site.url(p))!;
  const docs = new JobDocuments(Object.assign(d, { onJobsChanged: () => ({ dispose() {} }) }), null as never);
  const show = (id: number) => docs.render(id);

  const a = await show(jobOf('/a').id);
  assert.match(a, /^## Page$/m);
  assert.match(a, /^- status: 200$/m);
  assert.match(a, /^- title: Page \\\*A\\\*$/m);
  assert.match(a, /^- depth: 1$/m);
  const home = jobOf('/');
  assert.ok(a.includes(`- found on: [${site.url('/')}](command:crawlOrchestrator.showJobDetails?%5B${home.id}%5D) (job ${home.id}), link text “/a”`), a);
  assert.deepEqual(a.match(/command:[^)]*/g), [`command:crawlOrchestrator.showJobDetails?%5B${home.id}%5D`]);
  assert.match(a, /^## Links to this page \(1\)$/m);
  assert.ok(a.includes(`- <${site.url('/')}> “/a”`), a);
  assert.match(a, /^## Links on this page \(4: 3 followed\)$/m);
  assert.ok(a.includes(`- <http://127.0.0.142/elsewhere> “http://127.0.0.142/elsewhere”: not followed (out of scope)`), a);
  assert.ok(a.includes(`- <${site.url('/b')}> “/b”: followed`), a);
  // The History still comes last.
  assert.ok(a.indexOf('## Links on this page') < a.indexOf('## History'));

  const old = await show(jobOf('/old').id);
  assert.ok(old.includes(`- redirect chain (1 hop):\n  1. <${site.url('/old')}> (asked for)\n  2. <${site.url('/new')}> (final)`), old);

  const missing = await show(jobOf('/missing').id);
  assert.match(missing, /^- status: 404$/m);

  const seed = await show(home.id);
  assert.match(seed, /^- found on: — \(a seed\)$/m);
  assert.match(seed, /^## Links to this page \(\d+\)$/m);

  // A job outside any crawl has no page section.
  const { ids } = await d.request('jobs/enqueue', { urls: ['https://standalone.test/'] });
  assert.doesNotMatch(await show(ids[0]), /## Page/);
});

test('the document names the job\'s crawl "name (id)", asking its name once; the id when it cannot be read', async () => {
  const asked: string[] = [];
  const job = sentJob({ id: 9, url: 'https://a.test/', host: 'a.test', crawlId: 'c_9' });
  let named = true;
  const daemon = {
    onJobsChanged: () => ({ dispose() {} }),
    async request(method: string, params: { crawlId?: string }) {
      asked.push(method);
      if (method === 'jobs/get') return { job: { ...job, crawlId: params.crawlId ?? job.crawlId }, events: [], page: null };
      if (method === 'crawl/get' && named) return { crawl: { crawlId: 'c_9', name: 'docs' } };
      throw new Error('no such crawl');
    },
  };
  const docs = new JobDocuments(daemon as unknown as ConstructorParameters<typeof JobDocuments>[0], null as never);
  const show = () => docs.render(9);
  assert.match(await show(), /^\| crawl \| docs \(c\\_9\) \|$/m);
  assert.match(await show(), /^\| crawl \| docs \(c\\_9\) \|$/m);
  assert.deepEqual(asked, ['jobs/get', 'crawl/get', 'jobs/get'], 'names never change: asked once');
  named = false;
  const other = new JobDocuments(daemon as unknown as ConstructorParameters<typeof JobDocuments>[0], null as never);
  assert.match(await other.render(9), /^\| crawl \| c\\_9 \|$/m);
  docs.dispose();
  other.dispose();
});
