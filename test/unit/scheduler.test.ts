import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateConfig, type CoreConfig } from '../../server/src/core/config';
import { QueueLockedError } from '../../server/src/core/errors';
import type { AckResult, Queue } from '../../server/src/core/types';
import { ABORT_LOST, Scheduler, type Handler } from '../../server/src/core/scheduler';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { parseWorkerId } from '../../server/src/core/worker-id';
import { ENGINES, type Engine } from './helpers/engines';
import { job, jobs } from './helpers/jobs';
import { eventually } from './helpers/tmp';

function config(over: Partial<CoreConfig> = {}): CoreConfig {
  return validateConfig({ maxWorkers: 4, perHostLimit: 2, leaseTtlMs: 2000, heartbeatMs: 200, pollMs: 20, ...over });
}

async function setup(engine: Engine, handlers: Record<string, Handler>, over: Partial<CoreConfig> = {}) {
  const where = await engine.database();
  const queue = await engine.connect(where);
  const logs: string[] = [];
  const scheduler = new Scheduler(queue, handlers, config(over), (level, m) => logs.push(`${level}: ${m}`));
  return { where, queue, scheduler, logs };
}

for (const engine of ENGINES) {
  describe(`scheduler (${engine.name})`, () => {
    test('runs every job once, never more than max workers at a time nor past a host limit', async () => {
      let running = 0;
      let most = 0;
      const perKey = new Map<string, number>();
      let mostPerKey = 0;
      const ran: number[] = [];
      const { queue, scheduler } = await setup(
        engine,
        {
          test: async (j) => {
            running++;
            perKey.set(j.key, (perKey.get(j.key) ?? 0) + 1);
            most = Math.max(most, running);
            mostPerKey = Math.max(mostPerKey, perKey.get(j.key)!);
            await sleep(5);
            ran.push(j.id);
            perKey.set(j.key, perKey.get(j.key)! - 1);
            running--;
          },
        },
        { maxWorkers: 5, perHostLimit: 2 },
      );
      await queue.enqueue(jobs(['a', 'b', 'c', 'd'], 10));
      scheduler.start();
      await eventually('all done', async () => (await queue.stats()).done === 40);
      await scheduler.stop();
      assert.equal(new Set(ran).size, 40);
      assert.equal(ran.length, 40);
      assert.ok(most <= 5, `at most 5 at once (saw ${most})`);
      assert.ok(mostPerKey <= 2, `at most 2 per host (saw ${mostPerKey})`);
      await engine.check(queue);
      await queue.close();
    });

    test('a handler whose write met a locked database is tried again later, its attempt not spent', async () => {
      let calls = 0;
      const { queue, scheduler } = await setup(engine, {
        test: async () => {
          calls++;
          if (calls <= 3) throw new QueueLockedError('the queue database is locked by another process');
        },
      });
      const [id] = (await queue.enqueue([job('a', 1)])).ids;
      scheduler.start();
      await eventually('done', async () => (await queue.stats()).done === 1, 15_000);
      await scheduler.stop();
      const got = (await queue.get(id!))!;
      assert.equal(calls, 4);
      assert.equal(got.job.attempts, 1, 'only the attempt that succeeded counts');
      assert.deepEqual(got.events.filter((e) => e.type === 'deferred').length, 3);
      await queue.close();
    });

    test("a handler hears of its acknowledgement once committed, with its follow-up jobs' ids; not when it threw", async () => {
      const heard: AckResult[] = [];
      const { queue, scheduler, logs } = await setup(engine, {
        test: async (j, ctx) => {
          ctx.committed((r) => heard.push(r));
          if (j.key !== 'a') return;
          if (j.url.endsWith('/throws')) throw new Error('boom');
          if (j.url.endsWith('/listener-throws')) {
            ctx.committed(() => {
              throw new Error('listener boom');
            });
          }
          return { type: 'done', enqueue: [job('b', j.id), job('b', 'shared')] };
        },
      });
      const [first, throws, listenerThrows] = (await queue.enqueue([job('a', 1), job('a', 'throws', { maxAttempts: 1 }), job('a', 'listener-throws')])).ids;
      scheduler.start();
      await eventually('all ended', async () => (await queue.stats()).done === 5);
      await scheduler.stop();
      const fromA = heard.filter((r) => r.enqueued?.ids.length === 2);
      assert.deepEqual(fromA.map((r) => r.id).sort(), [first, listenerThrows].sort(), 'the attempt that threw is not heard of');
      for (const r of fromA) assert.ok((await queue.get(r.enqueued!.ids[0]!))!.job.key === 'b', 'the new job it names is in the queue');
      assert.deepEqual(
        fromA.map((r) => (r.enqueued!.ids[1] === null ? 'duplicate' : 'new')).sort(),
        ['duplicate', 'new'],
        'one of the two found the shared job there',
      );
      assert.ok(
        logs.some((l) => l.includes('listener boom')),
        'a listener that throws is logged, and the scheduler goes on',
      );
      assert.equal((await queue.get(throws!))!.job.state, 'error');
      await queue.close();
    });

    test('handlers finishing close together while others still run are acknowledged in one transaction', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const { queue, scheduler } = await setup(engine, {
        test: async (j) => {
          await gate;
          // One after the other, a timer apart: the first's acknowledgement waits for the second.
          if (j.url.endsWith('/1')) await new Promise((r) => setTimeout(r, 1));
        },
      });
      const batches: number[] = [];
      const ack = queue.ack.bind(queue);
      queue.ack = (workerId, acks) => {
        batches.push(acks.length);
        return ack(workerId, acks);
      };
      await queue.enqueue([job('a', 0), job('b', 1)]);
      scheduler.start();
      await eventually('both running', () => scheduler.status().running === 2);
      release();
      await eventually('both done', async () => (await queue.stats()).done === 2);
      await scheduler.stop();
      assert.deepEqual(batches, [2]);
      await queue.close();
    });

    test('the worker id names host, process and a random part', async () => {
      const { scheduler } = await setup(engine, {});
      const w = parseWorkerId(scheduler.workerId);
      assert.ok(w);
      assert.equal(w.pid, process.pid);
      assert.match(w.nonce, /^[0-9a-f]{6}$/);
    });

    test("a backoff is waited out on the queue's clock, not on this process's", async () => {
      // The clock given to the queue runs an hour ahead of Date.now (on PostgreSQL the queue corrects
      // it to the server's): waiting for the queue's time on Date.now would take an hour.
      const queue = await engine.connect(await engine.database(), { clock: () => Date.now() + 3_600_000, backoff: { baseMs: 200, maxMs: 200 } });
      let calls = 0;
      const scheduler = new Scheduler(
        queue,
        {
          test: async () => {
            if (++calls === 1) throw new Error('flaked');
          },
        },
        config({ pollMs: 60_000 }),
      );
      await queue.enqueue([job('a', 1)]);
      scheduler.start();
      try {
        await eventually('retried once its backoff ended', async () => (await queue.stats()).done === 1);
      } finally {
        await scheduler.stop();
      }
      assert.equal(calls, 2);
    });

    test('a handler that throws is retried; an unknown kind errors at once', async () => {
      let calls = 0;
      const { queue, scheduler } = await setup(engine, {
        flaky: async () => {
          if (++calls < 2) throw new Error('flaked');
        },
      });
      await queue.enqueue([job('a', 1, { kind: 'flaky' }), job('a', 2, { kind: 'nobody' })]);
      // Retries are due after the backoff; the test's queue has the default 1 s base.
      scheduler.start();
      await eventually('retried to done', async () => (await queue.get(1))!.job.state === 'done', 15_000);
      const unknown = (await queue.get(2))!.job;
      assert.equal(unknown.state, 'error');
      assert.match(unknown.lastError!, /no handler for job kind "nobody"/);
      assert.deepEqual(
        (await queue.get(1))!.events.map((e) => e.type),
        ['enqueued', 'leased', 'retry', 'leased', 'done'],
      );
      await scheduler.stop();
      await queue.close();
    });

    test('heartbeats extend leases by the configured TTL', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const { queue, scheduler } = await setup(engine, { test: () => gate }, { leaseTtlMs: 1234, heartbeatMs: 50 });
      await queue.enqueue([job('a', 1)]);
      scheduler.start();
      const leased = await eventually('a heartbeat after the lease', async () => {
        const [l] = await queue.leases();
        return l && l.heartbeatAt > l.leasedAt ? l : null;
      });
      assert.equal(leased!.expiresAt - leased!.heartbeatAt, 1234);
      release();
      await scheduler.stop();
      await queue.close();
    });

    test('a lost lease aborts its handler, and its late result is fenced', async () => {
      let reason: unknown = null;
      const { where, queue, scheduler } = await setup(
        engine,
        {
          test: (_j, { signal }) =>
            new Promise((_resolve, reject) => {
              signal.addEventListener('abort', () => {
                reason = signal.reason;
                reject(new Error('aborted'));
              });
            }),
        },
        { heartbeatMs: 30 },
      );
      await queue.enqueue([job('a', 1)]);
      scheduler.start();
      await eventually('leased', async () => (await queue.stats()).in_progress === 1);
      const other = await engine.connect(where);
      assert.equal(await other.requeue({ ids: [1] }), 1, 'a user takes the stuck lease back');
      await eventually('handler aborted', () => reason === ABORT_LOST);
      await eventually('fenced ack logged', async () => (await queue.get(1))!.events.some((e) => e.type === 'lost_lease'));
      await scheduler.stop();
      const j = (await other.get(1))!.job;
      assert.ok(j.state === 'queued' || j.state === 'in_progress', 'the stale result changed nothing');
      await other.close();
      await queue.close();
    });

    test('graceful stop: finishers finish, the rest go back to queued at once', async () => {
      const { queue, scheduler } = await setup(engine, {
        quick: async () => {
          await sleep(20);
        },
        slow: (_j, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve())),
      });
      await queue.enqueue([job('a', 1, { kind: 'quick' }), job('b', 1, { kind: 'slow' }), job('c', 1, { kind: 'slow' })]);
      scheduler.start();
      await eventually('all three leased', async () => (await queue.stats()).in_progress + (await queue.stats()).done === 3);
      await scheduler.stop(300);
      const s = await queue.stats();
      assert.equal(s.done, 1);
      assert.equal(s.queued, 2);
      assert.equal(s.in_progress, 0, 'nothing left to expire');
      const slow = (await queue.get(2))!;
      assert.equal(slow.job.attempts, 0, 'a stopped attempt is not counted');
      assert.equal(slow.events.at(-1)!.type, 'released');
      await engine.check(queue);
      await queue.close();
    });

    test('a handler deaf to its signal has its job released anyway', async () => {
      const { queue, scheduler, logs } = await setup(engine, { deaf: () => new Promise(() => {}) });
      await queue.enqueue([job('a', 1, { kind: 'deaf' })]);
      scheduler.start();
      await eventually('leased', async () => (await queue.stats()).in_progress === 1);
      await scheduler.stop(50);
      assert.equal((await queue.stats()).queued, 1);
      assert.ok(logs.some((l) => /ignored the stop/.test(l)));
      await queue.close();
    });

    test('pause and resume', async () => {
      const { queue, scheduler } = await setup(engine, { test: async () => {} });
      // Paused before it starts: a lease the loop began before pause() may still come back with
      // jobs enqueued meanwhile (on PostgreSQL, its query can run after the enqueue commits).
      scheduler.pause();
      scheduler.start();
      await queue.enqueue(jobs(['a'], 3));
      await sleep(100);
      assert.equal((await queue.stats()).queued, 3, 'nothing leased while paused');
      assert.equal(scheduler.status().paused, true);
      scheduler.resume();
      await eventually('done after resume', async () => (await queue.stats()).done === 3);
      await scheduler.stop();
      await queue.close();
    });

    test("sleeps while idle and wakes for local and other processes' work and for a backoff end", async () => {
      const { where, queue, scheduler } = await setup(engine, { test: async () => {} });
      let leases = 0;
      const lease = queue.lease.bind(queue);
      queue.lease = (...args) => {
        leases++;
        return lease(...args);
      };
      scheduler.start();
      await sleep(50);
      const before = leases;
      await sleep(400);
      assert.ok(leases - before <= 1, `no busy polling while idle (${leases - before} lease calls in 400 ms)`);

      await queue.enqueue([job('a', 1)]);
      await eventually('local enqueue runs', async () => (await queue.stats()).done === 1);

      const other = await engine.connect(where);
      await other.enqueue([job('b', 1)]);
      await eventually("another connection's enqueue runs", async () => (await queue.stats()).done === 2);

      await other.enqueue([job('c', 1)]);
      await other.deferKey('c', Date.now() + 300, 'test backoff');
      await eventually('runs when the backoff ends', async () => (await queue.stats()).done === 3);
      await scheduler.stop();
      await other.close();
      await queue.close();
    });

    test('an outcome that cannot be recorded fails its own job only; the others go on, and so does a stop', async () => {
      const { queue, scheduler } = await setup(engine, {
        good: async () => ({ type: 'done' }),
        badChild: async () => ({ type: 'done', enqueue: [{ kind: 'test', url: 'http://x/', key: '', dedupeKey: 'http://x/' }] }),
        badResult: async () => ({ type: 'done', result: { big: 10n } }),
        badDefer: async () => ({ type: 'defer', reason: 'no delay' }) as never,
      });
      await queue.enqueue(['good', 'badChild', 'badResult', 'badDefer'].map((kind, i) => job('a', i, { kind })));
      scheduler.start();
      await eventually('every job finished', async () => {
        const s = await queue.stats();
        return s.done === 1 && s.error === 3;
      });
      const errors = (await queue.list({ state: 'error' })).jobs;
      assert.deepEqual(errors.map((j) => j.kind).sort(), ['badChild', 'badDefer', 'badResult']);
      for (const j of errors) assert.match(j.lastError!, /^the handler's outcome could not be recorded: /, j.kind);
      assert.equal((await queue.stats()).total, 4, 'the invalid follow-up job was not enqueued');
      await queue.enqueue([job('b', 1, { kind: 'good' })]);
      await eventually('work after them runs', async () => (await queue.stats()).done === 2);
      await scheduler.stop();
      assert.equal((await queue.stats()).in_progress, 0);
      await engine.check(queue);
      await queue.close();
    });

    test('a backoff weeks away (past the longest Node timer) does not spin the dispatcher', async () => {
      const { queue, scheduler } = await setup(engine, { test: async () => {} });
      await queue.enqueue([job('a', 1, { runAfter: Date.now() + 30 * 86_400_000 })]);
      let leases = 0;
      const lease = queue.lease.bind(queue);
      queue.lease = (...args) => {
        leases++;
        return lease(...args);
      };
      scheduler.start();
      await sleep(300);
      await scheduler.stop();
      // A timer past 2^31 - 1 ms fires at once: the bug leased hundreds of times here.
      assert.ok(leases <= 3, `${leases} lease calls with nothing ready`);
      await queue.close();
    });
  });
}

describe('scheduler on SQLite', () => {
  const sqlite = ENGINES.find((e) => e.name === 'sqlite')!;

  test("another process's commit while a lease is running still wakes the dispatcher", async () => {
    const { where, queue, scheduler } = await setup(sqlite, { test: async () => {} });
    const other = new SqliteQueue(where);
    const lease = queue.lease.bind(queue);
    let first = true;
    // The other process enqueues between the (empty) lease and the dispatcher's sleep.
    queue.lease = async (...args) => {
      const leased = await lease(...args);
      if (first) {
        first = false;
        await other.enqueue([job('b', 1)]);
      }
      return leased;
    };
    scheduler.start();
    await eventually('the job enqueued during the lease runs', async () => (await queue.stats()).done === 1, 3000);
    await scheduler.stop();
    await other.close();
    await queue.close();
  });

  test('an empty lease writes nothing, so it wakes no other process', async () => {
    const where = await sqlite.database();
    const q = new SqliteQueue(where);
    const other = new SqliteQueue(where);
    const seen = other.changeCounter();
    assert.deepEqual(await q.lease('w', 10, { ttlMs: 1000, defaultLimit: 2 }), []);
    assert.equal(other.changeCounter(), seen);
    await q.enqueue([job('a', 1)]);
    assert.notEqual(other.changeCounter(), seen, 'a write is seen (the check can fail)');
    await other.close();
    await q.close();
  });

  test('a locked database is reported and survived', async () => {
    const { where: path, queue, scheduler } = await setup(sqlite, { test: async () => {} });
    (queue as SqliteQueue).db.pragma('busy_timeout = 50');
    scheduler.pause();
    scheduler.start();
    await queue.enqueue([job('a', 1)]);
    const locker = new SqliteQueue(path);
    locker.db.exec('BEGIN IMMEDIATE');
    scheduler.resume();
    await eventually('lease failure reported', () => /locked|busy/i.test(scheduler.status().lastError ?? ''));
    locker.db.exec('COMMIT');
    await eventually('carries on when the lock is gone', async () => (await queue.stats()).done === 1);
    assert.equal(scheduler.status().lastError, null);
    await scheduler.stop();
    await locker.close();
    await queue.close();
  });

  test('a change a lease has already seen makes no second lease', async () => {
    const queue = await sqlite.connect(await sqlite.database());
    let leases = 0;
    let first = true;
    const listeners = new Set<() => void>();
    const changed = () => listeners.forEach((l) => l());
    // The queue as the scheduler sees it: leases counted, and two changes announced before the
    // next lease begins (one at once, one on the next turn, while the dispatcher yields to I/O).
    const seen = new Proxy(queue, {
      get(target, prop, receiver) {
        if (prop === 'lease') return async (...args: Parameters<Queue['lease']>) => (leases++, target.lease(...args));
        if (prop === 'onChange') return (l: () => void) => (listeners.add(l), () => listeners.delete(l));
        if (prop === 'nextWakeAt')
          return async () => {
            if (first) {
              first = false;
              changed();
              setImmediate(changed);
            }
            return null;
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const scheduler = new Scheduler(seen, { test: async () => {} }, config(), () => {});
    scheduler.start();
    await eventually('the changes to be leased for', () => leases >= 2);
    await sleep(100);
    await scheduler.stop();
    assert.equal(leases, 2, 'one lease, then one for both changes');
    await queue.close();
  });
});
