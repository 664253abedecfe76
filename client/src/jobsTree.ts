/**
 * The Jobs view: the queue grouped by state, by host, by crawl or by failure reason, paged so that
 * a million jobs cost one page of rows, refreshed from the daemon's notifications with ids that
 * survive a refresh (so expansion and selection stay put).
 *
 * Rows, for menus and end-to-end tests (label, then contextValue):
 *   by state   "Queued" "In progress" "Done" "Skipped" "Error" (count as description)  stateGroup.<state>
 *   by host    the host name without port, e.g. "127.0.0.1" or "example.com"         host.<hostState>[ hasFailed]
 *              (description "1/2 in flight · ready · 5 queued · 1 failed")
 *   by crawl   the crawl's name, "name (id)" where crawls share it, else its id      crawl.<crawlState>[ hasFailed]
 *              under a crawl, its states that have jobs, labelled as by state         stateGroup.<state>
 *   by reason  a failure reason, most failed first, e.g. "HTTP 404", "ECONNREFUSED"     reason
 *              (count as description); under it, its failed jobs, newest first
 *   a job      its URL's path and query, e.g. "/docs/a.html?x=1"                      job.<state>
 *              (description "example.com · attempt 1 of 3 · lease 12 s left", "example.com · HTTP 404";
 *              with its crawl's name after the host where rows of several crawls are listed
 *              together: "example.com · docs (c_1a2b) · HTTP 404"; a click shows its details)
 *   paging     "Load more" (description "100 of 5,000 shown")                        loadMore
 *   newer      "1,234 newer — show newest", first under a group listed newest first   newer
 *              whose rows were read before those jobs joined it (its rows stay put)
 *   notes      e.g. "Could not list jobs: ...", "7 jobs outside any crawl"            note
 * States are queued, in_progress, done, skipped, error; host states ready, busy, delayed, backoff,
 * blocked; crawl states running, paused, finished, cancelled. With a filter (a seed file's "Open in
 * jobs view"), the root holds the crawl's state groups, or the given jobs; with a search, the five
 * state groups of the jobs matching it, each described by the matches loaded ("12 shown").
 * Ids: "state:<s>", "host:<h>", "crawl:<id>", "crawl:<id>/state:<s>", "reason:<reason, URI-encoded>",
 * "search/state:<s>", "<group id>/job:<n>", "filter/job:<n>", "<group id>/more", "<group id>/newer", "hosts/more",
 * "reasons/more", "reasons:none" (the note of a queue where nothing failed).
 */
import * as vscode from 'vscode';
import {
  FINISHED_STATES,
  JOB_STATES,
  MAX_REASONS_LISTED,
  type Crawl,
  type Host,
  type Job,
  type JobState,
  type ResultOf,
  type StateCounts,
} from '../../server/src/protocol';
import { CrawlNames } from './crawlNames';
import { LoadedPages, PAGE_SIZE, anchors, listOrder, loadedFloor, newerThan, readPage, withinLoaded, type JobsFilter, type Page } from './jobPages';
import { DaemonUnavailable, type DaemonApi } from './daemonApi';
import { escapeMarkdown, formatCount, plural } from './format';
import {
  STATE_ICONS,
  STATE_LABELS,
  compareHosts,
  countTotal,
  crawlDescription,
  crawlLabel,
  crawlLabels,
  crawlTooltip,
  hostDescription,
  hostTooltip,
  jobDescription,
  jobLabel,
  jobTooltip,
  newestFirst,
  reasonLabel,
  reasonTooltip,
  stateSentence,
  stillIcon,
} from './jobsTreeText';

export type GroupBy = 'state' | 'host' | 'crawl' | 'reason';
export const GROUP_BY: readonly GroupBy[] = ['state', 'host', 'crawl', 'reason'];

export interface GroupNode {
  readonly kind: 'group';
  readonly id: string;
  label: string;
  description: string;
  tooltip: string | undefined;
  icon: vscode.ThemeIcon;
  contextValue: string;
  expanded: boolean;
  /** How many jobs it holds, where known: "100 of 5,000 shown" on its "Load more" row. */
  total: number | undefined;
  /** What the root read says of its jobs; a loaded page read under another one is read again. */
  signature: string;
  /** Selects the jobs listed under it; a crawl row lists state groups instead. */
  filter: JobsFilter;
  crawl?: Crawl;
  host?: Host;
}

export interface JobNode {
  readonly kind: 'job';
  readonly id: string;
  /** Replaced in place when the row is read again: the view keeps the same element. */
  job: Job;
  /** Its crawl as the row names it, when the rows listed with it come from several crawls. */
  crawl: string | undefined;
}

export interface MoreNode {
  readonly kind: 'more';
  readonly id: string;
  /** undefined: more hosts or reasons at the root. */
  readonly parent: GroupNode | undefined;
  shown: number;
  total: number | undefined;
}

/** The first row of a group listed newest first when jobs joined it after its rows were read: they are not listed until asked for. */
export interface NewerNode {
  readonly kind: 'newer';
  readonly id: string;
  readonly parent: GroupNode;
  count: number;
}

export interface NoteNode {
  readonly kind: 'note';
  readonly id: string;
  readonly label: string;
  readonly tooltip: string;
  readonly icon: vscode.ThemeIcon;
}

export type TreeNode = GroupNode | JobNode | MoreNode | NewerNode | NoteNode;

/**
 * Narrows the view to one crawl, to given jobs (a seed file's "Open in jobs view" lens; `from`:
 * where they came from, as the view's message says it, "from a seed file" by default), or to a
 * search's matches.
 */
export type JobsFilterScope = { crawlId: string } | { jobIds: number[]; from?: string } | { search: string };

/** What the daemon's notifications said since the view last caught up with them. */
export interface TreeChanges {
  /** Jobs that changed, with their new state; null when there were too many to list. */
  jobs: Map<number, JobState> | null;
  /** The latest counts, when any came. */
  stats: StateCounts | undefined;
  crawls: Set<string>;
}

export function noChanges(): TreeChanges {
  return { jobs: new Map(), stats: undefined, crawls: new Set() };
}

/** Equal for equal counts in every state (a rate or total beside them aside). */
export function countsKey(counts: StateCounts): string {
  return JOB_STATES.map((s) => counts[s]).join(',');
}

/** Jobs requeued from the view followed at once (see JobsTreeProvider.follow). */
const MAX_FOLLOWED = 1_000;
/** Root rows (hosts, failure reasons) read at first, and more with each "Load more" at the root. */
const ROOT_PAGE = 200;
/** hosts/list's own ceiling. */
const MAX_HOSTS = 10_000;

const HOST_ICONS: Record<Host['state'], [string, string]> = {
  ready: ['circle-large-outline', 'charts.green'],
  busy: ['sync', 'charts.yellow'],
  delayed: ['clock', 'charts.blue'],
  backoff: ['warning', 'charts.orange'],
  blocked: ['circle-slash', 'errorForeground'],
};

const CRAWL_ICONS: Record<Crawl['state'], [string, string]> = {
  running: ['play-circle', 'charts.green'],
  paused: ['debug-pause', 'charts.yellow'],
  finished: ['check-all', 'testing.iconPassed'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

function stateIcon(state: JobState): vscode.ThemeIcon {
  const [id, color] = STATE_ICONS[state];
  return new vscode.ThemeIcon(id, new vscode.ThemeColor(color));
}

/**
 * What a click (or Enter) on a job, "Load more" or "newer" row runs: a command with no arguments,
 * which opens the row selected (JobsView.openSelected). VS Code keeps a row's command arguments
 * under an id that a refresh of the row drops, so a click landing while its row was redrawn (a
 * running job's, every second) failed with "Actual command not found, wanted to execute
 * crawlOrchestrator.showJobDetails /7263" (1 click in 30 during a crawl); a command without
 * arguments is sent as it is, and the click has selected its row before it runs.
 */
export const OPEN_ROW: vscode.Command = { command: 'crawlOrchestrator.openRow', title: 'Open' };

/** A group's icon: its state's, but an empty "In progress" does not spin. */
function groupIcon(state: JobState, count: number): vscode.ThemeIcon {
  return state === 'in_progress' && count === 0 ? icon(['sync', STATE_ICONS.in_progress[1]]) : stateIcon(state);
}

function icon([id, color]: [string, string]): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, new vscode.ThemeColor(color));
}

export class JobsTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private mode: GroupBy;
  /** Group rows are kept and updated in place, so `onDidChangeTreeData.fire(group)` finds them. */
  private readonly groups = new Map<string, GroupNode>();
  /**
   * Job and "Load more" rows by id, kept like the groups: a row handed out again is the same object,
   * so the view finds the element it knows rather than a stranger with its id.
   */
  private readonly rows = new Map<string, JobNode | MoreNode | NewerNode>();
  /** The root rows as last shown, with how each looked: a root read that lists others redraws the root. */
  private rootRows: { node: TreeNode; shown: string }[] | undefined;
  /** Bumped when the filter or grouping changes: a read begun before is not kept (reset). */
  private generation = 0;
  private readonly pages: LoadedPages;
  /**
   * Groups the user expanded or collapsed, by id, kept through filters and regroupings: the view
   * forgets a group it stopped showing (a filtered list has none), and would bring it back as it
   * first was. A collapsed group's rows are not sent when it is redrawn, so nothing holds it back.
   */
  private readonly expansion = new Map<string, boolean>();
  /** How many hosts or reasons the root lists: "Load more" there raises it. */
  private rootLimit = ROOT_PAGE;
  private readonly names: CrawlNames;
  private scope: JobsFilterScope | undefined;
  /** The counts the root rows were last built from (by state, and the crawls' "outside any crawl"). */
  private shownCounts: string | undefined;
  /**
   * Jobs requeued from the view (Requeue Job), until they finish again, with their crawl (undefined:
   * not known): one that joins an anchored group is listed there (see follow).
   */
  private readonly followed = new Map<number, string | null | undefined>();
  private readonly changed = new vscode.EventEmitter<TreeNode | TreeNode[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(
    private readonly daemon: DaemonApi,
    groupBy: GroupBy = 'state',
    private readonly now: () => number = Date.now,
    /** The counts the rest of the editor shows (status bar, badge), which the state groups show too. */
    private readonly counts: () => ResultOf<'queue/stats'> | undefined = () => undefined,
  ) {
    this.mode = groupBy;
    this.names = new CrawlNames(daemon, now);
    this.pages = new LoadedPages(now);
  }

  get groupBy(): GroupBy {
    return this.mode;
  }

  get filter(): JobsFilterScope | undefined {
    return this.scope;
  }

  setGroupBy(mode: GroupBy): void {
    if (mode === this.mode && this.scope === undefined) return;
    this.mode = mode;
    this.scope = undefined;
    this.reset();
  }

  /** The ids of the jobs in a state loaded under a search (the rows its state group shows). */
  loadedJobIds(state: JobState): number[] {
    if (!this.scope || !('search' in this.scope)) return [];
    return this.pages.get(`search/state:${state}`)?.jobs.map((j) => j.id) ?? [];
  }

  /** Shows only a crawl's jobs, or only the given jobs; undefined shows everything again. */
  setFilter(scope: JobsFilterScope | undefined): void {
    this.scope = scope;
    this.reset();
  }

  private reset(): void {
    this.generation++;
    this.groups.clear();
    this.rows.clear();
    this.rootRows = undefined;
    this.pages.clear();
    this.rootLimit = ROOT_PAGE;
    this.changed.fire(undefined);
  }

  /** Re-reads the groups and, as the view asks for them, every expanded group's loaded rows. */
  refresh(): void {
    this.pages.allStale();
    this.changed.fire(undefined);
  }

  /**
   * When the next group held back by REREAD_MS_PER_ROW may be read again, in ms from now; undefined
   * when none is. The view brings a catch-up then.
   */
  heldFor(): number | undefined {
    return this.pages.heldFor();
  }

  /**
   * Catches up with notifications, redrawing only what they change, in one event: groups whose
   * wording moved, and loaded pages that hold a changed job or may have gained one (any page whose
   * group's count moved is read again too, see `jobRows`). The root is redrawn only when it lists
   * other rows than those shown: a redrawn row is made anew in the view, and its click command and
   * pending hover go with it. Returns whether anything is redrawn.
   */
  async update(changes: TreeChanges): Promise<boolean> {
    const { jobs } = changes;
    // Too many changes to name (a fast crawl's batches): any loaded page may hold one, and each is
    // read again when its interval allows, as for named changes. Reading everything again at once
    // sent 1,000 loaded Done rows to the view every second (600 KB each time) during a crawl.
    const redraw = new Set<GroupNode>();
    /**
     * Pages of state groups the named changes left as they were: no loaded row changed, and no job
     * entered among them (a job that finishes does not change again, and leaves only by a requeue,
     * which names it). Their count moves without them being read again. With 1,000 Done rows
     * loaded, every job finishing below them read them all again.
     */
    const unchanged = new Set<Page>();
    for (const [id, page] of this.pages.entries()) {
      const group = this.groups.get(id);
      // Anchored pages follow the counts, read below.
      if (!group || page.stale || page.anchor !== undefined) continue;
      // A reason's group gains a job only with its count (read with the roots whenever a job
      // fails, its page then read again as its signature moved), not with every failure.
      const { state, reason, host } = group.filter;
      const entered =
        jobs !== null && reason === undefined && state !== undefined && [...jobs].some(([job, is]) => is === state && withinLoaded(page, group.filter, job));
      const touched = jobs === null || entered || page.jobs.some((j) => jobs.has(j.id));
      if (!touched && !this.pages.isHeld(id) && state !== undefined && reason === undefined && host === undefined && group.filter.search === undefined) {
        unchanged.add(page);
      }
      if ((touched || this.pages.isHeld(id)) && this.pages.touch(id, page)) redraw.add(group);
      else if (this.pages.redrawDue(id, page)) redraw.add(group);
    }
    const shownRoots = this.rootRows;
    if (shownRoots !== undefined && this.rootMayChange(changes, jobs)) {
      const before = new Map([...this.groups.values()].map((g) => [g, rendered(g)]));
      let roots: TreeNode[];
      try {
        roots = await this.roots();
      } catch {
        // The root's own read says what went wrong.
        this.changed.fire(undefined);
        return true;
      }
      // Other rows, or a row that is not a group (a job of a filter by ids, a note) shown otherwise: all anew.
      const same =
        roots.length === shownRoots.length && roots.every((r, i) => r.id === shownRoots[i].node.id && (r.kind === 'group' || shown(r) === shownRoots[i].shown));
      if (!same) {
        // Redrawn whole, but the anchored pages still keep count of what joined and left them.
        this.followAnchored(jobs, redraw);
        this.forgetFinished(jobs);
        this.changed.fire(undefined);
        return true;
      }
      this.rootRows = roots.map((node) => ({ node, shown: shown(node) }));
      for (const group of before.keys()) {
        const page = this.pages.get(group.id);
        if (page && unchanged.has(page)) page.signature = group.signature;
      }
      for (const [group, was] of before) {
        if (rendered(group) === was || redraw.has(group)) continue;
        // Redrawing a group sends its loaded rows again (the view reads an expanded group's
        // children anew): one with more than a page of rows loaded waits for them, as a change to
        // its rows would, and its count lags the status bar's meanwhile. Done's count moving four
        // times a second sent its 1,000 rows each time, 9.6 MB in a 5,000-page crawl, and the
        // browser spent a core taking them in.
        if (!this.holdHeavy(group)) redraw.add(group);
      }
    }
    const newer = this.followAnchored(jobs, redraw);
    this.forgetFinished(jobs);
    if (redraw.size === 0 && newer.length === 0) return false;
    this.changed.fire([...redraw, ...newer]);
    return true;
  }

  /** Followed jobs that finished again are followed no longer. */
  private forgetFinished(jobs: Map<number, JobState> | null): void {
    if (jobs !== null) for (const [id, state] of jobs) if (FINISHED_STATES.includes(state as (typeof FINISHED_STATES)[number])) this.followed.delete(id);
  }

  /**
   * Whether a group's redraw waits (see LoadedPages.holdIfRecent): redrawing it sends its loaded
   * rows again (the view reads an expanded group's children anew), cheap for a page of them.
   */
  private holdHeavy(group: GroupNode): boolean {
    const page = this.pages.get(group.id);
    const heavy = page !== undefined && page.jobs.length > PAGE_SIZE && this.expansion.get(group.id) !== false;
    return heavy && this.pages.holdIfRecent(group.id);
  }

  /**
   * Anchored pages (groups listed newest first) after a catch-up: jobs that joined their group are
   * counted on its "newer" row, redrawn alone (a row with no children: nothing else is sent), and
   * none of its rows is read; rows that left it (a requeue) go, the others staying put. A row that
   * changed within the group, a job requeued from the view coming back among its rows, or among
   * too many changes to name a count that fell, reads the rows loaded again, down from the same
   * anchor. A fall the rows named leaving do not explain is of jobs below them (a requeue of older
   * ones): the newer count stays. Pages waiting to be read again down from their anchor keep
   * count too (a collapsed group is read when expanded). Returns the "newer" rows to redraw;
   * groups to redraw are added to `redraw`.
   */
  private followAnchored(jobs: Map<number, JobState> | null, redraw: Set<GroupNode>): NewerNode[] {
    const newer: NewerNode[] = [];
    for (const [id, page] of this.pages.entries()) {
      const group = this.groups.get(id);
      // A page read again from the newest takes its count anew (jobRows).
      if (!group || page.anchor === undefined || (page.stale && !page.keepAnchor)) continue;
      const waiting = page.stale;
      const named = jobs === null ? [] : page.jobs.filter((j) => jobs.has(j.id));
      const left = named.filter((j) => jobs?.get(j.id) !== j.state);
      if (left.length > 0) {
        const gone = new Set(left.map((j) => j.id));
        page.jobs = page.jobs.filter((j) => !gone.has(j.id));
        for (const job of gone) this.rows.delete(`${id}/job:${job}`);
        // Those whose fall the counts brought first were taken off then.
        const counted = Math.min(left.length, page.fell);
        page.fell -= counted;
        page.base -= left.length - counted;
        page.seen -= left.length - counted;
        redraw.add(group);
        // Nothing listed is left to hold in place: read again from the newest, so the jobs that
        // join are listed rather than counted on a "newer" row over nothing.
        if (page.jobs.length === 0) {
          page.stale = true;
          page.keepAnchor = false;
          continue;
        }
      }
      // Jobs requeued from the view that came back: at or below the anchor, a read from it lists them where their id falls.
      const anchor = page.anchor;
      const arrived = this.arrivals(jobs, group.filter).filter((job) => job <= anchor);
      // Below the rows loaded (behind Load more), none is read again: listed there, not newer.
      const floor = loadedFloor(page);
      page.base += arrived.filter((job) => job < floor).length;
      let dropped = 0;
      if (group.total !== undefined) {
        dropped = Math.max(0, page.seen - group.total);
        page.base -= dropped;
        page.fell += dropped;
        page.seen = group.total;
      }
      // A row went round again and came back (requeued, failed again), or a followed job did among them.
      const again = named.length > left.length || arrived.some((job) => job >= floor);
      if (again || (jobs === null && dropped > 0)) {
        page.stale = true;
        page.keepAnchor = true;
        redraw.add(group);
        continue;
      }
      if (waiting) continue;
      if (this.pages.redrawDue(id, page)) redraw.add(group);
      if (redraw.has(group)) continue;
      const count = newerThan(page, group.total);
      const row = this.rows.get(`${id}/newer`);
      // The row comes or goes: its group's children change.
      if ((row === undefined) !== (count === 0)) {
        if (!this.holdHeavy(group)) redraw.add(group);
      } else if (row?.kind === 'newer' && row.count !== count) {
        row.count = count;
        newer.push(row);
      }
    }
    return newer;
  }

  /**
   * The followed jobs (see follow) these changes bring into a group's state, and its crawl's. A
   * reason's group is not told apart: which reason a job failed for again the change does not say.
   */
  private arrivals(jobs: Map<number, JobState> | null, filter: JobsFilter): number[] {
    const { state, reason, crawlId } = filter;
    if (jobs === null || state === undefined || reason !== undefined) return [];
    // A job whose crawl the view did not know (requeued by id) may be any crawl's.
    const ofGroup = (crawl: string | null | undefined) => crawlId === undefined || crawl === undefined || crawl === crawlId;
    return [...this.followed].filter(([id, crawl]) => jobs.get(id) === state && ofGroup(crawl)).map(([id]) => id);
  }

  /**
   * Jobs the user requeued: when one finishes again, the anchored group it joins is read again
   * down from its anchor, which lists it where its id falls, rather than counting it as newer: a
   * requeue shows its effect. Each is followed with its crawl, as a loaded row shows it, so that
   * only its crawl's group takes it. At most MAX_FOLLOWED are followed (Requeue Job takes the
   * rows selected), the oldest forgotten first.
   */
  follow(ids: readonly number[]): void {
    const crawls = new Map<number, string | null>();
    for (const row of this.rows.values()) if (row.kind === 'job') crawls.set(row.job.id, row.job.crawlId);
    for (const id of ids) this.followed.set(id, crawls.get(id));
    for (const id of this.followed.keys()) {
      if (this.followed.size <= MAX_FOLLOWED) break;
      this.followed.delete(id);
    }
  }

  /** Jobs followed before a request that requeued none of them (or failed): none will come back. */
  unfollow(ids: readonly number[]): void {
    for (const id of ids) this.followed.delete(id);
  }

  /** The "newer" row's click: its group's rows read again from the newest. */
  showNewest(node: NewerNode): void {
    const page = this.pages.get(node.parent.id);
    if (page) {
      page.stale = true;
      page.keepAnchor = false;
    }
    this.changed.fire(node.parent);
  }

  private rootMayChange(changes: TreeChanges, jobs: Map<number, JobState> | null): boolean {
    const counts = changes.stats !== undefined && this.rootCounts(changes.stats) !== this.shownCounts;
    // A search's groups are always the five states; their pages follow changes on their own.
    if (this.scope && 'search' in this.scope) return false;
    // A batch too big to name its jobs names only running crawls: another process may have changed this one.
    if (this.scope && 'crawlId' in this.scope) return jobs === null || changes.crawls.has(this.scope.crawlId);
    if (this.scope) return jobs === null || this.scope.jobIds.some((id) => jobs.has(id));
    switch (this.mode) {
      case 'state':
        return counts;
      case 'host':
        // A host's counts and state move with its jobs.
        return jobs === null || jobs.size > 0;
      case 'crawl':
        return counts || changes.crawls.size > 0;
      case 'reason':
        // A job failed (named, or perhaps among too many to name), or one left `error` (the count
        // fell); jobs that only run or finish well leave the reasons as they were.
        return counts || jobs === null || [...jobs.values()].includes('error');
    }
  }

  /** What of the counts the root rows are made from: every state's, but by reason the failed jobs' alone. */
  private rootCounts(stats: StateCounts): string {
    return this.mode === 'reason' ? String(stats.error) : countsKey(stats);
  }

  /** The view collapsed or expanded a row. */
  expandedChanged(node: TreeNode, expanded: boolean): void {
    if (node.kind === 'group') this.expansion.set(node.id, expanded);
  }

  /**
   * Reads again the loaded pages that hold running jobs, for "lease 12 s left": heartbeats move a
   * lease on without any notification. Returns whether there were any.
   */
  refreshLeases(): boolean {
    const redraw: GroupNode[] = [];
    for (const [id, page] of this.pages.entries()) {
      const group = this.groups.get(id);
      if (group && page.jobs.some((j) => j.state === 'in_progress')) {
        page.stale = true;
        redraw.push(group);
      }
    }
    if (redraw.length > 0) this.changed.fire(redraw);
    return redraw.length > 0;
  }

  dispose(): void {
    this.changed.dispose();
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    try {
      if (node === undefined) {
        const roots = await this.roots();
        this.rootRows = roots.map((node) => ({ node, shown: shown(node) }));
        return roots;
      }
      if (node.kind !== 'group') return [];
      if (node.crawl) return this.crawlStates(node.crawl);
      return await this.jobRows(node);
    } catch (err) {
      // No daemon: the welcome view says why and offers what to do.
      if (err instanceof DaemonUnavailable) return [];
      const message = err instanceof Error ? err.message : String(err);
      return [
        {
          kind: 'note',
          id: `${node?.id ?? 'root'}/error`,
          label: `Could not list jobs: ${message}`,
          tooltip: message,
          icon: icon(['error', 'errorForeground']),
        },
      ];
    }
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'group': {
        const item = new vscode.TreeItem(node.label, node.expanded ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        item.id = node.id;
        item.description = node.description;
        item.iconPath = node.icon;
        item.contextValue = node.contextValue;
        if (node.tooltip) item.tooltip = markdown(node.tooltip);
        item.accessibilityInformation = { label: `${node.label}, ${node.description}` };
        return item;
      }
      case 'job': {
        const { job } = node;
        const item = new vscode.TreeItem(jobLabel(job.url), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = jobDescription(job, this.now(), node.crawl);
        item.iconPath = icon(stillIcon(job.state));
        item.contextValue = `job.${job.state}`;
        // The tooltip is left unset so that resolveTreeItem fetches it on hover.
        item.command = OPEN_ROW;
        item.accessibilityInformation = { label: `Job ${job.id}, ${STATE_LABELS[job.state]}, ${job.url}, ${item.description}` };
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem('Load more', vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = node.total === undefined ? `${formatCount(node.shown)} shown` : `${formatCount(node.shown)} of ${formatCount(node.total)} shown`;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.contextValue = 'loadMore';
        item.command = OPEN_ROW;
        return item;
      }
      case 'newer': {
        const item = new vscode.TreeItem(`${formatCount(node.count)} newer — show newest`, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.tooltip = `${plural(node.count, 'job')} joined ${node.parent.label} since these rows were read. They stay put while the crawl runs; click to read the newest.`;
        item.iconPath = new vscode.ThemeIcon('arrow-up');
        item.contextValue = 'newer';
        item.command = OPEN_ROW;
        return item;
      }
      case 'note': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.tooltip = node.tooltip;
        item.iconPath = node.icon;
        item.contextValue = 'note';
        return item;
      }
    }
  }

  /** Learns a crawl's name from a notification (crawl/changed carries the whole Crawl), so rows need not ask. */
  noteCrawl(crawl: Pick<Crawl, 'crawlId' | 'name'>): void {
    this.names.learn([crawl]);
  }

  /** A crawl as "name (id)" (its id when it has no name, or its name cannot be read), for messages. */
  crawlTitle(crawlId: string): Promise<string> {
    return this.names.title(crawlId);
  }

  async resolveTreeItem(item: vscode.TreeItem, node: TreeNode, token: vscode.CancellationToken): Promise<vscode.TreeItem> {
    if (node.kind !== 'job') return item;
    try {
      const { job, events } = await this.daemon.request('jobs/get', { id: node.job.id });
      const crawl = job.crawlId === null ? undefined : await this.names.crawl(job.crawlId);
      if (!token.isCancellationRequested) item.tooltip = markdown(jobTooltip(job, events, this.now(), crawl));
    } catch (err) {
      item.tooltip = `Job ${node.job.id}: ${err instanceof Error ? err.message : String(err)}`;
    }
    return item;
  }

  /** Appends the next page under the "Load more" row's group (or more hosts or reasons at the root). */
  async loadMore(more: MoreNode): Promise<void> {
    const group = more.parent;
    if (group === undefined) {
      this.rootLimit += ROOT_PAGE;
      this.changed.fire(undefined);
      return;
    }
    const asked = this.pages.get(group.id);
    if (!asked?.nextCursor) return;
    const generation = this.generation;
    const next = await this.daemon.request('jobs/list', { ...group.filter, ...listOrder(group.filter), limit: PAGE_SIZE, cursor: asked.nextCursor });
    // Another filter now (another search): these rows are not its.
    if (generation !== this.generation) return;
    // The group may have been read again meanwhile (a change came): the rows go to the page shown now.
    const page = this.pages.get(group.id) ?? asked;
    if (group.filter.search !== undefined) page.windows++;
    // Rows may shift between two pages as jobs change state: keep each job once.
    const seen = new Set(page.jobs.map((j) => j.id));
    page.jobs.push(...next.jobs.filter((j) => !seen.has(j.id)));
    page.nextCursor = next.nextCursor;
    describeMatches(group, page);
    this.changed.fire(group);
  }

  private async roots(): Promise<TreeNode[]> {
    if (this.scope && 'crawlId' in this.scope) {
      const { crawl } = await this.daemon.request('crawl/get', { crawlId: this.scope.crawlId });
      this.names.learn([crawl]);
      return this.crawlStates(crawl);
    }
    if (this.scope && 'search' in this.scope) return this.searchRoots(this.scope.search);
    if (this.scope) return this.listedJobs(this.scope.jobIds);
    switch (this.mode) {
      case 'state':
        return this.stateRoots();
      case 'host':
        return this.hostRoots();
      case 'crawl':
        return this.crawlRoots();
      case 'reason':
        return this.reasonRoots();
    }
  }

  private async stateRoots(): Promise<TreeNode[]> {
    const stats = this.counts() ?? (await this.daemon.request('queue/stats', {}));
    this.shownCounts = this.rootCounts(stats);
    if (stats.total === 0) return [];
    return JOB_STATES.map((state) =>
      this.group(`state:${state}`, {
        label: STATE_LABELS[state],
        description: formatCount(stats[state]),
        tooltip: `${plural(stats[state], 'job')} ${stateSentence(state)}`,
        icon: groupIcon(state, stats[state]),
        contextValue: `stateGroup.${state}`,
        expanded: state === 'in_progress' || state === 'error',
        total: stats[state],
        signature: String(stats[state]),
        filter: { state },
      }),
    );
  }

  private async hostRoots(): Promise<TreeNode[]> {
    const limit = Math.min(this.rootLimit, MAX_HOSTS);
    const { hosts } = await this.daemon.request('hosts/list', { limit });
    const rows: TreeNode[] = [...hosts]
      .sort((a, b) => compareHosts(a.host, b.host))
      .map((host) =>
        this.group(`host:${host.host}`, {
          label: host.host,
          description: hostDescription(host, this.now()),
          tooltip: hostTooltip(host, this.now()),
          icon: icon(HOST_ICONS[host.state]),
          contextValue: `host.${host.state}${host.error > 0 ? ' hasFailed' : ''}`,
          expanded: false,
          // Hosts do not count skipped jobs, so their total is unknown.
          total: undefined,
          signature: [host.inFlight, host.queued, host.done, host.error].join(','),
          filter: { host: host.host },
          host,
        }),
      );
    if (hosts.length >= limit && limit < MAX_HOSTS) rows.push(this.moreNode('hosts/more', undefined, hosts.length, undefined));
    return rows;
  }

  private async crawlRoots(): Promise<TreeNode[]> {
    const shown = this.counts();
    const [{ crawls }, stats] = await Promise.all([this.daemon.request('crawl/list', {}), shown ?? this.daemon.request('queue/stats', {})]);
    this.shownCounts = this.rootCounts(stats);
    this.names.learn(crawls);
    const labels = crawlLabels(crawls);
    const rows: TreeNode[] = newestFirst(crawls).map((crawl) =>
      this.group(`crawl:${crawl.crawlId}`, {
        label: labels.get(crawl.crawlId)!,
        description: crawlDescription(crawl),
        tooltip: crawlTooltip(crawl, this.now()),
        icon: crawl.state === 'running' && crawl.counts.in_progress > 0 ? stateIcon('in_progress') : icon(CRAWL_ICONS[crawl.state]),
        contextValue: `crawl.${crawl.state}${crawl.counts.error > 0 ? ' hasFailed' : ''}`,
        expanded: false,
        total: countTotal(crawl.counts),
        signature: countsKey(crawl.counts),
        filter: { crawlId: crawl.crawlId },
        crawl,
      }),
    );
    const inCrawls = crawls.reduce((sum, c) => sum + countTotal(c.counts), 0);
    if (stats.total > inCrawls) {
      const n = stats.total - inCrawls;
      rows.push({
        kind: 'note',
        id: 'crawl:none',
        label: `${plural(n, 'job')} outside any crawl`,
        tooltip: 'Jobs enqueued on their own (Enqueue URL) belong to no crawl. Group by state or by host to see them.',
        icon: new vscode.ThemeIcon('info'),
      });
    }
    return rows;
  }

  /**
   * The failure reasons, most failed first, from jobs/reasons (the daemon's counters: no failed
   * job is read for them); each lists its failed jobs, newest first. Ids are the reason itself,
   * encoded so that no reason reads as a row below another.
   */
  private async reasonRoots(): Promise<TreeNode[]> {
    const limit = Math.min(this.rootLimit, MAX_REASONS_LISTED);
    const shown = this.counts();
    const [{ reasons }, stats] = await Promise.all([this.daemon.request('jobs/reasons', { limit }), shown ?? this.daemon.request('queue/stats', {})]);
    this.shownCounts = this.rootCounts(stats);
    if (stats.total === 0) return [];
    if (reasons.length === 0) {
      return [
        {
          kind: 'note',
          id: 'reasons:none',
          label: 'No failed jobs',
          tooltip: 'Jobs that fail after their last attempt are grouped here by why.',
          icon: new vscode.ThemeIcon('pass'),
        },
      ];
    }
    const rows: TreeNode[] = reasons.map(({ reason, count }) =>
      this.group(`reason:${encodeURIComponent(reason)}`, {
        label: reasonLabel(reason),
        description: formatCount(count),
        tooltip: reasonTooltip(reason, count),
        icon: stateIcon('error'),
        contextValue: 'reason',
        expanded: false,
        total: count,
        signature: String(count),
        filter: { state: 'error', reason },
      }),
    );
    if (reasons.length >= limit && limit < MAX_REASONS_LISTED) rows.push(this.moreNode('reasons/more', undefined, reasons.length, undefined));
    return rows;
  }

  /**
   * A search's state groups, each read at once so that it can say how many matches it holds: the
   * queue's counts say nothing of those, and counting them all would walk every job.
   */
  private async searchRoots(search: string): Promise<TreeNode[]> {
    return Promise.all(
      JOB_STATES.map(async (state) => {
        const group = this.group(`search/state:${state}`, {
          label: STATE_LABELS[state],
          description: '',
          // Tooltips are Markdown: the search is the user's text, shown as typed.
          tooltip: `${STATE_LABELS[state]} jobs matching "${escapeMarkdown(search)}"; only those loaded are counted.`,
          icon: stateIcon(state),
          contextValue: `stateGroup.${state}`,
          expanded: true,
          total: undefined,
          // Another search's page is never taken for this one's, whatever its group's id.
          signature: `search:${search}`,
          filter: { state, search },
        });
        await this.jobRows(group);
        // group() set its fields anew; the count is that of the page kept.
        describeMatches(group, this.pages.get(group.id)!);
        return group;
      }),
    );
  }

  private crawlStates(crawl: Crawl): TreeNode[] {
    return JOB_STATES.filter((state) => crawl.counts[state] > 0).map((state) =>
      this.group(`crawl:${crawl.crawlId}/state:${state}`, {
        label: STATE_LABELS[state],
        description: formatCount(crawl.counts[state]),
        tooltip: `${plural(crawl.counts[state], 'job')} of ${crawlLabel(crawl)} ${stateSentence(state)}`,
        icon: groupIcon(state, crawl.counts[state]),
        contextValue: `stateGroup.${state}`,
        expanded: state === 'in_progress' || state === 'error',
        total: crawl.counts[state],
        signature: String(crawl.counts[state]),
        filter: { crawlId: crawl.crawlId, state },
      }),
    );
  }

  private async listedJobs(ids: number[]): Promise<TreeNode[]> {
    const read = await Promise.all(
      ids.slice(0, PAGE_SIZE).map(async (id): Promise<Job | NoteNode> => {
        try {
          return (await this.daemon.request('jobs/get', { id })).job;
        } catch (err) {
          if (err instanceof DaemonUnavailable) throw err;
          const message = err instanceof Error ? err.message : String(err);
          return { kind: 'note', id: `filter/job:${id}`, label: `Job ${id}: ${message}`, tooltip: message, icon: new vscode.ThemeIcon('warning') };
        }
      }),
    );
    const crawlOf = await this.names.namer(read.filter((r): r is Job => !('kind' in r)));
    return read.map((r) => ('kind' in r ? r : this.jobNode(`filter/job:${r.id}`, r, crawlOf(r))));
  }

  private async jobRows(group: GroupNode): Promise<TreeNode[]> {
    let page = this.pages.get(group.id);
    // An anchored page's signature (its group's count) moves as jobs join it, which it counts instead of reading.
    if (!page || page.stale || (page.anchor === undefined && page.signature !== group.signature)) {
      const old = page;
      // A search read again walks as far as the matches loaded (Load more may have walked past
      // windows with none); anything else reads again as many rows as were loaded.
      const through =
        old && group.filter.search !== undefined && old.signature === group.signature ? { stop: old.nextCursor, windows: old.windows } : undefined;
      const generation = this.generation;
      const from = old?.keepAnchor ? old.anchor : undefined;
      const anchored = anchors(group.filter);
      // Read from the newest, the rows are what the count is taken against: read before them, it
      // holds no job they miss (the group's own count may be older than they are).
      const counted = anchored && from === undefined ? await this.groupCount(group.filter) : undefined;
      const read = await readPage(this.daemon, group.filter, Math.max(PAGE_SIZE, old?.jobs.length ?? 0), through, from);
      // The filter changed while it was read (another search, none): the view asks again for the new one.
      if (generation !== this.generation) return [];
      const total = group.total ?? 0;
      let kept: Pick<Page, 'base' | 'seen' | 'fell'>;
      if (old && from !== undefined) {
        // Read again down from its anchor: the jobs that joined the group where the rows were read
        // (or had left it and came back) are listed now, not newer; those above the anchor still are.
        const floor = loadedFloor(old);
        const had = new Set(old.jobs.map((j) => j.id));
        const placed = read.jobs.filter((j) => !had.has(j.id) && j.id >= floor).length;
        kept = { base: old.base + placed, seen: old.seen, fell: old.fell };
      } else {
        // Every job of the group is listed, or lies below the rows: the count is theirs.
        kept = { base: read.nextCursor === null ? read.jobs.length : (counted ?? total), seen: total, fell: 0 };
      }
      const anchor = anchored ? (from ?? read.jobs[0]?.id) : undefined;
      page = { ...read, ...kept, signature: group.signature, readAt: this.now(), anchor, keepAnchor: false };
      this.pages.set(group.id, page);
      // Rows that left the group are forgotten, so the kept rows stay as many as those loaded.
      const listed = new Set(page.jobs.map((j) => j.id));
      for (const j of old?.jobs ?? []) if (!listed.has(j.id)) this.rows.delete(`${group.id}/job:${j.id}`);
      // Its row was drawn before these were read: drawn again, it shows their count.
      if (describeMatches(group, page) && old) this.changed.fire(group);
    } else if (page.anchor !== undefined) {
      // Sent to the view again, which costs as much as reading them: its next redraw waits as long (LoadedPages.holdIfRecent).
      page.readAt = this.now();
    }
    const crawlOf = await this.names.namer(page.jobs, group.filter);
    const rows: TreeNode[] = page.jobs.map((job) => this.jobNode(`${group.id}/job:${job.id}`, job, crawlOf(job)));
    const newer = newerThan(page, group.total);
    if (newer > 0) rows.unshift(this.newerNode(group, newer));
    else this.rows.delete(`${group.id}/newer`);
    if (page.nextCursor !== null) rows.push(this.moreNode(`${group.id}/more`, group, page.jobs.length, group.total));
    else this.rows.delete(`${group.id}/more`);
    return rows;
  }

  /** An anchored group's count as the daemon has it now (the counts a group row was made from may be older). */
  private async groupCount(filter: JobsFilter): Promise<number | undefined> {
    const { state, crawlId, reason } = filter;
    if (state === undefined) return undefined;
    if (reason !== undefined) {
      const { reasons } = await this.daemon.request('jobs/reasons', { ...(crawlId === undefined ? {} : { crawlId }) });
      return reasons.find((r) => r.reason === reason)?.count;
    }
    if (crawlId !== undefined) return (await this.daemon.request('crawl/get', { crawlId })).crawl.counts[state];
    return (await this.daemon.request('queue/stats', {}))[state];
  }

  private jobNode(id: string, job: Job, crawl: string | undefined): JobNode {
    const node = this.rows.get(id);
    if (node?.kind === 'job') {
      node.job = job;
      node.crawl = crawl;
      return node;
    }
    const made: JobNode = { kind: 'job', id, job, crawl };
    this.rows.set(id, made);
    return made;
  }

  private newerNode(parent: GroupNode, count: number): NewerNode {
    const id = `${parent.id}/newer`;
    const node = this.rows.get(id);
    if (node?.kind === 'newer') return Object.assign(node, { count });
    const made: NewerNode = { kind: 'newer', id, parent, count };
    this.rows.set(id, made);
    return made;
  }

  private moreNode(id: string, parent: GroupNode | undefined, shown: number, total: number | undefined): MoreNode {
    const node = this.rows.get(id);
    if (node?.kind === 'more') return Object.assign(node, { shown, total });
    const made: MoreNode = { kind: 'more', id, parent, shown, total };
    this.rows.set(id, made);
    return made;
  }

  private group(id: string, fields: Omit<GroupNode, 'kind' | 'id'>): GroupNode {
    const existing = this.groups.get(id);
    if (existing) {
      // The view keeps its own expansion state per id; only the first appearance sets it.
      Object.assign(existing, { ...fields, expanded: existing.expanded });
      return existing;
    }
    const node: GroupNode = { kind: 'group', id, ...fields, expanded: this.expansion.get(id) ?? fields.expanded };
    this.groups.set(id, node);
    return node;
  }
}

/** A search's group says how many matches are loaded; whether that changed. */
function describeMatches(group: GroupNode, page: Page): boolean {
  if (group.filter.search === undefined) return false;
  const description = `${formatCount(page.jobs.length)} shown`;
  if (description === group.description) return false;
  group.description = description;
  return true;
}

/**
 * How a group looks, and what its rows were read for (its signature: a crawl row's state rows are
 * made from its counts, so a change there must redraw it even when its own line reads the same).
 */
function rendered(g: GroupNode): string {
  // A ThemeColor has its id at run time, which @types/vscode does not declare.
  const color: { id?: string } | undefined = g.icon.color;
  return [g.label, g.description, g.icon.id, color?.id, g.contextValue, g.signature].join('\n');
}

/** How any row looks, as far as a redraw goes; a job row is kept and changed in place, so this is taken as it is shown. */
function shown(node: TreeNode): string {
  switch (node.kind) {
    case 'group':
      return rendered(node);
    case 'job':
      return `${JSON.stringify(node.job)}\n${node.crawl}`;
    case 'more':
      return `${node.shown}/${node.total}`;
    case 'newer':
      return String(node.count);
    case 'note':
      return node.label;
  }
}

function markdown(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text, true);
  md.supportHtml = false;
  return md;
}
