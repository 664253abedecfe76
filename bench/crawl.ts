/**
 * The crawl section: the local site served from this process, each crawler run in a child
 * process of its own, one after the other, on the same site. The site's servers measure what the
 * crawlers cannot vouch for themselves: concurrency per host and requests for disallowed paths.
 */
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { CrawlJob, CrawlReport } from './child';
import type { PgCrawlJob, PgCrawlMessage } from './crawl-pg-child';
import { cpuProfileArgs, elapsedMs, log, now, tempDir } from './measure';
import { postmasterPid, serverCpuMs } from './pg-server-cpu';
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

/** A crawl by daemons on PostgreSQL, with the server's side of it. */
export interface PgCrawlRun extends CrawlRun {
  /** The PostgreSQL server's CPU per 1,000 pages (null: the server is not on this machine). */
  serverCpuSecondsPer1000: number | null;
  /** Leases that came back empty, of all the daemons' leases. */
  emptyLeaseFraction: number;
}

const CHILD_GRACE_MS = 30_000;

function runChildProcess(script: string, job: CrawlJob): Promise<CrawlReport> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, script), [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: cpuProfileArgs() });
    let stderr = '';
    let report: CrawlReport | null = null;
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('message', (m) => {
      report = m as CrawlReport;
    });
    // A child that hangs past its own deadline is killed: the section must end.
    const timer = setTimeout(() => child.kill('SIGKILL'), job.deadlineMs + CHILD_GRACE_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report) resolve(report);
      else reject(new Error(`${script} exited (${signal ?? code}) without a report: ${stderr.trim().slice(-1000)}`));
    });
  });
}

/** Runs so far, so that every run gets a folder (and a database) of its own. */
let runs = 0;

export async function crawlWith(
  site: Site,
  crawler: 'ours' | 'crawlee' | 'bare',
  root: string,
  opts: {
    concurrency: number;
    perHostLimit: number;
    deadlineMs: number;
    pageRecords?: boolean;
    extract?: Record<string, string>;
    warc?: boolean;
    handler?: string;
    parseThreads?: number;
    seedOriginsOnly?: boolean;
  },
): Promise<CrawlRun> {
  site.reset();
  const job: CrawlJob = {
    seeds: site.seeds,
    concurrency: opts.concurrency,
    perHostLimit: opts.perHostLimit,
    maxPages: site.allowedPages + site.disallowedLinks + 1_000,
    maxDepth: 50,
    tmpDir: tempDir(root, `crawl-${crawler}-${runs++}`),
    deadlineMs: opts.deadlineMs,
    ...(opts.pageRecords !== undefined && { pageRecords: opts.pageRecords }),
    ...(opts.extract && { extract: opts.extract }),
    ...(opts.warc && { warc: true }),
    ...(opts.handler !== undefined && { handler: opts.handler }),
    ...(opts.seedOriginsOnly && { seedOriginsOnly: true }),
    ...(opts.parseThreads !== undefined && { parseThreads: opts.parseThreads }),
  };
  const label =
    opts.pageRecords === false
      ? `${crawler} without page records`
      : opts.extract
        ? `${crawler} with ${Object.keys(opts.extract).length} selector fields`
        : opts.warc
          ? `${crawler} with WARC`
          : opts.handler !== undefined
            ? `${crawler} with a page handler`
            : opts.parseThreads === 0
              ? `${crawler} parsing on its own thread`
              : crawler;
  log(`crawl: ${label}...`);
  const report = await runChildProcess(`crawl-${crawler}.js`, job);
  return measured(site, { ...report, crawler: label });
}

/** A crawler's own report and what the site's servers saw of it. */
function measured(site: Site, r: CrawlReport): CrawlRun {
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
  log(
    `crawl: ${r.crawler}: ${r.pages} pages in ${(r.wallMs / 1000).toFixed(1)} s (${run.pagesPerSecond.toFixed(0)}/s), ` +
      `peak RSS ${r.peakRssMb.toFixed(0)} MB, max ${run.maxPerHost} per host${r.complete ? '' : ', INCOMPLETE'}${r.detail ? ` (${r.detail})` : ''}`,
  );
  return run;
}

/**
 * The same crawl by `daemons` processes sharing one PostgreSQL queue (issue 7): each a daemon's
 * crawler, its own worker pool of `concurrency`; the per-host limit holds across all of them.
 * Wall time from "go" to the crawl's end; CPU and RSS summed and maxed over the processes.
 */
export async function crawlOnPostgres(
  site: Site,
  url: string,
  root: string,
  daemons: number,
  opts: { concurrency: number; perHostLimit: number; deadlineMs: number },
): Promise<PgCrawlRun> {
  site.reset();
  const crawler = `PostgreSQL × ${daemons}`;
  const postmaster = await postmasterPid(url);
  log(`crawl: ${crawler}...`);
  const base = {
    url,
    seeds: site.seeds,
    concurrency: opts.concurrency,
    perHostLimit: opts.perHostLimit,
    maxPages: site.allowedPages + site.disallowedLinks + 1_000,
    maxDepth: 50,
    deadlineMs: opts.deadlineMs,
  };
  const children = Array.from({ length: daemons }, (_, i) => {
    const job: PgCrawlJob = { ...base, leader: i === 0, tmpDir: tempDir(root, `crawl-pg-${daemons}-${i}`) };
    return fork(path.join(__dirname, 'crawl-pg-child.js'), [JSON.stringify(job)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  });
  const next = (c: ReturnType<typeof fork>, type: PgCrawlMessage['type']) =>
    new Promise<PgCrawlMessage>((resolve, reject) => {
      const onMessage = (m: PgCrawlMessage) => {
        if (m.type !== type) return;
        c.off('message', onMessage);
        resolve(m);
      };
      c.on('message', onMessage);
      c.once('exit', (code) => reject(new Error(`a crawler process exited (${code}) before "${type}"`)));
    });
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), opts.deadlineMs + CHILD_GRACE_MS);
  try {
    await Promise.all(children.map((c) => next(c, 'ready')));
    const server0 = postmaster === null ? null : serverCpuMs(postmaster);
    const start = now();
    const finished = next(children[0], 'finished');
    for (const c of children) c.send('go');
    const end = (await Promise.race([finished, new Promise<null>((r) => setTimeout(() => r(null), opts.deadlineMs))])) as Extract<
      PgCrawlMessage,
      { type: 'finished' }
    > | null;
    const wallMs = elapsedMs(start);
    const stopped = children.map((c) => next(c, 'stopped') as Promise<Extract<PgCrawlMessage, { type: 'stopped' }>>);
    for (const c of children) c.send('stop');
    const reports = await Promise.all(stopped);
    // The daemons' backends end as they close; their time is the postmaster's once it has reaped them.
    await new Promise((r) => setTimeout(r, 200));
    const serverMs = server0 === null ? null : serverCpuMs(postmaster!) - server0;
    const problems = reports.flatMap((r) => r.problems);
    const leases = reports.reduce((n, r) => n + r.leases, 0);
    const run = measured(site, {
      crawler,
      // Past the deadline, the pages the site served: CPU per page and pages/s still mean something.
      pages: end?.pages ?? site.distinctPages(),
      skipped: end?.skipped ?? 0,
      errors: end?.errors ?? 0,
      complete: end !== null,
      detail: problems.length ? problems.slice(0, 3).join('; ') : undefined,
      wallMs,
      cpuMs: reports.reduce((n, r) => n + r.cpuMs, 0),
      peakRssMb: Math.max(...reports.map((r) => r.peakRssMb)),
    });
    return {
      ...run,
      serverCpuSecondsPer1000: serverMs === null ? null : serverMs / run.pages,
      emptyLeaseFraction: leases === 0 ? 0 : reports.reduce((n, r) => n + r.emptyLeases, 0) / leases,
    };
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill();
  }
}
