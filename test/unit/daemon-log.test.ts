/**
 * The daemon's log: one line per crawl event and per host held back and recovered, at the level
 * `--log-level` chooses; the flag's validation and the editor's setting that becomes it; a handler
 * that throws for every job logged once with a count. Real daemon processes and crawls against
 * real HTTP servers on loopback addresses; holds told by the crawl kind as it decides them.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { DEFAULTS, daemonArgs, readSettings } from '../../client/src/settings';
import { validateConfig } from '../../server/src/core/config';
import { Scheduler, type Logger, type LogLevel } from '../../server/src/core/scheduler';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT, createCrawlService, SqliteCrawlStore, type CrawlSettings } from '../../server/src/crawl/crawls';
import { FORGET_AFTER_MS, HoldLog } from '../../server/src/crawl/holds';
import { atLevel } from '../../server/src/daemon/process/log';
import { parseDaemonArgs } from '../../server/src/daemon/process/options';
import { STATE_FILES } from '../../server/src/protocol';
import { QUICK as QUICK_CRAWL } from './helpers/crawler';
import { MAIN_JS, QUICK, RawClient, runMain, scratch, startDaemon } from './helpers/daemon-proc';
import { jobs } from './helpers/jobs';
import { page, startHost, status, text, type Route } from './helpers/testsite';
import { eventually, tempDb, tempDir } from './helpers/tmp';

/** The lines of a log that match, each written as the daemon writes every line. */
function lines(log: string, level: string, message: RegExp): string[] {
  return log.split('\n').filter((l) => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z crawld ${level}: ${message.source}`).test(l));
}

/** Twice asked to come back in a second, then served: one hold going on, not two. */
function busyTwice(): Route {
  return (req, res, hit) => (hit <= 2 ? status(503, { 'retry-after': '1' }) : page([]))(req, res, hit);
}

/** Served as `first` on the first request, as `then` after. */
function once(first: Route, then: Route): Route {
  return (req, res, hit) => (hit === 1 ? first : then)(req, res, hit);
}

test("a crawl's start, pause, resume, cancel and finish, and a host held back and recovered: one line each at info", async () => {
  const web = await startHost('127.0.0.2', { '/': page(['/busy']), '/busy': busyTwice() });
  after(() => web.close());
  const d = await startDaemon();
  const c = await RawClient.connect(d.socket);

  const { crawlId } = await c.request('crawl/start', { seeds: [web.url('/')], name: 'logged' });
  await eventually('the crawl to finish', async () => (await c.request('crawl/get', { crawlId })).crawl.state === 'finished', 30_000);
  // Written before the page was acknowledged, so before the crawl finished; waited for as the pipe delivers it.
  await eventually('the recovery logged', () => / host 127\.0\.0\.2 recovered/.test(d.stderr()));
  const named = `"logged" \\(${crawlId}\\)`;
  assert.equal(lines(d.stderr(), 'info', new RegExp(`crawl ${named} started: 1 seed\\(s\\), 1 enqueued$`)).length, 1, d.stderr());
  assert.equal(
    lines(d.stderr(), 'info', new RegExp(`crawl ${named} finished: 2 page\\(s\\) fetched, 0 error\\(s\\), 0 skipped, in [\\d.]+ s$`)).length,
    1,
    d.stderr(),
  );

  // Held, fetched again at the hold's end, held again, then served: one hold, logged when it starts and when the host answers.
  const host = '127\\.0\\.0\\.2';
  assert.equal(lines(d.stderr(), 'info', new RegExp(`host ${host} held until \\S+ \\(retry-after\\): HTTP 503 with Retry-After 1s$`)).length, 1, d.stderr());
  assert.equal(
    lines(d.stderr(), 'info', new RegExp(`host ${host} recovered, held since \\S+, 2 holds in a row \\(last: retry-after: HTTP 503 with Retry-After 1s\\)$`))
      .length,
    1,
    d.stderr(),
  );
  assert.equal(lines(d.stderr(), 'info', /host /).length, 2, 'nothing else of the host, nothing per job');
  assert.doesNotMatch(d.stderr(), / crawld debug: /, 'the second hold is a debug line, not written at info');

  // Steered while nothing runs, so that it is still running to be cancelled.
  await c.request('scheduler/pause');
  const steered = await c.request('crawl/start', { seeds: [web.url('/'), web.url('/other')] });
  await c.request('crawl/pause', { crawlId: steered.crawlId });
  await c.request('crawl/resume', { crawlId: steered.crawlId });
  await c.request('crawl/cancel', { crawlId: steered.crawlId });
  const log = d.stderr();
  const id = steered.crawlId as string;
  assert.equal(lines(log, 'info', new RegExp(`crawl ${id} started: 2 seed\\(s\\), 2 enqueued$`)).length, 1, log);
  assert.equal(lines(log, 'info', new RegExp(`crawl ${id} paused$`)).length, 1, log);
  assert.equal(lines(log, 'info', new RegExp(`crawl ${id} resumed$`)).length, 1, log);
  assert.equal(lines(log, 'info', new RegExp(`crawl ${id} cancelled: 2 queued page\\(s\\) dropped$`)).length, 1, log);
  c.close();
  assert.equal((await d.stop()).code, 0);
});

test('--log-level debug writes the debug lines too: the host held again while held', async () => {
  const web = await startHost('127.0.0.4', { '/': page(['/busy']), '/busy': busyTwice() });
  after(() => web.close());
  const d = await startDaemon({ args: ['--log-level', 'debug'] });
  const c = await RawClient.connect(d.socket);
  const { crawlId } = await c.request('crawl/start', { seeds: [web.url('/')] });
  await eventually('the crawl to finish', async () => (await c.request('crawl/get', { crawlId })).crawl.state === 'finished', 30_000);
  await eventually('the recovery logged', () => / host 127\.0\.0\.4 recovered/.test(d.stderr()));
  c.close();
  assert.equal((await d.stop()).code, 0);
  const log = d.stderr();
  assert.equal(lines(log, 'debug', /host 127\.0\.0\.4 held again until \S+ \(retry-after, 2 holds in a row\): HTTP 503 with Retry-After 1s$/).length, 1, log);
  assert.equal(lines(log, 'info', /host 127\.0\.0\.4 held until /).length, 1, log);
  assert.equal(lines(log, 'info', /host 127\.0\.0\.4 recovered, /).length, 1, log);
});

test('--log-level warn leaves the info lines out and still writes warnings', async () => {
  // A page that never answers keeps a job running through the stop.
  const hanging = new Promise<void>(() => {});
  const web = await startHost('127.0.0.3', { '/': page(['/busy', '/hang']), '/busy': busyTwice(), '/hang': async () => hanging });
  after(() => web.close());
  const stateDir = scratch();
  const child = spawn(process.execPath, [MAIN_JS, '--state-dir', stateDir, ...QUICK, '--stop-deadline', '30', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  after(() => child.kill('SIGKILL'));
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    log += s;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const c = (await eventually('the daemon to serve', () => RawClient.connect(path.join(stateDir, STATE_FILES.socket)).catch(() => null)))!;

  const { crawlId } = await c.request('crawl/start', { seeds: [web.url('/')], name: 'quiet' });
  await eventually('the held page fetched', () => web.hits.get('/busy') === 3, 20_000);
  await eventually('the hanging page in flight', () => web.hits.get('/hang') === 1);
  await c.request('crawl/pause', { crawlId });
  c.close();
  // The second signal, during the stop's wait for the hanging page, is a warning.
  child.kill('SIGTERM');
  // Signals are not queued: the second must come after the first is acted on (the socket closed).
  await eventually('the stop under way', () =>
    RawClient.connect(path.join(stateDir, STATE_FILES.socket)).then(
      (s) => {
        s.close();
        return false;
      },
      () => true,
    ),
  );
  child.kill('SIGTERM');
  assert.equal(await exited, 130);
  assert.equal(lines(log, 'warn', /SIGTERM again: exiting without waiting for running jobs$/).length, 1, log);
  assert.doesNotMatch(log, / crawld info: /, log);
});

test('--log-level: one of error, warn, info, debug, refused otherwise naming the flag and the values', async () => {
  const dir = scratch();
  for (const [args, message] of [
    [['--log-level', 'verbose'], /--log-level: must be one of error, warn, info, debug \(got "verbose"\)/],
    [['--log-level', 'INFO'], /--log-level: must be one of error, warn, info, debug \(got "INFO"\)/],
    [['--log-level'], /--log-level: needs a value \(LEVEL\)/],
  ] as [string[], RegExp][]) {
    const r = await runMain(['--state-dir', dir, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created');
  assert.equal(parseDaemonArgs([]).options.logLevel, 'info');
  assert.equal(parseDaemonArgs(['--log-level=debug']).options.logLevel, 'debug');
  assert.match((await runMain(['--help'])).stdout, /--log-level LEVEL +what the log on stderr records: error, warn, info/);
});

test("the editor's crawlOrchestrator.logLevel becomes --log-level; a bad value is reported and not passed", () => {
  const from = (values: Record<string, unknown>) => (key: string) => values[key];
  const { settings, problems } = readSettings(from({ logLevel: 'warn' }));
  assert.deepEqual(problems, []);
  const args = daemonArgs(settings, '/w/.crawl', '/w');
  assert.deepEqual(args.slice(args.indexOf('--log-level'), args.indexOf('--log-level') + 2), ['--log-level', 'warn']);
  assert.equal(parseDaemonArgs(args).options.logLevel, 'warn', 'the daemon takes what the editor passes');
  assert.ok(!daemonArgs(DEFAULTS, '/w/.crawl', '/w').includes('--log-level'), "the default is the daemon's own");
  const bad = readSettings(from({ logLevel: 'loud' }));
  assert.deepEqual(bad.problems, ['crawlOrchestrator.logLevel must be one of error, warn, info, debug (got "loud"); using "info"']);
  assert.ok(!daemonArgs(bad.settings, '/w/.crawl', '/w').includes('--log-level'));
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  const setting = pkg.contributes.configuration.properties['crawlOrchestrator.logLevel'];
  assert.deepEqual([setting.enum, setting.default], [['error', 'warn', 'info', 'debug'], DEFAULTS.logLevel], 'the manifest offers the same values');
});

/** The crawl kind as the daemon runs it, in this process, its log kept. */
function crawlerLogged(settings: Partial<CrawlSettings>) {
  const dir = tempDir();
  const queue = new SqliteQueue(path.join(dir, 'queue.db'), { components: [CRAWL_COMPONENT], backoff: { baseMs: 50, maxMs: 200 } });
  const logged: string[] = [];
  const log: Logger = (level, message) => logged.push(`${level}: ${message}`);
  const crawls = createCrawlService(queue, new SqliteCrawlStore(queue.db), { ...QUICK_CRAWL, bodiesDir: path.join(dir, 'bodies'), ...settings }, log);
  const scheduler = new Scheduler(
    queue,
    { crawl: crawls.handler },
    validateConfig({ maxWorkers: 4, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 20 }),
    log,
  );
  scheduler.start();
  after(async () => {
    await scheduler.stop(1000);
    await crawls.close();
    await queue.close();
  });
  return {
    logged,
    async run(seed: string): Promise<void> {
      const { crawlId } = await crawls.start({ seeds: [seed] });
      await eventually('the crawl to finish', async () => (await crawls.get(crawlId)).state === 'finished', 30_000);
    },
  };
}

test('robots.txt unreadable, then read: its origin held (robots) and recovered, one line each', async () => {
  // The page is disallowed, so only robots.txt read tells the host answers again.
  const web = await startHost('127.0.0.5', { '/robots.txt': once(status(503), text('User-agent: *\nDisallow: /private\n')), '/private/a': page([]) });
  after(() => web.close());
  const c = crawlerLogged({});
  await c.run(web.url('/private/a'));
  assert.equal(web.hits.get('/robots.txt'), 2);
  assert.equal(web.hits.get('/private/a'), undefined);
  assert.deepEqual(
    c.logged.filter((l) => / (host|origin) /.test(l)).map((l) => l.replace(/\d{4}-[\d-]+T[\d:.]+Z/g, 'T')),
    [
      `info: origin ${web.origin} held until T (robots): robots.txt returned 503, try 1 of 5`,
      `info: origin ${web.origin} recovered, held since T (last: robots: robots.txt returned 503, try 1 of 5)`,
    ],
  );
});

test('failures in a row back a host off, and a page served ends it: held (backoff) and recovered', async () => {
  const web = await startHost('127.0.0.6', { '/': page(['/flaky']), '/flaky': once(status(500), page([])) });
  after(() => web.close());
  const c = crawlerLogged({ hostFailuresBeforeBackoff: 1 });
  await c.run(web.url('/'));
  assert.equal(web.hits.get('/flaky'), 2);
  assert.deepEqual(
    c.logged.filter((l) => l.includes('host ')).map((l) => l.replace(/\d{4}-[\d-]+T[\d:.]+Z/g, 'T')),
    [
      'info: host 127.0.0.6 held until T (backoff): 1 failures in a row (last: HTTP 500)',
      'info: host 127.0.0.6 recovered, held since T (last: backoff: 1 failures in a row (last: HTTP 500))',
    ],
  );
});

test('10,000 hosts asked to wait a second on every request: a line each when held and when recovered, none per request', () => {
  let now = Date.parse('2025-03-01T12:00:00Z');
  const logged: [string, string][] = [];
  const holds = new HoldLog(
    (level, message) => logged.push([level, message]),
    () => now,
  );
  const hosts = Array.from({ length: 10_000 }, (_, i) => `h${i}.example`);
  for (let second = 0; second < 5; second++) {
    for (const h of hosts) holds.onHold(h, now + 1000, 'retry-after', 'HTTP 503 with Retry-After 1s');
    now += 1000;
  }
  for (const h of hosts) holds.onRecovered(h);
  holds.onRecovered('h0.example');
  holds.onRecovered('never-held.example');
  const info = logged.filter(([level]) => level === 'info').map(([, m]) => m);
  assert.equal(info.length, 20_000);
  assert.equal(info[0], 'host h0.example held until 2025-03-01T12:00:01.000Z (retry-after): HTTP 503 with Retry-After 1s');
  assert.equal(
    info[10_000],
    'host h0.example recovered, held since 2025-03-01T12:00:00.000Z, 5 holds in a row (last: retry-after: HTTP 503 with Retry-After 1s)',
  );
  assert.equal(logged.filter(([level]) => level === 'debug').length, 40_000);
  assert.equal(logged[10_000][1], 'host h0.example held again until 2025-03-01T12:00:02.000Z (retry-after, 2 holds in a row): HTTP 503 with Retry-After 1s');
});

test('a host not heard from long after its hold ended is forgotten, without a line; one held since is kept', () => {
  let now = 1_000_000;
  const logged: string[] = [];
  const holds = new HoldLog(
    (_level, message) => logged.push(message),
    () => now,
  );
  holds.onHold('gone.example', now + 1000, 'backoff', '3 failures in a row (last: HTTP 500)');
  now += 1000 + FORGET_AFTER_MS;
  holds.onHold('busy.example', now + 1000, 'retry-after', 'HTTP 429 with Retry-After 1s');
  now += 1;
  holds.forgetStale();
  assert.equal(logged.length, 2);
  now += 1000;
  holds.onRecovered('gone.example');
  holds.onRecovered('busy.example');
  assert.equal(logged.length, 3, 'gone.example was forgotten; busy.example was not');
  assert.match(logged[2], /^host busy\.example recovered/);
});

test('an answer during a hold (a request sent before it) is no recovery: the next hold is the same one going on', () => {
  let now = Date.parse('2025-03-01T12:00:00Z');
  const logged: [string, string][] = [];
  const holds = new HoldLog(
    (level, message) => logged.push([level, message]),
    () => now,
  );
  holds.onHold('a.example', now + 1000, 'retry-after', 'HTTP 429 with Retry-After 1s');
  now += 50;
  holds.onRecovered('a.example');
  now += 1000;
  holds.onHold('a.example', now + 1000, 'retry-after', 'HTTP 429 with Retry-After 1s');
  now += 1000;
  holds.onRecovered('a.example');
  assert.deepEqual(
    logged.map(([level, m]) => `${level}: ${m.replace(/ \(.*/, '')}`),
    [
      'info: host a.example held until 2025-03-01T12:00:01.000Z',
      'debug: host a.example held again until 2025-03-01T12:00:02.050Z',
      'info: host a.example recovered, held since 2025-03-01T12:00:00.000Z, 2 holds in a row',
    ],
  );
});

test("an hour's hold held first does not keep the short holds after it from being forgotten", () => {
  let now = 1_000_000;
  const logged: string[] = [];
  const holds = new HoldLog(
    (_level, message) => logged.push(message),
    () => now,
  );
  holds.onHold('slow.example', now + 3_600_000, 'retry-after', 'HTTP 503 with Retry-After 3600s');
  const hosts = Array.from({ length: 1000 }, (_, i) => `h${i}.example`);
  for (const h of hosts) holds.onHold(h, now + 1000, 'retry-after', 'HTTP 429 with Retry-After 1s');
  now += 1000 + FORGET_AFTER_MS + 1;
  holds.forgetStale();
  for (const h of hosts) holds.onRecovered(h);
  assert.equal(logged.length, 1001, 'the short holds were forgotten');
  now += 3_600_000;
  holds.onRecovered('slow.example');
  assert.match(logged[1001], /^host slow\.example recovered/);
});

test('atLevel writes its level and those before it, and drops a level it does not know', () => {
  const written: string[] = [];
  const log = atLevel('info', (level, message) => written.push(`${level}: ${message}`));
  for (const level of ['error', 'warn', 'info', 'debug', 'verbose', 'constructor'] as LogLevel[]) log(level, 'x');
  assert.deepEqual(written, ['error: x', 'warn: x', 'info: x']);
});

test('a handler that throws for every job: its failure logged once, clipped, then a count, not a line per job', async () => {
  const queue = new SqliteQueue(tempDb());
  const logged: string[] = [];
  const why = `the store is gone: ${'x'.repeat(5000)}`;
  const scheduler = new Scheduler(
    queue,
    {
      test: async () => {
        throw new Error(why);
      },
    },
    validateConfig({ maxWorkers: 4, perHostLimit: 4, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 20 }),
    (level, message) => logged.push(`${level}: ${message}`),
  );
  after(async () => {
    await scheduler.stop();
    await queue.close();
  });
  await queue.enqueue(jobs(['a.example', 'b.example'], 25, { maxAttempts: 1 }));
  scheduler.start();
  await eventually('every job failed', async () => (await queue.stats()).error === 50);
  const failed = logged.filter((l) => l.includes('its handler failed'));
  assert.equal(failed.length, 1, logged.join('\n'));
  assert.match(failed[0], /^error: job \d+ \(test\): its handler failed: the store is gone: x+…$/);
  assert.equal(failed[0].split(': its handler failed: ')[1].length, 500, 'the message clipped');
  await scheduler.stop();
  const repeats = logged.filter((l) => l.includes('handlers failed'));
  assert.equal(repeats.length, 1, logged.join('\n'));
  assert.match(repeats[0], /^error: handlers failed 49 more time\(s\) since it was last logged: the store is gone: x{480}…$/);
});

test('a burst of handler failures that stops: its count logged a minute on, not left for a stop a kill may never reach', { timeout: 30_000 }, async (t) => {
  const queue = new SqliteQueue(tempDb());
  const logged: string[] = [];
  const scheduler = new Scheduler(
    queue,
    {
      test: async () => {
        throw new Error('the store is gone');
      },
    },
    validateConfig({ maxWorkers: 4, perHostLimit: 4, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 20 }),
    (level, message) => logged.push(`${level}: ${message}`),
  );
  after(async () => {
    await scheduler.stop();
    await queue.close();
  });
  // The scheduler's clock and its timers, not the queue's (which took its clock when made).
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: Date.now() });
  await queue.enqueue(jobs(['a.example'], 20, { maxAttempts: 1 }));
  scheduler.start();
  await eventually('every job failed', async () => (await queue.stats()).error === 20);
  const repeats = () => logged.filter((l) => l.includes('handlers failed'));
  assert.deepEqual(repeats(), []);
  t.mock.timers.tick(60_000);
  assert.deepEqual(repeats(), ['error: handlers failed 19 more time(s) since it was last logged: the store is gone'], logged.join('\n'));
  await scheduler.stop();
  assert.equal(repeats().length, 1, 'counted once');
  assert.equal(logged.filter((l) => l.includes('its handler failed')).length, 1, logged.join('\n'));
});
