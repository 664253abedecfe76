/**
 * Pages built to freeze a crawler, crawled by a real daemon process while another client polls it.
 * Before parsing was linear and robots.txt matching bounded, each of these held the daemon's one
 * thread for minutes: the socket went unanswered and heartbeats stopped, so leases expired and the
 * pages ended "lost its worker 3 times". No timings here: the lease TTL is 3 s, so a page whose
 * job was never reclaimed held the thread less than that, and every poll must be answered.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { QUICK, RawClient, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { page, startHost, type Route, type TestHost } from './helpers/testsite';
import { eventually } from './helpers/tmp';

const LONG = `/${'a'.repeat(8000)}`;
/** 120 rules that cost rule length × URL length each to match with a naive glob matcher (482 KB). */
const HOSTILE_ROBOTS = `User-agent: *\n${`Disallow: /*${'a'.repeat(4000)}b<i>\n`.repeat(120)}`;

function html(body: string | Buffer, headers: Record<string, string> = {}): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', ...headers });
    res.end(body);
  };
}

let daemon: DaemonProc;
const hosts: TestHost[] = [];
after(async () => {
  await daemon?.stop();
  await Promise.all(hosts.map((h) => h.close()));
});

before(async () => {
  daemon = await startDaemon({ args: QUICK });
});

test('hostile pages end with their own outcome, the daemon answering throughout', { timeout: 240_000 }, async () => {
  const a = await startHost('127.0.0.2', {
    '/robots.txt': html(''),
    '/': page(['/bold', '/anchors']),
    // 3 MB of unclosed tags, 2.9 KB on the wire: 371 s in htmlparser2's Parser.
    '/bold': html(gzipSync(`<html><body>${'<b>'.repeat(1_000_000)}`), { 'content-encoding': 'gzip' }),
    // 750,000 unclosed links to one page (9.7 MB): 4 min 21 s in a running daemon.
    '/anchors': html(`<html><body>${'<a href="/x">'.repeat(750_000)}`),
    '/x': page([]),
  });
  const b = await startHost('127.0.0.3', {
    '/robots.txt': (_req, res) => void res.end(HOSTILE_ROBOTS),
    '/': page([1, 2, 3, 4, 5].map((i) => `${LONG}${i}`)),
    ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`${LONG}${i}`, page([])])),
  });
  hosts.push(a, b);

  const client = await RawClient.connect(daemon.socket);
  const poller = await RawClient.connect(daemon.socket);
  after(() => [client, poller].forEach((c) => c.close()));
  const { crawlId } = await client.request('crawl/start', { seeds: [a.url('/'), b.url('/')], scope: 'host', maxDepth: 2 });

  // A frozen daemon fails this: RawClient gives up on an answer after 10 s.
  let polls = 0;
  const finished = await eventually(
    'the crawl finished',
    async () => {
      await poller.request('queue/stats');
      polls++;
      const { crawl } = await poller.request('crawl/get', { crawlId });
      return crawl.state === 'finished' ? crawl : null;
    },
    180_000,
  );
  assert.ok(polls >= 2, `${polls} polls answered`);

  const { jobs } = await client.request('jobs/list', { crawlId, limit: 100 });
  const byPath = new Map<string, any>(jobs.map((j: any) => [new URL(j.url).pathname, j]));
  const expected = ['/', '/bold', '/anchors', '/x', ...[1, 2, 3, 4, 5].map((i) => `${LONG}${i}`)];
  assert.equal(jobs.length, expected.length + 1, 'both roots and every linked page (/x once for its 750,000 links)');
  for (const path of expected) {
    const job = byPath.get(path);
    assert.equal(job?.state, 'done', `${path.slice(0, 20)}: ${job?.state} ${job?.lastError}`);
    const { events } = await client.request('jobs/get', { id: job.id });
    const lost = events.filter((e: any) => e.type === 'expired' || e.type === 'lost_lease');
    assert.deepEqual(lost, [], `${path.slice(0, 20)} never lost its worker`);
  }
  assert.equal(finished.counts.error, 0);
  assert.equal(b.hits.get('/robots.txt'), 1);
});
