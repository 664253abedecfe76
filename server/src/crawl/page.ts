import type { HandlerContext, Logger } from '../core/scheduler';
import type { JobResult, LeasedJob, NewJob, Outcome } from '../core/types';
import type { AddressCheck } from './addresses';
import type { WarcArchive } from './archive';
import type { BodyStore } from './bodies';
import { MAX_NODES } from './dom';
import { MAX_STEPS } from './extract';
import { causeOf, classifyStatus, FetchError, noServer, parseRetryAfter, type Fetcher, type FetchResult } from './fetcher';
import type { HandlerOutput } from './handler-page';
import { HandlerError, handlerTimeoutMs, type HandlerPool } from './handlers';
import { foundBySitemap, knownUrls, pageJob, planLinks, rememberQueued, sitemapJob, type Frontier, type PagePayload, type Planned } from './frontier';
import { DEFAULT_MAX_LINKS, type ExtractedLink } from './links';
import { HTML_TYPES, type LinkWrite, type PageWrite } from './pages';
import type { PageLinks } from './parse';
import { ParserLost, type ParsePool } from './parse-pool';
import { MAX_ROBOTS_TRIES, type Politeness } from './politeness';
import { parseRobots, productToken, type Robots } from './robots';
import { parseSitemap, SITEMAP_MAX_URLS, SITEMAPS_PER_INDEX, sitemapText, type Sitemap } from './sitemap';
import type { CrawlAck, CrawlTotals } from './store';
import { normalizeUrl, originOf } from './url';

export interface PageSettings {
  userAgent: string;
  robots: boolean;
  maxRedirects: number;
  /** A Retry-After longer than this is cut to it. */
  maxRetryAfterMs: number;
  maxCrawlDelayMs: number;
  /** Sitemaps a crawl reads, at most, as this process counts them (SITEMAPS_PER_CRAWL). */
  maxSitemaps: number;
}

export interface PageDeps {
  fetcher: Fetcher;
  /** The early check of the crawl's address policy, before anything is sent to the host. */
  addressCheck: AddressCheck;
  politeness: Politeness;
  settings: PageSettings;
  /** The crawl a job belongs to, if it may still fetch (null: cancelled or unknown). */
  frontierOf(crawlId: string): Promise<Frontier | null>;
  /** Where to keep bodies for a crawl (null: not stored). */
  bodiesFor(frontier: Frontier | null): BodyStore | null;
  /** Where crawls that keep WARC files (options.warc) write them. */
  archive: Pick<WarcArchive, 'add'>;
  /** Where crawls with a page handler (options.handler) have it run. */
  handlers: Pick<HandlerPool, 'run'>;
  /** Where HTML pages are read: their links, head and selector fields. */
  parser: Pick<ParsePool, 'parse'>;
  /** The minimum delay owed between two requests to a host. */
  delayOf(host: string): number;
  /** Whether a crawl page's record and links are kept (off only to measure what they cost). */
  records: boolean;
  log: Logger;
}

/** What a page handler learnt on the way to its outcome, for the page's record. */
interface Seen {
  frontier: Frontier | null;
  links: PageLinks | null;
  /** Each link's fate, when the links were planned. */
  fates: LinkWrite['reason'][] | null;
  /** The crawl's fields extracted from the page, and its handler's data. */
  data: Record<string, unknown> | null;
  /** URLs its handler enqueued that are not among its links: recorded after them. */
  extra: ExtractedLink[];
  /** Every URL its handler enqueued, among its links or not: followed whatever nofollow says. */
  enqueued: Set<string>;
  /** What the page adds to its crawl's figures, when it counts (a page fetched). */
  totals: CrawlTotals | null;
}

/**
 * How long a job of a paused crawl waits before it is looked at again. Pausing holds the crawl's
 * queued jobs; this is for those that were in flight then and came back unheld (a retry, a
 * reclaim). Not held in turn: a resume racing this job's acknowledgement would leave it held for
 * good, where a short deferral only costs a lease now and then while the crawl stays paused.
 */
export const PAUSED_RECHECK_MS = 5_000;

/**
 * Retry-After is waited out without spending an attempt, but not forever: past this many in a row
 * from one host, its 429s and 503s spend attempts like any temporary failure, so a host that only
 * ever asks to wait ends in errors rather than in a crawl that never finishes.
 */
export const MAX_WAITS_IN_A_ROW = 5;
/** Counted with a crawl's links not followed, and taken out of them as its sitemap reads (robots.txt's Sitemap lines, the sitemaps): pages that are not its pages. */
export const SITEMAPS_READ = '(sitemaps read)';
/**
 * The count of URLs a crawl's sitemaps queued, kept among its counts of dropped links
 * (crawl_dropped is a crawl's named counters) under a name no link reason has; read apart.
 */
export const FROM_SITEMAPS = '(from sitemaps)';
/** Links counted as not followed that are no URL to crawl: not http(s), malformed, or over 8 KiB. */
export const NOT_CRAWLABLE = 'not a crawlable URL';
/** The least wait for a Retry-After: `0` or a date gone by would otherwise ask again at once. */
export const MIN_RETRY_AFTER_MS = 1_000;

/**
 * The `crawl` job kind: fetch one page politely, record what came back, and hand its links to
 * the frontier. Every outcome maps to the queue's: 2xx done; 4xx (but 408 and 429) an error with
 * no retry; 408, 429, 5xx, timeouts and network errors retried with backoff; a Retry-After
 * waited out without spending an attempt, by the whole host.
 */
export function pageHandler(deps: PageDeps) {
  const { settings, politeness } = deps;
  const botToken = productToken(settings.userAgent);
  /** What robots.txt says of a link's origin, where it is already known: planning fetches none. */
  const robotsOf = (origin: string) => (settings.robots ? politeness.cached(origin) : null);

  /**
   * Every attempt of a crawl's page that ends (done, failed, skipped) is recorded, and what it
   * adds to its crawl's totals counted, with its acknowledgement (CrawlAck), so the links its
   * acknowledgement enqueues are in the graph first.
   */
  return async (job: LeasedJob, ctx: HandlerContext): Promise<Outcome> => {
    const seen: Seen = { frontier: null, links: null, fates: null, data: null, extra: [], enqueued: new Set(), totals: null };
    const outcome = await handle(job, ctx, seen);
    if (seen.frontier !== null && outcome.type === 'done' && outcome.enqueue?.length) {
      const { frontier } = seen;
      const jobs = outcome.enqueue;
      ctx.committed((r) => r.enqueued && rememberQueued(frontier, jobs, r.enqueued));
    }
    // Only a crawl's pages have records; one whose crawl was cancelled under it (no frontier) ended
    // with its crawl, not on its own.
    if (seen.frontier !== null && (outcome.type === 'done' || outcome.type === 'fail' || outcome.type === 'skip')) {
      const page = deps.records ? pageWrite(job, seen.frontier, outcome, seen) : null;
      if (page || seen.totals) return { ...outcome, attached: { page, totals: seen.totals } satisfies CrawlAck };
    }
    return outcome;
  };

  async function handle(job: LeasedJob, { signal }: HandlerContext, seen: Seen): Promise<Outcome> {
    const frontier = job.crawlId === null ? null : await deps.frontierOf(job.crawlId);
    seen.frontier = frontier;
    if (job.crawlId !== null && frontier === null) return { type: 'skip', reason: 'crawl cancelled' };
    if (frontier?.paused) return { type: 'defer', reason: 'crawl paused', delayMs: PAUSED_RECHECK_MS };
    // Leased, so committed: links to it from now on need not reach the queue. Not a sitemap's job,
    // which is deduplicated apart from the page of its URL: a link to it still queues that page.
    if (frontier !== null && (job.payload as PagePayload | null)?.sitemap === undefined) knownUrls(frontier).add(job.url);
    const origin = originOf(job.url);
    const host = job.key;
    const addresses = frontier?.options.addresses ?? 'any';
    const refused = await deps.addressCheck.refusal(host, addresses);
    if (refused !== null) return { type: 'skip', reason: refused };

    let delay = deps.delayOf(host);
    let robots: Robots | null = null;
    if (settings.robots) {
      try {
        robots = await politeness.robotsFor(origin, host, signal, addresses);
      } catch (err) {
        if (!(err instanceof FetchError)) throw err;
        if (err.code === 'address') return { type: 'skip', reason: err.message };
        // No server there to read robots.txt from: the page's own fetch could only have failed so too.
        if (noServer(err)) return fetchFailed(host, err, `${origin}/robots.txt`);
        throw err;
      }
      if (robots.retryLater) {
        // The cause first: reports cut it at a width ("robots.txt could not be read in 5 tries (robots.txt un…").
        if (robots.tries >= MAX_ROBOTS_TRIES) {
          return { type: 'fail', error: `${robots.verdict(job.url, settings.userAgent).rule} (read ${robots.tries} times)`, retryable: false };
        }
        // Only this origin's pages wait, each until its robots.txt is read again: other origins of the host run on.
        return { type: 'defer', reason: politeness.unreadable(robots), delayMs: politeness.untilReadAgain(origin) };
      }
      const verdict = robots.verdict(job.url, settings.userAgent);
      if (!verdict.allowed) return { type: 'skip', reason: `robots.txt: ${verdict.rule ?? 'disallowed'}` };
      delay = robots.crawlDelayMs(settings.userAgent, settings.maxCrawlDelayMs) ?? delay;
    }

    let res: FetchResult;
    try {
      const fetch = () => deps.fetcher.fetch(job.url, { signal, followRedirects: false, addresses });
      res = delay > 0 ? await politeness.inSlot(host, delay, signal, fetch) : await fetch();
    } catch (err) {
      if (!(err instanceof FetchError)) throw err;
      // A name that resolved to an allowed address at the early check and to a refused one now.
      if (err.code === 'address') return { type: 'skip', reason: err.message };
      return fetchFailed(host, err, job.url);
    }
    if (frontier?.options.warc) {
      try {
        await deps.archive.add(frontier.crawlId, {
          // WARC-Date is when the capture began.
          url: res.finalUrl,
          date: Date.now() - res.durationMs,
          requestHeaders: res.requestHeaders,
          status: res.status,
          responseHeaders: res.headers,
          body: res.body,
        });
      } catch (err) {
        // Fetched but not archived: tried again later, so that the archive has every page of the crawl.
        return { type: 'fail', error: `the WARC file could not be written: ${(err as Error).message}`, retryable: true };
      }
    }
    const result: JobResult = {
      status: res.status,
      contentType: res.contentType,
      bytes: res.bytes,
      durationMs: res.durationMs,
      finalUrl: res.finalUrl,
      title: null,
      sha256: null,
    };
    if (res.status < 500 && res.status !== 429) politeness.succeeded(host);

    const payload = job.payload as PagePayload | null;
    if (payload?.sitemap === 'robots' && frontier !== null) return sitemapsOf(res, result, frontier, seen, robots);
    if (res.location) return redirect(job, res.location, result, frontier);

    const verdict = classifyStatus(res.status);
    if (verdict.outcome === 'retry') {
      const asked = res.status === 429 || res.status === 503 ? parseRetryAfter(res.headers['retry-after'], Date.now(), settings.maxRetryAfterMs) : null;
      if (asked !== null) {
        const wait = Math.max(asked, MIN_RETRY_AFTER_MS);
        const reason = `HTTP ${res.status} with Retry-After ${Math.round(wait / 1000)}s`;
        const inARow = await politeness.retryAfter(host, wait, reason, MAX_WAITS_IN_A_ROW);
        if (inARow <= MAX_WAITS_IN_A_ROW) return { type: 'defer', reason, delayMs: wait };
        // Past them the page fails, its host held no longer than a backoff's longest: held the hour a
        // 429 asks at every attempt, a host answering nothing else took about 5 + 1.5 hours a page.
        return { type: 'fail', error: `${verdict.reason}; asked to wait ${inARow} times in a row`, retryable: true, result };
      }
      await politeness.failed(host, `HTTP ${res.status}`);
      return { type: 'fail', error: verdict.reason, retryable: true, result };
    }
    // A sitemap that is not there (the /sitemap.xml tried when robots.txt names none) breaks no page.
    if (verdict.outcome === 'error' && payload?.sitemap === 'map') return { type: 'skip', reason: `no sitemap: ${verdict.reason}`, result };
    if (verdict.outcome === 'error') return { type: 'fail', error: verdict.reason, retryable: false, result };

    if (payload?.sitemap === 'map' && frontier !== null) return readSitemap(job, res, result, frontier, seen);

    // The handler runs on its thread while this one reads the page's links.
    const handler = frontier?.options.handler;
    const ran =
      handler === undefined
        ? null
        : deps.handlers
            .run(
              handler,
              {
                url: job.url,
                finalUrl: res.finalUrl,
                status: res.status,
                headers: res.headers,
                contentType: res.contentType,
                charset: res.charset,
                body: res.body,
              },
              handlerTimeoutMs(frontier!.options.handlerTimeout),
            )
            .then(
              (output) => ({ output }),
              (err: unknown) => ({ err }),
            );

    let links: PageLinks | null = null;
    if (res.contentType !== null && HTML_TYPES.has(res.contentType)) {
      // Stored first: the parser thread takes the body. A handler's thread is sent it later: the parser gets a copy.
      await keepBody(frontier, res, result);
      const body = handler === undefined ? res.body : new Uint8Array(res.body);
      const fields = frontier?.options.extract ?? null;
      let page;
      try {
        page = await deps.parser.parse({ url: res.finalUrl, body, charset: res.charset, botToken, fields });
      } catch (err) {
        if (!(err instanceof ParserLost)) throw err;
        // The page that stopped its thread is tried again as its attempts allow; those lost with it, unspent.
        return err.culprit ? { type: 'fail', error: err.message, retryable: true, result } : { type: 'release', reason: err.message };
      }
      if (frontier !== null && fields !== null) {
        seen.data = page.data;
        if (page.stopped.length > 0)
          warnOnce(
            frontier,
            'extract',
            job.url,
            `extract.${page.stopped.join(', extract.')} cut short: the selectors took their ${MAX_STEPS.toLocaleString('en-US')} steps on this page`,
          );
        for (const [key, message] of page.failed) warnOnce(frontier, 'extract', job.url, `extract.${key} failed: ${message}`);
        if (page.treeTruncated)
          warnOnce(
            frontier,
            'extract',
            job.url,
            `only the first ${MAX_NODES.toLocaleString('en-US')} nodes of the page were searched by the crawl's selectors`,
          );
      }
      result.title = page.title;
      result.outlinks = page.links.length;
      links = page;
      seen.links = page;
    } else {
      await keepBody(frontier, res, result);
    }
    if (ran !== null) {
      // A stop, a cancel or a lost lease does not wait for the handler: its answer would go nowhere.
      const r = await untilAborted(ran, signal);
      if (r === null) return { type: 'fail', error: 'handler: not waited for (the job was stopped)', retryable: true, result };
      if ('err' in r) {
        if (!(r.err instanceof HandlerError)) throw r.err;
        return { type: 'fail', error: `handler: ${r.err.message}`, retryable: r.err.retryable, result };
      }
      handled(job, res.finalUrl, r.output, frontier!, seen);
      result.outlinks = (links?.links.length ?? 0) + seen.extra.length;
    }
    if (frontier === null) return { type: 'done', result };

    const planned = plan(frontier, job, links, seen);
    // The crawl's count of links not followed has every one: those a meta nofollow stopped, and
    // those that are no URL to crawl (mailto:, javascript:, malformed, over 8 KiB), which no edge keeps.
    const dropped = new Map(planned?.dropped ?? []);
    const stopped = seen.fates?.filter((f) => f === 'meta nofollow').length ?? 0;
    if (stopped > 0) dropped.set('meta nofollow', stopped);
    if (links !== null && links.dropped > 0) dropped.set(NOT_CRAWLABLE, links.dropped);
    seen.totals = counted(frontier, res, dropped);
    return { type: 'done', result, enqueue: planned?.jobs ?? [], crawlCap: frontier.options.maxPages };
  }

  /** A fetch of `url` for the page failed: retried as its error allows, the host's failures counted, the cause first. */
  async function fetchFailed(host: string, err: FetchError, url: string): Promise<Outcome> {
    if (err.retryable && err.code !== 'aborted') await politeness.failed(host, err.message);
    return { type: 'fail', error: causeOf(err, url), retryable: err.retryable };
  }

  /**
   * The page's links made jobs, each with its fate for the record. Links of a page with
   * `<meta name=robots content=nofollow>` are not followed, nor `rel=nofollow` ones (unless the
   * crawl says to); a URL its handler enqueued is, whether or not the page also links to it so.
   */
  function plan(frontier: Frontier, job: LeasedJob, links: PageLinks | null, seen: Seen): Planned | null {
    // No handler's URLs (every crawl without one): the page's links as they are.
    if (seen.enqueued.size === 0) {
      if (links === null || links.links.length === 0) return null;
      if (links.metaNofollow) {
        seen.fates = links.links.map(() => 'meta nofollow');
        return null;
      }
      const planned = planLinks(frontier, job.depth ?? 0, links.links, robotsOf, settings.userAgent);
      seen.fates = planned.fates;
      return planned;
    }
    const all = [...(links?.links ?? []), ...seen.extra];
    const own = links?.links.length ?? 0;
    const fates: Planned['fates'] = [];
    const follow: ExtractedLink[] = [];
    const at: number[] = [];
    all.forEach((link, i) => {
      const asked = i >= own || seen.enqueued.has(link.url);
      fates.push(!asked && links!.metaNofollow ? 'meta nofollow' : null);
      if (asked || !links!.metaNofollow) {
        follow.push(asked && link.nofollow ? { ...link, nofollow: false } : link);
        at.push(i);
      }
    });
    const planned = follow.length > 0 ? planLinks(frontier, job.depth ?? 0, follow, robotsOf, settings.userAgent) : null;
    planned?.fates.forEach((fate, j) => {
      fates[at[j]] = fate;
    });
    seen.fates = fates;
    return planned;
  }

  /** What a page's handler gave: its data joins the page's, its URLs not among the page's links join them. */
  function handled(job: LeasedJob, base: string, output: HandlerOutput, frontier: Frontier, seen: Seen): void {
    if (output.data !== null) {
      const data = JSON.parse(output.data) as Record<string, unknown> | Record<string, unknown>[];
      seen.data = { ...seen.data, ...(Array.isArray(data) ? { records: data } : data) };
    }
    if (output.enqueue.length === 0) return;
    const have = new Set(seen.links?.links.map((l) => l.url));
    for (const given of output.enqueue) {
      const n = normalizeUrl(given, base);
      if (!n.ok) {
        warnOnce(frontier, 'handler', job.url, `the handler enqueued ${JSON.stringify(given.slice(0, 200))}, which is not a URL to crawl (${n.reason})`);
        continue;
      }
      seen.enqueued.add(n.url);
      if (!have.has(n.url)) {
        have.add(n.url);
        seen.extra.push({ url: n.url, host: n.host, nofollow: false, text: '' });
      }
    }
  }

  /** Said once a crawl for each kind of thing: a site of such pages would otherwise fill the log. */
  function warnOnce(frontier: Frontier, kind: 'extract' | 'handler' | 'sitemaps', url: string, what: string): void {
    if (frontier.warned?.has(kind)) return;
    (frontier.warned ??= new Set()).add(kind);
    deps.log('warn', `crawl ${frontier.crawlId}: ${url}: ${what} (the first such page; others are not reported)`);
  }

  /** As many of these sitemaps as the crawl may still read (settings.maxSitemaps), counted as queued; the rest said once. */
  function sitemapsWithin<T>(frontier: Frontier, url: string, named: T[]): T[] {
    const room = Math.max(0, settings.maxSitemaps - (frontier.sitemaps ?? 0));
    if (named.length > room)
      warnOnce(
        frontier,
        'sitemaps',
        url,
        `its sitemaps name more than the ${settings.maxSitemaps.toLocaleString('en-US')} a crawl reads: the rest are not read`,
      );
    const kept = named.slice(0, room);
    frontier.sitemaps = (frontier.sitemaps ?? 0) + kept.length;
    return kept;
  }

  /** Keeps the body when the crawl keeps bodies; the result then names it by its hash (null otherwise). */
  async function keepBody(frontier: Frontier | null, res: FetchResult, result: JobResult): Promise<void> {
    const bodies = deps.bodiesFor(frontier);
    if (bodies !== null) result.sha256 = (await bodies.put(res.body)).sha256;
  }

  /**
   * A seed host's robots.txt, read for its `Sitemap:` lines: each becomes a sitemap job (any host:
   * the protocol lets robots.txt name sitemaps elsewhere), or `/sitemap.xml` when it names none or
   * could not be read. Its record's links are those sitemaps.
   */
  async function sitemapsOf(res: FetchResult, result: JobResult, frontier: Frontier, seen: Seen, robots: Robots | null): Promise<Outcome> {
    // The crawler's own reading when it has one (redirects followed); this response's body otherwise.
    const read = robots === null && res.status >= 200 && res.status < 300 ? parseRobots(res.body) : null;
    const named = robots !== null ? robots.sitemaps : read?.kind === 'rules' ? read.sitemaps : [];
    await keepBody(frontier, res, result);
    const urls = new Map<string, string>();
    for (const raw of named.length > 0 ? named : ['/sitemap.xml']) {
      const n = normalizeUrl(raw, res.finalUrl);
      if (n.ok && urls.size < SITEMAPS_PER_INDEX) urls.set(n.url, n.host);
    }
    seen.links = linksOnly(
      res.finalUrl,
      [...urls].map(([url, host]) => ({ url, host, nofollow: false, text: '' })),
    );
    result.outlinks = urls.size;
    seen.totals = counted(frontier, res, new Map([[SITEMAPS_READ, 1]]));
    // Not capped by max pages, which is for its pages (the sitemaps are how it finds them), but by SITEMAPS_PER_CRAWL.
    const queued = sitemapsWithin(frontier, res.finalUrl, [...urls]);
    return { type: 'done', result, enqueue: queued.map(([url, host]) => sitemapJob(url, host, frontier, 'map')) };
  }

  /**
   * A sitemap: an index's sitemaps become sitemap jobs, a urlset's URLs page jobs at depth 0, as
   * links are planned (scope, patterns, robots.txt), each with its `<lastmod>`. Its record's links
   * are its entries.
   */
  async function readSitemap(job: LeasedJob, res: FetchResult, result: JobResult, frontier: Frontier, seen: Seen): Promise<Outcome> {
    let map: Sitemap;
    try {
      map = await oneAtATime(async () => parseSitemap(await sitemapText(res.body)));
    } catch (err) {
      return { type: 'fail', error: `not a readable sitemap: ${(err as Error).message}`, retryable: false, result };
    }
    await keepBody(frontier, res, result);
    if (map.cut > 0) {
      deps.log(
        'warn',
        `crawl ${frontier.crawlId}: the sitemap ${job.url} names ${map.cut} URL(s) past the protocol's ${SITEMAP_MAX_URLS.toLocaleString('en-US')}: left out`,
      );
    }
    const entries = new Map<string, ExtractedLink & { lastmod: string | null }>();
    for (const [i, e] of map.entries.entries()) {
      // 50,000 URLs normalized took 280 ms: the event loop is let in every 2,000.
      if (i > 0 && i % PLAN_SLICE === 0) await new Promise(setImmediate);
      const n = normalizeUrl(e.loc, res.finalUrl);
      if (n.ok && !entries.has(n.url)) entries.set(n.url, { url: n.url, host: n.host, nofollow: false, text: '', lastmod: stored(e.lastmod?.slice(0, 100)) });
    }
    const links = [...entries.values()];
    // Each index of indexes read in turn queued a thousand more: 521,477 jobs and 263 MB in 72 s, and no end.
    if (map.kind === 'index' && (job.payload as PagePayload | null)?.inIndex) {
      return { type: 'skip', reason: 'a sitemap index named by a sitemap index: not read (the protocol nests none)', result };
    }
    if (map.kind === 'index') {
      // The sitemaps of an index are read whatever the crawl's scope and patterns, which are for its pages.
      const named = links.slice(0, SITEMAPS_PER_INDEX);
      seen.links = linksOnly(res.finalUrl, named);
      result.outlinks = named.length;
      seen.totals = counted(frontier, res, new Map([[SITEMAPS_READ, 1]]));
      return { type: 'done', result, enqueue: sitemapsWithin(frontier, res.finalUrl, named).map((l) => sitemapJob(l.url, l.host, frontier, 'map', true)) };
    }
    // Depth -1: the links of a page at depth -1 are at depth 0, as the seeds are.
    const jobs: NewJob[] = [];
    const fates: Planned['fates'] = [];
    const dropped = new Map<string, number>();
    for (let at = 0; at < links.length; at += PLAN_SLICE) {
      if (at > 0) await new Promise(setImmediate);
      const planned = planLinks(frontier, -1, links.slice(at, at + PLAN_SLICE), robotsOf, settings.userAgent);
      for (const j of planned.jobs) {
        const lastmod = entries.get(j.url)?.lastmod;
        jobs.push({ ...j, payload: { fromSitemap: true, ...(lastmod && { lastmod }) } satisfies PagePayload });
      }
      fates.push(...planned.fates);
      for (const [why, n] of planned.dropped) dropped.set(why, (dropped.get(why) ?? 0) + n);
    }
    // Recorded as a page's links are, at most DEFAULT_MAX_LINKS of them; all are queued.
    seen.links = linksOnly(res.finalUrl, links.slice(0, DEFAULT_MAX_LINKS));
    seen.fates = fates.slice(0, DEFAULT_MAX_LINKS);
    result.outlinks = seen.links.links.length;
    dropped.set(SITEMAPS_READ, 1);
    if (jobs.length > 0) dropped.set(FROM_SITEMAPS, jobs.length);
    seen.totals = counted(frontier, res, dropped);
    return { type: 'done', result, enqueue: jobs, crawlCap: frontier.options.maxPages };
  }

  /**
   * A redirect is handed on as a job of its own for the target, so the target's host limit, delay,
   * robots.txt and the crawl's scope apply to it like to any link, and a target the crawl already
   * has is a duplicate rather than a second fetch. The chain travels with it to end loops.
   */
  function redirect(job: LeasedJob, target: string, result: JobResult, frontier: Frontier | null): Outcome {
    const via = [...((job.payload as PagePayload | null)?.via ?? []), job.url];
    result.finalUrl = target;
    result.redirectTo = target;
    if (via.includes(target)) {
      return { type: 'fail', error: `redirect loop: ${[...via, target].join(' → ')}`, retryable: false, result };
    }
    if (via.length > settings.maxRedirects) {
      return { type: 'fail', error: `more than ${settings.maxRedirects} redirects from ${via[0]}`, retryable: false, result };
    }
    if (frontier !== null) {
      const inScope = frontier.scope.allows(target);
      if (inScope !== true) return { type: 'skip', reason: `redirects to ${target}, ${inScope}`, result };
    }
    const url = new URL(target);
    const next = pageJob(target, url.hostname, {
      // A sitemap stays keyed apart from the page of its URL.
      ...((job.payload as PagePayload | null)?.sitemap && { dedupeKey: `sitemap ${target}` }),
      // A sitemap that redirects is still read as one, and a URL keeps its sitemap's lastmod.
      crawlId: job.crawlId,
      depth: job.depth,
      payload: { ...(job.payload as PagePayload | null), via } satisfies PagePayload,
      robots: robotsOf(url.origin),
      userAgent: settings.userAgent,
    });
    return { type: 'done', result, enqueue: [next], crawlCap: frontier?.options.maxPages };
  }
}

/** A promise's value (or its rejection), or null once the signal aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const aborted = () => resolve(null);
    signal.addEventListener('abort', aborted, { once: true });
    promise.finally(() => signal.removeEventListener('abort', aborted)).then(resolve, reject);
  });
}

/** Sitemap entries normalized and planned at a time, the event loop let in between. */
const PLAN_SLICE = 2_000;

/** One sitemap read at a time in the daemon: each may hold 50 MB of text, and up to 16 pages are fetched at once. */
let sitemapTurn: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const run = sitemapTurn.then(fn, fn);
  sitemapTurn = run.catch(() => undefined);
  return run;
}

/** What a page that is not HTML but has links (a sitemap, robots.txt) records of them. */
function linksOnly(baseUrl: string, links: ExtractedLink[]): PageLinks {
  return {
    title: null,
    description: null,
    canonical: null,
    lang: null,
    links,
    metaNofollow: false,
    metaNoindex: false,
    metaRobots: null,
    dropped: 0,
    truncated: 0,
    baseUrl,
  };
}

/** Text from the web as stored: PostgreSQL refuses NUL in text, and no title needs one. */
function stored(text: string | null | undefined): string | null {
  return text === null || text === undefined ? null : text.replace(/\0/g, '');
}

/** A page's record from its attempt's outcome and what the handler learnt on the way. */
function pageWrite(job: LeasedJob, frontier: Frontier, outcome: Extract<Outcome, { type: 'done' | 'fail' | 'skip' }>, seen: Seen): PageWrite {
  const result = outcome.result;
  const status = typeof result?.status === 'number' ? result.status : null;
  const extraction = seen.links;
  return {
    crawlId: frontier.crawlId,
    url: job.url,
    host: job.key,
    jobId: job.id,
    depth: job.depth,
    status,
    error: stored(outcome.type === 'fail' ? outcome.error : outcome.type === 'skip' ? outcome.reason : null),
    skipped: outcome.type === 'skip',
    redirectTo: typeof result?.redirectTo === 'string' ? result.redirectTo : null,
    via: (job.payload as PagePayload | null)?.via ?? [],
    contentType: result?.contentType ?? null,
    bytes: result?.bytes ?? null,
    fetchMs: result?.durationMs ?? null,
    fetchedAt: status === null ? null : Date.now(),
    title: stored(result?.title),
    description: stored(extraction?.description),
    canonical: extraction?.canonical ?? null,
    robots: stored(extraction?.metaRobots),
    lang: stored(extraction?.lang),
    sha256: typeof result?.sha256 === 'string' ? result.sha256 : null,
    data: seen.data,
    lastmod: (job.payload as PagePayload | null)?.lastmod ?? null,
    linked: (job.depth ?? 0) > 0 || foundBySitemap(job.payload),
    links:
      extraction || seen.extra.length > 0
        ? [...(extraction?.links ?? []), ...seen.extra].map((l, i) => ({ url: l.url, text: stored(l.text) as string, reason: seen.fates?.[i] ?? null }))
        : null,
  };
}

/** A page fetched, for its crawl's totals: one page, its bytes, its links not followed by reason. */
function counted(frontier: Frontier, res: FetchResult, dropped: ReadonlyMap<string, number>): CrawlTotals {
  return { crawlId: frontier.crawlId, pages: 1, bytes: res.bytes, dropped: Object.fromEntries(dropped) };
}
