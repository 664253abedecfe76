/**
 * The crawl section: the local site served from this process, each crawler run in a child
 * process of its own, one after the other, on the same site. The site's servers measure what the
 * crawlers cannot vouch for themselves: concurrency per host and requests for disallowed paths.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { CrawlJob, CrawlReport } from './child';
import { log, tempDir } from './measure';
import type { Site } from './site';

export interface CrawlRun extends CrawlReport {
  pagesPerSecond: number;
  cpuSecondsPer1000: number;
  /** From the servers: the most requests one host had in flight at once. */
  maxPerHost: number;
  /** From the servers: requests for paths robots.txt disallows. */
  disallowedServed: number;
  /** From the servers: page requests beyond one per distinct page. */
  duplicateFetches: number;
  /** From the servers: robots.txt requests (one per host is the least a polite crawler makes). */
  robotsRequests: number;
  /** From the servers: requests for pages that do not exist (the site links to none). */
  notFound: number;
  requests: number;
}

const CHILD_GRACE_MS = 30_000;

function runChildProcess(script: string, job: CrawlJob): Promise<CrawlReport> {
  return new Promise((resolve, reject) => {
    // BENCH_CPU_PROF=<dir> profiles each crawler child (node --cpu-prof), to see where its time goes.
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    const child = fork(path.join(__dirname, script), [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: profile });
    let stderr = '';
    let report: CrawlReport | null = null;
    child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('message', (m) => { report = m as CrawlReport; });
    // A child that hangs past its own deadline is killed: the section must end.
    const timer = setTimeout(() => child.kill('SIGKILL'), job.deadlineMs + CHILD_GRACE_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`${script} exited (${signal ?? code}) without a report: ${stderr.trim().slice(-1000)}`));
    });
  });
}

export async function crawlWith(
  site: Site, crawler: 'ours' | 'crawlee' | 'bare', root: string,
  opts: { concurrency: number; perHostLimit: number; deadlineMs: number },
): Promise<CrawlRun> {
  site.reset();
  const job: CrawlJob = {
    seeds: site.seeds, concurrency: opts.concurrency, perHostLimit: opts.perHostLimit,
    maxPages: site.allowedPages + site.disallowedLinks + 1_000, maxDepth: 50,
    tmpDir: tempDir(root, `crawl-${crawler}`), deadlineMs: opts.deadlineMs,
  };
  log(`crawl: ${crawler}...`);
  const r = await runChildProcess(`crawl-${crawler}.js`, job);
  const pageRequests = site.counters.reduce((n, c) => n + c.pages, 0);
  const run: CrawlRun = {
    ...r,
    pagesPerSecond: (r.pages * 1000) / r.wallMs,
    cpuSecondsPer1000: r.pages > 0 ? r.cpuMs / r.pages : NaN,
    maxPerHost: Math.max(...site.counters.map((c) => c.maxInFlight)),
    disallowedServed: site.counters.reduce((n, c) => n + c.disallowed, 0),
    duplicateFetches: pageRequests - site.distinctPages(),
    robotsRequests: site.counters.reduce((n, c) => n + c.robots, 0),
    notFound: site.counters.reduce((n, c) => n + c.notFound, 0),
    requests: site.counters.reduce((n, c) => n + c.requests, 0),
  };
  log(`crawl: ${crawler}: ${r.pages} pages in ${(r.wallMs / 1000).toFixed(1)} s (${run.pagesPerSecond.toFixed(0)}/s), ` +
    `peak RSS ${r.peakRssMb.toFixed(0)} MB, max ${run.maxPerHost} per host${r.complete ? '' : ', INCOMPLETE'}${r.detail ? ` (${r.detail})` : ''}`);
  return run;
}
