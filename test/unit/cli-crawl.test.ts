/**
 * `crawlctl crawl --wait`: progress until the crawl ends, then a summary (or JSON); with no daemon
 * running it runs one of its own, and Ctrl-C stops that one gracefully.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT } from '../../server/src/crawl/crawls';
import { STATE_FILES } from '../../server/src/protocol';
import { QUICK, crawlctl, scratch, spawnCrawlctl, startDaemon } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { page, startHost, status } from './helpers/testsite';
import { eventually } from './helpers/tmp';

let web: TestWeb;

before(async () => {
  web = await startWeb('127.0.0.8', { '/': ['/a', '/b', '/missing'], '/a': ['/b'], '/b': [] }, ['/gate']);
});

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('crawl --wait', () => {
  test('with no daemon running it runs its own, shows progress and a summary, then stops it', async () => {
    const dir = scratch();
    const r = await crawlctl(['crawl', web.url('/'), '--wait', '--name', 'site', '--state-dir', dir, ...QUICK]);
    assert.equal(r.code, 1, 'a page ended in error (a broken link): exit 1, as a CI job needs');
    assert.match(r.stderr, /started on a daemon of its own/);
    assert.match(r.stderr, /^\[█{10}\] 4 finished of 4 found · 1 error · [\d.]+ m?s · [\d.]+ pages\/s$/m, 'the last progress line');
    assert.match(r.stderr, /^1 page ended in error: exit 1 \(--allow-failures exits 0 all the same\)\.$/m);
    assert.match(r.stdout, /^Crawl c_\w+ \(site\) finished in [\d.]+ m?s: 3 pages fetched/m);
    assert.match(r.stdout, /^ {2}done 3 · skipped 0 · error 1$/m);
    assert.match(r.stdout, /^Failed pages:$/m);
    assert.match(r.stdout, new RegExp(`^ {2}${esc(web.url('/missing'))}\\s+HTTP 404$`, 'm'));
    assert.ok(!fs.existsSync(path.join(dir, STATE_FILES.socket)), 'its daemon is gone');
    assert.equal((await crawlctl(['stats', '--state-dir', dir])).code, 3);
    assert.ok(fs.existsSync(path.join(dir, STATE_FILES.db)), 'the crawl stays in the database');
  });

  test('on a running daemon, with --json: one JSON document at the end', async () => {
    const d = await startDaemon();
    const r = await crawlctl([
      'crawl',
      web.url('/'),
      web.url('/b'),
      'gopher://old.example/',
      '--wait',
      '--json',
      '--max-depth',
      '0',
      '--state-dir',
      d.stateDir,
    ]);
    assert.equal(r.code, 1, 'a rejected seed: exit 1, though the crawl ran');
    const out = JSON.parse(r.stdout);
    assert.equal(out.crawl.state, 'finished');
    assert.equal(out.crawl.counts.done, 2);
    assert.deepEqual(out.rejected, [{ url: 'gopher://old.example/', reason: 'scheme gopher: is not http(s)' }]);
    assert.deepEqual(out.failed, []);
    assert.equal(out.crawl.dropped['past max depth'], 3);
    assert.equal((await d.stop()).code, 0);
  });

  test('Ctrl-C while it waits on its own daemon: exit 130, the running page handed back', async () => {
    const dir = scratch();
    const child = spawnCrawlctl(['crawl', web.url('/gate'), '--wait', '--state-dir', dir, ...QUICK]);
    await eventually('the gate page to be requested', () => web.waiting('/gate') === 1, 15_000);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 130, child.output().stderr);
    assert.match(child.output().stderr, /Interrupted: stopping; running pages go back to the queue/);
    const q = new SqliteQueue(path.join(dir, STATE_FILES.db), { components: [CRAWL_COMPONENT] });
    try {
      const s = await q.stats();
      assert.deepEqual([s.in_progress, s.queued], [0, 1]);
      const {
        jobs: [gate],
      } = await q.list({});
      const found = await q.get(gate.id);
      assert.equal(found?.job.attempts, 0);
      assert.ok(found?.events.some((e) => e.type === 'released'));
    } finally {
      await q.close();
    }
    web.open('/gate');
  });
});

describe('exit codes of crawl --wait', () => {
  test('0 when every page was done or skipped; 1 when one ended in error, unless --allow-failures', async () => {
    const d = await startDaemon();
    const clean = await crawlctl(['crawl', web.url('/a'), '--wait', '--state-dir', d.stateDir]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /^ {2}done 2 · skipped 0 · error 0$/m);
    const broken = await crawlctl(['crawl', web.url('/missing'), '--wait', '--state-dir', d.stateDir]);
    assert.equal(broken.code, 1, broken.stderr);
    const allowed = await crawlctl(['crawl', web.url('/missing'), '--wait', '--allow-failures', '--json', '--state-dir', d.stateDir]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(JSON.parse(allowed.stdout).crawl.counts.error, 1, 'the same failure, allowed');
    // Nothing fetched, every page skipped (here by the address policy): done or skipped exits 0, with a warning.
    const none = await crawlctl(['crawl', web.url('/b'), '--addresses', 'public', '--wait', '--state-dir', d.stateDir]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /warning: no page was fetched, every one was skipped/);
    assert.equal((await d.stop()).code, 0);
  });

  test('an origin whose robots.txt cannot be read: its reason under the progress line while the crawl waits', async () => {
    const d = await startDaemon();
    // robots.txt answers 503: it cannot be read, the origin's pages wait.
    const site = await startHost('127.0.0.97', { '/robots.txt': status(503), '/': page([]) });
    after(() => site.close());
    const child = spawnCrawlctl(['crawl', site.url('/'), '--wait', '--state-dir', d.stateDir]);
    // Which origin, what failed, how many reads of robots.txt so far, and when the next is, on this machine's clock.
    const reason = new RegExp(`^ {2}127\\.0\\.0\\.97 blocked until \\d\\d:\\d\\d:\\d\\d: ${esc(site.origin)}: robots\\.txt returned 503, try 1 of 5$`, 'm');
    await eventually("the host's reason", () => reason.test(child.output().stderr), 15_000);
    assert.match(child.output().stderr, /^\[░{10}\] 0 finished of 1 found so far/m);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.match(child.output().stderr, /The crawl goes on in the daemon: "crawlctl watch c_\w+" shows it again/);
    assert.equal((await d.stop()).code, 0);
  });
});

describe('crawl <file.crawl> and crawl -', () => {
  test('a seed file runs with its own options (seeds/start); option flags, a missing file or a bad one are refused', async () => {
    const d = await startDaemon();
    const dir = scratch();
    const file = path.join(dir, 'site.crawl');
    fs.writeFileSync(file, `# the test site\nname: from-file\nmax-depth: 0\n\n${web.url('/')}\n${web.url('/a')}\n`);
    const r = await crawlctl(['crawl', 'site.crawl', '--wait', '--json', '--state-dir', d.stateDir], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.crawl.name, 'from-file');
    assert.equal(out.crawl.options.maxDepth, 0);
    assert.deepEqual([out.crawl.counts.done, out.crawl.counts.error], [2, 0]);
    const remembered = JSON.parse(fs.readFileSync(path.join(d.stateDir, STATE_FILES.seedFiles), 'utf8'));
    assert.equal(remembered[pathToFileURL(file).href], out.crawlId, "the daemon knows the file started it, as the editor's would");

    const refused = await crawlctl(['crawl', file, '--max-depth', '2', '--name', 'x', '--state-dir', d.stateDir]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--max-depth, --name: a seed file sets its crawl's options in its own lines/);
    const mixed = await crawlctl(['crawl', file, web.url('/b'), '--state-dir', d.stateDir]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /a seed file goes alone/);
    const missing = await crawlctl(['crawl', path.join(dir, 'nope.crawl'), '--state-dir', d.stateDir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the seed file .*nope\.crawl: no such file/);
    fs.writeFileSync(path.join(dir, 'bad.crawl'), `max-pages: many\n${web.url('/')}\n`);
    const bad = await crawlctl(['crawl', 'bad.crawl', '--state-dir', d.stateDir], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 1: max-pages: must be a whole number/);

    const piped = await crawlctl(['crawl', '-', '--wait', '--json', '--state-dir', d.stateDir], { input: `name: piped\nmax-depth: 0\n${web.url('/b')}\n` });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(JSON.parse(piped.stdout).crawl.name, 'piped');
    const crawls = JSON.parse((await crawlctl(['crawls', '--json', '--state-dir', d.stateDir])).stdout).crawls;
    assert.deepEqual(crawls.map((c: { name: string }) => c.name).sort(), ['from-file', 'piped'], 'nothing refused was started');
    assert.equal((await d.stop()).code, 0);
  });
});
