/**
 * crawlctl's output through a pipe: a large answer reaches a reader that takes its time whole,
 * with the exit code of the command, and a reader that stops early (`| head`) ends it quietly.
 * The pipes are the shell's, between two real processes, as a user's `crawlctl … | jq` is.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { page, startHost, text } from './helpers/testsite';
import { CRAWLCTL_JS, RawClient, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { pipes, SLOWLY } from './helpers/pipes';

/** Far past a pipe's 64 KiB buffer in either format (about 700 KB of JSON, 270 KB of table). */
const JOBS = 3000;

let daemon: DaemonProc;
let dir: string;
let piped: ReturnType<typeof pipes>;

before(async () => {
  daemon = await startDaemon();
  dir = scratch('crawlctl-pipes-');
  piped = pipes(dir, () => daemon.stateDir);
  const c = await RawClient.connect(daemon.socket);
  try {
    // Paused, so the jobs stay as they are while they are listed.
    await c.request('scheduler/pause');
    const urls = Array.from({ length: JOBS }, (_, i) => `http://127.0.0.95:9/page-${i}`);
    assert.equal((await c.request('jobs/enqueue', { urls })).enqueued, JOBS);
  } finally {
    c.close();
  }
});

after(() => daemon.stop());

const slowly = SLOWLY;

describe('output through a pipe', () => {
  test('jobs --all --json: every byte reaches a slow reader, and the exit code is 0', async () => {
    const r = await piped(['jobs', '--all', '--json'], slowly);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.got.length > 256 * 1024, `${r.got.length} bytes: enough to fill the pipe several times`);
    const { jobs, nextCursor } = JSON.parse(r.got.toString('utf8'));
    assert.equal(jobs.length, JOBS);
    assert.equal(nextCursor, null);
    assert.ok(r.got.toString('utf8').endsWith('}\n'), 'the document ends with its newline');
  });

  test('jobs --all (the table): every line reaches a slow reader', async () => {
    const r = await piped(['jobs', '--all'], slowly);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.got.length > 128 * 1024, `${r.got.length} bytes`);
    const rows = r.got.toString('utf8').trimEnd().split('\n');
    assert.equal(rows.length, 1 + JOBS, 'the header and every job');
    assert.match(rows.at(-1)!, new RegExp(`^ *${JOBS}  queued .*/page-${JOBS - 1}\\s*$`));
  });

  test('a reader of stderr that stops early ends neither the command nor its result on stdout', async () => {
    const site = await startHost('127.0.0.96', { '/robots.txt': text(''), '/': page(['/a', '/b']), '/a': page([]), '/b': page([]) });
    // A daemon of its own: the other tests' daemon is paused.
    const own = await startDaemon();
    try {
      // The crawl's start line and progress go to stderr, after its reader took one byte and left.
      const out = path.join(dir, 'stderr-closed.txt');
      const script = `"$0" "$@" --state-dir "$STATE" 2> >(head -c 1 >/dev/null) >"$OUT"`;
      const child = spawn('bash', ['-c', script, process.execPath, CRAWLCTL_JS, 'crawl', site.url('/'), '--wait'], {
        stdio: 'ignore',
        env: { ...process.env, STATE: own.stateDir, OUT: out },
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const stdout = fs.readFileSync(out, 'utf8');
      assert.equal(code, 0, stdout);
      assert.match(stdout, /finished in .*: 3 pages fetched/);
    } finally {
      await own.stop();
      await site.close();
    }
  });

  test('a reader that stops early (| head) ends it quietly, exit 0', async () => {
    const r = await piped(['jobs', '--all', '--json'], 'head -c 100 >"$OUT"');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no EPIPE trace');
    assert.equal(r.got.length, 100);
  });
});
