import { HELD, type EnqueueResult, type NewJob } from '../core/types';
import type { CrawlOptions, LinkReason } from '../protocol';
import { BoundedMap } from './bounded';
import type { ExtractedLink } from './links';
import type { GlobWork } from './glob';
import type { Robots } from './robots';
import type { ScopeMatcher } from './scope';
import { originOf } from './url';

/** The job kind of every page fetch. */
export const CRAWL_KIND = 'crawl';

/** Why a link was seen but not enqueued; the crawl counts each, and its page's links say it. */
export const DROP = {
  nofollow: 'nofollow',
  depth: 'past max depth',
  scope: 'out of scope',
  pattern: 'excluded by pattern',
  pages: 'past max pages',
} as const satisfies Record<string, LinkReason>;

export interface Frontier {
  crawlId: string;
  options: CrawlOptions;
  scope: ScopeMatcher;
  /** What about its pages' data was said in the log (page.ts warnOnce): the rest of each is not. */
  warned?: Set<'extract' | 'handler' | 'sitemaps'>;
  /** Sitemap jobs this process queued for the crawl (page.ts sitemapsWithin). */
  sitemaps?: number;
  paused: boolean;
  /** Made on first use by knownUrls. */
  known?: KnownUrls;
}

/** How many URLs per crawl knownUrls remembers. */
export const KNOWN_URLS_PER_CRAWL = 50_000;

/**
 * URLs a crawl certainly has in the queue (a job for each was leased here, or an acknowledgement
 * that enqueued it was committed here), so links to them can be dropped before they reach SQL.
 * Only an optimization: the queue's unique index still decides duplicates, so forgetting (the
 * oldest go first past the bound) or never knowing costs only a wasted insert. Nothing enters
 * that is not yet committed, so no link is ever lost to it.
 */
export class KnownUrls {
  private readonly urls: BoundedMap<string, true>;
  constructor(max: number) {
    this.urls = new BoundedMap(max);
  }

  add(url: string): void {
    if (!this.urls.has(url)) this.urls.set(url, true);
  }

  has(url: string): boolean {
    return this.urls.has(url);
  }
}

export function knownUrls(f: Frontier): KnownUrls {
  return (f.known ??= new KnownUrls(KNOWN_URLS_PER_CRAWL));
}

/**
 * An acknowledgement that enqueued `jobs` is committed: each page job's URL is in the queue now,
 * inserted or found there, so later links to it need not reach SQL (the unique index would refuse
 * them). Only links to leased URLs were known before: on pages of 70 links, the inserts the index
 * refused cost the crawl's thread more than all its other writes (4.8 s of 54 s, profiled). A job
 * refused past the crawl's cap is not in the queue; its null id cannot be told from a duplicate's,
 * so when any were capped only the inserted are remembered.
 */
export function rememberQueued(f: Frontier, jobs: readonly NewJob[], result: EnqueueResult): void {
  const known = knownUrls(f);
  jobs.forEach((j, i) => {
    if (j.dedupeKey === j.url && (result.ids[i] != null || result.capped === 0)) known.add(j.url);
  });
}

export interface Planned {
  jobs: NewJob[];
  dropped: Map<string, number>;
  /** Each link's fate, in the order of the links given: null when followed. */
  fates: (LinkReason | null)[];
}

/** What a page job may carry. */
export interface PagePayload {
  /** A redirect's target: the chain so far, to end loops and over-long chains. */
  via?: string[];
  /** A sitemap to read (`map`), or a host's robots.txt to read sitemaps from (`robots`): SitemapPayload. */
  sitemap?: 'map' | 'robots';
  /** A sitemap an index named: read as a list of URLs; an index there is not followed (the protocol nests none). */
  inIndex?: true;
  /** A URL a sitemap named (at depth 0, as seeds are, but found on that sitemap). */
  fromSitemap?: true;
  /** The `<lastmod>` its sitemap gave it. */
  lastmod?: string;
}

/** Whether a job at depth 0 was queued by a sitemap (or is a sitemap), not a seed: it was found on something. */
export function foundBySitemap(payload: PagePayload | null): boolean {
  return payload?.fromSitemap === true || payload?.sitemap === 'map';
}

/**
 * A sitemap's fetch (or its host's robots.txt, for its `Sitemap:` lines): keyed apart from the page
 * of the same URL, which a link may also queue.
 */
export function sitemapJob(url: string, host: string, f: Frontier, what: 'map' | 'robots', inIndex = false): NewJob {
  const payload = { sitemap: what, ...(inIndex && { inIndex: true }) } satisfies PagePayload;
  return pageJob(url, host, { crawlId: f.crawlId, depth: 0, dedupeKey: `sitemap ${url}`, payload, runAfter: f.paused ? HELD : 0 });
}

/**
 * A job for one normalized URL; robots.txt, when read and known to forbid it, makes it a `skipped`
 * job with the rule. One that could not be read yet decides nothing here: the page handler waits
 * for it, where a skip would be for good.
 */
export function pageJob(url: string, host: string, extra: Partial<NewJob> & { robots?: Robots | null; userAgent?: string; work?: GlobWork }): NewJob {
  const { robots, userAgent, work, ...rest } = extra;
  const job: NewJob = { kind: CRAWL_KIND, url, key: host, dedupeKey: url, ...rest };
  if (robots && !robots.retryLater && userAgent) {
    const verdict = robots.verdict(url, userAgent, work);
    if (!verdict.allowed) job.skipReason = `robots.txt: ${verdict.rule ?? 'disallowed'}`;
  }
  return job;
}

/**
 * robots.txt matching steps (GlobWork) one page's links may spend before the rest are left to be
 * judged when they are fetched. Each verdict is bounded (ROBOTS_VERDICT_STEPS), but a page of
 * 20,000 links against a hostile robots.txt would still take minutes of verdicts in one go; about
 * 15 ms a million steps, this keeps a page's planning to tens of milliseconds.
 */
export const PLAN_ROBOTS_STEPS = 4_000_000;

/**
 * Turns a page's links into jobs: nofollow, depth and scope are applied here and counted; robots.txt
 * where it is already known; links to URLs known to be queued are left out; other duplicates and
 * max pages are left to the queue, which decides them atomically with every other worker's links.
 */
export function planLinks(
  f: Frontier,
  depth: number,
  links: readonly ExtractedLink[],
  robotsOf: (origin: string) => Robots | null,
  userAgent: string,
): Planned {
  const jobs: NewJob[] = [];
  const dropped = new Map<string, number>();
  const fates: (LinkReason | null)[] = [];
  const drop = (reason: LinkReason) => {
    dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
    fates.push(reason);
  };
  const next = depth + 1;
  const known = knownUrls(f);
  const work: GlobWork = { steps: 0 };
  for (const link of links) {
    if (link.nofollow && !f.options.followNofollow) {
      drop(DROP.nofollow);
      continue;
    }
    if (f.options.maxDepth !== null && next > f.options.maxDepth) {
      drop(DROP.depth);
      continue;
    }
    const verdict = f.scope.allowsNormalized(link);
    if (verdict !== true) {
      drop(verdict.startsWith('excluded') || verdict.startsWith('matches no include') ? DROP.pattern : DROP.scope);
      continue;
    }
    if (known.has(link.url)) {
      fates.push(null);
      continue;
    }
    // Past the page's share of robots.txt work, links go in unjudged and are judged when fetched.
    const robots = work.steps < PLAN_ROBOTS_STEPS ? robotsOf(originOf(link.url)) : null;
    const job = pageJob(link.url, link.host, { crawlId: f.crawlId, depth: next, runAfter: f.paused ? HELD : 0, robots, userAgent, work });
    jobs.push(job);
    fates.push(job.skipReason === undefined ? null : 'robots.txt');
  }
  return { jobs, dropped, fates };
}
