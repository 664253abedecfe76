/**
 * One client's flood against the others, on a real daemon process: requests from every
 * connection take turns (server/src/daemon/transport/turns.ts), so a heavy batch or a pile of heavy lines
 * from one client cannot hold up another's, and what a client that went away left waiting is
 * dropped. No timings: the other client's answers tell how far the flood had got.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RawClient, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { eventually } from './helpers/tmp';

/** Members of the flooding batch, each enqueueing URLS_PER_REQUEST new URLs. */
const REQUESTS = 200;
const URLS_PER_REQUEST = 100;

let daemon: DaemonProc;
let flooder: RawClient;
let other: RawClient;

before(async () => {
  daemon = await startDaemon();
  flooder = await RawClient.connect(daemon.socket);
  other = await RawClient.connect(daemon.socket);
  // Nothing is fetched: the test is about the requests alone.
  await other.request('scheduler/pause');
});

after(async () => {
  flooder?.close();
  other?.close();
  await daemon?.stop();
});

function enqueueRequest(id: number, tag: string) {
  const urls = Array.from({ length: URLS_PER_REQUEST }, (_, i) => `http://127.0.0.9:9/${tag}/${id}/${i}`);
  return { jsonrpc: '2.0', id, method: 'jobs/enqueue', params: { urls } };
}

async function total(): Promise<number> {
  return (await other.request('queue/stats')).total;
}

describe('a flooding client', () => {
  test('another client is answered while a heavy batch runs, not only before or after it', async () => {
    const before = await total();
    const full = before + REQUESTS * URLS_PER_REQUEST;
    const batch = Array.from({ length: REQUESTS }, (_, i) => enqueueRequest(i + 1, 'batch'));
    flooder.send(`${JSON.stringify(batch)}\n`);
    // Without turns the batch ran whole before anything else: every answer here was `before` or `full`.
    const seen: number[] = [];
    for (;;) {
      const n = await total();
      seen.push(n);
      if (n === full) break;
      assert.ok(n >= before && n < full, `queue/stats total ${n}`);
    }
    const answer = await flooder.next(60_000);
    assert.ok(Array.isArray(answer) && answer.length === REQUESTS, 'the batch answered whole');
    assert.ok(
      answer.every((r: any) => r.result?.enqueued === URLS_PER_REQUEST),
      'every member enqueued its URLs',
    );
    const between = seen.filter((n) => n > before && n < full);
    assert.ok(between.length > 0, `the other client was answered during the batch (totals seen: ${seen.join(', ')})`);
  });

  test('a client that sends heavy requests and goes away: what it left waiting is dropped, and the daemon goes on', async () => {
    const start = await total();
    const quitter = await RawClient.connect(daemon.socket);
    let lines = '';
    for (let i = 1; i <= REQUESTS; i++) lines += `${JSON.stringify(enqueueRequest(i, 'gone'))}\n`;
    quitter.send(lines);
    await eventually('the first of them to commit', async () => (await total()) > start);
    quitter.close();
    // Whatever ran has committed by the time the totals stop moving.
    let last = -1;
    const settled = (await eventually('the totals to settle', async () => {
      const n = await total();
      const same = n === last;
      last = n;
      return same ? { n } : undefined;
    }))!.n;
    assert.ok(settled - start < REQUESTS * URLS_PER_REQUEST, `fewer than all ${REQUESTS} requests ran (${(settled - start) / URLS_PER_REQUEST})`);
    assert.equal((await other.request('queue/stats')).total, settled, 'the daemon still answers');
  });

  test('a client that writes its requests and ends its side gets every answer, the last line without its newline too', async () => {
    const socket = net.createConnection(daemon.socket);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ask = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'queue/stats' });
    let lines = '';
    for (let id = 1; id < REQUESTS; id++) lines += `${ask(id)}\n`;
    socket.end(lines + ask(REQUESTS));
    await closed;
    const answers = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      answers.map((a) => a.id).sort((x, y) => x - y),
      Array.from({ length: REQUESTS }, (_, i) => i + 1),
    );
    assert.ok(answers.every((a) => typeof a.result?.total === 'number'));
  });
});
