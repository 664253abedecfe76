/**
 * The seed-file features of the language server: diagnostics (invalid URLs, bad options, pages
 * whose job failed), an inlay hint after each URL with its job's live state, a hover with the job's
 * record and recent events, and code lenses to start the crawl (or, while the file's crawl runs,
 * its progress with pause and cancel), requeue what failed and open the jobs view; completion,
 * option help and quick fixes come from seeds/assist.ts. A file's URLs are matched to jobs by their
 * normalized form, within the crawl the file last started and among standalone jobs; everything
 * is refreshed as jobs change.
 *
 * What a file costs during a crawl does not grow with its length or the crawl's rate: a change
 * re-reads only the jobs of the file that changed (by id, from the change feed; those of the lines
 * in view when the feed could not name them, the sweep finding the rest by their states, each
 * read whole when its line is drawn), hints are made for the lines the editor shows (it asks for
 * its visible range), and diagnostics and lenses are sent again only when a job's failure or the
 * file's crawl changed. A 5,000-URL file open beside a
 * crawl of those URLs re-read all 5,000 jobs (twice) and sent 5,000 hints on every change batch,
 * three a second: the crawl took 57.4 s against 31.1 s with the file closed.
 */
import {
  CodeLensRefreshRequest,
  DiagnosticSeverity,
  InlayHintRefreshRequest,
  MarkupKind,
  TextDocuments,
  type ClientCapabilities,
  type CodeLens,
  type Diagnostic,
  type Hover,
  type InlayHint,
  type _Connection,
} from 'vscode-languageserver/lib/common/api';
import { TextDocument } from 'vscode-languageserver-textdocument';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NotFoundError } from '../../core/errors';
import { isHeld, type Job, type JobEvent, type Queue } from '../../core/types';
import type { Logger } from '../../core/scheduler';
import type { CrawlService } from '../../crawl/service';
import {
  crawlLabel,
  crawlProgress,
  SEED_COMMANDS,
  SEED_FILE_EXTENSION,
  SEED_LANGUAGE_ID,
  type Crawl,
  type ParamsOf,
  type SeedCommandArgs,
} from '../../protocol';
import { completions, handlerValue, optionHover, quickFixes } from './assist';
import { parseSeedFile, startParams, type SeedFile, type SeedUrl } from './file';
import type { SeedMap } from './map';
import { seedOptions, type CrawlDefaults, type SeedOptions } from './options';
import { iso, wireCrawl } from '../wire';

/** URLs of one file looked up; beyond, lines get no live state (a seed list is not a queue dump). */
const MAX_LOOKUP = 5_000;
/**
 * URLs whose jobs are read a query at most, the daemon's thread let go between: a watched crawl of
 * a 5,000-URL file began with those read in two queries (the crawl's jobs, the standalone ones)
 * that held the thread 80 ms.
 */
const LOOKUP_SLICE = 500;
/** While a job of an open file is leased, its hint's lease clock is redrawn this often. */
const LEASE_TICK_MS = 1_000;
/**
 * While jobs change, the states of a file's unfinished jobs are all read again this often. The
 * change feed names the jobs that changed, but not always every one: a job leased and finished
 * between two of its looks, when the queue holds more active jobs than it watches, goes unnamed
 * (the hints of a 5,000-URL file kept "queued" for pages long done). Those are found here, late by
 * this at most, at the cost of reading the states of the file's unfinished jobs (fewer as its
 * crawl goes on) every SWEEP_MS of changes rather than every batch.
 */
export const SWEEP_MS = 2_000;
/** Hint redraws asked of the editor, at most one per this. */
const HINT_REDRAW_MS = 1_000;
/** How long the editors get to ask again for the hints they show after a redraw (see SeedFeatures.hintLines). */
const HINT_ANSWER_MS = 2_000;
/** Line ranges kept per file: a few editors, each with a few folded regions. */
const HINT_RANGES_KEPT = 16;
const EVENTS_IN_HOVER = 10;
/** Lens redraws asked of the editor for a crawl's progress alone, at most one per this. */
const LENS_REDRAW_MS = 1_000;
/** How often a seed file's handler that could not run is looked for again (a realpath a file). */
export const HANDLER_RECHECK_MS = 2_000;

/**
 * A request to the editor sent at most once per `everyMs`: an ask during the wait is kept, and
 * sent once at its end. Each redraw has the editor ask for and draw everything in view, and a
 * crawl of a file's URLs changes some of it in every batch, three a second.
 */
export class Throttled {
  private timer: NodeJS.Timeout | null = null;
  private asked = false;
  private closed = false;

  constructor(
    private readonly send: () => void,
    private readonly everyMs: number,
  ) {}

  ask(): void {
    if (this.timer || this.closed) {
      this.asked = true;
      return;
    }
    this.send();
    this.asked = false;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.asked) this.ask();
    }, this.everyMs);
    this.timer.unref();
  }

  /** Sends at once, whatever the wait (a change the user waits to see), and starts a wait anew. */
  now(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ask();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

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
  /**
   * Kept as jobs are put (see put), so that lenses, diagnostics and lease clocks need no pass
   * over the file's jobs: how many failed, a count that moves whenever a failure changes (a job
   * fails, fails again otherwise, or leaves `error`), and the jobs leased.
   */
  failed: number;
  failures: number;
  running: Set<number>;
  /**
   * URLs whose job a sweep found changed out of sight, known by its state alone (the rest of it as
   * it was): read whole before its hint is drawn. Sweeps that read every changed job whole, and
   * lens keys made over every job, took 481 ms of the daemon's thread in a watched 5,000-URL crawl
   * of the editor benchmark; 118 ms with this and the counts above.
   */
  partial: Set<string>;
  /** Changes when diagnostics would (an edit among them); compared to skip needless sends. */
  fingerprint: string;
  /**
   * Changes when the lenses would for a reason of the daemon's (jobs, failures, the file's crawl):
   * an edit alone asks no redraw, since the editor asks for lenses and hints again after each.
   */
  lensKey: string;
  /** Whether the last look changed a job of the lines the editor shows: the hints are redrawn. */
  touched: boolean;
  /** Jobs changed since its unfinished jobs were last all read again (see SWEEP_MS). */
  sweepDue: boolean;
  /**
   * A batch could not name its jobs since the last sweep: the next one reads the states of all the
   * file's jobs, not only the unfinished ones (a finished job may have been requeued), and looks
   * up its URLs without a job.
   */
  unnamed: boolean;
  /** This look is such a sweep's: it looks up the URLs without a job. */
  lookUpJobless: boolean;
}

/** Jobs changed: these ids, or any (null, too many to name). */
type Changed = readonly number[] | null;

export class SeedFeatures {
  readonly documents = new TextDocuments(TextDocument);
  private readonly snapshots = new Map<string, Snapshot>();
  /**
   * The lines each file's hints were asked for: an editor asks for those it shows when it shows
   * them (opened, scrolled, brought to the front), and every editor showing the file asks again
   * after each redraw. Jobs that change elsewhere in the file redraw nothing: a crawl of a
   * 5,000-URL file in its order changes the lines in view in its first second, and then only
   * lines out of sight. A range not asked again within HINT_ANSWER_MS of a redraw is no longer
   * shown (its editor was closed or hidden, or scrolled on); a file whose hints were never asked
   * for counts every line as shown.
   */
  private readonly hintLines = new Map<string, { from: number; to: number; at: number }[]>();
  /** Each open file's looks, one after another (see look). */
  private readonly looking = new Map<string, Promise<void>>();
  /** When the editor was last asked to redraw hints (Date.now()). */
  private hintsRedrawnAt = -Infinity;
  /** What each file's diagnostics were last sent for: hints and hovers refresh snapshots too. */
  private readonly published = new Map<string, string>();
  /** What each file's lenses were last redrawn for (Snapshot.lensKey). */
  private readonly lensesDrawn = new Map<string, string>();
  private capabilities: ClientCapabilities = {};
  private refreshTimer: NodeJS.Timeout | null = null;
  /** Files to look at again, with the jobs that changed for each (null: read them all again). */
  private readonly dirty = new Map<string, Set<number> | null>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly hintRedraws = new Throttled(() => {
    this.hintsRedrawnAt = Date.now();
    void this.connection.sendRequest(InlayHintRefreshRequest.type).catch(() => {});
  }, HINT_REDRAW_MS);
  private closed = false;
  /**
   * The crawls of open files, as last read or sent by the change feed (null: no such crawl); while
   * the first read is under way, that read.
   */
  private readonly crawlsShown = new Map<string, Crawl | null | Promise<Crawl | null | undefined>>();
  private readonly lensRedraws = new Throttled(() => void this.connection.sendRequest(CodeLensRefreshRequest.type).catch(() => {}), LENS_REDRAW_MS);
  /** The next redraw of hints that count down ("retrying in 12 s"), while the editor shows one. */
  private countdownTimer: NodeJS.Timeout | null = null;
  /** When countdownTimer fires (epoch ms). */
  private countdownAt = 0;
  /** The handler problem each open file's diagnostics say, while they say one (watchHandlers). */
  private readonly handlerProblems = new Map<string, string>();
  private handlerTimer: NodeJS.Timeout | null = null;
  /** Option help with this daemon's crawl defaults: a crawl started here gets those, not the built-in ones. */
  private readonly options: SeedOptions;

  constructor(
    private readonly connection: _Connection,
    private readonly queue: Queue,
    private readonly crawls: Pick<CrawlService, 'get' | 'pageOfJob'> & Partial<Pick<CrawlService, 'handlerProblem'>>,
    private readonly seeds: SeedMap,
    private readonly log: Logger,
    defaults: CrawlDefaults,
    private readonly sweepMs = SWEEP_MS,
  ) {
    this.options = seedOptions(defaults);
  }

  listen(): void {
    const c = this.connection;
    // An edit names no job: the file is reparsed, and only URLs it did not have are looked up.
    this.documents.onDidChangeContent((e) => this.schedule(e.document.uri, []));
    this.documents.onDidClose((e) => {
      this.snapshots.delete(e.document.uri);
      this.hintLines.delete(e.document.uri);
      this.forgetUnshownCrawls();
      this.published.delete(e.document.uri);
      this.lensesDrawn.delete(e.document.uri);
      this.handlerProblems.delete(e.document.uri);
      c.sendDiagnostics({ uri: e.document.uri, diagnostics: [] }).catch((err: unknown) =>
        this.log('debug', `diagnostics not cleared: ${(err as Error).message}`),
      );
    });
    c.languages.inlayHint.on(async (p) => {
      const asked = { from: p.range.start.line, to: p.range.end.line, at: Date.now() };
      const had = this.shownRanges(p.textDocument.uri).filter((r) => r.from !== asked.from || r.to !== asked.to);
      this.hintLines.set(p.textDocument.uri, [...had, asked].slice(-HINT_RANGES_KEPT));
      const s = await this.look(p.textDocument.uri, () => this.drawable(p.textDocument.uri, asked.from, asked.to));
      return this.hints(s, asked.from, asked.to);
    });
    c.onHover(async (p) => {
      const doc = this.documents.get(p.textDocument.uri);
      const option = doc && this.isSeedFile(doc.uri) ? optionHover(doc, p.position, this.options) : null;
      return option ?? this.hover(await this.look(p.textDocument.uri, () => this.snapshot(p.textDocument.uri)), p.position.line, p.position.character);
    });
    c.onCodeLens(async (p) => {
      const s = await this.look(p.textDocument.uri, () => this.snapshot(p.textDocument.uri));
      return this.lenses(p.textDocument.uri, s, s?.crawlId ? await this.crawlShown(s.crawlId) : null);
    });
    // Both are asked on every keystroke: neither parses the whole file nor reads the database.
    c.onCompletion((p) => {
      const doc = this.documents.get(p.textDocument.uri);
      return doc && this.isSeedFile(doc.uri) ? completions(doc, p.position, this.options) : [];
    });
    c.onCodeAction((p) => {
      // The fixes of the file as last parsed, and only when that is the version the editor has
      // (their edits are stamped with it); the diagnostics of a newer one bring a new request.
      const doc = this.documents.get(p.textDocument.uri);
      const s = this.snapshots.get(p.textDocument.uri);
      if (!doc || s?.version !== doc.version) return [];
      const versioned = this.capabilities.workspace?.workspaceEdit?.documentChanges === true;
      return quickFixes(doc, s.file, p.range, p.context.diagnostics, versioned);
    });
    // A seed file's handler: a link to its module (from the file's folder).
    c.onDocumentLinks((p) => {
      const doc = this.documents.get(p.textDocument.uri);
      const dir = doc && this.isSeedFile(doc.uri) ? folderOf(doc.uri) : null;
      const at = dir === null ? null : handlerValue(doc!, this.options);
      return at === null ? [] : [{ range: at.range, target: pathToFileURL(path.resolve(dir!, at.value)).href, tooltip: 'Open the page handler' }];
    });
    this.seeds.onChange((uri) => this.schedule(uri));
    this.documents.listen(c);
  }

  setCapabilities(caps: ClientCapabilities): void {
    this.capabilities = caps;
  }

  /**
   * Jobs changed somewhere (batched by the change feed): look again at the open seed files they
   * touch. A batch too big to name its jobs (a fast crawl's, most of them) reads again at once only
   * the jobs of the lines the editor shows; the next sweep finds the rest. Reading every job of a
   * 5,000-URL file by its URL for each such batch, three a second, cost the daemon more than the
   * rest of the editor did.
   */
  jobsChanged(ids: Changed): void {
    for (const [uri, snap] of this.snapshots) {
      snap.sweepDue = true;
      if (ids !== null) {
        this.schedule(uri, ids);
        continue;
      }
      snap.unnamed = true;
      const shown = this.shownKeys(uri, snap);
      const inView = shown ? [...shown].flatMap((key) => snap.jobs.get(key)?.id ?? []) : [...snap.jobs.values()].map((job) => job.id);
      if (inView.length > 0) this.schedule(uri, inView);
    }
    this.watchSweeps();
  }

  /** Looks at every unfinished job of the files whose jobs changed since their last sweep, every SWEEP_MS. */
  private watchSweeps(): void {
    if (this.sweepTimer || this.closed) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const due = new Map<string, Set<number>>();
      const unnamed = new Set<string>();
      for (const [uri, snap] of this.snapshots) {
        if (!snap.sweepDue) continue;
        snap.sweepDue = false;
        const jobs = [...snap.jobs.values()];
        due.set(uri, new Set((snap.unnamed ? jobs : jobs.filter((j) => j.state === 'queued' || j.state === 'in_progress')).map((j) => j.id)));
        if (snap.unnamed) unnamed.add(uri);
        snap.lookUpJobless = snap.unnamed;
        snap.unnamed = false;
      }
      if (due.size === 0) return;
      void this.sweep(due).catch((err) => {
        this.log('warn', `seed file refresh failed: ${(err as Error).message}`);
        // Still owed: the next sweep reads them again, all of a file's jobs where a batch went unnamed.
        for (const uri of due.keys()) {
          const snap = this.snapshots.get(uri);
          if (!snap) continue;
          snap.sweepDue = true;
          snap.unnamed ||= unnamed.has(uri);
        }
        this.watchSweeps();
      });
    }, this.sweepMs).unref();
  }

  /**
   * The unfinished jobs' states read by id, and only the jobs that changed since they were read
   * (their updatedAt moved: a retry leaves a job queued) read again whole. Reading them all whole
   * (by URL, for the crawl and for standalone jobs) took 250 ms of the daemon's thread in a
   * watched 5,000-URL crawl of 5 s, most of it for jobs still queued.
   */
  private async sweep(due: Map<string, Set<number>>): Promise<void> {
    const rows = await this.queue.jobStates([...new Set([...due.values()].flatMap((ids) => [...ids]))]);
    const now = new Map(rows.map((r) => [r.id, r]));
    for (const [uri, ids] of due) {
      // In the file's turn: a look under way carries its snapshot forward, and would drop what is put here meanwhile.
      await this.look(uri, () => {
        const snap = this.snapshots.get(uri);
        if (!snap) return Promise.resolve();
        const shown = this.shownKeys(uri, snap);
        for (const id of ids) {
          const key = snap.urlOf.get(id);
          const was = key === undefined ? undefined : snap.jobs.get(key);
          const is = now.get(id);
          // Unknown here, or gone: read whole.
          if (key === undefined || was === undefined || is === undefined) continue;
          // Not newer than what the snapshot holds (a look since read it whole, newer than this read): as it was.
          if ((was.state === is.state && was.updatedAt === is.updatedAt) || is.updatedAt < was.updatedAt) ids.delete(id);
          else if (shown && !shown.has(key) && was.state !== 'error' && is.state !== 'error') {
            // Out of sight with no failure to show: its state now, the rest read when its line is drawn.
            this.put(snap, key, { ...was, state: is.state, updatedAt: is.updatedAt });
            snap.partial.add(key);
            ids.delete(id);
          }
        }
        return Promise.resolve();
      });
    }
    await this.refresh(due);
  }

  /**
   * Crawls changed (their state or counts, from the change feed): the lenses of the files whose
   * crawl it is are redrawn, at most once per LENS_REDRAW_MS, as counts move in every batch.
   */
  crawlsChanged(crawls: readonly Crawl[]): void {
    let moved = false;
    let atOnce = false;
    for (const c of crawls) {
      if (![...this.snapshots.values()].some((s) => s.crawlId === c.crawlId)) continue;
      // Kept over a read under way (this is newer than what it may return), and where a read
      // failed: the lens shows the crawl again without waiting for the database.
      const had = this.crawlsShown.get(c.crawlId);
      this.crawlsShown.set(c.crawlId, c);
      const titled = !(had instanceof Promise) && (!had || crawlLensTitle(had) !== crawlLensTitle(c));
      moved ||= titled;
      // A crawl that finished, paused or resumed changes the lens's buttons (a finished crawl's lens
      // lagged up to LENS_REDRAW_MS); one with nothing left queued or running has its last count,
      // which the file's hints already show (its lens said "running · 3/4" a second after them).
      atOnce ||= (!!had && !(had instanceof Promise) && had.state !== c.state) || (titled && c.counts.queued + c.counts.in_progress === 0);
    }
    if (!moved || !this.capabilities.workspace?.codeLens?.refreshSupport) return;
    // Counts moving in every batch wait their turn.
    if (atOnce) this.lensRedraws.now();
    else this.lensRedraws.ask();
  }

  /**
   * The crawl a file's lens shows: read once, then kept up to date by crawlsChanged. Undefined
   * when it could not be read: whether it runs is unknown.
   */
  private async crawlShown(crawlId: string): Promise<Crawl | null | undefined> {
    let had = this.crawlsShown.get(crawlId);
    if (had === undefined) {
      // In the map before the read, so that the change feed's news of the crawl meanwhile is kept.
      had = this.readCrawl(crawlId);
      this.crawlsShown.set(crawlId, had);
    }
    if (!(had instanceof Promise)) return had;
    const read = await had;
    const now = this.crawlsShown.get(crawlId);
    return now === undefined || now instanceof Promise ? read : now;
  }

  private async readCrawl(crawlId: string): Promise<Crawl | null | undefined> {
    let crawl: Crawl | null | undefined;
    try {
      crawl = wireCrawl(await this.crawls.get(crawlId));
    } catch (err) {
      // Gone (its rows were removed): the file starts a crawl again. Any other failure (the
      // database locked, say) tells nothing of the crawl, and the next lens reads it again.
      if (err instanceof NotFoundError) crawl = null;
      else this.log('warn', `seed file lens: could not read crawl ${crawlId}: ${(err as Error).message}`);
    }
    // Kept unless the change feed said something newer meanwhile, or the file was closed.
    if (this.crawlsShown.get(crawlId) instanceof Promise) {
      if (crawl === undefined) this.crawlsShown.delete(crawlId);
      else this.crawlsShown.set(crawlId, crawl);
    }
    return crawl;
  }

  private forgetUnshownCrawls(): void {
    const open = new Set([...this.snapshots.values()].map((s) => s.crawlId));
    for (const id of this.crawlsShown.keys()) if (!open.has(id)) this.crawlsShown.delete(id);
  }

  close(): void {
    this.closed = true;
    if (this.handlerTimer) clearTimeout(this.handlerTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.lensRedraws.close();
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.hintRedraws.close();
    if (this.countdownTimer) clearTimeout(this.countdownTimer);
  }

  /**
   * Looks again, every HANDLER_RECHECK_MS, at the handlers open files named that the crawl could
   * not run: one created (or moved into the workspace) since takes its error away without an edit.
   */
  private watchHandlers(): void {
    if (this.handlerTimer || this.closed || this.handlerProblems.size === 0) return;
    this.handlerTimer = setTimeout(() => {
      this.handlerTimer = null;
      for (const [uri, was] of this.handlerProblems) {
        const snap = this.snapshots.get(uri);
        const dir = folderOf(uri);
        const doc = this.documents.get(uri);
        const at = doc === undefined || dir === null ? null : handlerValue(doc, this.options);
        if (!snap || at === null) {
          this.handlerProblems.delete(uri);
          continue;
        }
        if ((this.crawls.handlerProblem?.(at.value, dir!) ?? null) === was) continue;
        void this.connection.sendDiagnostics({ uri, version: snap.version, diagnostics: this.diagnostics(uri, snap) }).catch(() => {});
      }
      this.watchHandlers();
    }, HANDLER_RECHECK_MS);
    this.handlerTimer.unref();
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
    let lenses = false;
    let touched = false;
    for (const [uri, ids] of dirty) {
      if (!this.isSeedFile(uri)) continue;
      const snap = await this.look(uri, () => (ids === null ? this.snapshot(uri, 'all') : this.update(uri, ids)));
      if (!snap) continue;
      touched ||= snap.touched;
      if (snap.fingerprint !== this.published.get(uri)) {
        this.published.set(uri, snap.fingerprint);
        await this.connection.sendDiagnostics({ uri, version: snap.version, diagnostics: this.diagnostics(uri, snap) });
      }
      if (snap.lensKey !== this.lensesDrawn.get(uri)) {
        this.lensesDrawn.set(uri, snap.lensKey);
        lenses = true;
      }
    }
    if (lenses || redraw || touched) this.askClientToRedraw(lenses);
    this.watchLeases();
  }

  private askClientToRedraw(lenses: boolean): void {
    const ws = this.capabilities.workspace;
    if (ws?.inlayHint?.refreshSupport) this.hintRedraws.ask();
    if (lenses && ws?.codeLens?.refreshSupport) this.lensRedraws.ask();
  }

  /**
   * Lease clocks tick between job changes, and heartbeats (which write no event) move them: while
   * an open file has a leased job, its jobs are read again and its hints redrawn every second.
   */
  private watchLeases(): void {
    const leased = () => new Map([...this.snapshots].flatMap(([uri, s]) => (s.running.size > 0 ? [[uri, new Set(s.running)] as const] : [])));
    if (leased().size && !this.leaseTimer && !this.closed) {
      this.leaseTimer = setInterval(() => {
        const now = leased();
        // A lease clock ticks in the hints only where the editor shows one.
        const inView = [...now].some(([uri, ids]) => {
          const s = this.snapshots.get(uri);
          const shown = s && this.shownKeys(uri, s);
          return (
            !!s &&
            [...ids].some((id) => {
              const key = s.urlOf.get(id);
              return key !== undefined && (!shown || shown.has(key));
            })
          );
        });
        void this.refresh(now, inView).catch((err) => this.log('warn', `seed file refresh failed: ${(err as Error).message}`));
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
   * Looks at a file one look at a time: a snapshot carries forward what the one before it knew (an
   * edit looks up only the URLs it adds), so one begun while another's read is under way would
   * copy it before that read lands, and the job read would go onto a snapshot no longer used.
   * With a slow read (PostgreSQL) and typing while jobs changed, a URL's new job was never shown.
   */
  private look<T>(uri: string, f: () => Promise<T>): Promise<T> {
    const next = (this.looking.get(uri) ?? Promise.resolve()).then(f);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.looking.set(uri, settled);
    void settled.then(() => {
      if (this.looking.get(uri) === settled) this.looking.delete(uri);
    });
    return next;
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
    const snap: Snapshot = {
      version: doc.version,
      file,
      crawlId,
      keys,
      jobs: new Map(),
      urlOf: new Map(),
      fingerprint: '',
      lensKey: '',
      failed: 0,
      // Carried on, so that a snapshot's lens key is never one drawn before for other failures.
      failures: have?.failures ?? 0,
      running: new Set(),
      partial: new Set(),
      touched: true,
      sweepDue: have?.sweepDue ?? false,
      unnamed: false,
      lookUpJobless: false,
    };
    const kept = sameCrawl && read === 'as needed' ? have : undefined;
    // Unless every URL is looked up below, what the next sweep owes is kept.
    if (kept) Object.assign(snap, { unnamed: kept.unnamed, lookUpJobless: kept.lookUpJobless });
    for (const key of keys) {
      const job = kept?.jobs.get(key);
      if (!job) continue;
      this.put(snap, key, job);
      if (kept!.partial.has(key)) snap.partial.add(key);
    }
    // An edit looks up only the URLs the file did not have: those it had without a job still have
    // none, or the change feed would have named it (applyChanges). Each keystroke in a file of
    // 4,000 URLs not crawled yet looked them all up again: 5.7 ms of the daemon's thread.
    const had = kept && new Set(kept.keys);
    await this.readJobs(snap, had ? keys.filter((k) => !had.has(k)) : keys);
    // Closed while its jobs were read: kept, it would bring the closed file's diagnostics back.
    if (!this.documents.get(uri)) return null;
    this.snapshots.set(uri, snap);
    // The file started another crawl: the one it showed is kept no longer, unless another file shows it.
    if (have && !sameCrawl) this.forgetUnshownCrawls();
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
    if (have.version !== doc.version) return this.applyChanges(uri, (await this.snapshot(uri))!, ids);
    return this.applyChanges(uri, have, ids);
  }

  /** The line ranges of a file still shown: asked for since the last redraw, or before it while its editors may still answer it. */
  private shownRanges(uri: string): { from: number; to: number; at: number }[] {
    const answering = Date.now() - this.hintsRedrawnAt < HINT_ANSWER_MS;
    return (this.hintLines.get(uri) ?? []).filter((r) => answering || r.at >= this.hintsRedrawnAt);
  }

  /** The normalized URLs of the lines shown (see hintLines); null when the file's hints were never asked for (all count as shown). */
  private shownKeys(uri: string, s: Snapshot): Set<string> | null {
    if (!this.hintLines.has(uri)) return null;
    const keys = new Set<string>();
    for (const r of this.shownRanges(uri)) for (const u of urlsOn(s.file, r.from, r.to)) if (u.normalized) keys.add(u.normalized);
    return keys;
  }

  private async applyChanges(uri: string, have: Snapshot, ids: Set<number>): Promise<Snapshot> {
    const known = new Map<number, string>();
    const unknown: number[] = [];
    for (const id of ids) {
      const url = have.urlOf.get(id);
      if (url !== undefined) known.set(id, url);
      else unknown.push(id);
    }
    const urls = new Set<string>();
    const jobless = have.keys.filter((key) => !have.jobs.has(key));
    // A URL shown with its standalone job takes its crawl's when that one comes (readJobs prefers it).
    const standalone = have.crawlId === null ? [] : have.keys.filter((key) => have.jobs.get(key)?.crawlId === null);
    // A sweep after a batch that named no job: any URL may have got one meanwhile, or its crawl's.
    if (have.lookUpJobless) for (const key of [...jobless, ...standalone]) urls.add(key);
    have.lookUpJobless = false;
    if (unknown.length > 0 && jobless.length + standalone.length > 0) {
      const states = await this.queue.jobStates(unknown);
      if (states.some((j) => j.crawlId === null || j.crawlId === have.crawlId)) for (const key of jobless) urls.add(key);
      if (states.some((j) => j.crawlId === have.crawlId)) for (const key of standalone) urls.add(key);
    }
    const changed = known.size > 0 ? await this.readKnownJobs(have, known) : new Set<string>();
    if (urls.size > 0) for (const key of await this.readJobs(have, [...urls])) changed.add(key);
    // What is shown now, after the read: a range asked for meanwhile was drawn from the jobs before it.
    const shown = this.shownKeys(uri, have);
    // An edit alone redraws nothing here: the editor asks for the hints of an edited file again.
    have.touched = [...changed].some((key) => !shown || shown.has(key));
    return have;
  }

  /**
   * Reads again the jobs the snapshot holds that changed, by id: one query, where reading their
   * URLs took two (the crawl's jobs and the standalone ones). A job no longer there (its crawl
   * removed) has its URL looked up. Returns the URLs whose job is not as it was.
   */
  private async readKnownJobs(snap: Snapshot, known: Map<number, string>): Promise<Set<string>> {
    const found = new Map<string, Job>();
    for (const j of await this.queue.jobsByIds([...known.keys()])) found.set(known.get(j.id)!, j);
    const gone = [...known.values()].filter((key) => !found.has(key));
    const changed = this.takeJobs(snap, [...found.keys()], found);
    if (gone.length > 0) for (const key of await this.readJobs(snap, gone)) changed.add(key);
    return changed;
  }

  /**
   * Reads the jobs of these URLs into the snapshot: the file's crawl's job, else the standalone
   * one. Returns the URLs whose job is not as it was.
   */
  private async readJobs(snap: Snapshot, keys: string[]): Promise<Set<string>> {
    const found = new Map<string, Job>();
    for (let at = 0; at < keys.length; at += LOOKUP_SLICE) {
      if (at > 0) await new Promise(setImmediate);
      const slice = keys.slice(at, at + LOOKUP_SLICE);
      for (const j of await this.queue.findByDedupeKeys(null, slice)) found.set(j.url, j);
      if (snap.crawlId) for (const j of await this.queue.findByDedupeKeys(snap.crawlId, slice)) found.set(j.url, j);
    }
    return this.takeJobs(snap, keys, found);
  }

  /** These URLs' jobs as found (none: the URL has no job) into the snapshot; returns the URLs whose job is not as it was. */
  private takeJobs(snap: Snapshot, keys: string[], found: Map<string, Job>): Set<string> {
    const changed = new Set<string>();
    for (const key of keys) {
      const old = snap.jobs.get(key);
      const job = found.get(key);
      snap.partial.delete(key);
      if ((old === undefined) !== (job === undefined) || JSON.stringify(old) !== JSON.stringify(job)) {
        changed.add(key);
        if (old?.state === 'error' || job?.state === 'error') snap.failures++;
      }
      this.put(snap, key, job);
    }
    // What diagnostics and lenses show: the jobs and the failures, not every state (running and
    // done move the hints alone, which the editor asks for as it draws them).
    snap.lensKey = JSON.stringify([snap.crawlId, snap.jobs.size, snap.failed, snap.failures]);
    snap.fingerprint = JSON.stringify([snap.version, snap.lensKey]);
    return changed;
  }

  /** A URL's job as now known (undefined: it has none) into the snapshot, its counts kept. */
  private put(snap: Snapshot, key: string, job: Job | undefined): void {
    const old = snap.jobs.get(key);
    if (old) {
      snap.urlOf.delete(old.id);
      if (old.state === 'error') snap.failed--;
      if (old.state === 'in_progress') snap.running.delete(old.id);
    }
    if (!job) {
      snap.jobs.delete(key);
      return;
    }
    snap.jobs.set(key, job);
    snap.urlOf.set(job.id, key);
    if (job.state === 'error') snap.failed++;
    if (job.state === 'in_progress') snap.running.add(job.id);
  }

  /** The snapshot, with the jobs of lines `from`..`to` that a sweep knew by their state alone read whole (see Snapshot.partial). */
  private async drawable(uri: string, from: number, to: number): Promise<Snapshot | null> {
    const s = await this.snapshot(uri);
    if (!s || s.partial.size === 0) return s;
    const known = new Map<number, string>();
    for (const u of urlsOn(s.file, from, to)) {
      const job = u.normalized && s.partial.has(u.normalized) ? s.jobs.get(u.normalized) : undefined;
      if (job) known.set(job.id, u.normalized!);
    }
    if (known.size > 0) await this.readKnownJobs(s, known);
    return s;
  }

  private diagnostics(uri: string, s: Snapshot): Diagnostic[] {
    const out: Diagnostic[] = s.file.problems.map((p) => ({
      range: { start: { line: p.line, character: p.start }, end: { line: p.line, character: p.end } },
      severity: p.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      message: p.message,
      source: 'crawl',
    }));
    // A handler the crawl could not run (missing, outside the workspace): said before Start is clicked.
    const dir = s.file.options.handler === undefined ? null : folderOf(uri);
    const doc = dir === null ? undefined : this.documents.get(uri);
    const at = doc === undefined ? null : handlerValue(doc, this.options);
    const problem = at === null ? null : (this.crawls.handlerProblem?.(at.value, dir!) ?? null);
    if (at !== null && problem) out.push({ range: at.range, severity: DiagnosticSeverity.Error, message: problem, source: 'crawl' });
    if (problem) {
      this.handlerProblems.set(uri, problem);
      this.watchHandlers();
    } else {
      this.handlerProblems.delete(uri);
    }
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
    // Jobs' times are the queue's (the server's clock, on PostgreSQL).
    const now = this.queue.now();
    const out: InlayHint[] = [];
    let next = Infinity;
    for (const u of urlsOn(s.file, fromLine, toLine)) {
      if (!u.normalized) continue;
      const job = s.jobs.get(u.normalized);
      const wait = job ? waitsFor(job, now) : null;
      if (wait !== null) next = Math.min(next, countdownChangesIn(wait));
      out.push({ position: { line: u.line, character: u.end }, label: job ? stateLabel(job, now) : 'not crawled yet', paddingLeft: true });
    }
    if (next !== Infinity) this.tickCountdowns(now + next);
    return out;
  }

  /**
   * A hint that counts down is drawn again when its text next changes, while the editor shows one:
   * a job waiting out a backoff changes nothing meanwhile, and its "retrying in 12 s" would stay at
   * 12. Not every second: a wait told in minutes (a Retry-After of an hour) changes once a minute.
   */
  private tickCountdowns(at: number): void {
    if (this.closed || !this.capabilities.workspace?.inlayHint?.refreshSupport) return;
    if (this.countdownTimer) {
      if (this.countdownAt <= at) return;
      clearTimeout(this.countdownTimer);
    }
    this.countdownAt = at;
    this.countdownTimer = setTimeout(() => {
      this.countdownTimer = null;
      this.hintRedraws.ask();
    }, at - this.queue.now());
    this.countdownTimer.unref();
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
    // The page's data (the crawl's extract fields), once it has a record; a hover without it beats none.
    const page = found && found.job.state !== 'queued' && found.job.state !== 'in_progress' ? await this.crawls.pageOfJob(found.job).catch(() => null) : null;
    const value = jobMarkdown(found?.job ?? job, found?.events ?? [], this.queue.now(), page?.data ?? null);
    return { range: range(u), contents: { kind: MarkupKind.Markdown, value } };
  }

  /** `crawl`: the file's crawl, null when it has none, undefined when it could not be read. */
  private lenses(uri: string, s: Snapshot | null, crawl: Crawl | null | undefined): CodeLens[] {
    if (!s) return [];
    const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const out: CodeLens[] = [];
    // A crawl's file shows its crawl, which names the jobs: the ids of 5,000 URLs went with every
    // lens asked for (each keystroke, each progress redraw) for nothing.
    const reveal: SeedCommandArgs[typeof SEED_COMMANDS.revealJobs] = [{ crawlId: s.crawlId, jobIds: s.crawlId ? [] : [...s.urlOf.keys()] }];
    // While the file's crawl runs (or is paused), starting it again would run a second crawl
    // beside it: the lens shows the one there is, and steers it. Nor is a start offered while
    // that is unknown.
    const live = crawl?.state === 'running' || crawl?.state === 'paused' ? crawl : null;
    const start = live || crawl === undefined ? null : startParams(s.file);
    if (live) {
      const args: SeedCommandArgs[typeof SEED_COMMANDS.pauseCrawl] = [{ crawlId: live.crawlId }];
      out.push({ range: at, command: { title: crawlLensTitle(live), command: SEED_COMMANDS.revealJobs, arguments: reveal } });
      out.push(
        live.state === 'running'
          ? { range: at, command: { title: '$(debug-pause) Pause', command: SEED_COMMANDS.pauseCrawl, arguments: args } }
          : { range: at, command: { title: '▶ Resume', command: SEED_COMMANDS.resumeCrawl, arguments: args } },
      );
      out.push({ range: at, command: { title: '$(debug-stop) Cancel', command: SEED_COMMANDS.cancelCrawl, arguments: args } });
    }
    if (start) {
      const args: SeedCommandArgs[typeof SEED_COMMANDS.startCrawl] = [{ uri }];
      const n = start.seeds.length;
      out.push({ range: at, command: { title: `▶ Start crawl (${n} URL${n === 1 ? '' : 's'})`, command: SEED_COMMANDS.startCrawl, arguments: args } });
    }
    // Asked at every keystroke and progress redraw: the jobs are walked only when some failed (Snapshot.failed).
    const failed = s.failed > 0 ? [...s.jobs.values()].filter((j) => j.state === 'error') : [];
    if (failed.length) {
      // The crawl's failures are requeued as a whole (pages found on the way included); a
      // standalone URL's failure by its id.
      const standalone = failed.filter((j) => j.crawlId === null).map((j) => j.id);
      const requeue: ParamsOf<'jobs/requeue'> =
        s.crawlId && standalone.length === 0 ? { crawlId: s.crawlId, state: 'error' } : { ids: failed.map((j) => j.id), state: 'error' };
      const args: SeedCommandArgs[typeof SEED_COMMANDS.requeueFailed] = [requeue];
      out.push({ range: at, command: { title: `↻ Requeue failed (${failed.length})`, command: SEED_COMMANDS.requeueFailed, arguments: args } });
    }
    if (!live && (s.crawlId || s.jobs.size > 0)) {
      out.push({
        range: at,
        command: {
          title: s.crawlId ? `Open in jobs view (${crawl?.name ? crawlLabel(crawl) : `crawl ${s.crawlId}`})` : 'Open in jobs view',
          command: SEED_COMMANDS.revealJobs,
          arguments: reveal,
        },
      });
    }
    // The report of the file's crawl, running or ended (not of one that is gone).
    if (s.crawlId && crawl) {
      const args: SeedCommandArgs[typeof SEED_COMMANDS.showReport] = [{ crawlId: s.crawlId }];
      out.push({ range: at, command: { title: '$(graph) Report', command: SEED_COMMANDS.showReport, arguments: args } });
    }
    return out;
  }
}

/** A live crawl's lens: who it is, its state, and its pages finished of those found so far. */
function crawlLensTitle(c: Crawl): string {
  const { finished, found, cancelled, failed } = crawlProgress(c);
  const progress = `${finished}/${found}${cancelled ? ` · ${cancelled} cancelled` : ''}`;
  return `${c.state === 'running' ? '⟳' : '$(debug-pause)'} ${crawlLabel(c)}: ${c.state} · ${progress}${failed ? ` · ${failed} failed` : ''}`;
}

/** A file's URLs on lines `from`..`to`: its URLs are in line order, and a file may have 5,000 of them. */
function urlsOn(file: SeedFile, from: number, to: number): SeedUrl[] {
  const urls = file.urls;
  let lo = 0;
  let hi = urls.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (urls[mid].line < from) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < urls.length && urls[end].line <= to) end++;
  return urls.slice(lo, end);
}

function range(u: SeedUrl) {
  return { start: { line: u.line, character: u.start }, end: { line: u.line, character: u.end } };
}

/** Spaced as the editor writes spans elsewhere ("12 s", "3 min"), in whole seconds up to two minutes: a countdown moves each second. */
function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/**
 * How long until a wait of `ms`, as seconds() tells it, reads differently: the next second below
 * 120 s, else the next minute (or the switch to seconds); a wait under half a second, when it ends.
 */
export function countdownChangesIn(ms: number): number {
  const s = Math.max(0, Math.round(ms / 1000));
  // The largest whole second told otherwise; seconds() rounds half up, so it is read below its half.
  const below = s < 120 ? s - 1 : Math.max(119, 60 * Math.round(s / 60) - 31);
  return Math.min(ms, ms - (below + 0.5) * 1000 + 1);
}

function short(text: string, max = 80): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** How long a queued job waits before it may start (a backoff, a deferral); null when it may start now, or is held. */
function waitsFor(j: Job, now: number): number | null {
  return j.state === 'queued' && j.runAfter > now && !isHeld(j.runAfter) ? j.runAfter - now : null;
}

/**
 * The hint after a URL: its state, and for a leased job who holds it and how fresh the lease is.
 * Waits are told as spans from `now` (the hint is drawn again as they run down): the daemon does
 * not know the editor's time zone, and a UTC clock read wrong wherever it is not UTC.
 */
export function stateLabel(j: Job, now: number): string {
  switch (j.state) {
    case 'queued': {
      // As the jobs view says it ("held: crawl paused"): it waits for a resume, not its turn.
      if (isHeld(j.runAfter)) return '‖ held · crawl paused';
      const retry = j.attempts > 0 ? ` · attempt ${j.attempts + 1} of ${j.maxAttempts}` : '';
      const wait = waitsFor(j, now);
      // Without deferrals since the last attempt, the wait is that attempt's backoff (as the jobs view says).
      const later = wait === null ? '' : j.attempts > 0 && j.deferrals === 0 ? ` · retrying in ${seconds(wait)}` : ` · due in ${seconds(wait)}`;
      return `⏳ queued${retry}${later}`;
    }
    case 'in_progress':
      return `⟳ running · ${j.workerId ?? '?'} · lease ${seconds((j.leaseExpiresAt ?? now) - now)} left · heartbeat ${seconds(now - (j.heartbeatAt ?? now))} ago`;
    case 'done': {
      const r = j.result;
      // A redirect says where it leads, as the report does.
      const to =
        r?.status !== undefined && r.status >= 300 && r.status < 400 && r.finalUrl && r.finalUrl !== j.url ? ` → ${short(beside(j.url, r.finalUrl), 60)}` : '';
      const parts = [
        r?.status === undefined ? undefined : `${r.status}${to}`,
        r?.bytes !== undefined ? bytes(r.bytes) : undefined,
        r?.durationMs !== undefined ? `${Math.round(r.durationMs)} ms` : undefined,
      ];
      return `✓ done${parts
        .filter((p) => p !== undefined)
        .map((p) => ` · ${p}`)
        .join('')}`;
    }
    case 'skipped':
      return `⤼ skipped${j.lastError ? ` · ${short(j.lastError)}` : ''}`;
    case 'error':
      return `✗ error${j.lastError ? ` · ${short(j.lastError)}` : ''}`;
  }
}

/** `to` as seen from `from`: its path and query on the same origin, else whole. */
function beside(from: string, to: string): string {
  try {
    const [a, b] = [new URL(from), new URL(to)];
    return a.origin === b.origin ? `${b.pathname}${b.search}` : to;
  } catch {
    return to;
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

/** Values of a list field a hover shows, at most. */
const DATA_VALUES_IN_HOVER = 10;

/** A page's data in a hover: each field and its value, a list's first values. */
export function dataMarkdown(data: Record<string, unknown>): string {
  const value = (v: unknown) => (typeof v === 'string' ? md(short(v, 200)) : md(short(JSON.stringify(v) ?? String(v), 200)));
  const rows = Object.entries(data).map(([key, v]) => {
    if (v === null || v === undefined) return `| ${md(key)} | — (no match) |`;
    if (!Array.isArray(v)) return `| ${md(key)} | ${value(v)} |`;
    const shown = v.slice(0, DATA_VALUES_IN_HOVER).map(value).join(' · ');
    return `| ${md(key)} | ${v.length === 0 ? '— (no match)' : shown}${v.length > DATA_VALUES_IN_HOVER ? ` · and ${v.length - DATA_VALUES_IN_HOVER} more` : ''} |`;
  });
  return ['Data:', '', '| | |', '|---|---|', ...rows].join('\n');
}

/**
 * A job's hover: the page's data (its crawl's extract fields) when it has any, first, as the line's
 * hint already tells its state; then its row and its latest events.
 */
export function jobMarkdown(j: Job, events: JobEvent[], now: number, data: Record<string, unknown> | null = null): string {
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
    const bits = [
      r.status !== undefined ? `HTTP ${r.status}` : null,
      r.contentType ? md(r.contentType) : null,
      r.bytes !== undefined ? bytes(r.bytes) : null,
      r.durationMs !== undefined ? `${Math.round(r.durationMs)} ms` : null,
    ].filter(Boolean);
    rows.push(['Result', bits.join(' · ')]);
    if (r.title) rows.push(['Title', md(short(r.title, 200))]);
    if (r.finalUrl && r.finalUrl !== j.url) rows.push(['Final URL', md(r.finalUrl)]);
  }
  if (j.lastError) rows.push([j.state === 'error' ? 'Error' : 'Note', md(short(j.lastError, 300))]);
  rows.push(['Created', iso(j.createdAt) ?? ''], ['Updated', iso(j.updatedAt) ?? '']);
  const table = ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const recent = events
    .slice(-EVENTS_IN_HOVER)
    .map(
      (e) =>
        `- ${iso(e.at)?.slice(11, 19) ?? ''} **${md(e.type)}**${e.workerId ? ` by ${md(e.workerId)}` : ''}${e.detail ? ` — ${md(short(e.detail, 160))}` : ''}`,
    );
  return `**${md(j.url)}**\n\n${data ? `${dataMarkdown(data)}\n\n` : ''}${table}\n\n${recent.length ? `Recent events:\n\n${recent.join('\n')}` : 'No events.'}`;
}

/** A file: URI's folder; null for another scheme (an untitled file) or a URI naming no local file. */
function folderOf(uri: string): string | null {
  if (!uri.startsWith('file:')) return null;
  try {
    return path.dirname(fileURLToPath(uri));
  } catch {
    return null;
  }
}
