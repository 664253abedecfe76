/**
 * Live settings (max workers, per-host limit) and the daemon's restarts: the process runs with the
 * flags of the extension's start, so what changed since (while it was starting, or applied to a
 * process that then crashed and was restarted by the language client) is sent again each time it
 * serves. The editor is the fake `vscode` module; the language client a recorder.
 */
import * as vscode from './helpers/vscode';
import * as assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { REPO } from './helpers/daemon-proc';
import { State, channel, clients, restoreProcesses } from './helpers/fake-client';
import { eventually } from './helpers/tmp';

after(restoreProcesses);
const { Daemon } = require('../../client/src/daemon') as typeof import('../../client/src/daemon');
const { DEFAULTS } = require('../../client/src/settings') as typeof import('../../client/src/settings');

const context = { extensionPath: REPO, extension: { packageJSON: { engines: { node: '>=20.18.1' } } }, subscriptions: [] };

test('settings changed since the daemon started are sent when it serves, and again after a crash restart', async () => {
  vscode.workspace.isTrusted = true;
  vscode.workspace.workspaceFolders = [{ uri: { scheme: 'file', fsPath: '/work/settings' } }];
  let settings = { ...DEFAULTS };
  const daemon = new Daemon(context as never, channel, channel, () => settings);
  await daemon.start();
  const client = clients.at(-1)!;
  const methods = () => client.requests.map((r) => r.method);

  // Serving with the flags it was started with: only the subscription.
  client.setState(State.Running);
  await eventually('running', () => daemon.status.kind === 'running');
  assert.deepEqual(methods(), ['events/subscribe']);

  // Changed (and applied to this process by the settings handler); then the process crashes and
  // the client starts it again with the flags of the start.
  settings = { ...settings, maxWorkers: DEFAULTS.maxWorkers + 3, perHostLimit: DEFAULTS.perHostLimit + 1 };
  client.requests.length = 0;
  client.setState(State.Starting);
  client.setState(State.Running);
  await eventually('the settings sent again', () => methods().includes('daemon/configure'));
  assert.deepEqual(methods(), ['events/subscribe', 'daemon/configure']);
  assert.deepEqual(client.requests[1].params, { maxWorkers: DEFAULTS.maxWorkers + 3, perHostLimit: DEFAULTS.perHostLimit + 1 });
  await daemon.stop();
});

test('while the daemon is stopping its status says so at once, not "running" until the process is gone', async () => {
  const daemon = new Daemon(context as never, channel, channel, () => DEFAULTS);
  await daemon.start();
  const client = clients.at(-1)!;
  client.setState(State.Running);
  await eventually('running', () => daemon.status.kind === 'running');
  let exited!: () => void;
  client.dispose = () =>
    new Promise<void>((resolve) => {
      exited = resolve;
    });
  const stopping = daemon.stop();
  await eventually('the stop under way', () => exited !== undefined);
  assert.equal(daemon.status.kind, 'stopped');
  exited();
  await stopping;
});
