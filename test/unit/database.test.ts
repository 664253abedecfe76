import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, validateConfig } from '../../server/src/core/config';
import { DatabaseOpenError } from '../../server/src/core/errors';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { job } from './helpers/jobs';
import { tempDb, tempDir } from './helpers/tmp';

const digest = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function refuses(file: string, pattern: RegExp): void {
  const before = digest(file);
  assert.throws(
    () => new SqliteQueue(file),
    (e: Error) => e instanceof DatabaseOpenError && pattern.test(e.message),
  );
  assert.equal(digest(file), before, 'the file is untouched');
  assert.ok(!fs.existsSync(`${file}-wal`), 'no WAL file was made beside it');
}

describe('database files', () => {
  test('a corrupt file is refused with a clear message, untouched', () => {
    const file = tempDb();
    fs.writeFileSync(file, Buffer.concat([Buffer.from('not a database at all '), Buffer.alloc(8000, 7)]));
    refuses(file, /is not a SQLite database/);
  });

  test('a foreign SQLite database is refused, untouched', () => {
    const file = tempDb();
    const other = new Database(file);
    other.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')`);
    other.close();
    refuses(file, /database of another program/);
  });

  test('a newer schema version is refused, untouched', async () => {
    const file = tempDb();
    const q = new SqliteQueue(file);
    await q.enqueue([job('a', 1)]);
    q.db.prepare(`UPDATE schema_versions SET version = version + 1 WHERE component = 'queue'`).run();
    q.db.pragma('wal_checkpoint(TRUNCATE)');
    q.db.pragma('journal_mode = DELETE');
    await q.close();
    refuses(file, /newer than this build knows/);
  });

  test('a database we made opens again with its jobs', async () => {
    const file = tempDb();
    const q = new SqliteQueue(file);
    await q.enqueue([job('a', 1), job('a', 2)]);
    await q.close();
    const again = new SqliteQueue(file);
    assert.equal((await again.stats()).queued, 2);
    assert.equal(again.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(again.db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
    await again.close();
  });

  test('a read-only database is refused with a clear message', async (t) => {
    if (process.getuid?.() !== 0) return t.diagnostic('needs root to drop to another user');
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, 'queue.db');
    const q = new SqliteQueue(file);
    await q.enqueue([job('a', 1)]);
    await q.close();
    const engine = require.resolve('../../server/src/core/sqlite/engine');
    // Another user, for whom the root-owned file and folder are read-only.
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `
      const { SqliteQueue } = require(${JSON.stringify(engine)});
      try { new SqliteQueue(${JSON.stringify(file)}); console.log('opened'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`,
      ],
      { uid: 65534, gid: 65534, encoding: 'utf8' },
    );
    assert.match(r.stdout, /DatabaseOpenError: .* is read-only/);
    const after = new SqliteQueue(file);
    assert.equal((await after.stats()).queued, 1, 'nothing lost');
    await after.close();
  });

  test('a write while another program holds the lock fails clearly and writes nothing', async () => {
    const file = tempDb();
    const q = new SqliteQueue(file, { busyTimeoutMs: 50 });
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    await assert.rejects(q.enqueue([job('a', 1)]), /database is locked/);
    other.exec('ROLLBACK');
    other.close();
    assert.equal((await q.stats()).total, 0);
    await q.enqueue([job('a', 1)]);
    assert.equal((await q.stats()).total, 1);
    await q.close();
  });
});

describe('configuration', () => {
  test('defaults are valid', () => {
    assert.equal(validateConfig({}).heartbeatMs < validateConfig({}).leaseTtlMs, true);
  });

  test('a heartbeat not below the lease TTL is refused, saying so', () => {
    assert.throws(
      () => validateConfig({ leaseTtlMs: 5000, heartbeatMs: 5000 }),
      (e: Error) => e instanceof ConfigError && /heartbeat interval \(5s\) must be below the lease TTL \(5s\)/.test(e.message),
    );
  });

  test('every problem is named at once', () => {
    try {
      validateConfig({ maxWorkers: 0, perHostLimit: 1.5, leaseTtlMs: 'soon' as unknown as number, colour: 3 } as never);
      assert.fail('accepted a bad configuration');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 4);
      assert.match(e.message, /max workers must be from 1 to 10000 \(got 0\)/);
      assert.match(e.message, /per-host limit must be a whole number \(got 1.5\)/);
      assert.match(e.message, /lease TTL \(ms\) must be a number \(got "soon"\)/);
      assert.match(e.message, /unknown setting "colour"/);
    }
  });
});
