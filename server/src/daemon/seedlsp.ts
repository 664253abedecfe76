/**
 * The seed-file features of the language server: diagnostics (invalid URLs, bad options, pages
 * whose job failed), an inlay hint after each URL with its job's live state, a hover with the job's
 * record and recent events, and code lenses to start the crawl, requeue what failed and open the
 * jobs view. A file's URLs are matched to jobs by their normalized form, within the crawl the file
 * last started and among standalone jobs; everything is refreshed as jobs change.
 *
 * What a file costs during a crawl does not grow with its length or the crawl's rate: a change
 * re-reads only the jobs of the file that changed (by id, from the change feed), hints are made
 * for the lines the editor shows (it asks for its visible range), and diagnostics and lenses are
 * sent again only when a job's failure or the file's crawl changed. A 5,000-URL file open beside a
 * crawl of those URLs re-read all 5,000 jobs (twice) and sent 5,000 hints on every change batch,
 * three a second: the crawl took 57.4 s against 31.1 s with the file closed.
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
/**
 * While jobs change, a file's unfinished jobs are all read again this often. The change feed names
 * the jobs that changed, but not always every one: a job leased and finished between two of its
 * looks, when the queue holds more active jobs than it watches, goes unnamed (the hints of a
 * 5,000-URL file kept "queued" for pages long done). Those are found here, late by this at most,
 * at the cost of reading the file's unfinished jobs (fewer as its crawl goes on) twice a minute
 * of changes rather than every batch.
 */
export const SWEEP_MS = 2_000;
/** Hint redraws asked of the editor, at most one per this. */
const HINT_REDRAW_MS = 1_000;
const EVENTS_IN_HOVER = 10;

interface Snapshot {
  version: number;
  file: SeedFile;
  crawlId: string | null;
  /** The normalized URLs looked up (the first MAX_LOOKUP). */
  keys: string[];
  /** Jobs by normalized URL: the crawl's job when there is one, else the standalone job. */
  jobs: Map<string, Job>;
  /** Normalized URLs by job id: which of a change batch's jobs are this file's. */
  urlOf: Map<number, string>;
  /** Changes when diagnostics or lenses would; compared to skip needless refreshes. */
  fingerprint: string;
  /** Whether the last look read any job again: the hints are redrawn. */
  touched: boolean;
  /** Jobs changed since its unfinished jobs were last all read again (see SWEEP_MS). */
  sweepDue: boolean;
}

/** Jobs changed: these ids, or any (null, too many to name). */
type Changed = readonly number[] | null;

export class SeedFeatures {
  readonly documents = new TextDocuments(TextDocument);
  private readonly snapshots = new Map<string, Snapshot>();
  /** What each file's diagnostics were last sent for: hints and hovers refresh snapshots too. */
  private readonly published = new Map<string, string>();
  private capabilities: ClientCapabilities = {};
  private refreshTimer: NodeJS.Timeout | null = null;
  /** Files to look at again, with the jobs that changed for each (null: read them all again). */
  private readonly dirty = new Map<string, Set<number> | null>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private hintTimer: NodeJS.Timeout | null = null;
  /** A hint redraw asked for while the last one's wait runs. */
  private hintsAsked = false;
  private closed = false;

  constructor(
    private readonly connection: _Connection,
    private readonly queue: Queue,
    private readonly seeds: SeedMap,
    private readonly log: Logger,
    private readonly sweepMs = SWEEP_MS,
  ) {}

  listen(): void {
    const c = this.connection;
    // An edit names no job: the file is reparsed, and only URLs it did not have are looked up.
    this.documents.onDidChangeContent((e) => this.schedule(e.document.uri, []));
    this.documents.onDidClose((e) => {
      this.snapshots.delete(e.document.uri);
      this.published.delete(e.document.uri);
      void c.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
    });
    c.languages.inlayHint.on(async (p) => this.hints(await this.snapshot(p.textDocument.uri), p.range.start.line, p.range.end.line));
    c.onHover(async (p) => this.hover(await this.snapshot(p.textDocument.uri), p.position.line, p.position.character));
    c.onCodeLens(async (p) => this.lenses(p.textDocument.uri, await this.snapshot(p.textDocument.uri)));
    this.seeds.onChange((uri) => this.schedule(uri));
    this.documents.listen(c);
  }

  setCapabilities(caps: ClientCapabilities): void {
    this.capabilities = caps;
  }

  /** Jobs changed somewhere (batched by the change feed): look again at the open seed files they touch. */
  jobsChanged(ids: Changed): void {
    for (const [uri, snap] of this.snapshots) {
      snap.sweepDue = true;
      this.schedule(uri, ids);
    }
    this.watchSweeps();
  }

  /** Reads every unfinished job of the files whose jobs changed since their last sweep, every SWEEP_MS. */
  private watchSweeps(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const due = new Map<string, Set<number>>();
      for (const [uri, snap] of this.snapshots) {
        if (!snap.sweepDue) continue;
        snap.sweepDue = false;
        due.set(uri, new Set([...snap.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'in_progress').map((j) => j.id)));
      }
      if (due.size > 0) void this.refresh(due).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
    }, this.sweepMs).unref();
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    if (this.hintTimer) clearTimeout(this.hintTimer);
  }

  /** Refreshes soon, once for a burst of edits or changes; `ids` null (a new crawl, changes unnamed) reads every job again. */
  private schedule(uri: string, ids: Changed = null): void {
    if (this.closed) return;
    const had = this.dirty.get(uri);
    if (ids === null || had === null) this.dirty.set(uri, null);
    else this.dirty.set(uri, new Set([...(had ?? []), ...ids]));
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      const dirty = new Map(this.dirty);
      this.dirty.clear();
      void this.refresh(dirty).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
    }, 100);
  }

  private async refresh(dirty: Map<string, Set<number> | null>, redraw = false): Promise<void> {
    let changed = false;
    let touched = false;
    for (const [uri, ids] of dirty) {
      if (!this.isSeedFile(uri)) continue;
      const snap = ids === null ? await this.snapshot(uri, 'all') : await this.update(uri, ids);
      if (!snap) continue;
      touched ||= snap.touched;
      if (snap.fingerprint !== this.published.get(uri)) {
        this.published.set(uri, snap.fingerprint);
        changed = true;
        await this.connection.sendDiagnostics({ uri, version: snap.version, diagnostics: this.diagnostics(snap) });
      }
    }
    if (changed || redraw || touched) this.askClientToRedraw(changed);
    this.watchLeases();
  }

  private askClientToRedraw(lenses: boolean): void {
    const ws = this.capabilities.workspace;
    if (ws?.inlayHint?.refreshSupport) this.redrawHints();
    if (lenses && ws?.codeLens?.refreshSupport) void this.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {});
  }

  /**
   * Asks the editor to redraw hints at most once per HINT_REDRAW_MS, the last ask kept for the end
   * of the wait: each redraw has the editor ask for and draw every hint in view, and a crawl of the
   * file's URLs changes some of them in every batch, three a second.
   */
  private redrawHints(): void {
    if (this.hintTimer || this.closed) {
      this.hintsAsked = true;
      return;
    }
    void this.connection.sendRequest(InlayHintRefreshRequest.type).catch(() => {});
    this.hintsAsked = false;
    this.hintTimer = setTimeout(() => {
      this.hintTimer = null;
      if (this.hintsAsked) this.redrawHints();
    }, HINT_REDRAW_MS);
    this.hintTimer.unref();
  }

  /**
   * Lease clocks tick between job changes, and heartbeats (which write no event) move them: while
   * an open file has a leased job, its jobs are read again and its hints redrawn every second.
   */
  private watchLeases(): void {
    const leased = () => new Map([...this.snapshots.entries()].flatMap(([uri, s]) => {
      const running = [...s.jobs.values()].filter((j) => j.state === 'in_progress').map((j) => j.id);
      return running.length ? [[uri, new Set(running)] as const] : [];
    }));
    if (leased().size && !this.leaseTimer && !this.closed) {
      this.leaseTimer = setInterval(() => {
        void this.refresh(leased(), true).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
      }, LEASE_TICK_MS).unref();
    } else if (!leased().size && this.leaseTimer) {
      clearInterval(this.leaseTimer);
      this.leaseTimer = null;
    }
  }

  private isSeedFile(uri: string): boolean {
    const doc = this.documents.get(uri);
    return !!doc && (doc.languageId === SEED_LANGUAGE_ID || uri.endsWith(SEED_FILE_EXTENSION));
  }

  /**
   * The parsed file and its jobs. An edit reparses it and looks up only the URLs it did not have
   * (a keystroke in a 5,000-URL file reads nothing again); `all` reads every job again (the file
   * started another crawl, or the change feed could not say which jobs changed).
   */
  private async snapshot(uri: string, read: 'as needed' | 'all' = 'as needed'): Promise<Snapshot | null> {
    const doc = this.documents.get(uri);
    if (!doc || !this.isSeedFile(uri)) return null;
    const have = this.snapshots.get(uri);
    const crawlId = this.seeds.get(uri);
    const sameCrawl = have !== undefined && have.crawlId === crawlId;
    if (have && have.version === doc.version && sameCrawl && read === 'as needed') {
      have.touched = false;
      return have;
    }
    const file = have && have.version === doc.version ? have.file : parseSeedFile(doc.getText());
    const keys = [...new Set(file.urls.map((u) => u.normalized).filter((u): u is string => u !== null))].slice(0, MAX_LOOKUP);
    const snap: Snapshot = { version: doc.version, file, crawlId, keys, jobs: new Map(), urlOf: new Map(), fingerprint: '', touched: true, sweepDue: have?.sweepDue ?? false };
    const keep = sameCrawl && read === 'as needed' ? have.jobs : new Map<string, Job>();
    for (const key of keys) {
      const job = keep.get(key);
      if (job) {
        snap.jobs.set(key, job);
        snap.urlOf.set(job.id, key);
      }
    }
    await this.readJobs(snap, keep.size === 0 ? keys : keys.filter((k) => !snap.jobs.has(k)));
    this.snapshots.set(uri, snap);
    return snap;
  }

  /**
   * The snapshot brought up to date with the jobs that changed: those of the file's are read
   * again by their URLs. A changed job the file does not know, of its crawl or standalone, may be
   * a new job for one of its URLs that had none: those URLs alone are looked up.
   */
  private async update(uri: string, ids: Set<number>): Promise<Snapshot | null> {
    const have = this.snapshots.get(uri);
    const doc = this.documents.get(uri);
    if (!have || !doc || have.crawlId !== this.seeds.get(uri)) return this.snapshot(uri);
    // Edited meanwhile: reparsed first, and the jobs that changed still read below.
    if (have.version !== doc.version) return this.applyChanges((await this.snapshot(uri))!, ids, true);
    return this.applyChanges(have, ids, false);
  }

  private async applyChanges(have: Snapshot, ids: Set<number>, edited: boolean): Promise<Snapshot> {
    const urls = new Set<string>();
    const unknown: number[] = [];
    for (const id of ids) {
      const url = have.urlOf.get(id);
      if (url !== undefined) urls.add(url);
      else unknown.push(id);
    }
    const jobless = have.keys.filter((key) => !have.jobs.has(key));
    if (unknown.length > 0 && jobless.length > 0) {
      const mine = (await this.queue.jobStates(unknown)).some((j) => j.crawlId === null || j.crawlId === have.crawlId);
      if (mine) for (const key of jobless) urls.add(key);
    }
    have.touched = edited || urls.size > 0;
    if (urls.size > 0) await this.readJobs(have, [...urls]);
    return have;
  }

  /** Reads the jobs of these URLs into the snapshot: the file's crawl's job, else the standalone one. */
  private async readJobs(snap: Snapshot, keys: string[]): Promise<void> {
    const found = new Map<string, Job>();
    for (const j of await this.queue.findByDedupeKeys(null, keys)) found.set(j.url, j);
    if (snap.crawlId) for (const j of await this.queue.findByDedupeKeys(snap.crawlId, keys)) found.set(j.url, j);
    for (const key of keys) {
      const old = snap.jobs.get(key);
      if (old) snap.urlOf.delete(old.id);
      const job = found.get(key);
      if (job) {
        snap.jobs.set(key, job);
        snap.urlOf.set(job.id, key);
      } else {
        snap.jobs.delete(key);
      }
    }
    // What diagnostics and lenses show: the jobs and the failures, not every state (running and
    // done move the hints alone, which the editor asks for as it draws them).
    const failed = [...snap.jobs.values()].filter((j) => j.state === 'error').map((j) => [j.id, j.lastError]);
    snap.fingerprint = JSON.stringify([snap.version, snap.crawlId, snap.jobs.size, failed]);
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

  /** Hints for the lines the editor asked for (it asks for what it shows). */
  private hints(s: Snapshot | null, fromLine: number, toLine: number): InlayHint[] {
    if (!s) return [];
    const now = Date.now();
    const out: InlayHint[] = [];
    for (const u of s.file.urls) {
      if (!u.normalized || u.line < fromLine || u.line > toLine) continue;
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
