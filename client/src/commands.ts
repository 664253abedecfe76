/**
 * Every command of the palette, the view's menus and the seed files' code lenses. Each works from
 * wherever it is invoked: with the rows selected in the view, with a lens's arguments, or from the
 * palette with nothing, in which case it asks (quick picks list the likely candidates).
 */
import * as vscode from 'vscode';
import {
  MAX_JOB_SEARCH,
  MAX_SEEDS,
  SCOPES,
  SEED_COMMANDS,
  type Crawl,
  type Job,
  type JobState,
  type ParamsOf,
  type Rejected,
  type ResultOf,
  type Scope,
  type SeedCommandArgs,
} from '../../server/src/protocol';
import { SETTINGS } from '../../server/src/settings';
import type { Daemon } from './daemon';
import { describeStatus } from './daemonApi';
import { crawlsFor, nothingTo, type CrawlAction } from './crawlActions';
import { pickCrawl } from './crawlPicker';
import { exportCrawlResults } from './exportCommand';
import type { ReportPanels } from './report/panel';
import { formatCount, localTimes, plural } from './format';
import type { JobDocuments } from './jobDocument';
import { GROUP_BY, OPEN_ROW, type GroupBy, type GroupNode, type JobNode, type JobsFilterScope, type TreeNode } from './jobsTree';
import { STATE_LABELS, crawlLabel, jobLabel, newestFirst } from './jobsTreeText';
import type { JobsView } from './jobsView';
import type { QueueOverview } from './overview';
import type { Settings } from './settings';
import { describeUrlInput, parseUrlList } from './urls';

export interface CommandDeps {
  daemon: Daemon;
  view: JobsView;
  reports: ReportPanels;
  documents: JobDocuments;
  overview: QueueOverview;
  settings: () => Settings;
  log: vscode.OutputChannel;
}

/** Requests per call when many URLs are pasted: jobs/enqueue takes at most 100,000. */
const ENQUEUE_BATCH = 10_000;
const SCOPE_HELP: Record<Scope, string> = {
  host: 'Follow links on the seed URLs’ own hosts only',
  domain: 'Follow links within the seeds’ registrable domains (sub.example.com → example.com)',
  any: 'Follow links anywhere (bounded by max depth and max pages)',
};
const GROUP_BY_LABELS: Record<GroupBy, string> = { state: 'State', host: 'Host', crawl: 'Crawl', reason: 'Failure Reason' };

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const { daemon, view, overview, log } = deps;
  const run = (id: string, handler: (...args: unknown[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await handler(...args);
      } catch (err) {
        await reportFailure(err, daemon);
      }
    });

  return [
    run(SEED_COMMANDS.startCrawl, (arg?: unknown) => startCrawl(deps, arg)),
    run('crawlOrchestrator.enqueueUrls', () => enqueueUrls(deps)),
    run('crawlOrchestrator.requeueJob', async (node?: unknown, selected?: unknown) => {
      const ids = idsOf(node, selected) ?? (await pickJobIds(deps, 'Requeue Job', ['error', 'skipped', 'done']));
      if (!ids) return;
      // Before the request: its notifications may come before its answer.
      view.provider.follow(ids);
      let requeued = 0;
      try {
        ({ requeued } = await ensureRunning(daemon).request('jobs/requeue', { ids }));
      } finally {
        // None came back to the queue: none is to be listed when it finishes. (Of some, the answer does not say which.)
        if (requeued === 0) view.provider.unfollow(ids);
      }
      say(requeued > 0 ? `Requeued ${plural(requeued, 'job')}.` : 'Nothing was requeued: only finished jobs (done, skipped or error) can be requeued.');
    }),
    run(SEED_COMMANDS.requeueFailed, async (arg?: unknown) => {
      const params = requeueParams(arg, view.provider.filter, view.provider.loadedJobIds('error'));
      const { requeued } = params ? await ensureRunning(daemon).request('jobs/requeue', params) : { requeued: 0 };
      say(requeued > 0 ? `Requeued ${plural(requeued, 'failed job')}.` : 'No failed jobs to requeue.');
    }),
    run('crawlOrchestrator.cancelJob', async (node?: unknown, selected?: unknown) => {
      const ids = idsOf(node, selected) ?? (await pickJobIds(deps, 'Cancel Job', ['queued', 'in_progress']));
      if (!ids) return;
      if (ids.length > 1) {
        const ok = await vscode.window.showWarningMessage(`Cancel ${plural(ids.length, 'job')}?`, { modal: true }, 'Cancel Jobs');
        if (ok !== 'Cancel Jobs') return;
      }
      const { cancelled } = await ensureRunning(daemon).request('jobs/cancel', { ids });
      say(cancelled > 0 ? `Cancelled ${plural(cancelled, 'job')}.` : 'Nothing was cancelled: only queued and running jobs can be cancelled.');
    }),
    run('crawlOrchestrator.pause', async () => {
      await ensureRunning(daemon).request('scheduler/pause', {});
      await overview.refresh();
    }),
    run('crawlOrchestrator.resume', async () => {
      await ensureRunning(daemon).request('scheduler/resume', {});
      await overview.refresh();
    }),
    run('crawlOrchestrator.setHostLimit', (node?: unknown) => setHostLimit(deps, node)),
    run('crawlOrchestrator.showJobDetails', async (node?: unknown) => {
      const id = idsOf(node, undefined)?.[0] ?? (await pickJobIds(deps, 'Show Job Details', ['error', 'in_progress', 'queued'], false))?.[0];
      if (id !== undefined) await deps.documents.show(id);
    }),
    run('crawlOrchestrator.showDaemonLog', () => log.show(true)),
    run('crawlOrchestrator.restartDaemon', async () => {
      if (!vscode.workspace.isTrusted) return refuse(daemon);
      await daemon.restart();
    }),
    run('crawlOrchestrator.refresh', async () => {
      view.refreshNow();
      await overview.refresh();
    }),
    run('crawlOrchestrator.groupBy', async (mode?: unknown) => {
      const chosen = typeof mode === 'string' && (GROUP_BY as readonly string[]).includes(mode) ? (mode as GroupBy) : await pickGroupBy(view.groupBy);
      if (chosen) await view.setGroupBy(chosen);
    }),
    run('crawlOrchestrator.searchJobs', () => searchJobs(view)),
    run('crawlOrchestrator.clearFilter', () => view.setFilter(undefined)),
    run(SEED_COMMANDS.revealJobs, async (arg?: unknown) => {
      const a = arg as Partial<SeedCommandArgs[typeof SEED_COMMANDS.revealJobs][0]> | undefined;
      if (a?.crawlId) await view.setFilter({ crawlId: a.crawlId });
      else if (Array.isArray(a?.jobIds) && a.jobIds.length > 0) await view.setFilter({ jobIds: a.jobIds, ...(typeof a.from === 'string' && { from: a.from }) });
      await view.reveal();
    }),
    run('crawlOrchestrator.copyUrl', async (node?: unknown, selected?: unknown) => {
      const urls = jobsOf(node, selected).map((j) => j.url);
      if (urls.length === 0) return;
      await vscode.env.clipboard.writeText(urls.join('\n'));
      vscode.window.setStatusBarMessage(urls.length === 1 ? 'Copied the URL' : `Copied ${urls.length} URLs`, 3_000);
    }),
    run('crawlOrchestrator.openInBrowser', async (node?: unknown) => {
      const job = jobsOf(node, undefined)[0];
      if (job) await vscode.env.openExternal(vscode.Uri.parse(job.url, true));
    }),
    // Not in the palette (nor declared): a click or Enter on a job, "Load more" or "newer" row (OPEN_ROW).
    run(OPEN_ROW.command, async () => {
      const selected = view.treeView.selection;
      const node = selected.length === 1 ? selected[0] : undefined;
      if (node?.kind === 'job') await deps.documents.show(node.job.id);
      else if (node?.kind === 'more') await view.provider.loadMore(node);
      else if (node?.kind === 'newer') view.provider.showNewest(node);
    }),
    run(SEED_COMMANDS.pauseCrawl, (arg?: unknown) => crawlAction(deps, 'pause', arg)),
    run(SEED_COMMANDS.resumeCrawl, (arg?: unknown) => crawlAction(deps, 'resume', arg)),
    run(SEED_COMMANDS.cancelCrawl, (arg?: unknown) => crawlAction(deps, 'cancel', arg)),
    run('crawlOrchestrator.exportCrawl', (arg?: unknown) => exportCrawlResults(ensureRunning(daemon), crawlArg(arg))),
    run(SEED_COMMANDS.showReport, async (arg?: unknown) => {
      const target = crawlArg(arg);
      const running = ensureRunning(daemon);
      const crawl =
        typeof target === 'string'
          ? (await running.request('crawl/get', { crawlId: target })).crawl
          : (target ?? (await pickCrawl(running, 'Show Crawl Report', newestFirst, 'There is no crawl to report on yet: start one with Start Crawl.')));
      if (crawl) deps.reports.show(crawl);
    }),
  ];
}

function say(message: string): void {
  void vscode.window.showInformationMessage(message);
}

/** The daemon, or an error saying why there is none (shown by `run` with what to do). */
function ensureRunning(daemon: Daemon): Daemon {
  if (daemon.status.kind !== 'running') throw new NotRunning();
  return daemon;
}

class NotRunning extends Error {}

async function reportFailure(err: unknown, daemon: Daemon): Promise<void> {
  if (err instanceof NotRunning || daemon.status.kind !== 'running') return refuse(daemon);
  const message = err instanceof Error ? err.message : String(err);
  await vscode.window.showErrorMessage(`Crawl Orchestrator: ${message}`);
}

/** Says why no command can reach the daemon, with the one action that fixes it. */
async function refuse(daemon: Daemon): Promise<void> {
  const status = daemon.status;
  const actions: Record<string, () => Thenable<unknown>> = {};
  if (status.kind === 'untrusted') actions['Manage Workspace Trust'] = () => vscode.commands.executeCommand('workbench.trust.manage');
  else if (status.kind === 'noRuntime')
    actions['Set Node Path'] = () => vscode.commands.executeCommand('workbench.action.openSettings', 'crawlOrchestrator.nodePath');
  else if (status.kind === 'noFolder') actions['Open Folder'] = () => vscode.commands.executeCommand('workbench.action.files.openFolder');
  else if (status.kind !== 'starting') {
    actions['Restart Daemon'] = () => vscode.commands.executeCommand('crawlOrchestrator.restartDaemon');
    actions['Show Daemon Log'] = () => vscode.commands.executeCommand('crawlOrchestrator.showDaemonLog');
  }
  const choice = await vscode.window.showWarningMessage(describeStatus(status), ...Object.keys(actions));
  if (choice) await actions[choice]();
}

// --- arguments from the view ------------------------------------------------------------------

function isNode(x: unknown): x is TreeNode {
  return typeof x === 'object' && x !== null && 'kind' in x && 'id' in x;
}

/** The jobs a menu command applies to: the selection when the clicked row is part of it. */
function jobsOf(node: unknown, selected: unknown): Job[] {
  const rows = Array.isArray(selected) && selected.some((s) => s === node) ? selected : [node];
  return rows.filter((r): r is JobNode => isNode(r) && r.kind === 'job').map((r) => r.job);
}

/** Job ids from the view's rows, or a job id passed by a script or keybinding. */
function idsOf(node: unknown, selected: unknown): number[] | undefined {
  if (typeof node === 'number' && Number.isInteger(node) && node > 0) return [node];
  const ids = jobsOf(node, selected).map((j) => j.id);
  return ids.length > 0 ? ids : undefined;
}

/**
 * jobs/requeue params: a lens passes them whole; a row narrows to its crawl, host or failure reason; the view's
 * title bar (and the palette) passes nothing and means the failed jobs the view shows. Under a
 * search (the view's, or its Error row's), those are the matches loaded (`failedShown`; null when
 * there are none): the queue cannot requeue by search.
 */
export function requeueParams(arg: unknown, shown: JobsFilterScope | undefined, failedShown: number[] = []): ParamsOf<'jobs/requeue'> | null {
  if (isNode(arg)) {
    if (arg.kind === 'group') {
      const g: GroupNode = arg;
      if (g.filter.search !== undefined) return failedShown.length > 0 ? { state: 'error', ids: failedShown } : null;
      return {
        state: 'error',
        ...(g.filter.crawlId ? { crawlId: g.filter.crawlId } : {}),
        ...(g.filter.host ? { host: g.filter.host } : {}),
        ...(g.filter.reason !== undefined ? { reason: g.filter.reason } : {}),
      };
    }
    return { state: 'error' };
  }
  if (typeof arg === 'object' && arg !== null && ('ids' in arg || 'state' in arg || 'host' in arg || 'crawlId' in arg || 'reason' in arg)) {
    return arg as ParamsOf<'jobs/requeue'>;
  }
  if (shown && 'crawlId' in shown) return { state: 'error', crawlId: shown.crawlId };
  if (shown && 'search' in shown) return failedShown.length > 0 ? { state: 'error', ids: failedShown } : null;
  if (shown) return { state: 'error', ids: shown.jobIds };
  return { state: 'error' };
}

/** Asks for a search, prefilled with the current one; a blank answer ends the search, Escape changes nothing. */
export async function searchJobs(view: Pick<JobsView, 'provider' | 'setFilter'>): Promise<void> {
  const current = view.provider.filter;
  const searching = current !== undefined && 'search' in current;
  const text = await vscode.window.showInputBox({
    title: 'Search Jobs',
    prompt: 'Part of a URL or an error, or an HTTP status (404) or class (5xx)',
    value: searching ? current.search : '',
    validateInput: (v) => (v.trim().length > MAX_JOB_SEARCH ? `At most ${MAX_JOB_SEARCH} characters.` : undefined),
  });
  if (text === undefined) return;
  const search = text.trim();
  if (search !== '') await view.setFilter({ search });
  else if (searching) await view.setFilter(undefined);
}

// --- pickers --------------------------------------------------------------------------------

interface JobPick extends vscode.QuickPickItem {
  id: number;
}

/**
 * Lists the first jobs in each of `states` to pick from; typing a job id offers that job too, so
 * any job is reachable without scrolling.
 */
async function pickJobIds(deps: CommandDeps, title: string, states: JobState[], many = true): Promise<number[] | undefined> {
  const daemon = ensureRunning(deps.daemon);
  const qp = vscode.window.createQuickPick<JobPick>();
  qp.title = title;
  qp.placeholder = 'Pick jobs, or type a job id';
  qp.canSelectMany = many;
  qp.matchOnDescription = true;
  qp.matchOnDetail = true;
  qp.busy = true;
  let listed: JobPick[] = [];
  const typed = (value: string): JobPick[] =>
    /^\d+$/.test(value.trim()) && !listed.some((p) => p.id === Number(value.trim()))
      ? [{ id: Number(value.trim()), label: `Job ${value.trim()}`, description: 'by id', alwaysShow: true }]
      : [];
  qp.onDidChangeValue((v) => {
    if (!many) qp.items = [...typed(v), ...listed];
  });
  const chosen = new Promise<number[] | undefined>((resolve) => {
    qp.onDidAccept(() => {
      // Enter on a highlighted row, with nothing ticked, means that row.
      const picked = many && qp.selectedItems.length > 0 ? qp.selectedItems : qp.activeItems;
      const fromValue = typed(qp.value);
      const ids = picked.length > 0 ? picked.map((p) => p.id) : fromValue.map((p) => p.id);
      resolve(ids.length > 0 ? ids : undefined);
      qp.hide();
    });
    qp.onDidHide(() => resolve(undefined));
  });
  qp.show();
  try {
    const pages = await Promise.all(states.map((state) => daemon.request('jobs/list', { state, limit: 100 })));
    const now = Date.now();
    listed = pages
      .flatMap((p) => p.jobs)
      .map((j) => ({
        id: j.id,
        label: jobLabel(j.url),
        description: `${j.host} · ${STATE_LABELS[j.state]} · job ${j.id}`,
        detail: j.lastError === null ? undefined : localTimes(j.lastError, now),
      }));
    qp.items = listed;
    qp.busy = false;
    if (listed.length === 0) qp.placeholder = `No ${states.map((s) => STATE_LABELS[s].toLowerCase()).join(' or ')} jobs; type a job id`;
    return await chosen;
  } finally {
    qp.dispose();
  }
}

async function pickGroupBy(current: GroupBy): Promise<GroupBy | undefined> {
  const items = GROUP_BY.map((mode) => ({
    mode,
    label: GROUP_BY_LABELS[mode],
    description: mode === current ? 'current' : undefined,
  }));
  const picked = await vscode.window.showQuickPick(items, { title: 'Group Jobs By', placeHolder: `Now grouped by ${current}` });
  return picked?.mode;
}

// --- crawls ---------------------------------------------------------------------------------

async function startCrawl(deps: CommandDeps, arg: unknown): Promise<void> {
  const daemon = ensureRunning(deps.daemon);
  const fileUri = seedFileArg(arg);
  const editor = vscode.window.activeTextEditor;
  const doc = fileUri ? await vscode.workspace.openTextDocument(fileUri) : editor?.document.languageId === 'crawl' ? editor.document : undefined;
  if (doc) return startFromSeedFile(deps, doc);

  const s = deps.settings();
  const seedsText = await vscode.window.showInputBox({
    title: 'Start Crawl (1/3): seed URLs',
    prompt: 'The pages the crawl starts from: one or more http(s) URLs, separated by spaces (pasting many lines works)',
    placeHolder: 'https://example.com/',
    value: selectedUrls(),
    ignoreFocusOut: true,
    validateInput: (value) => urlValidation(value, { count: MAX_SEEDS, what: `a crawl starts from at most ${MAX_SEEDS.toLocaleString('en-US')} seeds` }),
  });
  if (seedsText === undefined) return;
  const scopePick = await vscode.window.showQuickPick(
    SCOPES.map((scope) => ({ scope, label: scope, description: scope === s.defaultScope ? 'default' : undefined, detail: SCOPE_HELP[scope] })).sort(
      (a, b) => Number(b.scope === s.defaultScope) - Number(a.scope === s.defaultScope),
    ),
    { title: 'Start Crawl (2/3): scope', placeHolder: 'Which links to follow', ignoreFocusOut: true },
  );
  if (!scopePick) return;
  const depthText = await vscode.window.showInputBox({
    title: 'Start Crawl (3/3): max depth',
    prompt: 'How many links away from a seed to go (0 fetches the seeds only; empty: no limit, the crawl stops at its max pages)',
    value: s.defaultMaxDepth === null ? '' : String(s.defaultMaxDepth),
    ignoreFocusOut: true,
    validateInput: (v) =>
      v.trim() === '' || (/^\d+$/.test(v.trim()) && Number(v) <= 1000) ? undefined : 'Enter a whole number from 0 to 1000, or nothing for no limit',
  });
  if (depthText === undefined) return;
  const seeds = parseUrlList(seedsText).urls;
  const result = await daemon.request('crawl/start', {
    seeds,
    scope: scopePick.scope,
    maxDepth: depthText.trim() === '' ? null : Number(depthText.trim()),
    ...(s.defaultAddresses !== 'auto' && { addresses: s.defaultAddresses }),
  });
  reportStarted(deps, { ...result, name: null }, seeds.length);
}

/** A lens passes `{ uri }`; the explorer's context menu passes the file's Uri. */
function seedFileArg(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const uri = (arg as Partial<SeedCommandArgs[typeof SEED_COMMANDS.startCrawl][0]> | undefined)?.uri;
  return typeof uri === 'string' ? vscode.Uri.parse(uri, true) : undefined;
}

/**
 * Starts the crawl a seed file describes with `seeds/start`, which also ties the file to the
 * crawl for its hints and lenses. Lines with problems are already marked in the editor; the
 * result says how many were left out rather than asking first.
 */
async function startFromSeedFile(deps: CommandDeps, doc: vscode.TextDocument): Promise<void> {
  const daemon = ensureRunning(deps.daemon);
  const text = doc.getText();
  const name = vscode.workspace.asRelativePath(doc.uri);
  const parsed = await daemon.request('seeds/parse', { text });
  const problems = parsed.problems.map((p) => `line ${p.line}: ${p.message}`);
  if (!parsed.start) {
    const choice = await vscode.window.showErrorMessage(
      `${name} cannot start a crawl: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`,
      'Show Problems',
    );
    if (choice) await vscode.commands.executeCommand('workbench.actions.view.problems');
    return;
  }
  const result = await daemon.request('seeds/start', { uri: doc.uri.toString(), text });
  reportStarted(deps, { ...result, name: parsed.start.name ?? null }, parsed.start.seeds.length, problemsNote(name, parsed.problems));
}

/** What the start message says of a file's problems: lines with an error were left out, a repeated URL was crawled once. */
export function problemsNote(name: string, problems: ResultOf<'seeds/parse'>['problems']): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  const parts = [
    errors > 0 ? `${plural(errors, 'line')} with an error ${errors === 1 ? 'was' : 'were'} left out` : '',
    warnings > 0 ? `${plural(warnings, 'warning')} (a URL repeated is crawled once)` : '',
  ].filter((p) => p !== '');
  return parts.length > 0 ? ` ${name}: ${parts.join('; ')}.` : '';
}

/** `result` with the name the crawl was started with, for the message. */
function reportStarted(deps: CommandDeps, result: ResultOf<'crawl/start'> & Pick<Crawl, 'name'>, seeds: number, note = ''): void {
  const rejected = result.rejected.length > 0 ? ` ${rejectedText(result.rejected)}` : '';
  const text = `Crawl ${crawlLabel(result)} started: ${formatCount(result.enqueued)} of ${plural(seeds, 'seed')} enqueued.${rejected}${note}`;
  const warn = result.enqueued === 0 || rejected !== '' || note !== '';
  const actions = note ? ['Show Jobs', 'Show Problems'] : ['Show Jobs'];
  void (warn ? vscode.window.showWarningMessage(text, ...actions) : vscode.window.showInformationMessage(text, ...actions)).then(async (choice) => {
    if (choice === 'Show Jobs') await deps.view.reveal();
    else if (choice === 'Show Problems') await vscode.commands.executeCommand('workbench.actions.view.problems');
  });
}

function rejectedText(rejected: Rejected[]): string {
  const first = rejected.slice(0, 2).map((r) => `${r.url} (${r.reason})`);
  return `Rejected: ${first.join(', ')}${rejected.length > 2 ? ` and ${rejected.length - 2} more` : ''}.`;
}

/** A crawl command's crawl: a crawl row's, a crawl id or `{ crawlId }` from a script; undefined asks. */
function crawlArg(arg: unknown): Crawl | string | undefined {
  if (isNode(arg)) return arg.kind === 'group' ? arg.crawl : undefined;
  if (typeof arg === 'string' && arg.length > 0) return arg;
  const id = (arg as { crawlId?: unknown } | null | undefined)?.crawlId;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

const CRAWL_ACTION_TITLES: Record<CrawlAction, string> = { pause: 'Pause Crawl', resume: 'Resume Crawl', cancel: 'Cancel Crawl' };

/** On a crawl row's crawl (or one a script names); from the palette, on the crawl picked. */
async function crawlAction(deps: CommandDeps, action: CrawlAction, arg: unknown): Promise<void> {
  const daemon = ensureRunning(deps.daemon);
  const target = crawlArg(arg);
  const crawl =
    typeof target === 'string'
      ? (await daemon.request('crawl/get', { crawlId: target })).crawl
      : (target ?? (await pickCrawl(daemon, CRAWL_ACTION_TITLES[action], (crawls) => crawlsFor(action, crawls), nothingTo(action))));
  if (!crawl) return;
  const { crawlId } = crawl;
  const label = crawlLabel(crawl);
  if (action === 'pause') {
    await daemon.request('crawl/pause', { crawlId });
    vscode.window.setStatusBarMessage(`Paused crawl ${label}`, 3_000);
  } else if (action === 'resume') {
    await daemon.request('crawl/resume', { crawlId });
    vscode.window.setStatusBarMessage(`Resumed crawl ${label}`, 3_000);
  } else {
    const ok = await vscode.window.showWarningMessage(
      `Cancel crawl ${label}? Its queued jobs are cancelled; finished ones are kept.`,
      { modal: true },
      'Cancel Crawl',
    );
    if (ok !== 'Cancel Crawl') return;
    const { cancelled } = await daemon.request('crawl/cancel', { crawlId });
    say(`Cancelled crawl ${label} and ${plural(cancelled, 'queued job')}.`);
  }
}

// --- URLs and hosts -------------------------------------------------------------------------

function urlValidation(value: string, max?: Parameters<typeof describeUrlInput>[1]): vscode.InputBoxValidationMessage | undefined {
  const verdict = describeUrlInput(value, max);
  if (verdict.error) return { message: verdict.error, severity: vscode.InputBoxValidationSeverity.Error };
  return { message: verdict.info!, severity: vscode.InputBoxValidationSeverity.Info };
}

/** URLs selected in the editor, offered as the input's starting value. */
function selectedUrls(): string {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.selection.isEmpty) return '';
  const { urls, problems } = parseUrlList(editor.document.getText(editor.selection));
  return problems.length === 0 ? urls.join(' ') : '';
}

async function enqueueUrls(deps: CommandDeps): Promise<void> {
  const daemon = ensureRunning(deps.daemon);
  const text = await vscode.window.showInputBox({
    title: 'Enqueue URLs',
    prompt: 'URLs to fetch once each (not followed), separated by spaces; pasting many lines works',
    placeHolder: 'https://example.com/a https://example.com/b',
    value: selectedUrls(),
    ignoreFocusOut: true,
    validateInput: urlValidation,
  });
  if (text === undefined) return;
  const { urls } = parseUrlList(text);
  const maxAttempts = deps.settings().maxAttempts;
  let enqueued = 0;
  let duplicates = 0;
  const rejected: Rejected[] = [];
  for (let i = 0; i < urls.length; i += ENQUEUE_BATCH) {
    const r = await daemon.request('jobs/enqueue', { urls: urls.slice(i, i + ENQUEUE_BATCH), maxAttempts });
    enqueued += r.enqueued;
    duplicates += r.duplicates;
    rejected.push(...r.rejected);
  }
  const dup = duplicates > 0 ? ` ${plural(duplicates, 'URL was', 'URLs were')} already queued.` : '';
  const rej = rejected.length > 0 ? ` ${rejectedText(rejected)}` : '';
  const message = `Enqueued ${plural(enqueued, 'URL')}.${dup}${rej}`;
  if (rejected.length > 0) void vscode.window.showWarningMessage(message);
  else say(message);
}

/** Set Host Limit for a host named, with its limit now (the crawl report's hosts). */
export interface SetHostLimitArg {
  host: string;
  limit: number;
}

function isHostArg(arg: unknown): arg is SetHostLimitArg {
  const a = arg as Partial<SetHostLimitArg> | undefined;
  return typeof a?.host === 'string' && typeof a.limit === 'number';
}

async function setHostLimit(deps: CommandDeps, node: unknown): Promise<void> {
  const daemon = ensureRunning(deps.daemon);
  let host: SetHostLimitArg | undefined = isNode(node) && node.kind === 'group' ? node.host : isHostArg(node) ? node : undefined;
  if (!host) {
    const { hosts } = await daemon.request('hosts/list', { limit: 1000 });
    const picked = await vscode.window.showQuickPick(
      hosts.map((h) => ({ host: h, label: h.host, description: `limit ${h.limit} · ${h.inFlight} in flight · ${h.state}` })),
      { title: 'Set Host Limit', placeHolder: 'Which host' },
    );
    if (!picked) return;
    host = picked.host;
  }
  const target = host;
  // A host's own limit has the bounds of the default one.
  const { min, max } = SETTINGS.perHostLimit;
  const value = await vscode.window.showInputBox({
    title: `Set Host Limit: ${target.host}`,
    prompt: `Requests in flight at once to ${target.host}, across every daemon on this queue (now ${target.limit})`,
    value: String(target.limit),
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= min && Number(v) <= max ? undefined : `Enter a whole number from ${min} to ${max}`),
  });
  if (value === undefined) return;
  const r = await daemon.request('hosts/setLimit', { host: target.host, limit: Number(value.trim()) });
  say(`${r.host} now takes ${plural(r.limit, 'request')} at once.`);
}
