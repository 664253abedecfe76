/**
 * Child: the site crawled end to end by the product's own stack: SqliteQueue on a real file,
 * the crawl service (robots.txt honoured, links followed, duplicates dropped by the queue) and
 * the Scheduler with the per-host limit on. Done when the crawl service says the crawl finished.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateConfig } from '../server/src/core/config';
import { Scheduler } from '../server/src/core/scheduler';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT, createCrawlService, SqliteCrawlStore } from '../server/src/crawl/crawls';
import type { CrawlRecord } from '../server/src/crawl/service';
import { tuneHeap } from '../server/src/daemon/process/heap';
import { runChild } from './child';

tuneHeap(); // as the daemon does

runChild('ours', async (job, clock) => {
  const file = path.join(job.tmpDir, 'queue.db');
  const queue = new SqliteQueue(file, { components: [CRAWL_COMPONENT] });
  const crawls = createCrawlService(queue, new SqliteCrawlStore(queue.db), {
    robots: true,
    bodiesDir: path.join(job.tmpDir, 'bodies'),
    warcDir: path.join(job.tmpDir, 'warc'),
    pageRecords: job.pageRecords ?? true,
    workspaceDir: job.tmpDir,
    ...(job.parseThreads !== undefined && { parseThreads: job.parseThreads }),
  });
  const handler = job.handler === undefined ? undefined : path.join(job.tmpDir, 'handler.mjs');
  if (handler !== undefined) fs.writeFileSync(handler, job.handler!);
  const problems: string[] = [];
  const scheduler = new Scheduler(
    queue,
    { crawl: crawls.handler },
    validateConfig({ maxWorkers: job.concurrency, perHostLimit: job.perHostLimit }),
    (level, message) => {
      if (level !== 'info' && problems.length < 5) problems.push(message);
    },
  );
  let crawlId: string | null = null;
  const finished = new Promise<CrawlRecord>((resolve) => {
    crawls.onCrawlChanged((c) => {
      if (c.id === crawlId && c.state === 'finished') resolve(c);
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), job.deadlineMs);
  });

  clock.begin();
  scheduler.start();
  crawlId = (
    await crawls.start({ seeds: job.seeds, maxDepth: job.maxDepth, maxPages: job.maxPages, scope: 'host', extract: job.extract, warc: job.warc, handler })
  ).crawlId;
  const done = await Promise.race([finished, deadline]);
  clock.end();
  clearTimeout(timer);
  const record = done ?? (await crawls.get(crawlId));
  await scheduler.stop(1_000);
  await crawls.close();
  await queue.close();
  // After the close, which checkpoints the WAL into the file: what the crawl left on disk.
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  return {
    dbBytes: size(file) + size(`${file}-wal`),
    pages: record.pages,
    skipped: record.counts.skipped,
    errors: record.counts.error,
    complete: done !== null,
    detail: problems.length ? problems.join('; ') : undefined,
  };
});
