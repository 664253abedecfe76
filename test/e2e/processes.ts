// code-server's processes for the end-to-end harness: started on a free port
// in a process group of their own, and killed with every descendant when a
// session stops or the test process ends without stopping it. Linux only
// (descendants are found in /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function codeServerEnv(extra?: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // VSCODE_* from a surrounding VS Code (its terminal) makes code-server act
    // as a CLI for that instance, and PORT would override --bind-addr.
    if (!key.startsWith('VSCODE_') && key !== 'PORT') env[key] = value;
  }
  // An empty gallery config turns the extension gallery off: no fetches to open-vsx.
  env.EXTENSIONS_GALLERY = '{}';
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface ServerProcess {
  port: number;
  kill(): Promise<void>;
}

export async function launchServer(
  bin: string,
  o: { userDataDir: string; extensionsDir: string; logPath: string; env?: Record<string, string | undefined>; timeout: number },
): Promise<ServerProcess> {
  const deadline = Date.now() + o.timeout;
  // The free port is only reserved until it is released here, so another
  // process can take it first: then code-server exits and a new port is tried.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = fs.openSync(o.logPath, 'a');
    const child = spawn(
      bin,
      [
        '--config',
        '/dev/null', // ignore ~/.config/code-server/config.yaml
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--auth',
        'none',
        '--user-data-dir',
        o.userDataDir,
        '--extensions-dir',
        o.extensionsDir,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--disable-proxy',
      ],
      // Its own process group, so stop() can signal code-server and every helper it forked.
      { env: codeServerEnv(o.env), stdio: ['ignore', log, log], detached: true },
    );
    fs.closeSync(log);
    const server = trackProcess(child, port);
    while (!server.exited() && !(await answers(port)) && Date.now() < deadline) await sleep(200);
    if (!server.exited() && Date.now() < deadline) return server;
    await server.kill();
    const inUse = /EADDRINUSE/.test(fs.readFileSync(o.logPath, 'utf8'));
    if (!(inUse && attempt < 3 && Date.now() < deadline)) {
      throw new Error(server.exited() ? 'code-server exited' : `code-server did not answer on port ${port}`);
    }
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
    return res.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// Process groups of servers not stopped yet, killed if the test process ends
// (or is interrupted) without stop(), since they run detached from it; and
// extension dirs that installExtension() made up, removed then too.
const liveServers = new Set<number>();
const madeExtensionDirs = new Set<string>();
let exitHooksInstalled = false;

/** A folder removed when the test process ends (installExtension's, when it made one up). */
export function removeOnExit(dir: string): void {
  installExitHooks();
  madeExtensionDirs.add(dir);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killServers = () => {
    for (const pid of liveServers) signalTree(pid, 'SIGKILL');
  };
  process.on('exit', () => {
    killServers();
    for (const dir of madeExtensionDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killServers();
      // A listener disables the signal's default exit (and playwright-core
      // adds its own), so exit as the signal would have, once the other
      // listeners have had their turn.
      setImmediate(() => process.exit(128 + os.constants.signals[sig]));
    });
  }
}

function trackProcess(child: ChildProcess, port: number): ServerProcess & { exited(): boolean } {
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exitedPromise.then(() => (exited = true));
  child.once('error', () => (exited = true)); // failed to spawn: no 'exit' follows
  const pid = child.pid;
  if (pid !== undefined) {
    installExitHooks();
    liveServers.add(pid);
  }
  let killed: Promise<void> | undefined;
  return {
    port,
    exited: () => exited,
    kill() {
      killed ??= (async () => {
        if (pid === undefined) return;
        const tree = signalTree(pid, 'SIGTERM');
        const gone = () => exited && tree.every((p) => !isAlive(p));
        const deadline = Date.now() + 5_000;
        while (!gone() && Date.now() < deadline) await sleep(100);
        if (!gone()) {
          signalTree(pid, 'SIGKILL');
          for (const p of tree) signal(p, 'SIGKILL');
          await Promise.race([exitedPromise, sleep(2_000)]);
        }
        // A process orphaned before the kill (its parent died: it is no descendant any more)
        // but still in the group, such as a language server whose extension host crashed, is
        // not waited for above: whatever of the group is left goes now.
        signal(-pid, 'SIGKILL');
        liveServers.delete(pid);
      })();
      return killed;
    },
  };
}

/**
 * Signals a process group and every descendant of its leader (some, like a
 * detached daemon, leave the group), and returns the descendants' pids.
 */
function signalTree(pid: number, sig: NodeJS.Signals): number[] {
  const descendants = descendantsOf(pid);
  signal(-pid, sig);
  for (const p of descendants) signal(p, sig);
  return descendants;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readStat(Number(entry))?.ppid;
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function readStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    // The command name in parentheses may hold spaces: fields start after its ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  const state = readStat(pid)?.state;
  return state !== undefined && state !== 'Z';
}
