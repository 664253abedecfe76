/**
 * What the socket's clients can make the daemon do: a lock file it cannot remove (real daemon
 * processes, as another user when the tests run as root), the memory all clients' unread answers
 * hold together, and the connection limit (a SocketServer in this process with small limits,
 * over a real Unix socket). No timings: the tracked total, the log and the answers tell.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { DaemonClient } from '../../server/src/daemon/transport/client';
import { SocketServer } from '../../server/src/daemon/transport/socket';
import { MAIN_JS, QUICK, RawClient, scratch } from './helpers/daemon-proc';
import { eventually } from './helpers/tmp';

const ROOT = process.getuid?.() === 0;
/** As root, the daemon runs as nobody: root may remove any file, so only another user meets a lock it cannot remove. */
const DAEMON_UID = 65_534;

/** A folder for the socket that other users can write, as the attack review had it; and the state folder. */
function sharedFolder(): { dir: string; stateDir: string } {
  const dir = scratch('crawld-lock-');
  fs.chmodSync(dir, 0o1777);
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(stateDir);
  if (ROOT) fs.chownSync(stateDir, DAEMON_UID, DAEMON_UID);
  return { dir, stateDir };
}

/** The daemon, as nobody when we are root; resolves when it exits, with what it logged. */
function daemonFor(stateDir: string, socket: string) {
  const child = spawn(process.execPath, [MAIN_JS, '--state-dir', stateDir, '--socket', socket, ...QUICK], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(ROOT && { uid: DAEMON_UID, gid: DAEMON_UID }),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // Killed if a test fails first: before the fix this one never exited by itself.
  const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal });
    });
  });
  return { child, exited, stderr: () => stderr };
}

describe('the lock file beside the socket', () => {
  test('a stale lock the daemon cannot remove: it exits with a message naming the file, its owner and what to do', async () => {
    const { dir, stateDir } = sharedFolder();
    const socket = path.join(dir, 'd.sock');
    const lock = `${socket}.lock`;
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(lock, `${gone}\n`);
    // Not root: a folder nobody may write keeps the file where it is (and root would remove it anyway).
    if (!ROOT) fs.chmodSync(dir, 0o555);
    try {
      const d = daemonFor(stateDir, socket);
      const { code, signal } = await d.exited;
      assert.equal(signal, null, `it exited by itself, not killed:\n${d.stderr()}`);
      assert.equal(code, 1);
      const line = d
        .stderr()
        .split('\n')
        .find((l) => l.includes(' error: '));
      assert.ok(line, d.stderr());
      assert.ok(line.includes(`the lock file ${lock} was left by pid ${gone}, which is gone`), line);
      assert.ok(line.includes('cannot remove it'), line);
      assert.match(line, ROOT ? /it belongs to user root \(uid 0\)/ : /it belongs to (user \S+ \()?uid \d+/);
      assert.ok(line.includes(ROOT ? 'has the sticky bit' : 'cannot write'), line);
      assert.ok(line.includes('--socket in a folder of its own'), line);
      assert.ok(fs.existsSync(lock), 'the lock is left alone');
    } finally {
      fs.chmodSync(dir, 0o1777);
    }
  });

  test('a lock held by a live process: the daemon says it waits, SIGTERM during the wait stops it, the message is on one line', async () => {
    const { dir, stateDir } = sharedFolder();
    const socket = path.join(dir, 'd.sock');
    const lock = `${socket}.lock`;
    // This test process is alive; a lock written with a newline, as `echo` leaves it.
    fs.writeFileSync(lock, `${process.pid}\n`);
    const d = daemonFor(stateDir, socket);
    await eventually('the daemon to say it waits', () => d.stderr().includes('waiting up to 5 s'), 15_000);
    d.child.kill('SIGTERM');
    const { code, signal } = await d.exited;
    assert.equal(signal, null, 'it stopped by itself');
    assert.equal(code, 1);
    const line = d
      .stderr()
      .split('\n')
      .find((l) => l.includes(' error: '));
    assert.ok(line, d.stderr());
    assert.ok(line.includes(`${lock} is held by pid ${process.pid} (`), line);
    assert.match(line, ROOT ? /\(user root \(uid 0\)\), which is running/ : /\((user \S+ \()?uid \d+\)?\), which is running/);
    assert.ok(line.endsWith(`remove ${lock}`), line);
    assert.ok(fs.existsSync(lock), "the live holder's lock is left alone");
  });

  test("a lock naming our own pid is a dead process's (pids are reused): taken over at once", async () => {
    const socketPath = path.join(scratch(), 's.sock');
    fs.writeFileSync(`${socketPath}.lock`, `${process.pid}\n`);
    const logged: string[] = [];
    const server = new SocketServer(
      socketPath,
      [],
      async () => null,
      (level, m) => logged.push(`${level}: ${m}`),
    );
    await server.listen();
    server.stopAccepting();
    assert.deepEqual(logged, [], 'no wait for ourselves');
    assert.equal(fs.existsSync(`${socketPath}.lock`), false, 'released after listening');
  });
});

/** A SocketServer in this process with small limits; 'big' answers `kb` KB (128 unless told), 'small' next to nothing. */
async function serve(limits: ConstructorParameters<typeof SocketServer>[4]) {
  const socketPath = path.join(scratch(), 's.sock');
  const logged: string[] = [];
  const counts = { big: 0 };
  const handle = async (method: string, params: unknown) => {
    if (method !== 'big') return { ok: true };
    counts.big++;
    return 'x'.repeat(((params as { kb?: number }).kb ?? 128) * 1024);
  };
  const server = new SocketServer(socketPath, ['big', 'small'], handle, (level, m) => logged.push(`${level}: ${m}`), limits);
  await server.listen();
  servers.push(server);
  return { server, socketPath, logged, counts };
}

const servers: SocketServer[] = [];
after(async () => {
  for (const s of servers) {
    s.stopAccepting();
    await s.closeConnections();
  }
});

/** A client that sends `lines` and never reads: what it is sent stays in the daemon once the kernel's buffer is full. */
async function hog(socketPath: string, lines: string): Promise<net.Socket> {
  const s = net.createConnection(socketPath);
  s.on('error', () => {});
  s.pause();
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(lines);
  return s;
}

function request(method: string, params?: unknown): string {
  return `${JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined && { params }) })}\n`;
}

describe('memory held for all clients together', () => {
  test('past the pause mark a client that does not read is not read either, until it reads', async () => {
    const { server, socketPath, counts } = await serve({ pauseAtBytes: 1024 * 1024, dropAtBytes: 64 * 1024 * 1024 });
    // Padded so that each read from the socket holds about one request.
    const REQUESTS = 200;
    const h = await hog(socketPath, request('big', { pad: 'y'.repeat(60 * 1024) }).repeat(REQUESTS));
    const good = await RawClient.connect(socketPath);
    await eventually('the hog to pass the pause mark', () => server.held.bytes > 1024 * 1024);
    // Each of these waits for at most one of the hog's requests (turns.ts): fifty give whatever it had sent time to run.
    for (let i = 0; i < 50; i++) assert.deepEqual(await good.request('small'), { ok: true });
    // Without the pause all 200 ran: 25.6 MB, under the 32 MB a single client may hold.
    assert.ok(counts.big < 40, `the hog stopped being read: ${counts.big} of its ${REQUESTS} requests ran`);
    let answers = 0;
    let text = '';
    h.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      const lines = text.split('\n');
      text = lines.pop()!;
      answers += lines.length;
    });
    h.resume();
    await eventually('every answer once it reads', () => answers === REQUESTS, 30_000);
    assert.equal(counts.big, REQUESTS);
    h.destroy();
    good.close();
  });

  test('clients that never read: the largest are dropped and named in the log, the total never passes the cap, a reading client is answered', async () => {
    const HOGS = 20;
    const PAUSE_AT = 2 * 1024 * 1024;
    const DROP_AT = 4 * 1024 * 1024;
    const { server, socketPath, logged } = await serve({ pauseAtBytes: PAUSE_AT, dropAtBytes: DROP_AT });
    const hogs: net.Socket[] = [];
    // Answers of 512 KB: a hog is benched once it holds one, but each has one before that, 10 MB in all.
    for (let i = 0; i < HOGS; i++) hogs.push(await hog(socketPath, request('big', { kb: 512 }).repeat(40)));
    const good = await RawClient.connect(socketPath);
    for (let i = 0; i < 20; i++) assert.deepEqual(await good.request('small'), { ok: true });
    const drops = () => logged.filter((l) => l.startsWith('warn: dropped client #'));
    await eventually('half the hogs dropped', () => drops().length >= HOGS / 2, 30_000);
    assert.deepEqual(await good.request('small'), { ok: true }, 'the reading client is still served');
    for (const d of drops()) {
      assert.match(
        d,
        /^warn: dropped client #\d+ \(connected \d+ s, \d+ requests, the last big\): it held \d+(\.\d)? MB of unread answers and partial requests, the most of any client, and all clients together would have passed 4 MB$/,
      );
    }
    assert.equal(drops().filter((d) => d.includes(' 0 requests')).length, 0);
    for (const h of hogs) h.destroy();
    good.close();
    await eventually('every connection let go', () => server.held.bytes === 0);
    assert.ok(server.held.peakBytes <= DROP_AT, `the total held never passed the cap: peak ${server.held.peakBytes}`);
    assert.ok(server.held.peakBytes > PAUSE_AT, `the hogs did fill it (peak ${server.held.peakBytes})`);
  });

  test('partial request lines count too: clients that send most of a long line and stop are dropped past the cap', async () => {
    const DROP_AT = 2 * 1024 * 1024;
    const { server, socketPath, logged } = await serve({ pauseAtBytes: DROP_AT / 2, dropAtBytes: DROP_AT });
    const good = await RawClient.connect(socketPath);
    const CLIENTS = 8;
    const halfLine = `{"jsonrpc":"2.0","id":1,"method":"small","params":{"pad":"${'z'.repeat(900 * 1024)}`;
    const partial: net.Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) partial.push(await hog(socketPath, halfLine));
    await eventually('the largest partial lines dropped', () => logged.filter((l) => l.startsWith('warn: dropped client #')).length >= CLIENTS - 2);
    assert.ok(server.held.peakBytes <= DROP_AT, `peak ${server.held.peakBytes}`);
    assert.deepEqual(await good.request('small'), { ok: true });
    for (const p of partial) p.destroy();
    good.close();
  });
});

describe('the connection limit', () => {
  test('past it a client gets an error line, then the close; the log says so once, not per client', async () => {
    const MAX = 3;
    const { socketPath, logged } = await serve({ maxConnections: MAX });
    const open: RawClient[] = [];
    for (let i = 0; i < MAX; i++) open.push(await RawClient.connect(socketPath));
    for (const c of open) assert.deepEqual(await c.request('small'), { ok: true }, 'each of the first ones is served');
    for (let i = 0; i < 3; i++) {
      const extra = net.createConnection(socketPath);
      let text = '';
      extra.setEncoding('utf8').on('data', (d: string) => {
        text += d;
      });
      extra.on('error', () => {});
      await new Promise<void>((resolve) => extra.once('close', () => resolve()));
      const answer = JSON.parse(text.trim());
      assert.equal(answer.id, null);
      assert.equal(answer.error.code, -32002);
      assert.equal(answer.error.message, `too many connections: the daemon serves at most ${MAX} at once; close some of its clients and try again`);
    }
    assert.deepEqual(
      logged.filter((l) => l.includes('refused')),
      [`warn: refused a client: ${MAX} connections were open, the most allowed`],
      'one line for three refusals',
    );
    // crawlctl's client says why, rather than that the connection closed.
    const refused = await DaemonClient.connect(socketPath);
    await assert.rejects(refused.request('queue/stats', {}), /the daemon closed the connection: too many connections: the daemon serves at most 3 at once/);
    open.pop()!.close();
    const next = await eventually('a place to free up', async () => {
      const c = await RawClient.connect(socketPath);
      const r = await c.call('small').catch(() => null);
      if (r?.result) return c;
      c.close();
      return undefined;
    });
    assert.deepEqual(await next!.request('small'), { ok: true }, 'a place freed is taken');
    for (const c of [...open, next!]) c.close();
  });
});
