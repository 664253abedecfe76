/**
 * Child: one daemon's worth of crawling on a shared PostgreSQL queue: PgQueue and the crawl store
 * beside it, the crawl service and a Scheduler, as `crawlctl daemon --db postgres://...` runs them.
 * The parent says "go" to all at once; the leader starts the crawl and says when it has finished;
 * then every child stops and reports its CPU time and peak RSS.
 */
import * as path from 'node:path';
import { validateConfig } from '../server/src/core/config';
import { PgQueue } from '../server/src/core/pg/engine';
import { Scheduler } from '../server/src/core/scheduler';
import { createCrawlService } from '../server/src/crawl/crawls';
import { PG_CRAWL_COMPONENT, PgCrawlStore } from '../server/src/crawl/pg-store';
import { tuneHeap } from '../server/src/daemon/process/heap';
import type { CrawlJob } from './child';
import { PeakRss } from './measure';

export interface PgCrawlJob extends CrawlJob {
  url: string;
  leader: boolean;
}

export type PgCrawlMessage =
  | { type: 'ready' }
  | { type: 'finished'; pages: number; skipped: number; errors: number }
  | { type: 'stopped'; cpuMs: number; peakRssMb: number; problems: string[]; leases: number; emptyLeases: number };

const job = JSON.parse(process.argv[2]) as PgCrawlJob;
const send = (m: PgCrawlMessage): void => void process.send!(m);

tuneHeap(); // as the daemon does

void (async () => {
  const rss = new PeakRss();
  const queue = await PgQueue.open(job.url, { components: [PG_CRAWL_COMPONENT] });
  // Leases asked for and leases that came back empty: with several daemons, how often one finds
  // nothing because the others hold the rows it needs.
  const counts = { leases: 0, emptyLeases: 0 };
  const lease = queue.lease.bind(queue);
  queue.lease = async (...args) => {
    const got = await lease(...args);
    counts.leases++;
    if (got.length === 0) counts.emptyLeases++;
    return got;
  };
  const crawls = createCrawlService(queue, new PgCrawlStore(queue.pool), { robots: true, bodiesDir: path.join(job.tmpDir, 'bodies') });
  const problems: string[] = [];
  const scheduler = new Scheduler(
    queue,
    { crawl: crawls.handler },
    validateConfig({ maxWorkers: job.concurrency, perHostLimit: job.perHostLimit }),
    (level, message) => {
      if (level !== 'info' && problems.length < 5) problems.push(message);
    },
  );
  let cpu0 = process.cpuUsage();
  process.on('message', (m: string) => {
    if (m === 'go') {
      cpu0 = process.cpuUsage();
      counts.leases = counts.emptyLeases = 0;
      scheduler.start();
      if (job.leader) void lead();
    } else if (m === 'stop') {
      void (async () => {
        await scheduler.stop(1_000);
        const cpu = process.cpuUsage(cpu0);
        await crawls.close();
        await queue.close();
        const peak = rss.stop();
        process.send!(
          {
            type: 'stopped',
            cpuMs: (cpu.user + cpu.system) / 1000,
            peakRssMb: Math.max(peak.sampledMb, peak.maxRssMb),
            problems,
            ...counts,
          } satisfies PgCrawlMessage,
          () => process.exit(0),
        );
      })();
    }
  });
  send({ type: 'ready' });

  /** Starts the crawl and watches the shared store for its end (another daemon may finish it). */
  async function lead(): Promise<void> {
    const { crawlId } = await crawls.start({ seeds: job.seeds, maxDepth: job.maxDepth, maxPages: job.maxPages, scope: 'host' });
    for (;;) {
      const c = await crawls.get(crawlId);
      // Done counts come from the queue's counters, exact at once; page totals are flushed later.
      if (c.state === 'finished') {
        send({ type: 'finished', pages: c.counts.done, skipped: c.counts.skipped, errors: c.counts.error });
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
})();
