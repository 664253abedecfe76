/**
 * Where a daemon keeps its queue and crawls: the queue engine and the crawl kind's store on the
 * same database. SQLite is the default (a file in the state folder).
 */
import type { CoreConfig } from '../core/config';
import { SqliteQueue } from '../core/sqlite/engine';
import type { Queue } from '../core/types';
import { CRAWL_COMPONENT, SqliteCrawlStore, type CrawlStore } from '../crawl/store';

export interface Storage {
  queue: Queue;
  store: CrawlStore;
}

export async function openStorage(db: string, config: CoreConfig): Promise<Storage> {
  const queue = new SqliteQueue(db, {
    components: [CRAWL_COMPONENT],
    maxAttempts: config.maxAttempts,
    backoff: { baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs },
    maxReclaims: config.maxReclaims,
    busyTimeoutMs: 5_000,
  });
  return { queue, store: new SqliteCrawlStore(queue.db) };
}
