/**
 * `crawlctl crawl --wait`: progress until the crawl ends, then a summary (or JSON); with no daemon
 * running it runs one of its own, and Ctrl-C stops that one gracefully.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT } from '../../server/src/crawl/crawls';
import { STATE_FILES } from '../../server/src/protocol';
import { QUICK, crawlctl, scratch, spawnCrawlctl, startDaemon } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
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
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /started on a daemon of its own/);
    assert.match(r.stderr, /\[█+\] 100% 4\/4 {2}done 3 · skipped 0 · error 1 · queued 0 · running 0/, 'the last progress line');
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
    const r = await crawlctl(['crawl', web.url('/'), web.url('/b'), 'gopher://old.example/', '--wait', '--json', '--max-depth', '0', '--state-dir', d.stateDir]);
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
      const { jobs: [gate] } = await q.list({});
      const found = await q.get(gate.id);
      assert.equal(found?.job.attempts, 0);
      assert.ok(found?.events.some((e) => e.type === 'released'));
    } finally {
      await q.close();
    }
    web.open('/gate');
  });
});
