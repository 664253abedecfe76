/**
 * A throwaway PostgreSQL for tests: one cluster per test process, started on first use (initdb
 * into a temp folder, a Unix socket in that folder, no TCP port), a fresh database per caller, and
 * the cluster stopped and removed when the process ends. CRAWL_TEST_PG_URL points the tests at an
 * existing server instead (its role must be allowed to create databases).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import pg from 'pg';

const INSTALL_HINT = 'PostgreSQL server binaries (initdb, pg_ctl) were not found: install them (Debian/Ubuntu: apt-get install postgresql), put pg_config on PATH, or set CRAWL_TEST_PG_URL to a server the tests may create databases on';

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

/** Runs a server binary, as the `postgres` user when we are root (the server refuses to run as root). */
function run(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Cluster {
  /** A URL to the server's `postgres` database, for creating the others. */
  adminUrl: string;
  urlFor(db: string): string;
}

let cluster: Cluster | null = null;

function startCluster(): Cluster {
  const external = process.env.CRAWL_TEST_PG_URL;
  if (external) {
    return {
      adminUrl: external,
      urlFor: (db) => {
        const u = new URL(external);
        u.pathname = `/${db}`;
        return u.toString();
      },
    };
  }
  const bin = binDir();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crawl-pg-'));
  const data = path.join(root, 'data');
  const socket = path.join(root, 'socket');
  fs.mkdirSync(socket);
  if (process.getuid?.() === 0) {
    const { uid, gid } = userIds('postgres');
    for (const p of [root, socket]) fs.chownSync(p, uid, gid);
  }
  const stop = () => {
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
  try {
    run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(root, 'server.log'), '-w', '-t', '60', '-o',
      `-k ${socket} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`, 'start']);
  } catch (err) {
    const log = path.join(root, 'server.log');
    const detail = `${(err as { stderr?: Buffer }).stderr?.toString() ?? ''}${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : ''}`;
    throw new Error(`could not start a test PostgreSQL with ${bin}: ${(err as Error).message}\n${detail}`);
  }
  const urlFor = (db: string) => `postgresql://postgres@localhost/${db}?host=${encodeURIComponent(socket)}`;
  return { adminUrl: urlFor('postgres'), urlFor };
}

function userIds(name: string): { uid: number; gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no "${name}" user to run the test PostgreSQL as: ${INSTALL_HINT}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

let counter = 0;

/** A URL to a new, empty database of its own, dropped when the test file ends (on a server not ours). */
export async function pgDatabase(): Promise<string> {
  cluster ??= startCluster();
  const name = `crawl_test_${process.pid}_${++counter}`;
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  if (process.env.CRAWL_TEST_PG_URL) {
    after(async () => {
      const c = new pg.Client({ connectionString: cluster!.adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
    });
  }
  return cluster.urlFor(name);
}

/** A plain client on a test database (for the tests' own reads), closed when the test file ends. */
export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: '-c search_path=crawl_orchestrator' });
  await c.connect();
  after(() => c.end());
  return c;
}
