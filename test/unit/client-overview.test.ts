// One snapshot for the status bar, the badge and the view's idle message: the scheduler's idle
// reason speaks of the counts it was read with, and is not shown beside others.
import { EventEmitter } from './helpers/vscode';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Daemon } from '../../client/src/daemon';
import type { DaemonStatus } from '../../client/src/daemonApi';
import { QueueOverview, schedulerBeside, type QueueStats } from '../../client/src/overview';
import { requeueParams } from '../../client/src/commands';
import { statusBarView } from '../../client/src/statusBar';
import { TestDaemon } from './helpers/client-daemon';

test('a crawl that finished while a job was queued: the old idle reason goes with the old counts', async () => {
  const d = await TestDaemon.start();
  const statusEvents = new EventEmitter<DaemonStatus>();
  const statsEvents = new EventEmitter<QueueStats>();
  const status: DaemonStatus = { kind: 'running', stateDir: '/tmp/x', runtime: 'node' };
  const daemon = { status, onDidChangeStatus: statusEvents.event, onStatsChanged: statsEvents.event, request: d.request.bind(d) };
  const overview = new QueueOverview(daemon as unknown as Daemon);
  try {
    await d.request('jobs/enqueue', { urls: ['http://one.test/'] });
    await overview.refresh();
    assert.match(overview.scheduler?.idleReason ?? '', /1 job is queued/);

    // The last job finishes: the counts are pushed before the scheduler is read again.
    await d.finish(1);
    statsEvents.fire(await d.request('queue/stats', {}));
    assert.equal(overview.stats?.queued, 0);
    assert.equal(overview.scheduler?.idleReason, null);
    const bar = statusBarView(status, overview.stats, overview.scheduler);
    assert.doesNotMatch(bar.tooltip, /queued:|is queued/);
    assert.equal(overview.scheduler?.paused, true, "the rest of the scheduler's state stays");
  } finally {
    overview.dispose();
    await d.stop();
  }
});

test("Requeue All Failed from a view filtered to a crawl requeues that crawl's failed jobs only", () => {
  assert.deepEqual(requeueParams(undefined, { crawlId: 'c_7' }), { state: 'error', crawlId: 'c_7' });
  assert.deepEqual(requeueParams(undefined, { jobIds: [3, 4] }), { state: 'error', ids: [3, 4] });
  assert.deepEqual(requeueParams(undefined, undefined), { state: 'error' });
  // A lens's own params are taken whole, whatever the view shows.
  assert.deepEqual(requeueParams({ state: 'error', crawlId: 'c_1' }, { crawlId: 'c_7' }), { state: 'error', crawlId: 'c_1' });
});

test('Requeue All Failed under a search requeues the failed matches loaded, or nothing, never every failed job', () => {
  assert.deepEqual(requeueParams(undefined, { search: '404' }, [5, 9]), { state: 'error', ids: [5, 9] });
  assert.equal(requeueParams(undefined, { search: '404' }, []), null);
  const errorRow = { kind: 'group', id: 'search/state:error', filter: { state: 'error', search: '404' } };
  assert.deepEqual(requeueParams(errorRow, { search: '404' }, [5]), { state: 'error', ids: [5] });
});

test("the idle reason's times read in local time wherever it is shown", () => {
  const stats: QueueStats = { queued: 1, in_progress: 0, done: 0, skipped: 0, error: 0, total: 1, jobsPerSecond: 0 };
  const at = '2026-03-04T04:08:35.000Z';
  const status = { workerId: 'vm:1:1', paused: false, running: 0, maxWorkers: 4, idleReason: `a.test until ${at} (HTTP 429)` };
  const local = new Date(at);
  const clock = [local.getHours(), local.getMinutes(), local.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const shown = schedulerBeside({ status, counts: '1,0,0,0,0' }, stats, Date.parse(at) - 12_000);
  assert.equal(shown?.idleReason, `a.test until ${clock} (HTTP 429)`);
});

test('an idle reason whose time has passed is not shown as current: the next read says what is', () => {
  const stats: QueueStats = { queued: 1, in_progress: 0, done: 0, skipped: 0, error: 0, total: 1, jobsPerSecond: 0 };
  const at = '2026-03-04T04:08:35.000Z';
  const status = {
    workerId: 'vm:1:1',
    paused: false,
    running: 0,
    maxWorkers: 4,
    idleReason: `Nothing runs although 1 job is queued: backing off: a.test until ${at} (HTTP 429).`,
  };
  assert.equal(schedulerBeside({ status, counts: '1,0,0,0,0' }, stats, Date.parse(at))?.idleReason, null);
  // An instant inside a URL is the URL's, not a time the reason waits for.
  const inUrl = { ...status, idleReason: 'Nothing runs although 1 job is queued: a.test (http://a.test/log/2020-01-01T00:00:00Z).' };
  assert.equal(schedulerBeside({ status: inUrl, counts: '1,0,0,0,0' }, stats, Date.parse(at))?.idleReason, inUrl.idleReason);
});

test('counts pushed faster than once a second are shown once a second, the first at once and the last always', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const statusEvents = new EventEmitter<DaemonStatus>();
  const statsEvents = new EventEmitter<QueueStats>();
  const daemon = {
    status: { kind: 'running' },
    onDidChangeStatus: statusEvents.event,
    onStatsChanged: statsEvents.event,
    request: () => new Promise(() => {}),
  };
  const overview = new QueueOverview(daemon as unknown as Daemon);
  let shown = 0;
  overview.onDidChange(() => shown++);
  const counts = (queued: number): QueueStats => ({ queued, in_progress: 0, done: 0, skipped: 0, error: 0, total: queued, jobsPerSecond: 0 });
  try {
    t.mock.timers.tick(5_000);
    statsEvents.fire(counts(9));
    assert.equal(overview.stats?.queued, 9, 'the first push after a quiet spell is shown at once');
    t.mock.timers.tick(300);
    statsEvents.fire(counts(8));
    t.mock.timers.tick(300);
    statsEvents.fire(counts(7));
    assert.equal(overview.stats?.queued, 9, 'pushes within the second wait');
    t.mock.timers.tick(400);
    assert.equal(overview.stats?.queued, 7, 'the latest of them is shown when the second is up');
    assert.equal(shown, 2);

    statsEvents.fire(counts(6));
    statusEvents.fire({ kind: 'stopped' });
    t.mock.timers.tick(2_000);
    assert.equal(overview.stats, undefined, 'a stopped daemon drops counts still waiting');
  } finally {
    overview.dispose();
  }
});
