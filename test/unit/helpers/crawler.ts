import * as path from 'node:path';
import { after } from 'node:test';
import { validateConfig, type CoreConfig } from '../../../server/src/core/config';
import { Scheduler } from '../../../server/src/core/scheduler';
import { PgQueue } from '../../../server/src/core/pg/engine';
import { SqliteQueue, type SqliteQueueOptions } from '../../../server/src/core/sqlite/engine';
import type { Queue } from '../../../server/src/core/types';
import { CRAWL_COMPONENT, createCrawlService, SqliteCrawlStore, type CrawlSettings } from '../../../server/src/crawl/crawls';
import { PG_CRAWL_COMPONENT, PgCrawlStore } from '../../../server/src/crawl/pg-store';
import type { CrawlRecord, StartCrawl } from '../../../server/src/crawl/service';
import type { CrawlStore } from '../../../server/src/crawl/store';
import type { Engine } from './engines';
import { pgDatabase } from './pg';
import { eventually, tempDir } from './tmp';

/** Settings that keep crawl tests quick: short timeouts and retries, bodies in a temp folder. */
export const QUICK: Partial<CrawlSettings> = {
  connectTimeoutMs: 2000,
  headersTimeoutMs: 2000,
  bodyTimeoutMs: 2000,
  totalTimeoutMs: 5000,
  robotsRetryMs: 500,
  hostBackoffBaseMs: 100,
  hostBackoffMaxMs: 500,
};

type CrawlerOptions = { db?: string; settings?: Partial<CrawlSettings>; config?: Partial<CoreConfig>; queue?: SqliteQueueOptions };

/** The real thing: a queue file, the crawl service and a scheduler, stopped when the test file ends. */
export function crawler(opts: CrawlerOptions = {}) {
  const dir = tempDir();
  const db = opts.db ?? path.join(dir, 'queue.db');
  const queue = new SqliteQueue(db, { components: [CRAWL_COMPONENT], backoff: { baseMs: 50, maxMs: 200 }, ...opts.queue });
  return crawlerOver(queue, new SqliteCrawlStore(queue.db), db, dir, opts);
}

/** The same on either engine: a fresh database of its own. */
export async function crawlerOn(engine: Engine, opts: Omit<CrawlerOptions, 'db' | 'queue'> = {}) {
  if (engine.name === 'sqlite') return crawler(opts);
  const db = await pgDatabase();
  const queue = await PgQueue.open(db, { components: [PG_CRAWL_COMPONENT], backoff: { baseMs: 50, maxMs: 200 } });
  return crawlerOver(queue, new PgCrawlStore(queue.pool), db, tempDir(), opts);
}

function crawlerOver<Q extends Queue>(queue: Q, store: CrawlStore, db: string, dir: string, opts: CrawlerOptions) {
  const logs: string[] = [];
  const crawls = createCrawlService(
    queue,
    store,
    { ...QUICK, bodiesDir: path.join(dir, 'bodies'), warcDir: path.join(dir, 'warc'), ...opts.settings },
    (level, m) => logs.push(`${level}: ${m}`),
  );
  const scheduler = new Scheduler(
    queue,
    { crawl: crawls.handler },
    validateConfig({ maxWorkers: 8, perHostLimit: 2, leaseTtlMs: 5000, heartbeatMs: 500, pollMs: 20, ...opts.config }),
    (level, m) => logs.push(`${level}: ${m}`),
  );
  scheduler.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await scheduler.stop(1000);
    await crawls.close();
    await queue.close();
  };
  after(stop);
  return {
    db,
    dir,
    queue,
    crawls,
    scheduler,
    logs,
    stop,
    /** Starts a crawl and waits for it to finish. */
    async run(p: StartCrawl, ms = 30_000): Promise<CrawlRecord> {
      const { crawlId } = await crawls.start(p);
      try {
        const done = await eventually(
          `crawl ${crawlId} finished`,
          async () => {
            const c = await crawls.get(crawlId);
            return c.state === 'finished' ? c : null;
          },
          ms,
        );
        return done!;
      } catch (err) {
        // Say where it stood: the jobs, their histories and the scheduler's log.
        const { jobs } = await queue.list({ crawlId, limit: 50 });
        const states = await Promise.all(jobs.map(async (j) => `${j.url} ${j.state} ${JSON.stringify((await queue.get(j.id))!.events)}`));
        throw new Error(
          `${(err as Error).message}\n${states.join('\n')}\nkeys: ${JSON.stringify(await queue.keys({ defaultLimit: 2 }))}\nlog: ${logs.join('\n')}`,
        );
      }
    },
    /** A job's record and events by its URL. */
    async byUrl(crawlId: string | null, url: string) {
      const [j] = await queue.findByDedupeKeys(crawlId, [url]);
      if (!j) throw new Error(`no job for ${url}`);
      return (await queue.get(j.id))!;
    },
  };
}
