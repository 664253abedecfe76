/**
 * The progress line's words and width, and "did you mean" for mistyped commands and flags.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nearest } from '../../server/src/core/suggest';
import { progressLine } from '../../server/src/cli/watch';
import type { Crawl } from '../../server/src/protocol';
import { crawlctl, scratch } from './helpers/daemon-proc';

function crawl(counts: Crawl['counts'], state: Crawl['state'] = 'running', cancelled = 0): Crawl {
  return {
    crawlId: 'c_1',
    name: null,
    seeds: ['http://a.test/'],
    options: { maxDepth: 3, maxPages: 10_000, scope: 'host', include: [], exclude: [], followNofollow: false, storeBodies: false },
    state,
    counts,
    cancelled,
    pages: 0,
    bytes: 0,
    dropped: {},
    fromSitemaps: 0,
    sitemapsRead: 0,
    pagesPerSecond: 4.2,
    createdAt: '2025-01-01T00:00:00.000Z',
    finishedAt: null,
  };
}

describe('the progress line', () => {
  test('says what its fraction counts, and every part while they fit', () => {
    const now = Date.parse('2025-01-01T00:01:02.000Z');
    assert.equal(
      `${progressLine(crawl({ done: 80, skipped: 2, error: 1, queued: 7, in_progress: 2 }), now)}`,
      '[█████████░] 83 finished of 92 found so far · 1 error · 2 running · 1 min 2 s',
    );
    assert.equal(
      `${progressLine(crawl({ done: 5, skipped: 3, error: 0, queued: 2, in_progress: 0 }), now)}`,
      '[████████░░] 8 finished of 10 found so far · 1 min 2 s · 3 skipped',
      'the rate would not fit',
    );
    assert.equal(
      `${progressLine(crawl({ done: 0, skipped: 0, error: 0, queued: 1, in_progress: 0 }, 'paused'), now)}`,
      '[░░░░░░░░░░] 0 finished of 1 found so far · paused · 1 min 2 s · 4.2 pages/s',
    );
  });

  test('fits 80 columns however large the counts, the least useful parts left out first', () => {
    const big = progressLine(
      crawl({ done: 12_345_678, skipped: 2_345_678, error: 1_234_567, queued: 98_765_432, in_progress: 1000 }),
      Date.parse('2025-01-03T00:00:00.000Z'),
    );
    assert.ok([...`${big}`].length <= 79, `${big}`);
    assert.match(`${big}`, /^\[█░{9}\] 15925923 finished of 114692355 found so far · 1234567 errors$/);
  });
});

describe('did you mean', () => {
  test('the nearest known word, when one is near enough', () => {
    const commands = ['crawl', 'crawls', 'stats', 'jobs', 'job', 'requeue', 'watch'];
    assert.equal(nearest('stauts', commands), 'stats', 'a swap');
    assert.equal(nearest('wacth', commands), 'watch');
    assert.equal(nearest('req', commands), 'requeue', 'the start of a longer word');
    assert.equal(nearest('Jobs', commands), 'jobs');
    assert.equal(nearest('frobnicate', commands), null);
    assert.equal(nearest('xy', commands), null);
    assert.equal(nearest('stat', ['state-dir', 'state']), 'state', 'ties go to the nearest in length');
  });

  test('crawlctl suggests a command or a flag, and still exits 2', async () => {
    const empty = scratch();
    const cases: [string[], string][] = [
      [['stauts'], 'crawlctl: unknown command "stauts"\nDid you mean "crawlctl stats"?\nRun "crawlctl help" for the list.\n'],
      [['help', 'wacth'], 'crawlctl help: no command "wacth"\nDid you mean "crawlctl help watch"?\nRun "crawlctl help" for the list.\n'],
      [
        ['crawl', 'http://a.test/', '--max-dept', '2'],
        'crawlctl crawl: unknown flag --max-dept\nDid you mean "--max-depth"?\nRun "crawlctl crawl --help" for its flags.\n',
      ],
      [['frobnicate'], 'crawlctl: unknown command "frobnicate"\nRun "crawlctl help" for the list.\n'],
      [['crawl', 'pauze', 'c_1a2b'], 'crawlctl crawl: "pauze" is neither a URL nor a seed file; did you mean "crawlctl crawl pause c_1a2b"?\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await crawlctl([...args, '--state-dir', empty]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr, stderr);
    }
  });
});
