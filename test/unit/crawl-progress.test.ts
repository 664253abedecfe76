/**
 * A crawl's progress as the views say it, on both engines. A cancelled crawl: its queued jobs,
 * cancelled with it, become skipped jobs in the queue's counts, and every view said "159/159
 * finished" of a crawl that fetched 6 pages; the crawl counts them apart (crawl/get's
 * `cancelled`), and the pickers, the Jobs view, the report and crawlctl say so from one function.
 * Its rate over time (crawl/rates) from its records: the report's chart had none before it opened.
 */
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { crawlDescription } from '../../client/src/jobsTreeText';
import { historyAsked, historyPoints, reportView } from '../../client/src/report/model';
import { progressLine } from '../../server/src/cli/watch';
import { wireCrawl, wireRates } from '../../server/src/daemon/wire';
import type { CrawlReport } from '../../server/src/protocol';
import { crawlerOn } from './helpers/crawler';
import { ENGINES } from './helpers/engines';
import { page, startHost, text, type Route, type TestHost } from './helpers/testsite';
import { eventually } from './helpers/tmp';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

for (const engine of ENGINES) {
  test(`${engine.name}: a cancelled crawl says how many pages finished and how many were cancelled, not all finished`, async () => {
    const links = Array.from({ length: 8 }, (_, i) => `/p${i}`);
    // The links' pages answer once the crawl is cancelled: two at a time run (the host's limit), the rest wait queued.
    let answer!: () => void;
    const cancelledYet = new Promise<void>((r) => (answer = r));
    const held: Route = async (req, res, n) => {
      await cancelledYet;
      await page([])(req, res, n);
    };
    const site = await startHost('127.0.0.2', { '/robots.txt': text(''), '/': page(links), ...Object.fromEntries(links.map((l) => [l, held])) });
    hosts.push(site);
    const c = await crawlerOn(engine);
    const { crawlId } = await c.crawls.start({ seeds: [site.url('/')], scope: 'host' });
    await eventually('the first page fetched, its links queued', async () => {
      const n = (await c.crawls.get(crawlId)).counts;
      return n.done === 1 && n.queued + n.in_progress === links.length && n.in_progress === 2;
    });
    // Paused, it fetches nothing: no rate (it read its average since the start, 0.5 pages/s or so).
    const paused = await c.crawls.pause(crawlId);
    assert.equal(paused.pagesPerSecond, 0);
    const { cancelled } = await c.crawls.cancel(crawlId);
    answer();
    assert.equal(cancelled, links.length - 2, 'the queued links were cancelled');
    const crawl = await eventually('the crawl settled', async () => {
      const w = wireCrawl(await c.crawls.get(crawlId));
      return w.counts.in_progress === 0 ? w : null;
    });
    assert.ok(crawl);
    assert.equal(crawl.cancelled, cancelled);
    assert.equal(crawl.counts.skipped, cancelled, 'the queue counts them as skipped, as it did');
    const finished = 1 + links.length - cancelled;
    assert.equal(crawlDescription(crawl), `cancelled · ${finished} finished · ${cancelled} cancelled`);
    assert.match(`${progressLine(crawl)}`, new RegExp(`^\\[.*\\] ${finished} finished of 9 found · cancelled · ${cancelled} cancelled · `));
    const view = reportView({
      crawl,
      report: emptyReport(crawlId),
      reasons: [],
      now: Date.now(),
      hosts: [],
      leases: [],
      workers: null,
      running: [],
      queued: [],
      rates: [],
    });
    assert.deepEqual(
      view.counts.map((n) => `${n.label} ${n.count}`),
      [`done ${finished}`, 'queued 0', 'running 0', 'failed 0', 'skipped 0', `cancelled ${cancelled}`],
    );
    // What ran before the cancel is all the chart counts: no burst of pages at the cancel.
    assert.equal(Math.round((view.rates[0].pages * (Date.parse(crawl.finishedAt!) - Date.parse(crawl.createdAt))) / 1000), finished);
  });
}

for (const engine of ENGINES) {
  test(`${engine.name}: a crawl's rate over time comes from its records, for the report's chart before it opened`, async () => {
    const links = Array.from({ length: 12 }, (_, i) => `/q${i}`);
    const site = await startHost('127.0.0.3', {
      '/robots.txt': text(''),
      '/': page([...links, '/gone']),
      ...Object.fromEntries(links.map((l) => [l, page([])])),
    });
    hosts.push(site);
    const c = await crawlerOn(engine);
    const started = Date.now();
    const done = await c.run({ seeds: [site.url('/')], scope: 'host' });
    assert.equal(done.counts.error, 1, '/gone is a 404');
    const r = wireRates(await c.crawls.rateHistory(done.id, null, 2));
    assert.equal(r.bucketSeconds, 2);
    assert.equal(
      r.buckets.reduce((n, b) => n + b.pages, 0),
      links.length + 2,
      'every page fetched, the 404 with them',
    );
    assert.equal(
      r.buckets.reduce((n, b) => n + b.failures, 0),
      1,
    );
    for (const b of r.buckets) assert.ok(Date.parse(b.at) >= started - 2000 && Date.parse(b.at) % 2000 === 0, b.at);
    // As the report asks for it once the crawl ended: its whole run, drawn as rates.
    const crawl = wireCrawl(done);
    const asked = historyAsked(crawl, Date.now());
    const whole = wireRates(await c.crawls.rateHistory(done.id, Date.parse(asked.since), asked.bucketSeconds));
    const points = historyPoints(whole, Date.parse(crawl.finishedAt!));
    assert.equal(Math.round(points.reduce((n, p) => n + p.pages * asked.bucketSeconds, 0)), links.length + 2);
    // Another window is another window: nothing before the crawl.
    assert.deepEqual((await c.crawls.rateHistory(done.id, started - 3_600_000, 2)).buckets, []);
  });
}

function emptyReport(crawlId: string): CrawlReport {
  return {
    crawlId,
    pages: 0,
    byStatus: {},
    byHost: [],
    byContentType: {},
    brokenLinks: [],
    brokenCount: 0,
    redirects: [],
    redirectCount: 0,
    slowest: [],
    largest: [],
    missingTitles: 0,
  };
}
