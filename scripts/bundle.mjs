#!/usr/bin/env node
// Bundles what the packaged extension runs, each into one file:
//   client/src/extension.ts  -> dist/client/extension.js  (`vscode` is the host's)
//   server/src/daemon/process/main.ts -> dist/server/daemon.js    (better-sqlite3 stays a real package:
//                                                           its native binary cannot be inlined)
//   server/src/crawl/warc-worker.ts -> dist/server/warc-worker.js (the WARC writer's thread)
//   server/src/crawl/handler-worker.ts -> dist/server/handler-worker.js (page handlers' threads)
//   server/src/crawl/parse-worker.ts -> dist/server/parse-worker.js (the threads that parse pages)
//   server/src/core/sqlite/checkpoint-worker.ts -> dist/server/checkpoint-worker.js (the WAL's checkpoints)
//   server/src/daemon/transport/socket-worker.ts -> dist/server/socket-worker.js (the Unix socket's thread)
//   client/webview/report.ts  -> dist/webview/report.js   (the crawl report's page, uPlot inside,
//                                                           with its styles beside it)
// Minified, with source maps beside them for the debugger (the .vsix leaves the maps out).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  // Error stacks in the log keep readable function and class names.
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'info',
  // vscode-languageclient/server ship UMD-wrapped modules whose `module` field is ESM: prefer main.
  mainFields: ['main', 'module'],
};

const builds = [
  { ...common, entryPoints: ['client/src/extension.ts'], outfile: 'dist/client/extension.js', external: ['vscode'] },
  { ...common, entryPoints: ['server/src/daemon/process/main.ts'], outfile: 'dist/server/daemon.js', external: ['better-sqlite3'] },
  // The WARC writer's worker thread, which the daemon starts from beside its own file.
  { ...common, entryPoints: ['server/src/crawl/warc-worker.ts'], outfile: 'dist/server/warc-worker.js' },
  // Page handlers' threads: the workspace's module is imported there with import(), left as it is.
  { ...common, entryPoints: ['server/src/crawl/handler-worker.ts'], outfile: 'dist/server/handler-worker.js' },
  // The threads that parse fetched pages (crawl/parse-pool.ts).
  { ...common, entryPoints: ['server/src/crawl/parse-worker.ts'], outfile: 'dist/server/parse-worker.js' },
  // The thread that copies the queue's WAL back into its file (core/sqlite/checkpoint.ts).
  { ...common, entryPoints: ['server/src/core/sqlite/checkpoint-worker.ts'], outfile: 'dist/server/checkpoint-worker.js', external: ['better-sqlite3'] },
  // The thread that serves the Unix socket (daemon/transport/socket-thread.ts).
  { ...common, entryPoints: ['server/src/daemon/transport/socket-worker.ts'], outfile: 'dist/server/socket-worker.js', external: ['better-sqlite3'] },
  { ...common, entryPoints: ['client/webview/report.ts'], outfile: 'dist/webview/report.js', platform: 'browser', format: 'iife', target: 'es2022' },
];

rmSync(join(root, 'dist'), { recursive: true, force: true });
await Promise.all(builds.map((options) => esbuild.build(options)));
mkdirSync(join(root, 'dist', 'webview'), { recursive: true });
copyFileSync(join(root, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(root, 'dist', 'webview', 'uPlot.min.css'));
copyFileSync(join(root, 'client', 'webview', 'report.css'), join(root, 'dist', 'webview', 'report.css'));
