/**
 * The latest queue counts and scheduler state, shared by the status bar, the view's badge and the
 * Pause/Resume context key. Counts arrive pushed (`queue/statsChanged`); the scheduler's state is
 * read after them, at most once a second, and also every few seconds while jobs wait, because its
 * idle reason ("backing off until ...") moves on without any job changing.
 */
import * as vscode from 'vscode';
import type { ResultOf } from '../../server/src/protocol';
import type { Daemon } from './daemon';

export type QueueStats = ResultOf<'queue/stats'>;
export type SchedulerStatus = ResultOf<'scheduler/status'>;

const SCHEDULER_MIN_INTERVAL_MS = 1_000;
const IDLE_POLL_MS = 5_000;

export class QueueOverview implements vscode.Disposable {
  stats: QueueStats | undefined;
  scheduler: SchedulerStatus | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private schedulerTimer: NodeJS.Timeout | undefined;
  private lastSchedulerRead = 0;
  private readonly poll: NodeJS.Timeout;

  constructor(private readonly daemon: Daemon) {
    this.disposables.push(
      daemon.onDidChangeStatus((status) => {
        if (status.kind === 'running') void this.refresh();
        else {
          this.stats = undefined;
          this.scheduler = undefined;
          this.changed.fire();
        }
      }),
      daemon.onStatsChanged((stats) => {
        this.stats = stats;
        this.changed.fire();
        this.readSchedulerSoon();
      }),
    );
    this.poll = setInterval(() => {
      if (this.daemon.status.kind === 'running' && (this.stats?.queued ?? 0) > 0) void this.readScheduler();
    }, IDLE_POLL_MS);
  }

  /** Reads both now: at start, and after a command that changes them (pause, resume). */
  async refresh(): Promise<void> {
    try {
      const [stats, scheduler] = await Promise.all([
        this.daemon.request('queue/stats', {}),
        this.daemon.request('scheduler/status', {}),
      ]);
      this.stats = stats;
      this.scheduler = scheduler;
      this.lastSchedulerRead = Date.now();
      this.changed.fire();
    } catch {
      // The daemon went away meanwhile: its status change clears the overview.
    }
  }

  dispose(): void {
    clearInterval(this.poll);
    clearTimeout(this.schedulerTimer);
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
  }

  private readSchedulerSoon(): void {
    if (this.schedulerTimer) return;
    const wait = Math.max(0, this.lastSchedulerRead + SCHEDULER_MIN_INTERVAL_MS - Date.now());
    this.schedulerTimer = setTimeout(() => {
      this.schedulerTimer = undefined;
      void this.readScheduler();
    }, wait);
  }

  private async readScheduler(): Promise<void> {
    this.lastSchedulerRead = Date.now();
    try {
      this.scheduler = await this.daemon.request('scheduler/status', {});
      this.changed.fire();
    } catch {
      // As in refresh.
    }
  }
}
