/**
 * The crawl report: a webview panel per crawl, read again every two seconds while it is shown and
 * its crawl runs or is paused, from crawl/get, crawl/report, hosts/list, leases/list and the
 * crawl's running jobs (whose leases are its workers'). The page (the bundle
 * of client/webview/report.ts) only draws the view model.ts makes; what it asks back (a page's
 * job, the crawl's jobs) goes through the extension's own commands.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import {
  ErrorCodes,
  MAX_JOB_REASON,
  SEED_COMMANDS,
  STATUS_CLASSES,
  type Crawl,
  type Host,
  type PageRecord,
  type SeedCommandArgs,
} from '../../../server/src/protocol';
import type { SetHostLimitArg } from '../commands';
import type { Daemon } from '../daemon';
import type { JobDocuments } from '../jobDocument';
import { formatCount } from '../format';
import { crawlLabel } from '../jobsTreeText';
import { reportHtml } from './html';
import { historyAsked, historyPoints, MAX_RATE_POINTS, ratePoint, reportView, type PagesSelector, type RatePoint, type ReportMessage } from './model';

export const REPORT_VIEW_TYPE = 'crawlOrchestrator.report';
/** How often a shown report of a running crawl is read again. */
const READ_EVERY_MS = 2_000;

/** Jobs a count's click finds at most, and pages it reads for them (the Jobs view lists the first PAGE_SIZE and says how many). */
const JOBS_LISTED = 10_000;
/** The crawl's queued jobs read for their hosts: the first of them, as crawlctl watch reads them for what they wait on. */
const QUEUED_READ = 1000;
const PAGES_READ = 50_000;

/** A selector as the page sent it: a status the daemon takes, or a reason it may hold. */
function isSelector(p: unknown): p is PagesSelector {
  const s = p as { status?: unknown; reason?: unknown } | null;
  if (typeof s?.reason === 'string') return s.reason.length > 0 && s.reason.length <= MAX_JOB_REASON;
  const status = s?.status;
  return (typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599) || (STATUS_CLASSES as readonly unknown[]).includes(status);
}

export class ReportPanels implements vscode.Disposable {
  private readonly open = new Map<string, ReportPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly daemon: Daemon,
    private readonly documents: JobDocuments,
  ) {}

  show(crawl: Pick<Crawl, 'crawlId' | 'name'>): void {
    const had = this.open.get(crawl.crawlId);
    if (had) return had.reveal();
    const panel = new ReportPanel(this.extensionUri, this.daemon, this.documents, crawl, () => this.open.delete(crawl.crawlId));
    this.open.set(crawl.crawlId, panel);
  }

  dispose(): void {
    for (const p of [...this.open.values()]) p.dispose();
  }
}

class ReportPanel {
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; crawl: Crawl } | undefined;
  /** The daemon's hosts at the last read: a host's limit as the report showed it. */
  private hosts: Host[] = [];
  /** Counts clicked: a list read for an earlier click is dropped. */
  private pagesAsked = 0;
  private readonly rates: RatePoint[] = [];
  /** Whether the crawl's rates before the report opened (crawl/rates) were asked for. */
  private historyRead = false;
  private reading = false;
  /** A read asked for while one was under way: done when it ends. */
  private again = false;
  private wasVisible = true;
  /** Set when the crawl is gone (its rows removed, or another state folder): nothing to read again. */
  private gone = false;
  private disposed = false;

  constructor(
    extensionUri: vscode.Uri,
    private readonly daemon: Daemon,
    private readonly documents: JobDocuments,
    private readonly crawl: Pick<Crawl, 'crawlId' | 'name'>,
    private readonly onDispose: () => void,
  ) {
    const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    const title = `Report: ${crawlLabel(crawl)}`;
    this.panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, title, vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [root],
    });
    const web = this.panel.webview;
    const uri = (name: string) => web.asWebviewUri(vscode.Uri.joinPath(root, name)).toString();
    web.html = reportHtml({
      cspSource: web.cspSource,
      nonce: randomBytes(16).toString('base64'),
      title,
      scriptUri: uri('report.js'),
      styleUris: [uri('uPlot.min.css'), uri('report.css')],
    });
    this.disposables.push(
      web.onDidReceiveMessage((m: ReportMessage) => void this.received(m)),
      // Read when shown again, not each time it gains or loses focus: a read redraws the page.
      this.panel.onDidChangeViewState(() => {
        const visible = this.panel.visible;
        if (visible && !this.wasVisible) this.schedule(0);
        this.wasVisible = visible;
      }),
      // The daemon says so for every batch of the crawl's job changes, three a second: the rate
      // stays one read per READ_EVERY_MS, and only a new state is read at once.
      this.daemon.onCrawlChanged((e) => {
        if (e.crawl.crawlId !== crawl.crawlId) return;
        if (e.crawl.state !== this.last?.crawl.state) this.schedule(0);
        else if (this.timer === undefined) this.schedule(READ_EVERY_MS);
      }),
      this.daemon.onDidChangeStatus(() => {
        if (this.daemon.status.kind === 'running') this.schedule(0);
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
    this.onDispose();
  }

  private async received(m: ReportMessage): Promise<void> {
    try {
      if (m.type === 'ready') this.schedule(0);
      else if (m.type === 'showJobs') await vscode.commands.executeCommand(SEED_COMMANDS.revealJobs, { crawlId: this.crawl.crawlId });
      else if (m.type === 'openJob' && Number.isSafeInteger(m.id) && m.id > 0) await this.openJob(m.id);
      else if (m.type === 'showPages' && typeof m.label === 'string' && isSelector(m.pages)) await this.showPages(m.label, m.pages);
      else if (m.type === 'setLimit' && typeof m.host === 'string') {
        // A host the daemon no longer lists is picked in the command's own list.
        const host = this.hosts.find((h) => h.host === m.host);
        const arg: SetHostLimitArg | undefined = host && { host: host.host, limit: host.limit };
        await vscode.commands.executeCommand('crawlOrchestrator.setHostLimit', arg);
        this.schedule(0);
      } else if (m.type === 'openPage' && typeof m.url === 'string') {
        const { page } = await this.daemon.request('crawl/page', { crawlId: this.crawl.crawlId, url: m.url });
        if (page.jobId !== null) await this.openJob(page.jobId);
        else void vscode.window.showInformationMessage(`${m.url} has no job of its own in this crawl.`);
      }
    } catch (err) {
      void vscode.window.showWarningMessage(`Crawl report: ${(err as Error).message}`);
    }
  }

  /**
   * The jobs a count stands for, in the Jobs view: the jobs of the crawl's pages of a status
   * (crawl/pages), or its failed jobs of a reason (jobs/list, as jobs/reasons counts them); at
   * most JOBS_LISTED of them, reading at most PAGES_READ. The latest click wins over one still reading.
   */
  private async showPages(label: string, sel: PagesSelector): Promise<void> {
    const asked = ++this.pagesAsked;
    const crawlId = this.crawl.crawlId;
    // A page fetched again during the read can come back in a later page of a status class.
    const ids = new Set<number>();
    let cursor: string | null = null;
    let read = 0;
    do {
      if ('reason' in sel) {
        const r: { jobs: { id: number }[]; nextCursor: string | null } = await this.daemon.request('jobs/list', {
          crawlId,
          reason: sel.reason,
          cursor,
          limit: 1000,
        });
        for (const j of r.jobs) ids.add(j.id);
        cursor = r.nextCursor;
        read += r.jobs.length;
      } else {
        const r: { pages: PageRecord[]; nextCursor: string | null } = await this.daemon.request('crawl/pages', {
          crawlId,
          status: sel.status,
          cursor,
          limit: 1000,
        });
        for (const p of r.pages) if (p.jobId !== null) ids.add(p.jobId);
        cursor = r.nextCursor;
        read += r.pages.length;
      }
    } while (cursor !== null && ids.size < JOBS_LISTED && read < PAGES_READ && asked === this.pagesAsked && !this.disposed);
    if (asked !== this.pagesAsked || this.disposed) return;
    const unread = cursor !== null;
    if (ids.size === 0) {
      const where = unread ? `among the first ${formatCount(read)} pages read` : 'left to show';
      void vscode.window.showInformationMessage(`No job of this crawl's pages counted as ${label} is ${where}.`);
      return;
    }
    const from = `with ${label} in ${crawlLabel(this.crawl)}${unread ? ` (of the first ${formatCount(read)} pages read)` : ''}`;
    const arg: SeedCommandArgs[typeof SEED_COMMANDS.revealJobs][0] = { crawlId: null, jobIds: [...ids], from };
    await vscode.commands.executeCommand(SEED_COMMANDS.revealJobs, arg);
  }

  /** Beside the report, which stays where it is (a webview hidden loses its place on the page). */
  private openJob(id: number): Promise<void> {
    return this.documents.show(id, vscode.ViewColumn.Beside);
  }

  /** Reads after `ms` (sooner if asked sooner); a hidden panel is read when shown again. */
  private schedule(ms: number): void {
    if (this.disposed || this.gone || !this.panel.visible) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.read();
    }, ms);
  }

  private async read(): Promise<void> {
    if (this.disposed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    let crawl: Crawl | undefined;
    let message: { type: 'view'; view: ReturnType<typeof reportView> } | { type: 'error'; message: string };
    try {
      if (this.daemon.status.kind !== 'running') throw new Error('the daemon is not running; the report goes on when it runs again');
      const crawlId = this.crawl.crawlId;
      const [got, report, reasons, hosts, leases, workers, running, queued] = await Promise.all([
        this.daemon.request('crawl/get', { crawlId }),
        this.daemon.request('crawl/report', { crawlId }),
        this.daemon.request('jobs/reasons', { crawlId }),
        this.daemon.request('hosts/list', {}),
        this.daemon.request('leases/list', {}),
        // A daemon older than the registry has no workers/list: the report shows the lease holders.
        this.daemon.request('workers/list', {}).catch(() => null),
        this.daemon.request('jobs/list', { crawlId, state: 'in_progress', limit: 1000 }),
        // The hosts its first queued jobs wait on: one it is stuck on has no page to count yet.
        this.daemon.request('jobs/list', { crawlId, state: 'queued', limit: QUEUED_READ }),
      ]);
      crawl = got.crawl;
      this.hosts = hosts.hosts;
      const now = { at: Date.now(), crawl };
      if (!this.historyRead) {
        // What came before the report opened, from the crawl's records; readings follow. A daemon
        // without crawl/rates (older) leaves the readings alone.
        this.historyRead = true;
        const history = await this.daemon.request('crawl/rates', historyAsked(crawl, now.at)).catch(() => null);
        if (history) this.rates.push(...historyPoints(history, crawl.finishedAt === null ? now.at : Date.parse(crawl.finishedAt)));
      }
      const point = this.last ? ratePoint(this.last, now) : null;
      if (point) this.rates.push(point);
      if (this.rates.length > MAX_RATE_POINTS) this.rates.splice(0, this.rates.length - MAX_RATE_POINTS);
      this.last = now;
      const mine = new Set(running.jobs.map((j) => j.id));
      message = {
        type: 'view',
        view: reportView({
          crawl,
          report,
          reasons: reasons.reasons,
          now: now.at,
          hosts: hosts.hosts,
          leases: leases.leases.filter((l) => mine.has(l.jobId)),
          workers: workers?.workers ?? null,
          rates: this.rates,
          running: running.jobs.map((j) => j.host),
          queued: queued.jobs.map((j) => j.host),
        }),
      };
    } catch (err) {
      this.gone = (err as { code?: unknown }).code === ErrorCodes.NotFound;
      message = { type: 'error', message: (err as Error).message };
    } finally {
      this.reading = false;
    }
    // Closed during the read: the panel is gone, and touching it throws.
    if (this.disposed) return;
    await this.panel.webview.postMessage(message);
    if (this.again) {
      this.again = false;
      this.schedule(0);
    } else if (this.daemon.status.kind === 'running' && (!crawl || crawl.state === 'running' || crawl.state === 'paused')) {
      // A crawl that ended changes no more; a daemon that stopped is read again when it runs.
      if (this.timer === undefined) this.schedule(READ_EVERY_MS);
    }
  }
}
