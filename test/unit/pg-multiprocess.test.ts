import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { PgQueue } from '../../server/src/core/pg/engine';
import { parseWorkerId } from '../../server/src/core/worker-id';
import { job, jobs } from './helpers/jobs';
import { pgDatabase } from './helpers/pg';
import { checkPgInvariants, pgValue } from './helpers/pg-invariants';
import { startProbe } from './helpers/probe';
import { worker } from './helpers/workers';
import { eventually } from './helpers/tmp';

async function open(url: string): Promise<PgQueue> {
  const q = await PgQueue.open(url);
  after(() => q.close());
  return q;
}

describe('several processes on one PostgreSQL database', () => {
  test('no double lease, and the per-host limit holds exactly across processes', async () => {
    const url = await pgDatabase();
    const probe = await startProbe(15);
    after(() => probe.close());
    const queue = await open(url);
    const keys = Array.from({ length: 12 }, (_, i) => `host${i}`);
    await queue.enqueue(jobs(keys, 15));
    const config = { db: url, probe: probe.url, mode: 'probe', maxWorkers: 6, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500 };
    await Promise.all([worker(config), worker(config), worker(config), worker(config)]);
    await eventually('every job done', async () => (await queue.stats()).done === 180, 60_000);
    assert.equal(probe.seen.size, 180, 'every job reached the outside world');
    assert.deepEqual(
      [...probe.seen.values()].filter((n) => n !== 1),
      [],
      'none twice',
    );
    const most = Math.max(...probe.maxInFlight.values());
    assert.ok(most <= 2, `at most 2 requests per host at once across 4 processes (saw ${most})`);
    const holders = await pgValue<number>(queue, `SELECT count(DISTINCT worker_id) FROM jobs WHERE state = 'done'`);
    assert.ok(holders >= 2, `the work was shared (${holders} workers)`);
    await checkPgInvariants(queue);
  });

  test("an idle worker wakes at once on another process's enqueue (a notification, not a poll)", async () => {
    const url = await pgDatabase();
    const probe = await startProbe(1);
    after(() => probe.close());
    const queue = await open(url);
    // It would look for other processes' work once a minute: only the notification can wake it in time.
    await worker({ db: url, probe: probe.url, mode: 'probe', maxWorkers: 2, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    await queue.enqueue([job('a', 1)]);
    await eventually('the sleeping worker ran it', async () => (await queue.stats()).done === 1, 20_000);
    assert.equal(probe.seen.size, 1);
  });

  test('a worker killed with SIGKILL: another process reclaims its jobs at once and finishes them', async () => {
    const url = await pgDatabase();
    const probe = await startProbe(1);
    after(() => probe.close());
    const queue = await open(url);
    await queue.enqueue(jobs(['a', 'b'], 3));
    const leased: string[] = [];
    // A long TTL: only the dead-process check can bring the jobs back within the test's time.
    const long = { leaseTtlMs: 600_000, heartbeatMs: 1000 };
    const { child, workerId } = await worker(
      { db: url, mode: 'hang', maxWorkers: 3, perHostLimit: 2, ...long },
      (line) => line.startsWith('leased') && leased.push(line),
    );
    await eventually('three leases held', () => leased.length === 3);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal((await queue.stats()).in_progress, 3);

    await worker({ db: url, probe: probe.url, mode: 'probe', maxWorkers: 4, perHostLimit: 2, ...long });
    await eventually('all six done by the other worker', async () => (await queue.stats()).done === 6, 30_000);
    const details = (await queue.pool.query(`SELECT DISTINCT detail FROM events WHERE type = 'expired'`)).rows.map((r) => r.detail);
    assert.deepEqual(details, ['worker process is gone']);
    assert.equal(await pgValue<number>(queue, `SELECT count(*) FROM jobs WHERE reclaims = 1`), 3);
    for (const line of leased) assert.ok(probe.seen.has(line.split(' ')[1]), `${line}: finished after the kill`);
    assert.equal(parseWorkerId(workerId)!.pid, child.pid, 'the dead worker was named by its pid');
    await checkPgInvariants(queue);
  });
});
