/**
 * Runs an async task every `intervalMs`, one run at a time: the next run is scheduled when the
 * previous one settles, so a slow database never piles runs up. Errors go to `onError`; the
 * ticker keeps going.
 */
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

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
    this.running = this.task().catch(this.onError).finally(() => {
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
    this.timer = setTimeout(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }
}
