/**
 * The crawl report's view: what the webview draws, made here from the daemon's answers (crawl/get,
 * crawl/report, hosts/list, leases/list, workers/list) so that the page only draws and every choice is tested
 * alone. No `vscode`, no Node: the webview's bundle imports the types, the extension the functions.
 */
import {
  crawlProgress,
  RATE_BUCKETS,
  type CrawlRates,
  type Crawl,
  type CrawlReport,
  type FailureReason,
  type Host,
  type Lease,
  type StatusClass,
  type Worker,
} from '../../../server/src/protocol';
import { failureReason } from '../../../server/src/core/failure-reason';
import { formatClock } from '../format';
import { crawlLabel, hostAsOf } from '../jobsTreeText';

/** One point of the rate chart: seconds since the epoch, and pages and failures a second since the point before. */
export interface RatePoint {
  t: number;
  pages: number;
  errors: number;
}

/**
 * What a count stands for, to list its jobs: the crawl's pages of an HTTP status or class
 * (crawl/pages' filter), or its failed jobs of a reason (jobs/list's, as jobs/reasons counts them).
 */
export type PagesSelector = { status: number | StatusClass } | { reason: string };

export interface CountRow {
  label: string;
  count: number;
  /** Null: no filter reaches them (skipped pages). */
  pages: PagesSelector | null;
}

/** What the report shows of crawl/report as it came. */
type ReportAsIs = Pick<CrawlReport, 'brokenCount' | 'redirects' | 'redirectCount' | 'slowest' | 'largest' | 'missingTitles'>;

export interface ReportView extends ReportAsIs {
  title: string;
  state: Crawl['state'];
  /** "done 120 · queued 30 · running 4 · failed 5 · skipped 2". */
  counts: { label: string; count: number; tone: 'ok' | 'busy' | 'bad' | 'quiet' }[];
  pagesPerSecond: number;
  rates: RatePoint[];
  /**
   * The rates are the crawl's average over its run (from its start to its end, or to now): fewer
   * than two readings were taken, as of a crawl that ended within one reading, or before the
   * report was opened.
   */
  ratesAveraged: boolean;
  /** The chart in words (rateSummary): its text alternative. */
  rateSummary: string;
  byStatus: CountRow[];
  /** The crawl's failed jobs by reason (jobs/reasons), as the Jobs view groups them: "HTTP 404" × 19, "ECONNREFUSED" × 5. */
  failures: CountRow[];
  broken: { url: string; what: string; referrerCount: number; referrers: { url: string; text: string }[]; foundOn: string | null }[];
  /**
   * The crawl's hosts: those of its pages, and those holding its running or queued jobs (a host it
   * is stuck on has no page yet); state, reason and in flight (across every crawl) where the daemon
   * lists the host, else null.
   */
  hosts: {
    host: string;
    state: Host['state'] | null;
    reason: string | null;
    until: string | null;
    inFlight: number | null;
    limit: number | null;
    /** This crawl's jobs running on the host. */
    crawlInFlight: number;
    /** This crawl's jobs queued on the host, of those read (`queuedMore`: not all were). */
    queued: number;
    pages: number;
    errors: number;
    meanFetchMs: number | null;
  }[];
  /**
   * Every worker of the database (workers/list), live ones first: its state, the leases it holds
   * (`crawlLeases` on this crawl, with a few of their jobs and when the last of them ends), when
   * it was last heard from. A worker holding this crawl's leases that the list leaves out (past
   * its length) is shown all the same.
   */
  workers: {
    workerId: string;
    state: Worker['state'] | null;
    self: boolean;
    leases: number;
    crawlLeases: number;
    seenAt: string;
    startedAt: string | null;
    stoppedAt: string | null;
    leaseEndsAt: string | null;
    jobs: { id: number; url: string }[];
  }[];
  /** Whether the daemon listed its workers (an older daemon, or a failed read, did not: those holding the crawl's leases are shown). */
  workersListed: boolean;
}

/** Messages the page sends back. */
export type ReportMessage =
  | { type: 'openPage'; url: string }
  | { type: 'openJob'; id: number }
  | { type: 'showJobs' }
  | { type: 'setLimit'; host: string }
  | { type: 'showPages'; label: string; pages: PagesSelector }
  | { type: 'ready' };

/** Broken links shown at most, referrers per link at most: the rest are a click away in the Jobs view and the export. */
export const BROKEN_SHOWN = 200;
export const REFERRERS_SHOWN = 5;

/** Rate points kept: twenty minutes at one every two seconds, as crawl/rates answers at most. */
export const MAX_RATE_POINTS = RATE_BUCKETS;

/** A rate point from two readings of the crawl's counts; null when no time passed, or the crawl ran at neither. */
export function ratePoint(before: { at: number; crawl: Crawl }, now: { at: number; crawl: Crawl }): RatePoint | null {
  const seconds = (now.at - before.at) / 1000;
  if (seconds <= 0 || (before.crawl.state !== 'running' && now.crawl.state !== 'running')) return null;
  // Jobs cancelled with the crawl were not fetched: its cancel is no burst of pages.
  const finished = (c: Crawl) => crawlProgress(c).finished;
  return {
    t: now.at / 1000,
    pages: Math.max(0, finished(now.crawl) - finished(before.crawl)) / seconds,
    errors: Math.max(0, now.crawl.counts.error - before.crawl.counts.error) / seconds,
  };
}

/** Readings every this many seconds: the chart's history is asked for in buckets of it (or wider, to cover a long run). */
export const READING_SECONDS = 2;

/**
 * What crawl/rates is asked when the report opens: the crawl's run in at most RATE_BUCKETS
 * buckets, the last RATE_BUCKETS readings' worth while it runs (the chart keeps no more), or its
 * whole run, in wider buckets when it ran longer, once it ended.
 */
export function historyAsked(crawl: Crawl, now: number): { crawlId: string; since: string; bucketSeconds: number } {
  const start = Date.parse(crawl.createdAt);
  const end = crawl.finishedAt === null ? now : Date.parse(crawl.finishedAt);
  const live = crawl.state === 'running' || crawl.state === 'paused';
  const bucketSeconds = live ? READING_SECONDS : Math.max(READING_SECONDS, Math.ceil((end - start) / 1000 / RATE_BUCKETS));
  const since = Math.max(start, end - RATE_BUCKETS * bucketSeconds * 1000);
  // On a bucket's edge, as the daemon buckets them.
  const edge = Math.floor(since / (bucketSeconds * 1000)) * bucketSeconds * 1000;
  return { crawlId: crawl.crawlId, since: new Date(edge).toISOString(), bucketSeconds };
}

/**
 * crawl/rates' buckets as rate points, each at its bucket's end, the empty buckets between the
 * first and `end` (ms: the crawl's end, or now) drawn as zeros: a crawl held back reads 0 pages/s.
 */
export function historyPoints(r: CrawlRates, end: number): RatePoint[] {
  if (r.buckets.length === 0) return [];
  const step = r.bucketSeconds;
  const byStart = new Map(r.buckets.map((b) => [Date.parse(b.at) / 1000, b]));
  const points: RatePoint[] = [];
  for (let t = Date.parse(r.buckets[0].at) / 1000; t < end / 1000 && points.length < RATE_BUCKETS; t += step) {
    const b = byStart.get(t);
    points.push({ t: Math.min(t + step, end / 1000), pages: (b?.pages ?? 0) / step, errors: (b?.failures ?? 0) / step });
  }
  return points;
}

/**
 * The chart as text, for those who do not see it (its aria-label, and a line under it): the
 * highest rate and when, and the last.
 */
export function rateSummary(rates: readonly RatePoint[], averaged: boolean, clock: (t: number) => string): string {
  const last = rates.at(-1);
  if (!last) return 'No readings yet.';
  const f = (n: number) => n.toFixed(1);
  if (averaged) return `On average ${f(last.pages)} pages and ${f(last.errors)} failures per second over the crawl's run.`;
  const peak = rates.reduce((a, b) => (b.pages > a.pages ? b : a));
  const failing = rates.reduce((a, b) => (b.errors > a.errors ? b : a));
  return (
    `From ${clock(rates[0].t)} to ${clock(last.t)}: at most ${f(peak.pages)} pages per second (at ${clock(peak.t)}), ` +
    `${f(last.pages)} at the last reading; ` +
    (failing.errors > 0 ? `at most ${f(failing.errors)} failures per second (at ${clock(failing.t)}).` : 'no failures.')
  );
}

/**
 * The crawl's run as a whole, for a chart that has fewer than two readings: its average rates from
 * its start to its end (or `now`, while it runs), as two points. None when no time passed.
 */
export function averageRates(crawl: Crawl, now: number): RatePoint[] {
  const start = Date.parse(crawl.createdAt);
  const end = crawl.finishedAt === null ? now : Date.parse(crawl.finishedAt);
  const seconds = (end - start) / 1000;
  if (!(seconds > 0)) return [];
  const point = { pages: crawlProgress(crawl).finished / seconds, errors: crawl.counts.error / seconds };
  return [
    { t: start / 1000, ...point },
    { t: end / 1000, ...point },
  ];
}

/** 1 for a host holding back the crawl's queued jobs (blocked, backing off), else 0. */
function held(h: { state: Host['state'] | null; queued: number }): number {
  return h.queued > 0 && (h.state === 'blocked' || h.state === 'backoff') ? 1 : 0;
}

/** crawl/pages takes statuses from 100 to 599; a server's odd one (600) is counted but has no filter. */
function httpStatus(status: number): PagesSelector | null {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? { status } : null;
}

function byCount(a: CountRow, b: CountRow): number {
  return b.count - a.count || (a.label < b.label ? -1 : 1);
}

export function reportView(input: {
  crawl: Crawl;
  report: CrawlReport;
  /** The crawl's failed jobs by reason (jobs/reasons with its crawlId). */
  reasons: readonly FailureReason[];
  /** When the crawl was read (ms since the epoch): where a running crawl's average ends. */
  now: number;
  hosts: readonly Host[];
  leases: readonly Lease[];
  workers: readonly Worker[] | null;
  rates: readonly RatePoint[];
  /** The hosts of the crawl's running jobs, one a job. */
  running: readonly string[];
  /** The hosts of the crawl's queued jobs read (the first ones), one a job. */
  queued: readonly string[];
}): ReportView {
  const { crawl, report } = input;
  const c = crawl.counts;
  const { cancelled } = crawlProgress(crawl);
  const statuses: CountRow[] = Object.entries(report.byStatus).map(([status, count]) => ({
    label: status === 'error' ? 'no response' : status === 'skipped' ? 'skipped' : `HTTP ${status}`,
    count,
    pages: status === 'skipped' ? null : status === 'error' ? { status: 'error' } : httpStatus(Number(status)),
  }));
  // Counted by the queue as the Jobs view's "Failure Reason" groups are, not from the broken
  // links listed: those are the first few hundred, and pages, not jobs.
  const failures: CountRow[] = input.reasons.map((r) => ({ label: r.reason, count: r.count, pages: { reason: r.reason } }));
  const rates = input.rates.length >= 2 ? input.rates.slice(-MAX_RATE_POINTS) : averageRates(crawl, input.now);
  // The crawl's own hosts, each with its state where the daemon lists it (hosts/list names the
  // busiest thousand of every crawl's).
  const states = new Map(input.hosts.map((h) => [h.host, hostAsOf(h, input.now)]));
  const tally = (list: readonly string[]) => list.reduce((m, h) => m.set(h, (m.get(h) ?? 0) + 1), new Map<string, number>());
  const running = tally(input.running);
  const queued = tally(input.queued);
  const figures = new Map(report.byHost.map((s) => [s.host, s]));
  const hosts = [...new Set([...figures.keys(), ...running.keys(), ...queued.keys()])].map((host) => {
    const h = states.get(host);
    const s = figures.get(host);
    const mine = running.get(host) ?? 0;
    // A host at its limit with other crawls' work says so: this crawl's pages are not what it is busy with.
    const reason =
      h?.state === 'busy' && mine < h.inFlight
        ? `${h.reason ?? 'at its limit'}, ${mine === 0 ? "none of them this crawl's" : `${mine} of them this crawl's`}`
        : (h?.reason ?? null);
    return {
      host,
      state: h?.state ?? null,
      reason,
      until: h?.until ?? null,
      inFlight: h?.inFlight ?? null,
      limit: h?.limit ?? null,
      crawlInFlight: mine,
      queued: queued.get(host) ?? 0,
      pages: s?.pages ?? 0,
      errors: s?.errors ?? 0,
      meanFetchMs: s?.meanFetchMs ?? null,
    };
  });
  // Every worker listed; the leases given are the crawl's (the caller keeps those of its running jobs).
  const workers = new Map<string, ReportView['workers'][number]>(
    (input.workers ?? []).map((w) => [
      w.workerId,
      {
        workerId: w.workerId,
        state: w.state,
        self: w.self,
        leases: w.leases,
        crawlLeases: 0,
        seenAt: w.seenAt,
        startedAt: w.startedAt,
        stoppedAt: w.stoppedAt,
        leaseEndsAt: null,
        jobs: [],
      },
    ]),
  );
  for (const l of input.leases) {
    let w = workers.get(l.workerId);
    if (!w) {
      w = {
        workerId: l.workerId,
        state: null,
        self: false,
        leases: 0,
        crawlLeases: 0,
        seenAt: l.heartbeatAt,
        startedAt: null,
        stoppedAt: null,
        leaseEndsAt: null,
        jobs: [],
      };
      workers.set(l.workerId, w);
    }
    w.crawlLeases++;
    w.leases = Math.max(w.leases, w.crawlLeases);
    if (l.heartbeatAt > w.seenAt) w.seenAt = l.heartbeatAt;
    if (w.leaseEndsAt === null || l.expiresAt > w.leaseEndsAt) w.leaseEndsAt = l.expiresAt;
    if (w.jobs.length < 3) w.jobs.push({ id: l.jobId, url: l.url });
  }
  const rank = (w: ReportView['workers'][number]) => (w.state === 'live' || w.state === null ? 0 : w.state === 'lost' ? 1 : 2);
  return {
    title: crawlLabel(crawl),
    state: crawl.state,
    counts: [
      { label: 'done', count: c.done, tone: 'ok' },
      { label: 'queued', count: c.queued, tone: 'quiet' },
      { label: 'running', count: c.in_progress, tone: 'busy' },
      { label: 'failed', count: c.error, tone: 'bad' },
      { label: 'skipped', count: c.skipped - cancelled, tone: 'quiet' },
      ...(cancelled > 0 ? [{ label: 'cancelled', count: cancelled, tone: 'quiet' as const }] : []),
    ],
    pagesPerSecond: crawl.pagesPerSecond,
    rates,
    ratesAveraged: input.rates.length < 2 && rates.length > 0,
    rateSummary: rateSummary(rates, input.rates.length < 2, (t) => formatClock(new Date(t * 1000).toISOString(), input.now)),
    byStatus: statuses.sort(byCount),
    failures: failures.sort(byCount),
    broken: report.brokenLinks.slice(0, BROKEN_SHOWN).map((b) => ({
      url: b.url,
      // A 4xx or 5xx says it; a 2xx or 3xx that failed (a handler that threw, a redirect loop) and no response say why.
      what: b.status !== null && b.status >= 400 ? `HTTP ${b.status}` : failureReason(b.error ?? 'failed'),
      referrerCount: b.referrerCount,
      referrers: b.referrers.slice(0, REFERRERS_SHOWN),
      foundOn: b.foundOn,
    })),
    brokenCount: report.brokenCount,
    redirects: report.redirects,
    redirectCount: report.redirectCount,
    slowest: report.slowest,
    largest: report.largest,
    missingTitles: report.missingTitles,
    // Held hosts first (what the crawl waits on), then by failures and pages.
    hosts: hosts.sort((a, b) => held(b) - held(a) || b.errors - a.errors || b.pages - a.pages || (a.host < b.host ? -1 : 1)),
    // Live (and unlisted lease holders) first, then lost, then stopped; the latest seen first within each.
    workers: [...workers.values()].sort((a, b) => rank(a) - rank(b) || (a.seenAt > b.seenAt ? -1 : a.seenAt < b.seenAt ? 1 : a.workerId < b.workerId ? -1 : 1)),
    workersListed: input.workers !== null,
  };
}
