/**
 * Show Details: a job's record, its result and its full event history, attempt by attempt, with
 * exact local times (to the millisecond in the history), never relative ones: the page is drawn
 * again only when the job changes, so "3 min ago" would stay on a finished job for good. It is
 * where users work out what happened to a lease. A crawl's job also shows its page record
 * (redirects, title, description, where it was found, with a link to that page's job) and the
 * links to and from the page. It is drawn again when the daemon reports the job changed.
 *
 * Written as Markdown (renderJobDocument, what the tests read), shown rendered: the editor's own
 * Markdown renderer (`markdown.api.render`) makes the HTML, shown in a webview panel under the
 * crawl report's Content Security Policy and theme, with no script. Links to other jobs are
 * `command:crawlOrchestrator.showJobDetails?[id]`, the one command the panel's links may run.
 */
import * as vscode from 'vscode';
import type { Crawl, Job, JobEvent, PageRecord, ResultOf } from '../../server/src/protocol';
import type { Daemon } from './daemon';
import type { DaemonApi } from './daemonApi';
import { escapeMarkdownInline, formatBytes, formatClock, formatCount, formatDuration, localTimes, plural } from './format';
import { STATE_LABELS, attemptsText, crawlLabel, jobStatusText } from './jobsTreeText';
import { escapeHtml, jobHtml } from './report/html';

const JOB_VIEW_TYPE = 'crawlOrchestrator.job';
const SHOW_JOB = 'crawlOrchestrator.showJobDetails';

export class JobDocuments implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;
  /** One panel, as a preview tab: a job opened from a row or a link takes the place of the last. */
  private panel: { view: vscode.WebviewPanel; id: number; html: string } | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** A page's job id by crawl and URL (null: the page has none), as found; they never change. */
  private readonly jobOfPage = new Map<string, number | null>();
  /** Crawls' names by id, for the crawl row's "name (id)"; names never change. */
  private readonly crawlNames = new Map<string, string | null>();

  constructor(
    private readonly daemon: DaemonApi & Pick<Daemon, 'onJobsChanged'>,
    private readonly extensionUri: vscode.Uri,
  ) {
    this.subscription = daemon.onJobsChanged(({ changes, truncated }) => {
      const shown = this.panel?.id;
      if (shown === undefined || !(truncated || changes.some((c) => c.id === shown))) return;
      // A job changes several times a second while it runs: drawn again at most twice a second.
      // A draw that fails (the editor shutting down) leaves the page as it was.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.draw().catch(() => undefined);
      }, 500);
    });
  }

  /** Shows a job's details, in the active editor group or another (`Beside` the crawl report). */
  async show(id: number, viewColumn: vscode.ViewColumn = vscode.ViewColumn.Active): Promise<void> {
    if (!this.panel) {
      const view = vscode.window.createWebviewPanel(JOB_VIEW_TYPE, `Job ${id}`, viewColumn, {
        enableCommandUris: [SHOW_JOB],
        localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')],
      });
      view.onDidDispose(() => (this.panel = undefined));
      this.panel = { view, id, html: '' };
    } else {
      this.panel.id = id;
      this.panel.view.title = `Job ${id}`;
      this.panel.view.reveal(viewColumn);
    }
    await this.draw();
  }

  /** Draws the shown job anew; the page is replaced only when it says something new (a reload loses the scroll position). */
  private async draw(): Promise<void> {
    const panel = this.panel;
    if (!panel) return;
    const id = panel.id;
    const markdown = await this.render(id);
    // The built-in Markdown extension disabled: its source, as text.
    const body = await vscode.commands.executeCommand<string>('markdown.api.render', markdown).then(undefined, () => `<pre>${escapeHtml(markdown)}</pre>`);
    if (this.panel !== panel || panel.id !== id) return;
    const web = panel.view.webview;
    const html = jobHtml({
      cspSource: web.cspSource,
      title: `Job ${id}`,
      styleUris: [web.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'report.css')).toString()],
      body,
    });
    if (html === panel.html) return;
    panel.html = html;
    web.html = html;
  }

  /** The job's document, as Markdown. */
  async render(id: number): Promise<string> {
    try {
      const { job, events, page } = await this.daemon.request('jobs/get', { id });
      const [details, crawl] = await Promise.all([this.pageDetails(job, page ?? null), this.crawlOf(job.crawlId)]);
      return renderJobDocument(job, events, Date.now(), details, crawl);
    } catch (err) {
      return `# Job ${id}\n\nCould not read this job: ${escapeMarkdownInline(err instanceof Error ? err.message : String(err))}\n`;
    }
  }

  /**
   * What the page section shows beyond the record: the links to and from the page (crawl/page)
   * and the job of the page it was found on (that page's record, by crawl/page too). Each may
   * fail on its own (a daemon without crawl/page): the section then says so.
   */
  async pageDetails(job: Job, page: PageRecord | null): Promise<PageDetails | undefined> {
    if (!page) return undefined;
    const crawlId = job.crawlId;
    if (!crawlId) return { page };
    const [links, foundOnJobId] = await Promise.all([
      this.daemon.request('crawl/page', { crawlId, url: page.url }).catch((err: unknown) => errorText(err)),
      page.foundOn ? this.jobOf(crawlId, page.foundOn) : Promise.resolve(undefined),
    ]);
    return { page, links, foundOnJobId };
  }

  /** The job's crawl as far as its row needs it; undefined when it has none or it cannot be read (the id stands in). */
  private async crawlOf(crawlId: string | null): Promise<Pick<Crawl, 'crawlId' | 'name'> | undefined> {
    if (crawlId === null) return undefined;
    if (!this.crawlNames.has(crawlId)) {
      try {
        const { crawl } = await this.daemon.request('crawl/get', { crawlId });
        // A bounded cache, as documents come and go.
        if (this.crawlNames.size >= 1000) this.crawlNames.clear();
        this.crawlNames.set(crawlId, crawl.name);
      } catch {
        return undefined;
      }
    }
    return { crawlId, name: this.crawlNames.get(crawlId) ?? null };
  }

  private async jobOf(crawlId: string, url: string): Promise<number | null | undefined> {
    const key = `${crawlId} ${url}`;
    if (this.jobOfPage.has(key)) return this.jobOfPage.get(key);
    try {
      const { page } = await this.daemon.request('crawl/page', { crawlId, url });
      // Kept once known; a bounded cache, as documents come and go.
      if (this.jobOfPage.size >= 1000) this.jobOfPage.clear();
      if (page.jobId !== null) this.jobOfPage.set(key, page.jobId);
      return page.jobId;
    } catch {
      return undefined;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.panel?.view.dispose();
  }
}

/** What a crawl's job document shows of its page, beside the job. */
export interface PageDetails {
  page: PageRecord;
  /** crawl/page's answer for the page, or why it could not be read; undefined: not asked (no crawl). */
  links?: ResultOf<'crawl/page'> | string;
  /** The job of the page it was found on: null when that page has none, undefined when unknown. */
  foundOnJobId?: number | null;
}

/** The inlinks listed, at most (crawl/page gives the first 1,000). */
export const INLINKS_SHOWN = 50;
/** The outlinks listed, at most. */
export const OUTLINKS_SHOWN = 200;

/**
 * The document's text: record, lease, result, the page and its links, then every event grouped by
 * attempt. `crawl`: the job's crawl, named "name (id)" when given.
 */
export function renderJobDocument(job: Job, events: JobEvent[], now: number, details?: PageDetails, crawl?: Pick<Crawl, 'crawlId' | 'name'>): string {
  const out: string[] = [`# Job ${job.id}: ${STATE_LABELS[job.state]}`, '', mdUrl(job.url), '', '## Record', '', '| Field | Value |', '| :-- | :-- |'];
  // Every value escaped: the renderer passes HTML through, and an error can quote a web server's header.
  const row = (k: string, v: string | number | null) => out.push(`| ${k} | ${v === null ? '—' : inline(String(v))} |`);
  row('id', job.id);
  row('state', job.state);
  row('url', job.url);
  row('host', job.host);
  row('crawl', crawl !== undefined && crawl.crawlId === job.crawlId ? crawlLabel(crawl) : job.crawlId);
  row('depth', job.depth);
  row('priority', job.priority);
  row('what happened', jobStatusText(job, now));
  row('attempts', attemptsText(job));
  row('may start', job.held ? 'when its crawl resumes' : job.runAfter === null ? null : formatClock(job.runAfter, now));
  row('created', formatClock(job.createdAt, now));
  row('updated', formatClock(job.updatedAt, now));
  row('last error', job.lastError === null ? null : localTimes(job.lastError, now));

  out.push('', '## Lease', '');
  if (job.workerId && job.leaseExpiresAt) {
    out.push(
      `- worker: ${inline(job.workerId)}`,
      `- leased at: ${job.leasedAt ? formatClock(job.leasedAt, now, { ms: true }) : '—'}`,
      `- expires at: ${formatClock(job.leaseExpiresAt, now, { ms: true })}`,
      `- last heartbeat: ${job.heartbeatAt ? formatClock(job.heartbeatAt, now, { ms: true }) : 'none yet'}`,
    );
  } else {
    out.push('Not leased.');
  }

  out.push('', '## Result', '');
  if (job.result) {
    const r = job.result;
    out.push(
      `- status: ${r.status ?? '—'}`,
      `- content type: ${r.contentType === null ? '—' : inline(r.contentType)}`,
      `- size: ${r.bytes === null ? '—' : `${formatBytes(r.bytes)} (${r.bytes} bytes)`}`,
      `- duration: ${r.durationMs === null ? '—' : formatDuration(r.durationMs)}`,
      `- final URL: ${r.finalUrl === null ? '—' : mdUrl(r.finalUrl)}`,
      `- title: ${r.title === null ? '—' : inline(r.title)}`,
    );
  } else {
    out.push('No result yet.');
  }

  if (details) out.push(...pageSection(details, now));

  out.push('', `## History (${events.length} events)`);
  for (const section of attempts(events)) {
    out.push('', `### ${section.title}`, '', '| Time | +Elapsed | Event | Worker | Detail |', '| :-- | --: | :-- | :-- | :-- |');
    const start = Date.parse(section.events[0].at);
    for (const e of section.events) {
      const cells = [
        formatClock(e.at, now, { ms: true }),
        `+${formatDuration(Date.parse(e.at) - start)}`,
        inline(e.type),
        inline(e.workerId ?? ''),
        inline(localTimes(e.detail ?? '', now)),
      ];
      out.push(`| ${cells.join(' | ')} |`);
    }
  }
  if (events.length === 0) out.push('', 'No events recorded.');
  return `${out.join('\n')}\n`;
}

export interface AttemptSection {
  title: string;
  events: JobEvent[];
}

/** How a lease ended when its attempt was given back, not spent: said in its section's title. */
const NOT_SPENT: Record<string, string> = {
  deferred: 'put off, not counted',
  released: 'given back, not counted',
  expired: 'lost its worker, not counted',
};

/**
 * How a lease's event ended it, for its section's title. A lost worker that made the queue give
 * the job up is no attempt given back: the job failed with it (the server says so in the detail).
 */
function endedAs(e: JobEvent): string | undefined {
  if (e.type === 'expired' && /gave up after \d+ lost workers/.test(e.detail ?? '')) return 'lost its worker, gave up';
  return NOT_SPENT[e.type];
}

/**
 * Splits the history where a lease starts: each lease is one section, titled with the attempt it
 * was ("attempt 1 of 3"), and how it ended when that attempt was not spent: a page put off 20
 * times shows 20 leases of attempt 1, each saying so.
 */
export function attempts(events: JobEvent[]): AttemptSection[] {
  const sections: { lease: number; said: string | undefined; worker: string | null; events: JobEvent[] }[] = [];
  let n = 0;
  for (const e of events) {
    if (e.type === 'leased') {
      n++;
      const said = /attempt (\d+)\/(\d+)/.exec(e.detail ?? '');
      sections.push({ lease: n, said: said ? `attempt ${said[1]} of ${said[2]}` : undefined, worker: e.workerId, events: [e] });
    } else if (sections.length === 0) {
      sections.push({ lease: 0, said: undefined, worker: null, events: [e] });
    } else {
      sections[sections.length - 1].events.push(e);
    }
  }
  return sections.map(({ lease, said, worker, events: evs }) => {
    if (lease === 0) return { title: 'Before the first lease', events: evs };
    const ended = evs.map(endedAs).find((s) => s !== undefined);
    const what = [said, ended].filter((s) => s !== undefined).join(', ');
    return { title: `Lease ${lease}${what ? `: ${what}` : ''}${worker ? `, worker ${worker}` : ''}`, events: evs };
  });
}

// --- the page section -----------------------------------------------------------------------

/** The command link that opens a job's document: `command:crawlOrchestrator.showJobDetails?[id]`. */
export function jobCommandUri(id: number): string {
  return `command:crawlOrchestrator.showJobDetails?${encodeURIComponent(JSON.stringify([id]))}`;
}

/** The page record, where it was found, and the links to and from it. */
export function pageSection(details: PageDetails, now: number): string[] {
  const { page: p, links, foundOnJobId } = details;
  const out: string[] = ['', '## Page', ''];
  const item = (label: string, value: string | null) => out.push(`- ${label}: ${value ?? '—'}`);
  item('status', p.status !== null ? String(p.status) : p.skipped ? '— (not fetched: skipped)' : '— (no response)');
  if (p.error !== null) item(p.skipped ? 'skipped' : 'error', inline(p.error));
  item('URL', mdUrl(p.url));
  item('final URL', p.finalUrl === null ? null : mdUrl(p.finalUrl));
  if (p.redirects.length === 0) {
    item('redirects', 'none');
  } else {
    out.push(`- redirect chain (${plural(p.redirects.length, 'hop')}):`);
    const chain = [p.url, ...p.redirects];
    chain.forEach((hop, i) => out.push(`  ${i + 1}. ${mdUrl(hop)}${i === 0 ? ' (asked for)' : i === chain.length - 1 ? ' (final)' : ''}`));
  }
  item('title', p.title === null ? null : inline(p.title));
  item('description', p.description === null ? null : inline(p.description));
  item('canonical', p.canonical === null ? null : mdUrl(p.canonical));
  item('robots', p.robots === null ? null : inline(p.robots));
  item('lang', p.lang === null ? null : inline(p.lang));
  item('content type', p.contentType === null ? null : inline(p.contentType));
  item('size', p.bytes === null ? null : `${formatBytes(p.bytes)} (${formatCount(p.bytes)} bytes)`);
  item('fetch time', p.fetchMs === null ? null : formatDuration(p.fetchMs));
  item('fetched at', p.fetchedAt === null ? null : formatClock(p.fetchedAt, now));
  if (p.lastmod !== null && p.lastmod !== undefined) item("lastmod (its sitemap's)", inline(p.lastmod));
  item('depth', p.depth === null ? null : String(p.depth));
  item('sha256', p.sha256 === null ? null : /^[0-9a-f]+$/i.test(p.sha256) ? `\`${p.sha256}\`` : inline(p.sha256));
  item('found on', foundOn(p, foundOnJobId));
  if (p.data !== null && p.data !== undefined) out.push('', '## Data', '', ...dataLines(p.data));

  if (links === undefined) return out;
  if (typeof links === 'string') {
    out.push('', '## Links', '', `The page's links could not be read: ${inline(links)}`);
    return out;
  }

  out.push('', `## Links to this page (${formatCount(links.inlinkCount)})`, '');
  if (links.inlinkCount === 0) out.push('No page of this crawl links here.');
  for (const l of links.inlinks.slice(0, INLINKS_SHOWN)) out.push(`- ${mdUrl(l.url)}${linkText(l.text)}`);
  const moreIn = links.inlinkCount - Math.min(links.inlinks.length, INLINKS_SHOWN);
  if (moreIn > 0) out.push(`- and ${formatCount(moreIn)} more`);

  const followed = links.outlinks.filter((l) => l.followed).length;
  out.push('', `## Links on this page (${formatCount(links.outlinks.length)}${links.outlinks.length > 0 ? `: ${formatCount(followed)} followed` : ''})`, '');
  const reasons = new Map<string, number>();
  for (const l of links.outlinks) if (!l.followed) reasons.set(l.reason ?? 'not followed', (reasons.get(l.reason ?? 'not followed') ?? 0) + 1);
  if (reasons.size > 0) {
    out.push(
      `Not followed: ${[...reasons]
        .sort((a, b) => b[1] - a[1])
        .map(([why, n]) => `${inline(why)} ${formatCount(n)}`)
        .join(' · ')}`,
      '',
    );
  }
  if (links.outlinks.length === 0) out.push('No links.');
  for (const l of links.outlinks.slice(0, OUTLINKS_SHOWN)) {
    out.push(`- ${mdUrl(l.url)}${linkText(l.text)}: ${l.followed ? 'followed' : `not followed (${inline(l.reason ?? 'no reason given')})`}`);
  }
  if (links.outlinks.length > OUTLINKS_SHOWN) out.push(`- and ${formatCount(links.outlinks.length - OUTLINKS_SHOWN)} more`);
  return out;
}

/** Values of a list field shown, at most: the export has them all. */
export const DATA_VALUES_SHOWN = 20;

/** The page's data (the crawl's extract fields), a line per field, a list's values under it. */
export function dataLines(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  const value = (v: unknown) => (typeof v === 'string' ? `“${inline(v)}”` : inline(JSON.stringify(v) ?? String(v)));
  for (const [key, v] of Object.entries(data)) {
    if (v === null || v === undefined) out.push(`- ${inline(key)}: — (no match)`);
    else if (!Array.isArray(v)) out.push(`- ${inline(key)}: ${value(v)}`);
    else {
      out.push(`- ${inline(key)} (${plural(v.length, 'match', 'matches')})${v.length === 0 ? '' : ':'}`);
      for (const item of v.slice(0, DATA_VALUES_SHOWN)) out.push(`  - ${value(item)}`);
      if (v.length > DATA_VALUES_SHOWN) out.push(`  - and ${formatCount(v.length - DATA_VALUES_SHOWN)} more`);
    }
  }
  if (out.length === 0) out.push('No fields.');
  return out;
}

/** "found on": the page, as a link to its job when known, and the link's text. */
function foundOn(p: PageRecord, jobId: number | null | undefined): string {
  if (p.foundOn === null) return '— (a seed)';
  const page = typeof jobId === 'number' ? `[${inline(p.foundOn)}](${jobCommandUri(jobId)}) (job ${jobId})` : mdUrl(p.foundOn);
  if (p.linkText === null) return page;
  const text = inline(p.linkText);
  return `${page}, ${text === '' ? 'a link with no text' : `link text “${text}”`}`;
}

/** ` “text”`, or ` (no link text)`. */
function linkText(text: string): string {
  const shown = inline(text);
  return shown === '' ? ' (no link text)' : ` “${shown}”`;
}

/** Remote text, on one line, at most 500 characters, escaped for where it stands in a line. */
export function inline(text: string): string {
  const line = text.replace(/[\s\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return escapeMarkdownInline(line.length > 500 ? `${line.slice(0, 499)}…` : line);
}

/**
 * A URL as an autolink (`<https://...>`), which Markdown takes literally; one that cannot be one
 * (another scheme, spaces or angle brackets in it) as escaped text.
 */
export function mdUrl(url: string): string {
  return /^https?:\/\/[^\s<>\u0000-\u001f\u007f-\u009f]+$/i.test(url) && url.length <= 8192 ? `<${url}>` : inline(url);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
