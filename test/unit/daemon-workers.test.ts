/**
 * Several daemons on one database, and stopping a daemon on a signal in the middle of a crawl.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import type { WorkerRecord } from '../../server/src/core/types';
import { LOST_AFTER_MS, SEEN_EVERY_MS, makeWorkerId, workerState } from '../../server/src/core/worker-id';
import { CRAWL_COMPONENT } from '../../server/src/crawl/crawls';
import { STATE_FILES } from '../../server/src/protocol';
import { RawClient, scratch, startDaemon } from './helpers/daemon-proc';
import { startWeb } from './helpers/daemon-sites';
import { checkInvariants } from './helpers/invariants';
import { pgDatabase } from './helpers/pg';
import { eventually } from './helpers/tmp';

/** A database for several daemons: a SQLite file, or a PostgreSQL database (issue 7). */
const DATABASES = {
  SQLite: async () => path.join(scratch(), STATE_FILES.db),
  PostgreSQL: pgDatabase,
};

for (const [engine, database] of Object.entries(DATABASES))
  describe(`several daemons, one ${engine} database`, () => {
    test('each is a worker of its own; work started on one is done by another, and both see it', async () => {
      const web = await startWeb('127.0.0.4', { '/': ['/a', '/b'], '/a': [], '/b': [], '/later': [] });
      const db = await database();
      const [one, two] = await Promise.all([startDaemon({ args: ['--db', db] }), startDaemon({ args: ['--db', db] })]);
      const c1 = await RawClient.connect(one.socket);
      const c2 = await RawClient.connect(two.socket);
      const w1 = (await c1.request('scheduler/status')).workerId;
      const w2 = (await c2.request('scheduler/status')).workerId;
      assert.notEqual(w1, w2);
      await c1.request('events/subscribe');

      await c1.request('scheduler/pause');
      const { crawlId } = await c1.request('crawl/start', { seeds: [web.url('/')] });
      const crawl = await eventually('daemon two to crawl it', async () => {
        const { crawl: x } = await c2.request('crawl/get', { crawlId });
        return x.state === 'finished' ? x : null;
      });
      assert.equal(crawl.counts.done, 3);
      const { jobs } = await c1.request('jobs/list', { crawlId });
      for (const j of jobs) assert.equal(j.workerId, w2, `${j.url} was run by daemon two`);
      for (const p of ['/', '/a', '/b']) assert.equal(web.hits(p), 1, `${p} fetched once`);
      // Daemon one did none of it, but heard of all of it (another process's commits).
      await eventually('daemon one to be told of the jobs daemon two finished', () =>
        jobs.every((j: { id: number }) =>
          c1.notifications.some(
            (n) => n.method === 'jobs/changed' && n.params.changes.some((ch: { id: number; state: string }) => ch.id === j.id && ch.state === 'done'),
          ),
        ),
      );
      const counts = async (c: RawClient) => {
        const { jobsPerSecond: _, ...rest } = await c.request('queue/stats');
        return rest;
      };
      assert.deepEqual(await counts(c1), await counts(c2), 'both daemons count the same shared queue');

      // An idle dispatcher wakes when another daemon enqueues.
      await c2.request('scheduler/pause');
      await c1.request('scheduler/resume');
      const {
        ids: [id],
      } = await c2.request('jobs/enqueue', { urls: [web.url('/later')] });
      await eventually('daemon one to run the job enqueued on two', async () => (await c2.request('jobs/get', { id })).job.state === 'done');
      assert.equal((await c2.request('jobs/get', { id })).job.workerId, w1);
      c1.close();
      c2.close();
      assert.deepEqual(
        (await Promise.all([one.stop(), two.stop()])).map((x) => x.code),
        [0, 0],
      );
    });

    test('workers/list: every daemon of the database, live while it runs, stopped when it stops, lost when killed', async () => {
      const db = await database();
      const daemons = await Promise.all([0, 1, 2].map(() => startDaemon({ args: ['--db', db] })));
      const clients = await Promise.all(daemons.map((d) => RawClient.connect(d.socket)));
      const ids = await Promise.all(clients.map(async (c) => (await c.request('scheduler/status')).workerId as string));
      type W = { workerId: string; state: string; self: boolean; host: string; pid: number; stoppedAt: string | null };
      const states = async () => {
        const { workers } = (await clients[0].request('workers/list')) as { workers: W[] };
        return Object.fromEntries(ids.map((id) => [id, workers.find((w) => w.workerId === id)]));
      };
      const all = await eventually('the three to be recorded', async () => {
        const s = await states();
        return ids.every((id) => s[id]?.state === 'live') ? s : null;
      });
      assert.deepEqual(
        ids.map((id) => all![id]!.self),
        [true, false, false],
        'the answering daemon is its own worker',
      );
      assert.deepEqual(
        ids.map((id) => all![id]!.pid),
        daemons.map((d) => d.child.pid),
      );

      clients[1].close();
      assert.equal((await daemons[1].stop()).code, 0);
      clients[2].close();
      await daemons[2].stop('SIGKILL');
      const stopped = await states();
      assert.equal(stopped[ids[1]]!.state, 'stopped');
      assert.ok(stopped[ids[1]]!.stoppedAt);
      // On this machine a worker whose process is gone is lost once it misses a beat, not after three.
      const after = await eventually(
        'the killed daemon to read as lost',
        async () => {
          const s = await states();
          return s[ids[2]]!.state === 'lost' ? s : null;
        },
        25_000,
      );
      assert.equal(after![ids[0]]!.state, 'live');
      clients[0].close();
      assert.equal((await daemons[0].stop()).code, 0);
    });
  });

describe('stopping', () => {
  test('SIGTERM during a crawl: exit 0, the running page handed back, nothing lost on restart', async () => {
    const web = await startWeb('127.0.0.5', { '/': ['/p1', '/p2', '/slow'], '/p1': ['/p2'], '/p2': [] }, ['/slow']);
    const d = await startDaemon({ args: ['--stop-deadline', '0.5'] });
    const c = await RawClient.connect(d.socket);
    const { crawlId } = await c.request('crawl/start', { seeds: [web.url('/')] });
    const lease = await eventually('the slow page to be leased', async () =>
      (await c.request('leases/list')).leases.find((l: { url: string }) => l.url === web.url('/slow')),
    );
    await eventually('the slow page to be requested', () => web.waiting('/slow') === 1);
    c.close();
    const { code, signal } = await d.stop('SIGTERM');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.match(d.stderr(), /stopping \(SIGTERM\)/);
    assert.ok(!fs.existsSync(d.socket), 'the socket file is gone');

    const q = new SqliteQueue(path.join(d.stateDir, STATE_FILES.db), { components: [CRAWL_COMPONENT] });
    try {
      assert.equal((await q.stats()).in_progress, 0, 'no lease left behind');
      const slow = await q.get(lease.jobId);
      assert.equal(slow?.job.state, 'queued');
      assert.equal(slow?.job.attempts, 0, 'the interrupted attempt is not counted');
      assert.ok(slow?.events.some((e) => e.type === 'released'));
      checkInvariants(q);
    } finally {
      await q.close();
    }

    web.open('/slow');
    const again = await startDaemon({ stateDir: d.stateDir });
    const c2 = await RawClient.connect(again.socket);
    const crawl = await eventually('the crawl to finish after the restart', async () => {
      const { crawl: x } = await c2.request('crawl/get', { crawlId });
      return x.state === 'finished' ? x : null;
    });
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 4, skipped: 0, error: 0 });
    for (const p of ['/', '/p1', '/p2']) assert.equal(web.hits(p), 1, `${p} fetched exactly once`);
    assert.equal(web.hits('/slow'), 2, 'the handed-back page was fetched again, once');
    c2.close();
    assert.equal((await again.stop('SIGINT')).code, 0, 'SIGINT stops gracefully too');
  });
});

describe('workerState', () => {
  const now = 1_800_000_000_000;
  const row = (workerId: string, silentMs: number, stopped = false): WorkerRecord => ({
    workerId,
    startedAt: now - 60_000,
    seenAt: now - silentMs,
    stoppedAt: stopped ? now - silentMs : null,
    leases: 0,
  });

  test('stopped; else lost when silent for three beats, whatever the machine; else live', () => {
    assert.equal(workerState(row('elsewhere:1:ab', 5_000, true), now, 'me'), 'stopped');
    assert.equal(workerState(row('elsewhere:1:ab', LOST_AFTER_MS), now, 'me'), 'live');
    assert.equal(workerState(row('elsewhere:1:ab', LOST_AFTER_MS + 1), now, 'me'), 'lost');
    assert.equal(workerState(row('not an id', LOST_AFTER_MS + 1), now, 'me'), 'lost');
  });

  test('on this machine, a process gone is lost after one missed beat; a live one is not', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.once('exit', resolve));
    const gone = makeWorkerId(undefined, child.pid);
    assert.equal(workerState(row(gone, SEEN_EVERY_MS), now, 'me'), 'live', 'one beat of grace');
    assert.equal(workerState(row(gone, SEEN_EVERY_MS + 1), now, 'me'), 'lost');
    assert.equal(workerState(row(makeWorkerId(undefined, process.ppid), SEEN_EVERY_MS * 2), now, 'me'), 'live', 'its process runs');
    // This process's pid under another id: a run before this one, as the same pid.
    const self = makeWorkerId();
    assert.equal(workerState(row(makeWorkerId(), SEEN_EVERY_MS + 1), now, self), 'lost');
    assert.equal(workerState(row(self, SEEN_EVERY_MS + 1), now, self), 'live');
  });
});
