import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Ack, LeasedJob } from '../../server/src/core/types';
import { ENGINES, openQueue } from './helpers/engines';
import { job, jobs } from './helpers/jobs';

/** Acknowledged as the scheduler does it: with the leased job, so the queue can ack a batch at once. */
const withJob = (j: LeasedJob, outcome: Ack['outcome']): Ack => ({ id: j.id, token: j.leaseToken, outcome, job: j });

for (const engine of ENGINES) {
  describe(`${engine.name}: acknowledgements in batches`, () => {
    async function open() {
      const clock = { now: 1_700_000_000_000 };
      const { q } = await openQueue(engine, { clock: () => clock.now, random: () => 0.5 });
      return { q, clock };
    }

    test('a batch of every outcome, with follow-ups, settles each job as one ack would', async () => {
      const { q } = await open();
      await q.enqueue(jobs(['a', 'b', 'c'], 2));
      const leased = await q.lease('w', 6, { ttlMs: 1000, defaultLimit: 5 });
      assert.equal(leased.length, 6);
      const [j1, j2, j3, j4, j5, j6] = leased;
      const r = await q.ack('w', [
        withJob(j1, { type: 'done', result: { status: 200 }, enqueue: [job('d', 1), job('a', 0)] }),
        withJob(j2, { type: 'skip', reason: 'not HTML' }),
        withJob(j3, { type: 'fail', error: 'HTTP 500' }),
        withJob(j4, { type: 'fail', error: 'gone', retryable: false }),
        withJob(j5, { type: 'defer', reason: 'HTTP 429', delayMs: 5000 }),
        withJob(j6, { type: 'release', reason: 'stopping' }),
      ]);
      assert.deepEqual(
        r.map((x) => [x.id, x.ok, x.ok && x.state]),
        [
          [j1.id, true, 'done'],
          [j2.id, true, 'skipped'],
          [j3.id, true, 'queued'],
          [j4.id, true, 'error'],
          [j5.id, true, 'queued'],
          [j6.id, true, 'queued'],
        ],
      );
      const first = r[0];
      assert.ok(first.ok && first.enqueued);
      assert.deepEqual([first.enqueued.enqueued, first.enqueued.duplicates], [1, 1], 'the follow-up to a known URL is a duplicate');
      assert.deepEqual((await q.get(j1.id))!.job.result, { status: 200 });
      const failed = (await q.get(j3.id))!;
      assert.equal(failed.job.attempts, 1);
      assert.deepEqual(
        failed.events.map((e) => e.type),
        ['enqueued', 'leased', 'retry'],
      );
      assert.equal((await q.get(j5.id))!.job.attempts, 0, 'a deferral gives the attempt back');
      assert.deepEqual(await q.stats(), { queued: 4, in_progress: 0, done: 1, skipped: 1, error: 1, total: 7 });
      await engine.check(q);
    });

    test('a stale ack in a batch is refused alone: the others still count', async () => {
      const { q, clock } = await open();
      await q.enqueue(jobs(['a', 'b', 'c'], 1));
      const [old, ...rest] = await q.lease('w1', 3, { ttlMs: 1000, defaultLimit: 5 });
      // The first job's lease expires and passes to another worker; the others are re-leased too.
      clock.now += 1001;
      assert.deepEqual(await q.reap(), { requeued: 3, failed: 0 });
      const again = await q.lease('w2', 3, { ttlMs: 1000, defaultLimit: 5 });
      const fresh = again.find((j) => j.id === old.id)!;
      const others = again.filter((j) => j.id !== old.id);
      assert.deepEqual(others.map((j) => j.id).sort(), rest.map((j) => j.id).sort());
      const r = await q.ack('w2', [...others.map((j) => withJob(j, { type: 'done' })), withJob(old, { type: 'done', enqueue: [job('e', 1)] })]);
      assert.deepEqual(r, [...others.map((j) => ({ id: j.id, ok: true, state: 'done' })), { id: old.id, ok: false }]);
      const after = (await q.get(old.id))!;
      assert.equal(after.job.state, 'in_progress');
      assert.equal(after.job.leaseToken, fresh.leaseToken);
      assert.equal(after.events.at(-1)!.type, 'lost_lease');
      assert.deepEqual(await q.stats(), { queued: 0, in_progress: 1, done: 2, skipped: 0, error: 0, total: 3 }, 'the stale ack enqueued nothing');
      await engine.check(q);
    });

    test('the same lease acknowledged twice in one batch counts once', async () => {
      const { q } = await open();
      await q.enqueue(jobs(['a', 'b'], 1));
      const [j1, j2] = await q.lease('w', 2, { ttlMs: 1000, defaultLimit: 5 });
      const r = await q.ack('w', [withJob(j1, { type: 'done' }), withJob(j2, { type: 'done' }), withJob(j1, { type: 'skip', reason: 'again' })]);
      assert.deepEqual(r, [
        { id: j1.id, ok: true, state: 'done' },
        { id: j2.id, ok: true, state: 'done' },
        { id: j1.id, ok: false },
      ]);
      assert.deepEqual(await q.stats(), { queued: 0, in_progress: 0, done: 2, skipped: 0, error: 0, total: 2 });
      await engine.check(q);
    });
  });
}
