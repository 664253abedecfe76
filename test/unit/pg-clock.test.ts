/**
 * Daemons whose clocks disagree, on one PostgreSQL database (issue 18, item 4): each engine keeps
 * the server's time, whatever its machine's clock (injected here, skewed by an hour) says.
 */
import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { PgQueue, type PgQueueOptions } from '../../server/src/core/pg/engine';
import { job } from './helpers/jobs';
import { pgDatabase } from './helpers/pg';
import { checkPgInvariants } from './helpers/pg-invariants';
import { eventually } from './helpers/tmp';

const HOUR = 3_600_000;

async function open(url: string, opts: PgQueueOptions = {}): Promise<PgQueue> {
  const q = await PgQueue.open(url, opts);
  after(() => q.close());
  return q;
}

describe('a daemon whose clock is skewed', () => {
  test('an hour ahead, it neither steals a live lease nor reclaims one before it expires', async () => {
    const url = await pgDatabase();
    const honest = await open(url);
    const ahead = await open(url, { clock: () => Date.now() + HOUR });
    await honest.enqueue([job('a', 1)]);
    const [leased] = await honest.lease('honest', 1, { ttlMs: 2_000, defaultLimit: 1 });
    assert.deepEqual(await ahead.reap(), { requeued: 0, failed: 0 }, 'the lease is live');
    assert.deepEqual(
      (await ahead.leases()).map((l) => l.leaseToken),
      [leased.leaseToken],
    );
    // Its holder still acknowledges it.
    assert.deepEqual((await honest.ack('honest', [{ id: leased.id, token: leased.leaseToken, outcome: { type: 'done' } }]))[0].ok, true);

    await honest.enqueue([job('a', 2)]);
    const [second] = await honest.lease('honest', 1, { ttlMs: 2_000, defaultLimit: 1 });
    await eventually("reclaimed once it has expired on the server's clock", async () => (await ahead.reap()).requeued === 1);
    assert.equal((await honest.get(second.id))!.job.state, 'queued');
    assert.ok(Math.abs(ahead.now() - honest.now()) < 60_000, `its queue keeps the server's time (${ahead.now() - honest.now()} ms apart)`);
    await checkPgInvariants(honest);
  });

  test('an hour behind, its leases and heartbeats are not taken for expired by the others', async () => {
    const url = await pgDatabase();
    const honest = await open(url);
    const behind = await open(url, { clock: () => Date.now() - HOUR });
    await honest.enqueue([job('a', 1), job('b', 1)]);
    const held = await behind.lease('behind', 2, { ttlMs: 60_000, defaultLimit: 1 });
    assert.equal(held.length, 2);
    assert.deepEqual(await honest.reap(), { requeued: 0, failed: 0 }, 'its fresh leases are live');
    await behind.heartbeat(
      'behind',
      60_000,
      held.map((j) => ({ id: j.id, token: j.leaseToken })),
    );
    assert.deepEqual(await honest.reap(), { requeued: 0, failed: 0 }, 'its renewed leases are live');
    for (const l of await honest.leases()) assert.ok(l.expiresAt > honest.now(), `job ${l.jobId}'s lease ends in the future`);
  });

  test("an hour ahead, the backoff it writes ends on the server's clock, not an hour late", async () => {
    const url = await pgDatabase();
    const honest = await open(url);
    const ahead = await open(url, { clock: () => Date.now() + HOUR, backoff: { baseMs: 500, maxMs: 500 } });
    await honest.enqueue([job('a', 1)]);
    const [leased] = await ahead.lease('ahead', 1, { ttlMs: 60_000, defaultLimit: 1 });
    await ahead.ack('ahead', [{ id: leased.id, token: leased.leaseToken, outcome: { type: 'fail', error: 'HTTP 503' } }]);
    const wake = await honest.nextWakeAt();
    assert.ok(wake !== null && wake - honest.now() < 60_000, `the retry is due within the backoff (at ${wake}, now ${honest.now()})`);
    await eventually('another daemon leases the retry', async () => (await honest.lease('honest', 1, { ttlMs: 60_000, defaultLimit: 1 })).length === 1);
  });
});
