import * as fs from 'node:fs';

/** The least time between two background flushes: fewer, larger writes for the disk. */
const SPACING_MS = 100;

/**
 * Flushes the WAL file to disk in the background after commits.
 *
 * In WAL mode with synchronous=NORMAL, SQLite fsyncs only at checkpoints: first the WAL, then the
 * database file. The checkpoint runs inside whichever commit crosses its threshold, on the event
 * loop, and its WAL fsync had up to 40 MB to write at once: 110–160 ms each (strace), a third of a
 * lifecycle's time. An fdatasync on libuv's thread pool after commits writes the same bytes while
 * the event loop goes on, so the checkpoint's own fsync finds little left to do. It changes no
 * guarantee: the data is only made durable earlier.
 *
 * One descriptor for the WAL, opened once: SQLite truncates the file but never removes it while
 * our connection is open. At most one flush in flight.
 */
export class WalFlusher {
  private fd: number | null = null;
  private inFlight: Promise<void> | null = null;
  private pending = false;
  private timer: NodeJS.Timeout | null = null;
  private lastStart = 0;
  private closed = false;
  private started = 0;

  constructor(private readonly walPath: string) {}

  /** Flushes started so far. */
  get flushes(): number {
    return this.started;
  }

  /** A transaction committed: its WAL pages are due for a flush. */
  committed(): void {
    if (this.closed) return;
    this.pending = true;
    if (this.inFlight === null && this.timer === null) this.schedule();
  }

  private schedule(): void {
    const wait = this.lastStart + SPACING_MS - Date.now();
    if (wait <= 0) this.start();
    else
      this.timer = setTimeout(() => {
        this.timer = null;
        this.start();
      }, wait).unref();
  }

  private start(): void {
    if (this.closed || !this.pending) return;
    if (this.fd === null) {
      try {
        this.fd = fs.openSync(this.walPath, 'r');
      } catch {
        return; // No WAL yet (or a database in memory): nothing to flush.
      }
    }
    this.pending = false;
    this.lastStart = Date.now();
    this.started++;
    const fd = this.fd;
    this.inFlight = new Promise<void>((resolve) => fs.fdatasync(fd, () => resolve())).then(() => {
      this.inFlight = null;
      if (this.pending && !this.closed) this.schedule();
    });
  }

  /** Waits for a flush in flight, then closes the descriptor. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
