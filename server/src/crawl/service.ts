/**
 * What the crawl kind offers the layers above it (the daemon's RPC methods, the language server):
 * crawls started, inspected, paused, resumed and cancelled; standalone URLs enqueued; hosts with
 * their politeness state. Times are milliseconds since the epoch; the daemon turns them into
 * the wire's ISO strings.
 */
import type { CrawlOptions, CrawlReport, CrawlState, Host, LinkRecord, ParamsOf, Rejected, StatusClass, WarcFile } from '../protocol';
import type { Handler } from '../core/scheduler';
import type { Job, RequeueFilter, Stats } from '../core/types';
import type { PageInfo, RateBucket } from './pages';

/** A crawl to start: crawl/start's params, as the contract has them. */
export type StartCrawl = ParamsOf<'crawl/start'>;

export interface CrawlRecord {
  id: string;
  name: string | null;
  seeds: string[];
  options: CrawlOptions;
  state: CrawlState;
  counts: Stats;
  /** Of its skipped jobs, those cancelled with it. */
  cancelled: number;
  pages: number;
  bytes: number;
  dropped: Record<string, number>;
  pagesPerSecond: number;
  /** URLs its sitemaps put in the queue. */
  fromSitemaps: number;
  /** Of its pages, those that were sitemaps read, and robots.txt read for their names. */
  sitemapsRead: number;
  createdAt: number;
  finishedAt: number | null;
}

/** A host as the wire shows it, with its time in epoch milliseconds. */
export type HostRecord = Omit<Host, 'until'> & { until: number | null };

export interface EnqueueUrls {
  urls: string[];
  crawlId?: string;
  priority?: number;
  maxAttempts?: number;
}

export interface PagesRequest {
  cursor?: string | null;
  limit?: number;
  status?: number | StatusClass;
  search?: string;
}

export interface LinksRequest {
  cursor?: string | null;
  limit?: number;
  from?: string;
  to?: string;
}

export interface PageDetail {
  page: PageInfo;
  inlinks: { url: string; text: string }[];
  inlinkCount: number;
  outlinks: { url: string; text: string; followed: boolean; reason: LinkRecord['reason'] }[];
}

export interface CrawlService {
  /** The `crawl` job kind's handler, for the scheduler. */
  readonly handler: Handler;
  start(p: StartCrawl): Promise<{ crawlId: string; enqueued: number; rejected: Rejected[] }>;
  list(): Promise<CrawlRecord[]>;
  /** Throws NotFoundError for an unknown id. */
  get(crawlId: string): Promise<CrawlRecord>;
  pause(crawlId: string): Promise<CrawlRecord>;
  /** Throws ConflictError for a cancelled or finished crawl. */
  resume(crawlId: string): Promise<CrawlRecord>;
  cancel(crawlId: string): Promise<{ crawl: CrawlRecord; cancelled: number }>;
  /** Valid URLs are enqueued even when others in the same call are rejected. */
  enqueue(p: EnqueueUrls): Promise<{ enqueued: number; duplicates: number; ids: number[]; rejected: Rejected[] }>;
  /** Jobs sent round again (jobs/requeue); a finished crawl that gets work back is running again. */
  requeue(filter: RequeueFilter): Promise<number>;
  hosts(opts: { limit?: number; defaultLimit: number }): Promise<HostRecord[]>;
  /** A crawl's page records a page at a time; throws NotFoundError for an unknown crawl. */
  pages(crawlId: string, q: PagesRequest): Promise<{ pages: PageInfo[]; nextCursor: string | null }>;
  /** One page's record and links; NotFoundError when the crawl has no record of the URL. */
  page(crawlId: string, url: string): Promise<PageDetail>;
  links(crawlId: string, q: LinksRequest): Promise<{ links: LinkRecord[]; nextCursor: string | null }>;
  report(crawlId: string): Promise<CrawlReport>;
  /** The crawl's pages over time by their fetchedAt (crawl/rates), at most RATE_BUCKETS buckets back from now. */
  rateHistory(crawlId: string, since: number | null, bucketSeconds: number): Promise<{ bucketSeconds: number; buckets: RateBucket[] }>;
  /** The record of a crawl's job, once it has one. */
  pageOfJob(job: Job): Promise<PageInfo | null>;
  /**
   * What is wrong with the handler a crawl would name (a path from `base`), as crawl/start checks
   * where it is; null when nothing is (its code is checked when the crawl starts).
   */
  handlerProblem(given: string, base: string): string | null;
  /** A crawl's WARC files, oldest first (none for a crawl without `warc`). */
  warcFiles(crawl: Pick<CrawlRecord, 'id' | 'options'>): Promise<WarcFile[]>;
  /**
   * Finishes the crawl now if it runs with nothing left queued or in flight, as a tick of the
   * crawl service would within 250 ms; true when this call did. The change feed asks it of the
   * crawls whose jobs moved, so that a crawl's end goes out with its last job's change.
   */
  finishIfEnded(crawlId: string): Promise<boolean>;
  /** Called when a crawl's state changes (started, paused, resumed, cancelled, finished). */
  onCrawlChanged(listener: (crawl: CrawlRecord) => void): () => void;
  close(): Promise<void>;
}
