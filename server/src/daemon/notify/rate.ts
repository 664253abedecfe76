import type { Stats } from '../../core/types';
import type { Results } from '../../protocol';

/**
 * Jobs fetched per second, from the growth of the counters of fetched jobs (see fetchedTotal,
 * counted across every process on the database) over a sliding window.
 */
export class RateMeter {
  private samples: { at: number; total: number }[] = [];

  constructor(
    private readonly windowMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the fetched total now; a total that went down (jobs requeued) restarts the window. */
  sample(total: number): void {
    const at = this.now();
    const last = this.samples[this.samples.length - 1];
    if (last && total < last.total) this.samples = [];
    // One sample per 100 ms is plenty; the newest wins within that.
    if (last && at - last.at < 100 && this.samples.length > 1) this.samples[this.samples.length - 1] = { at, total };
    else this.samples.push({ at, total });
    while (this.samples.length > 2 && this.samples[1].at <= at - this.windowMs) this.samples.shift();
  }

  /** Whether jobs finished within the window: then the rate changes even if no more do. */
  get moving(): boolean {
    return this.samples.length > 1 && this.samples[this.samples.length - 1].total !== this.samples[0].total;
  }

  /** Per second over the window, taking `total` as the count now; 0 until a second has been seen. */
  rate(total: number): number {
    this.sample(total);
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const span = last.at - first.at;
    if (span < 1_000) return 0;
    return Math.round(((last.total - first.total) / span) * 1000 * 10) / 10;
  }
}

/**
 * Jobs a worker fetched: done, or failed for good. Skipped is left out: cancelling moves queued jobs
 * there without fetching them (200,000 cancelled made the rate 17,000 to 39,000 jobs/s with nothing
 * fetched), and what a worker skips it did not fetch either (a page robots.txt disallows).
 */
export function fetchedTotal(s: { done: number; error: number }): number {
  return s.done + s.error;
}

/**
 * Samples `rate` every second from `read` (a failed read is skipped), so jobs/s reflects the last
 * seconds even when nobody asked for a while.
 */
export function sampleSteadily(read: () => Promise<Stats>, rate: RateMeter): NodeJS.Timeout {
  return setInterval(() => {
    read().then(
      (s) => rate.sample(fetchedTotal(s)),
      () => {},
    );
  }, 1_000).unref();
}

/** `queue/stats`'s answer: the counts, and the rate with them as the newest sample. */
export function statsAnswer(s: Stats, rate: RateMeter): Results['queue/stats'] {
  return { ...s, jobsPerSecond: rate.rate(fetchedTotal(s)) };
}
