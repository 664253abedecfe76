/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a temp folder, the server on
 * a Unix socket in that folder (no TCP port), durability off (nothing here outlives the process),
 * stopped and removed when the process ends. Not used by the product.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

export const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, pg_ctl) were not found: install them (Debian/Ubuntu: apt-get install postgresql), or put pg_config on PATH';

export interface Cluster {
  /** A URL to the server's `postgres` database, for creating the others. */
  adminUrl: string;
  urlFor(db: string): string;
  stop(): void;
}

function binDir(): string {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // No pg_config on PATH: look where Debian puts the server.
  }
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort((a, b) => Number(b) - Number(a))) candidates.push(path.join(debian, v, 'bin'));
  }
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
  if (!found) throw new Error(INSTALL_HINT);
  return found;
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a server binary, as the `postgres` user when we are root (the server refuses to run as root). */
function run(bin: string, args: string[]): void {
  const [cmd, argv] = asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

function userIds(name: string): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no "${name}" user to run PostgreSQL as (running as root): ${INSTALL_HINT}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Starts a cluster; it is stopped and its folder removed when the process exits or is signalled. */
export function startCluster(settings: Record<string, string | number> = {}): Cluster {
  const bin = binDir();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crawl-pg-'));
  const data = path.join(root, 'data');
  const socket = path.join(root, 'socket');
  fs.mkdirSync(socket);
  if (asRoot()) {
    const { uid, gid } = userIds('postgres');
    for (const p of [root, socket]) fs.chownSync(p, uid, gid);
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Not running (it failed to start): nothing to stop.
    }
    fs.rmSync(root, { recursive: true, force: true });
  };
  process.on('exit', stop);
  // Killed by a signal, the process skips 'exit': stop the cluster, then die of the signal.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }
  const options = { listen_addresses: "''", fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: 300, ...settings };
  try {
    run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    run(path.join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      path.join(root, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      [`-k ${socket}`, ...Object.entries(options).map(([k, v]) => `-c ${k}=${v}`)].join(' '),
      'start',
    ]);
  } catch (err) {
    const log = path.join(root, 'server.log');
    const detail = `${(err as { stderr?: Buffer }).stderr?.toString() ?? ''}${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`;
    stop();
    throw new Error(`could not start a throwaway PostgreSQL with ${bin}: ${(err as Error).message}\n${detail}`);
  }
  const urlFor = (db: string) => `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(socket)}`;
  return { adminUrl: urlFor('postgres'), urlFor, stop };
}

/** Creates an empty database (`name`: letters, digits and underscores only). */
export async function createDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}
