/**
 * The connection pool and the schema: a URL checked before anything connects, the server's
 * refusals turned into sentences, the versions of every component compared before anything is
 * written, then the pending migrations applied under a lock (two daemons starting at once
 * migrate once).
 */
import pg from 'pg';
import { DatabaseOpenError } from '../errors';
import { isPostgresUrl, redactUrl } from '../db-url';
import { PG_MIGRATIONS, SCHEMA } from './schema';

/**
 * A migration: SQL, or a function for what SQL alone cannot do (values computed in JavaScript),
 * run on the connection inside the migrations' transaction.
 */
export type Migration = string | ((client: pg.ClientBase) => Promise<void>);

/** A component's versioned tables (the queue's own, the crawl kind's...). */
export interface Component {
  name: string;
  migrations: readonly Migration[];
}

export const QUEUE_COMPONENT: Component = { name: 'queue', migrations: PG_MIGRATIONS };

/** Serializes migrations across processes (any constant unlikely to collide). */
const MIGRATION_LOCK = 0x43524157;

/**
 * bigint and numeric (what sum() of a bigint gives) as JS numbers: every count and time here is
 * far below 2^53. Set on this pool's clients only, never globally.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser(oid, format) {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  },
};

export interface PoolOptions {
  /** Connections in the pool (the listening connection is one more). */
  max?: number;
  /** The longest a statement may run (STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
}

/**
 * The longest a statement of the queue may run on the server: the slowest are bulk moves (a
 * requeue or a pause of a crawl's 200,000 jobs takes a few seconds), a lease or an ack
 * milliseconds. One stuck behind a lock for this long fails, and says so, rather than holding its
 * connection and its caller.
 */
export const STATEMENT_TIMEOUT_MS = 60_000;
/**
 * How much longer this side waits for an answer: the server's own timeout, with a clear error,
 * comes first; this one ends a statement sent on a connection that died without a word, which
 * would otherwise wait out TCP's retransmissions (about 15 minutes on Linux) with its caller.
 */
export const QUERY_GRACE_MS = 5_000;

/** pg's error for a statement not answered within query_timeout: its connection is beyond use. */
export function unanswered(err: unknown): boolean {
  return (err as Error | undefined)?.message === 'Query read timeout';
}

/** The settings every connection of the queue is made with, the listener's included. */
export function clientConfig(url: string, statementTimeoutMs = STATEMENT_TIMEOUT_MS): pg.ClientConfig {
  if (!isPostgresUrl(url)) throw new DatabaseOpenError(`${redactUrl(url)} is not a postgres:// or postgresql:// URL`, redactUrl(url));
  try {
    new URL(url);
  } catch {
    throw new DatabaseOpenError(`the PostgreSQL URL is malformed: ${redactUrl(url)}`, redactUrl(url));
  }
  return {
    connectionString: url,
    types: TYPES,
    // Backslashes in literals are literal (ESCAPE '\\', the JSON escapes of a status search) even on
    // a server configured otherwise.
    options: `-c search_path=${SCHEMA} -c standard_conforming_strings=on`,
    application_name: 'crawl-orchestrator',
    connectionTimeoutMillis: 10_000,
    // TCP keepalive: a connection idle for 10 s is probed every second, and errors after 10 probes
    // unanswered (libuv's settings, seen with strace), so one whose peer is gone without a word (a
    // NAT or firewall that dropped the flow) is not kept for hours, idle in the pool or listening.
    // The listener also checks that it hears (changes.ts): keepalive says nothing of a live
    // connection that no longer gets its notifications, nor of one with a statement unanswered.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Keepalive probes only an idle connection: one with a statement unanswered needs these.
    statement_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + QUERY_GRACE_MS,
  };
}

/** A plain sentence for the failures a user can cause and fix. */
export function describePgError(err: unknown, url: string): string {
  const where = redactUrl(url);
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  switch (e.code) {
    case 'ECONNREFUSED':
      return `PostgreSQL at ${where} refused the connection: is the server running there?`;
    case 'ENOENT':
      return `PostgreSQL at ${where}: no server socket there: is the server running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `PostgreSQL at ${where}: the host name does not resolve`;
    case 'ETIMEDOUT':
      return `PostgreSQL at ${where} did not answer in time`;
    case '28P01':
    case '28000':
      return `PostgreSQL at ${where} refused the login: ${msg}`;
    case '3D000':
      return `PostgreSQL at ${where}: ${msg} (create it first, e.g. createdb)`;
    case '42501':
      return `PostgreSQL at ${where}: permission denied: ${msg}`;
    case '53300':
      return `PostgreSQL at ${where} has too many connections: ${msg}`;
    default:
      // The server asked for a password and none was found (the driver's words name neither).
      if (/client password must be a string/.test(msg)) {
        return `PostgreSQL at ${where} asked for a password and none was given: put it in the URL, PGPASSWORD, or a line of ~/.pgpass (mode 0600) that matches the host, port, database and user`;
      }
      return `PostgreSQL at ${where}: ${msg}`;
  }
}

/**
 * A pool on the database, checked and migrated: refuses a namespace of another program or a
 * schema newer than this build before writing anything.
 */
export async function openPool(url: string, components: Component[], opts: PoolOptions = {}): Promise<pg.Pool> {
  const config = clientConfig(url, opts.statementTimeoutMs);
  const pool = new pg.Pool({ ...config, max: opts.max ?? 10 });
  // An idle connection dropped by the server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  try {
    await migrate(config, url, components);
    return pool;
  } catch (err) {
    await pool.end().catch(() => {});
    if (err instanceof DatabaseOpenError) throw err;
    throw new DatabaseOpenError(describePgError(err, url), redactUrl(url));
  }
}

async function versions(db: pg.ClientBase): Promise<Map<string, number> | null> {
  const { rows } = await db.query<{ t: string | null }>(`SELECT to_regclass($1) AS t`, [`${SCHEMA}.schema_versions`]);
  if (rows[0].t === null) return null;
  const got = await db.query<{ component: string; version: number }>(`SELECT component, version FROM ${SCHEMA}.schema_versions`);
  return new Map(got.rows.map((r) => [r.component, r.version]));
}

function refuseNewer(have: Map<string, number>, url: string, components: Component[]): void {
  for (const { name, migrations } of components) {
    const v = have.get(name) ?? 0;
    if (v > migrations.length) {
      throw new DatabaseOpenError(
        `${redactUrl(url)} has ${name} schema version ${v}, newer than this build knows (${migrations.length}); upgrade Crawl Orchestrator`,
        redactUrl(url),
      );
    }
  }
}

/** Refuses a namespace of another program or a schema newer than this build, before any write. */
async function checkVersions(client: pg.ClientBase, url: string, components: Component[]): Promise<Map<string, number>> {
  const have = await versions(client);
  if (have) {
    refuseNewer(have, url, components);
    return have;
  }
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1`,
    [SCHEMA],
  );
  if (rows[0].n > 0) {
    throw new DatabaseOpenError(
      `${redactUrl(url)}: schema "${SCHEMA}" holds tables of another program (no schema_versions); refusing to touch it`,
      redactUrl(url),
    );
  }
  return new Map();
}

/** On a connection of its own, without the pool's timeouts: a migration's backfill of millions of jobs may take minutes. */
async function migrate(config: pg.ClientConfig, url: string, components: Component[]): Promise<void> {
  const client = new pg.Client({ ...config, statement_timeout: undefined, query_timeout: undefined });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock($1)`, [MIGRATION_LOCK]);
    // Checked under the lock: a daemon starting beside us may be migrating right now.
    const have = await checkVersions(client, url, components);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_versions (component text PRIMARY KEY, version integer NOT NULL)`);
    for (const { name, migrations } of components) {
      const from = have.get(name) ?? 0;
      for (let v = from; v < migrations.length; v++) {
        const m = migrations[v];
        if (typeof m === 'string') await client.query(m);
        else await m(client);
      }
      if (from < migrations.length) {
        await client.query(
          `INSERT INTO ${SCHEMA}.schema_versions (component, version) VALUES ($1, $2)
          ON CONFLICT (component) DO UPDATE SET version = excluded.version`,
          [name, migrations.length],
        );
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * A connection of its own for short statements that commit apart from any transaction of the
 * pool (the crawl-cap reservations), so that a pool whose every connection is in a transaction
 * waiting on one cannot starve it. Statements run one at a time; a connection that drops (a server
 * restart, a killed backend) is replaced at the next statement instead of failing every one after.
 */
export class SideConnection {
  private client: pg.Client | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly config: pg.ClientConfig) {}

  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const run = this.tail.then(async () => {
      if (this.closed) throw new Error('the queue is closed');
      const client = this.client ?? (await this.connect());
      try {
        return await client.query<R>(text, values);
      } catch (err) {
        // Unanswered, it stays the client's query in flight and every one after it waits: dropped, as the pool's are.
        if (unanswered(err)) {
          if (this.client === client) this.client = null;
          client.end().catch(() => {});
        }
        throw err;
      }
    });
    this.tail = run.catch(() => {});
    return run;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client(this.config);
    // A drop must not crash the process: the statement in flight fails, the next one reconnects.
    const lost = () => {
      if (this.client === client) this.client = null;
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.connect();
    this.client = client;
    return client;
  }

  async end(): Promise<void> {
    this.closed = true;
    await this.tail;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }
}
