// Choosing the Node.js that runs the daemon: each candidate is probed by loading the real
// better-sqlite3 addon, and a failure says which runtime, and why.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { candidates, chooseRuntime, compareVersions, minimumVersion, noRuntimeMessage, probeRuntime, wrongPlatform } from '../../client/src/runtime';
import { tempDir } from './helpers/tmp';

const addon = path.dirname(require.resolve('better-sqlite3/package.json'));
const here = { source: "this test's node", path: process.execPath };

test('the running Node.js loads the addon and is chosen', async () => {
  const choice = await chooseRuntime([here], addon, '20.0.0');
  assert.equal(choice.ok, true);
  assert.equal(choice.ok && choice.runtime.version, process.version);
});

test('a missing executable, a too old version and a non-Node program are each refused with the reason', async () => {
  const missing = await probeRuntime({ source: 'crawlOrchestrator.nodePath', path: '/nonexistent/node' }, addon, '20.0.0');
  assert.equal(missing.problem, '/nonexistent/node does not exist');
  const old = await probeRuntime(here, addon, '999.0.0');
  assert.equal(old.problem, `Node.js ${process.version} is older than the 999.0.0 the daemon needs`);
  const dir = tempDir();
  const fake = path.join(dir, 'node');
  fs.writeFileSync(fake, '#!/bin/sh\necho "not node" >&2\nexit 3\n', { mode: 0o755 });
  const notNode = await probeRuntime({ source: 'node on PATH', path: fake }, addon, '20.0.0');
  assert.equal(notNode.problem, `${fake} did not run as Node.js: not node`);
});

test('an addon that cannot load (wrong ABI, missing build) is named in the problem', async () => {
  const dir = tempDir();
  const probe = await probeRuntime(here, path.join(dir, 'no-such-addon'), '20.0.0');
  assert.match(
    probe.problem ?? '',
    new RegExp(`^Node.js ${process.version.replace(/\./g, '\\.')} cannot load the bundled better-sqlite3: .*Cannot find module`),
  );
});

test('candidates: the setting alone; else node on PATH, then the host runtime unless it is Electron', () => {
  const dir = tempDir();
  const node = path.join(dir, 'node');
  fs.writeFileSync(node, '', { mode: 0o755 });
  const env = { PATH: `/nonexistent:${dir}` };
  const plain = {
    execPath: '/opt/code-server/node',
    versions: { ...process.versions, electron: undefined } as NodeJS.ProcessVersions,
    platform: 'linux' as const,
  };
  const electron = { ...plain, versions: { ...process.versions, electron: '30.1.2' } as NodeJS.ProcessVersions };
  assert.deepEqual(candidates('/my/node', env, plain), [{ source: 'crawlOrchestrator.nodePath', path: '/my/node' }]);
  assert.deepEqual(candidates('', env, plain), [
    { source: 'node on PATH', path: fs.realpathSync(node) },
    { source: "the editor's own runtime", path: '/opt/code-server/node' },
  ]);
  assert.deepEqual(candidates('', env, electron), [{ source: 'node on PATH', path: fs.realpathSync(node) }]);
  assert.deepEqual(candidates('', { PATH: '/nonexistent' }, electron), []);
});

test('versions compare numerically; the minimum comes from engines.node', () => {
  assert.equal(compareVersions('v20.9.0', '20.18.1'), -1);
  assert.equal(compareVersions('v22.0.0', '20.18.1'), 1);
  assert.equal(compareVersions('v20.18.1', '20.18.1'), 0);
  assert.equal(minimumVersion('>=20.18.1'), '20.18.1');
});

test('the notification names what was tried and how to fix it', () => {
  const text = noRuntimeMessage(
    [
      {
        candidate: { source: 'node on PATH', path: '/usr/bin/node' },
        version: 'v18.0.0',
        problem: 'Node.js v18.0.0 is older than the 20.18.1 the daemon needs',
      },
    ],
    '20.18.1',
  );
  assert.equal(
    text,
    'Crawl Orchestrator cannot start its daemon: it needs Node.js 20.18.1 or later, and node on PATH: Node.js v18.0.0 is older than the 20.18.1 the daemon needs. ' +
      'Install Node.js 20 (or later) on PATH, or set crawlOrchestrator.nodePath to its executable.',
  );
  assert.match(noRuntimeMessage([], '20.18.1'), /no `node` was found on PATH and the editor's own runtime is Electron/);
  const setting = { candidate: { source: 'crawlOrchestrator.nodePath', path: '/opt/node' }, problem: '/opt/node does not exist' };
  assert.match(noRuntimeMessage([setting], '20.18.1'), /Point crawlOrchestrator\.nodePath at a Node\.js 20\.18\.1 \(or later\) executable, or clear it/);
  // A packaged build says what its native module was built for: that Node's major, not "or later".
  const built = { target: 'linux-x64', node: '20.20.2', abi: '115' };
  const abi = {
    candidate: { source: 'node on PATH', path: '/usr/bin/node' },
    version: 'v22.1.0',
    problem: 'Node.js v22.1.0 cannot load the bundled better-sqlite3: NODE_MODULE_VERSION 115 … 127',
  };
  assert.equal(
    noRuntimeMessage([abi], '20.18.1', built),
    'Crawl Orchestrator cannot start its daemon: it needs Node.js 20.18.1 or a later 20.x (its SQLite module is built for Node 20.20.2, ABI 115, on linux-x64), ' +
      'and node on PATH: Node.js v22.1.0 cannot load the bundled better-sqlite3: NODE_MODULE_VERSION 115 … 127. Install Node.js 20 on PATH, or set crawlOrchestrator.nodePath to its executable.',
  );
});

test('a package built for another platform says so, and which to install', () => {
  const built = { target: 'linux-x64', node: '20.20.2', abi: '115' };
  assert.equal(wrongPlatform(built, 'linux', 'x64'), null);
  assert.equal(wrongPlatform({ ...built, target: 'alpine-x64' }, 'linux', 'x64', true), null);
  assert.match(wrongPlatform({ ...built, target: 'alpine-x64' }, 'linux', 'x64')!, /built for alpine-x64, and this machine is linux-x64/);
  assert.match(wrongPlatform(built, 'linux', 'x64', true)!, /built for linux-x64, and this machine is alpine-x64/);
  assert.equal(wrongPlatform({ ...built, target: 'linux-armhf' }, 'linux', 'arm'), null);
  assert.equal(
    wrongPlatform(built, 'darwin', 'arm64'),
    'Crawl Orchestrator cannot start its daemon: this package is built for linux-x64, and this machine is darwin-arm64. ' +
      'Install the package for darwin-arm64: build it on such a machine with `npm ci && npm run package`.',
  );
  assert.match(wrongPlatform(built, 'linux', 'arm64')!, /built for linux-x64, and this machine is linux-arm64/);
});
