/**
 * What the editor section borrows from the end-to-end suite, and the processes it watches.
 *
 * The suite's harness (test/e2e/harness.ts: code-server started on a workspace with the packaged
 * extension, driven in headless Chromium) and its workbench helpers (tree rows, code lenses, the
 * lines an editor renders) are loaded from their compiled files at run time, typed by their sources
 * (bench/ references test/ for its types, and does not compile it into itself).
 *
 * CPU time comes from /proc/<pid>/stat (utime + stime) of every process this one started, sorted
 * into the crawl daemon, the extension host (the daemon's parent), Chromium and the rest of
 * code-server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

// --- the end-to-end helpers ---------------------------------------------------------------------

/** The modules' own types (bench/ references test/ for them); their code is loaded from out/ below. */
export type Harness = typeof import('../test/e2e/harness');
export type Workbench = typeof import('../test/e2e/workbench');
export type Session = import('../test/e2e/harness').CodeServerSession;

/** out/test/e2e, beside out/bench. */
const E2E_OUT = path.join(__dirname, '..', 'test', 'e2e');

export function loadE2e(): { harness: Harness; workbench: Workbench } {
  const files = ['harness.js', 'workbench.js'].map((f) => path.join(E2E_OUT, f));
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) throw new Error(`${missing.join(', ')} missing: build the end-to-end helpers with \`npx tsc -b\``);
  return { harness: require(files[0]) as Harness, workbench: require(files[1]) as Workbench };
}

// --- processes ------------------------------------------------------------------------------------

export interface Proc {
  pid: number;
  ppid: number;
  state: string;
  /** utime + stime, in clock ticks (100 a second on Linux). */
  ticks: number;
  args: string;
}

const TICKS_PER_SECOND = 100;

export function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces: the fields start after its ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, ppid: Number(f[1]), state: f[0], ticks: Number(f[11]) + Number(f[12]), args };
  } catch {
    return undefined;
  }
}

function allProcs(): Proc[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProc(Number(e)))
    .filter((p): p is Proc => p !== undefined && p.state !== 'Z');
}

export type Role = 'daemon' | 'extensionHost' | 'browser' | 'codeServer';
export const ROLES: readonly Role[] = ['daemon', 'extensionHost', 'browser', 'codeServer'];
export const ROLE_NAMES: Record<Role, string> = {
  daemon: 'crawl daemon',
  extensionHost: 'extension host',
  browser: 'Chromium (all its processes)',
  codeServer: 'code-server (server, pty host, file watcher)',
};

/** Every live descendant of this process, each with its role; the daemon found by its state folder. */
export function processesByRole(stateDir: string): Map<number, { role: Role; proc: Proc }> {
  const procs = allProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const mine: Proc[] = [];
  const queue = [process.pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      mine.push(c);
      queue.push(c.pid);
    }
  }
  const daemon = mine.find((p) => /dist\/server\/daemon\.js /.test(p.args) && p.args.includes(`--state-dir ${stateDir}`));
  const out = new Map<number, { role: Role; proc: Proc }>();
  for (const p of mine) {
    const role: Role =
      p === daemon
        ? 'daemon'
        : p.pid === daemon?.ppid || /--type=extensionHost/.test(p.args)
          ? 'extensionHost'
          : /chrom(e|ium)/i.test(p.args.split(' ')[0] ?? '')
            ? 'browser'
            : 'codeServer';
    out.set(p.pid, { role, proc: p });
  }
  return out;
}

export function daemonPid(stateDir: string): number | undefined {
  for (const [pid, { role }] of processesByRole(stateDir)) if (role === 'daemon') return pid;
  return undefined;
}

/** CPU ticks of each process now, to subtract from a later sample. */
export type CpuSample = Map<number, { role: Role; detail: string; ticks: number }>;

/** What a process is within its role: Chromium's --type (renderer, gpu-process, utility...), a Node process's script. */
function detailOf(role: Role, p: Proc): string {
  if (role === 'browser')
    return `chromium ${/--type=(\S+)/.exec(p.args)?.[1] ?? 'browser'}${/--utility-sub-type=(\S+)/.exec(p.args)?.[1] ? ` (${/--utility-sub-type=(\S+)/.exec(p.args)![1]})` : ''}`;
  if (role === 'codeServer') {
    const script = p.args.split(' ').find((a, i) => i > 0 && !a.startsWith('-'));
    return `code-server ${script ? path.basename(script) : p.args.split(' ')[0]}`;
  }
  return role;
}

export function sampleCpu(stateDir: string): CpuSample {
  const out: CpuSample = new Map();
  for (const [pid, { role, proc }] of processesByRole(stateDir)) out.set(pid, { role, detail: detailOf(role, proc), ticks: proc.ticks });
  return out;
}

/**
 * CPU seconds each role spent between two samples. A process that started in between counts from
 * zero; one that ended in between is lost (its ticks went to its parent's cutime, not read here).
 */
export function cpuBetween(before: CpuSample, after: CpuSample): Record<Role, number> {
  const out: Record<Role, number> = { daemon: 0, extensionHost: 0, browser: 0, codeServer: 0 };
  for (const [pid, { role, ticks }] of after) out[role] += (ticks - (before.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND;
  return out;
}

/** The same by process kind (Chromium's renderer, GPU process...; code-server's scripts), for the record. */
export function cpuDetailBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, { detail, ticks }] of after) out[detail] = (out[detail] ?? 0) + (ticks - (before.get(pid)?.ticks ?? 0)) / TICKS_PER_SECOND;
  for (const k of Object.keys(out)) if (out[k] === 0) delete out[k];
  return out;
}
