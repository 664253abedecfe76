/**
 * Pause Crawl, Resume Crawl and Cancel Crawl as commands (commands.ts): from the palette they ask
 * which crawl among those the action applies to, from a crawl's row they act on it; and the
 * messages name a crawl "name (id)", since several crawls may share a name. The daemon is a real
 * one in process (scheduler paused); the editor the fake `vscode` module, given here the few
 * window and command functions these commands call.
 */
import * as vscode from './helpers/vscode';
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { Crawl } from '../../server/src/protocol';
import { TestDaemon } from './helpers/client-daemon';

interface Pick {
  label: string;
  description?: string;
  crawl: Crawl;
}

const handlers = new Map<string, (...args: unknown[]) => Promise<void>>();
const shown: { info: string[]; warnings: string[]; statusBar: string[]; picks: { items: Pick[]; title?: string }[] } = {
  info: [],
  warnings: [],
  statusBar: [],
  picks: [],
};
/** What the user picks from a quick pick; undefined dismisses it. */
let choose: (items: Pick[]) => Pick | undefined = () => undefined;

class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static parse(value: string): Uri {
    const u = new URL(value);
    return new Uri(u.protocol.slice(0, -1), u.pathname);
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

Object.assign(vscode, {
  Uri,
  commands: {
    registerCommand(id: string, handler: (...args: unknown[]) => Promise<void>) {
      handlers.set(id, handler);
      return { dispose() {} };
    },
  },
});
Object.assign(vscode.window, {
  async showInformationMessage(message: string) {
    shown.info.push(message);
    return undefined;
  },
  async showWarningMessage(message: string, ..._actions: unknown[]) {
    shown.warnings.push(message);
    return 'Cancel Crawl';
  },
  async showErrorMessage(message: string) {
    throw new Error(`unexpected error message: ${message}`);
  },
  setStatusBarMessage(message: string) {
    shown.statusBar.push(message);
    return { dispose() {} };
  },
  async showQuickPick(items: Pick[], options: { title?: string }) {
    shown.picks.push({ items, title: options.title });
    return choose(items);
  },
});
Object.assign(vscode.workspace, {
  async openTextDocument(uri: Uri) {
    return { uri, languageId: 'crawl', getText: () => 'name: docs\nhttp://seeded.test/\n' };
  },
  asRelativePath: (uri: Uri) => uri.path.slice(1),
});

const { problemsNote, registerCommands } = require('../../client/src/commands') as typeof import('../../client/src/commands');

/** The Jobs view as the row command reads it: its selection, and what its rows' clicks did. */
const rowsDone: unknown[] = [];
const view = {
  reveal: async () => {},
  treeView: { selection: [] as unknown[] },
  provider: {
    loadMore: async (node: unknown) => void rowsDone.push(['loadMore', node]),
    showNewest: (node: unknown) => void rowsDone.push(['showNewest', node]),
  },
};
const documents = { show: async (id: number) => void rowsDone.push(['show', id]) };

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
  const daemon = { status: { kind: 'running' }, request: d.request.bind(d) };
  registerCommands({ daemon, view, documents, overview: {}, settings: () => ({}), log: {} } as never);
});
after(() => d.stop());
beforeEach(() => {
  shown.info.length = shown.warnings.length = shown.statusBar.length = shown.picks.length = 0;
  choose = () => undefined;
});

async function run(command: string, ...args: unknown[]): Promise<void> {
  await handlers.get(`crawlOrchestrator.${command}`)!(...args);
}
async function start(name: string, host: string): Promise<Crawl> {
  const { crawlId } = await d.request('crawl/start', { seeds: [`http://${host}/`], name });
  return (await d.request('crawl/get', { crawlId })).crawl;
}
const state = async (crawlId: string) => (await d.request('crawl/get', { crawlId })).crawl.state;

test('from the palette with nothing to act on: a message saying so, no picker, no request', async () => {
  d.calls.length = 0;
  await run('pauseCrawl');
  await run('resumeCrawl');
  assert.deepEqual(shown.info, ['No crawl is running, so there is none to pause.', 'No crawl is paused, so there is none to resume.']);
  assert.deepEqual(shown.picks, []);
  assert.deepEqual(
    d.calls.map((c) => c.method),
    ['crawl/list', 'crawl/list'],
  );
});

test('Pause Crawl from the palette offers the running crawls as "name (id)" and pauses the one picked', async () => {
  const older = await start('docs', 'older.test');
  const newer = await start('docs', 'newer.test');
  await run('pauseCrawl');
  assert.deepEqual(
    shown.picks.map((p) => p.items.map((i) => i.label)),
    [[`docs (${newer.crawlId})`, `docs (${older.crawlId})`]],
  );
  assert.equal(shown.picks[0].title, 'Pause Crawl');
  assert.match(shown.picks[0].items[0].description!, /^running\b/, 'with its state and progress');
  assert.equal(await state(older.crawlId), 'running', 'dismissing the picker does nothing');

  choose = (items) => items.find((i) => i.crawl.crawlId === older.crawlId);
  await run('pauseCrawl');
  assert.equal(await state(older.crawlId), 'paused');
  assert.equal(await state(newer.crawlId), 'running');
  assert.deepEqual(shown.statusBar, [`Paused crawl docs (${older.crawlId})`]);

  // Resume offers only the paused one.
  choose = (items) => items[0];
  await run('resumeCrawl');
  assert.deepEqual(
    shown.picks.at(-1)!.items.map((i) => i.crawl.crawlId),
    [older.crawlId],
  );
  assert.equal(await state(older.crawlId), 'running');
  assert.equal(shown.statusBar.at(-1), `Resumed crawl docs (${older.crawlId})`);
});

test('Cancel Crawl from a crawl\'s row asks no picker, and its confirmation and result name it "name (id)"', async () => {
  const crawl = await start('site', 'cancelled.test');
  await run('cancelCrawl', { kind: 'group', id: `crawl:${crawl.crawlId}`, filter: { crawlId: crawl.crawlId }, crawl });
  assert.equal(shown.picks.length, 0);
  assert.deepEqual(shown.warnings, [`Cancel crawl site (${crawl.crawlId})? Its queued jobs are cancelled; finished ones are kept.`]);
  assert.equal(await state(crawl.crawlId), 'cancelled');
  assert.deepEqual(shown.info, [`Cancelled crawl site (${crawl.crawlId}) and 1 queued job.`]);

  // No longer offered to cancel from the palette.
  await run('cancelCrawl');
  assert.ok(!shown.picks[0].items.some((i) => i.crawl.crawlId === crawl.crawlId));
});

test('a crawl started from a seed file is announced as "name (id)"', async () => {
  await run('startCrawl', { uri: 'file:///work/docs.crawl' });
  assert.equal(shown.info.length, 1);
  assert.match(shown.info[0], /^Crawl docs \(c_[A-Za-z0-9_-]+\) started: 1 of 1 seed enqueued\.$/);
});

test("a seed file's lens passes { crawlId }, a script a plain id: each acts on that crawl with no picker", async () => {
  const byLens = await start('lens', 'lens.test');
  const byId = await start('script', 'script.test');
  for (const [command, arg, crawl, after] of [
    ['pauseCrawl', { crawlId: byLens.crawlId }, byLens, 'paused'],
    ['resumeCrawl', { crawlId: byLens.crawlId }, byLens, 'running'],
    ['pauseCrawl', byId.crawlId, byId, 'paused'],
    ['resumeCrawl', byId.crawlId, byId, 'running'],
    ['cancelCrawl', { crawlId: byLens.crawlId }, byLens, 'cancelled'],
    ['cancelCrawl', byId.crawlId, byId, 'cancelled'],
  ] as const) {
    await run(command, arg);
    assert.equal(await state(crawl.crawlId), after, `${command} ${JSON.stringify(arg)}`);
  }
  assert.equal(shown.picks.length, 0);
  assert.deepEqual(shown.statusBar, [
    `Paused crawl lens (${byLens.crawlId})`,
    `Resumed crawl lens (${byLens.crawlId})`,
    `Paused crawl script (${byId.crawlId})`,
    `Resumed crawl script (${byId.crawlId})`,
  ]);
  assert.deepEqual(shown.info, [`Cancelled crawl lens (${byLens.crawlId}) and 1 queued job.`, `Cancelled crawl script (${byId.crawlId}) and 1 queued job.`]);
});

test("a row's click (openRow, no arguments) opens the row selected: a job's details, Load more, the newest", async () => {
  const job = { kind: 'job', job: { id: 7263 } };
  const more = { kind: 'more' };
  const newer = { kind: 'newer' };
  for (const selection of [[job], [more], [newer], [], [job, more], [{ kind: 'group' }]]) {
    view.treeView.selection = selection;
    await run('openRow');
  }
  assert.deepEqual(rowsDone, [
    ['show', 7263],
    ['loadMore', more],
    ['showNewest', newer],
  ]);
});

test("a seed file's start says what its problems did: lines with an error left out, a repeated URL crawled once", () => {
  const error = { line: 3, message: 'not a URL', severity: 'error' } as const;
  const warning = { line: 5, message: 'the same page as line 2', severity: 'warning' } as const;
  assert.equal(problemsNote('links.crawl', []), '');
  assert.equal(problemsNote('links.crawl', [warning]), ' links.crawl: 1 warning (a URL repeated is crawled once).', 'nothing was left out');
  assert.equal(problemsNote('links.crawl', [error, error]), ' links.crawl: 2 lines with an error were left out.');
  assert.equal(problemsNote('links.crawl', [error, warning]), ' links.crawl: 1 line with an error was left out; 1 warning (a URL repeated is crawled once).');
});
