import type { Queue, ReapResult } from './types';
import { Ticker } from './ticker';
import { deadLocalWorkers } from './worker-id';

/**
 * Returns the jobs of dead workers to the queue: at once for workers on this machine whose
 * process is gone, after their lease TTL for the rest. Also drops idle keys' bookkeeping.
 */
export class Reaper {
  private readonly ticker: Ticker;

  constructor(
    private readonly queue: Queue,
    intervalMs: number,
    private readonly onReaped: (r: ReapResult & { deadWorkers: string[] }) => void,
    onError: (err: unknown) => void,
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
    const dead = deadLocalWorkers(await this.queue.leaseHolders());
    const reclaimed = await this.queue.reclaimWorkers(dead, 'worker process is gone');
    const expired = await this.queue.reap();
    await this.queue.evictIdleKeys();
    const total = { requeued: reclaimed.requeued + expired.requeued, failed: reclaimed.failed + expired.failed };
    if (total.requeued || total.failed) this.onReaped({ ...total, deadWorkers: dead });
  }
}
