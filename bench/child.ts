/**
 * The frame of a crawler child process: the parent passes the crawl as JSON in argv[2]; the child
 * crawls, measures itself (wall time and CPU over the crawl, peak RSS over its whole life, modules
 * included) and sends one CrawlReport over IPC. Running each crawler in a process of its own makes
 * CPU and memory attributable to it alone.
 */
import { PeakRss } from './measure';

export interface CrawlJob {
  seeds: string[];
  concurrency: number;
  perHostLimit: number;
  /** Upper bound on pages, above the site's size: a run-away crawl ends. */
  maxPages: number;
  maxDepth: number;
  tmpDir: string;
  /** The crawl is abandoned past this, and reported incomplete. */
  deadlineMs: number;
  /** Ours only: false turns page records and the link graph off, to measure what they cost (default true). */
  pageRecords?: boolean;
  /** Ours only: fields extracted from every page (crawl/start's extract). */
  extract?: Record<string, string>;
  /** Ours only: every response kept in WARC files (crawl/start's warc). */
  warc?: boolean;
  /** Ours only: a page handler's source, written to a module in tmpDir (crawl/start's handler). */
  handler?: string;
  /** Ours only: threads that parse pages (the daemon's --parse-threads); 0 parses them on the crawl's own thread. */
  parseThreads?: number;
  /** Crawlee and the bare loop: follow links to the seeds' origins only, as ours keeps to their hosts (the heavy site links out). */
  seedOriginsOnly?: boolean;
}

export interface CrawlOutcome {
  pages: number;
  /** Pages robots.txt kept the crawler from (counted by the crawler itself). */
  skipped: number;
  errors: number;
  complete: boolean;
  detail?: string;
  /** Ours only: the database file (and its -wal, if any) once the crawl is over and the queue closed. */
  dbBytes?: number;
}

export interface CrawlReport extends CrawlOutcome {
  crawler: string;
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
}

/**
 * The crawl's window: `begin` once set up and about to crawl, `end` once the crawler says it is
 * done (before its teardown). Wall time and CPU count between the two, so that opening a database
 * or building a crawler object is not counted as crawling.
 */
export interface Clock {
  begin(): void;
  end(): void;
}

export function runChild(crawler: string, crawl: (job: CrawlJob, clock: Clock) => Promise<CrawlOutcome>): void {
  const rss = new PeakRss();
  const job = JSON.parse(process.argv[2]) as CrawlJob;
  void (async () => {
    let report: CrawlReport;
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    let measured: { wallMs: number; cpuMs: number } | null = null;
    const clock: Clock = {
      begin: () => {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      },
      end: () => {
        const cpu = process.cpuUsage(cpu0);
        measured ??= { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
      },
    };
    try {
      const outcome = await crawl(job, clock);
      clock.end();
      const peak = rss.stop();
      report = { crawler, ...outcome, ...measured!, peakRssMb: Math.max(peak.sampledMb, peak.maxRssMb) };
    } catch (err) {
      report = {
        crawler,
        pages: 0,
        skipped: 0,
        errors: 0,
        complete: false,
        detail: `failed: ${(err as Error).stack ?? String(err)}`,
        wallMs: performance.now() - t0,
        cpuMs: 0,
        peakRssMb: rss.stop().maxRssMb,
      };
    }
    process.send!(report, () => process.exit(0));
  })();
}
