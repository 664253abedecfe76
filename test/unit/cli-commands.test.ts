/**
 * crawlctl as a subprocess: usage errors, the no-daemon case, and every inspection command against
 * a daemon started with `crawlctl daemon`. Exit codes: 0 ok, 1 refused, 2 usage, 3 no daemon.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { STATE_FILES } from '../../server/src/protocol';
import { VERSION } from '../../server/src/version';
import { CRAWLCTL_JS, QUICK, RawClient, crawlctl, scratch, spawnCrawlctl } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { eventually } from './helpers/tmp';

let web: TestWeb;
let stateDir: string;
let daemon: ReturnType<typeof spawnCrawlctl>;
const at = () => ['--state-dir', stateDir];

before(async () => {
  web = await startWeb('127.0.0.7', { '/': ['/a', '/missing'], '/a': [], '/b': [] });
  stateDir = scratch('crawlctl-');
  daemon = spawnCrawlctl(['daemon', ...at(), ...QUICK]);
  await eventually('the daemon to listen', () => fs.existsSync(path.join(stateDir, STATE_FILES.socket)));
});

after(() => {
  if (daemon.exitCode === null) daemon.kill('SIGKILL');
});

/** Polled over the socket directly: a crawlctl process per poll would be slow. */
async function drained(): Promise<void> {
  const c = await RawClient.connect(path.join(stateDir, STATE_FILES.socket));
  try {
    await eventually('the queue to drain', async () => {
      const s = await c.request('queue/stats');
      return s.queued === 0 && s.in_progress === 0;
    });
  } finally {
    c.close();
  }
}

describe('usage', () => {
  test('help, version, and exit 2 for anything malformed, naming it', async () => {
    const none = await crawlctl([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Usage: crawlctl <command>/);
    const help = await crawlctl(['help']);
    assert.equal(help.code, 0);
    for (const c of ['daemon', 'crawl', 'enqueue', 'stats', 'jobs', 'job', 'requeue', 'reasons', 'leases', 'workers', 'hosts', 'pause', 'resume', 'stop']) {
      assert.match(help.stdout, new RegExp(`^  ${c}\\b`, 'm'), c);
    }
    assert.match(help.stdout, /Exit codes: 0 ok/);
    assert.match((await crawlctl(['jobs', '--help'])).stdout, /--state STATE/);
    assert.match((await crawlctl(['stats', '--help'])).stdout, /^Usage: crawlctl stats \[flags\]$/m);
    assert.equal((await crawlctl(['--version'])).stdout.trim(), VERSION);

    // Each kind of usage error once, as a process (the messages in full: cli-args.test).
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['jobs', '--limit', '0'], /--limit: must be a whole number from 1 to 1000 \(got 0\)/],
      [['stats', '--verbose'], /unknown flag --verbose/],
      [['requeue'], /give job ids, or --state/],
      [['jobs', '--reason', 'HTTP 404', '--state', 'done'], /^crawlctl jobs: --reason lists failed jobs: give --state error, or no --state \(got done\)/],
      [['requeue', '--reason', 'HTTP 404', '--state', 'skipped'], /--reason lists failed jobs/],
      [['reasons', '--limit', '1001'], /--limit: must be a whole number from 1 to 1000/],
      [['daemon', '--heartbeat', 'soon'], /--heartbeat: must be a number/],
      // A word meant as a flag's value is not ignored: it would list every job instead.
      [['jobs', 'error'], /^crawlctl jobs: takes no arguments \(got "error"\)/],
      [['help', 'frob'], /no command "frob"/],
    ];
    const empty = scratch();
    for (const [args, message] of cases) {
      const r = await crawlctl([...args, '--state-dir', empty]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.deepEqual(fs.readdirSync(empty), [], 'nothing was done');
  });

  test('no daemon running: exit 3 and how to start one', async () => {
    const empty = scratch();
    const r = await crawlctl(['stats', '--state-dir', empty]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no daemon is running \(nothing answers at .*crawld\.sock\)/);
    assert.match(r.stderr, new RegExp(`crawlctl daemon --state-dir ${empty}`));
    const json = await crawlctl(['jobs', '--json', '--state-dir', empty]);
    assert.equal(json.code, 3);
    assert.equal(JSON.parse(json.stdout).error.code, 'no-daemon');
    const crawl = await crawlctl(['crawl', 'http://127.0.0.7/', '--state-dir', empty]);
    assert.equal(crawl.code, 3);
    assert.match(crawl.stderr, /add --wait to run one for this crawl/);
    assert.deepEqual(fs.readdirSync(empty), [], 'a client creates nothing');
    // A state folder that is a file: nothing can answer there either.
    const file = path.join(empty, 'a-file');
    fs.writeFileSync(file, '');
    assert.equal((await crawlctl(['stats', '--state-dir', file])).code, 3);
  });
});

describe('with a daemon', () => {
  test('enqueue: the valid URLs go in; a rejected one makes the exit code 1', async () => {
    const r = await crawlctl(['enqueue', web.url('/'), web.url('/a'), 'nope', ...at()]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^Enqueued 2 jobs; 1 rejected\.$/m);
    assert.match(r.stderr, /rejected nope: not a URL/);
    const stdin = await crawlctl(['enqueue', '-', '--json', '--priority', '-5', ...at()], { input: `${web.url('/a')}\n# comment\n\n${web.url('/missing')}\n` });
    assert.equal(stdin.code, 0, stdin.stderr);
    const out = JSON.parse(stdin.stdout);
    assert.deepEqual([out.enqueued, out.duplicates, out.rejected], [1, 1, []]);
    await drained();
  });

  test('stats: a table for people, JSON for scripts', async () => {
    const t = await crawlctl(['stats', ...at()]);
    assert.equal(t.code, 0);
    assert.match(t.stdout, /^STATE\s+JOBS$/m);
    assert.match(t.stdout, /^done\s+2$/m);
    assert.match(t.stdout, /^error\s+1$/m);
    assert.match(t.stdout, /^total\s+3$/m);
    assert.match(t.stdout, /jobs\/s · this daemon: 0\/16 running \(worker /);
    const j = JSON.parse((await crawlctl(['stats', '--json', ...at()])).stdout);
    assert.deepEqual([j.done, j.error, j.total, typeof j.jobsPerSecond], [2, 1, 3, 'number']);
  });

  test('jobs and job', async () => {
    const failed = await crawlctl(['jobs', '--state', 'error', ...at()]);
    assert.equal(failed.code, 0);
    assert.match(failed.stdout, /^\s*ID\s+STATE\s+TRIES\s+HOST\s+URL\s+NOTE$/m);
    assert.match(failed.stdout, new RegExp(`error\\s+1/3\\s+127\\.0\\.0\\.7\\s+${web.url('/missing').replace(/\./g, '\\.')}\\s+HTTP 404`));
    const all = JSON.parse((await crawlctl(['jobs', '--json', ...at()])).stdout);
    assert.equal(all.jobs.length, 3);
    assert.equal(all.nextCursor, null);
    const paged = await crawlctl(['jobs', '--limit', '1', ...at()]);
    assert.match(paged.stderr, new RegExp(`More: crawlctl jobs --cursor ${all.jobs[0].id} --limit 1`));
    const everything = JSON.parse((await crawlctl(['jobs', '--limit', '1', '--all', '--json', ...at()])).stdout);
    assert.deepEqual(
      everything.jobs.map((x: { id: number }) => x.id),
      all.jobs.map((x: { id: number }) => x.id),
    );
    // --search: an HTTP status, else text of the URL (either case), and the next page's command keeps it.
    const status = JSON.parse((await crawlctl(['jobs', '--search', '404', '--json', ...at()])).stdout);
    assert.deepEqual(
      status.jobs.map((x: { url: string }) => x.url),
      [web.url('/missing')],
    );
    const searched = await crawlctl(['jobs', '--search', 'HTTP://127', '--limit', '1', ...at()]);
    assert.equal(searched.code, 0);
    assert.match(searched.stderr, new RegExp(`More: crawlctl jobs --cursor ${all.jobs[0].id} --search HTTP://127 --limit 1`));
    const none = await crawlctl(['jobs', '--search', 'nowhere', ...at()]);
    assert.match(none.stdout, /^No jobs match\.$/m);

    const one = await crawlctl(['job', String(all.jobs[0].id), ...at()]);
    assert.equal(one.code, 0);
    assert.match(one.stdout, new RegExp(`^url\\s+${web.url('/').replace(/\./g, '\\.')}$`, 'm'));
    assert.match(one.stdout, /^state\s+done$/m);
    assert.match(one.stdout, /^result\s+HTTP 200 · text\/html/m);
    assert.match(one.stdout, /^AT\s+EVENT\s+WORKER\s+DETAIL$/m);
    assert.match(one.stdout, /\bleased\s+\S+:\d+:\S+\s+attempt 1\/3/);
    // Times on this machine's clock, as the editor shows them (issue 16), not the wire's ISO UTC.
    assert.match(one.stdout, /^created\s+\d\d:\d\d:\d\d \(\d+(\.\d)? s ago\)$/m);
    assert.match(one.stdout, /^\d\d:\d\d:\d\d\.\d{3}\s+enqueued\b/m);
    assert.doesNotMatch(one.stdout, /\d{4}-\d\d-\d\dT\d\d:\d\d/);
    const missing = await crawlctl(['job', '987654', ...at()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /job 987654 does not exist/);
    const missingJson = await crawlctl(['job', '987654', '--json', ...at()]);
    assert.deepEqual(JSON.parse(missingJson.stdout), { error: { code: -32001, message: 'job 987654 does not exist' } });

    // Piped into a reader that stops early: a quiet stop, no stack trace about EPIPE.
    const piped = spawnSync('bash', ['-c', `"$0" "$1" job ${all.jobs[0].id} --state-dir "$2" | head -1`, process.execPath, CRAWLCTL_JS, stateDir], {
      encoding: 'utf8',
    });
    assert.match(piped.stdout, /^\S/);
    assert.equal(piped.stderr, '');
  });

  test('reasons: failed jobs by reason, a table or JSON, whole through a pipe; jobs and requeue by reason', async () => {
    const t = await crawlctl(['reasons', ...at()]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^FAILED\s+REASON\n\s*1\s+HTTP 404\n$/);
    assert.deepEqual(JSON.parse((await crawlctl(['reasons', '--json', ...at()])).stdout), { reasons: [{ reason: 'HTTP 404', count: 1 }] });
    const limited = await crawlctl(['reasons', '--limit', '1', ...at()]);
    assert.match(limited.stderr, /^The 1 most common reasons; there may be more\.$/m);
    const piped = spawnSync('bash', ['-c', `"$0" "$1" reasons --json --state-dir "$2" | cat`, process.execPath, CRAWLCTL_JS, stateDir], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(piped.stdout).reasons, [{ reason: 'HTTP 404', count: 1 }]);
    const unknown = await crawlctl(['reasons', '--crawl', 'c_nope', ...at()]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /crawlctl reasons: .*c_nope/);

    const listed = JSON.parse((await crawlctl(['jobs', '--reason', 'HTTP 404', '--json', ...at()])).stdout);
    assert.deepEqual(
      listed.jobs.map((j: { url: string }) => j.url),
      [web.url('/missing')],
    );
    assert.match((await crawlctl(['jobs', '--reason', 'ECONNREFUSED', ...at()])).stdout, /^No jobs match\.$/m);
    const paged = await crawlctl(['jobs', '--reason', 'HTTP 404', '--state', 'error', '--limit', '1', ...at()]);
    assert.equal(paged.code, 0);
    assert.doesNotMatch(paged.stderr, /More:/, 'one failed job: one page');

    const r = await crawlctl(['requeue', '--reason', 'HTTP 404', ...at()]);
    assert.deepEqual([r.code, r.stdout.trim()], [0, 'Requeued 1 job.']);
    await drained();
    assert.deepEqual(
      JSON.parse((await crawlctl(['reasons', '--json', ...at()])).stdout),
      { reasons: [{ reason: 'HTTP 404', count: 1 }] },
      'failed again, as before',
    );
  });

  test('requeue, pause, resume, leases, hosts', async () => {
    // Ids that do not go back (no such job, or one not in the state asked for): exit 1, saying so.
    const missing = await crawlctl(['requeue', '999999', ...at()]);
    assert.deepEqual([missing.code, missing.stdout.trim()], [1, 'Requeued 0 jobs of 1.']);
    assert.match(missing.stderr, /1 of the ids given were not requeued: no such job/);
    const r = await crawlctl(['requeue', '--state', 'error', ...at()]);
    assert.deepEqual([r.code, r.stdout.trim()], [0, 'Requeued 1 job.']);
    await drained();
    const paused = await crawlctl(['pause', ...at()]);
    assert.match(paused.stdout, /^Paused: no new jobs start on this daemon/);
    await crawlctl(['enqueue', web.url('/b'), ...at()]);
    const stats = await crawlctl(['stats', ...at()]);
    assert.match(stats.stdout, /running, paused \(worker/);
    assert.match(stats.stdout, /The scheduler is paused while 1 job is queued; resume it to continue\./);
    assert.equal(JSON.parse((await crawlctl(['leases', '--json', ...at()])).stdout).leases.length, 0);
    assert.equal((await crawlctl(['leases', ...at()])).stdout.trim(), 'No job is running.');
    assert.deepEqual(JSON.parse((await crawlctl(['resume', '--json', ...at()])).stdout), { paused: false });
    await drained();
    const hosts = await crawlctl(['hosts', ...at()]);
    assert.match(hosts.stdout, /^HOST\s+STATE\s+RUNNING\s+QUEUED\s+DONE\s+ERROR\s+UNTIL\s+REASON$/m);
    assert.match(hosts.stdout, /^127\.0\.0\.7\s+\w+\s+0\/2\s+0\s+3\s+1\b/m);
    // The worker registry: this daemon's worker, live, holding nothing now.
    const workers = await crawlctl(['workers', ...at()]);
    assert.match(workers.stdout, /^WORKER\s+STATE\s+LEASES\s+STARTED\s+LAST SEEN\s+STOPPED$/m);
    assert.match(workers.stdout, /^\S+:\d+:[0-9a-f]+(@[0-9a-f]{12})? \(this daemon\)\s+live\s+0\s+\S.* ago\s+\S.* ago\s*$/m);
    const listed = JSON.parse((await crawlctl(['workers', '--json', ...at()])).stdout);
    assert.deepEqual(
      listed.workers.filter((w: { self: boolean }) => w.self).map((w: { state: string; leases: number }) => [w.state, w.leases]),
      [['live', 0]],
    );
  });

  test('crawls lists them; stop waits for the daemon to exit 0', async () => {
    const started = await crawlctl(['crawl', web.url('/'), '--name', 'listed', '--max-depth', '0', ...at()]);
    assert.equal(started.code, 0, started.stderr);
    const id = /Started crawl (c_\w+)/.exec(started.stdout)?.[1];
    assert.ok(id, started.stdout);
    const listed = await crawlctl(['crawls', ...at()]);
    assert.match(listed.stdout, new RegExp(`^${id}\\s+(running|finished)\\s.*listed$`, 'm'));
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    const stop = await crawlctl(['stop', ...at()]);
    assert.deepEqual([stop.code, stop.stdout.trim()], [0, 'Daemon stopped.']);
    assert.equal(await exited, 0);
    assert.ok(!fs.existsSync(path.join(stateDir, STATE_FILES.socket)));
    assert.equal((await crawlctl(['stats', ...at()])).code, 3);
  });
});
