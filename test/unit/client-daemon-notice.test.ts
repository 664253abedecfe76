/**
 * The notice that the daemon will not be restarted (issue 16, bug 4): it stayed up after a
 * successful Restart Daemon, since VS Code cannot close an error message's toast. It is now a
 * progress notification the extension closes once the daemon is started again, with its two
 * actions as links. The editor is the fake `vscode` module, given a notification recorder here;
 * the language client a recorder whose error handler the test calls as the process dies.
 */
import * as vscode from './helpers/vscode';
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { REPO } from './helpers/daemon-proc';
import { FakeLanguageClient, State, channel, clients, restoreProcesses } from './helpers/fake-client';
import { eventually } from './helpers/tmp';

after(restoreProcesses);

/** Each notification shown, and whether the extension has closed it (its task has ended). */
interface Notice {
  title: string;
  cancellable: boolean;
  closed: boolean;
  cancel: () => void;
}
const notices: Notice[] = [];
const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };
Object.assign(vscode, { ProgressLocation });
Object.assign(vscode.window, {
  withProgress(options: { location: number; title: string; cancellable?: boolean }, task: (progress: unknown, token: unknown) => Promise<unknown>) {
    assert.equal(options.location, ProgressLocation.Notification);
    const cancelled: (() => void)[] = [];
    const token = { isCancellationRequested: false, onCancellationRequested: (l: () => void) => (cancelled.push(l), { dispose() {} }) };
    const notice: Notice = { title: options.title, cancellable: options.cancellable === true, closed: false, cancel: () => cancelled.forEach((l) => l()) };
    notices.push(notice);
    return task({ report() {} }, token).then(() => {
      notice.closed = true;
    });
  },
});

// The error handler the daemon gives each language client, to play the process's deaths.
type Handlers = { errorHandler: { closed(): unknown } };
const handlers: Handlers[] = [];
const clientModule = require.cache[require.resolve('vscode-languageclient/node')]!;
clientModule.exports = {
  ...clientModule.exports,
  LanguageClient: class extends FakeLanguageClient {
    constructor(id: string, _name: string, _server: unknown, options: Handlers) {
      super(id);
      handlers.push(options);
    }
  },
};

const { Daemon } = require('../../client/src/daemon') as typeof import('../../client/src/daemon');
const { DEFAULTS } = require('../../client/src/settings') as typeof import('../../client/src/settings');
const context = { extensionPath: REPO, extension: { packageJSON: { engines: { node: '>=20.18.1' } } }, subscriptions: [] };

/** A daemon that crashed once too often: the client was told not to restart it. */
async function crashLooped(): Promise<InstanceType<typeof Daemon>> {
  vscode.workspace.isTrusted = true;
  vscode.workspace.workspaceFolders = [{ uri: { scheme: 'file', fsPath: '/work/notice' } }];
  const daemon = new Daemon(context as never, channel, channel, () => DEFAULTS);
  await daemon.start();
  clients.at(-1)!.setState(State.Running);
  await eventually('running', () => daemon.status.kind === 'running');
  const { errorHandler } = handlers.at(-1)!;
  for (let i = 0; i < 5; i++) assert.deepEqual(errorHandler.closed(), { action: 2, handled: true }, 'restarted by the client');
  assert.deepEqual(errorHandler.closed(), { action: 1, handled: true }, 'not restarted any more');
  assert.equal(daemon.status.kind, 'failed');
  return daemon;
}

test('the "will not be restarted" notice offers both actions and closes once Restart Daemon has the daemon running', async () => {
  const daemon = await crashLooped();
  assert.equal(notices.length, 1);
  const notice = notices[0];
  assert.match(notice.title, /stopped 6 times in 3 minutes and will not be restarted automatically/);
  assert.ok(notice.title.includes('[Restart Daemon](command:crawlOrchestrator.restartDaemon)'), notice.title);
  assert.ok(notice.title.includes('[Show Daemon Log](command:crawlOrchestrator.showDaemonLog)'), notice.title);
  assert.ok(notice.cancellable, 'the user can dismiss it');
  // Up for as long as the daemon stays down.
  await new Promise((r) => setImmediate(r));
  assert.equal(notice.closed, false);

  const restarting = daemon.restart();
  await eventually('a new client', () => clients.length === 2);
  clients[1].setState(State.Running);
  await restarting;
  await eventually('running again', () => daemon.status.kind === 'running');
  await eventually('the notice closed', () => notice.closed);
  assert.equal(notices.length, 1, 'no other notice');
  await daemon.stop();
});

test('a notice the user dismissed stays closed, and the next failure shows a new one', async () => {
  const daemon = await crashLooped();
  const first = notices.at(-1)!;
  first.cancel();
  await eventually('the notice closed', () => first.closed);

  await daemon.restart();
  clients.at(-1)!.setState(State.Running);
  await eventually('running again', () => daemon.status.kind === 'running');
  const { errorHandler } = handlers.at(-1)!;
  for (let i = 0; i < 6; i++) errorHandler.closed();
  assert.equal(daemon.status.kind, 'failed');
  const second = notices.at(-1)!;
  assert.notEqual(second, first);
  assert.equal(second.closed, false);
  await daemon.stop();
  await eventually('the second notice closed by the stop', () => second.closed);
});
