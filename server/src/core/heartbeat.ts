import type { Queue } from './types';
import { Ticker } from './ticker';

/**
 * Extends this worker's leases by the configured TTL at the configured interval, in one statement
 * per beat, and tells the scheduler which leases it has lost so their handlers can be aborted.
 */
export class Heartbeat {
  private readonly ticker: Ticker;
  /** The last beat failed (the database locked, say): this worker's leases may be near expiry. */
  private failing = false;

  constructor(
    queue: Queue,
    workerId: string,
    ttlMs: number,
    intervalMs: number,
    held: () => { id: number; token: string }[],
    onLost: (lost: { id: number; token: string }[]) => void,
    onError: (err: unknown) => void,
    /** A beat was written. */
    onBeat: () => void,
  ) {
    this.ticker = new Ticker(intervalMs, async () => {
      const mine = held();
      if (mine.length === 0) {
        this.failing = false;
        return;
      }
      let lost;
      try {
        ({ lost } = await queue.heartbeat(workerId, ttlMs, mine));
      } catch (err) {
        this.failing = true;
        throw err;
      }
      this.failing = false;
      onBeat();
      if (lost.length) onLost(lost);
    }, onError);
  }

  start(): void {
    this.ticker.start();
  }

  beat(): Promise<void> {
    return this.ticker.run();
  }

  /**
   * Whether this worker's leases are renewed: beats first if the last beat failed. A lock longer
   * than the lease TTL leaves them expired though their handlers still run; the reaper asks this
   * before reaping, so that it never takes this process's own leases before its heartbeat could.
   */
  async renewed(): Promise<boolean> {
    if (this.failing) await this.beat();
    return !this.failing;
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }
}
