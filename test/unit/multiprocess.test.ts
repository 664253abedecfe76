import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { validateConfig } from '../../server/src/core/config';
import { Scheduler } from '../../server/src/core/scheduler';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { parseWorkerId } from '../../server/src/core/worker-id';
import { checkInvariants } from './helpers/invariants';
import { job, jobs } from './helpers/jobs';
import { startProbe } from './helpers/probe';
import { worker } from './helpers/workers';
import { eventually, tempDb } from './helpers/tmp';

describe('several processes on one database', () => {
  test('no double lease, and the per-host limit holds exactly across processes', async () => {
    const db = tempDb();
    const probe = await startProbe(15);
    after(() => probe.close());
    const queue = new SqliteQueue(db);
    const keys = Array.from({ length: 12 }, (_, i) => `host${i}`);
    await queue.enqueue(jobs(keys, 15));
    const config = { db, probe: probe.url, mode: 'probe', maxWorkers: 6, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500 };
    await Promise.all([worker(config), worker(config), worker(config)]);
    await eventually('every job done', async () => (await queue.stats()).done === 180, 60_000);
    assert.equal(probe.seen.size, 180, 'every job reached the outside world');
    assert.deepEqual(
      [...probe.seen.values()].filter((n) => n !== 1),
      [],
      'none twice',
    );
    const most = Math.max(...probe.maxInFlight.values());
    assert.ok(most <= 2, `at most 2 requests per host at once across 3 processes (saw ${most})`);
    const holders = queue.db.prepare(`SELECT count(DISTINCT worker_id) FROM jobs WHERE state = 'done'`).pluck().get() as number;
    assert.ok(holders >= 2, `the work was shared (${holders} workers)`);
    checkInvariants(queue);
    await queue.close();
  });

  test('a worker killed with SIGKILL: its jobs come back at once on this machine and finish elsewhere', async () => {
    const db = tempDb();
    const queue = new SqliteQueue(db);
    await queue.enqueue(jobs(['a', 'b'], 3));
    const leased: string[] = [];
    // A long TTL: only the dead-process check can bring the jobs back within the test's time.
    const { child, workerId } = await worker(
      { db, mode: 'hang', maxWorkers: 3, perHostLimit: 2, leaseTtlMs: 600_000, heartbeatMs: 1000 },
      (line) => line.startsWith('leased') && leased.push(line),
    );
    await eventually('three leases held', () => leased.length === 3);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal((await queue.stats()).in_progress, 3);

    const done: number[] = [];
    const scheduler = new Scheduler(
      queue,
      {
        test: async (j) => {
          done.push(j.id);
        },
      },
      validateConfig({ maxWorkers: 4, leaseTtlMs: 600_000, heartbeatMs: 1000, pollMs: 20 }),
    );
    scheduler.start();
    await eventually('all six done here', async () => (await queue.stats()).done === 6, 20_000);
    await scheduler.stop();
    const events = queue.db.prepare(`SELECT DISTINCT detail FROM events WHERE type = 'expired'`).pluck().all();
    assert.deepEqual(events, ['worker process is gone']);
    const reclaimed = queue.db.prepare(`SELECT count(*) FROM jobs WHERE reclaims = 1`).pluck().get();
    assert.equal(reclaimed, 3);
    for (const line of leased) assert.ok(done.includes(Number(line.split(' ')[1])), `${line}: finished here after the kill`);
    assert.equal(parseWorkerId(workerId)!.pid, child.pid, 'the dead worker was named by its pid');
    checkInvariants(queue);
    await queue.close();
  });

  test('a worker on another machine is reclaimed only when its lease expires', async () => {
    const db = tempDb();
    const queue = new SqliteQueue(db);
    await queue.enqueue([job('a', 1)]);
    // A worker id from another host: its pid means nothing here.
    await queue.lease('elsewhere.example:1:abcdef', 1, { ttlMs: 1500, defaultLimit: 2 });
    const scheduler = new Scheduler(queue, { test: async () => {} }, validateConfig({ leaseTtlMs: 1000, heartbeatMs: 100, pollMs: 20 }));
    scheduler.start();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await queue.get(1))!.job.workerId, 'elsewhere.example:1:abcdef', "still the other machine's before its TTL");
    await eventually('done after the TTL', async () => (await queue.stats()).done === 1, 10_000);
    await scheduler.stop();
    assert.equal((await queue.get(1))!.events.find((e) => e.type === 'expired')!.detail, 'lease expired');
    await queue.close();
  });
});
