/**
 * Which Node.js runs the daemon. better-sqlite3 is a native addon built for one Node ABI; desktop
 * VS Code's extension host is Electron, whose ABI differs, so the daemon cannot simply be forked
 * there. Candidates, in order: the `nodePath` setting (alone: when a user names a runtime, another
 * one is never picked behind their back), `node` on PATH, then the extension host's own runtime
 * where it is plain Node (code-server, remote and WSL windows). Each is probed by loading the
 * bundled addon for real, so "compatible" means exactly "the daemon will start".
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Candidate {
  /** How the user knows it: "crawlOrchestrator.nodePath", "node on PATH", "the editor's runtime". */
  source: string;
  path: string;
}

export interface Probe {
  candidate: Candidate;
  /** Node's version when it answered, e.g. "v20.18.1". */
  version?: string;
  /** Why it cannot run the daemon; undefined when it can. */
  problem?: string;
}

export type RuntimeChoice = { ok: true; runtime: Probe } | { ok: false; tried: Probe[] };

export function candidates(
  nodePath: string,
  env: NodeJS.ProcessEnv,
  host: { execPath: string; versions: NodeJS.ProcessVersions; platform: NodeJS.Platform },
): Candidate[] {
  if (nodePath) return [{ source: 'crawlOrchestrator.nodePath', path: nodePath }];
  const list: Candidate[] = [];
  const onPath = findOnPath('node', env, host.platform);
  if (onPath) list.push({ source: 'node on PATH', path: onPath });
  if (host.versions.electron === undefined && host.execPath !== onPath) {
    list.push({ source: "the editor's own runtime", path: host.execPath });
  }
  return list;
}

export function findOnPath(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  const names = platform === 'win32' ? [`${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of dirs) {
    for (const n of names) {
      const full = path.join(dir, n);
      try {
        fs.accessSync(full, fs.constants.X_OK);
        if (fs.statSync(full).isFile()) return fs.realpathSync(full);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * Runs `candidate` on a script that prints its version and opens an in-memory database with the
 * addon the daemon will load; the first one that manages is chosen.
 */
export async function chooseRuntime(list: Candidate[], addonDir: string, minVersion: string): Promise<RuntimeChoice> {
  const tried: Probe[] = [];
  for (const candidate of list) {
    const probe = await probeRuntime(candidate, addonDir, minVersion);
    if (!probe.problem) return { ok: true, runtime: probe };
    tried.push(probe);
  }
  return { ok: false, tried };
}

const PROBE_SCRIPT = `
process.stdout.write(JSON.stringify({ version: process.version, electron: process.versions.electron ?? null }) + "\\n");
const Database = require(process.argv[1]);
new Database(":memory:").close();
`;

export function probeRuntime(candidate: Candidate, addonDir: string, minVersion: string): Promise<Probe> {
  return new Promise((resolve) => {
    // Electron's binary would otherwise start a GUI instead of running the script.
    const env = { ...process.env, ELECTRON_RUN_AS_NODE: undefined };
    execFile(candidate.path, ['-e', PROBE_SCRIPT, addonDir], { timeout: 15_000, env, windowsHide: true }, (err, stdout, stderr) => {
      const first = stdout.split('\n', 1)[0] ?? '';
      let info: { version?: string; electron?: string | null } = {};
      try {
        info = JSON.parse(first) as typeof info;
      } catch {
        // not Node, or it died before printing
      }
      const version = info.version;
      const fail = (problem: string) => resolve({ candidate, version, problem });
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return fail(`${candidate.path} does not exist`);
      if (err && (err as NodeJS.ErrnoException).code === 'EACCES') return fail(`${candidate.path} is not executable`);
      if (version === undefined) return fail(`${candidate.path} did not run as Node.js${detail(stderr || err?.message)}`);
      if (info.electron) return fail(`${candidate.path} is Electron ${info.electron}, not plain Node.js`);
      if (compareVersions(version, minVersion) < 0) return fail(`Node.js ${version} is older than the ${minVersion} the daemon needs`);
      if (err) return fail(`Node.js ${version} cannot load the bundled better-sqlite3${detail(addonError(stderr) || err.message)}`);
      resolve({ candidate, version });
    });
  });
}

/** The addon's own one-line verdict (an ABI mismatch names both module versions). */
function addonError(stderr: string): string {
  const line = stderr.split('\n').find((l) => /Error:|NODE_MODULE_VERSION/.test(l));
  return line?.trim() ?? '';
}

function detail(text: string | undefined): string {
  const t = text?.trim().split('\n')[0];
  return t ? `: ${t.length > 300 ? `${t.slice(0, 297)}...` : t}` : '';
}

/** Compares "v20.18.1" with "20.18.1" numerically, part by part. */
export function compareVersions(a: string, b: string): number {
  const pa = a
    .replace(/^v/, '')
    .split('.')
    .map((n) => parseInt(n, 10) || 0);
  const pb = b
    .replace(/^v/, '')
    .split('.')
    .map((n) => parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The lowest version in an `engines.node` range such as ">=20.18.1". */
export function minimumVersion(range: string | undefined): string {
  return /(\d+\.\d+\.\d+)/.exec(range ?? '')?.[1] ?? '20.0.0';
}

/** The notification's text when nothing can run the daemon: what was tried, and the fix. */
export function noRuntimeMessage(tried: Probe[], minVersion: string, built?: BuiltFor): string {
  const what =
    tried.length === 0
      ? "no `node` was found on PATH and the editor's own runtime is Electron, which cannot load the daemon's native SQLite module"
      : tried.map((p) => `${p.candidate.source}: ${p.problem}`).join('; ');
  // The native module loads in the Node it was built for: its major version, not "or later".
  const wanted = built ? `Node.js ${built.node.split('.')[0]}` : `Node.js ${minVersion.split('.')[0]} (or later)`;
  const fix =
    tried.length === 1 && tried[0].candidate.source === 'crawlOrchestrator.nodePath'
      ? `Point crawlOrchestrator.nodePath at a ${built ? wanted : `Node.js ${minVersion} (or later)`} executable, or clear it to use \`node\` on PATH.`
      : `Install ${wanted} on PATH, or set crawlOrchestrator.nodePath to its executable.`;
  const needs = built
    ? `Node.js ${minVersion} or a later ${built.node.split('.')[0]}.x (its SQLite module is built for Node ${built.node}, ABI ${built.abi}, on ${built.target})`
    : `Node.js ${minVersion} or later`;
  return `Crawl Orchestrator cannot start its daemon: it needs ${needs}, and ${what}. ${fix}`;
}

/** What the package's native module was built for: dist/target.json, written by scripts/package.mjs. */
export interface BuiltFor {
  /** VS Code's target: linux-x64, darwin-arm64, … */
  target: string;
  node: string;
  abi: string;
}

/**
 * Why this package cannot run on this machine at all, or null: it carries a native module built
 * for one platform (a .vsix installed by hand may be another's). `musl`: a Linux whose C library is
 * musl (Alpine), VS Code's `alpine-*` targets.
 */
export function wrongPlatform(built: BuiltFor, platform: NodeJS.Platform, arch: string, musl = false): string | null {
  const here = `${musl ? 'alpine' : platform}-${arch === 'arm' ? 'armhf' : arch}`;
  if (built.target === here) return null;
  return (
    `Crawl Orchestrator cannot start its daemon: this package is built for ${built.target}, and this machine is ${here}. ` +
    `Install the package for ${here}: build it on such a machine with \`npm ci && npm run package\`.`
  );
}
