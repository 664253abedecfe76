/**
 * WAL checkpoints on a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside whichever commit crosses its threshold, on the thread
 * that commits: the daemon's only one. In a crawl of 70 KB pages it ran 42 times, each the slowest
 * transaction of the crawl (20–40 ms: the copy, then an fsync of the file); every client's call
 * that came meanwhile waited it out, and they were the p99 of `queue/stats` during the crawl.
 *
 * Here a thread with its own connection copies the WAL back about once a second while commits
 * come (PASSIVE, beside the daemon's writes), then restarts it (RESTART: it copies what came
 * meanwhile and syncs it holding the write lock, and waits for readers on older snapshots at most
 * LOCK_WAIT_MS (checkpoint-worker.ts); after a restart that could not, it only copies for a while). A write that meets it
 * waits as for any lock (busy.ts), and reads never wait. The automatic checkpoint stays as a
 * backstop at a higher threshold: should the thread fall behind or end, the WAL still ends.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import type { CheckpointReply, ToCheckpointer } from './checkpoint-worker';
import { AUTOCHECKPOINT_PAGES } from './open';

/** How often, at most, the thread checkpoints while commits come. */
export const CHECKPOINT_EVERY_MS = 1_000;
/** The automatic checkpoint while the thread runs: only if the thread falls far behind. */
export const BACKSTOP_PAGES = 4 * AUTOCHECKPOINT_PAGES;
/** After a restart that could not wait long enough (a reader that stays), copies only, for this long. */
const RESTART_BACKOFF_MS = 10_000;
/** How long a closing queue waits for the thread to close its connection. */
const CLOSE_WAIT_MS = 2_000;

export class Checkpointer {
  private worker: Worker | null = null;
  private ended: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<CheckpointReply> | null = null;
  private pending = false;
  /** When the last checkpoint started; at first, the first commit, so a short-lived queue starts no thread. */
  private lastStart: number | null = null;
  private restartAfter = 0;
  private closed = false;
  private failed = false;
  /** Checkpoints the thread made, and the last answer it gave (for tests). */
  runs = 0;
  last: CheckpointReply | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** A transaction committed: a checkpoint is due within CHECKPOINT_EVERY_MS. */
  committed(): void {
    if (this.closed || this.failed) return;
    this.pending = true;
    this.lastStart ??= Date.now();
    if (this.inFlight === null && this.timer === null) {
      this.timer = setTimeout(() => void this.run(), Math.max(0, this.lastStart + CHECKPOINT_EVERY_MS - Date.now()));
      this.timer.unref();
    }
  }

  private async run(): Promise<void> {
    this.timer = null;
    if (this.closed || this.failed || !this.pending) return;
    this.pending = false;
    this.lastStart = Date.now();
    const worker = this.worker ?? this.start();
    if (worker === null) return;
    const restart = Date.now() >= this.restartAfter;
    this.inFlight = new Promise<CheckpointReply>((resolve) => {
      const lost = () => resolve({ log: -1, checkpointed: -1, busy: false, error: 'the checkpoint thread ended' });
      worker.once('exit', lost);
      worker.once('message', (reply: CheckpointReply) => {
        worker.off('exit', lost);
        resolve(reply);
      });
      worker.postMessage({ restart } satisfies ToCheckpointer);
    });
    const reply = await this.inFlight;
    this.inFlight = null;
    this.last = reply;
    // A failed checkpoint (the disk full a moment) is tried again at the next; the backstop bounds the WAL meanwhile.
    if (reply.error === null) this.runs++;
    if (reply.busy) this.restartAfter = Date.now() + RESTART_BACKOFF_MS;
    if (this.pending) this.committed();
  }

  /** Started at the first checkpoint due. */
  private start(): Worker | null {
    try {
      const worker = new Worker(path.join(__dirname, 'checkpoint-worker.js'), { workerData: { path: this.file } });
      worker.unref();
      this.ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.on('error', () => this.fail());
      worker.on('exit', () => {
        if (!this.closed) this.fail();
      });
      this.worker = worker;
      this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      return worker;
    } catch {
      this.fail();
      return null;
    }
  }

  /** The thread ended: the daemon's own automatic checkpoint takes over again, as without one. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    void this.worker?.terminate();
    this.worker = null;
  }

  /** Waits for a checkpoint in flight, then ends the thread (its connection closed before the daemon's). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    const worker = this.worker;
    this.worker = null;
    if (worker === null || this.ended === null) return;
    worker.postMessage('close' satisfies ToCheckpointer);
    // A thread that does not end by itself is ended: closing the queue must not wait on it.
    const stop = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
    await this.ended;
    clearTimeout(stop);
  }
}
