// The status bar's wording and colours, from a real daemon's queue/stats and scheduler/status,
// and the item the extension shows (its id, name and accessible label are what end-to-end tests find).
import { EventEmitter, MarkdownString, ThemeColor, statusBarItems } from './helpers/vscode';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DaemonStatus } from '../../client/src/daemonApi';
import type { QueueStats, SchedulerStatus } from '../../client/src/overview';
import { STATUS_ITEM_ID, STATUS_ITEM_NAME, StatusBar, statusBarView } from '../../client/src/statusBar';
import { TestDaemon } from './helpers/client-daemon';

const RUNNING: DaemonStatus = { kind: 'running', stateDir: '/work/site/.crawl', runtime: '/usr/bin/node' };

describe('with a running daemon', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
    await d.request('jobs/enqueue', { urls: Array.from({ length: 12 }, (_, i) => `http://a.test/${i}`) });
  });
  after(() => d.stop());

  test("idle with jobs queued: counts, no spinner, the paused scheduler's reason in the tooltip", async () => {
    const stats = await d.request('queue/stats', {});
    const scheduler = await d.request('scheduler/status', {});
    const view = statusBarView(RUNNING, stats, scheduler);
    assert.equal(view.text, '$(debug-pause) 0 running · 12 queued · 0 failed');
    assert.equal(view.background, undefined);
    assert.equal(view.accessibilityLabel, 'Crawl Orchestrator status: 0 running, 12 queued, 0 failed, paused');
    assert.match(view.tooltip, /\| Queued \| 12 \|/);
    assert.match(view.tooltip, /\| Total \| 12 \|/);
    assert.match(view.tooltip, /0\.0 pages\/s/);
    assert.ok(scheduler.idleReason, 'the daemon says why nothing runs');
    assert.ok(view.tooltip.includes('$(info) '), 'the reason is shown');
    assert.match(view.tooltip, /resume it to continue/);
  });

  test('jobs running spin the icon; failed jobs turn the background to warning', async () => {
    await d.lease(2);
    await d.fail(1, 'HTTP 404');
    const stats = await d.request('queue/stats', {});
    const view = statusBarView(RUNNING, stats, { ...(await d.request('scheduler/status', {})), paused: false, idleReason: null });
    assert.equal(view.text, '$(sync~spin) 2 running · 9 queued · 1 failed');
    assert.equal(view.background, 'warning');
    assert.match(view.tooltip, /\| In progress \| 2 \|/);
    assert.match(view.tooltip, /\| Error \| 1 \|/);
    assert.doesNotMatch(view.tooltip, /\$\(info\)/);
  });
});

describe('without a daemon', () => {
  const cases: [DaemonStatus, string, 'warning' | 'error' | undefined][] = [
    [{ kind: 'stopped' }, '$(debug-disconnect) Crawl: daemon stopped', undefined],
    [{ kind: 'starting' }, '$(loading~spin) Crawl: starting', undefined],
    [{ kind: 'untrusted' }, '$(shield) Crawl: restricted', undefined],
    [{ kind: 'failed', message: 'The daemon exited 6 times.' }, '$(error) Crawl: daemon failed', 'error'],
    [{ kind: 'noRuntime', message: 'No Node.js 20.18.1 found.' }, '$(error) Crawl: no Node.js', 'error'],
  ];
  for (const [status, text, background] of cases) {
    test(`${status.kind}: says so`, () => {
      const view = statusBarView(status, undefined, undefined);
      assert.equal(view.text, text);
      assert.equal(view.background, background);
      assert.equal(view.accessibilityLabel, `Crawl Orchestrator status: ${text.replace(/^\$\([^)]*\) /, '')}`);
    });
  }

  test('the tooltip gives the reason in full', () => {
    const view = statusBarView({ kind: 'untrusted' }, undefined, undefined);
    assert.match(view.tooltip, /not trusted/);
  });
});

describe('the status bar item', () => {
  test('has a stable id and name, reveals the Jobs view, and follows the daemon and the counts', () => {
    const daemonEvents = new EventEmitter<DaemonStatus>();
    const overviewEvents = new EventEmitter<void>();
    const daemon = { status: { kind: 'starting' } as DaemonStatus, onDidChangeStatus: daemonEvents.event };
    const overview = { stats: undefined as QueueStats | undefined, scheduler: undefined as SchedulerStatus | undefined, onDidChange: overviewEvents.event };
    const bar = new StatusBar(daemon, overview);
    const item = statusBarItems[statusBarItems.length - 1];
    assert.equal(item.id, STATUS_ITEM_ID);
    assert.equal(item.name, STATUS_ITEM_NAME);
    assert.equal(item.visible, true);
    assert.deepEqual(item.command, { command: 'crawlOrchestrator.revealJobs', title: 'Show the Jobs view', arguments: [] });
    assert.equal(item.text, '$(loading~spin) Crawl: starting');

    daemon.status = RUNNING;
    overview.stats = { queued: 5, in_progress: 1, done: 10, skipped: 0, error: 2, total: 18, jobsPerSecond: 3.5 };
    overview.scheduler = { workerId: 'vm:1:1', paused: false, running: 1, maxWorkers: 4, idleReason: null };
    overviewEvents.fire();
    assert.equal(item.text, '$(sync~spin) 1 running · 5 queued · 2 failed');
    assert.equal((item.backgroundColor as ThemeColor).id, 'statusBarItem.warningBackground');
    assert.equal(item.accessibilityInformation?.label, 'Crawl Orchestrator status: 1 running, 5 queued, 2 failed');
    assert.match((item.tooltip as MarkdownString).value, /3\.5 pages\/s/);
    assert.match((item.tooltip as MarkdownString).value, /runs 1 of 4 workers/);

    daemon.status = { kind: 'stopped' };
    daemonEvents.fire(daemon.status);
    assert.equal(item.text, '$(debug-disconnect) Crawl: daemon stopped');
    assert.equal(item.backgroundColor, undefined);

    bar.dispose();
    assert.equal(item.disposed, true);
  });
});
