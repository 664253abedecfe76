import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import type { NewJob } from '../../server/src/core/types';
import { checkInvariants } from './helpers/invariants';
import { tempDb } from './helpers/tmp';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

test('a million distinct hosts through the limiter: bookkeeping bounded, memory flat', async () => {
  const q = new SqliteQueue(tempDb());
  const HOSTS = 1_000_000;
  const BATCH = 2_000;
  let mostKeyRows = 0;
  let warm = 0;
  for (let start = 0; start < HOSTS; start += BATCH) {
    const batch: NewJob[] = [];
    for (let i = start; i < start + BATCH; i++) {
      const host = `h${i}.example`;
      batch.push({ kind: 'test', url: `http://${host}/`, key: host, dedupeKey: `http://${host}/` });
    }
    await q.enqueue(batch);
    const leased = await q.lease('w', BATCH, { ttlMs: 60_000, defaultLimit: 1 });
    assert.equal(leased.length, BATCH, 'a full batch: one job on each of as many hosts');
    await q.ack(
      'w',
      leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done' as const } })),
    );
    await q.evictIdleKeys();
    mostKeyRows = Math.max(mostKeyRows, q.keyRows());
    if (start === 100_000) warm = heapMb();
  }
  const end = heapMb();
  assert.equal((await q.stats()).done, HOSTS);
  assert.equal(q.keyRows(), 0, 'every idle host evicted');
  assert.ok(mostKeyRows <= BATCH, `per-host rows never beyond the hosts in flight (${mostKeyRows})`);
  assert.ok(end - warm < 16, `heap flat after warm-up: ${warm.toFixed(1)} MB → ${end.toFixed(1)} MB`);
  checkInvariants(q);
  await q.close();
});
