/**
 * The latest queue counts and scheduler state, shared by the status bar, the view's badge, its
 * state groups, its idle message and the Pause/Resume context key: one snapshot, so that they never
 * disagree. Counts arrive pushed (`queue/statsChanged`) and are shown at most once a second while
 * they move (STATS_MIN_INTERVAL_MS); the scheduler's state is read after them,
 * at most once a second, and also every few seconds while jobs wait, because its idle reason
 * ("backing off until ...") moves on without any job changing. The reason speaks of the counts it
 * was read with ("1 job is queued"), so it is shown only beside those counts; the times in it, ISO
 * UTC from the daemon, are shown in local time.
 */
import * as vscode from 'vscode';
import type { ResultOf } from '../../server/src/protocol';
import type { Daemon } from './daemon';
import { instantsIn, localTimes } from './format';
import { countsKey } from './jobsTree';

export type QueueStats = ResultOf<'queue/stats'>;
export type SchedulerStatus = ResultOf<'scheduler/status'>;

const SCHEDULER_MIN_INTERVAL_MS = 1_000;
/**
 * Pushed counts are shown at most once per this while they keep moving (a crawl pushes three a
 * second): each showing redraws the status bar and the Jobs view's groups, which a software-
 * rendered editor pays for in CPU taken from the crawl (the benchmark's browser: 0.27–0.30 CPU s a
 * thousand pages at every push, 0.16–0.26 s at one a second). The first push after a quiet spell is
 * shown at once, and the last one always.
 */
export const STATS_MIN_INTERVAL_MS = 1_000;
const IDLE_POLL_MS = 5_000;

/** A scheduler/status answer and the counts of the queue/stats read beside it. */
export interface SchedulerRead {
  status: SchedulerStatus;
  counts: string;
}

/**
 * The scheduler's state as it stands beside `stats`: its idle reason only if read with those
 * counts, with its times ("backing off until ...") in local time.
 */
export function schedulerBeside(read: SchedulerRead | undefined, stats: QueueStats | undefined, now: number): SchedulerStatus | undefined {
  if (read === undefined) return undefined;
  const current = stats !== undefined && read.counts === countsKey(stats);
  const reason = read.status.idleReason;
  return { ...read.status, idleReason: current && reason !== null && !passed(reason, now) ? localTimes(reason, now) : null };
}

/**
 * Whether a reason names an instant that has passed ("backing off until 03:22:16" at 03:23): it
 * is no longer current, and the next read says what is.
 */
function passed(reason: string, now: number): boolean {
  return instantsIn(reason).some((at) => at <= now);
}

export class QueueOverview implements vscode.Disposable {
  stats: QueueStats | undefined;
  private read: SchedulerRead | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [];
  private schedulerTimer: NodeJS.Timeout | undefined;
  private lastSchedulerRead = 0;
  private readonly poll: NodeJS.Timeout;
  /** Counts pushed and not shown yet, and when pushed counts were last shown. */
  private waiting: QueueStats | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private statsShownAt = -Infinity;

  constructor(private readonly daemon: Daemon) {
    this.disposables.push(
      daemon.onDidChangeStatus((status) => {
        if (status.kind === 'running') void this.refresh();
        else {
          this.dropWaiting();
          this.stats = undefined;
          this.read = undefined;
          this.changed.fire();
        }
      }),
      daemon.onStatsChanged((stats) => this.pushed(stats)),
    );
    this.poll = setInterval(() => {
      if (this.daemon.status.kind === 'running' && (this.stats?.queued ?? 0) > 0) void this.readScheduler();
    }, IDLE_POLL_MS);
  }

  /** Counts were pushed that are not shown yet (they wait out STATS_MIN_INTERVAL_MS). */
  get behind(): boolean {
    return this.waiting !== undefined;
  }

  get scheduler(): SchedulerStatus | undefined {
    return schedulerBeside(this.read, this.stats, Date.now());
  }

  /** Reads both now: at start, and after a command that changes them (pause, resume). */
  async refresh(): Promise<void> {
    try {
      const [stats, scheduler] = await Promise.all([this.daemon.request('queue/stats', {}), this.daemon.request('scheduler/status', {})]);
      // A push waiting to be shown came before this answer: older.
      this.dropWaiting();
      this.stats = stats;
      this.read = { status: scheduler, counts: countsKey(stats) };
      this.lastSchedulerRead = Date.now();
      this.changed.fire();
    } catch {
      // The daemon went away meanwhile: its status change clears the overview.
    }
  }

  dispose(): void {
    clearInterval(this.poll);
    clearTimeout(this.schedulerTimer);
    clearTimeout(this.statsTimer);
    for (const d of this.disposables) d.dispose();
    this.changed.dispose();
  }

  private pushed(stats: QueueStats): void {
    this.waiting = stats;
    if (this.statsTimer) return;
    const show = () => {
      this.statsTimer = undefined;
      this.statsShownAt = Date.now();
      this.stats = this.waiting;
      this.waiting = undefined;
      this.changed.fire();
      this.readSchedulerSoon();
    };
    const wait = this.statsShownAt + STATS_MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) show();
    else this.statsTimer = setTimeout(show, wait);
  }

  private dropWaiting(): void {
    clearTimeout(this.statsTimer);
    this.statsTimer = undefined;
    this.waiting = undefined;
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
      // The counts read beside it, not `stats`: a newer push may have come meanwhile.
      const [status, stats] = await Promise.all([this.daemon.request('scheduler/status', {}), this.daemon.request('queue/stats', {})]);
      this.read = { status, counts: countsKey(stats) };
      this.changed.fire();
    } catch {
      // As in refresh.
    }
  }
}
