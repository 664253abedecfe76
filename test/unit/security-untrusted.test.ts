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

/** Every process the extension tried to start, and every language client it made and started. */
const started: string[] = [];

// The module object itself (an `import *` would be a read-only copy), as the client reads it at each call.
const cp = require('node:child_process') as Record<string, unknown>;
const saved = Object.fromEntries(['spawn', 'fork', 'exec', 'execFile', 'spawnSync', 'execSync', 'execFileSync'].map((k) => [k, cp[k]]));
for (const name of Object.keys(saved)) {
  cp[name] = (...args: unknown[]) => {
    started.push(`${name} ${String(args[0])}`);
    // The runtime probe, answered as a Node.js that loads the addon would answer.
    const callback = args.find((a): a is (...r: unknown[]) => void => typeof a === 'function');
    callback?.(null, `${JSON.stringify({ version: 'v22.12.0', electron: null })}\n`, '');
    return { on() {}, once() {}, kill() {} };
  };
}
after(() => Object.assign(cp, saved));

class FakeLanguageClient {
  constructor(id: string) {
    started.push(`language client ${id}`);
  }
  onNotification() {
    return { dispose() {} };
  }
  onDidChangeState() {
    return { dispose() {} };
  }
  async start() {
    started.push('language client start');
  }
  async dispose() {}
  error() {}
}
const clientModule = require.resolve('vscode-languageclient/node');
require.cache[clientModule] = {
  id: clientModule, filename: clientModule, loaded: true,
  exports: {
    LanguageClient: FakeLanguageClient, CloseAction: { DoNotRestart: 1, Restart: 2 }, ErrorAction: { Continue: 1, Shutdown: 2 },
    RevealOutputChannelOn: { Never: 4 }, State: { Stopped: 1, Starting: 3, Running: 2 }, TransportKind: { stdio: 0, ipc: 1 },
  },
} as unknown as NodeModule;
// Loaded after the recorders are in place.
const { Daemon } = require('../../client/src/daemon') as typeof import('../../client/src/daemon');
const { DEFAULTS } = require('../../client/src/settings') as typeof import('../../client/src/settings');

const channel = { name: 'log', append() {}, appendLine() {}, replace() {}, clear() {}, show() {}, hide() {}, dispose() {} };
const context = { extensionPath: REPO, extension: { packageJSON: { engines: { node: '>=20.18.1' } } }, subscriptions: [] };
const newDaemon = () => new Daemon(context as never, channel as never, channel as never, () => DEFAULTS);

describe('an untrusted workspace', () => {
  test('the manifest: limited support, the state folder restricted, the runtime not a workspace setting', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
    const untrusted = pkg.capabilities.untrustedWorkspaces;
    assert.ok(untrusted.supported === 'limited' || untrusted.supported === false, JSON.stringify(untrusted));
    if (untrusted.supported === 'limited') assert.ok(untrusted.restrictedConfigurations.includes('crawlOrchestrator.stateDir'));
    const settings = pkg.contributes.configuration.properties ?? Object.assign({}, ...pkg.contributes.configuration.map((c: { properties: object }) => c.properties));
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
    assert.ok(started.some((s) => s.startsWith('execFile ')), started.join(', '));
    assert.ok(started.includes('language client start'), started.join(', '));
    await daemon.stop();
  });

  test('only the daemon manager and the runtime probe may start processes', () => {
    const dir = path.join(REPO, 'client', 'src');
    const starters = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))
      .filter((f) => /child_process|new (Daemon)?Client\(|LanguageClient\(/.test(fs.readFileSync(path.join(dir, f), 'utf8'))).sort();
    assert.deepEqual(starters, ['daemon.ts', 'runtime.ts']);
  });
});
