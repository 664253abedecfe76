/**
 * The daemon as a child process, a raw line-oriented socket client that sees exactly what the
 * daemon writes, and crawlctl as a subprocess.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { STATE_FILES } from '../../../server/src/protocol';

const OUT = path.resolve(__dirname, '..', '..', '..');
export const MAIN_JS = path.join(OUT, 'server', 'src', 'daemon', 'process', 'main.js');
export const REPO = path.resolve(OUT, '..');
export const CRAWLCTL_JS = path.join(REPO, 'bin', 'crawlctl.js');

export interface DaemonProc {
  child: ChildProcess;
  stateDir: string;
  socket: string;
  stderr(): string;
  /** Resolves with the exit code (null if killed by a signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
const scratchDirs: string[] = [];
// Registered when this module loads, so at the top of the test file: these run once it ends
// (an after() inside a before() hook would run as soon as the hook is done).
after(() => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh folder, removed when the test file ends; safe to call from hooks. */
export function scratch(prefix = 'crawld-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** Fast heartbeats and a short stop deadline keep tests quick; every test may override them. */
export const QUICK = ['--lease-ttl', '3', '--heartbeat', '0.5', '--stop-deadline', '2'];

/**
 * Starts `main.js` and resolves once it says it has started (or rejects with its stderr).
 * `wrapper`: a command the daemon runs under, which must exec it (so that its pid is the daemon's).
 */
export async function startDaemon(
  opts: { stateDir?: string; args?: string[]; waitFor?: RegExp; env?: NodeJS.ProcessEnv; wrapper?: string[] } = {},
): Promise<DaemonProc> {
  const stateDir = opts.stateDir ?? scratch();
  const args = [MAIN_JS, '--state-dir', stateDir, ...QUICK, ...(opts.args ?? [])];
  const [command, ...rest] = [...(opts.wrapper ?? []), process.execPath, ...args];
  const child = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  live.add(child);
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const started = opts.waitFor ?? /started: /;
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (started.test(err)) {
        child.stderr.off('data', check);
        resolve();
      }
    };
    child.stderr.on('data', check);
    void exited.then(({ code }) => reject(new Error(`daemon exited (${code}) before starting:\n${err}`)));
  });
  const socket = /socket (\S+)/.exec(err)?.[1] ?? path.join(stateDir, STATE_FILES.socket);
  return {
    child,
    stateDir,
    socket,
    exited,
    stderr: () => err,
    stop: (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs `main.js` expecting it to exit by itself (refusals, bad flags). */
export function runMain(args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main.js ${args.join(' ')} did not exit:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A socket client that keeps every line the daemon sends, answers and notifications apart. */
export class RawClient {
  private buffered = '';
  private readonly messages: Record<string, unknown>[] = [];
  private readonly waiters: (() => void)[] = [];
  private nextId = 1;
  closed = false;
  readonly notifications: { method: string; params: any }[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (typeof msg.method === 'string') this.notifications.push({ method: msg.method, params: msg.params });
        else this.messages.push(msg);
        this.waiters.splice(0).forEach((w) => w());
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next answer (not a notification), in order of arrival. */
  async next(ms = 10_000): Promise<any> {
    const end = Date.now() + ms;
    while (this.messages.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > end) throw new Error('no answer in time');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.messages.shift();
  }

  /** Sends a request and returns the whole response object (result or error). */
  async call(method: string, params?: unknown): Promise<any> {
    const id = this.nextId++;
    this.send(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined && { params }) })}\n`);
    const r = await this.next();
    if (r.id !== id) throw new Error(`answer to ${r.id} while waiting for ${id}`);
    return r;
  }

  /** The result, or a thrown error carrying the JSON-RPC error. */
  async request(method: string, params: unknown = {}): Promise<any> {
    const r = await this.call(method, params);
    if (r.error) throw Object.assign(new Error(`${method}: ${r.error.message}`), { rpc: r.error });
    return r.result;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs crawlctl (through the package's bin) to completion. */
/** `stdout`: a descriptor to write it to instead (a file, /dev/full); `stdout` comes back empty then. */
export function crawlctl(
  args: string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; stdout?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CRAWLCTL_JS, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crawlctl ${args.join(' ')} did not finish:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Spawns crawlctl and hands back the child, for tests that signal it. */
export function spawnCrawlctl(args: string[], cwd?: string): ChildProcess & { output(): { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CRAWLCTL_JS, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.once('exit', () => live.delete(child));
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

export function fileMode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}
