import * as assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { WalFlusher } from '../../server/src/core/sqlite/wal-flush';
import { leavesNoFds, openFds } from './helpers/hostile';
import { jobs } from './helpers/jobs';
import { eventually, tempDb } from './helpers/tmp';

/** A real database in WAL mode with something in its WAL. */
function walDatabase(): { db: Database.Database; wal: string } {
  const file = tempDb('wal-flush-');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (x INTEGER)');
  db.prepare('INSERT INTO t (x) VALUES (1)').run();
  return { db, wal: `${file}-wal` };
}

describe('WAL flusher', () => {
  test('a burst of commits costs one flush now and one for the rest, not one each', async () => {
    const { db, wal } = walDatabase();
    const flusher = new WalFlusher(wal);
    for (let i = 0; i < 5; i++) flusher.committed();
    assert.equal(flusher.flushes, 1, 'the first commit starts a flush at once');
    // The four later commits are covered by one more flush once the first has ended.
    await eventually('the second flush', () => flusher.flushes === 2);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(flusher.flushes, 2, 'no flush without a commit');
    flusher.committed();
    await eventually('a flush for a new commit', () => flusher.flushes === 3);
    await flusher.close();
    db.close();
  });

  test('a database without a WAL file: no flush, no error, no descriptor', async () => {
    await leavesNoFds(async () => {
      const flusher = new WalFlusher('/nonexistent/queue.db-wal');
      flusher.committed();
      await flusher.close();
      assert.equal(flusher.flushes, 0);
    });
  });

  test('close waits for the flush in flight and closes the WAL descriptor; later commits are ignored', async () => {
    const { db, wal } = walDatabase();
    const before = openFds();
    const flusher = new WalFlusher(wal);
    flusher.committed();
    assert.ok(
      [...openFds().values()].some((target) => target === wal),
      'the WAL is open while flushing',
    );
    await flusher.close();
    flusher.committed();
    assert.equal(flusher.flushes, 1);
    assert.deepEqual(
      [...openFds()].filter(([fd, target]) => before.get(fd) !== target),
      [],
    );
    db.close();
  });

  test('the queue flushes after its commits and leaves nothing open when closed', async () => {
    await leavesNoFds(async () => {
      const file = tempDb('wal-flush-queue-');
      const q = new SqliteQueue(file);
      for (let i = 0; i < 3; i++) await q.enqueue(jobs(['a.test', 'b.test'], 10));
      assert.ok([...openFds().values()].includes(`${file}-wal`), 'a flush holds the WAL open');
      const leased = await q.lease('w', 5, { ttlMs: 60_000, defaultLimit: 5 });
      assert.equal(leased.length, 5);
      await q.close();
    });
  });
});
