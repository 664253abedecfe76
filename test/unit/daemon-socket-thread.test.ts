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
  let subscribedCalls = 0;
  const slow: (() => void)[] = [];
  let lateSubscribed = false;
  const socket = path.join(scratch(), 'd.sock');
  const thread = new SocketThread(
    socket,
    ['echo', 'fail', 'boom', 'bigint', 'nothing', 'subscribe', 'subscribeLate', 'slow', 'queue/stats'],
    async (method, params, call) => {
      calls.push(method);
      if (method === 'fail') throw new RpcError(-32001, 'no such thing', { why: 'asked' });
      if (method === 'boom') throw new Error('it broke');
      if (method === 'bigint') return { n: 1n };
      if (method === 'nothing') return undefined;
      if (method === 'subscribe') call.subscribe();
      if (method === 'subscribeLate') {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        call.subscribe();
        lateSubscribed = true;
      }
      if (method === 'slow') await new Promise<void>((resolve) => slow.push(resolve));
      return { method, params };
    },
    (level, m) => logged.push(`${level}: ${m}`),
    db,
    () => subscribedCalls++,
  );
  await thread.listen();
  try {
    let c = await RawClient.connect(socket);
    assert.deepEqual(await c.request('echo', { a: [1, 'x'] }), { method: 'echo', params: { a: [1, 'x'] } });
    assert.deepEqual((await c.call('fail', {})).error, { code: -32001, message: 'no such thing', data: { why: 'asked' } });
    // Anything else thrown is an internal error, worded.
    assert.deepEqual((await c.call('boom', {})).error, { code: -32603, message: 'internal error: it broke' });
    // Answers cross as JSON text: one JSON cannot write is an internal error, and the thread serves on.
    assert.deepEqual((await c.call('bigint', {})).error, { code: -32603, message: 'internal error: Do not know how to serialize a BigInt' });
    const nothing = await c.call('nothing', {});
    assert.ok('result' in nothing && nothing.result === null);
    // A batch's answers too, spliced in as written.
    c.send(
      `${JSON.stringify([
        { jsonrpc: '2.0', id: 'b1', method: 'echo', params: { s: 'é\n"' } },
        { jsonrpc: '2.0', id: 'b2', method: 'nothing' },
      ])}\n`,
    );
    assert.deepEqual(await c.next(), [
      { jsonrpc: '2.0', id: 'b1', result: { method: 'echo', params: { s: 'é\n"' } } },
      { jsonrpc: '2.0', id: 'b2', result: null },
    ]);

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
    // Known here as it is made, not once the thread's word comes back: the feed's batch owed to it is made.
    assert.equal(thread.subscribed(), true);
    await eventually("the thread's word on it", () => subscribedCalls > 0);
    thread.notify('jobs/changed', { changes: [] });
    await eventually('the notification', () => c.notifications.some((n) => n.method === 'jobs/changed'));
    c.close();
    await eventually('the subscriber gone to be known here', () => !thread.subscribed());

    // A subscription whose connection went before it was made: counted here as it is made, then let go.
    // The line after it is answered at once, into the closed peer: the connection goes at that write.
    const gone = await RawClient.connect(socket);
    gone.send(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribeLate' })}\nnot json\n`);
    gone.close();
    await eventually('the late subscription to be made', () => lateSubscribed);
    await eventually('no subscriber left, as the thread says', () => !thread.subscribed());

    // A thread that ends unasked, with a call still running here: logged, and the socket served again.
    const before = await RawClient.connect(socket);
    before.send(`${JSON.stringify({ jsonrpc: '2.0', id: 'old', method: 'slow' })}\n`);
    await eventually('the slow call to run', () => slow.length === 1);
    await (thread as unknown as { worker: Worker }).worker.terminate();
    await eventually('the socket served again', async () => {
      try {
        c = await RawClient.connect(socket);
        return (await c.request('echo', {})).method === 'echo';
      } catch {
        return false;
      }
    });
    // The new thread numbers its calls from 1 again: with ten waiting, one has the old call's number.
    for (let i = 0; i < 10; i++) c.send(`${JSON.stringify({ jsonrpc: '2.0', id: `new${i}`, method: 'slow' })}\n`);
    await eventually('the new slow calls to run', () => slow.length === 11);
    // The answer owed to the thread that ended goes to no one; the next answer here is the echo's.
    slow[0]();
    assert.deepEqual(await c.request('echo', { after: 'old' }), { method: 'echo', params: { after: 'old' } });
    slow.slice(1).forEach((answer) => answer());
    const answered = new Set<string>();
    for (let i = 0; i < 10; i++) answered.add((await c.next()).id);
    assert.equal(answered.size, 10);
    before.close();
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
