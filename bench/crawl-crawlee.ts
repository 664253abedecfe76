/**
 * Child: the site crawled by Crawlee's CheerioCrawler at its best setting measured in the issue:
 * storage in memory (nothing persisted; CRAWLEE_STORAGE_DIR points into the bench's temp folder
 * all the same), robots.txt respected, links followed across the site's hosts.
 *
 * Autoscaling is pinned: min = max = desired concurrency = ours, so it neither ramps up slowly
 * nor backs off when it thinks the (shared, busy) machine is overloaded. Crawlee has no per-host
 * concurrency limit, so its concurrency per host is not bounded by 2 as ours is.
 */
import * as path from 'node:path';
import { runChild } from './child';

runChild('crawlee', async (job, clock) => {
  process.env.CRAWLEE_STORAGE_DIR = path.join(job.tmpDir, 'crawlee-storage');
  const { CheerioCrawler, Configuration, log, LogLevel } = await import('@crawlee/cheerio');
  log.setLevel(LogLevel.ERROR);
  const config = new Configuration({ persistStorage: false, purgeOnStart: true });
  let skipped = 0;
  const origins = new Set(job.seeds.map((s) => new URL(s).origin));
  const crawler = new CheerioCrawler(
    {
      minConcurrency: job.concurrency,
      maxConcurrency: job.concurrency,
      autoscaledPoolOptions: { desiredConcurrency: job.concurrency, loggingIntervalSecs: null },
      maxRequestsPerCrawl: job.maxPages,
      maxRequestRetries: 2,
      // Sessions rotate identities to get past bot protection; a crawl of one's own site has no use
      // for them, and they cost Crawlee CPU per request.
      useSessionPool: false,
      persistCookiesPerSession: false,
      respectRobotsTxtFile: true,
      onSkippedRequest: async ({ reason }) => {
        if (reason === 'robotsTxt') skipped++;
      },
      requestHandler: async ({ enqueueLinks }) => {
        await enqueueLinks({
          strategy: 'all',
          ...(job.seedOriginsOnly && { transformRequestFunction: (r) => (origins.has(new URL(r.url).origin) ? r : false) }),
        });
      },
    },
    config,
  );
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      void crawler.autoscaledPool?.abort();
      resolve();
    }, job.deadlineMs);
  });
  clock.begin();
  await Promise.race([crawler.run(job.seeds), deadline]);
  clock.end();
  clearTimeout(timer);
  const s = crawler.stats.state;
  return { pages: s.requestsFinished, skipped, errors: s.requestsFailed, complete: !late };
});
