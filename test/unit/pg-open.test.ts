import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { validateConfig } from '../../server/src/core/config';
import { PgJobChanges } from '../../server/src/core/pg/changes';
import { PgQueue } from '../../server/src/core/pg/engine';
import { SideConnection, clientConfig, describePgError } from '../../server/src/core/pg/open';
import { Scheduler } from '../../server/src/core/scheduler';
import { PG_MIGRATIONS } from '../../server/src/core/pg/schema';
import { DatabaseOpenError } from '../../server/src/core/errors';
import { job, jobs } from './helpers/jobs';
import { pgClient, pgDatabase } from './helpers/pg';
import { startPgRelay } from './helpers/pg-relay';
import { eventually, tempDir } from './helpers/tmp';

async function open(url: string, opts: Parameters<typeof PgQueue.open>[1] = {}): Promise<PgQueue> {
  const q = await PgQueue.open(url, opts);
  after(() => q.close());
  return q;
}

const refused = (pattern: RegExp) => (e: Error) => e instanceof DatabaseOpenError && pattern.test(e.message);

describe('opening a PostgreSQL queue', () => {
  test("a URL that is not PostgreSQL's, or malformed, is refused before connecting", async () => {
    await assert.rejects(PgQueue.open('mysql://db.example/crawls'), refused(/not a postgres:\/\/ or postgresql:\/\/ URL/));
    await assert.rejects(PgQueue.open('postgres://user:secret@[bad/crawls'), (e: Error) => refused(/malformed/)(e) && !/secret/.test(e.message));
  });

  test('no server, or no such database: a sentence that says so', async () => {
    const nowhere = tempDir('crawl-pg-none-');
    await assert.rejects(PgQueue.open(`postgresql://postgres@localhost/x?host=${encodeURIComponent(nowhere)}`), refused(/no server socket there/));
    const url = new URL(await pgDatabase());
    url.pathname = '/no_such_database';
    await assert.rejects(PgQueue.open(url.toString()), refused(/does not exist.*createdb/));
  });

  test("a password the server asks for and none found: where one goes, not the driver's words", () => {
    // As the pg driver throws it when no URL password, PGPASSWORD or ~/.pgpass line applies (seen against a server with password logins).
    const err = new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string');
    const said = describePgError(err, 'postgresql://crawler@db.internal/crawls');
    assert.match(said, /^PostgreSQL at postgresql:\/\/crawler@db.internal\/crawls asked for a password and none was given: .*~\/\.pgpass \(mode 0600\)/);
  });

  test('a newer schema version is refused, and nothing is written', async () => {
    const url = await pgDatabase();
    await (await PgQueue.open(url)).close();
    const db = await pgClient(url);
    await db.query(`UPDATE schema_versions SET version = 99 WHERE component = 'queue'`);
    await assert.rejects(PgQueue.open(url), refused(new RegExp(`queue schema version 99, newer than this build knows \\(${PG_MIGRATIONS.length}\\); upgrade`)));
    await assert.rejects(PgQueue.open(url, { components: [{ name: 'crawl', migrations: ['CREATE TABLE crawl_things (id int)'] }] }), /newer/);
    const { rows } = await db.query(`SELECT component, version FROM schema_versions ORDER BY component`);
    assert.deepEqual(rows, [{ component: 'queue', version: 99 }], 'no component was migrated');
  });

  test('a namespace of another program is refused untouched', async () => {
    const url = await pgDatabase();
    const db = await pgClient(url);
    await db.query(`CREATE SCHEMA crawl_orchestrator; CREATE TABLE crawl_orchestrator.theirs (id int)`);
    await assert.rejects(PgQueue.open(url), refused(/another program/));
    const { rows } = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'crawl_orchestrator'`);
    assert.deepEqual(rows, [{ table_name: 'theirs' }]);
  });

  test("components add their own versioned tables beside the queue's, migrated once each", async () => {
    const url = await pgDatabase();
    const v1 = ['CREATE TABLE crawl_things (id int PRIMARY KEY)'];
    await Promise.all([open(url, { components: [{ name: 'crawl', migrations: v1 }] }), open(url, { components: [{ name: 'crawl', migrations: v1 }] })]);
    const q = await open(url, { components: [{ name: 'crawl', migrations: [...v1, 'ALTER TABLE crawl_things ADD COLUMN name text'] }] });
    await q.pool.query(`INSERT INTO crawl_things (id, name) VALUES (1, 'x')`);
    const db = await pgClient(url);
    const { rows } = await db.query(`SELECT component, version FROM schema_versions ORDER BY component`);
    assert.deepEqual(rows, [
      { component: 'crawl', version: 2 },
      { component: 'queue', version: PG_MIGRATIONS.length },
    ]);
  });
});

describe('changes across processes (LISTEN/NOTIFY)', () => {
  test("another queue's commits reach this one's listeners, counter and change reader", async () => {
    const url = await pgDatabase();
    const here = await open(url);
    const there = await open(url);
    let woken = 0;
    here.onChange(() => woken++);
    const reader = here.changes({ pollMs: 60_000 });
    let signals = 0;
    reader.onSignal(() => signals++);
    const before = here.changeCounter();
    const { ids } = await there.enqueue([job('a', 1), job('b', 1)]);
    await eventually('the notification arrives', () => here.changeCounter() > before);
    assert.ok(signals >= 1);
    // The dispatchers' wake-up comes a moment later, with whatever else the others commit meanwhile.
    await eventually('the listeners are woken', () => woken >= 1);
    assert.deepEqual((await reader.take(100)).ids!.sort(), ids);

    const [leased] = await there.lease('w', 1, { ttlMs: 1000, defaultLimit: 2 });
    await eventually('the lease is named', async () => {
      const t = await reader.take(100);
      return t.ids?.includes(leased.id);
    });
    await there.ack('w', [{ id: leased.id, token: leased.leaseToken, outcome: { type: 'done' } }]);
    await eventually('the ack is named', async () => (await reader.take(100)).ids?.includes(leased.id));
    assert.deepEqual(
      (await here.jobStates([leased.id])).map((s) => s.state),
      ['done'],
    );
  });

  test('a commit changing more jobs than a payload holds says "refetch everything"', async () => {
    const url = await pgDatabase();
    const here = await open(url);
    const there = await open(url);
    const reader = here.changes({ pollMs: 60_000 });
    const before = here.changeCounter();
    await there.enqueue(jobs(['a', 'b', 'c', 'd'], 500));
    await eventually('the notification arrives', () => here.changeCounter() > before);
    assert.deepEqual(await reader.take(5000), { ids: null, missed: false });
    assert.deepEqual(await reader.take(5000), { ids: [], missed: false }, 'then nothing until the next change');
  });
});

describe('connections the server drops', () => {
  const capped = (n: number) => job('a.test', n, { crawlId: 'c' });
  /** Backends of this database other than the asking one, by what they are doing. */
  const backends = async (c: Awaited<ReturnType<typeof pgClient>>, where: string) =>
    (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND ${where}`)).rows;

  test('one dropped in the middle of a write fails that write, not the process; the next write works', async () => {
    const url = await pgDatabase();
    const q = await open(url);
    await q.enqueue([capped(1)], { crawlCap: 10 });
    // Another process holds the crawl's reservation row, so our write waits inside its transaction.
    const other = await pgClient(url);
    // Watched from outside any transaction: inside one, pg_stat_activity is a snapshot that never moves.
    const watcher = await pgClient(url);
    const {
      rows: [holder],
    } = await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await other.query('BEGIN');
    try {
      await other.query(`SELECT * FROM crawl_room WHERE crawl_id = 'c' FOR UPDATE`);
      // Its failure is expected from the moment it starts: it may come before the lines below end.
      const failed = assert.rejects(q.enqueue([capped(2)], { crawlCap: 10 }));
      const inTransaction = await eventually('our transaction waiting', () =>
        backends(watcher, `state = 'idle in transaction' AND pid <> ${Number(holder.pid)}`).then((r) => r[0]),
      );
      await watcher.query('SELECT pg_terminate_backend($1)', [inTransaction.pid]);
      await other.query('ROLLBACK');
      await failed;
    } finally {
      // Never left holding the row: the queue's close would wait for the write behind it.
      await other.query('ROLLBACK').catch(() => {});
    }
    assert.equal((await q.enqueue([capped(3)], { crawlCap: 10 })).enqueued, 1);
  });

  test("the reservations' own connection, dropped, is replaced at the next reservation", async () => {
    const url = await pgDatabase();
    const q = await open(url);
    await q.enqueue([capped(1)], { crawlCap: 1000 });
    const other = await pgClient(url);
    const [reserver] = await backends(other, `query LIKE '%crawl_room%'`);
    await other.query('SELECT pg_terminate_backend($1)', [reserver.pid]);
    await eventually('the connection gone', () => backends(other, `pid = ${Number(reserver.pid)}`).then((r) => r.length === 0));
    // At most the reservation in flight when it dropped fails; those after it reconnect.
    await q.enqueue([capped(2)], { crawlCap: 1000 }).catch(() => {});
    assert.equal((await q.enqueue([capped(3)], { crawlCap: 1000 })).enqueued, 1, 'capped enqueues work again');
  });
});

describe('statements that get no answer', () => {
  test('one stuck behind a lock past the statement timeout fails with the reason, and its write is undone', async () => {
    const url = await pgDatabase();
    const q = await open(url, { statementTimeoutMs: 300 });
    await q.enqueue([job('a', 1)]);
    const [leased] = await q.lease('w', 1, { ttlMs: 60_000, defaultLimit: 2 });
    const other = await pgClient(url);
    await other.query('BEGIN');
    try {
      await other.query(`SELECT * FROM jobs WHERE id = $1 FOR UPDATE`, [leased.id]);
      await assert.rejects(q.ack('w', [{ id: leased.id, token: leased.leaseToken, outcome: { type: 'done' }, job: leased }]), /statement timeout/);
    } finally {
      await other.query('ROLLBACK');
    }
    assert.equal((await q.stats()).in_progress, 1, 'the job is still leased');
    const [r] = await q.ack('w', [{ id: leased.id, token: leased.leaseToken, outcome: { type: 'done' }, job: leased }]);
    assert.equal(r.ok, true, 'and the ack goes through once the lock is gone');
  });

  test('one sent on a connection gone silent fails instead of waiting out TCP; the next runs on a new connection', async () => {
    const url = await pgDatabase();
    const relay = await startPgRelay(url);
    // One connection in the pool, so the next statement is sent on the one silenced.
    const q = await open(relay.url, { statementTimeoutMs: 300, poolSize: 1 });
    await q.enqueue([job('a', 1)]);
    const {
      rows: [{ pid }],
    } = await q.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    relay.silence(pid);
    await assert.rejects(q.stats(), /Query read timeout/);
    assert.equal((await q.stats()).queued, 1);
  });

  test("the crawl caps' own connection, gone silent, fails its statement and runs the next on a new connection", async () => {
    const relay = await startPgRelay(await pgDatabase());
    const side = new SideConnection(clientConfig(relay.url, 300));
    after(() => side.end());
    const backend = async () => (await side.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', [])).rows[0].pid;
    const pid = await backend();
    relay.silence(pid);
    await assert.rejects(side.query('SELECT 1', []), /Query read timeout/);
    assert.notEqual(await backend(), pid);
  });
});

describe('a listening connection that stops hearing', () => {
  /** A dispatcher on `q` with nothing to do, asleep: only a change it hears of can wake it in time. */
  function sleepingWorker(q: PgQueue): string[] {
    const ran: string[] = [];
    const scheduler = new Scheduler(
      q,
      {
        test: async (j) => {
          ran.push(j.url);
        },
      },
      validateConfig({ maxWorkers: 2, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 60_000 }),
    );
    scheduler.start();
    after(() => scheduler.stop());
    return ran;
  }
  /** The backend of the (only) queue listening on this database. */
  async function listenerPid(url: string): Promise<number> {
    const admin = await pgClient(url);
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND (query LIKE 'LISTEN%' OR query LIKE 'NOTIFY%')`,
    );
    assert.equal(rows.length, 1, 'one listening connection');
    return rows[0].pid;
  }

  test('its backend terminated: a job another daemon enqueues then is run without a long poll', async () => {
    const url = await pgDatabase();
    const here = await open(url, { listenCheckMs: 500 });
    const ran = sleepingWorker(here);
    const admin = await pgClient(url);
    await admin.query('SELECT pg_terminate_backend($1)', [await listenerPid(url)]);
    const there = await open(url);
    await there.enqueue([job('a', 1)]);
    await eventually('the job run here', () => ran.includes('http://a/1'));
  });

  test('its flow gone silent, no error, nothing closed: found deaf, replaced, and the job enqueued meanwhile is run', async () => {
    const url = await pgDatabase();
    const relay = await startPgRelay(url);
    const here = await open(relay.url, { listenCheckMs: 500 });
    const ran = sleepingWorker(here);
    relay.silence(await listenerPid(url));
    const there = await open(url);
    await there.enqueue([job('a', 1)]);
    await eventually('the job run here', () => ran.includes('http://a/1'));
    await there.enqueue([job('a', 2)]);
    await eventually('and the next, heard on the new connection', () => ran.includes('http://a/2'));
  });
});

test('a change reader not taken for a while (no one listens) holds no more ids than a take could name', () => {
  const reader = new PgJobChanges(() => {});
  reader.add(Array.from({ length: 10_001 }, (_, i) => i + 1));
  return reader.take(1_000_000).then(({ ids }) => assert.equal(ids, null, 'too many to name, however many a take would name'));
});
