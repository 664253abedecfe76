import type { Queue, ReapResult } from './types';
import { Ticker } from './ticker';
import { deadLocalWorkers } from './worker-id';

/**
 * Returns the jobs of dead workers to the queue: at once for workers on this machine whose
 * process is gone, after their lease TTL for the rest. Also drops idle keys' bookkeeping, and
 * says in the worker registry that this process's worker is alive (Queue.workerSeen), from its
 * first pass at start: one small write a pass, busy or idle, failing and recovering with the rest.
 */
export class Reaper {
  private readonly ticker: Ticker;

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
    await this.queue.workerSeen(this.self);
    const dead = deadLocalWorkers(await this.queue.leaseHolders());
    const reclaimed = await this.queue.reclaimWorkers(dead, 'worker process is gone');
    const expired = await this.queue.reap(this.self);
    await this.queue.evictIdleKeys();
    this.onReaped({ requeued: reclaimed.requeued + expired.requeued, failed: reclaimed.failed + expired.failed, deadWorkers: dead });
  }
}
