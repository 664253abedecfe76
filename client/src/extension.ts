/**
 * Crawl Orchestrator's extension entry: wires the daemon, the Jobs view, the status bar, job
 * documents, commands and settings together, and keeps the daemon in step with Workspace Trust,
 * the workspace's folders and the settings.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { ReportPanels } from './report/panel';
import { Daemon } from './daemon';
import { JobDocuments } from './jobDocument';
import { JobsView } from './jobsView';
import { QueueOverview } from './overview';
import { SECTION, diffSettings, readSettings, resolveStateDir, type ReadSettings, type Settings } from './settings';
import { StatusBar } from './statusBar';

/** For `deactivate`, which VS Code calls without the context. */
let activeDaemon: Daemon | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Crawl Orchestrator');
  const traceLog = vscode.window.createOutputChannel('Crawl Orchestrator Trace');
  const reported = new Set<string>();
  let current = loadSettings(reported);

  const daemon = new Daemon(context, log, traceLog, () => current.settings);
  const overview = new QueueOverview(daemon);
  const view = new JobsView(context, daemon, overview);
  const documents = new JobDocuments(daemon, context.extensionUri);
  const reports = new ReportPanels(context.extensionUri, daemon, documents);
  const statusBar = new StatusBar(daemon, overview);
  activeDaemon = daemon;

  const setDaemonContext = () => vscode.commands.executeCommand('setContext', 'crawlOrchestrator.daemon', daemon.status.kind);
  void setDaemonContext();

  context.subscriptions.push(
    log,
    traceLog,
    daemon,
    overview,
    view,
    statusBar,
    documents,
    reports,
    ...registerCommands({ daemon, view, overview, reports, documents, settings: () => current.settings, log }),
    daemon.onDidChangeStatus(() => void setDaemonContext()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void daemon.start()),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      const before = current.settings;
      current = loadSettings(reported);
      await applySettings(daemon, log, before, current.settings);
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(async () => {
      const status = daemon.status;
      if (status.kind === 'noFolder') await daemon.start();
      else if (status.kind === 'running' && stateDirOf(current.settings) !== status.stateDir) {
        await askRestart(daemon, 'The first workspace folder changed, and with it the state folder.');
      }
    }),
  );
  void daemon.start();
}

export function deactivate(): Promise<void> | undefined {
  return activeDaemon?.stop();
}

/** Reads the settings, reporting each problem once (not again on every unrelated change). */
function loadSettings(reported: Set<string>): ReadSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const read = readSettings((key) => config.get(key));
  const fresh = read.problems.filter((p) => !reported.has(p));
  for (const p of fresh) reported.add(p);
  if (fresh.length > 0) {
    void vscode.window
      .showWarningMessage(`Crawl Orchestrator settings: ${fresh.join('. ')}.`, 'Open Settings')
      .then((choice) => choice && vscode.commands.executeCommand('workbench.action.openSettings', SECTION));
  }
  return read;
}

function stateDirOf(settings: Settings): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  return resolveStateDir(settings.stateDir, folder?.scheme === 'file' ? folder.fsPath : undefined, os.homedir(), path);
}

/** Worker counts go to the running daemon at once; flags it was started with take a restart. */
async function applySettings(daemon: Daemon, log: vscode.OutputChannel, before: Settings, after: Settings): Promise<void> {
  const change = diffSettings(before, after);
  const status = daemon.status.kind;
  if (status !== 'running' && status !== 'starting') {
    // A new node path or state folder may be exactly what a failed start needed.
    if (change.restart.length > 0 && status !== 'untrusted') await daemon.restart();
    return;
  }
  if (status === 'running' && Object.keys(change.live).length > 0) {
    try {
      const applied = await daemon.request('daemon/configure', change.live);
      log.appendLine(`[extension] applied without a restart: max workers ${applied.maxWorkers}, per-host limit ${applied.perHostLimit}`);
    } catch (err) {
      void vscode.window.showErrorMessage(`Crawl Orchestrator could not apply the worker settings: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (change.restart.length > 0) {
    const names = change.restart.map((k) => `${SECTION}.${k}`).join(', ');
    await askRestart(daemon, `The daemon takes ${names} when it starts.`);
  }
}

async function askRestart(daemon: Daemon, why: string): Promise<void> {
  const choice = await vscode.window.showInformationMessage(
    `Restart the Crawl Orchestrator daemon? ${why} Running jobs are handed back and continue after the restart.`,
    'Restart Now',
    'Later',
  );
  if (choice === 'Restart Now') await daemon.restart();
}
