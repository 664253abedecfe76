/**
 * The status bar item: the queue at a glance (running, queued, failed), spinning while jobs run,
 * on a warning background once jobs have failed, and saying so when no daemon runs. Its tooltip
 * has every state's count, the rate, and the daemon's reason when jobs wait but none runs.
 * A click reveals the Jobs view.
 *
 * For end-to-end tests: the item's DOM id is "crawl-orchestrator.crawl-orchestrator.crawlOrchestrator.status"
 * (extension id, then STATUS_ITEM_ID); its accessible label is "Crawl Orchestrator status: " and
 * then the text without icons, e.g. "3 running, 120 queued, 2 failed" or "daemon stopped".
 */
import * as vscode from 'vscode';
import { JOB_STATES } from '../../server/src/protocol';
import { describeStatus, type DaemonStatus } from './daemonApi';
import { escapeMarkdown, formatCount, formatRate } from './format';
import { STATE_LABELS } from './jobsTreeText';
import type { QueueOverview, QueueStats, SchedulerStatus } from './overview';

export const STATUS_ITEM_ID = 'crawlOrchestrator.status';
export const STATUS_ITEM_NAME = 'Crawl Orchestrator status';

export interface StatusBarView {
  text: string;
  /** Markdown. */
  tooltip: string;
  background: 'warning' | 'error' | undefined;
  /** Read by screen readers, and matched by end-to-end tests. */
  accessibilityLabel: string;
}

export function statusBarView(daemon: DaemonStatus, stats: QueueStats | undefined, scheduler: SchedulerStatus | undefined): StatusBarView {
  if (daemon.kind !== 'running' || stats === undefined) {
    const [text, background] = idleText(daemon);
    return {
      text,
      tooltip: `**Crawl Orchestrator**\n\n${escapeMarkdown(describeStatus(daemon))}`,
      background,
      accessibilityLabel: `${STATUS_ITEM_NAME}: ${text.replace(/\$\([^)]*\)\s*/g, '')}`,
    };
  }
  const running = stats.in_progress;
  const paused = scheduler?.paused === true;
  const icon = running > 0 ? '$(sync~spin)' : paused ? '$(debug-pause)' : '$(globe)';
  const counts = `${formatCount(running)} running · ${formatCount(stats.queued)} queued · ${formatCount(stats.error)} failed`;
  const text = `${icon} ${counts}`;

  const lines = [`**Crawl Orchestrator**${paused ? ': paused' : ''}`, '', '| State | Jobs |', '| :-- | --: |'];
  for (const state of JOB_STATES) lines.push(`| ${STATE_LABELS[state]} | ${formatCount(stats[state])} |`);
  lines.push(`| Total | ${formatCount(stats.total)} |`, '', `${formatRate(stats.jobsPerSecond)} pages/s`);
  if (scheduler) lines.push('', `This daemon runs ${scheduler.running} of ${scheduler.maxWorkers} workers (worker \`${scheduler.workerId}\`).`);
  if (scheduler?.idleReason) lines.push('', `$(info) ${escapeMarkdown(scheduler.idleReason)}`);
  else if (paused) lines.push('', '$(debug-pause) Paused: no new jobs start until you resume.');
  lines.push('', `State folder: \`${daemon.stateDir}\``);

  return {
    text,
    tooltip: lines.join('\n'),
    background: stats.error > 0 ? 'warning' : undefined,
    accessibilityLabel: `${STATUS_ITEM_NAME}: ${counts.replace(/ · /g, ', ')}${paused ? ', paused' : ''}`,
  };
}

function idleText(daemon: DaemonStatus): [string, StatusBarView['background']] {
  switch (daemon.kind) {
    case 'untrusted':
      return ['$(shield) Crawl: restricted', undefined];
    case 'noFolder':
      return ['$(folder) Crawl: no folder', undefined];
    case 'noRuntime':
      return ['$(error) Crawl: no Node.js', 'error'];
    case 'starting':
      return ['$(loading~spin) Crawl: starting', undefined];
    case 'running':
      return ['$(loading~spin) Crawl: connecting', undefined];
    case 'stopped':
      return ['$(debug-disconnect) Crawl: daemon stopped', undefined];
    case 'failed':
      return ['$(error) Crawl: daemon failed', 'error'];
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  /** The view last shown, as JSON. */
  private shown = '';

  constructor(
    private readonly daemon: { readonly status: DaemonStatus; readonly onDidChangeStatus: vscode.Event<DaemonStatus> },
    private readonly overview: Pick<QueueOverview, 'stats' | 'scheduler' | 'onDidChange'>,
  ) {
    this.item = vscode.window.createStatusBarItem(STATUS_ITEM_ID, vscode.StatusBarAlignment.Left, 10);
    this.item.name = STATUS_ITEM_NAME;
    this.item.command = { command: 'crawlOrchestrator.revealJobs', title: 'Show the Jobs view', arguments: [] };
    this.disposables.push(
      daemon.onDidChangeStatus(() => this.render()),
      overview.onDidChange(() => this.render()),
    );
    this.render();
    this.item.show();
  }

  render(): void {
    const view = statusBarView(this.daemon.status, this.overview.stats, this.overview.scheduler);
    // Each assignment is a message to the window, which redraws the item: none for an unchanged view.
    const key = JSON.stringify(view);
    if (key === this.shown) return;
    this.shown = key;
    this.item.text = view.text;
    const tooltip = new vscode.MarkdownString(view.tooltip, true);
    this.item.tooltip = tooltip;
    this.item.backgroundColor = view.background === undefined ? undefined : new vscode.ThemeColor(`statusBarItem.${view.background}Background`);
    this.item.accessibilityInformation = { label: view.accessibilityLabel, role: 'button' };
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.item.dispose();
  }
}
