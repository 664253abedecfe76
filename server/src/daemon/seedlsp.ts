/**
 * The seed-file features of the language server: diagnostics (invalid URLs, bad options, pages
 * whose job failed), an inlay hint after each URL with its job's live state, a hover with the job's
 * record and recent events, and code lenses to start the crawl, requeue what failed and open the
 * jobs view. A file's URLs are matched to jobs by their normalized form, within the crawl the file
 * last started and among standalone jobs; everything is refreshed as jobs change.
 */
import type { Queue } from '../core/types';
import {
  CodeLensRefreshRequest, DiagnosticSeverity, InlayHintRefreshRequest, MarkupKind, TextDocuments,
  type ClientCapabilities, type CodeLens, type Diagnostic, type Hover, type InlayHint, type _Connection,
} from 'vscode-languageserver/lib/common/api';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Job, JobEvent } from '../core/types';
import type { Logger } from '../core/scheduler';
import { SEED_COMMANDS, SEED_FILE_EXTENSION, SEED_LANGUAGE_ID, type ParamsOf, type SeedCommandArgs } from '../protocol';
import { parseSeedFile, startParams, type SeedFile, type SeedUrl } from './seedfile';
import type { SeedMap } from './seedmap';
import { iso } from './wire';

/** URLs of one file looked up; beyond, lines get no live state (a seed list is not a queue dump). */
const MAX_LOOKUP = 5_000;
/** While a job of an open file is leased, its hint's lease clock is redrawn this often. */
const LEASE_TICK_MS = 1_000;
const EVENTS_IN_HOVER = 10;

interface Snapshot {
  version: number;
  file: SeedFile;
  crawlId: string | null;
  /** Jobs by normalized URL: the crawl's job when there is one, else the standalone job. */
  jobs: Map<string, Job>;
  /** Changes when diagnostics or lenses would; compared to skip needless refreshes. */
  fingerprint: string;
}

export class SeedFeatures {
  readonly documents = new TextDocuments(TextDocument);
  private readonly snapshots = new Map<string, Snapshot>();
  /** What each file's diagnostics were last sent for: hints and hovers refresh snapshots too. */
  private readonly published = new Map<string, string>();
  private capabilities: ClientCapabilities = {};
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly dirty = new Set<string>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly connection: _Connection,
    private readonly queue: Queue,
    private readonly seeds: SeedMap,
    private readonly log: Logger,
  ) {}

  listen(): void {
    const c = this.connection;
    this.documents.onDidChangeContent((e) => this.schedule(e.document.uri));
    this.documents.onDidClose((e) => {
      this.snapshots.delete(e.document.uri);
      this.published.delete(e.document.uri);
      void c.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    });
    c.languages.inlayHint.on(async (p) => this.hints(await this.snapshot(p.textDocument.uri)));
    c.onHover(async (p) => this.hover(await this.snapshot(p.textDocument.uri), p.position.line, p.position.character));
    c.onCodeLens(async (p) => this.lenses(p.textDocument.uri, await this.snapshot(p.textDocument.uri)));
    this.seeds.onChange((uri) => this.schedule(uri));
    this.documents.listen(c);
  }

  setCapabilities(caps: ClientCapabilities): void {
    this.capabilities = caps;
  }

  /** Jobs changed somewhere: look again at every open seed file (batched by the change feed). */
  jobsChanged(): void {
    for (const uri of this.snapshots.keys()) this.schedule(uri);
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
  }

  /** Refreshes soon, once for a burst of edits or changes. */
  private schedule(uri: string): void {
    if (this.closed) return;
    this.dirty.add(uri);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const uris = [...this.dirty];
      this.dirty.clear();
      void this.refresh(uris).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
    }, 100);
  }

  private async refresh(uris: string[], redraw = false): Promise<void> {
    let changed = false;
    for (const uri of uris) {
      if (!this.isSeedFile(uri)) continue;
      const snap = await this.snapshot(uri, true);
      if (!snap) continue;
      if (snap.fingerprint !== this.published.get(uri)) {
        this.published.set(uri, snap.fingerprint);
        changed = true;
        await this.connection.sendDiagnostics({ uri, version: snap.version, diagnostics: this.diagnostics(snap) });
      }
    }
    if (changed || redraw) this.askClientToRedraw(changed);
    this.watchLeases();
  }

  private askClientToRedraw(lenses: boolean): void {
    const ws = this.capabilities.workspace;
    if (ws?.inlayHint?.refreshSupport) void this.connection.sendRequest(InlayHintRefreshRequest.type).catch(() => {});
    if (lenses && ws?.codeLens?.refreshSupport) void this.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
  }

  /**
   * Lease clocks tick between job changes, and heartbeats (which write no event) move them: while
   * an open file has a leased job, its jobs are read again and its hints redrawn every second.
   */
  private watchLeases(): void {
    const leased = () => [...this.snapshots.entries()]
      .filter(([, s]) => [...s.jobs.values()].some((j) => j.state === 'in_progress')).map(([uri]) => uri);
    if (leased().length && !this.leaseTimer && !this.closed) {
      this.leaseTimer = setInterval(() => {
        void this.refresh(leased(), true).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
      }, LEASE_TICK_MS).unref();
    } else if (!leased().length && this.leaseTimer) {
      clearInterval(this.leaseTimer);
      this.leaseTimer = null;
    }
  }

  private isSeedFile(uri: string): boolean {
    const doc = this.documents.get(uri);
    return !!doc && (doc.languageId === SEED_LANGUAGE_ID || uri.endsWith(SEED_FILE_EXTENSION));
  }

  /** The parsed file and its jobs; reparsed when the text changed, jobs read again when asked. */
  private async snapshot(uri: string, reload = false): Promise<Snapshot | null> {
    const doc = this.documents.get(uri);
    if (!doc || !this.isSeedFile(uri)) return null;
    const have = this.snapshots.get(uri);
    const crawlId = this.seeds.get(uri);
    if (have && have.version === doc.version && have.crawlId === crawlId && !reload) return have;
    const file = have && have.version === doc.version ? have.file : parseSeedFile(doc.getText());
    const keys = [...new Set(file.urls.map((u) => u.normalized).filter((u): u is string => u !== null))].slice(0, MAX_LOOKUP);
    const jobs = new Map<string, Job>();
    for (const j of await this.queue.findByDedupeKeys(null, keys)) jobs.set(j.url, j);
    if (crawlId) for (const j of await this.queue.findByDedupeKeys(crawlId, keys)) jobs.set(j.url, j);
    // What diagnostics and lenses show; heartbeats are left out (they only move the hints' clocks).
    const fingerprint = JSON.stringify([doc.version, crawlId, [...jobs.values()].map((j) => [j.id, j.state, j.attempts, j.lastError])]);
    const snap: Snapshot = { version: doc.version, file, crawlId, jobs, fingerprint };
    this.snapshots.set(uri, snap);
    return snap;
  }

  private diagnostics(s: Snapshot): Diagnostic[] {
    const out: Diagnostic[] = s.file.problems.map((p) => ({
      range: { start: { line: p.line, character: p.start }, end: { line: p.line, character: p.end } },
      severity: p.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      message: p.message,
      source: 'crawl',
    }));
    for (const u of s.file.urls) {
      const job = u.normalized ? s.jobs.get(u.normalized) : undefined;
      if (job?.state !== 'error' || u.duplicateOf !== null) continue;
      out.push({
        range: range(u),
        severity: DiagnosticSeverity.Error,
        message: job.lastError ?? 'the job failed',
        source: 'crawl',
        code: `job ${job.id}`,
      });
    }
    return out;
  }

  private hints(s: Snapshot | null): InlayHint[] {
    if (!s) return [];
    const now = Date.now();
    const out: InlayHint[] = [];
    for (const u of s.file.urls) {
      if (!u.normalized) continue;
      const job = s.jobs.get(u.normalized);
      out.push({ position: { line: u.line, character: u.end }, label: job ? stateLabel(job, now) : 'not crawled yet', paddingLeft: true });
    }
    return out;
  }

  private async hover(s: Snapshot | null, line: number, character: number): Promise<Hover | null> {
    const u = s?.file.urls.find((x) => x.line === line && character >= x.start && character <= x.end);
    if (!s || !u) return null;
    if (!u.normalized) return { range: range(u), contents: { kind: MarkupKind.Markdown, value: `**Not a crawlable URL:** ${md(u.error ?? '')}` } };
    const job = s.jobs.get(u.normalized);
    if (!job) {
      return { range: range(u), contents: { kind: MarkupKind.Markdown, value: `${md(u.normalized)}\n\nNo job yet: start the crawl to fetch it.` } };
    }
    const found = await this.queue.get(job.id);
    return { range: range(u), contents: { kind: MarkupKind.Markdown, value: jobMarkdown(found?.job ?? job, found?.events ?? [], Date.now()) } };
  }

  private lenses(uri: string, s: Snapshot | null): CodeLens[] {
    if (!s) return [];
    const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const out: CodeLens[] = [];
    const start = startParams(s.file);
    if (start) {
      const args: SeedCommandArgs[typeof SEED_COMMANDS.startCrawl] = [{ uri }];
      const n = start.seeds.length;
      out.push({ range: at, command: { title: `▶ Start crawl (${n} URL${n === 1 ? '' : 's'})`, command: SEED_COMMANDS.startCrawl, arguments: args } });
    }
    const jobs = [...s.jobs.values()];
    const failed = jobs.filter((j) => j.state === 'error');
    if (failed.length) {
      // The crawl's failures are requeued as a whole (pages found on the way included); a
      // standalone URL's failure by its id.
      const standalone = failed.filter((j) => j.crawlId === null).map((j) => j.id);
      const requeue: ParamsOf<'jobs/requeue'> = s.crawlId && standalone.length === 0 ? { crawlId: s.crawlId, state: 'error' } : { ids: failed.map((j) => j.id), state: 'error' };
      const args: SeedCommandArgs[typeof SEED_COMMANDS.requeueFailed] = [requeue];
      out.push({ range: at, command: { title: `↻ Requeue failed (${failed.length})`, command: SEED_COMMANDS.requeueFailed, arguments: args } });
    }
    if (s.crawlId || jobs.length) {
      const args: SeedCommandArgs[typeof SEED_COMMANDS.revealJobs] = [{ crawlId: s.crawlId, jobIds: jobs.map((j) => j.id) }];
      out.push({ range: at, command: { title: s.crawlId ? `Open in jobs view (crawl ${s.crawlId})` : 'Open in jobs view', command: SEED_COMMANDS.revealJobs, arguments: args } });
    }
    return out;
  }
}

function range(u: SeedUrl) {
  return { start: { line: u.line, character: u.start }, end: { line: u.line, character: u.end } };
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function short(text: string, max = 80): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The hint after a URL: its state, and for a leased job who holds it and how fresh the lease is. */
export function stateLabel(j: Job, now: number): string {
  switch (j.state) {
    case 'queued': {
      const retry = j.attempts > 0 ? ` · attempt ${j.attempts + 1}/${j.maxAttempts}` : '';
      const later = j.runAfter > now && iso(j.runAfter) ? ` · not before ${iso(j.runAfter)!.slice(11, 19)}Z` : '';
      return `⏳ queued${retry}${later}`;
    }
    case 'in_progress':
      return `⟳ running · ${j.workerId ?? '?'} · lease ${seconds((j.leaseExpiresAt ?? now) - now)} left · heartbeat ${seconds(now - (j.heartbeatAt ?? now))} ago`;
    case 'done': {
      const r = j.result;
      const parts = [r?.status, r?.bytes !== undefined ? bytes(r.bytes) : undefined, r?.durationMs !== undefined ? `${Math.round(r.durationMs)} ms` : undefined];
      return `✓ done${parts.filter((p) => p !== undefined).map((p) => ` · ${p}`).join('')}`;
    }
    case 'skipped':
      return `⤼ skipped${j.lastError ? ` · ${short(j.lastError)}` : ''}`;
    case 'error':
      return `✗ error${j.lastError ? ` · ${short(j.lastError)}` : ''}`;
  }
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Text from the web (titles, errors) shown as plain text, never as markdown or HTML. */
function md(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

export function jobMarkdown(j: Job, events: JobEvent[], now: number): string {
  const rows: [string, string][] = [
    ['State', md(j.state)],
    ['Job', `${j.id}${j.crawlId ? ` · crawl ${md(j.crawlId)}` : ' · standalone'}${j.depth !== null ? ` · depth ${j.depth}` : ''}`],
    ['Attempts', `${j.attempts} of ${j.maxAttempts}`],
  ];
  if (j.workerId) rows.push([j.state === 'in_progress' ? 'Worker' : 'Last worker', md(j.workerId)]);
  if (j.state === 'in_progress') {
    rows.push(['Lease', `${seconds((j.leaseExpiresAt ?? now) - now)} left · heartbeat ${seconds(now - (j.heartbeatAt ?? now))} ago`]);
  }
  const r = j.result;
  if (r) {
    const bits = [r.status !== undefined ? `HTTP ${r.status}` : null, r.contentType ? md(r.contentType) : null,
      r.bytes !== undefined ? bytes(r.bytes) : null, r.durationMs !== undefined ? `${Math.round(r.durationMs)} ms` : null].filter(Boolean);
    rows.push(['Result', bits.join(' · ')]);
    if (r.title) rows.push(['Title', md(short(r.title, 200))]);
    if (r.finalUrl && r.finalUrl !== j.url) rows.push(['Final URL', md(r.finalUrl)]);
  }
  if (j.lastError) rows.push([j.state === 'error' ? 'Error' : 'Note', md(short(j.lastError, 300))]);
  rows.push(['Created', iso(j.createdAt) ?? ''], ['Updated', iso(j.updatedAt) ?? '']);
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const recent = events.slice(-EVENTS_IN_HOVER).map((e) =>
    `- ${iso(e.at)?.slice(11, 19) ?? ''} **${md(e.type)}**${e.workerId ? ` by ${md(e.workerId)}` : ''}${e.detail ? ` — ${md(short(e.detail, 160))}` : ''}`);
  return `**${md(j.url)}**\n\n${table}\n\n${recent.length ? `Recent events:\n\n${recent.join('\n')}` : 'No events.'}`;
}
