import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QueueError } from '../../server/src/core/errors';
import { HELD, type LeasedJob, type NewJob, type Outcome, type Queue } from '../../server/src/core/types';
import { ENGINES, openQueue, type EngineOptions } from './helpers/engines';
import { job, jobs } from './helpers/jobs';
import type { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { SQL, listSql, listWindowSql } from '../../server/src/core/sqlite/sql';

const L = { ttlMs: 10_000, defaultLimit: 2 };
const done = (j: LeasedJob) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done' as const } });

for (const engine of ENGINES) {
  describe(engine.name, () => {
    /**
     * A queue on a real database of its own with a clock the test moves by hand. Times are read on
     * the queue's clock (q.now()): on PostgreSQL that clock is the server's, the hand-moved one
     * corrected by their offset.
     */
    async function open(opts: EngineOptions = {}) {
      const clock = { now: 1_700_000_000_000 };
      const { q } = await openQueue(engine, { clock: () => clock.now, random: () => 0.5, ...opts });
      return { q, clock };
    }
    const checkInvariants = (q: Parameters<typeof engine.check>[0]) => engine.check(q);

    describe('enqueue', () => {
      test('deduplicates per crawl and among standalone jobs, counting duplicates', async () => {
        const { q } = await open();
        const r1 = await q.enqueue([job('a', 1), job('a', 1), job('a', 2)]);
        assert.deepEqual(r1, { ids: [1, null, 2], enqueued: 2, duplicates: 1, capped: 0 });
        const r2 = await q.enqueue([job('a', 1, { crawlId: 'c1' }), job('a', 1, { crawlId: 'c2' }), job('a', 1, { crawlId: 'c1' })]);
        assert.equal(r2.enqueued, 2);
        assert.equal(r2.duplicates, 1);
        assert.equal((await q.stats()).queued, 4);
        await checkInvariants(q);
      });

      test('rejects malformed jobs with a clear error and writes nothing', async () => {
        const { q } = await open();
        await assert.rejects(q.enqueue([job('a', 1), { ...job('b', 1), key: '' }]), (e: Error) => e instanceof QueueError && /needs a key/.test(e.message));
        await assert.rejects(q.enqueue([job('a', 1, { maxAttempts: 0 })]), /maxAttempts/);
        assert.equal((await q.stats()).total, 0);
      });

      test('jobs are found by dedupe key within their crawl, or among standalone jobs', async () => {
        const { q } = await open();
        await q.enqueue([job('a', 1), job('a', 2, { crawlId: 'c' }), job('a', 1, { crawlId: 'c' })]);
        assert.deepEqual(
          (await q.findByDedupeKeys(null, ['http://a/1', 'http://a/2'])).map((j) => [j.id, j.crawlId]),
          [[1, null]],
        );
        const inCrawl = await q.findByDedupeKeys('c', ['http://a/1', 'http://a/2', 'http://a/3']);
        assert.deepEqual(inCrawl.map((j) => j.id).sort(), [2, 3]);
        assert.deepEqual(await q.findByDedupeKeys('c', []), []);
        const updatedAt = (id: number) => q.get(id).then((r) => r!.job.updatedAt);
        assert.deepEqual(
          (await q.jobStates([1, 3, 99])).sort((x, y) => x.id - y.id),
          [
            { id: 1, state: 'queued', crawlId: null, updatedAt: await updatedAt(1) },
            { id: 3, state: 'queued', crawlId: 'c', updatedAt: await updatedAt(3) },
          ],
        );
        assert.deepEqual(await q.crawlStats('nobody'), { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0, capped: 0, total: 0 });
        // By id, in one read: the whole job, as get has it; ids not found left out.
        const byId = (await q.jobsByIds([3, 1, 99])).sort((x, y) => x.id - y.id);
        assert.deepEqual(byId, [(await q.get(1))!.job, (await q.get(3))!.job]);
        assert.deepEqual(await q.jobsByIds([]), []);
      });

      test("a stats reader on a connection of its own counts what the queue counts, and does not wait for another's write", async () => {
        const { q, where } = await openQueue(engine, { random: () => 0.5 });
        const reader = engine.statsReader(where);
        assert.deepEqual(await reader.stats(), await q.stats());
        await q.enqueue([job('a', 1), job('a', 2), job('b', 1), job('b', 2, { skipReason: 'robots.txt' })]);
        const [first] = await q.lease('w', 1, L);
        await q.ack('w', [{ id: first.id, token: first.leaseToken, outcome: { type: 'fail', error: 'boom' } }]);
        await q.lease('w', 1, L);
        const counts = await q.stats();
        assert.deepEqual(
          [counts.queued, counts.in_progress, counts.skipped, counts.total],
          [first.maxAttempts > 1 ? 2 : 1, 1, 1, 4],
          'the counts this test reads the reader against',
        );
        assert.deepEqual(await reader.stats(), counts);
        const held = await engine.holdJobs(where, [1, 2, 3, 4]);
        try {
          assert.deepEqual(await reader.stats(), counts);
        } finally {
          await held.release();
        }
      });

      test('a job enqueued with a skip reason is kept as skipped, never leased', async () => {
        const { q } = await open();
        await q.enqueue([job('a', 1, { skipReason: 'robots.txt: Disallow: /1' })]);
        assert.deepEqual(await q.lease('w', 10, L), []);
        const { job: j, events } = (await q.get(1))!;
        assert.equal(j.state, 'skipped');
        assert.equal(j.lastError, 'robots.txt: Disallow: /1');
        assert.deepEqual(
          events.map((e) => e.type),
          ['enqueued', 'skipped'],
        );
        await checkInvariants(q);
      });
    });

    describe('lease', () => {
      test('takes jobs by priority, then FIFO, round robin across keys', async () => {
        const { q } = await open();
        await q.enqueue([job('a', 1), job('a', 2), job('a', 3), job('b', 1), job('c', 1, { priority: 5 })]);
        const got = await q.lease('w', 3, { ttlMs: 1000, defaultLimit: 10 });
        assert.deepEqual(got.map((j) => j.url).sort(), ['http://a/1', 'http://b/1', 'http://c/1']);
        const next = await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 10 });
        assert.deepEqual(
          next.map((j) => j.url),
          ['http://a/2', 'http://a/3'],
        );
        await checkInvariants(q);
      });

      test('never goes past a key limit, and a freed slot is taken again', async () => {
        const { q } = await open();
        await q.enqueue(jobs(['a', 'b'], 5));
        const first = await q.lease('w', 100, L);
        assert.equal(first.length, 4, 'two per key');
        assert.deepEqual(await q.lease('w', 100, L), []);
        await q.ack('w', [done(first[0])]);
        const again = await q.lease('w', 100, L);
        assert.equal(again.length, 1);
        assert.equal(again[0].key, first[0].key);
        await checkInvariants(q);
      });

      test('per-key overrides and minimum delay between starts', async () => {
        const { q, clock } = await open();
        await q.enqueue(jobs(['a', 'b'], 5));
        await q.setKeyLimit('a', 4);
        await q.setKeyDelay('b', 1000);
        const got = await q.lease('w', 100, L);
        assert.equal(got.filter((j) => j.key === 'a').length, 4);
        assert.equal(got.filter((j) => j.key === 'b').length, 1, 'one start per delay');
        assert.equal(await q.nextWakeAt(), q.now() + 1000);
        clock.now += 999;
        assert.equal((await q.lease('w', 100, L)).length, 0);
        clock.now += 1;
        assert.deepEqual(
          (await q.lease('w', 100, L)).map((j) => j.key),
          ['b'],
        );
        await q.setKeyLimit('a', null);
        const keyA = (await q.keys({ defaultLimit: 2 })).find((k) => k.key === 'a')!;
        assert.equal(keyA.limit, 2);
        assert.equal(keyA.inFlight, 4);
        await checkInvariants(q);
      });

      test('a deferred key is held back until its time, with the reason kept', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1), job('b', 1)]);
        await q.deferKey('a', q.now() + 5000, 'HTTP 429');
        assert.deepEqual(
          (await q.lease('w', 10, L)).map((j) => j.key),
          ['b'],
        );
        const a = (await q.keys({ defaultLimit: 2 })).find((k) => k.key === 'a')!;
        assert.equal(a.deferReason, 'HTTP 429');
        assert.equal(a.deferredUntil, q.now() + 5000);
        assert.equal(await q.nextWakeAt(), q.now() + 5000);
        clock.now += 5000;
        assert.deepEqual(
          (await q.lease('w', 10, L)).map((j) => j.key),
          ['a'],
        );
      });

      test('what comes due between a lease and the next wake-up is not missed', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1)]);
        const [j] = await q.lease('w', 1, L);
        await q.ack('w', [{ id: j.id, token: j.leaseToken, outcome: { type: 'defer', reason: 'wait', delayMs: 100 } }]);
        const leasedAt = q.now();
        assert.deepEqual(await q.lease('w', 1, L), []);
        clock.now += 100;
        assert.equal(await q.nextWakeAt(leasedAt), leasedAt + 100, 'due since the lease: wake now');
        assert.equal(await q.nextWakeAt(), null, 'nothing due later than now');
      });

      test('keys whose only jobs back off do not block the others', async () => {
        const { q } = await open({ backoff: { baseMs: 60_000, maxMs: 60_000 } });
        await q.enqueue([job('a', 1)]);
        const [a] = await q.lease('w', 1, L);
        await q.ack('w', [{ id: a.id, token: a.leaseToken, outcome: { type: 'fail', error: 'boom' } }]);
        await q.enqueue(jobs(['k1', 'k2', 'k3'], 1));
        assert.equal((await q.lease('w', 3, L)).length, 3);
        assert.equal(await q.nextWakeAt(), q.now() + 45_000, 'the 60 s base times a jitter of 0.75');
      });

      test('a key with fewer jobs ready than queued leaves its share to the others: the batch is still full', async () => {
        const { q } = await open();
        await q.enqueue([job('a', 0), job('a', 1, { runAfter: q.now() + 60_000 }), job('a', 2, { runAfter: q.now() + 60_000 }), ...jobs(['b'], 3)]);
        const leased = await q.lease('w', 4, { ttlMs: 1000, defaultLimit: 3 });
        assert.deepEqual(leased.map((j) => j.url).sort(), ['http://a/0', 'http://b/0', 'http://b/1', 'http://b/2']);
        // A key under a minimum delay still starts one job per lease, whatever the others leave.
        await q.enqueue([...jobs(['c'], 3), job('d', 0)]);
        await q.setKeyDelay('c', 50);
        const paced = await q.lease('w', 4, { ttlMs: 1000, defaultLimit: 3 });
        assert.deepEqual(paced.map((j) => j.key).sort(), ['c', 'd']);
        await checkInvariants(q);
      });
    });

    describe('acknowledgements', () => {
      test('done, skip and a fenced late ack', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1), job('a', 2)]);
        const [j1, j2] = await q.lease('w1', 2, { ttlMs: 1000, defaultLimit: 5 });
        const r = await q.ack('w1', [
          { id: j1.id, token: j1.leaseToken, outcome: { type: 'done', result: { status: 200, title: 'Hi' } } },
          { id: j2.id, token: j2.leaseToken, outcome: { type: 'skip', reason: 'not HTML' } },
        ]);
        assert.deepEqual(r, [
          { id: j1.id, ok: true, state: 'done' },
          { id: j2.id, ok: true, state: 'skipped' },
        ]);
        assert.deepEqual((await q.get(j1.id))!.job.result, { status: 200, title: 'Hi' });
        assert.equal((await q.get(j2.id))!.job.lastError, 'not HTML');

        // A lease that expires and passes to another worker: the first worker can no longer ack.
        await q.enqueue([job('b', 1)]);
        const [old] = await q.lease('w1', 1, { ttlMs: 1000, defaultLimit: 5 });
        clock.now += 1001;
        // Its own worker's reaper leaves it: that process is alive, its heartbeat only late (a lock).
        assert.deepEqual(await q.reap('w1'), { requeued: 0, failed: 0 });
        assert.deepEqual(await q.reap('w3'), { requeued: 1, failed: 0 });
        const [fresh] = await q.lease('w2', 1, { ttlMs: 1000, defaultLimit: 5 });
        assert.equal(fresh.id, old.id);
        assert.notEqual(fresh.leaseToken, old.leaseToken, 'a new token at every lease');
        assert.deepEqual(await q.ack('w1', [done(old)]), [{ id: old.id, ok: false }]);
        const after = (await q.get(old.id))!;
        assert.equal(after.job.state, 'in_progress');
        assert.equal(after.job.workerId, 'w2');
        assert.deepEqual(
          after.events.map((e) => e.type),
          ['enqueued', 'leased', 'expired', 'leased', 'lost_lease'],
        );
        assert.deepEqual(await q.ack('w2', [done(fresh)]), [{ id: fresh.id, ok: true, state: 'done' }]);
        await checkInvariants(q);
      });

      test('fail retries with capped exponential backoff, then errors', async () => {
        const { q, clock } = await open({ backoff: { baseMs: 1000, maxMs: 3000 }, random: () => 0.999999 });
        await q.enqueue([job('a', 1, { maxAttempts: 4 })]);
        const delays: number[] = [];
        for (let attempt = 1; attempt <= 4; attempt++) {
          const [j] = await q.lease('w', 1, L);
          assert.equal(j.attempts, attempt);
          const [r] = await q.ack('w', [{ id: j.id, token: j.leaseToken, outcome: { type: 'fail', error: `boom ${attempt}` } }]);
          const after = (await q.get(j.id))!.job;
          if (attempt < 4) {
            assert.equal(r.state, 'queued');
            delays.push(after.runAfter - q.now());
            assert.deepEqual(await q.lease('w', 1, L), [], 'not before its backoff ends');
            clock.now += after.runAfter - q.now();
          } else {
            assert.equal(r.state, 'error');
            assert.equal(after.lastError, 'boom 4');
          }
        }
        assert.deepEqual(delays, [999, 1999, 2999], 'doubling, capped at 3 s, with jitter below 1');
        await checkInvariants(q);
      });

      test('a non-retryable failure errors at once; defer and release spend no attempt', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1), job('a', 2)]);
        const [j1, j2] = await q.lease('w', 2, L);
        await q.ack('w', [
          { id: j1.id, token: j1.leaseToken, outcome: { type: 'fail', error: 'HTTP 404', retryable: false } },
          { id: j2.id, token: j2.leaseToken, outcome: { type: 'defer', reason: 'HTTP 429', delayMs: 7000 } },
        ]);
        assert.equal((await q.get(j1.id))!.job.state, 'error');
        const deferred = (await q.get(j2.id))!.job;
        assert.equal(deferred.state, 'queued');
        assert.equal(deferred.attempts, 0);
        assert.equal(deferred.runAfter, q.now() + 7000);
        clock.now += 7000;
        const [again] = await q.lease('w', 1, L);
        assert.equal(again.attempts, 1);
        await q.ack('w', [{ id: again.id, token: again.leaseToken, outcome: { type: 'release', reason: 'stopping' } }]);
        const released = (await q.get(again.id))!;
        assert.equal(released.job.state, 'queued');
        assert.equal(released.job.attempts, 0);
        assert.equal(released.job.runAfter, 0);
        await checkInvariants(q);
      });

      test('deferrals are counted until an attempt counts: a release or a lost worker keeps them, requeue clears them', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1)]);
        const defer = async () => {
          const [j] = await q.lease('w', 1, L);
          await q.ack('w', [{ id: j.id, token: j.leaseToken, outcome: { type: 'defer', reason: 'HTTP 503 with Retry-After 5s', delayMs: 5000 } }]);
          clock.now += 5000;
        };
        const deferrals = async () => (await q.get(1))!.job.deferrals;
        await defer();
        await defer();
        assert.equal(await deferrals(), 2);
        const [j] = await q.lease('w', 1, L);
        await q.ack('w', [{ id: j.id, token: j.leaseToken, outcome: { type: 'release', reason: 'stopping' } }]);
        await q.lease('w', 1, { ttlMs: 100, defaultLimit: 2 });
        clock.now += 101;
        await q.reap();
        assert.equal(await deferrals(), 2, 'a release and a lost worker are no deferral, nor an attempt');
        await defer();
        assert.equal(await deferrals(), 3);
        const [k] = await q.lease('w', 1, L);
        await q.ack('w', [{ id: k.id, token: k.leaseToken, outcome: { type: 'fail', error: 'HTTP 500' } }]);
        assert.equal(await deferrals(), 0, 'a failed attempt counted');
        clock.now += 60_000;
        await defer();
        const [m] = await q.lease('w', 1, L);
        assert.equal(m.deferrals, 1, 'a lease hands them out');
        // Taken back from its worker while it still holds them (no attempt ended to clear them): requeue does.
        assert.equal(await q.requeue({ ids: [1] }), 1);
        assert.equal(await deferrals(), 0);
        await checkInvariants(q);
      });
    });

    describe('follow-up jobs and crawl caps', () => {
      test('a done ack enqueues its follow-ups atomically; a fenced ack enqueues nothing', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 0, { crawlId: 'c' })]);
        const [j] = await q.lease('w1', 1, { ttlMs: 100, defaultLimit: 2 });
        clock.now += 101;
        await q.reap();
        const [again] = await q.lease('w2', 1, { ttlMs: 100, defaultLimit: 2 });
        const links = [job('a', 1, { crawlId: 'c' }), job('b', 1, { crawlId: 'c' })];
        const [late] = await q.ack('w1', [{ id: j.id, token: j.leaseToken, outcome: { type: 'done', enqueue: links } }]);
        assert.equal(late.ok, false);
        assert.equal((await q.stats()).total, 1, 'the stale attempt added no jobs');
        const [ok] = await q.ack('w2', [
          { id: again.id, token: again.leaseToken, outcome: { type: 'done', enqueue: [...links, job('a', 0, { crawlId: 'c' })] } },
        ]);
        assert.deepEqual(ok.enqueued, { ids: [2, 3, null], enqueued: 2, duplicates: 1, capped: 0 });
        await checkInvariants(q);
      });

      test('a crawl cap counts every job of the crawl and reports the rest as capped, duplicates as duplicates', async () => {
        const { q } = await open();
        const r1 = await q.enqueue(jobs(['a'], 3, { crawlId: 'c' }), { crawlCap: 5 });
        assert.equal(r1.enqueued, 3);
        const r2 = await q.enqueue([...jobs(['b'], 4, { crawlId: 'c' }), job('a', 0, { crawlId: 'c' })], { crawlCap: 5 });
        // a0 is one the crawl has: a duplicate, even past the cap.
        assert.deepEqual([r2.enqueued, r2.capped, r2.duplicates], [2, 2, 1]);
        const other = await q.enqueue(jobs(['b'], 4, { crawlId: 'd' }), { crawlCap: 5 });
        assert.equal(other.enqueued, 4, 'caps are per crawl');
        // Past the cap, a job the crawl already has, and the twin of one refused, are duplicates.
        const r3 = await q.enqueue([job('a', 0, { crawlId: 'c' }), job('b', 9, { crawlId: 'c' }), job('b', 9, { crawlId: 'c' })], { crawlCap: 5 });
        assert.deepEqual([r3.enqueued, r3.capped, r3.duplicates], [0, 1, 2]);
        const stats = await q.crawlStats('c');
        assert.equal(stats.total, 5);
        assert.equal(stats.capped, 3);
        await checkInvariants(q);
      });

      test('a crawl cap stays exact when many enqueues race, and duplicates take no place', async () => {
        const { q } = await open();
        // Twenty at once, ten new jobs each: on PostgreSQL these are twenty transactions.
        const racing = await Promise.all(Array.from({ length: 20 }, (_, i) => q.enqueue(jobs([`h${i}`], 10, { crawlId: 'c' }), { crawlCap: 55 })));
        assert.equal(
          racing.reduce((n, r) => n + r.enqueued, 0),
          55,
        );
        assert.equal(
          racing.reduce((n, r) => n + r.capped, 0),
          145,
        );
        const twins = await Promise.all(Array.from({ length: 5 }, () => q.enqueue(jobs(['t'], 10, { crawlId: 'd' }), { crawlCap: 20 })));
        assert.equal(
          twins.reduce((n, r) => n + r.enqueued, 0),
          10,
          'each job once',
        );
        const more = await q.enqueue(jobs(['u'], 10, { crawlId: 'd' }), { crawlCap: 20 });
        assert.equal(more.enqueued, 10, 'the places the duplicates did not fill went back');
        assert.equal((await q.crawlStats('c')).total, 55);
        await checkInvariants(q);
      });

      test('held jobs of a paused crawl are not leased until released', async () => {
        const { q } = await open();
        await q.enqueue([...jobs(['a'], 2, { crawlId: 'p' }), job('a', 9)]);
        assert.equal(await q.holdCrawl('p', true), 2);
        assert.deepEqual(
          (await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 10 })).map((j) => j.url),
          ['http://a/9'],
        );
        assert.equal(await q.nextWakeAt(), null, 'a hold is not a backoff to wake for');
        assert.equal(await q.holdCrawl('p', false), 2);
        assert.equal((await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 10 })).length, 2);
      });
    });

    describe('paused crawls', () => {
      const wide = { ttlMs: 10_000, defaultLimit: 10 };

      test("a requeue keeps a held crawl's jobs held, and they run once it is released", async () => {
        const { q } = await open();
        await q.enqueue([job('a', 1, { crawlId: 'p', maxAttempts: 1 }), job('a', 2, { maxAttempts: 1 })]);
        const failed = await q.lease('w', 10, wide);
        await q.ack(
          'w',
          failed.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'fail', error: 'HTTP 500' } })),
        );
        assert.equal(await q.holdCrawl('p', true), 0, 'nothing of it queued to hold');
        assert.equal(await q.requeue({ state: 'error', heldCrawls: ['p'] }), 2);
        await checkInvariants(q);
        const again = await q.lease('w', 10, wide);
        assert.deepEqual(
          again.map((j) => j.url),
          ['http://a/2'],
          "the held crawl's job waits with it",
        );
        await q.ack('w', [{ id: again[0].id, token: again[0].leaseToken, outcome: { type: 'done' } }]);
        assert.equal(await q.holdCrawl('p', false), 1);
        assert.deepEqual(
          (await q.lease('w', 10, wide)).map((j) => j.url),
          ['http://a/1'],
        );
        await checkInvariants(q);
      });

      test("a paused crawl over many hosts is out of the lease's scan; the other crawl leases at once", async () => {
        const { q } = await open();
        await q.enqueue(
          jobs(
            Array.from({ length: 1000 }, (_, i) => `p${i}`),
            2,
            { crawlId: 'p' },
          ),
        );
        await q.enqueue(jobs(['r1', 'r2'], 3, { crawlId: 'r' }));
        assert.equal((await engine.leaseScan(q)).rows, 1002, 'before the pause, every host with work is scanned');
        assert.equal(await q.holdCrawl('p', true), 2000);
        assert.deepEqual(await engine.leaseScan(q), { index: 'keys_rr', rows: 2 }, "only the running crawl's hosts are scanned");
        assert.deepEqual((await q.keys({ defaultLimit: 10, live: true })).map((k) => k.key).sort(), ['r1', 'r2'], 'live: hosts with work to lease');
        const got = await q.lease('w', 100, wide);
        assert.deepEqual(got.map((j) => j.url).sort(), ['http://r1/0', 'http://r1/1', 'http://r1/2', 'http://r2/0', 'http://r2/1', 'http://r2/2']);
        assert.deepEqual(await q.lease('w', 100, wide), []);
        assert.equal(await q.nextWakeAt(), null, 'nothing held comes due');
        // What users see still counts the held jobs as queued.
        assert.equal((await q.stats()).queued, 2000);
        assert.equal((await q.crawlStats('p')).queued, 2000);
        assert.equal((await q.keys({ defaultLimit: 10 })).find((k) => k.key === 'p7')?.queued, 2);
        await checkInvariants(q);
      });

      test('resume makes held jobs leasable again, by priority then FIFO', async () => {
        const { q } = await open();
        await q.enqueue([
          job('a', 1, { crawlId: 'p' }),
          job('a', 2, { crawlId: 'p', priority: 5 }),
          job('a', 3, { crawlId: 'p' }),
          job('b', 1, { crawlId: 'p' }),
        ]);
        assert.equal(await q.holdCrawl('p', true), 4);
        assert.equal(await q.holdCrawl('p', true), 0, 'holding twice holds nothing more');
        await q.enqueue([job('a', 4, { crawlId: 'p', runAfter: HELD })]);
        assert.deepEqual(await q.keys({ defaultLimit: 10, live: true }), [], 'no host has work to lease');
        assert.deepEqual(await q.lease('w', 10, wide), []);
        await checkInvariants(q);
        assert.equal(await q.holdCrawl('p', false), 5);
        assert.equal(await q.holdCrawl('p', false), 0);
        assert.deepEqual(
          (await q.keys({ defaultLimit: 10, live: true })).map((k) => [k.key, k.queued]),
          [
            ['a', 4],
            ['b', 1],
          ],
        );
        await checkInvariants(q);
        const order: string[] = [];
        for (let got = await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 1 }); got.length; got = await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 1 })) {
          order.push(...got.map((j) => j.url).sort());
          await q.ack('w', got.map(done));
        }
        assert.deepEqual(order, ['http://a/2', 'http://b/1', 'http://a/1', 'http://a/3', 'http://a/4']);
        await checkInvariants(q);
      });

      test('a paused crawl takes new jobs held, even from a page in flight, and cancelling it clears them', async () => {
        const { q } = await open();
        await q.enqueue(jobs(['a', 'b'], 2, { crawlId: 'p' }));
        const [page] = await q.lease('w', 1, wide);
        assert.equal(await q.holdCrawl('p', true), 3);
        // The page in flight ends; its links join the crawl held, as the frontier enqueues them.
        await q.ack('w', [
          {
            id: page.id,
            token: page.leaseToken,
            outcome: {
              type: 'done',
              enqueue: [job('c', 1, { crawlId: 'p', runAfter: HELD }), job('a', 9, { crawlId: 'p', runAfter: HELD })],
            },
          },
        ]);
        assert.deepEqual(await q.lease('w', 10, wide), []);
        assert.deepEqual(await q.keys({ defaultLimit: 10, live: true }), []);
        await checkInvariants(q);
        const [c1] = await q.findByDedupeKeys('p', ['http://c/1']);
        assert.equal(await q.cancel({ ids: [c1.id] }), 1);
        await checkInvariants(q);
        assert.equal(await q.cancel({ crawlId: 'p' }), 4);
        assert.equal((await q.stats()).queued, 0);
        assert.equal(await q.evictIdleKeys(), 3, "no held count keeps a host's row");
        await checkInvariants(q);
      });

      test('the migration to held counts counts the held jobs already there', async () => {
        const where = await engine.database();
        const old = await engine.connect(where);
        await old.enqueue([
          ...jobs(
            Array.from({ length: 1000 }, (_, i) => `p${i}`),
            1,
            { crawlId: 'p' },
          ),
          job('a', 9),
          job('p0', 9),
        ]);
        await old.holdCrawl('p', true);
        await engine.backToSchema1(old);
        await old.close();
        const q = await engine.connect(where);
        await checkInvariants(q);
        assert.deepEqual(await engine.leaseScan(q), { index: 'keys_rr', rows: 2 }, 'only the hosts with ready jobs');
        assert.deepEqual((await q.lease('w', 10, wide)).map((j) => j.url).sort(), ['http://a/9', 'http://p0/9']);
        assert.equal(await q.holdCrawl('p', false), 1000);
        assert.equal((await q.lease('w', 2000, wide)).length, 1000);
        await checkInvariants(q);
      });
    });

    describe('heartbeat and reaping', () => {
      test('heartbeat extends by the TTL it is given and reports lost leases', async () => {
        const { q, clock } = await open();
        await q.enqueue(jobs(['a'], 3));
        const held = await q.lease('w', 3, { ttlMs: 1000, defaultLimit: 5 });
        clock.now += 500;
        const r = await q.heartbeat(
          'w',
          45_000,
          held.map((j) => ({ id: j.id, token: j.leaseToken })),
        );
        assert.deepEqual(r, { extended: 3, lost: [] });
        for (const l of await q.leases()) assert.equal(l.expiresAt, q.now() + 45_000);
        await q.requeue({ ids: [held[1].id] });
        const r2 = await q.heartbeat(
          'w',
          45_000,
          held.map((j) => ({ id: j.id, token: j.leaseToken })),
        );
        assert.deepEqual(r2, { extended: 2, lost: [{ id: held[1].id, token: held[1].leaseToken }] });
        await checkInvariants(q);
      });

      test('heartbeat renews only the leases the worker says it holds: one it never heard of expires', async () => {
        const { q, clock } = await open();
        await q.enqueue(jobs(['a'], 2));
        // The second lease's answer lost on the way (a timeout): the worker holds only the first.
        const [kept, unheard] = await q.lease('w', 2, { ttlMs: 1000, defaultLimit: 5 });
        clock.now += 500;
        assert.deepEqual(await q.heartbeat('w', 45_000, [{ id: kept.id, token: kept.leaseToken }]), { extended: 1, lost: [] });
        const expiry = new Map((await q.leases()).map((l) => [l.jobId, l.expiresAt]));
        assert.deepEqual([expiry.get(kept.id), expiry.get(unheard.id)], [q.now() + 45_000, q.now() + 500]);
        await checkInvariants(q);
      });

      test('reclaims are capped: a job that keeps killing its worker fails with that reason', async () => {
        const { q, clock } = await open({ maxReclaims: 2 });
        await q.enqueue([job('a', 1)]);
        for (let i = 0; i < 2; i++) {
          await q.lease('w', 1, { ttlMs: 100, defaultLimit: 2 });
          clock.now += 101;
          await q.reap();
        }
        const { job: j, events } = (await q.get(1))!;
        assert.equal(j.state, 'error');
        assert.match(j.lastError!, /lost its worker 2 times/);
        assert.equal(events.filter((e) => e.type === 'expired').length, 2);
        assert.deepEqual(await q.reasons(), [{ reason: 'lost its worker 2 times (lease expired)', count: 1 }], 'failed for its lost workers, with that reason');
        assert.deepEqual(
          (await q.list({ reason: 'lost its worker 2 times (lease expired)' })).jobs.map((x) => x.id),
          [1],
        );
        await checkInvariants(q);
      });

      test("reclaimWorkers returns a dead worker's leases at once", async () => {
        const { q } = await open();
        await q.enqueue(jobs(['a', 'b'], 2));
        await q.lease('dead', 2, L);
        await q.lease('alive', 2, L);
        assert.deepEqual((await q.leaseHolders()).sort(), ['alive', 'dead']);
        assert.deepEqual(await q.reclaimWorkers(['dead'], 'worker process is gone'), { requeued: 2, failed: 0 });
        assert.deepEqual(await q.leaseHolders(), ['alive']);
        await checkInvariants(q);
      });
    });

    describe('requeue, cancel, list, events', () => {
      test('requeue by ids, by state, by key; cancel queued jobs', async () => {
        const { q } = await open();
        await q.enqueue(jobs(['a', 'b'], 3));
        const leased = await q.lease('w', 4, L);
        await q.ack(
          'w',
          leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'fail' as const, error: 'x', retryable: false } })),
        );
        assert.equal((await q.stats()).error, 4);
        assert.equal(await q.requeue({ state: 'error', key: 'a' }), 2);
        assert.equal(await q.requeue({ ids: [leased.find((j) => j.key === 'b')!.id] }), 1);
        assert.equal(await q.requeue({}), 1, 'the default is every failed job');
        assert.equal((await q.stats()).error, 0);
        const requeued = (await q.get(leased[0].id))!;
        assert.equal(requeued.job.attempts, 0);
        assert.equal(requeued.events.at(-1)!.type, 'requeued');
        assert.equal(await q.cancel({ ids: [1, 2, 999] }), 2);
        assert.equal((await q.get(1))!.job.lastError, 'cancelled');
        assert.equal(await q.cancel({ ids: [1] }), 0, 'only queued jobs are cancelled');
        await checkInvariants(q);
      });

      test('two requeues of the same jobs at once: each job moves once, and its closing event is written once', async () => {
        const where = await engine.database();
        const q = await engine.connect(where);
        const other = await engine.connect(where);
        await q.enqueue(jobs(['a'], 3));
        const leased = await q.lease('w', 3, { ttlMs: 10_000, defaultLimit: 3 });
        await q.ack('w', [
          done(leased[0]),
          { id: leased[1].id, token: leased[1].leaseToken, outcome: { type: 'skip', reason: 'x' } },
          { id: leased[2].id, token: leased[2].leaseToken, outcome: { type: 'fail', error: 'e', retryable: false } },
        ]);
        const ids = leased.map((j) => j.id);
        // Both start while another transaction holds the jobs, so both read them as finished before either moves them.
        const gate = await engine.holdJobs(where, ids);
        const both = Promise.all([q.requeue({ ids }), other.requeue({ ids })]);
        await gate.waiting(2);
        await gate.release();
        const moved = await both;
        assert.equal(moved[0] + moved[1], 3, `each job requeued once (${moved.join(' + ')})`);
        for (const id of ids) {
          const { events } = (await q.get(id))!;
          const closing = events.filter((e) => e.type === 'done' || e.type === 'skipped' || e.type === 'failed');
          assert.equal(closing.length, 1, `job ${id}: ${events.map((e) => e.type).join(', ')}`);
          assert.equal(events.filter((e) => e.type === 'requeued').length, 1);
        }
        await checkInvariants(q);
      });

      test('list pages with a cursor through filters, and refuses a forged cursor', async () => {
        const { q } = await open();
        await q.enqueue(jobs(['a', 'b', 'c'], 10, { crawlId: 'c1' }));
        const seen: number[] = [];
        let cursor: string | null = null;
        do {
          const page = await q.list({ key: 'b', limit: 3, cursor });
          seen.push(...page.jobs.map((j) => j.id));
          cursor = page.nextCursor;
        } while (cursor);
        assert.equal(seen.length, 10);
        assert.deepEqual(
          seen,
          [...seen].sort((x, y) => x - y),
        );
        // Newest first, through a state and crawl filter: the same jobs, the other way round.
        const newest: number[] = [];
        for (let next: string | null = null, first = true; first || next; first = false) {
          const page = await q.list({ state: 'queued', crawlId: 'c1', limit: 7, cursor: next, newestFirst: true });
          newest.push(...page.jobs.map((j) => j.id));
          next = page.nextCursor;
        }
        const oldest = (await q.list({ state: 'queued', crawlId: 'c1', limit: 1000 })).jobs.map((j) => j.id);
        assert.deepEqual(newest, [...oldest].reverse());
        assert.equal((await q.list({ state: 'queued', crawlId: 'c1', limit: 1000 })).jobs.length, 30);
        assert.equal((await q.list({ state: 'done' })).jobs.length, 0);
        await assert.rejects(q.list({ cursor: '1; DROP TABLE jobs' }), /cursor/);
        await assert.rejects(q.list({ limit: 0 }), /limit/);
        assert.equal((await q.crawlStats('c1')).queued, 30);
      });

      test('list searches a status, a status class or text (LIKE wildcards literal), a bounded number of rows per call', async () => {
        const { q } = await open({ searchBudget: 4 });
        const wide = { ttlMs: 10_000, defaultLimit: 100 };
        const outcomes: Record<string, Parameters<typeof q.ack>[1][number]['outcome']> = {
          a: { type: 'done', result: { status: 200 } },
          b: { type: 'done', result: { status: 404 } },
          '50%_off': { type: 'done', result: { status: 503 } },
          '50Xoff': { type: 'done', result: { status: 200 } },
          c: { type: 'fail', error: 'Connection REFUSED', retryable: false },
          'Refused-page': { type: 'done', result: { status: 200 } },
          // A status search reads the status alone, not the rest of the result.
          d: { type: 'done', result: { status: 200, title: 'HTTP 404' } },
        };
        await q.enqueue(Object.keys(outcomes).map((n) => job('h', n)));
        const leased = await q.lease('w', 10, wide);
        assert.equal(leased.length, 7);
        await q.ack(
          'w',
          leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: outcomes[j.url.slice('http://h/'.length)] })),
        );
        await q.enqueue([job('h', 'e'), job('h', 404)]);
        const ids = async (search: string, more: Partial<Parameters<typeof q.list>[0]> = {}) => {
          const found: number[] = [];
          let cursor: string | null = null;
          do {
            const page = await q.list({ search, limit: 1000, cursor, ...more });
            found.push(...page.jobs.map((j) => j.id));
            cursor = page.nextCursor;
          } while (cursor);
          return found;
        };
        assert.deepEqual(await ids('404'), [2], 'a status matches results, not the URL /404');
        assert.deepEqual(await ids('4xx'), [2]);
        assert.deepEqual(await ids(' 5XX '), [3]);
        assert.deepEqual(await ids('refused'), [5, 6], 'the error or the URL, either case');
        assert.deepEqual(await ids('refused', { state: 'error' }), [5]);
        assert.deepEqual(await ids('50%_'), [3], '% and _ are literal');
        assert.deepEqual(await ids('_'), [3]);
        assert.deepEqual(await ids('0%'), [3]);
        assert.deepEqual(await ids('nowhere'), []);
        assert.equal((await ids('  ')).length, 9, 'a blank search lists everything');
        await assert.rejects(q.list({ search: 'x'.repeat(201) }), /search/);

        // 4 rows examined per call: a page may come back short (even empty), its cursor at the last row examined.
        const pages = async (search: string, limit: number, newestFirst = false) => {
          const out: [number[], string | null][] = [];
          let cursor: string | null = null;
          do {
            const page = await q.list({ search, limit, cursor, newestFirst });
            out.push([page.jobs.map((j) => j.id), page.nextCursor]);
            cursor = page.nextCursor;
          } while (cursor);
          return out;
        };
        assert.deepEqual(await pages('refused', 10), [
          [[], '4'],
          [[5, 6], '8'],
          [[], null],
        ]);
        assert.deepEqual(await pages('refused', 1), [
          [[], '4'],
          [[5], '5'],
          [[6], null],
        ]);
        assert.deepEqual(await pages('refused', 10, true), [
          [[6], '6'],
          [[5], '2'],
          [[], null],
        ]);
      });

      test('the worker registry: recorded, seen again, stopped, with its leases; lease holders never recorded too; the long silent forgotten', async () => {
        const { q, clock } = await open();
        const t0 = q.now();
        await q.workerSeen('m:1:a');
        clock.now += 1000;
        await q.workerSeen('m:2:b');
        await q.enqueue([job('h', 1), job('h', 2), job('h', 3)]);
        await q.lease('m:2:b', 2, { ttlMs: 10_000, defaultLimit: 100 });
        // A daemon older than the registry: it leases, and never says it runs.
        await q.lease('m:3:old', 1, { ttlMs: 10_000, defaultLimit: 100 });
        clock.now += 1000;
        await q.workerSeen('m:1:a');
        assert.deepEqual(await q.workers(10), [
          { workerId: 'm:1:a', startedAt: t0, seenAt: t0 + 2000, stoppedAt: null, leases: 0 },
          { workerId: 'm:2:b', startedAt: t0 + 1000, seenAt: t0 + 1000, stoppedAt: null, leases: 2 },
          // Seen when its lease last beat.
          { workerId: 'm:3:old', startedAt: null, seenAt: t0 + 1000, stoppedAt: null, leases: 1 },
        ]);
        assert.deepEqual(
          (await q.workers(1)).map((w) => w.workerId),
          ['m:1:a'],
          'at most the limit, the latest seen first',
        );
        clock.now += 1000;
        await q.workerStopped('m:1:a');
        assert.deepEqual((await q.workers(10))[0], { workerId: 'm:1:a', startedAt: t0, seenAt: t0 + 3000, stoppedAt: t0 + 3000, leases: 0 });
        // A week on, a worker seen forgets the others not heard from since (those holding leases are
        // still listed by them), but not itself: back after a week, it keeps its row.
        clock.now += t0 + 7 * 24 * 3600_000 + 3500 - q.now();
        await q.workerSeen('m:1:a');
        assert.deepEqual(
          (await q.workers(10)).map((w) => [w.workerId, w.startedAt, w.stoppedAt]),
          [
            ['m:1:a', t0, null],
            ['m:2:b', null, null],
            ['m:3:old', null, null],
          ],
        );
      });

      test('a search with two filters examines its budget of rows of one index, not of matches', async () => {
        const { q } = await open({ searchBudget: 4 });
        // Crawl c1: jobs 1-6 done, 7-8 failed; job 9 of another crawl fails the same way.
        await q.enqueue([...Array.from({ length: 8 }, (_, i) => job('h', i, { crawlId: 'c1' })), job('h', 'x', { crawlId: 'c2' })]);
        const leased = await q.lease('w', 10, { ttlMs: 10_000, defaultLimit: 100 });
        await q.ack(
          'w',
          leased.map((j) => ({
            id: j.id,
            token: j.leaseToken,
            outcome: j.id >= 7 ? { type: 'fail', error: 'boom', retryable: false } : { type: 'done', result: { status: 200 } },
          })),
        );
        const pages: [number[], string | null][] = [];
        let cursor: string | null = null;
        do {
          const page = await q.list({ search: 'boom', state: 'error', crawlId: 'c1', limit: 10, cursor });
          pages.push([page.jobs.map((j) => j.id), page.nextCursor]);
          cursor = page.nextCursor;
        } while (cursor);
        // Counting matches of both filters, the first call walked every row of the crawl to find two.
        assert.deepEqual(pages, [
          [[], '4'],
          [[7, 8], null],
        ]);
      });

      test('a status search reads a result whatever text it holds (an escaped NUL, a lone surrogate, a literal backslash-u)', async () => {
        const { q } = await open();
        await q.enqueue([job('h', 1), job('h', 2), job('h', 3)]);
        const leased = await q.lease('w', 10, { ttlMs: 10_000, defaultLimit: 100 });
        const results = [
          { status: 404, title: 'a\u0000b\ud83d' },
          { status: 404, title: 'a\\u0000"b\\ud83d' },
          { status: 200, title: '\u0000\udc00' },
        ];
        await q.ack(
          'w',
          leased.map((j, i) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: results[i] } })),
        );
        assert.deepEqual(
          (await q.list({ search: '404' })).jobs.map((j) => j.id),
          [1, 2],
        );
        assert.deepEqual(
          (await q.list({ search: '2xx' })).jobs.map((j) => j.id),
          [3],
        );
        assert.deepEqual((await q.get(1))?.job.result, results[0], 'the result itself is untouched');
      });

      test('events are trimmed when a job goes round again', async () => {
        const { q, clock } = await open({ eventsPerJob: 5, maxReclaims: 100 });
        await q.enqueue([job('a', 1, { maxAttempts: 100 })]);
        for (let i = 0; i < 20; i++) {
          await q.lease('w', 1, { ttlMs: 10, defaultLimit: 1 });
          clock.now += 11;
          await q.reap();
        }
        const rows = await engine.eventRows(q, 1);
        assert.ok(rows <= 5, `kept ${rows} event rows`);
        const { events } = (await q.get(1))!;
        assert.deepEqual(
          events.slice(-2).map((e) => e.type),
          ['leased', 'expired'],
          'each kept attempt shows its lease and its end',
        );
      });
    });

    describe('failure reasons', () => {
      /** Fails every job leased (a retryable failure on its last attempt fails it as well) with the error its URL names. */
      async function failWith(q: Queue, errors: Record<string, string>, extra: Partial<NewJob> = {}) {
        await q.enqueue(Object.keys(errors).map((n) => job('h', n, { maxAttempts: 1, ...extra })));
        const leased = await q.lease('w', 100, { ttlMs: 10_000, defaultLimit: 100 });
        await q.ack(
          'w',
          leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'fail', error: errors[j.url.slice('http://h/'.length)] } })),
        );
        return leased;
      }
      const REFUSED = (port: number) => `http://h/${port}: connect ECONNREFUSED 127.0.0.1:${port}`;

      test('failed jobs are counted by reason, in every crawl or in one, most first; retries, skips and done jobs are not', async () => {
        const { q } = await open();
        await failWith(q, { a1: REFUSED(81), a2: REFUSED(82), a3: 'HTTP 404', a4: 'fetch of http://h/a4 took longer than 30000 ms' }, { crawlId: 'c1' });
        await failWith(q, { b1: 'HTTP 404', b2: 'HTTP 404', b3: REFUSED(83) }, { crawlId: 'c2' });
        await failWith(q, { s1: 'HTTP 500' });
        // Not failed: a retry (its attempt was not the last), a skip, a done job.
        await q.enqueue([job('h', 'retry', { maxAttempts: 3 }), job('h', 'skip'), job('h', 'done')]);
        const others = await q.lease('w', 10, { ttlMs: 10_000, defaultLimit: 100 });
        const outcomes: Record<string, Outcome> = {
          retry: { type: 'fail', error: 'HTTP 404' },
          skip: { type: 'skip', reason: 'HTTP 404' },
          done: { type: 'done' },
        };
        await q.ack(
          'w',
          others.map((j) => ({ id: j.id, token: j.leaseToken, outcome: outcomes[j.url.slice('http://h/'.length)] })),
        );

        assert.deepEqual(await q.reasons(), [
          { reason: 'ECONNREFUSED', count: 3 },
          { reason: 'HTTP 404', count: 3 },
          { reason: 'HTTP 500', count: 1 },
          { reason: 'took longer than N ms', count: 1 },
        ]);
        assert.deepEqual(await q.reasons({ crawlId: 'c1' }), [
          { reason: 'ECONNREFUSED', count: 2 },
          { reason: 'HTTP 404', count: 1 },
          { reason: 'took longer than N ms', count: 1 },
        ]);
        assert.deepEqual(await q.reasons({ crawlId: 'c2', limit: 1 }), [{ reason: 'HTTP 404', count: 2 }]);
        assert.deepEqual(await q.reasons({ crawlId: 'nobody' }), []);
        await assert.rejects(q.reasons({ limit: 0 }), (e: Error) => e instanceof QueueError && /limit/.test(e.message));
        await assert.rejects(q.reasons({ limit: 1001 }), QueueError);
        await checkInvariants(q);
      });

      test('list by reason: its failed jobs alone, of every crawl or of one, paged by id either way', async () => {
        const { q } = await open();
        // Jobs 1-9: a refused connection on every third, in two crawls; the rest HTTP 404.
        const errors = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`j${i + 1}`, i % 3 === 0 ? REFUSED(80 + i) : 'HTTP 404']));
        await failWith(q, errors);
        await q.enqueue([job('h', 'queued')]);
        const all = async (filter: Parameters<Queue['list']>[0]) => {
          const pages: number[][] = [];
          let cursor: string | null = null;
          do {
            const page = await q.list({ ...filter, limit: 2, cursor });
            pages.push(page.jobs.map((j) => j.id));
            cursor = page.nextCursor;
          } while (cursor);
          return pages;
        };
        assert.deepEqual(await all({ reason: 'HTTP 404' }), [
          [2, 3],
          [5, 6],
          [8, 9],
        ]);
        assert.deepEqual(await all({ reason: 'HTTP 404', newestFirst: true }), [
          [9, 8],
          [6, 5],
          [3, 2],
        ]);
        assert.deepEqual(await all({ reason: 'ECONNREFUSED', state: 'error' }), [[1, 4], [7]]);
        assert.deepEqual(await all({ reason: 'ECONNREFUSED', key: 'h', newestFirst: true }), [[7, 4], [1]]);
        assert.deepEqual(await all({ reason: 'HTTP 404', search: 'j5' }), [[5]]);
        assert.deepEqual(await all({ reason: 'no such reason' }), [[]]);

        // Within a crawl: the same reason in another crawl is not listed.
        const { q: q2 } = await open();
        await failWith(q2, { a: 'HTTP 404', b: 'HTTP 404' }, { crawlId: 'c1' });
        await failWith(q2, { c: 'HTTP 404', d: 'HTTP 404' }, { crawlId: 'c2' });
        assert.deepEqual(
          (await q2.list({ reason: 'HTTP 404', crawlId: 'c2', newestFirst: true })).jobs.map((j) => j.id),
          [4, 3],
        );
        assert.deepEqual((await q2.list({ reason: 'HTTP 404', crawlId: 'c1', limit: 1 })).nextCursor, '1');

        await assert.rejects(
          q.list({ reason: 'HTTP 404', state: 'done' }),
          (e: Error) => e instanceof QueueError && /only failed jobs have a reason/.test(e.message),
        );
        await assert.rejects(q.list({ reason: 'x'.repeat(121) }), /reason must be text of at most 120/);
      });

      test("requeue by reason takes that reason's failed jobs (within a crawl, or a host) and no others, off its count", async () => {
        const { q } = await open();
        await failWith(q, { a1: REFUSED(81), a2: 'HTTP 404', a3: 'HTTP 404' }, { crawlId: 'c1' });
        await failWith(q, { b1: 'HTTP 404', b2: REFUSED(82) }, { crawlId: 'c2' });
        assert.equal(await q.requeue({ reason: 'HTTP 404', crawlId: 'c1' }), 2);
        assert.deepEqual(await q.reasons(), [
          { reason: 'ECONNREFUSED', count: 2 },
          { reason: 'HTTP 404', count: 1 },
        ]);
        assert.deepEqual(await q.reasons({ crawlId: 'c1' }), [{ reason: 'ECONNREFUSED', count: 1 }]);
        await checkInvariants(q);
        assert.equal(await q.requeue({ reason: 'ECONNREFUSED', state: 'error', key: 'nowhere' }), 0);
        assert.equal(await q.requeue({ reason: 'ECONNREFUSED', key: 'h' }), 2);
        await assert.rejects(q.requeue({ reason: 'HTTP 404', state: 'done' }), /only failed jobs have a reason/);
        assert.deepEqual(await q.reasons(), [{ reason: 'HTTP 404', count: 1 }]);
        assert.equal((await q.stats()).queued, 4);

        // Failed again, a requeued job counts under its new reason; its old one is not kept.
        const again = await q.lease('w', 10, { ttlMs: 10_000, defaultLimit: 100 });
        await q.ack(
          'w',
          again.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'fail', error: 'HTTP 503' } })),
        );
        assert.deepEqual(await q.reasons(), [
          { reason: 'HTTP 503', count: 4 },
          { reason: 'HTTP 404', count: 1 },
        ]);
        assert.deepEqual((await q.list({ reason: 'ECONNREFUSED' })).jobs, []);
        await checkInvariants(q);
      });

      test('a reason cut at its length never ends in half a character: stored, listed, counted and requeued as it was made', async () => {
        const { q } = await open();
        // The 120th UTF-16 unit is the first half of an emoji.
        await failWith(q, { e1: `${'x'.repeat(119)}😀 and more`, e2: 'broke: \ud83d alone' });
        const reasons = await q.reasons();
        assert.deepEqual(reasons.map((r) => r.reason).sort(), ['broke: \ufffd alone', 'x'.repeat(119)]);
        for (const { reason } of reasons) assert.equal((await q.list({ reason })).jobs.length, 1, reason);
        await checkInvariants(q);
        assert.equal(await q.requeue({ state: 'error' }), 2);
        assert.deepEqual(await q.reasons(), []);
        await checkInvariants(q);
      });

      test('the migration to failure reasons gives the jobs that failed before it theirs, and counts them', async () => {
        const where = await engine.database();
        const old = await engine.connect(where, { clock: () => 1_700_000_000_000 });
        await failWith(old, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, i % 3 === 0 ? 'HTTP 404' : REFUSED(1000 + i)])), {
          crawlId: 'c1',
        });
        await failWith(old, { s1: 'robots.txt could not be read in 5 tries (unreachable)' });
        await old.enqueue([job('h', 'queued')]);
        await engine.backToSchema1(old);
        await old.close();
        const q = await engine.connect(where);
        await checkInvariants(q);
        assert.deepEqual(await q.reasons(), [
          { reason: 'ECONNREFUSED', count: 20 },
          { reason: 'HTTP 404', count: 10 },
          { reason: 'robots.txt could not be read in 5 tries (unreachable)', count: 1 },
        ]);
        assert.deepEqual(await q.reasons({ crawlId: 'c1' }), [
          { reason: 'ECONNREFUSED', count: 20 },
          { reason: 'HTTP 404', count: 10 },
        ]);
        assert.deepEqual(
          (await q.list({ reason: 'HTTP 404', limit: 3 })).jobs.map((j) => j.url),
          ['http://h/p0', 'http://h/p3', 'http://h/p6'],
        );
        assert.equal(await q.requeue({ reason: 'ECONNREFUSED' }), 20);
        await checkInvariants(q);
      });
    });

    describe('keys', () => {
      test('the live view lists only hosts with queued work, with their totals', async () => {
        const { q } = await open();
        await q.enqueue([job('a', 1), job('b', 1), job('b', 2)]);
        const leased = await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 1 });
        await q.ack('w', leased.filter((j) => j.key === 'a').map(done));
        assert.deepEqual((await q.keys({ defaultLimit: 1 })).map((k) => k.key).sort(), ['a', 'b']);
        const live = await q.keys({ defaultLimit: 1, live: true });
        assert.deepEqual(
          live.map((k) => [k.key, k.queued, k.inFlight]),
          [['b', 1, 1]],
        );
      });

      test('idle keys are evicted, busy and delayed ones kept', async () => {
        const { q, clock } = await open();
        await q.enqueue([job('a', 1), job('b', 1), job('c', 1)]);
        await q.setKeyDelay('c', 1000);
        const got = await q.lease('w', 3, L);
        await q.ack('w', got.filter((j) => j.key !== 'b').map(done));
        assert.equal(await q.evictIdleKeys(), 1, 'only a: b is in flight, c waits out its delay');
        clock.now += 1000;
        assert.equal(await q.evictIdleKeys(), 1);
        assert.equal(await engine.keyRows(q), 1);
        await checkInvariants(q);
      });
    });
  });
}

describe('SQLite: a search walks one index', () => {
  test('each search shape walks the index of its walked filter (or the ids), whatever the other filters', async () => {
    const { q } = await openQueue(ENGINES.find((e) => e.name === 'sqlite')!);
    const db = (q as SqliteQueue).db;
    // Statistics by which the crawl's index looks the worst and the state's the best: the planner
    // left to itself walks the state's (and examines rows the window never counted).
    db.exec('ANALYZE');
    db.exec(`DELETE FROM sqlite_stat1;
      INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('jobs', 'jobs_crawl', '1000000 500000 1'), ('jobs', 'jobs_key', '1000000 100000 1'), ('jobs', 'jobs_state', '1000000 10 1');
      ANALYZE sqlite_schema;`);
    const plans: Record<string, string> = {};
    for (const state of [false, true])
      for (const key of [false, true])
        for (const crawlId of [false, true])
          for (const newestFirst of [false, true]) {
            // A reason implies the state (only failed jobs have one): a shape never has both.
            for (const reason of state ? [false] : [false, true])
              for (const search of ['status', 'text'] as const) {
                const shape = {
                  state,
                  key,
                  crawlId,
                  reason,
                  newestFirst,
                  search,
                  walk: reason ? 'reason' : crawlId ? 'crawlId' : key ? 'key' : state ? 'state' : null,
                } as const;
                const index = shape.walk ? { reason: 'jobs_reason', crawlId: 'jobs_crawl', key: 'jobs_key', state: 'jobs_state' }[shape.walk] : null;
                for (const sql of [listSql(shape), listWindowSql(shape)]) {
                  const params = Object.fromEntries([...sql.matchAll(/:(\w+)/g)].map(([, name]) => [name, 1]));
                  const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[];
                  const detail = plan.map((p) => p.detail).join('; ');
                  plans[JSON.stringify(shape)] = detail;
                  if (index) assert.match(detail, new RegExp(`USING (COVERING )?INDEX ${index} `), `${JSON.stringify(shape)}: ${detail}`);
                  else assert.match(detail, /USING INTEGER PRIMARY KEY/, `${JSON.stringify(shape)}: ${detail}`);
                  assert.doesNotMatch(detail, /TEMP B-TREE/, 'no sort: the index is walked in id order');
                }
              }
          }
    assert.equal(Object.keys(plans).length, 48);
    await q.close();
  });

  test("listing a reason's failed jobs walks its index in id order, either way, and so does requeuing them; counting them reads their counters", async () => {
    const { q } = await openQueue(ENGINES.find((e) => e.name === 'sqlite')!);
    const db = (q as SqliteQueue).db;
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(Object.fromEntries([...sql.matchAll(/:(\w+)/g)].map(([, name]) => [name, 1]))) as { detail: string }[])
        .map((p) => p.detail)
        .join('; ');
    for (const newestFirst of [false, true]) {
      const shape = { state: false, key: false, crawlId: false, reason: true, newestFirst, search: null, walk: 'reason' } as const;
      assert.match(plan(listSql(shape)), /^SEARCH jobs USING INDEX jobs_reason \(reason=\? AND id[<>]\?\)$/);
      assert.match(plan(listSql({ ...shape, crawlId: true })), /^SEARCH jobs USING INDEX jobs_crawl_reason \(crawl_id=\? AND reason=\? AND id[<>]\?\)$/);
    }
    assert.match(plan(SQL.crawlReasons), /^SEARCH reason_counts USING PRIMARY KEY \(crawl_id=\?\)/);
    // A requeue of a reason walks its failures, not every failed job.
    for (const sql of [SQL.requeueOfReason, SQL.recordClosingOfReason]) assert.match(plan(sql), /^SEARCH jobs USING INDEX jobs_reason \(reason=\?\)/);
    await q.close();
  });
});
