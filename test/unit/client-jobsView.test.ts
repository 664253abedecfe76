/**
 * The Jobs view around its tree (jobsView.ts): the message line names a filtered crawl "name (id)",
 * crawl/changed notifications teach the tree crawls' names, so that rows need not ask, and Search
 * Jobs… narrows it to a search's matches through the same filter that Clear Filter clears. The
 * daemon is a real one in process; the editor the fake `vscode` module, given the tree view here.
 */
import * as vscode from './helpers/vscode';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Crawl } from '../../server/src/protocol';
import type { JobNode } from '../../client/src/jobsTree';
import { TestDaemon } from './helpers/client-daemon';

const treeView = {
  visible: true,
  message: undefined as string | undefined,
  badge: undefined as unknown,
  onDidChangeVisibility: () => ({ dispose() {} }),
  onDidCollapseElement: () => ({ dispose() {} }),
  onDidExpandElement: () => ({ dispose() {} }),
  dispose() {},
};
Object.assign(vscode, { commands: { executeCommand: async () => undefined } });
Object.assign(vscode.window, { createTreeView: () => treeView });

const { JobsView } = require('../../client/src/jobsView') as typeof import('../../client/src/jobsView');
const { searchJobs } = require('../../client/src/commands') as typeof import('../../client/src/commands');

let d: TestDaemon;
let view: InstanceType<typeof JobsView>;
const crawlChanged = new vscode.EventEmitter<{ crawl: Crawl }>();
before(async () => {
  d = await TestDaemon.start();
  const quiet = new vscode.EventEmitter<never>().event;
  const daemon = {
    status: { kind: 'running' },
    request: d.request.bind(d),
    onJobsChanged: quiet,
    onDidChangeStatus: quiet,
    onCrawlChanged: crawlChanged.event,
  };
  const context = { workspaceState: { get: () => undefined, update: async () => undefined } };
  view = new JobsView(context as never, daemon as never, { stats: undefined, scheduler: undefined, onDidChange: quiet } as never);
});
after(async () => {
  view.dispose();
  await d.stop();
});

test('a view filtered to one crawl says which, as "name (id)"', async () => {
  const { crawlId } = await d.request('crawl/start', { seeds: ['http://filtered.test/'], name: 'docs' });
  await view.setFilter({ crawlId });
  assert.equal(treeView.message, `Only crawl docs (${crawlId}) is shown.`);
  await view.setFilter(undefined);
  assert.equal(treeView.message, undefined);
});

test('a crawl announced by crawl/changed is named without asking crawl/list', async () => {
  const { crawlId } = await d.request('crawl/start', { seeds: ['http://announced.test/'], name: 'blog' });
  crawlChanged.fire({ crawl: (await d.request('crawl/get', { crawlId })).crawl });
  d.calls.length = 0;
  await view.setFilter({ crawlId });
  assert.equal(treeView.message, `Only crawl blog (${crawlId}) is shown.`);
  assert.deepEqual(d.callsOf('crawl/list'), []);
});

test('Search Jobs… shows only matching jobs, counted as loaded; it offers the search again, and a blank one clears it', async () => {
  await d.request('jobs/enqueue', { urls: ['http://search.test/a', 'http://search.test/b'] });
  const offered: (string | undefined)[] = [];
  let answer: string | undefined = 'SEARCH.test/B';
  Object.assign(vscode.window, { showInputBox: async (o: { value?: string }) => (offered.push(o.value), answer) });
  const filtered: unknown[] = [];
  Object.assign(vscode, {
    commands: {
      executeCommand: async (id: string, key: string, value: unknown) => {
        if (id === 'setContext' && key === 'crawlOrchestrator.filtered') filtered.push(value);
      },
    },
  });
  d.calls.length = 0;
  await searchJobs(view);
  assert.deepEqual(view.provider.filter, { search: 'SEARCH.test/B' });
  assert.equal(treeView.message, 'Jobs matching "SEARCH.test/B"');
  assert.deepEqual(filtered, [true], 'Clear Filter is offered');
  const roots = await view.provider.getChildren();
  assert.deepEqual(
    roots.map((r) => [view.provider.getTreeItem(r).label, view.provider.getTreeItem(r).description]),
    [
      ['Queued', '1 shown'],
      ['In progress', '0 shown'],
      ['Done', '0 shown'],
      ['Skipped', '0 shown'],
      ['Error', '0 shown'],
    ],
  );
  const rows = (await view.provider.getChildren(roots[0])) as JobNode[];
  assert.deepEqual(
    rows.map((r) => r.job.url),
    ['http://search.test/b'],
  );
  const lists = d.callsOf('jobs/list') as { search?: string }[];
  assert.equal(lists.length, 5);
  assert.ok(lists.every((p) => p.search === 'SEARCH.test/B'));

  answer = undefined; // Escape
  await searchJobs(view);
  assert.deepEqual(view.provider.filter, { search: 'SEARCH.test/B' });
  answer = '  ';
  await searchJobs(view);
  assert.deepEqual(offered, ['', 'SEARCH.test/B', 'SEARCH.test/B']);
  assert.equal(view.provider.filter, undefined);
  assert.equal(treeView.message, undefined);
  assert.deepEqual(filtered, [true, false]);
});

test('counts pushed again unchanged set no context key and no badge again; a change sets them once', async () => {
  const changed = new vscode.EventEmitter<void>();
  const overview = { stats: { queued: 3, in_progress: 1, done: 5, skipped: 0, error: 2 }, scheduler: undefined, onDidChange: changed.event };
  const quiet = new vscode.EventEmitter<never>().event;
  const daemon = { status: { kind: 'running' }, request: d.request.bind(d), onJobsChanged: quiet, onDidChangeStatus: quiet, onCrawlChanged: quiet };
  const contexts: [string, unknown][] = [];
  let badges = 0;
  const counted = {
    ...treeView,
    visible: false,
    set badge(_: unknown) {
      badges++;
    },
    get badge() {
      return undefined;
    },
  };
  Object.assign(vscode, {
    commands: {
      executeCommand: async (id: string, key: string, value: unknown) => {
        if (id === 'setContext') contexts.push([key, value]);
      },
    },
  });
  Object.assign(vscode.window, { createTreeView: () => counted });
  const context = { workspaceState: { get: () => undefined, update: async () => undefined } };
  const v = new JobsView(context as never, daemon as never, overview as never);
  try {
    const first = { contexts: contexts.length, badges };
    for (let i = 0; i < 5; i++) changed.fire();
    assert.equal(contexts.length, first.contexts, 'the same counts five times: no setContext');
    assert.equal(badges, first.badges, 'and no badge');
    overview.stats = { ...overview.stats, error: 0 };
    changed.fire();
    changed.fire();
    assert.deepEqual(contexts.slice(first.contexts), [['crawlOrchestrator.hasFailed', false]]);
    assert.equal(badges, first.badges + 1);
  } finally {
    v.dispose();
    Object.assign(vscode.window, { createTreeView: () => treeView });
  }
});

test("a crawl's notifications, three a second, bring the tree one catch-up a second, the counts and the jobs together", async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const changed = new vscode.EventEmitter<void>();
  const jobsChanged = new vscode.EventEmitter<{ changes: { id: number; state: string }[]; truncated: boolean }>();
  const overview = { stats: { queued: 3, in_progress: 1, done: 5, skipped: 0, error: 0 }, scheduler: undefined, onDidChange: changed.event };
  const quiet = new vscode.EventEmitter<never>().event;
  const daemon = { status: { kind: 'running' }, request: d.request.bind(d), onJobsChanged: jobsChanged.event, onDidChangeStatus: quiet, onCrawlChanged: quiet };
  const context = { workspaceState: { get: () => undefined, update: async () => undefined } };
  const v = new JobsView(context as never, daemon as never, overview as never);
  const updates: { jobs: number[] | null; stats: boolean }[] = [];
  v.provider.update = (c) => {
    updates.push({ jobs: c.jobs === null ? null : [...c.jobs.keys()], stats: c.stats !== undefined });
    return Promise.resolve(false);
  };
  const settle = async (ms: number) => {
    t.mock.timers.tick(ms);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  try {
    for (let i = 1; i <= 10; i++) {
      jobsChanged.fire({ changes: [{ id: i, state: 'done' }], truncated: false });
      await settle(300);
    }
    await settle(1_000);
    assert.ok(updates.length >= 3 && updates.length <= 5, `3 s of notifications, ${updates.length} catch-ups`);
    assert.deepEqual(
      updates.flatMap((u) => u.jobs ?? []),
      Array.from({ length: 10 }, (_, i) => i + 1),
      'every job change reaches the tree, once',
    );

    // Counts shown take the job changes gathered so far with them.
    updates.length = 0;
    await settle(2_000);
    jobsChanged.fire({ changes: [{ id: 11, state: 'done' }], truncated: false });
    changed.fire();
    await settle(2_000);
    assert.deepEqual(updates, [{ jobs: [11], stats: true }]);
  } finally {
    v.dispose();
  }
});

test('job changes wait while newer counts wait to be shown, and go with them: a count older than the changes would count a leaving job twice', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const changed = new vscode.EventEmitter<void>();
  const jobsChanged = new vscode.EventEmitter<{ changes: { id: number; state: string }[]; truncated: boolean }>();
  const overview = { stats: { queued: 0, in_progress: 0, done: 5, skipped: 0, error: 0 }, scheduler: undefined, onDidChange: changed.event, behind: false };
  const quiet = new vscode.EventEmitter<never>().event;
  const daemon = { status: { kind: 'running' }, request: d.request.bind(d), onJobsChanged: jobsChanged.event, onDidChangeStatus: quiet, onCrawlChanged: quiet };
  const context = { workspaceState: { get: () => undefined, update: async () => undefined } };
  const v = new JobsView(context as never, daemon as never, overview as never);
  const updates: { jobs: number[] | null; done: number | undefined }[] = [];
  v.provider.update = (c) => {
    updates.push({ jobs: c.jobs === null ? null : [...c.jobs.keys()], done: c.stats?.done });
    return Promise.resolve(false);
  };
  const settle = async (ms: number) => {
    t.mock.timers.tick(ms);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  try {
    await settle(2_000);
    // A job leaves Done; its batch's counts (done 4) wait to be shown, and a scheduler read shows the old ones meanwhile.
    jobsChanged.fire({ changes: [{ id: 7, state: 'queued' }], truncated: false });
    overview.behind = true;
    changed.fire();
    await settle(1_500);
    assert.deepEqual(updates, [{ jobs: [], done: 5 }], 'the old counts alone; the change waits');
    overview.stats = { ...overview.stats, done: 4 };
    overview.behind = false;
    changed.fire();
    await settle(10);
    assert.deepEqual(updates.at(-1), { jobs: [7], done: 4 }, 'the change with the counts of its batch');
  } finally {
    v.dispose();
  }
});
