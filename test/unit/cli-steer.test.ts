/**
 * Steering a crawl from the command line: `crawl pause|resume|cancel <id>`, `watch <id>` (the
 * progress display of crawl --wait, brought back), and what `crawls` and `watch` say while the
 * daemon itself is paused.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crawlctl, spawnCrawlctl, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { eventually } from './helpers/tmp';

let web: TestWeb;
let daemon: DaemonProc;
const at = () => ['--state-dir', daemon.stateDir];

before(async () => {
  web = await startWeb('127.0.0.96', { '/': [] }, ['/gate']);
  daemon = await startDaemon();
});

after(() => daemon.stop());

async function start(url: string): Promise<string> {
  const r = await crawlctl(['crawl', url, '--json', ...at()]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).crawlId;
}

function exitOf(child: ReturnType<typeof spawnCrawlctl>): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('crawl pause, resume, cancel and watch', () => {
  test('watch follows a crawl paused and resumed to its end, with the summary and exit code of crawl --wait', async () => {
    const id = await start(web.url('/gate'));
    await eventually('the gate page to be requested', () => web.waiting('/gate') === 1);
    const watcher = spawnCrawlctl(['watch', id, ...at()]);
    const ended = exitOf(watcher);
    await eventually('the progress line', () => /0 finished of 1 found so far/.test(watcher.output().stderr));

    const paused = await crawlctl(['crawl', 'pause', id, ...at()]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout, `Paused crawl ${id}: running pages finish, no more start. "crawlctl crawl resume ${id}" to go on.\n`);
    await eventually('watch to show the pause', () => /found so far · paused/.test(watcher.output().stderr));
    const resumed = await crawlctl(['crawl', 'resume', id, '--json', ...at()]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).crawl.state, 'running');

    web.open('/gate');
    assert.equal(await ended, 0, watcher.output().stderr);
    assert.match(watcher.output().stderr, /^\[█{10}\] 1 finished of 1 found · /m);
    assert.match(watcher.output().stdout, new RegExp(`^Crawl ${id} finished in .*: 1 page fetched`, 'm'));
  });

  test('on a paused daemon: crawls and watch say so; crawl cancel ends the watch with exit 1', async () => {
    assert.equal((await crawlctl(['pause', ...at()])).code, 0);
    try {
      const id = await start(web.url('/'));
      const list = await crawlctl(['crawls', ...at()]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(`^${id} +daemon paused +0 `, 'm'), 'not "running"');
      assert.match(list.stdout, /^This daemon is paused: no page starts until "crawlctl resume"\.$/m);
      assert.equal(JSON.parse((await crawlctl(['crawls', '--json', ...at()])).stdout).daemonPaused, true);

      const watcher = spawnCrawlctl(['watch', id, ...at()]);
      const ended = exitOf(watcher);
      await eventually('the reason under the progress line', () =>
        /^ {2}this daemon is paused: no page starts until "crawlctl resume"$/m.test(watcher.output().stderr),
      );
      const cancelled = await crawlctl(['crawl', 'cancel', id, ...at()]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(cancelled.stdout, `Cancelled crawl ${id}: 1 queued page skipped.\n`);
      assert.equal(await ended, 1, 'a cancelled crawl');
      assert.match(watcher.output().stdout, new RegExp(`^Crawl ${id} cancelled in `, 'm'));
    } finally {
      assert.equal((await crawlctl(['resume', ...at()])).code, 0);
    }
  });

  test('refusals: usage errors exit 2, an unknown crawl exits 1', async () => {
    const cases: [string[], number, RegExp][] = [
      [['crawl', 'pause'], 2, /^crawlctl crawl: crawl pause needs one crawl id/],
      [['crawl', 'resume', 'c_1', 'c_2'], 2, /crawl resume needs one crawl id/],
      [['crawl', 'cancel', 'c_1', '--wait'], 2, /^crawlctl crawl: crawl cancel takes no --wait$/m],
      [['watch'], 2, /^crawlctl watch: give one crawl id/],
      [['crawl', 'pause', 'c_nope'], 1, /c_nope/],
      [['watch', 'c_nope'], 1, /c_nope/],
    ];
    for (const [args, code, message] of cases) {
      const r = await crawlctl([...args, ...at()]);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });
});
