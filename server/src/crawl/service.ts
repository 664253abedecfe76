/**
 * What the crawl kind offers the layers above it (the daemon's RPC methods, the language server):
 * crawls started, inspected, paused, resumed and cancelled; standalone URLs enqueued; hosts with
 * their politeness state. Times are milliseconds since the epoch; the daemon turns them into
 * the wire's ISO strings.
 */
import type { AddressPolicy, CrawlOptions, CrawlState, Host, Rejected, Scope } from '../protocol';
import type { Handler } from '../core/scheduler';
import type { RequeueFilter, Stats } from '../core/types';

export interface StartCrawl {
  seeds: string[];
  name?: string;
  /** Undefined: the daemon's default; null: no limit. */
  maxDepth?: number | null;
  maxPages?: number;
  scope?: Scope;
  include?: string[];
  exclude?: string[];
  followNofollow?: boolean;
  storeBodies?: boolean;
  addresses?: AddressPolicy;
}

export interface CrawlRecord {
  id: string;
  name: string | null;
  seeds: string[];
  options: CrawlOptions;
  state: CrawlState;
  counts: Stats;
  pages: number;
  bytes: number;
  dropped: Record<string, number>;
  pagesPerSecond: number;
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
  /** Called when a crawl's state changes (started, paused, resumed, cancelled, finished). */
  onCrawlChanged(listener: (crawl: CrawlRecord) => void): () => void;
  close(): Promise<void>;
}
