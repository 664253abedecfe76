import type { Queue } from './types';
import { Ticker } from './ticker';

/**
 * Extends this worker's leases by the configured TTL at the configured interval, in one statement
 * per beat, and tells the scheduler which leases it has lost so their handlers can be aborted.
 */
export class Heartbeat {
  private readonly ticker: Ticker;

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
    this.ticker = new Ticker(
      intervalMs,
      async () => {
        const mine = held();
        if (mine.length === 0) return;
        const { lost } = await queue.heartbeat(workerId, ttlMs, mine);
        onBeat();
        if (lost.length) onLost(lost);
      },
      onError,
    );
  }

  start(): void {
    this.ticker.start();
  }

  beat(): Promise<void> {
    return this.ticker.run();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }
}
