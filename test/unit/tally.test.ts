/**
 * The bookkeeping sums (core/tally.ts) for a job without a reason: one that failed under a daemon
 * from before reasons were kept leaves `error` uncounted by reason, as it was never counted by
 * one; a job cannot fail without one.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { TallySums } from '../../server/src/core/tally';

test('a failed job without a reason (failed before reasons were kept) leaves error without a reason delta; none fails without one', () => {
  const t = new TallySums();
  t.move({ key: 'h', crawl_id: 'c', priority: 0, reason: null }, 'error', 'queued');
  assert.deepEqual(t.reasonDeltas(), []);
  t.move({ key: 'h', crawl_id: 'c', priority: 0, reason: 'HTTP 404' }, 'error', 'queued');
  assert.deepEqual(t.reasonDeltas(), [['c', 'HTTP 404', -1]]);
  assert.throws(() => t.move({ key: 'h', crawl_id: 'c', priority: 0 }, 'in_progress', 'error'), /failing without its reason/);
});
