/**
 * The change feed's queue stats: sent when the counts change, and when the rate alone moves at most
 * once a second until it has settled; never for a batch that changes neither.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChangeFeed, type ChangeBatch } from '../../server/src/daemon/notify/feed';
import { RateMeter } from '../../server/src/daemon/notify/rate';
import { TestDaemon } from './helpers/client-daemon';
import { eventually } from './helpers/tmp';

type Stats = NonNullable<ChangeBatch['stats']>;

let d: TestDaemon;
let feed: ChangeFeed;
const sent: { at: number; stats: Stats; jobs: ChangeBatch['jobs'] }[] = [];

before(async () => {
  d = await TestDaemon.start();
  // Its own feed, with a short rate window so that the rate settles within the test.
  feed = new ChangeFeed(d.queue, d.daemon.crawls, new RateMeter(1_500), { pollMs: 20, minIntervalMs: 20 }, () => {});
  feed.on((b) => {
    if (b.stats) sent.push({ at: Date.now(), stats: b.stats, jobs: b.jobs });
  });
  feed.start();
});

after(async () => {
  feed.stop();
  await d.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a batch that changes no count sends no stats', async () => {
  await d.request('jobs/enqueue', { urls: ['http://a.test/1', 'http://a.test/2', 'http://a.test/3'] });
  await eventually('stats with 3 queued', () => sent.some((s) => s.stats.queued === 3));
  const seen = sent.length;
  for (let i = 0; i < 5; i++) {
    feed.batchDue();
    await sleep(50);
  }
  assert.equal(sent.length, seen);
});

test('after jobs finish, the rate alone is sent at most once a second, until it is back to 0', async () => {
  // A second after the last count, so the rate meter has a span to measure.
  await sleep(1_100);
  await d.finish(2);
  await eventually('stats with 2 done', () => sent.some((s) => s.stats.done === 2));
  const from = sent.findIndex((s) => s.stats.done === 2);
  // Batches keep coming for other reasons (crawl totals, other processes' commits).
  const busy = setInterval(() => feed.batchDue(), 100);
  try {
    await eventually('the rate back to 0', () => sent.at(-1)!.stats.jobsPerSecond === 0 && sent.length > from + 1, 10_000);
    const settled = sent.length;
    await sleep(1_500);
    assert.equal(sent.length, settled, 'nothing once the rate has settled');
  } finally {
    clearInterval(busy);
  }

  const after = sent.slice(from);
  assert.ok(
    after.some((s) => s.stats.jobsPerSecond > 0),
    JSON.stringify(after),
  );
  for (let i = 1; i < after.length; i++) {
    assert.equal(after[i].stats.done, 2, 'no count changed');
    assert.equal(after[i].jobs, null, 'no job changed either: clients have nothing to refetch');
    assert.notEqual(after[i].stats.jobsPerSecond, after[i - 1].stats.jobsPerSecond, 'each says a new rate');
    assert.ok(after[i].at - after[i - 1].at >= 950, `a second apart: ${JSON.stringify(after.map((s) => [s.at - after[0].at, s.stats.jobsPerSecond]))}`);
  }
});

test('more crawls changed than a batch names: the rest come in the next batches, none dropped', async () => {
  const few = new ChangeFeed(d.queue, d.daemon.crawls, new RateMeter(), { pollMs: 20, minIntervalMs: 20, maxCrawls: 2 }, () => {});
  const told = new Map<string, string>();
  few.on((b) => {
    for (const { crawl } of b.crawls) told.set(crawl.crawlId, crawl.state);
  });
  await d.request('scheduler/pause', {});
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await d.request('crawl/start', { seeds: [`http://c${i}.test/`] })).crawlId);
  few.start();
  try {
    for (const crawlId of ids) await d.request('crawl/pause', { crawlId });
    await eventually('every pause told', () => ids.every((id) => told.get(id) === 'paused'));
  } finally {
    few.stop();
  }
});

test('while no listener wants batches none is made (the queue is not read for them); the first one wanted names what changed meanwhile', async () => {
  let takes = 0;
  const queue = new Proxy(d.queue, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'changes') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (opts: Parameters<typeof target.changes>[0]) => {
        const reader = target.changes(opts);
        const take = reader.take.bind(reader);
        reader.take = (max) => {
          takes++;
          return take(max);
        };
        return reader;
      };
    },
  });
  const lazy = new ChangeFeed(queue, d.daemon.crawls, new RateMeter(), { pollMs: 20, minIntervalMs: 20 }, () => {});
  let wanted = false;
  const named: number[] = [];
  lazy.on(
    (b) => named.push(...(b.jobs?.changes.map((c) => c.id) ?? [])),
    () => wanted,
  );
  lazy.start();
  try {
    const { ids } = await d.request('jobs/enqueue', { urls: ['http://lazy.test/1', 'http://lazy.test/2'] });
    await sleep(200);
    assert.equal(takes, 0, 'no batch made for no one');
    assert.equal(named.length, 0);
    wanted = true;
    lazy.batchDue();
    await eventually('the jobs enqueued meanwhile named', () => ids.every((id) => named.includes(id)));
    assert.ok(takes > 0);
  } finally {
    lazy.stop();
  }
});

test("a crawl's end comes in the batch of its last job's change, not a tick and a batch later", async () => {
  const ends = new ChangeFeed(d.queue, d.daemon.crawls, new RateMeter(), { pollMs: 20, minIntervalMs: 20 }, () => {});
  const told: { state: string; done: number }[] = [];
  const { crawlId } = await d.request('crawl/start', { seeds: ['http://end.test/'] });
  ends.on((b) => {
    for (const { crawl } of b.crawls) if (crawl.crawlId === crawlId) told.push({ state: crawl.state, done: crawl.counts.done });
  });
  ends.start();
  try {
    await d.finish(1_000);
    const first = (await eventually('the crawl told with its page done', () => told.find((c) => c.done === 1)))!;
    assert.equal(first.state, 'finished', 'with its last job done, the crawl is told finished in the same batch');
  } finally {
    ends.stop();
  }
});
