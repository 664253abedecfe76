/**
 * A Jobs view group's rows as read from the daemon: a page of jobs/list (several requests for
 * more than its limit, a search's bounded walks), and how long a loaded page waits before it is
 * read again, and the pages the groups have loaded (LoadedPages). The tree (jobsTree.ts) decides
 * which groups a change touched and redraws them.
 */
import { FINISHED_STATES, type Job, type JobState, type ResultOf } from '../../server/src/protocol';
import type { DaemonApi } from './daemonApi';

/** jobs/list's params a group's jobs are read with. */
export interface JobsFilter {
  state?: JobState;
  host?: string;
  crawlId?: string;
  search?: string;
  /** A failure reason's group: its failed jobs (state `error`). */
  reason?: string;
}

/** Rows fetched per page: enough to fill a tall view, little enough to stay instant. */
export const PAGE_SIZE = 100;

/**
 * A loaded group is read again at most once per this many ms per row it holds (and no sooner than
 * MIN_REREAD_MS), so that what the view costs does not grow with the crawl's rate or the rows
 * loaded: at most ~200 rows a second are read and redrawn, however fast jobs finish. With 1,000
 * Done rows loaded, reading them again on every catch-up (four a second) took the crawl from
 * 1,638 pages/s to about 700: the browser drew them, the extension host and the daemon listed them.
 */
export const REREAD_MS_PER_ROW = 5;
/**
 * The same for each request a search's page took to read: each examines up to 50,000 jobs, 9-11 ms
 * of the daemon's thread on SQLite (a text search of 200,000 jobs), so its re-reads take about 1% of it.
 */
export const REREAD_MS_PER_WINDOW = 1_000;
export const MIN_REREAD_MS = 1_000;

/** Finished groups list their newest jobs first: a running crawl's latest results on top. */
const NEWEST_FIRST: ReadonlySet<JobState> = new Set(FINISHED_STATES);

export function listOrder(filter: JobsFilter): { order?: 'newest' } {
  return filter.state !== undefined && NEWEST_FIRST.has(filter.state) ? { order: 'newest' } : {};
}
/** jobs/list's own ceiling per request. */
const MAX_LIMIT = 1000;

export interface Page {
  jobs: Job[];
  nextCursor: string | null;
  /** For a search, the requests it took, each examining up to 50,000 jobs (a re-read makes as many); 0 otherwise. */
  windows: number;
  /** A notification touched it since it was read: re-read as many rows on the next expansion. */
  stale: boolean;
  /** Its group's signature when it was read. */
  signature: string;
  /** When its rows were last read or sent to the view (the provider's clock): either costs as many rows. */
  readAt: number;
  /**
   * A group listed newest first (finished jobs, not a search): the newest id its rows were read
   * down from. Jobs that join the group later are counted (`newerThan`), not listed, so that the
   * rows under the pointer stay put while a crawl runs; "show newest" reads from the top again.
   */
  anchor?: number;
  /**
   * The group's jobs not counted as newer: its count when its rows were read from the top, less
   * the jobs that left it since, plus those that joined it where their id falls (read again from
   * the anchor, or below the rows loaded). What joined it since is its count less this.
   */
  base: number;
  /** The group's count at the last catch-up, less the loaded rows named leaving since: a fall below it is of jobs the rows do not show. */
  seen: number;
  /**
   * Falls of the count taken as jobs left from below the rows (`base` lowered) before any row was
   * named leaving: a row named later was among them, and is not taken off twice. A batch's counts
   * and its job changes may reach the tree in either order.
   */
  fell: number;
  /** Read again down from `anchor` rather than from the newest (the rows loaded changed, not the newest shown). */
  keepAnchor: boolean;
}

/** Where a newest-first page's loaded rows end: jobs of the group below this id wait behind Load more (0: all are loaded). */
export function loadedFloor(page: Pick<Page, 'nextCursor'>): number {
  return page.nextCursor === null ? 0 : Number(page.nextCursor);
}

/** Whether a group's loaded rows stay put as jobs join it (see Page.anchor). */
export function anchors(filter: JobsFilter): boolean {
  return filter.search === undefined && listOrder(filter).order === 'newest';
}

/** How many jobs joined an anchored page's group since its rows were read (0 for a page not anchored). */
export function newerThan(page: Page, total: number | undefined): number {
  return page.anchor === undefined || total === undefined ? 0 : Math.max(0, total - page.base);
}

/**
 * The first `want` rows, in requests of at most jobs/list's limit. A search asks at most once per
 * page wanted: each of its requests examines a bounded number of jobs and may find none, and
 * "Load more" walks on, rather than one read walking the whole queue.
 *
 * Read again (`through`), a search walks as far as its page had: to the cursor it stopped at
 * (`stop`), the matches past it left for Load more as before; or, when it had reached the end,
 * for as many requests as it took then, and no more rows than it held (the end has moved since:
 * a crawl may have queued a million matches).
 */
export async function readPage(
  daemon: DaemonApi,
  filter: JobsFilter,
  want: number,
  through?: { stop: string | null; windows: number },
  /** Newest first: the newest id to list (an anchored page read again), else from the newest there is. */
  from?: number,
): Promise<Pick<Page, 'jobs' | 'nextCursor' | 'windows' | 'stale'>> {
  const jobs: Job[] = [];
  const newest = listOrder(filter).order === 'newest';
  const search = filter.search !== undefined;
  // A cursor lists the ids past it: below it, newest first.
  let cursor: string | null = newest && from !== undefined ? String(from + 1) : null;
  let asks = 0;
  for (;;) {
    const limit = search && through?.stop ? MAX_LIMIT : Math.min(MAX_LIMIT, want - jobs.length);
    const res: ResultOf<'jobs/list'> = await daemon.request('jobs/list', { ...filter, ...listOrder(filter), limit, cursor });
    asks++;
    jobs.push(...res.jobs);
    cursor = res.nextCursor;
    if (search && through?.stop) {
      const stop = through.stop;
      if (cursor !== null && !reached(cursor, stop, newest)) continue;
      // Rows past where the page stopped were not shown: they wait for Load more again.
      const past = (id: number) => (newest ? id < Number(stop) : id > Number(stop));
      if (jobs.some((j) => past(j.id))) {
        const kept = jobs.filter((j) => !past(j.id));
        jobs.length = 0;
        jobs.push(...kept);
        cursor = stop;
      }
      break;
    }
    if (cursor === null || jobs.length >= want) break;
    if (search && asks >= (through ? Math.max(1, through.windows) : Math.ceil(want / PAGE_SIZE))) break;
  }
  return { jobs, nextCursor: cursor, windows: search ? asks : 0, stale: false };
}

/**
 * Whether a job that entered a group's state lands among the rows its page loaded: a group lists
 * by id (finished ones newest first), and its page holds every job of the group from the first
 * listed to the last loaded; one past that waits for Load more, and the rows loaded do not move.
 * A search's page walks windows of the queue, where no id bounds what it holds.
 */
export function withinLoaded(page: Page, filter: JobsFilter, id: number): boolean {
  const last = page.jobs.at(-1)?.id;
  if (filter.search !== undefined || page.nextCursor === null || last === undefined) return true;
  return listOrder(filter).order === 'newest' ? id > last : id < last;
}

/**
 * Whether a jobs/list cursor has reached `stop`: both are ids of the last job a request examined
 * (protocol.ts, jobs/list), met in the listing's order.
 */
function reached(cursor: string, stop: string, newest: boolean): boolean {
  return newest ? Number(cursor) <= Number(stop) : Number(cursor) >= Number(stop);
}

/**
 * How long a loaded page waits before it is read again for a change: longer the more rows it
 * holds, and for a search the more requests it took (each examines up to 50,000 jobs).
 */
export function rereadInterval(page: Page): number {
  return Math.max(MIN_REREAD_MS, page.jobs.length * REREAD_MS_PER_ROW, page.windows * REREAD_MS_PER_WINDOW);
}

/**
 * The pages of rows the groups have loaded, by group id, and the groups a change touched that
 * were read too recently to read again yet (held, see rereadInterval), or whose row alone changed
 * (its count) but would send its rows with it: what the view costs does not grow with the crawl's
 * rate or the rows loaded.
 */
export class LoadedPages {
  private readonly pages = new Map<string, Page>();
  /** Groups whose rows are read again when due. */
  private readonly held = new Set<string>();
  /** Groups redrawn when due, their rows as loaded. */
  private readonly heldRedraws = new Set<string>();

  constructor(private readonly now: () => number) {}

  get(id: string): Page | undefined {
    return this.pages.get(id);
  }

  set(id: string, page: Page): void {
    this.pages.set(id, page);
  }

  entries(): IterableIterator<[string, Page]> {
    return this.pages.entries();
  }

  clear(): void {
    this.pages.clear();
    this.held.clear();
    this.heldRedraws.clear();
  }

  /** Every page read again as the view next asks for it. */
  allStale(): void {
    for (const page of this.pages.values()) page.stale = true;
    this.held.clear();
    this.heldRedraws.clear();
  }

  isHeld(id: string): boolean {
    return this.held.has(id);
  }

  /**
   * A change touched group `id`'s page: it is made stale, to be read again, and true returned;
   * or, read too recently, it is held until its interval has passed, and false returned.
   */
  touch(id: string, page: Page): boolean {
    if (this.now() - page.readAt < rereadInterval(page)) {
      this.held.add(id);
      return false;
    }
    this.held.delete(id);
    this.heldRedraws.delete(id);
    page.stale = true;
    return true;
  }

  /** Holds the redraw of a group whose page was read too recently (true), when redrawing it would send its rows again. */
  holdIfRecent(id: string): boolean {
    const page = this.pages.get(id);
    if (page === undefined || page.stale || this.now() - page.readAt >= rereadInterval(page)) return false;
    this.heldRedraws.add(id);
    return true;
  }

  /** Whether a group's held redraw is due (then no longer held). */
  redrawDue(id: string, page: Page): boolean {
    if (!this.heldRedraws.has(id) || this.now() - page.readAt < rereadInterval(page)) return false;
    this.heldRedraws.delete(id);
    return true;
  }

  /** When the next held page may be read again or its group redrawn, in ms from now; undefined when none is held. */
  heldFor(): number | undefined {
    let soonest: number | undefined;
    for (const id of new Set([...this.held, ...this.heldRedraws])) {
      const page = this.pages.get(id);
      if (!page) continue;
      const wait = Math.max(0, page.readAt + rereadInterval(page) - this.now());
      soonest = soonest === undefined ? wait : Math.min(soonest, wait);
    }
    return soonest;
  }
}
