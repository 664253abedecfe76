import type { Queue, ReapResult } from './types';
import { Ticker } from './ticker';
import { SEEN_EVERY_MS, deadLocalWorkers } from './worker-id';

/**
 * Returns the jobs of dead workers to the queue: at once for workers on this machine whose
 * process is gone, after their lease TTL for the rest. Also drops idle keys' bookkeeping, and
 * says in the worker registry that this process's worker is alive (Queue.workerSeen), at its first
 * pass and then every SEEN_EVERY_MS, busy or idle: a write that fails on its own (`onSeen`)
 * without holding up the reclaims.
 */
export class Reaper {
  private readonly ticker: Ticker;
  /** When this worker was last recorded as alive (Date.now()). */
  private seenAt = -Infinity;

  constructor(
    private readonly queue: Queue,
    intervalMs: number,
    /** After every pass that went through, with what it reclaimed (perhaps nothing). */
    private readonly onReaped: (r: ReapResult & { deadWorkers: string[] }) => void,
    onError: (err: unknown) => void,
    /**
     * This process's worker: its expired leases are not taken. They expire only when its heartbeat
     * could not be written (a database locked past the lease TTL), and their handlers still run.
     */
    private readonly self: string,
    /** After each registry write: null when it went through, else why not. */
    private readonly onSeen: (err: unknown) => void = () => {},
  ) {
    this.ticker = new Ticker(intervalMs, () => this.reapOnce(), onError);
  }

  start(): void {
    this.ticker.start(true);
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  async reapOnce(): Promise<void> {
    await this.seen();
    const dead = deadLocalWorkers(await this.queue.leaseHolders());
    const reclaimed = await this.queue.reclaimWorkers(dead, 'worker process is gone');
    const expired = await this.queue.reap(this.self);
    await this.queue.evictIdleKeys();
    this.onReaped({ requeued: reclaimed.requeued + expired.requeued, failed: reclaimed.failed + expired.failed, deadWorkers: dead });
  }

  private async seen(): Promise<void> {
    const now = Date.now();
    if (now - this.seenAt < SEEN_EVERY_MS) return;
    try {
      await this.queue.workerSeen(this.self);
      this.seenAt = now;
      this.onSeen(null);
    } catch (err) {
      this.onSeen(err);
    }
  }
}
