/**
 * Requests at the size the schema allows, over a real daemon's socket: the largest are served,
 * one past the line limit is answered to its own id, and jobs cancelled are not counted as fetched.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DaemonClient } from '../../server/src/daemon/transport/client';
import { ErrorCodes, MAX_ENQUEUE_URLS, MAX_LINE_BYTES } from '../../server/src/protocol';
import { RawClient, startDaemon, type DaemonProc } from './helpers/daemon-proc';

let daemon: DaemonProc;
let raw: RawClient;

before(async () => {
  daemon = await startDaemon();
  raw = await RawClient.connect(daemon.socket);
  // Nothing is fetched: every count below is the requests' own doing.
  await raw.request('scheduler/pause');
});

after(async () => {
  raw?.close();
  await daemon?.stop();
});

describe('request lines as large as the schema allows', () => {
  let ids: number[] = [];

  test('one jobs/enqueue of the most URLs allowed (3.7 MB) is answered to its id', async () => {
    const client = await DaemonClient.connect(daemon.socket);
    const urls = Array.from({ length: MAX_ENQUEUE_URLS }, (_, i) => `http://127.0.0.1:9/docs/chapter-${i}`);
    assert.ok(Buffer.byteLength(JSON.stringify(urls)) > 3 * 1024 * 1024, 'past the old 1 MiB line limit three times over');
    const r = await client.requestWithin('jobs/enqueue', { urls }, 120_000);
    client.close();
    assert.equal(r.enqueued, MAX_ENQUEUE_URLS);
    ids = r.ids;
  });

  test('a line past the limit is refused with the id it starts with, and the connection goes on', async () => {
    const k = await RawClient.connect(daemon.socket);
    const padding = 'x'.repeat(MAX_LINE_BYTES);
    k.send(`{"jsonrpc":"2.0","id":7,"method":"jobs/enqueue","params":{"urls":["${padding}"]}}\n`);
    const r = await k.next(60_000);
    assert.deepEqual([r.id, r.error.code], [7, ErrorCodes.InvalidRequest]);
    assert.match(r.error.message, new RegExp(`longer than ${MAX_LINE_BYTES} bytes`));
    k.send(`{"id":"s-1","jsonrpc":"2.0","method":"jobs/list","params":{"limit":1,"cursor":"${padding}"}}\n`);
    assert.equal((await k.next(60_000)).id, 's-1', 'the id first, before jsonrpc');
    k.send(`{"jsonrpc":"2.0","method":"queue/stats","id":8,"params":{"p":"${padding}"}}\n`);
    assert.equal((await k.next(60_000)).id, null, "an id past the line's start is not looked for");
    assert.ok((await k.call('queue/stats')).result, 'the next line is a fresh request');
    k.close();
  });

  test('jobs cancelled are not jobs fetched: the rate stays 0', async () => {
    assert.equal(ids.length, MAX_ENQUEUE_URLS);
    await raw.request('queue/stats');
    // The ids list is 1.7 MB: a line past the old limit too.
    assert.equal((await raw.request('jobs/cancel', { ids })).cancelled, MAX_ENQUEUE_URLS);
    // The rate is measured over at least a second; the daemon samples the counters meanwhile.
    await new Promise((r) => setTimeout(r, 2_500));
    const stats = await raw.request('queue/stats');
    assert.equal(stats.skipped, MAX_ENQUEUE_URLS);
    assert.equal(stats.jobsPerSecond, 0);
  });
});
