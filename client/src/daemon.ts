/**
 * The daemon's life as the extension sees it: started as the workspace's language server over
 * IPC, on a Node runtime that can load its native SQLite addon, restarted when it crashes (but
 * not in a crash loop), stopped gracefully with the LSP shutdown. Everything else in the
 * extension talks to it through `request` and the notification events here, typed by the
 * shared protocol module.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import type { Method, Notifications, ParamsOf, ResultOf } from '../../server/src/protocol';
import { chooseRuntime, candidates, minimumVersion, noRuntimeMessage, wrongPlatform, type BuiltFor } from './runtime';
import { DaemonUnavailable, describeStatus, type DaemonApi, type DaemonStatus } from './daemonApi';
import { daemonArgs, diffSettings, resolveStateDir, type Settings } from './settings';

/** Crashes tolerated in this window before restarts stop and the user is asked. */
const CRASH_WINDOW_MS = 3 * 60_000;
const MAX_CRASHES = 5;
/** The LSP shutdown lets in-flight jobs finish or hand back their leases; deactivation allows ~5 s. */
const STOP_TIMEOUT_MS = 4_500;
/** `Attach to Server` in .vscode/launch.json attaches here. */
export const DEBUG_PORT = 6011;
/** The failure notice's ways out, as the command links a progress notification can show. */
const FAILURE_ACTIONS = '[Restart Daemon](command:crawlOrchestrator.restartDaemon) · [Show Daemon Log](command:crawlOrchestrator.showDaemonLog)';

export class Daemon implements DaemonApi, vscode.Disposable {
  private client: LanguageClient | undefined;
  /** `activate` starts the daemon at once, so the views open on "starting", not "stopped". */
  private current: DaemonStatus = { kind: 'starting' };
  private crashes: number[] = [];
  /** Closes the notice that the daemon failed, while one is up. */
  private closeFailureNotice: (() => void) | undefined;
  /** Serialises start, stop and restart, which the user and settings changes may fire at once. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly statusEmitter = new vscode.EventEmitter<DaemonStatus>();
  private readonly jobsEmitter = new vscode.EventEmitter<Notifications['jobs/changed']>();
  private readonly statsEmitter = new vscode.EventEmitter<Notifications['queue/statsChanged']>();
  private readonly crawlEmitter = new vscode.EventEmitter<Notifications['crawl/changed']>();

  readonly onDidChangeStatus = this.statusEmitter.event;
  readonly onJobsChanged = this.jobsEmitter.event;
  readonly onStatsChanged = this.statsEmitter.event;
  readonly onCrawlChanged = this.crawlEmitter.event;

  private readonly tail: LogTail;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.OutputChannel,
    private readonly traceLog: vscode.OutputChannel,
    private readonly settings: () => Settings,
  ) {
    this.tail = new LogTail(log);
  }

  get status(): DaemonStatus {
    return this.current;
  }

  start(): Promise<void> {
    return this.serialise(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialise(() => this.doStop());
  }

  restart(): Promise<void> {
    return this.serialise(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  async request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    const client = this.client;
    if (!client || this.current.kind !== 'running') throw new DaemonUnavailable(describeStatus(this.current));
    return client.sendRequest<ResultOf<M>>(method, params);
  }

  dispose(): void {
    this.statusEmitter.dispose();
    this.jobsEmitter.dispose();
    this.statsEmitter.dispose();
    this.crawlEmitter.dispose();
  }

  private serialise(step: () => Promise<void>): Promise<void> {
    const next = this.queue.then(step, step);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private setStatus(status: DaemonStatus): void {
    this.current = status;
    // The notice says the daemon will not run: stale once it is being started again.
    if (status.kind !== 'failed') {
      this.closeFailureNotice?.();
      this.closeFailureNotice = undefined;
    }
    this.statusEmitter.fire(status);
  }

  private async doStart(): Promise<void> {
    if (this.client) return;
    if (!vscode.workspace.isTrusted) return this.setStatus({ kind: 'untrusted' });
    const settings = this.settings();
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const folderPath = folder?.scheme === 'file' ? folder.fsPath : undefined;
    const stateDir = resolveStateDir(settings.stateDir, folderPath, os.homedir(), path);
    if (stateDir === undefined) return this.setStatus({ kind: 'noFolder' });

    this.setStatus({ kind: 'starting' });
    this.tail.lastError = undefined;
    const extensionPath = this.context.extensionPath;
    const minVersion = minimumVersion((this.context.extension.packageJSON as { engines?: { node?: string } } | undefined)?.engines?.node);
    const built = builtFor(extensionPath);
    // A package built for another platform: no runtime of this machine loads its module.
    const elsewhere = built === null ? null : wrongPlatform(built, process.platform, process.arch, isMusl());
    const choice =
      elsewhere !== null
        ? { ok: false as const, tried: [] }
        : await chooseRuntime(candidates(settings.nodePath, process.env, process), path.join(extensionPath, 'node_modules', 'better-sqlite3'), minVersion);
    if (!choice.ok) {
      const message = elsewhere ?? noRuntimeMessage(choice.tried, minVersion, built ?? undefined);
      this.log.appendLine(`[extension] ${message}`);
      this.setStatus({ kind: 'noRuntime', message });
      void notifyNoRuntime(message);
      return;
    }
    const runtime = choice.runtime.candidate.path;
    this.log.appendLine(`[extension] starting the daemon on ${stateDir} with ${choice.runtime.candidate.source} (${runtime}, ${choice.runtime.version})`);

    const module = path.join(extensionPath, 'dist', 'server', 'daemon.js');
    const args = daemonArgs(settings, stateDir, folderPath);
    // The state folder may not exist yet (the daemon makes it), so it cannot be the working folder.
    const options = { cwd: folderPath ?? os.homedir(), env: { ...process.env, ELECTRON_RUN_AS_NODE: undefined } };
    const serverOptions: ServerOptions = {
      run: { module, runtime, transport: TransportKind.ipc, args, options },
      debug: {
        module,
        runtime,
        transport: TransportKind.ipc,
        args,
        options: { ...options, execArgv: ['--nolazy', '--enable-source-maps', `--inspect=${DEBUG_PORT}`] },
      },
    };
    // Whether this process got as far as serving: one that dies while starting would only die again.
    const life = { ran: false };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ language: 'crawl' }],
      outputChannel: this.tail,
      traceOutputChannel: this.traceLog,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: {
        // A broken pipe is the process dying: `closed` decides what follows.
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(life.ran),
      },
      initializationFailedHandler: (error) => {
        this.log.appendLine(`[extension] the daemon failed to initialise: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      },
    };

    // The id makes vscode-languageclient honour the `crawlOrchestrator.trace.server` setting.
    const client = new DaemonClient('crawlOrchestrator', 'Crawl Orchestrator', serverOptions, clientOptions);
    this.client = client;
    client.onNotification('jobs/changed', (p: Notifications['jobs/changed']) => this.jobsEmitter.fire(p));
    client.onNotification('queue/statsChanged', (p: Notifications['queue/statsChanged']) => this.statsEmitter.fire(p));
    client.onNotification('crawl/changed', (p: Notifications['crawl/changed']) => this.crawlEmitter.fire(p));
    // Also after the client restarts a crashed daemon: the subscription lives in the process.
    client.onDidChangeState(({ newState }) => {
      if (this.client !== client) return;
      life.ran = newState === State.Running;
      if (newState === State.Running) void this.subscribe(client, settings, stateDir, runtime);
      else if (newState === State.Starting) this.setStatus({ kind: 'starting' });
    });
    try {
      await client.start();
    } catch (err) {
      this.fail(`The Crawl Orchestrator daemon did not start: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Once the daemon serves (at its start, and again when the client restarts it after a crash):
   * change notifications on, and the live settings as they are now. The process runs with the
   * flags of the start, so a change made since (while starting, or applied with daemon/configure
   * to the process that crashed) would otherwise be undone.
   */
  private async subscribe(client: LanguageClient, startedWith: Settings, stateDir: string, runtime: string): Promise<void> {
    try {
      await client.sendRequest('events/subscribe', {});
    } catch (err) {
      // Requests still work; only the live updates are missing, which the log says.
      this.log.appendLine(`[extension] events/subscribe failed, views will not update by themselves: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { live } = diffSettings(startedWith, this.settings());
    if (Object.keys(live).length > 0) {
      try {
        await client.sendRequest('daemon/configure', live);
        this.log.appendLine(`[extension] applied settings changed since the daemon's start: ${JSON.stringify(live)}`);
      } catch (err) {
        this.log.appendLine(`[extension] daemon/configure failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (this.client === client) this.setStatus({ kind: 'running', stateDir, runtime });
  }

  private onClosed(ran: boolean) {
    if (!ran) {
      const why = this.tail.lastError;
      this.fail(`The Crawl Orchestrator daemon exited while starting${why ? `: ${why}` : '; its log says why'}.`);
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    if (this.crashes.length > MAX_CRASHES) {
      this.crashes = [];
      this.fail(
        `The Crawl Orchestrator daemon stopped ${MAX_CRASHES + 1} times in ${CRASH_WINDOW_MS / 60_000} minutes and will not be restarted automatically.`,
      );
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.log.appendLine('[extension] the daemon exited unexpectedly; restarting it');
    this.setStatus({ kind: 'starting' });
    return { action: CloseAction.Restart, handled: true };
  }

  /**
   * Reports a daemon that will not run, once: a start that fails is seen both by the closed
   * connection and by the failed initialisation. The client stays until the next restart
   * disposes it; `request` refuses meanwhile.
   */
  private fail(message: string): void {
    if (this.current.kind === 'failed') return;
    this.log.appendLine(`[extension] ${message}`);
    this.setStatus({ kind: 'failed', message });
    this.showFailureNotice(message);
  }

  /**
   * A progress notification, not an error message: VS Code cannot close an error message's
   * toast, which then stayed up after a successful restart. This one lasts until the status
   * leaves `failed` (or the user dismisses it with its cancel button); its actions are links,
   * the only kind a progress notification shows.
   */
  private showFailureNotice(message: string): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `${message} ${FAILURE_ACTIONS}`, cancellable: true },
      (_progress, token) =>
        new Promise<void>((resolve) => {
          this.closeFailureNotice = resolve;
          token.onCancellationRequested(() => resolve());
        }),
    );
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      // Requests are refused from here on: the status says so at once, not once the process is gone.
      this.setStatus({ kind: 'stopped' });
      this.log.appendLine('[extension] stopping the daemon');
      try {
        // Disposing stops the client for good: a daemon that exits now is not restarted.
        await client.dispose(STOP_TIMEOUT_MS);
      } catch (err) {
        this.log.appendLine(`[extension] the daemon did not stop cleanly: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.setStatus({ kind: 'stopped' });
  }
}

async function notifyNoRuntime(message: string): Promise<void> {
  const choice = await vscode.window.showErrorMessage(message, 'Set Node Path', 'Get Node.js');
  if (choice === 'Set Node Path') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'crawlOrchestrator.nodePath');
  } else if (choice === 'Get Node.js') {
    await vscode.env.openExternal(vscode.Uri.parse('https://nodejs.org/en/download'));
  }
}

/**
 * The language client reports some failures in notifications of its own ("couldn't create
 * connection to server"); the Daemon reports each failure once, in words, so the client's
 * errors go to the log only.
 */
class DaemonClient extends LanguageClient {
  override error(message: string, data?: unknown): void {
    super.error(message, data, false);
  }

  /**
   * After a crash restart the client logs `info(message, !handled)`: the flag lands where data
   * goes and the log got a line `false`. Data that is only a flag is dropped.
   */
  override info(message: string, data?: unknown, showNotification?: boolean): void {
    super.info(message, typeof data === 'boolean' ? undefined : data, showNotification);
  }
}

/**
 * The daemon's log, passed through to the output channel, remembering its last error line so
 * that a daemon that dies while starting can be reported with the reason.
 */
class LogTail implements vscode.OutputChannel {
  lastError: string | undefined;
  private partial = '';

  constructor(private readonly channel: vscode.OutputChannel) {}

  get name(): string {
    return this.channel.name;
  }

  append(value: string): void {
    this.channel.append(value);
    const lines = (this.partial + value).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      // "2026-01-02T10:00:00.000Z crawld error: ENOTDIR: not a directory, mkdir '/x'"
      const m = /^\S+ \S+ (?:error|fatal): (.+)$/.exec(line.trim());
      if (m) this.lastError = m[1];
    }
  }

  appendLine(value: string): void {
    this.append(`${value}\n`);
  }

  replace(value: string): void {
    this.channel.replace(value);
  }

  clear(): void {
    this.channel.clear();
  }

  show(preserveFocus?: boolean): void;
  show(column?: vscode.ViewColumn, preserveFocus?: boolean): void;
  show(arg?: boolean | vscode.ViewColumn, preserveFocus?: boolean): void {
    if (typeof arg === 'boolean' || arg === undefined) this.channel.show(arg);
    else this.channel.show(arg, preserveFocus);
  }

  hide(): void {
    this.channel.hide();
  }

  dispose(): void {
    // The channel belongs to the extension, which disposes it.
  }
}

/** What the package's native module was built for (dist/target.json); null when it does not say (a development build). */
function builtFor(extensionPath: string): BuiltFor | null {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(extensionPath, 'dist', 'target.json'), 'utf8')) as Partial<BuiltFor>;
    return typeof info.target === 'string' && typeof info.node === 'string' && typeof info.abi === 'string'
      ? { target: info.target, node: info.node, abi: info.abi }
      : null;
  } catch {
    return null;
  }
}

/** A Linux with musl's C library (Alpine): Node reports no glibc version there. */
function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header !== undefined && header.glibcVersionRuntime === undefined;
}
