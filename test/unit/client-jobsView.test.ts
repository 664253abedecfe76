/**
 * The Jobs view around its tree (jobsView.ts): the message line names a filtered crawl "name (id)",
 * and crawl/changed notifications teach the tree crawls' names, so that rows need not ask. The
 * daemon is a real one in process; the editor the fake `vscode` module, given the tree view here.
 */
import * as vscode from './helpers/vscode';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Crawl } from '../../server/src/protocol';
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

let d: TestDaemon;
let view: InstanceType<typeof JobsView>;
const crawlChanged = new vscode.EventEmitter<{ crawl: Crawl }>();
before(async () => {
  d = await TestDaemon.start();
  const quiet = new vscode.EventEmitter<never>().event;
  const daemon = { status: { kind: 'running' }, request: d.request.bind(d), onJobsChanged: quiet, onDidChangeStatus: quiet, onCrawlChanged: crawlChanged.event };
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
