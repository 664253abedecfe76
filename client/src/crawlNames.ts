/**
 * What the Jobs view calls each crawl: every crawl's name as learnt (crawl/list, crawl/changed,
 * crawl/get; names never change), and the label job rows use for each (crawlLabels of them all,
 * made again when one is learnt). crawl/list is asked only for a crawl still unknown (one started
 * before the view, or whose notification was missed), one request at a time, and not again for a
 * while after one failed.
 */
import type { Crawl, Job, JobState } from '../../server/src/protocol';
import { DaemonUnavailable, type DaemonApi } from './daemonApi';
import type { JobsFilter } from './jobPages';
import { crawlLabel, crawlLabels, mixesCrawls } from './jobsTreeText';

/** After a crawl/list fails, none is asked again for this long, doubling up to the most below. */
export const CRAWL_LIST_BACKOFF_MS = 5_000;
const CRAWL_LIST_BACKOFF_MAX_MS = 60_000;

type Named = Pick<Crawl, 'crawlId' | 'name'> & Partial<Pick<Crawl, 'counts'>>;

export class CrawlNames {
  private readonly known = new Map<string, Named>();
  private labels = new Map<string, string>();
  /** The one crawl/list in flight: groups read together share it. */
  private listing: Promise<void> | undefined;
  /** When a crawl/list may be asked again after a failure (the clock's time), and after how long the next time. */
  private listAfter = 0;
  private backoff = CRAWL_LIST_BACKOFF_MS;

  constructor(
    private readonly daemon: DaemonApi,
    private readonly now: () => number,
  ) {}

  learn(crawls: readonly Named[]): void {
    const before = this.known.size;
    for (const { crawlId, name, counts } of crawls) {
      const known = this.known.get(crawlId);
      if (!known) this.known.set(crawlId, { crawlId, name, counts });
      else if (counts) known.counts = counts;
    }
    if (this.known.size !== before) this.labels = crawlLabels([...this.known.values()]);
  }

  /** A crawl as "name (id)" (its id when it has no name, or its name cannot be read), for messages. */
  async title(crawlId: string): Promise<string> {
    const crawl = await this.crawl(crawlId);
    return crawl ? crawlLabel(crawl) : crawlId;
  }

  /** A crawl's name, read with every crawl's if not known yet; undefined when it cannot be read. */
  async crawl(crawlId: string): Promise<Named | undefined> {
    if (!this.known.has(crawlId)) await this.list().catch(() => undefined);
    return this.known.get(crawlId);
  }

  /**
   * How rows listed together name their crawl: by their labels when they come from several, or
   * when their group (`filter`, not one crawl's) holds jobs of several crawls as last counted (a Done
   * group's newest rows, all of the crawl running, above those of the crawls before it); else not at all.
   */
  async namer(jobs: Job[], filter: JobsFilter = {}): Promise<(job: Job) => string | undefined> {
    if (filter.crawlId !== undefined) return () => undefined;
    if (jobs.some((j) => j.crawlId !== null && !this.known.has(j.crawlId))) {
      try {
        await this.list();
      } catch (err) {
        if (err instanceof DaemonUnavailable) throw err;
        // The rows go on without names rather than not at all; the ids stand in.
      }
    }
    if (!mixesCrawls(jobs) && !this.severalWith(filter.state)) return () => undefined;
    return (job) => (job.crawlId === null ? undefined : (this.labels.get(job.crawlId) ?? job.crawlId));
  }

  /** Whether more than one crawl known had jobs in `state` when last counted. */
  private severalWith(state: JobState | undefined): boolean {
    if (state === undefined) return false;
    let crawls = 0;
    for (const c of this.known.values()) if ((c.counts?.[state] ?? 0) > 0 && ++crawls > 1) return true;
    return false;
  }

  /** Reads every crawl's name; while backing off after a failure, resolves at once and the names stay unknown. */
  private list(): Promise<void> {
    if (this.listing) return this.listing;
    if (this.now() < this.listAfter) return Promise.resolve();
    const listing = this.daemon
      .request('crawl/list', {})
      .then(
        ({ crawls }) => {
          this.backoff = CRAWL_LIST_BACKOFF_MS;
          this.learn(crawls);
        },
        (err: unknown) => {
          // No daemon at all is the view's to show (it empties), and not a reason to wait once one is back.
          if (!(err instanceof DaemonUnavailable)) {
            this.listAfter = this.now() + this.backoff;
            this.backoff = Math.min(this.backoff * 2, CRAWL_LIST_BACKOFF_MAX_MS);
          }
          throw err;
        },
      )
      .finally(() => {
        this.listing = undefined;
      });
    this.listing = listing;
    return listing;
  }
}
