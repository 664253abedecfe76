// Pause Crawl, Resume Crawl and Cancel Crawl from the palette (crawlActions.ts): which crawls each
// picker offers, and what a row says, "name (id)" since several crawls may share a name.
import './helpers/vscode';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Crawl } from '../../server/src/protocol';
import { crawlPickItem, crawlsFor, nothingTo } from '../../client/src/crawlActions';

function crawl(over: Partial<Crawl> & Pick<Crawl, 'crawlId' | 'state'>): Crawl {
  return {
    name: 'docs',
    seeds: ['https://a.test/'],
    options: { scope: 'host', maxDepth: null, maxPages: 1000, include: [], exclude: [], followNofollow: false, storeBodies: false, addresses: 'public' },
    counts: { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0 },
    cancelled: 0,
    pages: 0,
    bytes: 0,
    dropped: {},
    fromSitemaps: 0,
    sitemapsRead: 0,
    pagesPerSecond: 0,
    createdAt: '2025-01-02T03:00:00.000Z',
    finishedAt: null,
    ...over,
  };
}

const crawls = [
  crawl({ crawlId: 'c_run_old', state: 'running', createdAt: '2025-01-02T01:00:00.000Z' }),
  crawl({ crawlId: 'c_paused', state: 'paused' }),
  crawl({ crawlId: 'c_done', state: 'finished', finishedAt: '2025-01-02T04:00:00.000Z' }),
  crawl({ crawlId: 'c_cancelled', state: 'cancelled', finishedAt: '2025-01-02T04:00:00.000Z' }),
  crawl({ crawlId: 'c_run_new', state: 'running', createdAt: '2025-01-02T05:00:00.000Z' }),
];
const ids = (list: Crawl[]) => list.map((c) => c.crawlId);

test('pause offers the running crawls, resume the paused ones, cancel both; newest first', () => {
  assert.deepEqual(ids(crawlsFor('pause', crawls)), ['c_run_new', 'c_run_old']);
  assert.deepEqual(ids(crawlsFor('resume', crawls)), ['c_paused']);
  assert.deepEqual(ids(crawlsFor('cancel', crawls)), ['c_run_new', 'c_paused', 'c_run_old']);
});

test('with no crawl to act on, each action says which kind it was looking for', () => {
  const ended = crawls.filter((c) => c.state === 'finished' || c.state === 'cancelled');
  for (const action of ['pause', 'resume', 'cancel'] as const) assert.deepEqual(crawlsFor(action, ended), []);
  assert.equal(nothingTo('pause'), 'No crawl is running, so there is none to pause.');
  assert.equal(nothingTo('resume'), 'No crawl is paused, so there is none to resume.');
  assert.equal(nothingTo('cancel'), 'No crawl is running or paused, so there is none to cancel.');
});

test('a picker row: "name (id)", or the id alone, with its state and progress', () => {
  const running = crawl({
    crawlId: 'c_1a2b',
    state: 'running',
    pagesPerSecond: 2.5,
    counts: { queued: 170, in_progress: 10, done: 115, skipped: 3, error: 2 },
  });
  const item = crawlPickItem(running);
  assert.equal(item.label, 'docs (c_1a2b)');
  // The Jobs view's wording for the crawl (crawlDescription), so the picker and the tree agree.
  assert.equal(item.description, 'running · 120/300 finished · 2 failed · 2.5 pages/s');
  assert.equal(item.detail, 'https://a.test/');
  const unnamed = crawlPickItem({
    ...running,
    crawlId: 'c_3c4d',
    name: null,
    state: 'paused',
    seeds: ['https://a.test/1', 'https://a.test/2', 'https://a.test/3', 'https://a.test/4'],
  });
  assert.equal(unnamed.label, 'c_3c4d');
  assert.equal(unnamed.description, 'paused · 120/300 finished · 2 failed');
  assert.equal(unnamed.detail, 'https://a.test/1 https://a.test/2 https://a.test/3 and 1 more');
});
