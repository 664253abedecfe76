/** After a failed run, the next comes this soon, then twice as late each time, up to the interval. */
const RETRY_FIRST_MS = 250;
/** ... and no later than this: a heartbeat that failed through a lock renews the leases soon after it ends. */
const RETRY_MAX_MS = 2_000;

/**
 * Runs an async task every `intervalMs`, one run at a time: the next run is scheduled when the
 * previous one settles, so a slow database never piles runs up. Errors go to `onError`; the
 * ticker keeps going, sooner after a failure (backing off), so that what failed is done soon
 * after the database takes writes again.
 */
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Failed runs in a row. */
  private failures = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(runNow = false): void {
    this.stopped = false;
    if (runNow) void this.run();
    else this.schedule();
  }

  /** Runs the task now (or joins the run under way). */
  async run(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.task()
      .then(
        () => {
          this.failures = 0;
        },
        (err: unknown) => {
          this.failures++;
          this.onError(err);
        },
      )
      .finally(() => {
        this.running = null;
        this.schedule();
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const delay = this.failures === 0 ? this.intervalMs : Math.min(this.intervalMs, RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => void this.run(), delay);
    this.timer.unref();
  }
}
