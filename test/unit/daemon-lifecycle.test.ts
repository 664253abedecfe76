/**
 * Daemons as processes: who owns the socket, stale sockets, long state folder paths, bad flags
 * and foreign files.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { STATE_FILES } from '../../server/src/protocol';
import { MAX_SOCKET_PATH_BYTES } from '../../server/src/daemon/process/paths';
import { RawClient, crawlctl, fileMode, runMain, scratch, startDaemon } from './helpers/daemon-proc';

function pick(options: { maxDepth: number | null; scope: string }): { maxDepth: number | null; scope: string } {
  return { maxDepth: options.maxDepth, scope: options.scope };
}

/** Inodes of TCP sockets in LISTEN state that the process holds (Linux /proc). */
function listeningTcp(pid: number): string[] {
  const held = new Set(
    fs
      .readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => !!x),
  );
  assert.ok(held.size > 0, 'the daemon holds sockets (its Unix socket at least)');
  const listening: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && held.has(cols[9])) listening.push(`${table} ${cols[1]}`);
    }
  }
  return listening;
}

describe('the socket', () => {
  test('a second daemon does not steal a live socket: it exits 1 naming the one that holds it', async () => {
    const first = await startDaemon();
    const c = await RawClient.connect(first.socket);
    const { workerId } = await c.request('scheduler/status');
    const second = await runMain(['--state-dir', first.stateDir]);
    assert.equal(second.code, 1);
    assert.ok(second.stderr.includes(workerId), second.stderr);
    assert.match(second.stderr, new RegExp(`pid ${first.child.pid}\\b`));
    assert.match(second.stderr, /another --socket/);
    assert.equal((await c.request('scheduler/status')).workerId, workerId, 'the first daemon still answers');
    assert.deepEqual(listeningTcp(first.child.pid!), [], 'a Unix socket only: no TCP port');
    c.close();
    assert.equal((await first.stop()).code, 0);
  });

  test('a socket left by a killed daemon is replaced', async () => {
    const first = await startDaemon();
    await first.stop('SIGKILL');
    assert.ok(fs.lstatSync(first.socket).isSocket(), 'the dead daemon left its socket file');
    // Fractions of a second are fine for the timing flags.
    const second = await startDaemon({ stateDir: first.stateDir, args: ['--heartbeat', '0.25', '--lease-ttl', '1.5'] });
    assert.match(second.stderr(), /replaced the stale socket/);
    const c = await RawClient.connect(second.socket);
    assert.ok((await c.request('queue/stats')).total >= 0);
    c.close();
    await second.stop();
  });

  test('a file that is not a socket is never replaced', async () => {
    const dir = scratch();
    const file = path.join(dir, 'precious.txt');
    fs.writeFileSync(file, 'keep me');
    const r = await runMain(['--state-dir', dir, '--socket', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a socket; refusing to replace it/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'keep me');
  });

  test('a state folder too deep for a socket path: the socket lives elsewhere and clients find it', async () => {
    const stateDir = path.join(scratch(), 'a'.repeat(60), 'b'.repeat(60), '.crawl');
    assert.ok(Buffer.byteLength(path.join(stateDir, STATE_FILES.socket)) > MAX_SOCKET_PATH_BYTES);
    const d = await startDaemon({ stateDir });
    assert.ok(!d.socket.startsWith(stateDir));
    assert.ok(Buffer.byteLength(d.socket) <= MAX_SOCKET_PATH_BYTES);
    const pointer = path.join(stateDir, STATE_FILES.socketPointer);
    assert.equal(fs.readFileSync(pointer, 'utf8').trim(), d.socket);
    assert.equal(fileMode(d.socket), 0o600);
    assert.equal(fileMode(path.dirname(d.socket)), 0o700);
    const r = await crawlctl(['stats', '--json', '--state-dir', stateDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).total, 0);
    assert.equal((await d.stop()).code, 0);
    assert.ok(!fs.existsSync(pointer), 'the pointer goes with the daemon');
    assert.ok(!fs.existsSync(d.socket));
  });
});

/** A folder under `dir` whose path is 8 bytes short of the socket limit: room for a short name, none for the bind folder. */
function roomless(dir: string): string {
  return path.join(dir, 'f'.repeat(MAX_SOCKET_PATH_BYTES - 8 - Buffer.byteLength(dir) - 1));
}

describe('flags and files', () => {
  test('a bad flag or value exits 2 at once, naming it', async () => {
    const dir = scratch();
    const cases: [string[], RegExp][] = [
      [['--max-workers', '0'], /--max-workers: must be a whole number from 1 to 10000 \(got 0\)/],
      [['--per-host', 'two'], /--per-host: must be a whole number/],
      [['--lease-ttl', '-1'], /--lease-ttl: must be a number from 0.1 to 86400/],
      [['--heartbeat', '5', '--lease-ttl', '2'], /heartbeat/],
      [['--frobnicate'], /unknown flag --frobnicate/],
      [['--state-dir'], /--state-dir: needs a value/],
      [['extra'], /unexpected argument "extra"/],
    ];
    for (const [args, message] of cases) {
      const r = await runMain(['--state-dir', dir, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created');
  });

  test('a --socket that fits, in a folder that leaves no room to bind it first, is refused naming both limits', async () => {
    const dir = scratch();
    // `.cXXXXXX/s` beside it would not fit (socket.ts binds there, then links the socket into place).
    const r = await runMain(['--state-dir', dir, '--socket', path.join(roomless(dir), 'a.s')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--socket .* is too long: a Unix socket path may have at most \d+ bytes, and its folder's path at most \d+/);
  });

  test('--default-max-depth and --default-scope are what a seed file without those options gets', async () => {
    const daemon = await startDaemon({ args: ['--default-max-depth', '0', '--default-scope', 'any'] });
    const c = await RawClient.connect(daemon.socket);
    await c.request('scheduler/pause');
    const plain = await c.request('seeds/start', { uri: 'file:///w/plain.crawl', text: 'http://127.0.0.1:9/\n' });
    assert.deepEqual(pick((await c.request('crawl/get', { crawlId: plain.crawlId })).crawl.options), { maxDepth: 0, scope: 'any' });
    const own = await c.request('seeds/start', { uri: 'file:///w/own.crawl', text: 'max-depth: 2\nscope: host\nhttp://127.0.0.1:9/\n' });
    assert.deepEqual(
      pick((await c.request('crawl/get', { crawlId: own.crawlId })).crawl.options),
      { maxDepth: 2, scope: 'host' },
      "the file's own options win",
    );
    const none = await c.request('seeds/start', { uri: 'file:///w/none.crawl', text: 'max-depth: none\nhttp://127.0.0.1:9/\n' });
    assert.deepEqual(pick((await c.request('crawl/get', { crawlId: none.crawlId })).crawl.options), { maxDepth: null, scope: 'any' }, 'none: no limit');
    // A file that crawl/start would refuse (past 10,000 seeds) is refused the same way, nothing started.
    const many = Array.from({ length: 10_001 }, (_, i) => `http://127.0.0.1:9/${i}`).join('\n');
    const refused = await c.call('seeds/start', { uri: 'file:///w/many.crawl', text: many });
    assert.equal(refused.error?.code, -32602);
    assert.match(refused.error.message, /^seeds: /);
    assert.equal((await c.request('crawl/list')).crawls.length, 3);
    c.close();
    await daemon.stop();
  });

  test('--clientProcessId without the editor: the daemon stops once that process is gone', async () => {
    const parent = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const daemon = await startDaemon({ args: [`--clientProcessId=${parent.pid}`] });
    parent.kill('SIGKILL');
    const t0 = Date.now();
    const { code } = await daemon.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 8_000, `stopped ${Date.now() - t0} ms after`);
    assert.match(daemon.stderr(), new RegExp(`stopping \\(process ${parent.pid} \\(--clientProcessId\\) is gone\\)`));
  });

  test('a database of another program is refused with a clear message, and left untouched', async () => {
    const dir = scratch();
    const file = path.join(dir, 'theirs.db');
    const db = new Database(file);
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices (total) VALUES (12.5);');
    db.close();
    const before = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const r = await runMain(['--state-dir', dir, '--db', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another program; refusing to touch it/);
    assert.equal(createHash('sha256').update(fs.readFileSync(file)).digest('hex'), before);
  });

  test('a state folder that is a file, or a --db that is a folder, is named for what it is', async () => {
    const dir = scratch();
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'mine');
    const asFolder = await runMain(['--state-dir', file]);
    assert.equal(asFolder.code, 1);
    assert.match(asFolder.stderr, new RegExp(`the state folder ${file} is not a folder`));
    assert.equal(fs.readFileSync(file, 'utf8'), 'mine');
    const folder = path.join(dir, 'a-folder');
    fs.mkdirSync(folder);
    const asDb = await runMain(['--state-dir', path.join(dir, 'state'), '--db', folder]);
    assert.equal(asDb.code, 1);
    assert.match(asDb.stderr, new RegExp(`${folder} is a folder, not a database file`));
  });
});
