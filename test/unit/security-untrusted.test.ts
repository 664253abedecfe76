/**
 * An untrusted workspace starts nothing: the manifest says the extension is limited there, a
 * workspace cannot choose the executable that runs the daemon, and the one code path that
 * starts a process (the runtime probe, then the language client) is gated on Workspace Trust.
 * The editor is the fake `vscode` module; the language client and child_process are recorders.
 */
import * as vscode from './helpers/vscode';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO } from './helpers/daemon-proc';
import { channel, restoreProcesses, started } from './helpers/fake-client';

after(restoreProcesses);
// Loaded after the recorders are in place.
const { Daemon } = require('../../client/src/daemon') as typeof import('../../client/src/daemon');
const { DEFAULTS } = require('../../client/src/settings') as typeof import('../../client/src/settings');

const context = { extensionPath: REPO, extension: { packageJSON: { engines: { node: '>=20.18.1' } } }, subscriptions: [] };
const newDaemon = () => new Daemon(context as never, channel, channel, () => DEFAULTS);

describe('an untrusted workspace', () => {
  test('the manifest: limited support, the state folder restricted, the runtime not a workspace setting', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const untrusted = pkg.capabilities.untrustedWorkspaces;
    assert.ok(untrusted.supported === 'limited' || untrusted.supported === false, JSON.stringify(untrusted));
    if (untrusted.supported === 'limited') assert.ok(untrusted.restrictedConfigurations.includes('crawlOrchestrator.stateDir'));
    const settings =
      pkg.contributes.configuration.properties ?? Object.assign({}, ...pkg.contributes.configuration.map((c: { properties: object }) => c.properties));
    assert.ok(['machine', 'application'].includes(settings['crawlOrchestrator.nodePath'].scope), 'a workspace cannot pick the executable that runs');
    assert.ok(!pkg.activationEvents.includes('*'));
  });

  test('starting and restarting the daemon start no process and no language client', async () => {
    vscode.workspace.isTrusted = false;
    vscode.workspace.workspaceFolders = [{ uri: { scheme: 'file', fsPath: '/work/untrusted' } }];
    const daemon = newDaemon();
    await daemon.start();
    assert.equal(daemon.status.kind, 'untrusted');
    await daemon.restart();
    assert.equal(daemon.status.kind, 'untrusted');
    await assert.rejects(daemon.request('queue/stats', {}), /trust/i, 'requests are refused, saying why');
    assert.deepEqual(started, []);
  });

  test('once trusted, the same path probes the runtime and starts the client (so the gate is what held it)', async () => {
    vscode.workspace.isTrusted = true;
    const daemon = newDaemon();
    await daemon.start();
    assert.ok(
      started.some((s) => s.startsWith('execFile ')),
      started.join(', '),
    );
    assert.ok(started.includes('language client start'), started.join(', '));
    await daemon.stop();
  });

  test('only the daemon manager and the runtime probe may start processes', () => {
    const dir = path.join(REPO, 'client', 'src');
    const starters = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /child_process|new (Daemon)?Client\(|LanguageClient\(/.test(fs.readFileSync(path.join(dir, f), 'utf8')))
      .sort();
    assert.deepEqual(starters, ['daemon.ts', 'runtime.ts']);
  });
});
