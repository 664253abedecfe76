/**
 * Where a daemon keeps its queue and crawls: the queue engine and the crawl kind's store on the
 * same database. SQLite (a file in the state folder) is the default; a postgres:// URL puts both
 * on a PostgreSQL server that daemons on several machines share.
 */
import type { CoreConfig } from '../../core/config';
import { isPostgresUrl } from '../../core/db-url';
import { PgQueue } from '../../core/pg/engine';
import { SqliteQueue } from '../../core/sqlite/engine';
import type { Queue } from '../../core/types';
import { PG_CRAWL_COMPONENT, PgCrawlStore } from '../../crawl/pg-store';
import { CRAWL_COMPONENT, SqliteCrawlStore, type CrawlStore } from '../../crawl/store';

export interface Storage {
  queue: Queue;
  store: CrawlStore;
}

export async function openStorage(db: string, config: CoreConfig): Promise<Storage> {
  const opts = {
    maxAttempts: config.maxAttempts,
    backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs },
    maxReclaims: config.maxReclaims,
  };
  if (isPostgresUrl(db)) {
    const queue = await PgQueue.open(db, { ...opts, components: [PG_CRAWL_COMPONENT] });
    return { queue, store: new PgCrawlStore(queue.pool) };
  }
  const queue = new SqliteQueue(db, { ...opts, components: [CRAWL_COMPONENT] });
  // For tests only: caps this connection's database size in pages (max_page_count does not
  // persist), so the fault tests fill the database without filling a disk.
  const cap = process.env.CRAWLD_TEST_MAX_PAGE_COUNT;
  if (cap !== undefined && /^\d+$/.test(cap)) queue.db.pragma(`max_page_count = ${cap}`);
  return { queue, store: new SqliteCrawlStore(queue.db) };
}
