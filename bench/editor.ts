/**
 * Issue 16, "the editor watching a crawl must not slow it": the same crawl of the local site
 * (site.ts) run by the extension's own daemon in a real VS Code (code-server, driven in headless
 * Chromium by the end-to-end suite's harness), with the editor watching it and with the editor
 * looking elsewhere, in alternating order (A W B P, P B W A, ...) so that a drift of the machine or
 * the growing queue falls on all alike.
 *
 * Typing is measured against typing: a keystroke costs VS Code's own renderer about 100 ms of CPU
 * on this machine (software rendering in headless Chromium), in a plain-text file as in a seed
 * file (BENCH_EDITOR_TYPING=1 measures it with no crawl), and on two CPUs that comes out of the
 * daemon's. So a watched crawl (W) is set against a closed one (B), and a watched crawl typed in
 * (A) against a closed one with a plain-text copy of the seed file typed in at the same pace (P);
 * A against B, which counts VS Code's own typing too, is shown beside them.
 *
 * - The workspace holds `big.crawl`, rewritten before each watched run with 5,000 fresh URLs of the
 *   site (`max-depth: 0`: exactly those pages, each fetched once); its settings let the daemon
 *   crawl loopback (`crawlOrchestrator.defaultAddresses: private`) with 16 workers and 2 requests
 *   per host, as the crawl section.
 * - Before the runs, a warm-up crawl of 1,000 other URLs fills the Done group, which is expanded
 *   and paged with "Load more" until 1,000 rows are loaded; the view keeps them loaded. Then one
 *   more crawl, of as many URLs as a counted one, watched and typed in as A, not counted: the
 *   first of its kind ran 20-35% slower than the next.
 * - Watching (A): the Crawl Orchestrator side bar shows the Jobs view (grouped by state, Done
 *   expanded with its 1,000+ rows), `big.crawl` is open with its inline hints, and the crawl is
 *   started from its "▶ Start crawl" code lens. While it runs, a character is typed at the end of
 *   the file's first line (a comment) every 500 ms, and the time from the key press to the
 *   character in the editor's DOM is taken (a MutationObserver in the page stamps it); the file is
 *   reverted afterwards. The same typing before the crawl gives the idle figure.
 * - Watching, not typed in (W): the same, without the typing.
 * - Closed (B): the Explorer is shown instead of the side bar's Jobs view and no editor is open;
 *   another 5,000 URLs are crawled with the same options through the daemon's socket (crawl/start).
 * - Closed, plain copy typed in (P): as B, with `big.txt` (the seed file's lines as plain text)
 *   open and typed in as in A.
 *
 * Pages per second come from the crawl's own record (crawl/get: pages over finishedAt −
 * createdAt); CPU from /proc for the daemon, the extension host, Chromium and the rest of
 * code-server, from the start of the crawl to its end. After the measured runs, one more watched
 * crawl (W), not counted, is photographed halfway into bench/results/, and the page's running CSS
 * animations are counted there.
 *
 * The extension is the packaged .vsix (E2E_VSIX, else this machine's, as `npm run package` names it) installed into a
 * fresh folder, with its two bundles rebuilt from the current sources (as scripts/bundle.mjs does)
 * so that the figures are those of the code in the tree; BENCH_EDITOR_VSIX=<file> takes a .vsix as
 * it is. BENCH_EDITOR_ROUNDS sets the rounds (default 2: A W B P, P B W A).
 *
 * To see where the time goes: BENCH_EDITOR_SPLIT=1 adds, after the rounds, a crawl with only the
 * Jobs view watching (no editor), the same with its Done group collapsed, and one with only the
 * seed file (open, typed in; the Explorer in the side bar). BENCH_EDITOR_PROF=<dir> profiles the
 * photographed crawl and one more closed crawl (both uncounted): CPU profiles of the workbench's
 * renderer (DevTools protocol), the daemon and the extension host (their inspectors, opened with
 * SIGUSR1), a Chromium trace of the renderer, and the workbench's WebSocket traffic with
 * code-server; the files go there and the log summarises them (BENCH_EDITOR_FRAMES=<file> also
 * writes each frame received, base64, to read VS Code's messages in). BENCH_EDITOR_TYPING=1 adds,
 * before the rounds, what a keystroke costs each process with no crawl running
 * (EditorBench.typingCost). BENCH_EDITOR_NOSPIN=1 stops every CSS animation in the page, to see what they cost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as esbuild from 'esbuild';
import type { Locator, Page } from 'playwright-core';
import { DaemonClient } from '../server/src/daemon/transport/client';
import { locateSocket } from '../server/src/daemon/process/paths';
import type { Crawl } from '../server/src/protocol';
import { profileNode, profileRenderer, topSelfTime, traceRenderer, type Profiler } from './editor-profile';
import {
  ROLES,
  ROLE_NAMES,
  cpuBetween,
  cpuDetailBetween,
  daemonPid,
  loadE2e,
  processesByRole,
  sampleCpu,
  type Harness,
  type Role,
  type Session,
  type Workbench,
} from './editor-harness';
import { fmt, log, median, percentile, tempDir, type Figure } from './measure';
import { startSite } from './site';

export const EDITOR_SIZES = {
  hosts: 20,
  /** URLs per measured crawl, and per the untimed one photographed. */
  seeds: 5_000,
  warmup: 1_000,
  /** Done rows loaded in the Jobs view before a watched crawl. */
  rowsLoaded: 1_000,
  rounds: Math.max(1, Number(process.env.BENCH_EDITOR_ROUNDS ?? 2) || 2),
  maxWorkers: 16,
  perHostLimit: 2,
  keystrokeEveryMs: 500,
  idleKeystrokes: 8,
  /** Keystrokes per variant of the typing probe (BENCH_EDITOR_TYPING). */
  probeKeystrokes: 16,
  crawlDeadlineMs: 180_000,
  /** No new round starts past this (the section should end within ~8 minutes). */
  budgetMs: 7 * 60_000,
};

const SECTION = '13. Editor watching a crawl';
const EXTENSION_ID = 'crawl-orchestrator.crawl-orchestrator';
const SEED_FILE = 'big.crawl';
/** The same lines as plain text, for the split runs' control (Watchers.plain). */
const PLAIN_FILE = 'big.txt';
/** The seed file's first line, where the keystrokes go (a comment: the crawl does not change). */
const TYPED_LINE = '# keystrokes:';
const KEYSTROKE_TIMEOUT_MS = 5_000;
const RESULTS_DIR = path.join(__dirname, '..', '..', 'bench', 'results');

/** What watches a crawl: the Jobs view (with its loaded Done rows) and the seed file (open, typed in). */
export interface Watchers {
  view: boolean;
  file: boolean;
  /** The Jobs view with its Done group collapsed (none of its rows read), for the split runs. */
  doneCollapsed?: boolean;
  /** The seed file open but not typed in, for the split runs. */
  noTyping?: boolean;
  /**
   * A plain-text copy of the seed file (big.txt: no seed-file features) open and typed in instead,
   * for the split runs: what typing in a file that size costs VS Code itself.
   */
  plain?: boolean;
}

/** BENCH_EDITOR_SPLIT's runs, each crawling its own fresh URLs (the site is sized for them). */
const SPLIT_RUNS: readonly [EditorRun['kind'], string, Watchers][] = [
  ['view only', 'view', { view: true, file: false }],
  ['view only, Done collapsed', 'view-collapsed', { view: true, file: false, doneCollapsed: true }],
  ['file only', 'file', { view: false, file: true }],
  ['file only, not typed in', 'file-untyped', { view: false, file: true, noTyping: true }],
];

type Round = 'A' | 'W' | 'B' | 'P';
/** The runs of a round, by their letter. */
const ROUND_RUNS: Record<Round, [EditorRun['kind'], Watchers]> = {
  A: ['watching', { view: true, file: true }],
  W: ['watching, not typed in', { view: true, file: true, noTyping: true }],
  B: ['closed', { view: false, file: false }],
  P: ['closed, plain copy typed in', { view: false, file: true, plain: true }],
};

export interface EditorRun {
  kind:
    | 'watching'
    | 'watching, not typed in'
    | 'closed'
    | 'closed, plain copy typed in'
    | 'view only'
    | 'view only, Done collapsed'
    | 'file only'
    | 'file only, not typed in'
    | 'photographed'
    | 'closed, profiled'
    | 'warm-up';
  label: string;
  crawlId: string;
  pages: number;
  seconds: number;
  pagesPerSecond: number;
  complete: boolean;
  counts: Crawl['counts'];
  /** CPU seconds from the crawl's start to its end, by process. */
  cpuSeconds: Record<Role, number>;
  /** Keystroke to render, ms (watching only). */
  keystrokesMs?: number[];
  idleKeystrokesMs?: number[];
  /**
   * Seed file runs: ms from the crawl's finishedAt until every URL line in view shows "✓ done"
   * (null: not within 15 s; the lines still not done are logged).
   */
  hintsFinalMs?: number | null;
  /** Done rows loaded in the Jobs view when the crawl started (watching only). */
  doneRowsLoaded?: number;
  screenshot?: string;
  /** The machine's 1-minute load average when the crawl started. */
  loadAverage: number;
  /** CPU seconds by process kind (Chromium's renderer, GPU process, ...). */
  cpuByProcess: Record<string, number>;
  /** Profiled runs: the workbench's WebSocket traffic with code-server during the crawl (the extension host's messages to the UI ride on it). */
  websocket?: { receivedBytes: number; sentBytes: number; framesReceived: number };
  /** Extra CPU of this bench process (the site's servers, Playwright), for the record. */
  benchCpuSeconds: number;
  profiles?: Record<string, { file: string; busyMs: number; top: string[] }>;
}

export interface EditorRaw {
  extension: string;
  startup?: Session['timings'];
  runs: EditorRun[];
  order: string[];
  site: { hosts: number; pagesPerHost: number };
  /** What ended the section early, if anything did. */
  error?: string;
  /** BENCH_EDITOR_TYPING: CPU ms a keystroke by process, with no crawl running. */
  typing?: { label: string; perKeyMs: Record<Role, number>; p90: number }[];
}

export async function editorFigures(root: string): Promise<{ figures: Figure[]; raw: EditorRaw }> {
  const S = EDITOR_SIZES;
  const begun = Date.now();
  const { harness, workbench } = loadE2e();
  harness.locateCodeServer();
  const order: Round[] = [];
  for (let r = 0; r < S.rounds; r++) order.push(...(r % 2 === 0 ? (['A', 'W', 'B', 'P'] as const) : (['P', 'B', 'W', 'A'] as const)));
  // Page 0 is a host's root; every crawl takes its own pages, the same number from every host.
  const perHost = (n: number) => n / S.hosts;
  const split = process.env.BENCH_EDITOR_SPLIT === '1';
  const typing = process.env.BENCH_EDITOR_TYPING === '1';
  const profDir = process.env.BENCH_EDITOR_PROF ? path.resolve(process.env.BENCH_EDITOR_PROF) : undefined;
  // The photographed run, and the optional ones, each take their own URLs too.
  const extraRuns = 1 + (split ? SPLIT_RUNS.length : 0) + (profDir ? 1 : 0) + (typing ? 1 : 0);
  const pagesPerHost = 1 + perHost(S.warmup) + (order.length + extraRuns + 1) * perHost(S.seeds);
  const site = await startSite(S.hosts, pagesPerHost);
  const origins = site.seeds.map((s) => s.replace(/\/$/, ''));
  let nextPage = 1;
  const freshUrls = (n: number): string[] => {
    const urls: string[] = [];
    for (let p = nextPage; p < nextPage + perHost(n); p++) for (const o of origins) urls.push(`${o}/p/${p}`);
    nextPage += perHost(n);
    return urls;
  };

  const workspace = tempDir(root, 'editor-workspace');
  const stateDir = path.join(workspace, '.crawl');
  fs.mkdirSync(path.join(workspace, '.vscode'));
  fs.writeFileSync(
    path.join(workspace, '.vscode', 'settings.json'),
    JSON.stringify(
      {
        'crawlOrchestrator.maxWorkers': S.maxWorkers,
        'crawlOrchestrator.perHostLimit': S.perHostLimit,
        'crawlOrchestrator.defaultAddresses': 'private',
        'crawlOrchestrator.defaultScope': 'host',
        'crawlOrchestrator.defaultMaxDepth': 0,
      },
      null,
      2,
    ),
  );
  // Present from the start: it is also what activates the extension (workspaceContains:**/*.crawl).
  writeSeedFile(workspace, 'editor-bench', []);
  // There from the start, as big.crawl: quick open lists what the workspace's file search found.
  writeSeedFile(workspace, 'editor-bench', [], PLAIN_FILE);

  if (profDir) fs.mkdirSync(profDir, { recursive: true });
  const ext = await prepareExtension(harness, root, profDir);
  const raw: EditorRaw = { extension: ext.build, runs: [], order: [], site: { hosts: S.hosts, pagesPerHost } };
  let session: Session | undefined;
  let client: DaemonClient | undefined;
  try {
    log(`editor: starting code-server (${ext.build})...`);
    session = await harness.start({ workspace, extensionsDir: ext.dir });
    raw.startup = session.timings;
    await session.waitForActivation(EXTENSION_ID, { timeout: 60_000 });
    if (process.env.BENCH_EDITOR_NOSPIN === '1') await session.page.addStyleTag({ content: '* { animation: none !important; }' });
    client = await connect(stateDir, 60_000);
    const c = client;
    log(`editor: code-server ready in ${(session.timings.extensionHostReadyMs / 1000).toFixed(1)} s; daemon pid ${daemonPid(stateDir)}`);
    const bench = new EditorBench(session, workbench, c, stateDir, workspace);

    // The warm-up fills the Done group, which the view then pages through until 1,000 rows show.
    await session.openView('Jobs');
    const warmUrls = freshUrls(S.warmup);
    const warm = await bench.run('warm-up', 'warm-up', warmUrls, { view: false, file: false }, { keepSideBar: true });
    log(`editor: warm-up: ${warm.pages} pages at ${warm.pagesPerSecond.toFixed(0)}/s`);
    const loaded = await bench.loadDoneRows(S.rowsLoaded);
    log(`editor: ${loaded} Done rows loaded in the Jobs view`);
    // The first crawl watched and typed in ran 20-35% slower than the next one of its kind in every
    // run (A1 against A2: 759 against 954 pages/s, 912 against 1,450, ...): it paid for the first
    // use of the paths a watched crawl and a keystroke take, in the daemon, the extension host and
    // the browser. One such crawl, not counted, pays for them instead.
    const primed = await bench.run('warm-up', 'warm-up-watched', freshUrls(S.seeds), ROUND_RUNS.A[1]);
    log(`editor: a watched crawl typed in, not counted: ${primed.pages} pages at ${primed.pagesPerSecond.toFixed(0)}/s`);
    if (typing) raw.typing = await bench.typingCost(warmUrls, freshUrls(S.seeds), profDir);

    const nth: Record<Round, number> = { A: 0, W: 0, B: 0, P: 0 };
    for (const which of order) {
      if (Date.now() - begun > S.budgetMs) {
        log(`editor: past the section's time budget; the remaining runs (${order.slice(raw.order.length).join(' ')}) are left out`);
        break;
      }
      const [kind, watchers] = ROUND_RUNS[which];
      const run = await bench.run(kind, `${which}${++nth[which]}`, freshUrls(S.seeds), watchers);
      raw.runs.push(run);
      raw.order.push(run.label);
    }
    if (split) for (const [kind, label, watchers] of SPLIT_RUNS) raw.runs.push(await bench.run(kind, label, freshUrls(S.seeds), watchers));
    if (profDir) {
      raw.runs.push(await bench.run('closed, profiled', 'closed-profiled', freshUrls(S.seeds), { view: false, file: false }, { profileDir: profDir }));
    }
    try {
      raw.runs.push(await bench.run('photographed', 'photo', freshUrls(S.seeds), ROUND_RUNS.W[1], { photograph: true, profileDir: profDir }));
    } catch (err) {
      log(`editor: the photographed run failed: ${(err as Error).message}`);
    }
  } catch (err) {
    if (session) {
      const shot = path.join(RESULTS_DIR, 'editor-failed.png');
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      await session.page.screenshot({ path: shot }).catch(() => undefined);
      log(`editor: failed; screenshot ${shot}; extension host log tail:\n${session.extensionHostLog().split('\n').slice(-15).join('\n')}`);
    }
    // The runs that finished still count; with none of either kind there is nothing to show.
    raw.error = (err as Error).message;
    if (!raw.runs.some((r) => r.kind === 'watching') || !raw.runs.some((r) => r.kind === 'closed')) throw err;
  } finally {
    client?.close();
    await session?.stop();
    await site.close();
  }
  return { figures: figuresOf(raw), raw };
}

function figuresOf(raw: EditorRaw): Figure[] {
  const S = EDITOR_SIZES;
  const watching = raw.runs.filter((r) => r.kind === 'watching');
  const closed = raw.runs.filter((r) => r.kind === 'closed');
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const figures: Figure[] = [];
  const count = (n: number) => n.toLocaleString('en-US');
  if (!watching.length || !closed.length) {
    figures.push({ section: SECTION, name: 'watching vs closed', value: null, unit: '', met: null, note: 'failed: too few runs finished' });
    return figures;
  }
  const of = (kind: EditorRun['kind']) => raw.runs.filter((r) => r.kind === kind);
  const rate = (runs: EditorRun[]) => mean(runs.map((r) => r.pagesPerSecond));
  const rounds = raw.runs.filter((r) => raw.order.includes(r.label));
  const incomplete = raw.runs.filter((r) => !r.complete).map((r) => r.label);
  const setting =
    `Runs in order ${rounds.map((r) => `${r.label} ${r.pagesPerSecond.toFixed(0)}`).join(', ')} pages/s. ` +
    `A: the Jobs view with Done expanded (${count(Math.min(...watching.map((r) => r.doneRowsLoaded ?? 0)))}+ rows loaded) and ${SEED_FILE} open with its hints, typed in every ${S.keystrokeEveryMs} ms; ` +
    `W: the same, not typed in; B: Explorer shown, no editor; P: Explorer shown, a plain-text copy of ${SEED_FILE} open and typed in as in A. ` +
    `Site: ${S.hosts} hosts × ${count(raw.site.pagesPerHost)} pages, max-depth 0, ${S.maxWorkers} workers, ${S.perHostLimit} per host; ` +
    `from each crawl's record (pages / (finishedAt − createdAt)); 1-minute load average at each start: ${rounds.map((r) => r.loadAverage.toFixed(1)).join(', ')} on ${os.cpus().length} CPUs. ${raw.extension}` +
    `${incomplete.length ? ` INCOMPLETE: ${incomplete.join(', ')}.` : ''}${raw.error ? ` Ended early: ${raw.error.slice(0, 200)}` : ''}`;
  const versus = (name: string, a: EditorRun[], b: EditorRun[], baseline: string, target: boolean, note?: string) => {
    if (!a.length || !b.length) return;
    const ratio = rate(a) / rate(b);
    figures.push({
      section: SECTION,
      name,
      value: rate(a),
      unit: 'pages/s',
      baseline: { name: baseline, value: rate(b), unit: 'pages/s' },
      ratio,
      ratioLabel: 'this / baseline',
      ...(target ? { target: '≥ 0.9×', met: ratio >= 0.9 } : { met: null }),
      ...(note && { note }),
    });
  };
  versus(`crawl pages/s, editor watching (W) vs closed (B) (${count(S.seeds)} URLs each)`, of('watching, not typed in'), closed, 'closed', true, setting);
  versus(
    'crawl pages/s, editor watching and typed in (A) vs closed with a plain copy typed in (P)',
    watching,
    of('closed, plain copy typed in'),
    'plain copy typed in',
    true,
    "what the extension costs a crawl while its seed file is typed in: both sides pay VS Code's own cost of a keystroke",
  );
  const plain = of('closed, plain copy typed in');
  versus(
    'crawl pages/s, editor watching and typed in (A) vs closed (B)',
    watching,
    closed,
    'closed',
    false,
    `counts VS Code's own cost of typing too: typing in a plain-text file (P) ran at ${plain.length ? `${(rate(plain) / rate(closed)).toFixed(2)}×` : 'an unmeasured fraction of'} the closed crawl's pages/s`,
  );
  const keys = watching.flatMap((r) => r.keystrokesMs ?? []);
  const idle = watching.flatMap((r) => r.idleKeystrokesMs ?? []);
  const p90 = percentile(keys, 90);
  figures.push({
    section: SECTION,
    name: 'keystroke to render p90, during the watched crawls',
    value: p90,
    unit: 'ms',
    baseline: { name: 'idle p90', value: percentile(idle, 90), unit: 'ms' },
    target: '< 100 ms',
    met: p90 < 100,
    note: `${keys.length} keystrokes while crawling (${idle.length} before, idle); from page.keyboard.type to the character in the editor's DOM (a MutationObserver stamps it; one not shown within 5 s counts as 5,000 ms); max ${fmt(Math.max(...keys), 'ms')}`,
  });
  figures.push({
    section: SECTION,
    name: 'keystroke to render p50, during the watched crawls',
    value: median(keys),
    unit: 'ms',
    baseline: { name: 'idle p50', value: median(idle), unit: 'ms' },
    met: null,
  });
  const settled = watching.map((r) => r.hintsFinalMs);
  figures.push({
    section: SECTION,
    name: `${SEED_FILE}'s hints in view all "✓ done" after the crawl's end, slowest watched run`,
    value: settled.some((x) => x === null || x === undefined) ? null : Math.max(...(settled as number[])),
    unit: 'ms',
    met: null,
    note: `by run: ${watching.map((r) => `${r.label} ${r.hintsFinalMs === null ? 'not within 15 s' : `${r.hintsFinalMs} ms`}`).join(', ')} (from the crawl's finishedAt)`,
  });
  const splitNames = {
    'view only': 'only the Jobs view watching, 1,000+ Done rows loaded (no editor)',
    'view only, Done collapsed': 'only the Jobs view watching, Done collapsed (no editor)',
    'file only': 'only the seed file open and typed in (Explorer shown)',
    'file only, not typed in': 'only the seed file open, not typed in (Explorer shown)',
  } as const;
  for (const kind of ['view only', 'view only, Done collapsed', 'file only', 'file only, not typed in'] as const) {
    const runs = of(kind);
    if (!runs.length) continue;
    const cpu = ROLES.map((role) => `${role} ${mean(runs.map((r) => (1000 * r.cpuSeconds[role]) / Math.max(1, r.pages))).toFixed(2)}`).join(', ');
    figures.push({
      section: SECTION,
      name: `crawl pages/s, ${splitNames[kind]}`,
      value: rate(runs),
      unit: 'pages/s',
      baseline: { name: 'closed', value: rate(closed), unit: 'pages/s' },
      ratio: rate(runs) / rate(closed),
      ratioLabel: 'this / closed',
      met: null,
      note:
        `diagnostic (BENCH_EDITOR_SPLIT=1), one crawl after the rounds; CPU s per 1,000 pages: ${cpu}` +
        (runs[0].hintsFinalMs !== undefined
          ? `; hints in view final ${runs[0].hintsFinalMs === null ? 'not within 15 s' : `${runs[0].hintsFinalMs} ms`} after the end`
          : ''),
    });
  }
  for (const t of raw.typing ?? []) {
    figures.push({
      section: SECTION,
      name: `CPU a keystroke with no crawl running, ${t.label}`,
      value: ROLES.reduce((sum, role) => sum + t.perKeyMs[role], 0),
      unit: 'ms',
      met: null,
      note: `diagnostic (BENCH_EDITOR_TYPING=1), ${EDITOR_SIZES.probeKeystrokes} keystrokes ${EDITOR_SIZES.keystrokeEveryMs} ms apart: ${ROLES.map((role) => `${ROLE_NAMES[role]} ${t.perKeyMs[role].toFixed(0)} ms`).join(', ')}; p90 ${t.p90} ms to render`,
    });
  }
  for (const role of ROLES) {
    const per1000 = (runs: EditorRun[]) => mean(runs.map((r) => (1000 * r.cpuSeconds[role]) / Math.max(1, r.pages)));
    const untyped = of('watching, not typed in');
    const wa = per1000(untyped.length ? untyped : watching);
    const cl = per1000(closed);
    figures.push({
      section: SECTION,
      name: `${ROLE_NAMES[role]} CPU per 1,000 pages, watching (W) vs closed (B)`,
      value: wa,
      unit: 'CPU s',
      baseline: { name: 'closed', value: cl, unit: 'CPU s' },
      ratio: cl > 0 ? wa / cl : null,
      ratioLabel: 'watching / closed',
      met: null,
      ...(role === 'daemon' && {
        note: `CPU (user + system, /proc) from the crawl's start to its end, over the pages it fetched. The ${os.cpus().length} CPUs are shared by all four, the site's servers and Playwright`,
      }),
    });
  }
  return figures;
}

// --- the session ---------------------------------------------------------------------------

class EditorBench {
  private readonly page: Page;
  private readonly jobs: Locator;

  constructor(
    private readonly session: Session,
    private readonly wb: Workbench,
    private readonly client: DaemonClient,
    private readonly stateDir: string,
    private readonly workspace: string,
  ) {
    this.page = session.page;
    this.jobs = wb.viewPane(this.page, 'Jobs');
  }

  /**
   * One crawl of `urls`. The Jobs view (`view`): shown, Done expanded with its rows loaded; else
   * the Explorer is (unless `keepSideBar`). The seed file (`file`): rewritten with the URLs, open
   * with its hints, the crawl started from its code lens and typed in while it runs; else no editor
   * is open and the crawl starts over the socket with the same options as the file's lines.
   */
  async run(
    kind: EditorRun['kind'],
    label: string,
    urls: string[],
    watchers: Watchers,
    opts: { photograph?: boolean; profileDir?: string; keepSideBar?: boolean } = {},
  ): Promise<EditorRun> {
    const S = EDITOR_SIZES;
    const page = this.page;
    const name = `editor-${label}`;
    await this.session.runCommand('View: Close All Editors');
    let doneRowsLoaded: number | undefined;
    if (watchers.view) {
      await this.session.openView('Jobs');
      if (watchers.doneCollapsed) await this.collapseDone();
      else doneRowsLoaded = await this.loadDoneRows(S.rowsLoaded);
    } else if (!opts.keepSideBar) {
      await this.session.runCommand('View: Show Explorer');
      await page
        .locator('.part.sidebar .composite.title')
        .filter({ hasText: /explorer/i })
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 });
    }
    let typist: Typist | undefined;
    let lens: Locator | undefined;
    const idle: number[] = [];
    if (watchers.plain) {
      writeSeedFile(this.workspace, name, urls, PLAIN_FILE);
      await this.session.openFile(PLAIN_FILE);
      await this.wb.waitForEditorLines(page, (l) => l.some((x) => x.startsWith(TYPED_LINE)), PLAIN_FILE, 60_000);
      typist = await Typist.attach(page, this.wb);
      for (let i = 0; i < S.idleKeystrokes; i++) idle.push(await typist.paced(S.keystrokeEveryMs));
    } else if (watchers.file) {
      writeSeedFile(this.workspace, name, urls);
      await this.session.openFile(SEED_FILE);
      await this.wb.waitForEditorLines(page, (l) => l.some((x) => / not crawled yet/.test(x)), `${SEED_FILE}'s hints`, 60_000);
      lens = this.wb.codeLens(page, /^▶ Start crawl \(/);
      await lens.first().waitFor({ state: 'visible', timeout: 30_000 });
      typist = await Typist.attach(page, this.wb);
      await this.park();
      if (watchers.noTyping) typist = undefined;
      else for (let i = 0; i < S.idleKeystrokes; i++) idle.push(await typist.paced(S.keystrokeEveryMs));
    }
    await sleep(1_500); // whatever the setting up set off settles

    const profilers: Record<string, Profiler> = {};
    if (opts.profileDir) {
      const roles = processesByRole(this.stateDir);
      const pidOf = (role: Role) => [...roles].find(([, r]) => r.role === role)?.[0];
      profilers.renderer = await profileRenderer(page, opts.profileDir, `${label}-renderer`);
      for (const role of ['daemon', 'extensionHost'] as const) {
        const pid = pidOf(role);
        if (pid !== undefined)
          profilers[role] = await profileNode(pid, opts.profileDir, `${label}-${role}`).catch((err: Error) => {
            log(`editor: no profile of the ${ROLE_NAMES[role]}: ${err.message}`);
            return undefined as unknown as Profiler;
          });
      }
      for (const k of Object.keys(profilers)) if (!profilers[k]) delete profilers[k];
    }
    const loadAverage = os.loadavg()[0];
    const trace = opts.profileDir ? await traceRenderer(page, opts.profileDir, `${label}-renderer`) : undefined;
    const before = sampleCpu(this.stateDir);
    const benchBefore = process.cpuUsage();
    // Profiled runs also count what the workbench exchanges with code-server over its WebSocket
    // (the extension host's messages to the UI ride on it), from the DevTools protocol's frames;
    // every run does when BENCH_EDITOR_FRAMES names a file for the frames, each run's marked there.
    const dump = process.env.BENCH_EDITOR_FRAMES;
    if (dump) fs.appendFileSync(dump, `${Date.now()} RUN ${label}\n`);
    const traffic = opts.profileDir || dump ? await countWebSocket(page) : undefined;
    let crawlId: string;
    if (lens) {
      await lens.first().click({ timeout: 15_000 });
      crawlId = await this.crawlNamed(name);
    } else {
      const started = await this.client.request('crawl/start', { seeds: urls, name, maxDepth: 0, scope: 'host', addresses: 'private' });
      if (started.enqueued !== urls.length) log(`editor: ${label}: ${started.enqueued} of ${urls.length} seeds enqueued`);
      crawlId = started.crawlId;
    }
    let crawl: Crawl | undefined;
    const finished = this.finished(crawlId).then((c) => (crawl = c));
    const keys: number[] = [];
    let screenshot: string | undefined;
    if (typist || opts.photograph) {
      await typist?.focus();
      await this.park();
      while (crawl === undefined) {
        if (typist) keys.push(await typist.paced(S.keystrokeEveryMs, () => crawl !== undefined));
        else await sleep(200);
        if (opts.photograph && screenshot === undefined) {
          const now = (await this.client.request('crawl/get', { crawlId })).crawl;
          if (now.pages >= urls.length * 0.4) {
            screenshot = path.join(RESULTS_DIR, 'editor-watching.png');
            fs.mkdirSync(RESULTS_DIR, { recursive: true });
            await page.screenshot({ path: screenshot });
            // What keeps the page painting with nothing changing: running CSS animations, by where they are.
            const animations = await page.evaluate(
              () =>
                (globalThis as any).document.getAnimations().map((a: any) => {
                  const el = a.effect?.target;
                  return `${a.animationName ?? a.constructor.name} in ${el?.closest?.('[id^="workbench.parts"], .part, .pane')?.className?.split(' ')[0] ?? el?.tagName}`;
                }) as string[],
            );
            const byWhere = [...animations.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>())].map(([k, n]) => `${n} × ${k}`);
            log(`editor: screenshot at ${now.pages} pages: ${screenshot}; ${animations.length} animations running: ${byWhere.join(', ')}`);
          }
        }
      }
    }
    await finished;
    const after = sampleCpu(this.stateDir);
    // How long after the crawl's end the hints in view all tell it (every page of the site is done).
    const hintsFinalMs = watchers.file && !watchers.plain ? await this.hintsFinal(crawl!, 15_000) : undefined;
    const cpuSeconds = cpuBetween(before, after);
    const cpuByProcess = cpuDetailBetween(before, after);
    const used = process.cpuUsage(benchBefore);
    const done = crawl!;
    const seconds = ((done.finishedAt ? Date.parse(done.finishedAt) : Date.now()) - Date.parse(done.createdAt)) / 1000;
    const run: EditorRun = {
      kind,
      label,
      crawlId,
      pages: done.pages,
      seconds,
      pagesPerSecond: done.pages / seconds,
      complete: done.state === 'finished',
      counts: done.counts,
      loadAverage,
      cpuSeconds,
      cpuByProcess,
      benchCpuSeconds: (used.user + used.system) / 1e6,
      ...(traffic && { websocket: await traffic.stop() }),
      ...(watchers.view && { doneRowsLoaded }),
      ...(typist && { keystrokesMs: keys, idleKeystrokesMs: idle }),
      ...(hintsFinalMs !== undefined && { hintsFinalMs }),
      ...(screenshot && { screenshot }),
    };
    if (trace) {
      const t = await trace.stop();
      log(
        `editor: ${label}: renderer trace ${t.file}; main thread by event (self time):\n  ${t.mainSelfMs.join('\n  ')}\n  busy threads (top-level tasks): ${t.threadsMs.join(', ')}`,
      );
    }
    if (Object.keys(profilers).length) {
      run.profiles = {};
      for (const [who, p] of Object.entries(profilers)) {
        try {
          const file = await p.stop();
          const summary = topSelfTime(file);
          run.profiles[who] = { file, busyMs: summary.busyMs, top: summary.top };
          log(
            `editor: ${label}: ${who} profile ${file}: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms; most self time:\n  ${summary.top.join('\n  ')}`,
          );
        } catch (err) {
          log(`editor: ${label}: stopping the ${who} profile failed: ${(err as Error).message}`);
        }
      }
    }
    if (opts.photograph) {
      // The bottom of the loaded Done rows, where "Load more" says how many are loaded.
      await this.scrollJobs(1);
      await page.screenshot({ path: path.join(RESULTS_DIR, 'editor-watching-loaded.png') });
      await this.scrollJobs(-1);
    }
    if (typist) {
      // Undo the typing (the file on disk was never written).
      await this.session.runCommand('File: Revert File');
    }
    const cpu = ROLES.map((r) => `${r} ${run.cpuSeconds[r].toFixed(1)}`).join(', ');
    const typed =
      (run.keystrokesMs
        ? `; keystrokes p50 ${median(run.keystrokesMs).toFixed(0)} ms, p90 ${percentile(run.keystrokesMs, 90).toFixed(0)} ms (${run.keystrokesMs.length}), idle p90 ${percentile(idle, 90).toFixed(0)} ms`
        : '') +
      (run.hintsFinalMs !== undefined
        ? `; hints in view final ${run.hintsFinalMs === null ? 'not within 15 s' : `${run.hintsFinalMs} ms`} after the crawl's end`
        : '');
    const detail = Object.entries(run.cpuByProcess)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    const ws = run.websocket;
    log(
      `editor: ${label} (${kind}): ${run.pages} pages in ${run.seconds.toFixed(1)} s = ${run.pagesPerSecond.toFixed(0)}/s; CPU s ${cpu}, bench ${run.benchCpuSeconds.toFixed(1)}${typed}\n` +
        `  CPU s by process: ${detail}` +
        (ws
          ? `\n  WebSocket to the page: ${(ws.receivedBytes / 1e6).toFixed(1)} MB in ${ws.framesReceived} frames (${(ws.sentBytes / 1e6).toFixed(2)} MB sent)`
          : ''),
    );
    return run;
  }

  private async hintsFinal(crawl: Crawl, timeoutMs: number): Promise<number | null> {
    const end = crawl.finishedAt ? Date.parse(crawl.finishedAt) : Date.now();
    const notDone = async () => [...(await this.wb.visibleLines(this.page)).values()].filter((l) => /^https?:\/\//.test(l) && !l.includes('✓ done'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await notDone().catch(() => ['(unreadable)']);
      if (left.length === 0) return Date.now() - end;
      if (Date.now() > deadline) {
        log(
          `editor: ${left.length} URL lines in view still not "✓ done" ${timeoutMs / 1000} s after the crawl ended, e.g. ${JSON.stringify(left.slice(0, 3))}`,
        );
        return null;
      }
      await sleep(100);
    }
  }

  private async crawlNamed(name: string): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { crawls } = await this.client.request('crawl/list', {});
      const found = crawls.find((c) => c.name === name);
      if (found) return found.crawlId;
      if (Date.now() > deadline) throw new Error(`no crawl named ${name} started within 30 s of the code lens click`);
      await sleep(100);
    }
  }

  /** Polls crawl/get every 250 ms until the crawl is over (or the deadline passes). */
  private async finished(crawlId: string): Promise<Crawl> {
    const deadline = Date.now() + EDITOR_SIZES.crawlDeadlineMs;
    for (;;) {
      const { crawl } = await this.client.request('crawl/get', { crawlId });
      if (crawl.state === 'finished' || crawl.state === 'cancelled' || Date.now() > deadline) return crawl;
      await sleep(250);
    }
  }

  // --- the Jobs view -------------------------------------------------------------------------

  /**
   * The Done group's count (from the daemon) and the rows loaded under it: the tree's aria-setsize
   * of any Done row it renders, less the "Load more" row when not all are loaded.
   */
  private async doneState(): Promise<{ total: number; loaded: number }> {
    const total = (await this.client.request('queue/stats', {})).done;
    const setSize = await this.jobs
      .locator('.monaco-list-row[role="treeitem"][aria-level="2"][aria-label*=", Done, "]')
      .first()
      .getAttribute('aria-setsize', { timeout: 2_000 })
      .catch(() => null);
    const size = Number(setSize ?? 0);
    return { total, loaded: size >= total ? total : Math.max(0, size - 1) };
  }

  /** Collapses the Done group (a click on its row toggles it). */
  private async collapseDone(): Promise<void> {
    await this.scrollJobs(-1);
    const done = this.jobs
      .locator('.monaco-list-row[role="treeitem"][aria-level="1"]')
      .filter({ has: this.page.locator('.label-name').filter({ hasText: /^\s*Done\s*$/ }) })
      .first();
    await this.until(
      async () => {
        if ((await done.getAttribute('aria-expanded', { timeout: 2_000 })) === 'false') return true;
        await done.click({ timeout: 2_000 });
        return false;
      },
      10_000,
      'the Done group to collapse',
    );
    await this.park();
  }

  /** Expands Done and clicks "Load more" until `want` rows are loaded (or all there are). */
  async loadDoneRows(want: number): Promise<number> {
    const wb = this.wb;
    await this.scrollJobs(-1);
    const doneRow = async () => (await wb.treeRows(this.jobs)).find((r) => r.level === 1 && r.label === 'Done');
    await this.until(async () => (await doneRow()) !== undefined, 20_000, "the Jobs view's Done group");
    if ((await doneRow())?.expanded !== 'true') await wb.expandRow(this.jobs, 'Done');
    await this.park();
    await this.until(async () => (await this.doneState()).loaded > 0, 20_000, 'Done rows');
    for (let clicks = 0; clicks < 40; clicks++) {
      const s = await this.doneState();
      if (s.loaded >= Math.min(want, s.total)) {
        await this.scrollJobs(-1);
        return s.loaded;
      }
      const more = this.jobs
        .locator('.monaco-list-row[role="treeitem"]')
        .filter({ has: this.page.locator('.label-name').filter({ hasText: /^\s*Load more\s*$/ }) });
      if ((await more.count()) === 0) await this.scrollJobs(1);
      await more.first().click({ timeout: 10_000 });
      await this.park();
      await this.until(async () => (await this.doneState()).loaded > s.loaded, 15_000, `more than ${s.loaded} Done rows`);
    }
    throw new Error(`could not load ${want} Done rows: ${JSON.stringify(await this.doneState())}`);
  }

  /**
   * Scrolls the Jobs view's list to its bottom (1) or top (-1), with End or Home in the tree (a
   * click on a row would toggle a group or open a job; wheel events scroll a little each); then
   * moves the pointer where it opens no hover.
   */
  private async scrollJobs(direction: 1 | -1): Promise<void> {
    const focused = await this.jobs.evaluate((pane) => pane.contains((globalThis as any).document.activeElement)).catch(() => false);
    if (!focused) await this.session.openView('Jobs');
    await this.page.keyboard.press(direction === 1 ? 'End' : 'Home');
    await this.park();
    await sleep(300);
  }

  /**
   * BENCH_EDITOR_TYPING=1: what a keystroke costs each process with no crawl running, in the
   * seed file (the warm-up's crawled URLs first, so the lines in view have hints) and in its
   * plain-text copy, and in the seed file with the editor's inlay hints, then code lenses, off.
   */
  async typingCost(crawled: string[], others: string[], profileDir?: string): Promise<NonNullable<EditorRaw['typing']>> {
    const settingsFile = path.join(this.workspace, '.vscode', 'settings.json');
    const settings = fs.readFileSync(settingsFile, 'utf8');
    const urls = [...crawled, ...others];
    const variants: [string, string, Record<string, unknown>][] = [
      ['seed file', SEED_FILE, {}],
      ['plain copy', PLAIN_FILE, {}],
      ['seed file, inlay hints off', SEED_FILE, { 'editor.inlayHints.enabled': 'off' }],
      ['seed file, code lenses off', SEED_FILE, { 'editor.codeLens': false }],
      ['seed file, both off', SEED_FILE, { 'editor.inlayHints.enabled': 'off', 'editor.codeLens': false }],
    ];
    const out: NonNullable<EditorRaw['typing']> = [];
    try {
      for (const [label, file, extra] of variants) {
        fs.writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(settings), ...extra }, null, 2));
        await this.session.runCommand('View: Close All Editors');
        writeSeedFile(this.workspace, 'typing', urls, file);
        await this.session.openFile(file);
        await this.wb.waitForEditorLines(this.page, (l) => l.some((x) => x.startsWith(TYPED_LINE)), file, 60_000);
        const typist = await Typist.attach(this.page, this.wb);
        await this.park();
        await sleep(3_000);
        const profilers: Profiler[] = [];
        if (profileDir && file === SEED_FILE && Object.keys(extra).length === 0) {
          const roles = processesByRole(this.stateDir);
          for (const role of ['daemon', 'extensionHost'] as const) {
            const pid = [...roles].find(([, r]) => r.role === role)?.[0];
            if (pid !== undefined) profilers.push(await profileNode(pid, profileDir, `typing-${role}`));
          }
        }
        const before = sampleCpu(this.stateDir);
        const keys: number[] = [];
        for (let i = 0; i < EDITOR_SIZES.probeKeystrokes; i++) keys.push(await typist.paced(EDITOR_SIZES.keystrokeEveryMs));
        await sleep(1_000);
        const cpu = cpuBetween(before, sampleCpu(this.stateDir));
        for (const p of profilers) log(`editor: typing profile ${await p.stop()}`);
        const perKeyMs = Object.fromEntries(ROLES.map((role) => [role, (cpu[role] * 1000) / keys.length])) as Record<Role, number>;
        out.push({ label, perKeyMs, p90: percentile(keys, 90) });
        log(
          `editor: typing, ${label}: CPU ms a keystroke: ${ROLES.map((role) => `${ROLE_NAMES[role]} ${perKeyMs[role].toFixed(0)}`).join(', ')}; p90 ${percentile(keys, 90)} ms`,
        );
      }
    } finally {
      fs.writeFileSync(settingsFile, settings);
      await this.session.runCommand('View: Close All Editors');
    }
    return out;
  }

  /** The pointer to the title bar's blank right side, away from anything with a hover. */
  async park(): Promise<void> {
    const size = this.page.viewportSize() ?? { width: 1600, height: 1000 };
    await this.page.mouse.move(size.width - 300, 12);
  }

  private async until(ok: () => Promise<boolean>, timeout: number, what: string): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!(await ok().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
      await sleep(100);
    }
  }
}

/** Counts the page's WebSocket frames (DevTools protocol Network events) until stop(). */
async function countWebSocket(page: Page): Promise<{ stop(): Promise<{ receivedBytes: number; sentBytes: number; framesReceived: number }> }> {
  const cdp = await page.context().newCDPSession(page);
  const n = { receivedBytes: 0, sentBytes: 0, framesReceived: 0 };
  // Text frames come as text, binary ones base64-encoded.
  const size = (r: { opcode: number; payloadData: string }) => (r.opcode === 1 ? Buffer.byteLength(r.payloadData) : Math.floor((r.payloadData.length * 3) / 4));
  const dump = process.env.BENCH_EDITOR_FRAMES;
  cdp.on('Network.webSocketFrameReceived', (e) => {
    n.receivedBytes += size(e.response);
    n.framesReceived++;
    if (dump) fs.appendFileSync(dump, `${Date.now()} ${e.response.opcode} ${e.response.payloadData}\n`);
  });
  cdp.on('Network.webSocketFrameSent', (e) => {
    n.sentBytes += size(e.response);
  });
  await cdp.send('Network.enable');
  return {
    async stop() {
      await cdp.detach().catch(() => undefined);
      return n;
    },
  };
}

// --- typing --------------------------------------------------------------------------------------

/**
 * Types at the end of the seed file's first line and times each character from the key press
 * (taken in this process) to the moment the line holding it is in the editor's DOM (stamped by a
 * MutationObserver on the editor's lines, in the page: the same wall clock).
 */
class Typist {
  private constructor(
    private readonly page: Page,
    private readonly wb: Workbench,
  ) {}

  static async attach(page: Page, wb: Workbench): Promise<Typist> {
    await page.evaluate(() => {
      const g = globalThis as any;
      g.__keystroke?.observer?.disconnect();
      const root = g.document.querySelector('.part.editor .editor-group-container.active .monaco-editor .view-lines');
      if (!root) throw new Error('no editor lines');
      const k = { armed: null as string | null, seen: 0, observer: null as any };
      const check = () => {
        if (k.armed === null || k.seen) return;
        for (const el of root.querySelectorAll('.view-line')) {
          if ((el.textContent ?? '').replace(/\u00a0/g, ' ') === k.armed) {
            k.seen = Date.now();
            return;
          }
        }
      };
      k.observer = new g.MutationObserver(check);
      k.observer.observe(root, { childList: true, subtree: true, characterData: true });
      g.__keystroke = k;
    });
    const t = new Typist(page, wb);
    await t.focus();
    return t;
  }

  /** Puts the cursor at the end of the first line. */
  async focus(): Promise<void> {
    const line = this.wb.activeEditor(this.page).locator('.view-lines .view-line').filter({ hasText: TYPED_LINE }).first();
    await line.click({ timeout: 10_000 });
    await this.page.keyboard.press('Control+Home');
    await this.page.keyboard.press('End');
  }

  private line(): Promise<string | undefined> {
    return this.page.evaluate((prefix) => {
      const g = globalThis as any;
      const lines = g.document.querySelectorAll('.part.editor .editor-group-container.active .monaco-editor .view-lines .view-line');
      for (const el of lines) {
        const text = (el.textContent ?? '').replace(/\u00a0/g, ' ');
        if (text.startsWith(prefix)) return text as string;
      }
      return undefined;
    }, TYPED_LINE);
  }

  /** One keystroke, then waits out the rest of `everyMs`. */
  async paced(everyMs: number, stop?: () => boolean): Promise<number> {
    const begun = Date.now();
    const ms = await this.keystroke();
    while (Date.now() - begun < everyMs && !stop?.()) await sleep(Math.min(50, everyMs - (Date.now() - begun)));
    return ms;
  }

  private async keystroke(): Promise<number> {
    const current = await this.line();
    if (current === undefined) throw new Error(`the line "${TYPED_LINE}" is not shown`);
    const expected = `${current}x`;
    await this.page.evaluate((text) => {
      const k = (globalThis as any).__keystroke;
      k.armed = text;
      k.seen = 0;
    }, expected);
    const pressed = Date.now();
    await this.page.keyboard.type('x');
    const seen = await this.page
      .waitForFunction(() => (globalThis as any).__keystroke.seen || false, undefined, { timeout: KEYSTROKE_TIMEOUT_MS })
      .then((h) => h.jsonValue() as Promise<number>)
      .catch(() => NaN);
    await this.page.evaluate(() => {
      (globalThis as any).__keystroke.armed = null;
    });
    // A character that never showed counts as the whole wait.
    return Number.isNaN(seen) ? KEYSTROKE_TIMEOUT_MS : seen - pressed;
  }
}

// --- setup ---------------------------------------------------------------------------------------

function writeSeedFile(workspace: string, name: string, urls: string[], file = SEED_FILE): void {
  fs.writeFileSync(
    path.join(workspace, file),
    [
      TYPED_LINE,
      '# The editor benchmark: each URL of the local site fetched once, no links followed.',
      `name: ${name}`,
      'max-depth: 0',
      'scope: host',
      'addresses: private',
      '',
      ...urls,
      '',
    ].join('\n'),
  );
}

async function connect(stateDir: string, ms: number): Promise<DaemonClient> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await DaemonClient.connect(locateSocket({ stateDir }));
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no daemon answered on ${stateDir} within ${ms / 1000} s: ${(err as Error).message}`);
      await sleep(250);
    }
  }
}

/**
 * Installs the .vsix into a fresh folder and, unless BENCH_EDITOR_VSIX names one to take as it is,
 * rebuilds its bundles (and its package.json) from the sources in the tree, as scripts/bundle.mjs
 * does, so that a .vsix packaged before the latest changes does not hide them.
 */
async function prepareExtension(harness: Harness, root: string, profileDir?: string): Promise<{ dir: string; build: string }> {
  const repo = harness.REPO_ROOT;
  const given = process.env.BENCH_EDITOR_VSIX;
  const vsix = given === undefined ? harness.packagedVsix() : path.resolve(given);
  if (!fs.existsSync(vsix)) throw new Error(`${vsix} is missing: run \`npm run package\` first`);
  const dir = tempDir(root, 'editor-extensions');
  await harness.installExtension(vsix, dir);
  const installed = fs
    .readdirSync(dir)
    .map((d) => path.join(dir, d))
    .find((d) => fs.existsSync(path.join(d, 'dist', 'server', 'daemon.js')));
  if (given || !installed) return { dir, build: `Extension: ${path.basename(vsix)} as packaged.` };
  const common: esbuild.BuildOptions = {
    absWorkingDir: repo,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    logLevel: 'silent',
    mainFields: ['main', 'module'],
    sourcemap: 'linked',
  };
  try {
    const manifest = fs.readFileSync(path.join(repo, 'package.json'), 'utf8');
    JSON.parse(manifest);
    await Promise.all([
      esbuild.build({
        ...common,
        entryPoints: ['client/src/extension.ts'],
        outfile: path.join(installed, 'dist', 'client', 'extension.js'),
        external: ['vscode'],
      }),
      esbuild.build({
        ...common,
        entryPoints: ['server/src/daemon/process/main.ts'],
        outfile: path.join(installed, 'dist', 'server', 'daemon.js'),
        external: ['better-sqlite3'],
      }),
    ]);
    fs.writeFileSync(path.join(installed, 'package.json'), manifest);
    // A profile's frames are read through the bundles' maps, which go when the folder does.
    if (profileDir)
      for (const b of ['client/extension.js.map', 'server/daemon.js.map'])
        fs.copyFileSync(path.join(installed, 'dist', b), path.join(profileDir, path.basename(b)));
    await esbuild.stop(); // its service process would otherwise live on among this process's children
    return { dir, build: `Extension: ${path.basename(vsix)} with its bundles rebuilt from the sources at ${new Date().toISOString().slice(11, 19)} UTC.` };
  } catch (err) {
    log(`editor: rebuilding the bundles failed (${(err as Error).message.split('\n')[0]}); measuring ${path.basename(vsix)} as packaged`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    await harness.installExtension(vsix, dir);
    return { dir, build: `Extension: ${path.basename(vsix)} as packaged (rebuilding from the sources failed).` };
  }
}
