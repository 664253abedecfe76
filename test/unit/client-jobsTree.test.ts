// The Jobs tree's logic against a real in-process daemon: grouping, counts, paging, ids that
// survive a refresh, row wording, lazily resolved tooltips, and what the view shows without a daemon.
import { CancellationTokenNone, MarkdownString, ThemeIcon, TreeItemCollapsibleState } from './helpers/vscode';
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type * as vscode from 'vscode';
import type { Job } from '../../server/src/protocol';
import { DaemonUnavailable } from '../../client/src/daemonApi';
import { CRAWL_LIST_BACKOFF_MS } from '../../client/src/crawlNames';
import { PAGE_SIZE, REREAD_MS_PER_ROW } from '../../client/src/jobPages';
import {
  JobsTreeProvider,
  noChanges,
  type GroupNode,
  type JobNode,
  type MoreNode,
  type NewerNode,
  type TreeChanges,
  type TreeNode,
} from '../../client/src/jobsTree';
import { compareHosts, crawlLabels, filterMessage, hostDescription, jobDescription, jobLabel, jobTooltip, mixesCrawls } from '../../client/src/jobsTreeText';
import { TestDaemon } from './helpers/client-daemon';
import { sentJob } from './helpers/jobs';
import { requeueParams } from '../../client/src/commands';

const token = CancellationTokenNone as unknown as vscode.CancellationToken;

function items(tree: JobsTreeProvider, nodes: TreeNode[]) {
  return nodes.map((n) => tree.getTreeItem(n));
}

function group(nodes: TreeNode[], label: string): GroupNode {
  const g = nodes.find((n): n is GroupNode => n.kind === 'group' && n.label === label);
  assert.ok(g, `no group labelled ${label} among ${nodes.map((n) => ('label' in n ? n.label : n.id)).join(', ')}`);
  return g;
}

async function urls(d: TestDaemon, host: string, n: number, from = 0): Promise<void> {
  const list = Array.from({ length: n }, (_, i) => `http://${host}/page/${from + i}?q=${i}`);
  await d.request('jobs/enqueue', { urls: list });
}

describe('grouped by state', () => {
  let d: TestDaemon;
  let tree: JobsTreeProvider;
  before(async () => {
    d = await TestDaemon.start();
    tree = new JobsTreeProvider(d, 'state');
  });
  after(() => d.stop());

  test('an empty queue has no rows, so the welcome view shows', async () => {
    assert.deepEqual(await tree.getChildren(), []);
  });

  test('five state groups with counts from queue/stats, in a fixed order', async () => {
    await urls(d, 'a.test', 250);
    await urls(d, 'b.test', 10);
    await d.fail(3, 'HTTP 500 Internal Server Error');
    await d.finish(2);
    await d.lease(1);
    const roots = await tree.getChildren();
    const shown = items(tree, roots);
    assert.deepEqual(
      shown.map((i) => i.label),
      ['Queued', 'In progress', 'Done', 'Skipped', 'Error'],
    );
    assert.deepEqual(
      shown.map((i) => i.description),
      ['254', '1', '2', '0', '3'],
    );
    assert.deepEqual(
      shown.map((i) => i.contextValue),
      ['stateGroup.queued', 'stateGroup.in_progress', 'stateGroup.done', 'stateGroup.skipped', 'stateGroup.error'],
    );
    assert.deepEqual(
      shown.map((i) => i.id),
      ['state:queued', 'state:in_progress', 'state:done', 'state:skipped', 'state:error'],
    );
    assert.equal((shown[4].iconPath as ThemeIcon).id, 'error');
    assert.equal((shown[1].iconPath as ThemeIcon).id, 'sync~spin', 'spins while a job runs');
  });

  test('group rows keep their identity across a refresh, so the view keeps them expanded', async () => {
    const first = await tree.getChildren();
    tree.refresh();
    const second = await tree.getChildren();
    assert.equal(second.length, 5);
    for (let i = 0; i < 5; i++) assert.equal(second[i], first[i]);
  });

  test('a large group shows one page and a "Load more" row; each load appends one page', async () => {
    const queued = group(await tree.getChildren(), 'Queued');
    d.calls.length = 0;
    let rows = await tree.getChildren(queued);
    assert.equal(rows.length, PAGE_SIZE + 1);
    const more = rows[PAGE_SIZE] as MoreNode;
    assert.equal(more.kind, 'more');
    const moreItem = tree.getTreeItem(more);
    assert.equal(moreItem.label, 'Load more');
    assert.equal(moreItem.description, '100 of 254 shown');
    assert.equal(moreItem.contextValue, 'loadMore');
    // No arguments: VS Code would keep them under an id a refresh drops (OPEN_ROW); the row is read from the selection.
    assert.deepEqual(moreItem.command, { command: 'crawlOrchestrator.openRow', title: 'Open' });
    assert.deepEqual(d.callsOf('jobs/list'), [{ state: 'queued', limit: PAGE_SIZE, cursor: null }]);

    await tree.loadMore(more);
    rows = await tree.getChildren(queued);
    assert.equal(rows.length, 2 * PAGE_SIZE + 1);
    await tree.loadMore(rows[rows.length - 1] as MoreNode);
    rows = await tree.getChildren(queued);
    assert.equal(rows.length, 254, 'all rows, and no "Load more" once the list is complete');
    assert.ok(rows.every((r) => r.kind === 'job'));
    const ids = rows.map((r) => r.job.id);
    assert.equal(new Set(ids).size, ids.length, 'no job listed twice');
  });

  test('a refresh re-reads as many rows as were loaded, in one request, with the same row ids', async () => {
    const queued = group(await tree.getChildren(), 'Queued');
    const before = (await tree.getChildren(queued)).map((r) => r.id);
    tree.refresh();
    d.calls.length = 0;
    const after = (await tree.getChildren(queued)).map((r) => r.id);
    assert.deepEqual(after, before);
    assert.deepEqual(d.callsOf('jobs/list'), [{ state: 'queued', limit: 254, cursor: null }]);
  });

  test('rows without a refresh come from memory: expanding again asks nothing', async () => {
    const queued = group(await tree.getChildren(), 'Queued');
    d.calls.length = 0;
    await tree.getChildren(queued);
    assert.deepEqual(d.callsOf('jobs/list'), []);
  });

  test('a job row: path as label, host and what happened as description, state icon, menus by state', async () => {
    const failed = group(await tree.getChildren(), 'Error');
    const errorRows = (await tree.getChildren(failed)) as JobNode[];
    // Finished groups list the newest first: a running crawl's latest results on top.
    assert.ok(errorRows.length > 1);
    assert.deepEqual(
      errorRows.map((r) => r.job.id),
      errorRows.map((r) => r.job.id).sort((x, y) => y - x),
    );
    const [row] = errorRows;
    const item = tree.getTreeItem(row);
    assert.match(String(item.label), /^\/page\/\d+\?q=\d+$/);
    assert.equal(item.description, 'b.test · HTTP 500 Internal Server Error', 'what failed, not "attempt 1/3"');
    assert.equal(item.contextValue, 'job.error');
    assert.equal(item.id, `state:error/job:${row.job.id}`);
    assert.equal((item.iconPath as ThemeIcon).id, 'error');
    assert.equal(item.tooltip, undefined, 'left for resolveTreeItem');
    assert.deepEqual(
      item.command,
      { command: 'crawlOrchestrator.openRow', title: 'Open' },
      'a click opens the row selected: no arguments to lose in a refresh',
    );
  });

  test('a leased job shows the time its lease has left, and its tooltip the lease in full', async () => {
    const running = group(await tree.getChildren(), 'In progress');
    const [row] = (await tree.getChildren(running)) as JobNode[];
    const job = row.job;
    assert.equal(job.workerId, 'w-test');
    const item = tree.getTreeItem(row);
    assert.match(String(item.description), /^a\.test · attempt 1 of 3 · lease \d+ s left$/);
    assert.equal((item.iconPath as ThemeIcon).id, 'sync', "a running job's row stands still; its group spins");

    const resolved = await tree.resolveTreeItem(item, row, token);
    const md = (resolved.tooltip as MarkdownString).value;
    assert.match(md, /\*\*Lease:\*\* worker `w-test` · token age \d+ s · expires in \d+ s \(\d\d:\d\d:\d\d\) · last heartbeat (now|\d+ s ago)/);
    assert.match(md, /\*\*Attempts:\*\* 1 of 3 spent\n/);
    assert.match(md, /\*\*Recent events\*\* \(2 of 2, newest first\)/);
    assert.match(md, /- \d\d:\d\d:\d\d \*\*leased\*\* `w-test`: attempt 1\/3/);

    // Heartbeats move the lease on without a notification: the lease tick reads running rows again.
    const redrawn: unknown[] = [];
    const sub = tree.onDidChangeTreeData((e) => redrawn.push(e));
    d.calls.length = 0;
    assert.equal(tree.refreshLeases(), true);
    sub.dispose();
    assert.deepEqual(redrawn, [[running]], 'only the group holding running jobs');
    await tree.getChildren(running);
    assert.deepEqual(d.callsOf('jobs/list'), [{ state: 'in_progress', limit: PAGE_SIZE, cursor: null }]);
  });

  test("a failed job's tooltip has its last error", async () => {
    const failed = group(await tree.getChildren(), 'Error');
    const [row] = (await tree.getChildren(failed)) as JobNode[];
    const resolved = await tree.resolveTreeItem(tree.getTreeItem(row), row, token);
    const md = (resolved.tooltip as MarkdownString).value;
    assert.match(md, /\*\*Last error:\*\* HTTP 500 Internal Server Error/);
    assert.match(md, /\*\*failed\*\* `w-test`/);
    assert.doesNotMatch(md, /\*\*Lease:\*\*/, 'no lease once it failed');
  });

  test('without a daemon the tree is empty (the welcome view explains); a failing request shows a note', async () => {
    const tree2 = new JobsTreeProvider(d, 'state');
    d.failWith = new DaemonUnavailable('The Crawl Orchestrator daemon is stopped.');
    try {
      assert.deepEqual(await tree2.getChildren(), []);
      d.failWith = new Error('the daemon is stopping');
      const rows = await tree2.getChildren();
      assert.equal(rows.length, 1);
      const item = tree2.getTreeItem(rows[0]);
      assert.equal(item.label, 'Could not list jobs: the daemon is stopping');
      assert.equal(item.contextValue, 'note');
    } finally {
      d.failWith = undefined;
    }
  });
});

describe('grouped by host and by crawl, and filtered', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  test('hosts with in-flight/limit and state; a host with failures offers Requeue', async () => {
    // beta's jobs arrive after alpha's are leased, so which host each lease takes is certain.
    await urls(d, 'alpha.test', 4);
    await d.fail(1, 'timeout');
    await d.lease(1);
    await urls(d, 'beta.test', 3);
    const tree = new JobsTreeProvider(d, 'host');
    const roots = await tree.getChildren();
    const shown = items(tree, roots);
    assert.deepEqual(
      shown.map((i) => i.label),
      ['alpha.test', 'beta.test'],
    );
    assert.equal(shown[0].description, '1/2 in flight · ready · 2 queued · 1 failed');
    assert.equal(shown[0].contextValue, 'host.ready hasFailed');
    assert.equal(shown[1].description, '0/2 in flight · ready · 3 queued');
    assert.equal(shown[1].contextValue, 'host.ready');

    d.calls.length = 0;
    const rows = (await tree.getChildren(roots[1])) as JobNode[];
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => r.job.host === 'beta.test'));
    assert.deepEqual(d.callsOf('jobs/list'), [{ host: 'beta.test', limit: PAGE_SIZE, cursor: null }]);
  });

  test('crawls newest first, each holding its states that have jobs; jobs outside crawls are counted', async () => {
    const started = await d.request('crawl/start', { seeds: ['http://gamma.test/', 'http://gamma.test/b'], name: 'docs', maxDepth: 1 });
    assert.equal(started.enqueued, 2);
    const tree = new JobsTreeProvider(d, 'crawl');
    const roots = await tree.getChildren();
    const crawlRow = group(roots, 'docs');
    const item = tree.getTreeItem(crawlRow);
    assert.equal(item.id, `crawl:${started.crawlId}`);
    assert.equal(item.contextValue, 'crawl.running');
    assert.match(String(item.description), /^running · 0\/2 finished · \d+(\.\d)? pages\/s$/);
    const note = roots.find((n) => n.kind === 'note');
    assert.equal(note && tree.getTreeItem(note).label, '7 jobs outside any crawl');

    const states = await tree.getChildren(crawlRow);
    assert.deepEqual(
      items(tree, states).map((i) => [i.label, i.description, i.contextValue]),
      [['Queued', '2', 'stateGroup.queued']],
    );
    d.calls.length = 0;
    const jobs = (await tree.getChildren(states[0])) as JobNode[];
    assert.deepEqual(jobs.map((j) => j.job.url).sort(), ['http://gamma.test/', 'http://gamma.test/b']);
    assert.deepEqual(d.callsOf('jobs/list'), [{ crawlId: started.crawlId, state: 'queued', limit: PAGE_SIZE, cursor: null }]);
  });

  test('a filter on job ids lists just those jobs; clearing it groups again', async () => {
    const tree = new JobsTreeProvider(d, 'state');
    const { jobs } = await d.request('jobs/list', { host: 'beta.test' });
    tree.setFilter({ jobIds: [jobs[0].id, jobs[2].id] });
    const rows = (await tree.getChildren()) as JobNode[];
    assert.deepEqual(
      rows.map((r) => r.job.id),
      [jobs[0].id, jobs[2].id],
    );
    assert.deepEqual(
      rows.map((r) => r.kind),
      ['job', 'job'],
    );
    tree.setFilter(undefined);
    assert.deepEqual(
      items(tree, await tree.getChildren()).map((i) => i.label),
      ['Queued', 'In progress', 'Done', 'Skipped', 'Error'],
    );
  });
});

describe('grouped by failure reason', () => {
  let d: TestDaemon;
  let tree: JobsTreeProvider;
  const refused = (n: number) => `http://a.test/page/${n}: connect ECONNREFUSED 127.0.0.1:80`;
  before(async () => {
    d = await TestDaemon.start();
    tree = new JobsTreeProvider(d, 'reason');
  });
  after(() => d.stop());

  /** What `update` fires (element ids, undefined for the whole tree) and what it asked the daemon. */
  async function catchUp(changes: TreeChanges): Promise<{ fired: (string | undefined)[]; asked: string[] }> {
    const fired: (string | undefined)[] = [];
    const sub = tree.onDidChangeTreeData((e) => fired.push(...(Array.isArray(e) ? e : [e]).map((n) => n?.id)));
    d.calls.length = 0;
    await tree.update(changes);
    sub.dispose();
    return { fired, asked: d.calls.map((c) => c.method) };
  }
  const failing = async (n: number, error: string): Promise<TreeChanges> => {
    const ids = await d.fail(n, error);
    return { jobs: new Map(ids.map((id) => [id, 'error' as const])), stats: await d.request('queue/stats', {}), crawls: new Set() };
  };

  test('an empty queue has no rows (the welcome view shows); a queue where nothing failed says so', async () => {
    assert.deepEqual(await tree.getChildren(), []);
    await urls(d, 'a.test', 20);
    await d.finish(2);
    tree.refresh();
    assert.deepEqual(
      items(tree, await tree.getChildren()).map((i) => [i.id, i.label, i.contextValue]),
      [['reasons:none', 'No failed jobs', 'note']],
    );
  });

  test('roots are the reasons, most failed first, with their counts, read from jobs/reasons alone', async () => {
    await d.fail(2, 'HTTP 404');
    for (const n of [1, 2, 3]) await d.fail(1, refused(n));
    d.calls.length = 0;
    tree.refresh();
    const roots = await tree.getChildren();
    const shown = items(tree, roots);
    assert.deepEqual(
      shown.map((i) => [i.id, i.label, i.description, i.contextValue]),
      [
        ['reason:ECONNREFUSED', 'ECONNREFUSED', '3', 'reason'],
        ['reason:HTTP%20404', 'HTTP 404', '2', 'reason'],
      ],
    );
    assert.equal((shown[0].iconPath as ThemeIcon).id, 'error');
    assert.equal(shown[1].collapsibleState, TreeItemCollapsibleState.Collapsed);
    assert.match((shown[1].tooltip as MarkdownString).value, /^2 jobs failed with \*\*HTTP 404\*\*/);
    assert.deepEqual(
      d.calls.map((c) => [c.method, c.params]),
      [
        ['jobs/reasons', { limit: 200 }],
        ['queue/stats', {}],
      ],
      'no failed job is read for the roots',
    );
  });

  test("a reason lists its failed jobs, newest first; its menu's requeue takes them alone", async () => {
    const roots = await tree.getChildren();
    d.calls.length = 0;
    const rows = (await tree.getChildren(group(roots, 'ECONNREFUSED'))) as JobNode[];
    assert.deepEqual(d.callsOf('jobs/list'), [{ state: 'error', reason: 'ECONNREFUSED', order: 'newest', limit: PAGE_SIZE, cursor: null }]);
    assert.equal(rows.length, 3);
    assert.deepEqual(
      rows.map((r) => r.job.id),
      rows.map((r) => r.job.id).sort((x, y) => y - x),
    );
    assert.ok(rows.every((r) => r.job.state === 'error' && /ECONNREFUSED/.test(r.job.lastError!)));
    assert.ok(rows.every((r) => r.id.startsWith('reason:ECONNREFUSED/job:')));

    const params = requeueParams(group(roots, 'HTTP 404'), undefined);
    assert.deepEqual(params, { state: 'error', reason: 'HTTP 404' });
    const before = await d.request('queue/stats', {});
    assert.deepEqual(await d.request('jobs/requeue', params), { requeued: 2 });
    assert.equal((await d.request('queue/stats', {})).error, before.error - 2, "the other reason's jobs stay failed");
    // Failed again, for the same reason.
    await d.fail(2, 'HTTP 404');
  });

  test('rows keep their identity across a refresh; a reason that looks like a row id is a row of its own', async () => {
    const first = await tree.getChildren();
    tree.refresh();
    const second = await tree.getChildren();
    assert.ok(first.length === second.length && first.every((n, i) => n === second[i]));
    await d.fail(1, 'x/job:1');
    tree.refresh();
    const ids = (await tree.getChildren()).map((n) => n.id);
    assert.ok(ids.includes('reason:x%2Fjob%3A1'), ids.join(', '));
  });

  test("a job that fails redraws its reason's row, counted above its rows, not the others'; jobs that do well ask nothing", async () => {
    let roots = await tree.getChildren();
    for (const label of ['ECONNREFUSED', 'HTTP 404']) await tree.getChildren(group(roots, label));
    const done = await d.finish(1);
    assert.deepEqual(await catchUp({ jobs: new Map([[done[0], 'done']]), stats: await d.request('queue/stats', {}), crawls: new Set() }), {
      fired: [],
      asked: [],
    });

    const { fired, asked } = await catchUp(await failing(1, 'HTTP 404'));
    assert.deepEqual(fired, ['reason:HTTP%20404']);
    // The roots again (the view's counts are the overview's; this tree reads its own), and no job yet.
    assert.deepEqual(asked, ['jobs/reasons', 'queue/stats']);
    roots = await tree.getChildren();
    d.calls.length = 0;
    const notFound = group(roots, 'HTTP 404');
    // Its rows stay put: the new failure is counted on a row above them, which reads the newest.
    const [newer, ...rows] = await tree.getChildren(notFound);
    assert.equal(rows.length, 2);
    assert.equal(newer.kind, 'newer');
    assert.equal(tree.getTreeItem(newer).label, '1 newer — show newest');
    assert.equal(tree.getTreeItem(notFound).description, '3');
    assert.deepEqual(d.callsOf('jobs/list'), []);
    tree.showNewest(newer);
    const newest = await tree.getChildren(notFound);
    assert.deepEqual(
      newest.map((r) => r.kind),
      ['job', 'job', 'job'],
    );
    assert.deepEqual(d.callsOf('jobs/list'), [{ state: 'error', reason: 'HTTP 404', order: 'newest', limit: PAGE_SIZE, cursor: null }]);

    // A reason new to the view: other roots, the whole tree.
    assert.deepEqual((await catchUp(await failing(1, 'HTTP 410'))).fired, [undefined]);
    assert.ok((await tree.getChildren()).some((n) => n.id === 'reason:HTTP%20410'));
    // Requeued (by another client): the count falls, and the reason leaves the roots.
    await d.request('jobs/requeue', { reason: 'HTTP 410' });
    assert.deepEqual((await catchUp({ ...noChanges(), stats: await d.request('queue/stats', {}) })).fired, [undefined]);
    assert.ok(!(await tree.getChildren()).some((n) => n.id === 'reason:HTTP%20410'));
  });

  test('a reason with more jobs than a page: "Load more" says how many of them are shown', async () => {
    // Two hosts: a lease takes at most 100 jobs of one.
    await urls(d, 'b.test', 70);
    await urls(d, 'c.test', 70);
    assert.equal((await d.fail(130, 'HTTP 503')).length, 130);
    tree.refresh();
    const busy = group(await tree.getChildren(), 'HTTP 503');
    assert.equal(tree.getTreeItem(busy).description, '130');
    let rows = await tree.getChildren(busy);
    const more = rows[PAGE_SIZE] as MoreNode;
    assert.equal(tree.getTreeItem(more).description, '100 of 130 shown');
    await tree.loadMore(more);
    rows = await tree.getChildren(busy);
    assert.equal(rows.length, 130);
    assert.ok(rows.every((r) => r.kind === 'job' && r.job.lastError === 'HTTP 503'));
  });
});

describe('catching up with notifications', () => {
  let d: TestDaemon;
  let tree: JobsTreeProvider;
  let roots: TreeNode[];
  before(async () => {
    d = await TestDaemon.start();
    await urls(d, 'a.test', 6);
    await d.finish(2);
    await d.fail(1, 'HTTP 404');
    // Time moves on between catch-ups here, past any group's wait before it is read again.
    tree = new JobsTreeProvider(d, 'state', () => Date.now() + later);
    roots = await tree.getChildren();
    for (const label of ['Queued', 'Done', 'Error']) await tree.getChildren(group(roots, label));
  });
  let later = 0;
  after(() => d.stop());

  /** Runs `update` and then asks for rows as the view would: the root and loaded groups, or just the groups fired. */
  async function catchUp(changes: TreeChanges): Promise<{ redrawn: (string | undefined)[]; lists: unknown[] }> {
    const fired: (TreeNode | undefined)[] = [];
    const sub = tree.onDidChangeTreeData((e) => fired.push(...(Array.isArray(e) ? e : [e])));
    d.calls.length = 0;
    later += 60_000;
    await tree.update(changes);
    sub.dispose();
    if (fired.includes(undefined)) {
      roots = await tree.getChildren();
      for (const label of ['Queued', 'Done', 'Error']) await tree.getChildren(group(roots, label));
    } else {
      for (const node of fired) await tree.getChildren(node);
    }
    return { redrawn: fired.map((n) => n?.id), lists: d.callsOf('jobs/list') };
  }

  const stats = () => d.request('queue/stats', {});

  test('stats whose counts are those shown (the rate moved) read nothing again', async () => {
    const same = { ...(await stats()), jobsPerSecond: 4.2 };
    const { redrawn, lists } = await catchUp({ ...noChanges(), stats: same });
    assert.deepEqual(redrawn, []);
    assert.deepEqual(lists, []);
    assert.deepEqual(d.calls, []);
  });

  test('a job that finished: the group it left and the group it joined are redrawn, not the root nor the others', async () => {
    const errorRows = await tree.getChildren(group(roots, 'Error'));
    const [id] = await d.finish(1);
    const { redrawn, lists } = await catchUp({ jobs: new Map([[id, 'done']]), stats: await stats(), crawls: new Set() });
    // A redrawn row is made anew in the view: its click command and pending hover are lost.
    assert.deepEqual(redrawn, ['state:queued', 'state:done']);
    assert.deepEqual(d.callsOf('queue/stats'), [{}]);
    assert.deepEqual(
      items(tree, roots).map((i) => i.description),
      ['2', '0', '3', '0', '1'],
      'the groups show the new counts',
    );
    const again = await tree.getChildren(group(roots, 'Error'));
    assert.ok(again.length > 0 && again.every((row, i) => row === errorRows[i]), 'rows handed out again are the same elements');
    // Done lists its newest first: its rows stay put, and the job that joined it is counted above them.
    assert.deepEqual(
      lists.map((l) => (l as { state: string }).state),
      ['queued'],
    );
    const doneRows = await tree.getChildren(group(roots, 'Done'));
    assert.ok(!doneRows.some((r) => r.kind === 'job' && r.job.id === id));
    assert.equal(doneRows[0].kind, 'newer');
    tree.showNewest(doneRows[0]);
    assert.ok((await tree.getChildren(group(roots, 'Done'))).some((r) => r.kind === 'job' && r.job.id === id));
  });

  test('a job that changed while the counts did not: only its group is redrawn, its rows read down from where they were', async () => {
    const [row] = (await tree.getChildren(group(roots, 'Error'))) as JobNode[];
    const { redrawn, lists } = await catchUp({ jobs: new Map([[row.job.id, 'error']]), stats: await stats(), crawls: new Set() });
    assert.deepEqual(redrawn, ['state:error']);
    assert.deepEqual(lists, [{ state: 'error', order: 'newest', limit: PAGE_SIZE, cursor: String(row.job.id + 1) }]);
  });

  test('too many changes to list: each loaded group is read again as its wait allows, not the whole tree', async () => {
    const { redrawn, lists } = await catchUp({ jobs: null, stats: undefined, crawls: new Set() });
    // The whole tree redrawn would send every loaded row again: 1,000 Done rows each second of a fast crawl.
    // Groups listed newest first are not read: what joins them is counted, as their count moves.
    assert.deepEqual(redrawn, ['state:queued']);
    assert.deepEqual(
      lists.map((l) => (l as { state: string }).state),
      ['queued'],
    );
    // At once again (the clock not moved on): held, to be read when their wait is over.
    const fired: unknown[] = [];
    const sub = tree.onDidChangeTreeData((e) => fired.push(e));
    assert.equal(await tree.update({ jobs: null, stats: undefined, crawls: new Set() }), false);
    sub.dispose();
    assert.deepEqual(fired, []);
    assert.ok(tree.heldFor() !== undefined, 'a catch-up is asked for when the wait is over');
  });
});

describe('catching up, grouped by crawl and filtered by ids', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  /** What `update` fires: element ids, undefined for the whole tree. */
  async function fired(tree: JobsTreeProvider, changes: TreeChanges): Promise<(string | undefined)[]> {
    const out: (string | undefined)[] = [];
    const sub = tree.onDidChangeTreeData((e) => out.push(...(Array.isArray(e) ? e : [e]).map((n) => n?.id)));
    await tree.update(changes);
    sub.dispose();
    return out;
  }

  test('an open crawl whose jobs move between states is redrawn, though its own line reads the same', async () => {
    const { crawlId } = await d.request('crawl/start', { seeds: ['http://delta.test/1', 'http://delta.test/2', 'http://delta.test/3'], name: 'moves' });
    // One job runs already, so a second lease changes neither the crawl's line nor its icon.
    await d.lease(1);
    const tree = new JobsTreeProvider(d, 'crawl');
    const crawlRow = group(await tree.getChildren(), 'moves');
    await tree.getChildren(crawlRow);
    const look = () => {
      const i = tree.getTreeItem(crawlRow);
      return JSON.stringify([i.label, i.description, i.iconPath, i.contextValue]);
    };
    const line = look();
    await d.lease(1);
    const redrawn = await fired(tree, { ...noChanges(), stats: await d.request('queue/stats', {}), crawls: new Set([crawlId]) });
    assert.equal(look(), line, "the crawl's own line reads the same");
    assert.ok(redrawn.includes(`crawl:${crawlId}`) || redrawn.includes(undefined), `redrawn: ${redrawn.join(', ')}`);
    const states = await tree.getChildren(crawlRow);
    assert.deepEqual(
      items(tree, states).map((i) => [i.label, i.description]),
      [
        ['Queued', '1'],
        ['In progress', '2'],
      ],
    );
  });

  test('"jobs outside any crawl" follows the count', async () => {
    const tree = new JobsTreeProvider(d, 'crawl');
    const note = () => tree.getChildren().then((roots) => roots.find((n) => n.kind === 'note'));
    assert.equal(await note(), undefined);
    await urls(d, 'outside.test', 1);
    await tree.getChildren();
    await urls(d, 'outside.test', 2, 1);
    const redrawn = await fired(tree, { ...noChanges(), stats: await d.request('queue/stats', {}) });
    assert.deepEqual(redrawn, [undefined], 'the note is redrawn');
    const shown = await note();
    assert.equal(shown && tree.getTreeItem(shown).label, '3 jobs outside any crawl');
  });

  test('rows of a filter on job ids are redrawn when their jobs change', async () => {
    const tree = new JobsTreeProvider(d, 'state');
    const { jobs } = await d.request('jobs/list', { host: 'outside.test' });
    tree.setFilter({ jobIds: jobs.map((j) => j.id) });
    const before = items(tree, await tree.getChildren()).map((i) => i.contextValue);
    assert.ok(
      before.every((c) => c === 'job.queued'),
      before.join(', '),
    );
    const failed = await d.fail(3, 'HTTP 404');
    const changes = new Map(failed.map((id) => [id, 'error' as const]));
    const redrawn = await fired(tree, { jobs: changes, stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(redrawn, [undefined]);
    const after = items(tree, await tree.getChildren()).map((i) => i.contextValue);
    assert.ok(after.includes('job.error'), after.join(', '));
  });
});

describe('row wording', () => {
  const now = Date.parse('2026-01-02T10:00:00.000Z');
  const job: Job = sentJob({
    id: 7,
    url: 'https://example.com/docs/a.html?x=1#top',
    crawlId: 'c_1',
    depth: 2,
    state: 'in_progress',
    attempts: 2,
    workerId: 'vm:1:2',
    leasedAt: '2026-01-02T09:59:50.000Z',
    leaseExpiresAt: '2026-01-02T10:00:12.000Z',
    heartbeatAt: '2026-01-02T09:59:58.000Z',
    lastError: 'HTTP 503',
    createdAt: '2026-01-02T09:00:00.000Z',
    updatedAt: '2026-01-02T09:59:58.000Z',
  });

  test('labels are the path and query; a URL that does not parse stays whole', () => {
    assert.equal(jobLabel(job.url), '/docs/a.html?x=1');
    assert.equal(jobLabel('not a url'), 'not a url');
  });

  test('descriptions say what happened and the lease, expired leases included; a crawl named where asked', () => {
    assert.equal(jobDescription(job, now), 'example.com · attempt 2 of 3 · lease 12 s left');
    assert.equal(jobDescription(job, now + 15_000), 'example.com · attempt 2 of 3 · lease expired 3 s ago');
    assert.equal(jobDescription({ ...job, state: 'queued', leaseExpiresAt: null }, now), 'example.com · attempt 3 of 3 due after HTTP 503');
    assert.equal(jobDescription({ ...job, state: 'error', attempts: 1, lastError: 'HTTP 404' }, now, 'docs (c_1)'), 'example.com · docs (c_1) · HTTP 404');
  });

  test('the tooltip escapes Markdown in URLs and errors', () => {
    const md = jobTooltip({ ...job, url: 'https://example.com/*a*', lastError: 'bad [link](x)' }, [], now);
    assert.match(md, /\*\*https:\/\/example\\\.com\/\\\*a\\\*\*\*/);
    assert.match(md, /bad \\\[link\\\]\\\(x\\\)/);
    assert.match(md, /token age 10 s · expires in 12 s/);
  });

  test('a host backing off says until when and why', () => {
    const until = new Date(now + 90_000);
    const text = hostDescription(
      { host: 'example.com', limit: 2, inFlight: 0, queued: 5, done: 1, error: 0, state: 'backoff', until: until.toISOString(), reason: 'HTTP 429' },
      now,
    );
    const clock = `${String(until.getHours()).padStart(2, '0')}:${String(until.getMinutes()).padStart(2, '0')}:${String(until.getSeconds()).padStart(2, '0')}`;
    assert.equal(text, `0/2 in flight · backing off until ${clock} (HTTP 429) · 5 queued`);
  });
});

describe('rows of several crawls listed together', () => {
  test('crawls are called by name where the name is theirs alone, else "name (id)", else by id', () => {
    const labels = crawlLabels([
      { crawlId: 'c_1', name: 'docs' },
      { crawlId: 'c_2', name: 'docs' },
      { crawlId: 'c_3', name: 'blog' },
      { crawlId: 'c_4', name: null },
    ]);
    assert.deepEqual(
      [...labels],
      [
        ['c_1', 'docs (c_1)'],
        ['c_2', 'docs (c_2)'],
        ['c_3', 'blog'],
        ['c_4', 'c_4'],
      ],
    );
    assert.equal(mixesCrawls([{ crawlId: 'c_1' }, { crawlId: 'c_1' }]), false);
    assert.equal(mixesCrawls([{ crawlId: 'c_1' }, { crawlId: null }]), true);
  });

  test("the Error group names each row's crawl when it mixes crawls, and only then", async () => {
    const d = await TestDaemon.start();
    try {
      const start = async (name: string, ip: string) => (await d.request('crawl/start', { name, seeds: [`http://${ip}:9/x`] })).crawlId;
      const first = await start('docs', '127.0.0.61');
      const tree = new JobsTreeProvider(d, 'state');
      await d.fail(1, 'HTTP 404');
      let errorRows = (await tree.getChildren(group(await tree.getChildren(), 'Error'))) as JobNode[];
      assert.equal(tree.getTreeItem(errorRows[0]).description, '127.0.0.61 · HTTP 404', 'one crawl: no name needed');

      const second = await start('docs', '127.0.0.62');
      const third = await start('blog', '127.0.0.63');
      await d.fail(2, 'HTTP 404');
      tree.refresh();
      errorRows = (await tree.getChildren(group(await tree.getChildren(), 'Error'))) as JobNode[];
      const described = new Map(errorRows.map((r) => [r.job.crawlId, tree.getTreeItem(r).description]));
      assert.deepEqual(Object.fromEntries(described), {
        [first]: `127.0.0.61 · docs (${first}) · HTTP 404`,
        [second]: `127.0.0.62 · docs (${second}) · HTTP 404`,
        [third]: '127.0.0.63 · blog · HTTP 404',
      });
    } finally {
      await d.stop();
    }
  });
});

test("a group of several crawls' jobs names its rows even where those loaded are one crawl's (a Done group's newest)", async () => {
  const d = await TestDaemon.start();
  try {
    const older = (await d.request('crawl/start', { name: 'docs', seeds: ['http://127.0.0.64:9/x'] })).crawlId;
    await d.fail(1, 'HTTP 404');
    // More than a page of the newer crawl's failures: the Error group's first page (newest first) is all its own.
    const seeds = Array.from({ length: PAGE_SIZE + 1 }, (_, i) => `http://127.0.2.${i + 1}:9/`);
    const newer = (await d.request('crawl/start', { name: 'blog', seeds })).crawlId;
    while ((await d.fail(50, 'HTTP 500')).length > 0);
    const tree = new JobsTreeProvider(d, 'state');
    const rows = (await tree.getChildren(group(await tree.getChildren(), 'Error'))).filter((r): r is JobNode => r.kind === 'job');
    assert.equal(rows.length, PAGE_SIZE);
    assert.ok(rows.every((r) => r.job.crawlId === newer));
    assert.deepEqual(new Set(rows.map((r) => r.crawl)), new Set(['blog']), `named, since ${older}'s failure is in the group too`);
    // Under its crawl, a group's rows need no name.
    const byCrawl = new JobsTreeProvider(d, 'crawl');
    const blog = group(await byCrawl.getChildren(), 'blog');
    const under = await byCrawl.getChildren(group(await byCrawl.getChildren(blog), 'Error'));
    assert.ok(under.filter((r): r is JobNode => r.kind === 'job').every((r) => r.crawl === undefined));
  } finally {
    await d.stop();
  }
});

describe('crawl names', () => {
  test('crawl rows: the name where it is theirs alone, else "name (id)"; a crawl\'s title for messages is "name (id)"', async () => {
    const d = await TestDaemon.start();
    try {
      const start = async (name: string, host: string) => (await d.request('crawl/start', { name, seeds: [`http://${host}/`] })).crawlId;
      const first = await start('docs', 'one.test');
      const second = await start('docs', 'two.test');
      await start('blog', 'three.test');
      const tree = new JobsTreeProvider(d, 'crawl');
      assert.deepEqual(
        items(tree, await tree.getChildren()).map((i) => i.label),
        ['blog', `docs (${second})`, `docs (${first})`],
      );
      const states = await tree.getChildren(group(await tree.getChildren(), `docs (${first})`));
      assert.equal(
        items(tree, states)[0].tooltip && String((items(tree, states)[0].tooltip as MarkdownString).value),
        `1 job of docs (${first}) waiting for a worker (or for their host, or a retry backoff).`,
      );
      assert.equal(await tree.crawlTitle(first), `docs (${first})`);
      assert.equal(await tree.crawlTitle('c_nobody'), 'c_nobody');
    } finally {
      await d.stop();
    }
  });

  test('rows learn crawl names from notifications; crawl/list is asked once for groups read together, and not again for a while after it failed', async () => {
    const d = await TestDaemon.start();
    try {
      let clock = 1_000_000;
      let failing = false;
      const lists: string[] = [];
      const daemon = {
        request: async (method: string, params: unknown) => {
          if (method === 'crawl/list') {
            lists.push(failing ? 'failed' : 'ok');
            if (failing) throw new Error('the daemon is busy');
          }
          return d.request(method as never, params as never);
        },
      };
      const tree = new JobsTreeProvider(daemon as never, 'state', () => clock);
      const start = async (name: string, ip: string) => (await d.request('crawl/start', { name, seeds: [`http://${ip}:9/a`, `http://${ip}:9/b`] })).crawlId;
      const docs = await start('docs', '127.0.0.71');
      const blog = await start('blog', '127.0.0.72');
      await d.fail(2, 'HTTP 404');
      // Queued and Error, expanded together, each listing jobs of both crawls.
      const read = async () => {
        tree.refresh();
        const roots = await tree.getChildren();
        const rows = await Promise.all([group(roots, 'Queued'), group(roots, 'Error')].map((g) => tree.getChildren(g)));
        return new Map((rows.flat() as JobNode[]).map((r) => [`${r.job.state} ${r.job.crawlId}`, r.crawl]));
      };
      assert.equal((await read()).get(`error ${docs}`), 'docs');
      assert.deepEqual(lists, ['ok'], 'one crawl/list for both groups');

      // A new crawl, announced by crawl/changed as the view hears it: no crawl/list.
      const news = await start('news', '127.0.0.73');
      tree.noteCrawl((await d.request('crawl/get', { crawlId: news })).crawl);
      await d.fail(6, 'HTTP 404');
      assert.equal((await read()).get(`error ${news}`), 'news');
      assert.deepEqual(lists, ['ok']);

      // One not announced (its notification missed) while crawl/list fails: asked once, then not on every refresh.
      failing = true;
      const late = await start('late', '127.0.0.74');
      await d.fail(2, 'HTTP 404');
      assert.equal((await read()).get(`error ${late}`), late, 'the id stands in');
      await read();
      await read();
      assert.deepEqual(lists, ['ok', 'failed']);
      clock += CRAWL_LIST_BACKOFF_MS;
      failing = false;
      assert.equal((await read()).get(`error ${late}`), 'late');
      assert.equal((await read()).get(`error ${blog}`), 'blog');
      assert.deepEqual(lists, ['ok', 'failed', 'ok']);
    } finally {
      await d.stop();
    }
  });
});

describe('paging while the group changes', () => {
  test('a page that comes back after its group was read again goes to the rows shown, not lost', async () => {
    const d = await TestDaemon.start();
    try {
      await urls(d, 'race.test', 250);
      const tree = new JobsTreeProvider(d, 'state');
      const queued = group(await tree.getChildren(), 'Queued');
      const more = (await tree.getChildren(queued))[PAGE_SIZE] as MoreNode;
      // The "Load more" answer is held until the group has been read again, as when a change comes meanwhile.
      const request = d.request.bind(d);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      d.request = (async (method: string, params: { cursor?: string | null }) => {
        if (method === 'jobs/list' && params.cursor) await gate;
        return request(method as never, params as never);
      }) as typeof d.request;
      const loading = tree.loadMore(more);
      tree.refresh();
      await tree.getChildren(queued);
      release();
      await loading;
      const rows = await tree.getChildren(queued);
      assert.equal(rows.filter((r) => r.kind === 'job').length, 2 * PAGE_SIZE);
    } finally {
      await d.stop();
    }
  });
});

describe('the counts the rest of the editor shows', () => {
  test("state groups show the overview's counts (those of the badge and status bar), not a read of their own", async () => {
    const d = await TestDaemon.start();
    try {
      await urls(d, 'snap.test', 9);
      await d.fail(8, 'HTTP 500');
      // The badge's snapshot is one failure behind the queue: the groups say what it says.
      const shown = { ...(await d.request('queue/stats', {})), queued: 2, error: 7 };
      const tree = new JobsTreeProvider(d, 'state', Date.now, () => shown);
      d.calls.length = 0;
      const roots = await tree.getChildren();
      assert.deepEqual(
        items(tree, roots).map((i) => i.description),
        ['2', '0', '0', '0', '7'],
      );
      assert.deepEqual(d.callsOf('queue/stats'), []);

      // A new snapshot redraws just the groups whose count moved.
      const fired: unknown[] = [];
      const sub = tree.onDidChangeTreeData((e) => fired.push(e));
      const next = { ...shown, queued: 1, error: 8 };
      await tree.update({ ...noChanges(), stats: next });
      assert.deepEqual(fired, []);
      Object.assign(shown, next);
      await tree.update({ ...noChanges(), stats: next });
      sub.dispose();
      assert.deepEqual(
        fired.map((e) => (e as TreeNode[]).map((n) => n.id)),
        [['state:queued', 'state:error']],
      );
      assert.deepEqual(
        items(tree, roots).map((i) => i.description),
        ['1', '0', '0', '0', '8'],
      );
    } finally {
      await d.stop();
    }
  });
});

describe('host order', () => {
  test('IPv4 addresses sort by their numbers, before names, which sort as text', () => {
    const hosts = ['example.com', '127.0.1.25', '10.0.0.1', '127.0.1.249', 'a.test', '127.0.1.3', '300.1.1.1'];
    assert.deepEqual([...hosts].sort(compareHosts), ['10.0.0.1', '127.0.1.3', '127.0.1.25', '127.0.1.249', '300.1.1.1', 'a.test', 'example.com']);
  });
});

describe('a fast crawl beside a loaded group', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  test('a group of 500 rows is read again at most once per 5 ms a row, however often its jobs change; one listed newest first is not read', async () => {
    // Five hosts: a lease takes at most 100 jobs of one.
    for (let h = 0; h < 5; h++) await urls(d, `fast${h}.test`, 104);
    assert.equal((await d.finish(500)).length, 500);
    for (let h = 0; h < 5; h++) await urls(d, `waiting${h}.test`, 100);
    let clock = 1_000_000;
    const tree = new JobsTreeProvider(d, 'state', () => clock);
    const roots = await tree.getChildren();
    const [queued, done] = [group(roots, 'Queued'), group(roots, 'Done')];
    for (const g of [queued, done]) {
      const more = (await tree.getChildren(g)).find((n): n is MoreNode => n.kind === 'more')!;
      for (let i = 0; i < 4; i++) await tree.loadMore(more);
      assert.equal((await tree.getChildren(g)).filter((n) => n.kind === 'job').length, 500);
    }

    // Jobs keep changing, too many to name: every catch-up says so. Only time lets Queued be read again.
    const reads = async () => {
      d.calls.length = 0;
      await tree.update({ jobs: null, stats: undefined, crawls: new Set() });
      for (const g of [queued, done]) await tree.getChildren(g);
      return (d.callsOf('jobs/list') as { state: string }[]).map((c) => c.state);
    };
    assert.deepEqual(await reads(), [], 'just read: held');
    const wait = 500 * REREAD_MS_PER_ROW;
    assert.equal(tree.heldFor(), wait);
    clock += 400;
    assert.deepEqual(await reads(), [], 'still held');
    assert.equal(tree.heldFor(), wait - 400);
    clock += wait - 400;
    assert.deepEqual(await reads(), ['queued'], 'due: read again, in one request');
    assert.equal(tree.heldFor(), undefined);
    assert.deepEqual(await reads(), [], 'held again after the read');
  });

  test("a group with many rows loaded has its count redrawn with its rows, not each time it moves; a collapsed one's at once", async () => {
    const shown = { ...(await d.request('queue/stats', {})) };
    let clock = 2_000_000;
    const tree = new JobsTreeProvider(
      d,
      'state',
      () => clock,
      () => shown,
    );
    const done = group(await tree.getChildren(), 'Done');
    const more = (await tree.getChildren(done)).find((n): n is MoreNode => n.kind === 'more')!;
    const fired: string[][] = [];
    const sub = tree.onDidChangeTreeData((e) => fired.push(e === undefined ? ['(all)'] : (Array.isArray(e) ? e : [e]).map((n) => n.id)));
    const bump = async () => {
      shown.done += 1;
      await tree.update({ ...noChanges(), stats: { ...shown } });
    };
    // A page of rows is cheap to send again: the count moves with the status bar's.
    await bump();
    assert.deepEqual(fired, [['state:done']]);
    fired.length = 0;
    for (let i = 0; i < 4; i++) await tree.loadMore(more);
    await tree.getChildren(done);
    fired.length = 0;
    await bump();
    // Its 500 rows were just sent: the count waits for them, and only the row above them that counts the jobs that joined it is redrawn.
    assert.deepEqual(fired, [['state:done/newer']]);
    const [newer] = await tree.getChildren(done);
    assert.equal(tree.getTreeItem(newer).label, '2 newer — show newest');
    assert.equal(tree.heldFor(), 500 * REREAD_MS_PER_ROW);
    fired.length = 0;
    clock += 500 * REREAD_MS_PER_ROW;
    d.calls.length = 0;
    await tree.update(noChanges());
    await tree.getChildren(done);
    assert.deepEqual(d.callsOf('jobs/list'), [], 'its rows are sent as they were, not read again');
    assert.deepEqual(fired, [['state:done']]);
    assert.match(items(tree, [done])[0].description as string, new RegExp(`^${shown.done.toLocaleString('en-US')}`));

    // Collapsed, a redraw sends no rows: the count moves at once.
    await tree.getChildren(done);
    tree.expandedChanged(done, false);
    fired.length = 0;
    await bump();
    assert.deepEqual(fired, [['state:done']]);
    sub.dispose();
  });
});

describe('jobs entering a loaded group', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  test('they move its count and read none of its rows, which stay put; "show newest" reads them', async () => {
    await urls(d, 'enter.test', 450);
    const late = await d.lease(3);
    for (let i = 0; i < 4; i++) await d.finish(100);
    let clock = 1_000_000;
    const tree = new JobsTreeProvider(d, 'state', () => clock);
    const done = group(await tree.getChildren(), 'Done');
    const ids = async () => (await tree.getChildren(done)).filter((n): n is JobNode => n.kind === 'job').map((n) => n.job.id);
    const more = (await tree.getChildren(done)).find((n): n is MoreNode => n.kind === 'more')!;
    await tree.loadMore(more);
    const loaded = await ids();
    assert.equal(loaded.length, 2 * PAGE_SIZE);
    const fired: string[] = [];
    const sub = tree.onDidChangeTreeData((e) => fired.push(...(e === undefined ? ['(all)'] : (Array.isArray(e) ? e : [e]).map((n) => n.id))));

    // The three oldest jobs finish last: listed newest first, they come past the rows loaded.
    await d.queue.ack(
      'w-test',
      late.map((h) => ({ ...h, outcome: { type: 'done' as const, result: { status: 200 } } })),
    );
    d.calls.length = 0;
    const stats = await d.request('queue/stats', {});
    await tree.update({ jobs: new Map(late.map((h) => [h.id, 'done'])), stats, crawls: new Set() });
    // Its rows were just read: redrawing its count would send them again, so that waits.
    assert.ok(!fired.includes('state:done'), fired.join(', '));
    const wait = tree.heldFor();
    assert.equal(wait, 2 * PAGE_SIZE * REREAD_MS_PER_ROW);
    clock += wait;
    await tree.update(noChanges());
    assert.ok(fired.includes('state:done'), `its count is redrawn: ${fired.join(', ')}`);
    assert.equal(tree.getTreeItem(done).description, stats.done.toLocaleString('en-US'));
    assert.deepEqual(await ids(), loaded);
    assert.equal(d.callsOf('jobs/list').length, 0, 'its rows are not read again');

    // One finishes above them: counted with the three, the rows staying put until the newest are asked for.
    const [next] = await d.finish(1);
    clock += 60_000;
    d.calls.length = 0;
    await tree.update({ jobs: new Map([[next, 'done']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(await ids(), loaded);
    const [newer] = await tree.getChildren(done);
    assert.equal(tree.getTreeItem(newer).label, '4 newer — show newest');
    assert.equal(d.callsOf('jobs/list').length, 0);
    tree.showNewest(newer as NewerNode);
    assert.deepEqual(await ids(), [next, ...loaded.slice(0, -1)]);
    assert.equal((await tree.getChildren(done))[0].kind, 'job', 'the newest shown, nothing is newer');
    assert.equal(d.callsOf('jobs/list').length, 1);
    sub.dispose();
  });

  test('a requeue takes its rows out, the rest staying put; among changes too many to name, a count that fell reads them again from where they were', async () => {
    const tree = new JobsTreeProvider(d, 'state');
    const done = group(await tree.getChildren(), 'Done');
    const rows = async () => (await tree.getChildren(done)).map((n) => (n.kind === 'job' ? n.job.id : n.kind));
    const before = await rows();
    const [a, b] = [before[3] as number, before[4] as number];
    await d.request('jobs/requeue', { ids: [a] });
    d.calls.length = 0;
    await tree.update({ jobs: new Map([[a, 'queued']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(
      await rows(),
      before.filter((id) => id !== a),
    );
    assert.deepEqual(d.callsOf('jobs/list'), [], 'the rows left are as they were');

    await d.request('jobs/requeue', { ids: [b] });
    d.calls.length = 0;
    await tree.update({ jobs: null, stats: await d.request('queue/stats', {}), crawls: new Set() });
    const after = await rows();
    assert.deepEqual(after.slice(0, 98), before.filter((id) => id !== a && id !== b).slice(0, 98));
    assert.deepEqual(
      d.callsOf('jobs/list').map((c) => (c as { cursor: string }).cursor),
      [String((before[0] as number) + 1)],
    );
  });
});

describe('a job requeued from the view', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  test('leaves its group, and finished again is listed where its id falls rather than counted as newer', async () => {
    await urls(d, 'again.test', 5);
    const ids = await d.finish(5);
    const tree = new JobsTreeProvider(d, 'state');
    const catchUp = async (jobs: Map<number, Job['state']>) => {
      await tree.update({ jobs, stats: await d.request('queue/stats', {}), crawls: new Set() });
      await tree.getChildren();
    };
    let done = group(await tree.getChildren(), 'Done');
    const rows = async () => (await tree.getChildren(done)).map((n) => (n.kind === 'job' ? n.job.id : n.kind));
    const newestFirst = [...ids].reverse();
    assert.deepEqual(await rows(), newestFirst);

    const again = ids[1];
    tree.follow([again]);
    await d.request('jobs/requeue', { ids: [again] });
    await catchUp(new Map([[again, 'queued']]));
    assert.deepEqual(
      await rows(),
      newestFirst.filter((id) => id !== again),
    );
    assert.deepEqual(await d.finish(1), [again]);
    // The counts come first (the overview's, at once), the job's change after them (debounced).
    await catchUp(new Map());
    await catchUp(new Map([[again, 'done']]));
    done = group(await tree.getChildren(), 'Done');
    assert.deepEqual(await rows(), newestFirst, 'back in its place, nothing counted as newer');
  });
});

describe('the newer count of a group listed newest first', () => {
  let d: TestDaemon;
  beforeEach(async () => {
    d = await TestDaemon.start();
  });
  afterEach(() => d.stop());

  /** A tree by state (or as given) whose catch-ups are as the view's: the counts and the changes named, then the rows asked for. */
  function view(tree: JobsTreeProvider) {
    return {
      catchUp: async (jobs: Map<number, Job['state']> | null, crawls: string[] = []) => {
        await tree.update({ jobs, stats: await d.request('queue/stats', {}), crawls: new Set(crawls) });
        return tree.getChildren();
      },
      /** The rows of a group: job ids, and "N newer" for the newer row. */
      rows: async (g: GroupNode) =>
        (await tree.getChildren(g)).map((n) => (n.kind === 'job' ? n.job.id : n.kind === 'newer' ? String(tree.getTreeItem(n).label) : n.kind)),
    };
  }
  const done = (ids: number[]) => new Map(ids.map((id) => [id, 'done' as const]));

  test('a group whose rows all left hides nothing behind a newer row: the jobs that join it are listed', async () => {
    await urls(d, 'empty.test', 4);
    const first = await d.finish(2);
    const tree = new JobsTreeProvider(d, 'state');
    const { catchUp, rows } = view(tree);
    const g = () => catchUp(new Map()).then((roots) => group(roots, 'Done'));
    assert.deepEqual(await rows(await g()), [...first].reverse());
    // Both requeued (by another client): the rows leave, and the group lists nothing.
    await d.request('jobs/requeue', { ids: first });
    await catchUp(new Map(first.map((id) => [id, 'queued' as const])));
    assert.deepEqual(await rows(await g()), []);
    // The error a user watches for, or a page done: listed, not "1 newer — show newest" over nothing.
    const next = await d.finish(1);
    await catchUp(done(next));
    assert.deepEqual(await rows(await g()), next);
  });

  for (const collapsed of [false, true]) {
    test(`a followed job back among the rows with others: those that joined above them stay counted${collapsed ? ' (the group collapsed until after more joined)' : ''}`, async () => {
      await urls(d, 'anchor.test', 16);
      const first = await d.finish(5);
      const tree = new JobsTreeProvider(d, 'state');
      const { catchUp, rows } = view(tree);
      const g = group(await tree.getChildren(), 'Done');
      const listed = [...first].reverse();
      assert.deepEqual(await rows(g), listed);
      await catchUp(done(await d.finish(3)));
      assert.deepEqual(await rows(g), ['3 newer — show newest', ...listed]);

      const again = first[2];
      tree.follow([again]);
      await d.request('jobs/requeue', { ids: [again] });
      await catchUp(new Map([[again, 'queued']]));
      assert.deepEqual(await rows(g), ['3 newer — show newest', ...listed.filter((id) => id !== again)]);
      const back = await d.finish(5);
      assert.ok(back.includes(again), `${again} among ${back.join(', ')}`);
      await catchUp(done(back));
      if (collapsed) tree.expandedChanged(g, false);
      else assert.deepEqual(await rows(g), ['7 newer — show newest', ...listed], 'read again from the anchor: in its place, the four others newer');
      await catchUp(done(await d.finish(4)));
      if (collapsed) tree.expandedChanged(g, true);
      assert.deepEqual(await rows(g), ['11 newer — show newest', ...listed]);
    });
  }

  test('a requeue of jobs below the rows loaded, by id, leaves the newer count as it was', async () => {
    for (let h = 0; h < 5; h++) await urls(d, `below${h}.test`, 60);
    assert.equal((await d.finish(250)).length, 250);
    const tree = new JobsTreeProvider(d, 'state');
    const { catchUp, rows } = view(tree);
    const g = group(await tree.getChildren(), 'Done');
    const loaded = await rows(g);
    assert.equal(loaded.length, PAGE_SIZE + 1, 'a page and Load more');
    await catchUp(done(await d.finish(5)));
    assert.deepEqual(await rows(g), ['5 newer — show newest', ...loaded]);
    const { jobs: oldest } = await d.request('jobs/list', { state: 'done', limit: 10 });
    const ids = oldest.map((j) => j.id);
    assert.ok(ids.every((id) => !loaded.includes(id)));
    assert.equal((await d.request('jobs/requeue', { ids })).requeued, 10);
    await catchUp(new Map(ids.map((id) => [id, 'queued'])));
    assert.deepEqual(await rows(g), ['5 newer — show newest', ...loaded]);
    await catchUp(done(await d.finish(5)));
    assert.deepEqual(await rows(g), ['10 newer — show newest', ...loaded]);
  });

  test('rows read after the counts the group row was made from are not counted as newer when the counts catch up', async () => {
    for (const [n, host] of [
      [10, 'small.test'],
      [150, 'large.test'],
    ] as const) {
      await urls(d, host, n + 3);
      await d.finish(n);
      // The overview's counts, as pushed before three more finished.
      const shown = await d.request('queue/stats', {});
      const tree = new JobsTreeProvider(d, 'state', Date.now, () => shown);
      const g = group(await tree.getChildren(), 'Done');
      await d.finish(3);
      const before = await rows(tree, g);
      assert.equal(before.filter((r) => typeof r === 'number').length, Math.min(PAGE_SIZE, shown.done + 3));
      Object.assign(shown, await d.request('queue/stats', {}));
      await tree.update({ ...noChanges(), stats: shown });
      await tree.getChildren();
      assert.deepEqual(await rows(tree, g), before, `${host}: the three that finished are listed, not newer`);
    }
    async function rows(tree: JobsTreeProvider, g: GroupNode) {
      return (await tree.getChildren(g)).map((n) => (n.kind === 'job' ? n.job.id : n.kind));
    }
  });

  test("grouped by crawl, a followed job back in its crawl's Done leaves another crawl's newer count alone", async () => {
    const a = await d.request('crawl/start', { seeds: [1, 2, 3].map((i) => `http://crawl-a.test/${i}`), name: 'a' });
    const aDone = await d.finish(3);
    const b = await d.request('crawl/start', { seeds: [1, 2, 3].map((i) => `http://crawl-b.test/${i}`), name: 'b' });
    const bDone = await d.finish(1);
    const tree = new JobsTreeProvider(d, 'crawl');
    const { catchUp, rows } = view(tree);
    const doneOf = async (name: string) => group(await tree.getChildren(group(await tree.getChildren(), name)), 'Done');
    const [ga, gb] = [await doneOf('a'), await doneOf('b')];
    assert.deepEqual(await rows(ga), [...aDone].reverse());
    assert.deepEqual(await rows(gb), bDone);

    const again = aDone[1];
    tree.follow([again]);
    await d.request('jobs/requeue', { ids: [again] });
    await catchUp(new Map([[again, 'queued']]), [a.crawlId]);
    // Crawl a's job and one of b's finish together.
    const held = await d.lease(3);
    const bNext = held.find((h) => h.id !== again)!.id;
    await d.queue.ack(
      'w-test',
      held.filter((h) => h.id === again || h.id === bNext).map((h) => ({ ...h, outcome: { type: 'done' as const, result: { status: 200 } } })),
    );
    await catchUp(done([again, bNext]), [a.crawlId, b.crawlId]);
    const [ga2, gb2] = [await doneOf('a'), await doneOf('b')];
    assert.deepEqual(await rows(ga2), [...aDone].reverse(), 'back in its place');
    assert.deepEqual(await rows(gb2), ['1 newer — show newest', ...bDone]);
  });
});

describe('expanded and collapsed groups', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(() => d.stop());

  test('stay as the user left them through a filter and back, where the view would bring them back as they first were', async () => {
    const tree = new JobsTreeProvider(d, 'state');
    const { ids } = await d.request('jobs/enqueue', { urls: ['http://expand.test/a', 'http://expand.test/b'] });
    const state = async (label: string) => tree.getTreeItem(group(await tree.getChildren(), label)).collapsibleState;
    assert.equal(await state('Queued'), TreeItemCollapsibleState.Collapsed);
    assert.equal(await state('In progress'), TreeItemCollapsibleState.Expanded);
    const roots = await tree.getChildren();
    tree.expandedChanged(group(roots, 'Queued'), true);
    tree.expandedChanged(group(roots, 'In progress'), false);
    tree.setFilter({ jobIds: [ids[0]], from: 'from a test' });
    assert.deepEqual(
      (await tree.getChildren()).map((n) => n.kind),
      ['job'],
      'jobs picked by id are listed flat',
    );
    tree.setFilter(undefined);
    assert.equal(await state('Queued'), TreeItemCollapsibleState.Expanded);
    assert.equal(await state('In progress'), TreeItemCollapsibleState.Collapsed);
  });
});

test("a filtered view's line says whence its jobs came, and how many of them it lists", () => {
  assert.equal(filterMessage({ crawlId: 'c_1' }, 'docs (c_1)', PAGE_SIZE), 'Only crawl docs (c_1) is shown.');
  assert.equal(filterMessage({ jobIds: [1] }, undefined, PAGE_SIZE), 'Only 1 job from a seed file is shown.');
  assert.equal(
    filterMessage({ jobIds: [1, 2], from: 'with HTTP 404 in docs (c_1)' }, undefined, PAGE_SIZE),
    'Only 2 jobs with HTTP 404 in docs (c_1) are shown.',
  );
  const many = Array.from({ length: 5_000 }, (_, i) => i + 1);
  assert.equal(
    filterMessage({ jobIds: many, from: 'with HTTP 200 in docs (c_1)' }, undefined, PAGE_SIZE),
    `The first ${PAGE_SIZE} of 5,000 jobs with HTTP 200 in docs (c_1) are shown.`,
    'not "Only 5,000" over a list of the first hundred',
  );
});

describe('a search', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
    // Jobs 1-10, matches 8 and 9; three jobs examined per request, so the matches lie two windows out.
    await d.request('jobs/enqueue', { urls: Array.from({ length: 10 }, (_, i) => `http://s.test/page/${i + 1}${i === 7 || i === 8 ? '?needle' : ''}`) });
    (d.queue as unknown as { rules: { searchBudget: number } }).rules.searchBudget = 3;
  });
  after(() => d.stop());
  const ids = (rows: TreeNode[]) => rows.flatMap((r): (number | string)[] => (r.kind === 'job' ? [r.job.id] : r.kind === 'more' ? ['more'] : []));
  const more = async (tree: JobsTreeProvider, g: GroupNode) => tree.loadMore((await tree.getChildren(g)).find((r): r is MoreNode => r.kind === 'more')!);

  test('matches found by Load more are kept when the group is read again, and only that far is read', async () => {
    let later = 0;
    const tree = new JobsTreeProvider(d, 'state', () => Date.now() + later);
    tree.setFilter({ search: 'needle' });
    const queued = group(await tree.getChildren(), 'Queued');
    assert.deepEqual(ids(await tree.getChildren(queued)), ['more'], 'the first window (jobs 1-3) holds no match');
    for (let i = 0; i < 2; i++) await more(tree, queued);
    assert.deepEqual(ids(await tree.getChildren(queued)), [8, 9, 'more']);

    // Job 8 changes (it is leased and given back): the group is read again, as far as it had walked.
    later += 60_000;
    d.calls.length = 0;
    await tree.update({ jobs: new Map([[8, 'queued']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(ids(await tree.getChildren(queued)), [8, 9, 'more']);
    const cursors = (d.callsOf('jobs/list') as { cursor: string | null; search: string }[]).map((c) => c.cursor);
    assert.deepEqual(cursors, [null, '3', '6'], 'three windows, to job 9, and no further');

    // Three requests a read: the search's group waits 3 s before it is read again for a change, not 1 s.
    const changeAfter = async (ms: number) => {
      later += ms;
      d.calls.length = 0;
      await tree.update({ jobs: new Map([[9, 'queued']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
      await tree.getChildren(queued);
      return d.callsOf('jobs/list').length;
    };
    assert.equal(await changeAfter(2_000), 0);
    assert.equal(await changeAfter(1_500), 3);
  });

  test('newest first (the Error group): read again down to where Load more stopped', async () => {
    // Jobs 11-20 on another host, "pin" in 12 and 13; every job fails, so Error lists 20 down to 1.
    await d.request('jobs/enqueue', { urls: Array.from({ length: 10 }, (_, i) => `http://e.test/page/${i + 1}${i === 1 || i === 2 ? '?pin' : ''}`) });
    await d.fail(20, 'gone');
    let later = 0;
    const tree = new JobsTreeProvider(d, 'state', () => Date.now() + later);
    tree.setFilter({ search: 'pin' });
    const error = group(await tree.getChildren(), 'Error');
    assert.deepEqual(ids(await tree.getChildren(error)), ['more'], 'jobs 20-18 hold no match');
    for (let i = 0; i < 2; i++) await more(tree, error);
    assert.deepEqual(ids(await tree.getChildren(error)), [13, 12, 'more']);
    later += 60_000;
    d.calls.length = 0;
    await tree.update({ jobs: new Map([[12, 'error']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(ids(await tree.getChildren(error)), [13, 12, 'more']);
    assert.deepEqual(
      (d.callsOf('jobs/list') as { cursor: string | null }[]).map((c) => c.cursor),
      [null, '18', '15'],
    );
  });

  test('read again, a page holds the rows it held, not all a request found past them', async () => {
    const budget = (d.queue as unknown as { rules: { searchBudget: number } }).rules;
    budget.searchBudget = 1000;
    await d.request('jobs/enqueue', { urls: Array.from({ length: 150 }, (_, i) => `http://dense.test/page/${i}`) });
    let later = 0;
    const tree = new JobsTreeProvider(d, 'state', () => Date.now() + later);
    tree.setFilter({ search: 'dense' });
    const queued = group(await tree.getChildren(), 'Queued');
    const first = ids(await tree.getChildren(queued));
    assert.equal(first.length, PAGE_SIZE + 1);
    later += 60_000;
    await tree.update({ jobs: new Map([[first[0] as number, 'queued']]), stats: await d.request('queue/stats', {}), crawls: new Set() });
    assert.deepEqual(ids(await tree.getChildren(queued)), first, 'the same 100 rows and a Load more row, not 150');
    budget.searchBudget = 3;
  });

  test('a Load more answered after the search changed is dropped, not added to the new search', async () => {
    let gate: Promise<void> | undefined;
    let open = () => {};
    const slow = {
      request: async (method: string, params: { search?: string; cursor?: string | null }) => {
        if (gate && params.search === 'pin' && params.cursor) await gate;
        return d.request(method as 'jobs/list', params);
      },
    };
    const tree = new JobsTreeProvider(slow as never, 'state');
    tree.setFilter({ search: 'pin' });
    const pinError = group(await tree.getChildren(), 'Error');
    await tree.getChildren(pinError);
    gate = new Promise((resolve) => (open = resolve));
    const loading = more(tree, pinError);
    tree.setFilter({ search: 'needle' });
    const error = group(await tree.getChildren(), 'Error');
    const before = ids(await tree.getChildren(error));
    open();
    await loading;
    assert.deepEqual(ids(await tree.getChildren(error)), before);
    assert.ok(!ids(await tree.getChildren(error)).some((id) => id === 12 || id === 13), 'no "pin" match among "needle"s');
  });
});
