/**
 * PostgreSQL for tests: one throwaway cluster per test process (server/src/demo/pg-cluster.ts),
 * started on first use, and a fresh database per caller. CRAWL_TEST_PG_URL points the tests at an
 * existing server instead (its role must be allowed to create databases); their databases are
 * dropped when the test file ends.
 */
import { after } from 'node:test';
import pg from 'pg';
import { INSTALL_HINT, createDatabase, startCluster } from '../../../server/src/demo/pg-cluster';

interface Server {
  adminUrl: string;
  urlFor(db: string): string;
}

let server: Server | null = null;

function start(): Server {
  const external = process.env.CRAWL_TEST_PG_URL;
  if (external) {
    return {
      adminUrl: external,
      urlFor: (db) => {
        const u = new URL(external);
        u.pathname = `/${db}`;
        return u.toString();
      },
    };
  }
  try {
    return startCluster();
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(message.startsWith(INSTALL_HINT) ? `${message}, or set CRAWL_TEST_PG_URL to a server the tests may create databases on` : message);
  }
}

let counter = 0;

/** A URL to a new, empty database of its own. */
export async function pgDatabase(): Promise<string> {
  server ??= start();
  const name = `crawl_test_${process.pid}_${++counter}`;
  await createDatabase(server.adminUrl, name);
  if (process.env.CRAWL_TEST_PG_URL) {
    const adminUrl = server.adminUrl;
    after(async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
    });
  }
  return server.urlFor(name);
}

/** A plain client on a test database (for the tests' own reads), closed when the test file ends. */
export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, options: '-c search_path=crawl_orchestrator' });
  await c.connect();
  after(() => c.end());
  return c;
}
