/**
 * The Jobs view around its tree: the badge with the error count, the message line (paused, the
 * idle reason, an active filter), and when to refresh. Notifications come in bursts while a crawl
 * runs, so they are gathered and the tree catches up with them debounced, at most once a second
 * and never postponed past a second, reading again only what they may change; rows of running
 * jobs are read again every few seconds so that "lease 12 s left" stays true between
 * notifications. The counts are the overview's, as the status bar's: the state groups follow them
 * at once, with the badge, and the job changes gathered so far with them, in one redraw.
 */
import * as vscode from 'vscode';
import type { Daemon } from './daemon';
import { plural } from './format';
import { PAGE_SIZE } from './jobPages';
import { GROUP_BY, JobsTreeProvider, noChanges, type GroupBy, type JobsFilterScope, type TreeChanges, type TreeNode } from './jobsTree';
import { filterMessage } from './jobsTreeText';
import type { QueueOverview } from './overview';

export const VIEW_ID = 'crawlOrchestrator.jobs';
/** Where the grouping is remembered, per workspace. */
const GROUP_BY_KEY = 'crawlOrchestrator.groupBy';
const DEBOUNCE_MS = 250;
const MAX_DELAY_MS = 1_000;
/**
 * Catch-ups at most this often: a crawl's notifications come three a second, and each catch-up
 * redraws rows the browser lays out and paints again (software rendering on a VM or in the
 * benchmark's headless Chromium, whose CPU comes out of the crawl's).
 */
const CATCH_UP_EVERY_MS = 1_000;
const LEASE_TICK_MS = 5_000;

export class JobsView implements vscode.Disposable {
  readonly provider: JobsTreeProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private firstPending = 0;
  private lastRefresh = 0;
  /** When the tree last caught up (or read everything again). */
  private lastCatchUp = -Infinity;
  /** Gathered since the tree last caught up. */
  private pending = noChanges();
  /** Notifications came while the view was hidden: it reads everything again when shown. */
  private missed = false;
  private readonly leaseTick: NodeJS.Timeout;
  private heldTimer: NodeJS.Timeout | undefined;
  /** Catch-ups run one at a time: each compares what it reads with what the one before showed. */
  private updating: Promise<void> = Promise.resolve();
  /** The crawl filtered on, as "name (id)", once its name is known; its id stands in until then. */
  private filterTitle: string | undefined;
  /** What renderChrome last showed (see changed). */
  private readonly chrome = new Map<string, number | string | boolean | undefined>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly daemon: Daemon,
    private readonly overview: QueueOverview,
  ) {
    const saved = context.workspaceState.get<GroupBy>(GROUP_BY_KEY);
    this.provider = new JobsTreeProvider(daemon, saved && GROUP_BY.includes(saved) ? saved : 'state', Date.now, () => overview.stats);
    this.treeView = vscode.window.createTreeView(VIEW_ID, {
      treeDataProvider: this.provider,
      showCollapseAll: true,
      canSelectMany: true,
    });
    this.disposables.push(
      this.treeView.onDidCollapseElement((e) => this.provider.expandedChanged(e.element, false)),
      this.treeView.onDidExpandElement((e) => this.provider.expandedChanged(e.element, true)),
      this.provider,
      this.treeView,
      daemon.onJobsChanged(({ changes, truncated }) => {
        if (truncated) this.pending.jobs = null;
        else for (const c of changes) this.pending.jobs?.set(c.id, c.state);
        this.scheduleCatchUp();
      }),
      daemon.onCrawlChanged(({ crawl }) => {
        // Names are learnt whether or not the view is shown: rows listing several crawls need them.
        this.provider.noteCrawl(crawl);
        this.pending.crawls.add(crawl.crawlId);
        this.scheduleCatchUp();
      }),
      daemon.onDidChangeStatus(() => this.refreshNow()),
      overview.onDidChange(() => {
        this.renderChrome();
        // The counts are shown now, beside the badge, and the job changes gathered so far with them;
        // not while newer counts wait to be shown (a scheduler read): those changes wait for them.
        if (this.treeView.visible) this.run({ ...(overview.behind ? noChanges() : this.takePending()), stats: overview.stats });
        else this.missed = true;
      }),
      this.treeView.onDidChangeVisibility(({ visible }) => {
        if (visible && this.missed) this.refreshNow();
      }),
    );
    this.leaseTick = setInterval(() => {
      if (this.treeView.visible && Date.now() - this.lastRefresh >= LEASE_TICK_MS && this.provider.refreshLeases()) this.lastRefresh = Date.now();
    }, LEASE_TICK_MS);
    void this.setFilteredContext();
    this.renderChrome();
  }

  get groupBy(): GroupBy {
    return this.provider.groupBy;
  }

  async setGroupBy(mode: GroupBy): Promise<void> {
    this.provider.setGroupBy(mode);
    await this.context.workspaceState.update(GROUP_BY_KEY, mode);
    await this.setFilteredContext();
    this.renderChrome();
  }

  async setFilter(scope: JobsFilterScope | undefined): Promise<void> {
    this.provider.setFilter(scope);
    this.filterTitle = undefined;
    await this.setFilteredContext();
    this.renderChrome();
    if (scope && 'crawlId' in scope) {
      const title = await this.provider.crawlTitle(scope.crawlId);
      // Another filter may have been set meanwhile.
      if (this.provider.filter !== scope) return;
      this.filterTitle = title;
      this.renderChrome();
    }
  }

  /** Reads everything again: a new daemon, or the user asked. */
  refreshNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = noChanges();
    this.missed = false;
    this.lastRefresh = Date.now();
    this.lastCatchUp = this.lastRefresh;
    this.provider.refresh();
  }

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearTimeout(this.heldTimer);
    clearInterval(this.leaseTick);
    for (const d of this.disposables) d.dispose();
  }

  private scheduleCatchUp(): void {
    // A hidden view is not asked for rows; it reads everything again when shown.
    if (!this.treeView.visible) {
      this.missed = true;
      this.pending = noChanges();
      return;
    }
    const now = Date.now();
    if (this.timer === undefined) this.firstPending = now;
    clearTimeout(this.timer);
    const debounced = Math.min(DEBOUNCE_MS, Math.max(0, this.firstPending + MAX_DELAY_MS - now));
    this.timer = setTimeout(() => this.catchUp(), Math.max(debounced, this.lastCatchUp + CATCH_UP_EVERY_MS - now));
  }

  /**
   * The job changes gathered, unless counts newer than those shown wait to be shown: a change
   * comes before the counts of its batch, and the tree takes a count older than the changes it
   * applied for jobs leaving their group twice (a requeued Done row, with the counts shown once a
   * second, came back counted as newer). The counts' showing takes them instead.
   */
  private catchUp(): void {
    this.timer = undefined;
    if (this.overview.behind) return;
    this.run(this.takePending());
  }

  /** The changes gathered so far, no longer pending. */
  private takePending(): TreeChanges {
    clearTimeout(this.timer);
    this.timer = undefined;
    const changes = this.pending;
    this.pending = noChanges();
    return changes;
  }

  private run(changes: TreeChanges): void {
    this.lastCatchUp = Date.now();
    // A catch-up that failed must not stop every later one: each says what went wrong in its own rows.
    this.updating = this.updating
      .then(async () => {
        if (await this.provider.update(changes)) this.lastRefresh = Date.now();
        // Groups held back (read too recently for their size) get a catch-up of their own when due.
        const held = this.provider.heldFor();
        if (held !== undefined && this.heldTimer === undefined && this.treeView.visible) {
          this.heldTimer = setTimeout(() => {
            this.heldTimer = undefined;
            this.run(noChanges());
          }, held);
        }
      })
      .catch(() => undefined);
  }

  private async setFilteredContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'crawlOrchestrator.filtered', this.provider.filter !== undefined);
  }

  /** Badge, message line, and the context keys that pick the title actions. */
  private renderChrome(): void {
    const { stats, scheduler } = this.overview;
    const running = this.daemon.status.kind === 'running';
    const errors = running ? (stats?.error ?? 0) : 0;
    if (this.changed('badge', errors)) this.treeView.badge = errors > 0 ? { value: errors, tooltip: plural(errors, 'failed job') } : undefined;

    const filter = this.provider.filter;
    let message: string | undefined;
    if (filter) message = filterMessage(filter, this.filterTitle, PAGE_SIZE);
    else if (running && scheduler?.idleReason) message = scheduler.idleReason;
    else if (running && scheduler?.paused) message = 'Paused: no new jobs start until you resume.';
    if (this.changed('message', message)) this.treeView.message = message;

    const paused = running && scheduler?.paused === true;
    if (this.changed('paused', paused)) void vscode.commands.executeCommand('setContext', 'crawlOrchestrator.paused', paused);
    if (this.changed('hasFailed', errors > 0)) void vscode.commands.executeCommand('setContext', 'crawlOrchestrator.hasFailed', errors > 0);
  }

  /**
   * Whether a part of the view's chrome is to show something new. Each assignment and context key
   * is a round trip to the window: renderChrome runs with every count pushed, three a second while
   * a crawl runs, and set all four each time.
   */
  private changed(part: 'badge' | 'message' | 'paused' | 'hasFailed', value: number | string | boolean | undefined): boolean {
    if (this.chrome.has(part) && this.chrome.get(part) === value) return false;
    this.chrome.set(part, value);
    return true;
  }
}
