/**
 * The socket's thread on its own (daemon/transport/socket-thread.ts): requests reach the handler on
 * this thread, subscriptions come back before their answers, and a thread that ends unasked is
 * started again on the same path.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { SocketThread } from '../../server/src/daemon/transport/socket-thread';
import { RpcError } from '../../server/src/daemon/transport/rpc';
import { RawClient, scratch } from './helpers/daemon-proc';
import { job } from './helpers/jobs';
import { eventually, tempDb } from './helpers/tmp';

test("the socket's thread: calls, errors, subscriptions, counts from its own connection, and a thread that ends is started again", async () => {
  const db = tempDb();
  const queue = new SqliteQueue(db);
  const logged: string[] = [];
  const calls: string[] = [];
  const socket = path.join(scratch(), 'd.sock');
  const thread = new SocketThread(
    socket,
    ['echo', 'fail', 'subscribe', 'queue/stats'],
    async (method, params, call) => {
      calls.push(method);
      if (method === 'fail') throw new RpcError(-32001, 'no such thing', { why: 'asked' });
      if (method === 'subscribe') call.subscribe();
      return { method, params };
    },
    (level, m) => logged.push(`${level}: ${m}`),
    db,
  );
  await thread.listen();
  try {
    let c = await RawClient.connect(socket);
    assert.deepEqual(await c.request('echo', { a: [1, 'x'] }), { method: 'echo', params: { a: [1, 'x'] } });
    assert.deepEqual((await c.call('fail', {})).error, { code: -32001, message: 'no such thing', data: { why: 'asked' } });

    // Counts are read on the thread, from the database: the handler here never sees queue/stats.
    await queue.enqueue([job('a', 1), job('a', 2)]);
    const stats = await c.request('queue/stats');
    assert.deepEqual([stats.queued, stats.total, stats.jobsPerSecond], [2, 2, 0]);
    assert.ok(!calls.includes('queue/stats'));
    // Params it does not take go to the handler, which words the refusal.
    await c.request('queue/stats', { extra: 1 });
    assert.equal(calls.at(-1), 'queue/stats');

    assert.equal(thread.subscribed(), false);
    await c.request('subscribe');
    await eventually('the subscription to be known here', () => thread.subscribed());
    thread.notify('jobs/changed', { changes: [] });
    await eventually('the notification', () => c.notifications.some((n) => n.method === 'jobs/changed'));
    c.close();
    await eventually('the subscriber gone to be known here', () => !thread.subscribed());

    // A thread that ends unasked: logged, and the socket served again.
    await (thread as unknown as { worker: Worker }).worker.terminate();
    await eventually('the socket served again', async () => {
      try {
        c = await RawClient.connect(socket);
        return (await c.request('echo', {})).method === 'echo';
      } catch {
        return false;
      }
    });
    assert.ok(
      logged.some((l) => /^error: the socket's thread ended/.test(l)),
      logged.join('\n'),
    );
    c.close();
  } finally {
    await thread.closeConnections();
    await queue.close();
  }
});
