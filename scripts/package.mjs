#!/usr/bin/env node
// Packages the extension for the platform it is built on, and only that one: the daemon's SQLite
// module (better-sqlite3) is native code, compiled by `npm ci` for this machine's OS, CPU and Node
// ABI, so the .vsix says which VS Code target it is for (`vsce package --target`) and its file is
// named after it: crawl-orchestrator-linux-x64.vsix. Other targets are packaged on their own
// platforms. dist/target.json records what the module was built for; the extension reads it to
// say what a machine that cannot run it needs, and the end-to-end suite and the benchmarks to find
// the file.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** VS Code's name for this platform (`vsce package --help` lists them); musl Linux is `alpine`. */
function vsceTarget() {
  const musl = process.platform === 'linux' && !process.report.getReport().header.glibcVersionRuntime;
  const os = musl ? 'alpine' : process.platform;
  const arch = process.arch === 'arm' ? 'armhf' : process.arch;
  const target = `${os}-${arch}`;
  const known = ['win32-x64', 'win32-arm64', 'linux-x64', 'linux-arm64', 'linux-armhf', 'darwin-x64', 'darwin-arm64', 'alpine-x64', 'alpine-arm64'];
  if (!known.includes(target)) throw new Error(`no VS Code target for ${target} (known: ${known.join(', ')})`);
  return target;
}

// The module npm built must load in this Node: what the .vsix ships is what runs here.
const Database = require(join(root, 'node_modules', 'better-sqlite3'));
new Database(':memory:').close();

const target = vsceTarget();
const vsix = `crawl-orchestrator-${target}.vsix`;
const info = { target, node: process.versions.node, abi: process.versions.modules, vsix };
writeFileSync(join(root, 'dist', 'target.json'), `${JSON.stringify(info, null, 2)}\n`);
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
    'package',
    '--target',
    target,
    '--allow-missing-repository',
    '--skip-license',
    '--no-rewrite-relative-links',
    '--out',
    vsix,
  ],
  { cwd: root, stdio: 'inherit' },
);
console.log(`${vsix}: for ${target}, Node ${info.node} (ABI ${info.abi})`);
