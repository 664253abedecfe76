import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { BACKSTOP_PAGES, type Checkpointer } from '../../server/src/core/sqlite/checkpoint';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { AUTOCHECKPOINT_PAGES } from '../../server/src/core/sqlite/open';
import { jobs } from './helpers/jobs';
import { eventually, tempDb } from './helpers/tmp';

const autocheckpoint = (q: SqliteQueue) => q.db.pragma('wal_autocheckpoint', { simple: true }) as number;
/** The WAL's checkpoint sequence number (its header, bytes 12-15): it counts the WAL's restarts. */
const walRestarts = (file: string) => fs.readFileSync(`${file}-wal`).readUInt32BE(12);

test("the WAL is copied back and restarted on the checkpoint thread while writes go on, and the daemon's own checkpoint waits far behind", async () => {
  const file = tempDb();
  const q = new SqliteQueue(file);
  const cp = q.checkpointer!;
  assert.equal(autocheckpoint(q), AUTOCHECKPOINT_PAGES, 'before the thread runs, SQLite checkpoints as usual');
  const before = (await q.enqueue(jobs(['a'], 1))).ids.length;
  const restarts = walRestarts(file);
  let n = before;
  // Commits keep coming, as in a crawl, until the thread has checkpointed twice.
  await eventually('two checkpoints on the thread', async () => {
    n += (await q.enqueue(jobs([`h${n}`], 50))).enqueued;
    return cp.runs >= 2;
  });
  assert.equal(cp.last!.error, null);
  assert.equal(autocheckpoint(q), BACKSTOP_PAGES, 'raised to a backstop while the thread runs');
  await q.enqueue(jobs(['after'], 1));
  assert.ok(walRestarts(file) > restarts, 'the WAL was restarted, not left to grow');
  await q.close();
  const again = new SqliteQueue(file);
  assert.equal((await again.stats()).queued, n + 1, 'every job committed is there after the close');
  await again.close();
});

test("a checkpoint thread that ends gives the checkpoints back to the daemon's thread, and the queue goes on", async () => {
  const file = tempDb();
  const q = new SqliteQueue(file);
  const cp = q.checkpointer!;
  await eventually('a checkpoint on the thread', async () => {
    await q.enqueue(jobs([`h${Math.random()}`], 10));
    return cp.runs >= 1;
  });
  await (cp as unknown as { worker: Worker }).worker.terminate();
  await eventually('the automatic checkpoint is back', () => autocheckpoint(q) === AUTOCHECKPOINT_PAGES);
  const runs = cp.runs;
  await q.enqueue(jobs(['later'], 10));
  assert.equal((await q.stats()).queued > 10, true);
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  assert.equal(cp.runs, runs, 'no thread is started again');
  await q.close();
});

test('a queue closed at once never starts the thread', async () => {
  const q = new SqliteQueue(tempDb());
  await q.enqueue(jobs(['a'], 5));
  await q.close();
  assert.equal((q.checkpointer as Checkpointer).runs, 0);
  assert.equal((q.checkpointer as unknown as { worker: Worker | null }).worker, null);
});

test('a reader that keeps its snapshot (a SQLite shell left in a transaction) makes the restart give up, and holds no write back', async () => {
  const file = tempDb();
  const q = new SqliteQueue(file);
  const cp = q.checkpointer!;
  await q.enqueue(jobs(['a'], 1));
  const shell = new Database(file);
  shell.exec('BEGIN');
  shell.prepare('SELECT count(*) FROM jobs').get();
  let writes = 0;
  let busySeen = false;
  try {
    // Every write must go through while the restart cannot finish (with the restart waiting its
    // busy timeout of 1 s holding the write lock, they failed: "the queue database is locked").
    await eventually('a restart that gave up', async () => {
      // Four at a time, as a daemon's acknowledgements, heartbeat and clients write.
      await Promise.all([0, 1, 2, 3].map(() => q.enqueue(jobs([`h${writes++}`], 5))));
      busySeen ||= cp.last?.busy === true;
      return busySeen && cp.runs >= 2;
    });
  } finally {
    shell.exec('COMMIT');
    shell.close();
  }
  assert.equal((await q.stats()).queued, 1 + 5 * writes, 'no write was lost');
  await q.close();
});
