import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ConflictError, NotFoundError, QueueError } from '../core/errors';
import type { Logger } from '../core/scheduler';
import { Ticker } from '../core/ticker';
import { HELD, type Job, type NewJob, type Queue, type RequeueFilter, type Stats } from '../core/types';
import {
  RATE_BUCKETS,
  REPORT_LISTED,
  type AddressPolicy,
  type CrawlOptions,
  type CrawlReport,
  type LinkRecord,
  type Rejected,
  type Scope,
  type WarcFile,
} from '../protocol';
import { PRODUCT, VERSION } from '../version';
import { AddressCheck, policyOfSeeds } from './addresses';
import { BodyStore } from './bodies';
import { CRAWL_DEFAULTS } from './defaults';
import { ExtractError, parseFields } from './extract';
import { WarcArchive } from './archive';
import { WARC_FILE_BYTES } from './warc';
import { Fetcher, type FetcherOptions } from './fetcher';
import { HandlerError, handlerFile, HandlerPool, handlerTimeoutMs, type PoolLimits } from './handlers';
import { CRAWL_KIND, DROP, foundBySitemap, pageJob, sitemapJob, type Frontier, type PagePayload } from './frontier';
import { HoldLog } from './holds';
import { FROM_SITEMAPS, pageHandler, SITEMAPS_READ, type PageSettings } from './page';
import { SITEMAPS_PER_CRAWL } from './sitemap';
import { ParsePool } from './parse-pool';
import {
  linkFate,
  pagesCursor,
  parseLinkCursor,
  parsePagesCursor,
  redirectChains,
  withChains,
  writeRecords,
  type PageInfo,
  type PageWrite,
  type RateBucket,
} from './pages';
import { Politeness, type PolitenessSettings } from './politeness';
import { compileScope, ScopeError } from './scope';
import type { CrawlRecord, CrawlService, EnqueueUrls, HostRecord, LinksRequest, PageDetail, PagesRequest, StartCrawl } from './service';
import type { CrawlRow, CrawlStore } from './store';
import { normalizeUrl, originOf } from './url';

export { CRAWL_COMPONENT, SqliteCrawlStore } from './store';

/** Everything the crawl kind is configured by: its own options, the fetcher's, politeness's and a page's. */
export interface CrawlSettings extends FetcherOptions, PolitenessSettings, PageSettings {
  /** Where stored bodies go (content-addressed). */
  bodiesDir: string;
  /** Where crawls that keep WARC files write them. */
  warcDir: string;
  /** A crawl's WARC file is closed past this size and the next begun. */
  warcFileBytes: number;
  /** Max depth of crawls that set none; null: no limit, so a crawl is bounded by its scope and max pages. */
  defaultMaxDepth: number | null;
  defaultMaxPages: number;
  defaultScope: Scope;
  /** The address policy of crawls that set none; null: the kind of their seeds' addresses. */
  defaultAddresses: AddressPolicy | null;
  /** Page records and the link graph kept; false only to measure what they cost (the benchmark). */
  pageRecords: boolean;
  /** The folder whose modules crawls may name as page handlers; null: none runs. */
  workspaceDir: string | null;
  /** Threads page handlers run on, and the heap each may use. */
  handlerLimits?: PoolLimits;
  /** Threads HTML pages are parsed on (0: the daemon's own); unset: a core each but the daemon's (parse-pool.ts). */
  parseThreads?: number;
}

export const DEFAULT_USER_AGENT = `${PRODUCT}/${VERSION} (+https://github.com/crawl-orchestrator/crawl-orchestrator)`;

export const DEFAULT_CRAWL_SETTINGS: CrawlSettings = {
  userAgent: DEFAULT_USER_AGENT,
  robots: true,
  bodiesDir: path.join('.crawl', 'bodies'),
  warcDir: path.join('.crawl', 'warc'),
  ...CRAWL_DEFAULTS,
  pageRecords: true,
  workspaceDir: null,
  defaultDelayMs: 0,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 15_000,
  totalTimeoutMs: 60_000,
  maxBodyBytes: 10 * 1024 * 1024,
  maxRedirects: 10,
  maxSitemaps: SITEMAPS_PER_CRAWL,
  maxRetryAfterMs: 3600_000,
  robotsTtlMs: 24 * 3600_000,
  robotsRetryMs: 60_000,
  maxCrawlDelayMs: 30_000,
  warcFileBytes: WARC_FILE_BYTES,
  hostFailuresBeforeBackoff: 3,
  hostBackoffBaseMs: 5_000,
  hostBackoffMaxMs: 10 * 60_000,
};

/** How often running crawls are checked for their end (and another process's changes of their state). */
const TICK_MS = 250;
/**
 * A crawl with no jobs yet is left running this long: its seeds are enqueued just after its row is
 * written, and another process's tick may look in between.
 */
const SEEDING_GRACE_MS = 60_000;
/**
 * A crawl's state read with the active crawls at a tick (every TICK_MS) stands for its pages this
 * long: a page reads it itself only past that. Read for every page, it was one statement a page
 * on PostgreSQL (a fifth of them in a web-bound crawl); another process's pause or cancel is now
 * seen within a tick, as a fetch already under way would have missed it anyway.
 */
const STATE_FRESH_MS = 4 * TICK_MS;
/** pages/s is measured over this window. */
const RATE_WINDOW_MS = 10_000;

/**
 * A crawl's pages/s: over the last RATE_WINDOW_MS while it runs, else since it started. Also since
 * it started when fewer than two pages finished in the window: pages slower than the window made a
 * running crawl read "0.0 pages/s" while its pages were being fetched. None while none is (`fetching`,
 * its jobs in progress): a paused crawl, or one whose hosts all hold it back, read its average for
 * minutes as if it still fetched.
 */
export function pagesPerSecond(
  row: Pick<CrawlRow, 'state' | 'pages' | 'createdAt' | 'finishedAt'>,
  samples: readonly { at: number; pages: number }[],
  now: number,
  fetching: number,
): number {
  if (row.state === 'paused' || (row.state === 'running' && fetching === 0)) return 0;
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (row.state === 'running' && samples.length >= 2 && last.pages - first.pages >= 2 && last.at > first.at) {
    return ((last.pages - first.pages) * 1000) / (last.at - first.at);
  }
  const end = row.finishedAt ?? now;
  return end > row.createdAt ? (row.pages * 1000) / (end - row.createdAt) : 0;
}

/**
 * Crawls: seeds, options and state in the crawl store; their pages as jobs of the `crawl` kind in
 * the queue. A crawl is finished when none of its jobs is queued or in progress.
 */
class Crawls implements CrawlService {
  readonly handler;
  private readonly fetcher: Fetcher;
  private readonly robotsFetcher: Fetcher;
  private readonly politeness: Politeness;
  private readonly holds: HoldLog;
  private readonly bodies: BodyStore;
  private readonly archive: WarcArchive;
  private readonly handlers: HandlerPool;
  private readonly parser: ParsePool;
  private readonly frontiers = new Map<string, Frontier>();
  private readonly rates = new Map<string, { at: number; pages: number }[]>();
  private readonly listeners = new Set<(c: CrawlRecord) => void>();
  private readonly ticker: Ticker;
  /** Records being completed for cancelled crawls: a stop waits for them. */
  private readonly settling = new Set<Promise<void>>();
  /** When each known frontier's state was last read at a tick, by crawl id (Date.now()). */
  private readonly stateReadAt = new Map<string, number>();
  /** Counts this process's own changes of crawls' states: a tick's read that one overtook is not used. */
  private stateChanges = 0;
  /** The crawls running or paused at the last tick, by id: see tick. */
  private lastActive = new Map<string, CrawlRow['state']>();
  /** Why the last tick failed, logged once; null while ticks go through. */
  private tickFault: string | null = null;
  /** Crawls being finished, by id: a tick and the change feed (finishIfEnded) look at once. */
  private readonly ending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly queue: Queue,
    private readonly store: CrawlStore,
    private readonly settings: CrawlSettings,
    private readonly log: Logger,
  ) {
    const fetchOpts = {
      userAgent: settings.userAgent,
      connectTimeoutMs: settings.connectTimeoutMs,
      headersTimeoutMs: settings.headersTimeoutMs,
      bodyTimeoutMs: settings.bodyTimeoutMs,
      totalTimeoutMs: settings.totalTimeoutMs,
    };
    this.fetcher = new Fetcher({ ...fetchOpts, maxBodyBytes: settings.maxBodyBytes, maxRedirects: settings.maxRedirects });
    // RFC 9309: follow at least five redirects for robots.txt; parse at least 500 KiB of it.
    this.robotsFetcher = new Fetcher({ ...fetchOpts, maxBodyBytes: 1024 * 1024, maxRedirects: 5 });
    // A hold's end is on the queue's clock (the server's, on PostgreSQL), as Politeness sets it.
    this.holds = new HoldLog(log, () => queue.now());
    this.politeness = new Politeness(queue, this.store, this.robotsFetcher, settings, this.holds);
    this.bodies = new BodyStore(settings.bodiesDir);
    this.archive = new WarcArchive(settings.warcDir, { userAgent: settings.userAgent, robots: settings.robots }, settings.warcFileBytes);
    void this.bodies.sweep();
    this.handlers = new HandlerPool(log, settings.workspaceDir, settings.handlerLimits);
    this.parser = new ParsePool(settings.parseThreads);
    this.handler = pageHandler({
      fetcher: this.fetcher,
      addressCheck: new AddressCheck(),
      politeness: this.politeness,
      settings,
      frontierOf: (id) => this.frontierOf(id),
      bodiesFor: (frontier) => (frontier?.options.storeBodies ? this.bodies : null),
      archive: this.archive,
      handlers: this.handlers,
      parser: this.parser,
      delayOf: () => settings.defaultDelayMs,
      records: settings.pageRecords,
      log,
    });
    // A page's record and its crawl's totals ride on its acknowledgement, in its transaction (on
    // SQLite on the daemon's connection, on PostgreSQL by a function called in its round trip): a
    // page costs one commit, no attempt that did not count leaves a record or a count, and no job
    // is done without them.
    queue.setAckHook(store.ackHook(log));
    this.ticker = new Ticker(
      TICK_MS,
      async () => this.tick(),
      (err) => this.tickFailed(err),
    );
    this.ticker.start();
  }

  async start(p: StartCrawl): Promise<{ crawlId: string; enqueued: number; rejected: Rejected[] }> {
    const options: CrawlOptions = {
      maxDepth: p.maxDepth === undefined ? this.settings.defaultMaxDepth : p.maxDepth,
      maxPages: p.maxPages ?? this.settings.defaultMaxPages,
      scope: p.scope ?? this.settings.defaultScope,
      include: p.include ?? [],
      exclude: p.exclude ?? [],
      followNofollow: p.followNofollow ?? false,
      storeBodies: p.storeBodies ?? false,
      ...(p.warc && { warc: true }),
      ...(p.sitemaps && { sitemaps: true }),
    };
    if (p.extract && Object.keys(p.extract).length > 0) {
      try {
        parseFields(p.extract);
      } catch (err) {
        if (err instanceof ExtractError) throw new QueueError(err.message);
        throw err;
      }
      options.extract = p.extract;
    }
    if (p.handler !== undefined) {
      options.handler = await this.checkHandler(p.handler, p.handlerTimeout);
      if (p.handlerTimeout !== undefined) options.handlerTimeout = p.handlerTimeout;
    } else if (p.handlerTimeout !== undefined) {
      throw new QueueError('handlerTimeout: only with a handler');
    }
    const { valid, rejected } = sortUrls(p.seeds);
    if (valid.length === 0) {
      throw new QueueError(`no valid seed URL: ${rejected.map((r) => `${r.url} (${r.reason})`).join(', ')}`);
    }
    options.addresses = p.addresses ?? this.settings.defaultAddresses ?? (await policyOfSeeds(valid.map((v) => v.host)));
    try {
      compileScope({ seeds: valid.map((v) => v.url), scope: options.scope, include: options.include, exclude: options.exclude });
    } catch (err) {
      if (err instanceof ScopeError) throw new QueueError(err.message);
      throw err;
    }
    const crawlId = `c_${randomBytes(4).toString('hex')}`;
    await this.store.insert({ id: crawlId, name: p.name ?? null, seeds: valid.map((v) => v.url), options, now: this.queue.now() });
    const frontier = (await this.frontierOf(crawlId))!;
    const jobs = valid.map((v) =>
      pageJob(v.url, v.host, {
        crawlId,
        depth: 0,
        robots: this.settings.robots ? this.politeness.cached(new URL(v.url).origin) : null,
        userAgent: this.settings.userAgent,
      }),
    );
    let r;
    try {
      r = await this.queue.enqueue(jobs, { crawlCap: frontier.options.maxPages });
      // Each seed host's robots.txt, read for the sitemaps it names (page.ts): a job, so that a restart
      // loses none, and not capped, as max pages is for the crawl's pages.
      if (options.sitemaps) {
        const origins = new Map(valid.map((v) => [originOf(v.url), v.host]));
        await this.queue.enqueue([...origins].map(([origin, host]) => sitemapJob(`${origin}/robots.txt`, host, frontier, 'robots')));
      }
    } catch (err) {
      // No seed made it in: the crawl would wait for them forever.
      await this.store.setState(crawlId, 'cancelled', this.queue.now()).catch(() => {});
      this.stateChanged(crawlId, null);
      throw err;
    }
    this.emit(crawlId);
    this.log('info', `crawl ${named(crawlId, p.name ?? null)} started: ${valid.length} seed(s), ${r.enqueued} enqueued`);
    return { crawlId, enqueued: r.enqueued, rejected };
  }

  /**
   * A crawl's handler: a module in the workspace (a relative path is from it) that a thread imports
   * and finds a function in. Its real path, or a QueueError saying what is wrong.
   */
  private async checkHandler(given: string, timeout: number | undefined): Promise<string> {
    try {
      const file = handlerFile(given, this.settings.workspaceDir ?? '/', this.settings.workspaceDir);
      await this.handlers.check(file, handlerTimeoutMs(timeout));
      return file;
    } catch (err) {
      if (!(err instanceof HandlerError)) throw err;
      throw new QueueError(err.message.startsWith('handler: ') ? err.message : `handler ${given}: ${err.message}`);
    }
  }

  handlerProblem(given: string, base: string): string | null {
    try {
      handlerFile(given, base, this.settings.workspaceDir);
      return null;
    } catch (err) {
      if (err instanceof HandlerError) return err.message;
      throw err;
    }
  }

  async list(): Promise<CrawlRecord[]> {
    return Promise.all((await this.store.list()).map((row) => this.record(row)));
  }

  async get(crawlId: string): Promise<CrawlRecord> {
    return this.record(await this.row(crawlId));
  }

  async pause(crawlId: string): Promise<CrawlRecord> {
    const row = await this.row(crawlId);
    if (row.state === 'cancelled' || row.state === 'finished') throw new ConflictError(`crawl ${crawlId} is ${row.state}`);
    await this.store.setState(crawlId, 'paused', null);
    this.stateChanged(crawlId, true);
    await this.queue.holdCrawl(crawlId, true);
    this.log('info', `crawl ${named(crawlId, row.name)} paused`);
    return this.changed(crawlId);
  }

  async resume(crawlId: string): Promise<CrawlRecord> {
    const row = await this.row(crawlId);
    if (row.state === 'cancelled' || row.state === 'finished') throw new ConflictError(`crawl ${crawlId} is ${row.state}; start a new one`);
    await this.store.setState(crawlId, 'running', null);
    this.stateChanged(crawlId, false);
    await this.queue.holdCrawl(crawlId, false);
    this.log('info', `crawl ${named(crawlId, row.name)} resumed`);
    return this.changed(crawlId);
  }

  async cancel(crawlId: string): Promise<{ crawl: CrawlRecord; cancelled: number }> {
    const row = await this.row(crawlId);
    if (row.state === 'cancelled' || row.state === 'finished') return { crawl: await this.record(row), cancelled: 0 };
    // State first: pages in flight then find the crawl gone and enqueue nothing more.
    await this.store.setState(crawlId, 'cancelled', this.queue.now());
    this.stateChanged(crawlId, null);
    const cancelled = await this.queue.cancel({ crawlId });
    // Counted apart from the skipped jobs they became, at once: the crawl's progress says so.
    if (cancelled > 0) await this.store.addCount(crawlId, CANCELLED, cancelled);
    this.log('info', `crawl ${named(crawlId, row.name)} cancelled: ${cancelled} queued page(s) dropped`);
    this.settleInBackground(crawlId);
    // Its file closed (a page in flight that lands after this begins another).
    void this.archive.finish(crawlId).catch(() => undefined);
    return { crawl: await this.changed(crawlId), cancelled };
  }

  async enqueue(p: EnqueueUrls): Promise<{ enqueued: number; duplicates: number; ids: number[]; rejected: Rejected[] }> {
    const { valid, rejected } = sortUrls(p.urls);
    let frontier: Frontier | null = null;
    if (p.crawlId !== undefined) {
      const row = await this.row(p.crawlId);
      if (row.state === 'cancelled') throw new ConflictError(`crawl ${p.crawlId} is cancelled`);
      frontier = this.frontierFor(row);
    }
    const jobs: NewJob[] = valid.map((v) =>
      pageJob(v.url, v.host, {
        crawlId: p.crawlId ?? null,
        depth: p.crawlId ? 0 : null,
        priority: p.priority,
        maxAttempts: p.maxAttempts,
        // Added to a paused crawl: held with the rest of it until it resumes.
        runAfter: frontier?.paused ? HELD : 0,
        robots: this.settings.robots ? this.politeness.cached(new URL(v.url).origin) : null,
        userAgent: this.settings.userAgent,
      }),
    );
    const r = await this.queue.enqueue(jobs, { crawlCap: frontier?.options.maxPages });
    if (frontier && r.enqueued > 0) await this.reopen(frontier.crawlId);
    return { enqueued: r.enqueued, duplicates: r.duplicates + r.capped, ids: r.ids.filter((id): id is number => id !== null), rejected };
  }

  async requeue(filter: RequeueFilter): Promise<number> {
    // A paused crawl's jobs go back held with it: a requeue of every failed job (or of a reason,
    // or a host) would otherwise set them running while their crawl is paused.
    const paused = (await this.store.active()).filter((r) => r.state === 'paused').map((r) => r.id);
    const n = await this.queue.requeue({ ...filter, heldCrawls: paused });
    if (n > 0) await this.reopen(filter.crawlId);
    return n;
  }

  /**
   * A finished crawl that has work again (URLs added, jobs requeued) is running again, so that its
   * state and its figures agree; its end is then watched for as before. Without an id, every
   * finished crawl is looked at (a requeue by ids, state or host may touch any of them).
   */
  private async reopen(crawlId?: string): Promise<void> {
    const rows = crawlId ? [await this.store.get(crawlId)] : await this.store.list();
    for (const row of rows) {
      if (row?.state !== 'finished') continue;
      const c = await this.queue.crawlStats(row.id);
      if (c.queued + c.in_progress === 0) continue;
      await this.store.setState(row.id, 'running', null);
      this.log('info', `crawl ${named(row.id, row.name)} running again: ${c.queued + c.in_progress} page(s) to fetch`);
      this.emit(row.id);
    }
  }

  async hosts(opts: { limit?: number; defaultLimit: number }): Promise<HostRecord[]> {
    const now = this.queue.now();
    const keys = await this.queue.keys({ ...opts, defaultDelayMs: this.settings.defaultDelayMs });
    return keys.map((k) => {
      const base = { host: k.key, limit: k.limit, inFlight: k.inFlight, queued: k.queued, done: k.done, error: k.error };
      if (k.deferredUntil !== null && k.deferredUntil > now) return { ...base, state: 'backoff', until: k.deferredUntil, reason: k.deferReason };
      if (k.inFlight >= k.limit) return { ...base, state: 'busy', until: null, reason: `${k.inFlight} of ${k.limit} requests in flight` };
      if (k.nextStartAt !== null && k.nextStartAt > now) {
        return { ...base, state: 'delayed', until: k.nextStartAt, reason: `minimum delay of ${k.minDelayMs} ms between requests` };
      }
      // An origin's unreadable robots.txt holds its pages, not the host: shown when nothing else of the host runs.
      const held = this.politeness.heldOrigin(k.key);
      if (held !== null) return { ...base, state: 'blocked', until: held.until, reason: `${held.origin}: ${held.reason}` };
      return { ...base, state: 'ready', until: null, reason: null };
    });
  }

  async pages(crawlId: string, q: PagesRequest): Promise<{ pages: PageInfo[]; nextCursor: string | null }> {
    await this.row(crawlId);
    const limit = q.limit ?? 100;
    const rows = await this.store.pages.pages(crawlId, { after: clientCursor(() => parsePagesCursor(q.cursor)), limit, status: q.status, search: q.search });
    return { pages: await withChains(this.store.pages, crawlId, rows), nextCursor: pagesCursor(rows, limit) };
  }

  async page(crawlId: string, url: string): Promise<PageDetail> {
    const row = await this.row(crawlId);
    const pages = this.store.pages;
    // As given, else as the crawl stores URLs (normalized): a URL pasted from a browser finds its record.
    let found = await pages.page(crawlId, url);
    const normalized = normalizeUrl(url.trim());
    if (!found && normalized.ok) found = await pages.page(crawlId, normalized.url);
    if (!found) throw new NotFoundError(`crawl ${crawlId} has no record of ${url.slice(0, 200)}`);
    const [page] = await withChains(pages, crawlId, [found]);
    const inlinks = await pages.inlinks(crawlId, found.url, INLINKS_SHOWN);
    const outlinks: PageDetail['outlinks'] = [];
    for (let after: string | null = null; ;) {
      const batch = await pages.links(crawlId, { after, limit: 1000, from: found.url });
      for (const l of batch) outlinks.push({ url: l.to, text: l.text, ...linkFate(l, row.state) });
      if (batch.length < 1000) break;
      after = batch[batch.length - 1].cursor;
    }
    return { page, inlinks: inlinks.links, inlinkCount: inlinks.count, outlinks };
  }

  async links(crawlId: string, q: LinksRequest): Promise<{ links: LinkRecord[]; nextCursor: string | null }> {
    const row = await this.row(crawlId);
    const limit = q.limit ?? 100;
    const after = q.cursor ?? null;
    clientCursor(() => parseLinkCursor(after));
    const rows = await this.store.pages.links(crawlId, { after, limit, from: q.from, to: q.to });
    return {
      links: rows.map((l) => ({ from: l.from, to: l.to, text: l.text, ...linkFate(l, row.state) })),
      nextCursor: rows.length === limit ? rows[rows.length - 1].cursor : null,
    };
  }

  async rateHistory(crawlId: string, since: number | null, bucketSeconds: number): Promise<{ bucketSeconds: number; buckets: RateBucket[] }> {
    await this.row(crawlId);
    const window = RATE_BUCKETS * bucketSeconds * 1000;
    // fetchedAt is the fetching process's clock (Date.now()), as is the default window's end.
    const from = since ?? Date.now() - window;
    return { bucketSeconds, buckets: await this.store.pages.rates(crawlId, from, from + window, bucketSeconds * 1000) };
  }

  async report(crawlId: string): Promise<CrawlReport> {
    await this.row(crawlId);
    const pages = this.store.pages;
    const c = await pages.reportCounts(crawlId);
    const byStatus: Record<string, number> = {};
    const byContentType: Record<string, number> = {};
    const hosts = new Map<string, { pages: number; errors: number; ms: number; timed: number }>();
    let total = 0;
    let missingTitles = 0;
    let redirectCount = 0;
    let brokenCount = 0;
    const add = (to: Record<string, number>, key: string, n: number) => {
      to[key] = (to[key] ?? 0) + n;
    };
    for (const g of c.groups) {
      total += g.pages;
      add(byStatus, g.status, g.pages);
      // With a response: a status that is a number.
      const code = Number(g.status);
      if (Number.isInteger(code)) add(byContentType, g.contentType || 'none', g.pages);
      if (code >= 300 && code < 400) redirectCount += g.pages;
      const h = hosts.get(g.host) ?? { pages: 0, errors: 0, ms: 0, timed: 0 };
      h.pages += g.pages;
      h.errors += g.failed;
      brokenCount += g.failed;
      h.ms += g.fetchMsSum;
      h.timed += g.fetchMsCount;
      hosts.set(g.host, h);
      missingTitles += g.missingTitles;
    }
    const broken = [...c.broken].sort((a, b) => b.referrerCount - a.referrerCount || (a.url < b.url ? -1 : 1)).slice(0, REPORT_LISTED);
    const referrers = await pages.referrers(
      broken.map((b) => b.urlId),
      REFERRERS_SHOWN,
    );
    const chains = await redirectChains(pages, crawlId, c.redirects);
    return {
      crawlId,
      pages: total,
      byStatus: Object.fromEntries(Object.entries(byStatus).sort(([a], [b]) => (a < b ? -1 : 1))),
      byContentType,
      byHost: [...hosts]
        .map(([host, h]) => ({ host, pages: h.pages, errors: h.errors, meanFetchMs: h.timed ? Math.round(h.ms / h.timed) : null }))
        .sort((a, b) => b.pages - a.pages || (a.host < b.host ? -1 : 1)),
      brokenLinks: broken.map((b) => ({
        url: b.url,
        status: b.status,
        error: b.error,
        referrerCount: b.referrerCount,
        referrers: referrers.get(b.urlId) ?? [],
        foundOn: b.foundOn,
      })),
      brokenCount,
      redirects: c.redirects.map((r) => ({ url: r.url, finalUrl: chains.get(r.url)?.finalUrl ?? null, status: r.status })),
      redirectCount,
      slowest: c.slowest,
      largest: c.largest,
      missingTitles,
    };
  }

  async pageOfJob(job: Job): Promise<PageInfo | null> {
    if (job.crawlId === null) return null;
    const row = await this.store.pages.page(job.crawlId, job.url);
    return row ? (await withChains(this.store.pages, job.crawlId, [row]))[0] : null;
  }

  /**
   * Records for the jobs of a crawl that ended without their handler's (a worker lost too often,
   * robots.txt known to forbid them when they were found); records already written are kept.
   * Jobs cancelled with their crawl never ended on their own and get none.
   */
  private async settle(crawlId: string): Promise<void> {
    if (!this.settings.pageRecords) return;
    for (const state of ['error', 'skipped'] as const) {
      let cursor: string | null = null;
      do {
        const page = await this.queue.list({ crawlId, state, limit: 1000, cursor });
        const writes = page.jobs.filter((j) => j.lastError !== 'cancelled').map((j) => settledPage(j, crawlId));
        await writeRecords(this.store.pages, writes, true, this.log);
        cursor = page.nextCursor;
      } while (cursor !== null);
    }
  }

  private settleInBackground(crawlId: string): void {
    const settling = this.settle(crawlId)
      .catch((err) => this.log('warn', `page records of crawl ${crawlId} could not be completed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => this.settling.delete(settling));
    this.settling.add(settling);
  }

  onCrawlChanged(listener: (crawl: CrawlRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.ticker.stop();
    await Promise.all(this.settling);
    this.listeners.clear();
    await Promise.all([this.fetcher.close(), this.robotsFetcher.close(), this.archive.close(), this.handlers.close(), this.parser.close()]);
  }

  /** A crawl's WARC files, oldest first. */
  async warcFiles(crawl: Pick<CrawlRecord, 'id' | 'options'>): Promise<WarcFile[]> {
    // crawlctl's progress asks for its crawl every second: the folder is read only for a crawl that writes there.
    if (!crawl.options.warc) return [];
    try {
      return await this.archive.files(crawl.id);
    } catch (err) {
      // The folder unreadable (its permissions changed by hand): crawl/get answers without the list.
      this.log('warn', `the WARC files of crawl ${crawl.id} could not be listed: ${(err as Error).message}`);
      return [];
    }
  }

  /** The crawl's frontier while it may still grow; rebuilt from the store after a restart. */
  private async frontierOf(crawlId: string): Promise<Frontier | null> {
    const known = this.frontiers.get(crawlId);
    if (known && Date.now() - (this.stateReadAt.get(crawlId) ?? -Infinity) < STATE_FRESH_MS) return known;
    // A frontier built once needs only the crawl's state after: paused, resumed or cancelled,
    // perhaps by another process.
    const state = known ? await this.store.state(crawlId) : undefined;
    if (known && state !== null && state !== 'cancelled') {
      known.paused = state === 'paused';
      return known;
    }
    const row = state === undefined ? await this.store.get(crawlId) : null;
    if (!row || row.state === 'cancelled') {
      this.frontiers.delete(crawlId);
      return null;
    }
    return this.frontierFor(row);
  }

  /** This process paused (true), resumed (false) or cancelled (null) a crawl: its pages see it at once. */
  private stateChanged(crawlId: string, paused: boolean | null): void {
    this.stateChanges++;
    const f = this.frontiers.get(crawlId);
    if (f && paused !== null) f.paused = paused;
    if (paused === null) {
      this.frontiers.delete(crawlId);
      this.stateReadAt.delete(crawlId);
    }
  }

  /** The states just read with the active crawls, for the frontiers known here (frontierOf). */
  private statesRead(rows: readonly CrawlRow[], changesBefore: number): void {
    if (this.stateChanges !== changesBefore) return;
    const at = Date.now();
    const active = new Set<string>();
    for (const row of rows) {
      active.add(row.id);
      const f = this.frontiers.get(row.id);
      if (!f) continue;
      f.paused = row.state === 'paused';
      this.stateReadAt.set(row.id, at);
    }
    // Finished, cancelled or gone: its pages read the state themselves again.
    for (const id of this.stateReadAt.keys()) if (!active.has(id)) this.stateReadAt.delete(id);
  }

  private frontierFor(row: CrawlRow): Frontier {
    const crawlId = row.id;
    let f = this.frontiers.get(crawlId);
    if (!f) {
      f = {
        crawlId,
        options: row.options,
        paused: false,
        scope: compileScope({ seeds: row.seeds, scope: row.options.scope, include: row.options.include, exclude: row.options.exclude }),
      };
      this.frontiers.set(crawlId, f);
    }
    f.paused = row.state === 'paused';
    return f;
  }

  private async row(crawlId: string): Promise<CrawlRow> {
    const row = await this.store.get(crawlId);
    if (!row) throw new NotFoundError(`no crawl ${crawlId}`);
    return row;
  }

  /** Finishes running crawls with nothing left queued or in flight. */
  private async tick(): Promise<void> {
    const changes = this.stateChanges;
    const rows = await this.store.active();
    this.statesRead(rows, changes);
    // A crawl another process finished, cancelled, paused or resumed changes nothing here that
    // emits: its change is seen as it leaves the active set or changes state in it, or the jobs
    // view and a seed file's lens would show it running for good.
    const active = new Map(rows.map((r) => [r.id, r.state]));
    for (const [id, state] of this.lastActive) if (active.get(id) !== state) this.emit(id);
    this.lastActive = active;
    for (const row of rows) {
      this.sampleRate(row);
      if (row.state === 'running') await this.finishEnded(row);
    }
    await this.politeness.sweep();
    this.holds.forgetStale();
    if (this.tickFault !== null) {
      this.log('info', `crawl bookkeeping works again (after: ${this.tickFault})`);
      this.tickFault = null;
    }
  }

  async finishIfEnded(crawlId: string): Promise<boolean> {
    const row = await this.store.get(crawlId);
    return row?.state === 'running' ? this.finishEnded(row) : false;
  }

  /** Finishes a running crawl with nothing left queued or in flight; true when this call did. */
  private finishEnded(row: CrawlRow): Promise<boolean> {
    let ending = this.ending.get(row.id);
    if (!ending) {
      ending = this.finishNow(row).finally(() => this.ending.delete(row.id));
      this.ending.set(row.id, ending);
    }
    return ending;
  }

  private async finishNow(row: CrawlRow): Promise<boolean> {
    const s = await this.queue.crawlStats(row.id);
    const seeding = s.total === 0 && this.queue.now() - row.createdAt < SEEDING_GRACE_MS;
    if (s.queued !== 0 || s.in_progress !== 0 || seeding) return false;
    // Records complete (and its WARC file closed) before the crawl reads finished, so its report is whole when it does.
    await this.settle(row.id);
    await this.archive.finish(row.id);
    if (!(await this.store.finish(row.id, this.queue.now()))) return false;
    // Its totals as its last pages' acknowledgements left them (the row was read before they may have committed).
    const pages = (await this.store.get(row.id))?.pages ?? row.pages;
    this.log(
      'info',
      `crawl ${named(row.id, row.name)} finished: ${pages} page(s) fetched, ${s.error} error(s), ${s.skipped} skipped, in ${duration(this.queue.now() - row.createdAt)}`,
    );
    this.frontiers.delete(row.id);
    this.stateReadAt.delete(row.id);
    this.emit(row.id);
    // Emitted here: not again as it leaves the active set at the next tick.
    this.lastActive.delete(row.id);
    return true;
  }

  /** Logged once per cause, not once per tick (four a second). */
  private tickFailed(err: unknown): void {
    const why = err instanceof Error ? err.message : String(err);
    if (why !== this.tickFault) this.log('warn', `crawl bookkeeping failed: ${why}`);
    this.tickFault = why;
  }

  private sampleRate(row: CrawlRow): void {
    const now = Date.now();
    const samples = this.rates.get(row.id) ?? [];
    samples.push({ at: now, pages: row.pages });
    while (samples.length > 2 && samples[0].at < now - RATE_WINDOW_MS) samples.shift();
    this.rates.set(row.id, samples);
  }

  private async record(row: CrawlRow): Promise<CrawlRecord> {
    const counts = await this.queue.crawlStats(row.id);
    const { [FROM_SITEMAPS]: fromSitemaps = 0, [SITEMAPS_READ]: sitemapsRead = 0, [CANCELLED]: cancelled = 0, ...dropped } = await this.store.dropped(row.id);
    if (counts.capped > 0) dropped[DROP.pages] = counts.capped;
    const stats: Stats = {
      queued: counts.queued,
      in_progress: counts.in_progress,
      done: counts.done,
      skipped: counts.skipped,
      error: counts.error,
      total: counts.total,
    };
    return {
      id: row.id,
      name: row.name,
      seeds: row.seeds,
      options: row.options,
      state: row.state,
      counts: stats,
      cancelled,
      pages: row.pages,
      bytes: row.bytes,
      dropped,
      fromSitemaps,
      sitemapsRead,
      pagesPerSecond: Math.round(pagesPerSecond(row, this.rates.get(row.id) ?? [], this.queue.now(), counts.in_progress) * 10) / 10,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
    };
  }

  private async changed(crawlId: string): Promise<CrawlRecord> {
    const rec = await this.get(crawlId);
    for (const l of this.listeners) l(rec);
    return rec;
  }

  private emit(crawlId: string): void {
    if (this.listeners.size === 0) return;
    void this.changed(crawlId).catch(() => {});
  }
}

/** A crawl in the log: "name (id)", as everywhere a crawl is shown. */
function named(id: string, name: string | null): string {
  return name === null ? id : `${JSON.stringify(name)} (${id})`;
}

function duration(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s`;
}

/** A client's cursor, read; one that is not ours is a bad parameter, not a server error. */
function clientCursor<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof RangeError) throw new QueueError(err.message);
    throw err;
  }
}

/** The count of its queued jobs cancelled with a crawl, kept among its named counters (crawl_dropped). */
const CANCELLED = '(cancelled)';

/** Links to a page shown with its record (crawl/page), and referrers with each broken link (crawl/report). */
const INLINKS_SHOWN = 1_000;
const REFERRERS_SHOWN = 100;

/** The record of a job that ended without its handler writing one: what the job row knows. */
function settledPage(j: Job, crawlId: string): PageWrite {
  const status = typeof j.result?.status === 'number' ? j.result.status : null;
  return {
    crawlId,
    url: j.url,
    host: j.key,
    jobId: j.id,
    depth: j.depth,
    status,
    error: j.lastError,
    skipped: j.state === 'skipped',
    redirectTo: null,
    via: (j.payload as PagePayload | null)?.via ?? [],
    contentType: j.result?.contentType ?? null,
    bytes: j.result?.bytes ?? null,
    fetchMs: j.result?.durationMs ?? null,
    fetchedAt: status === null ? null : j.finishedAt,
    title: j.result?.title ?? null,
    description: null,
    canonical: null,
    robots: null,
    lang: null,
    sha256: null,
    data: null,
    lastmod: (j.payload as PagePayload | null)?.lastmod ?? null,
    linked: (j.depth ?? 0) > 0 || foundBySitemap(j.payload),
    links: null,
  };
}

/** Splits input URLs into normalized valid ones and rejected ones with the reason. */
function sortUrls(urls: readonly string[]): { valid: { url: string; host: string }[]; rejected: Rejected[] } {
  const valid: { url: string; host: string }[] = [];
  const rejected: Rejected[] = [];
  for (const url of urls) {
    const n = typeof url === 'string' ? normalizeUrl(url.trim()) : { ok: false as const, reason: 'not a string' };
    if (n.ok) valid.push({ url: n.url, host: n.host });
    else rejected.push({ url: String(url).slice(0, 200), reason: n.reason });
  }
  return { valid, rejected };
}

export function createCrawlService(queue: Queue, store: CrawlStore, settings: Partial<CrawlSettings> = {}, log: Logger = () => {}): CrawlService {
  return new Crawls(queue, store, { ...DEFAULT_CRAWL_SETTINGS, ...settings }, log);
}

export { CRAWL_KIND };
