/**
 * The lifecycle every queue variant runs, so that only the queue differs: `jobs` no-op jobs over
 * `hosts` hosts (job i on host i % hosts), enqueued in batches of 100, then leased in batches of
 * 100 and acknowledged in batches of 100 until none is left, with a stats call once per 100 jobs
 * where the variant has one. Throughput is jobs over the whole run, enqueue included.
 */
import { elapsedMs, now } from './measure';

const BATCH = 100;

export interface BenchJob {
  url: string;
  key: string;
}

export function benchJob(i: number, hosts: number): BenchJob {
  const key = `h${i % hosts}.test`;
  return { url: `http://${key}/page/${i}`, key };
}

/** One queue under test, reduced to the three steps of the lifecycle (and stats, if it has them). */
export interface LifecycleDriver<L> {
  enqueue(batch: BenchJob[]): Promise<void> | void;
  /** Up to `n` jobs; how a variant leases them (one transaction or one per job) is its own. */
  lease(n: number): Promise<L[]> | L[];
  ack(leased: L[]): Promise<void> | void;
  stats?(): unknown;
  close(): Promise<void> | void;
}

export interface LifecycleResult {
  jobs: number;
  ms: number;
  jobsPerSecond: number;
  enqueueMs: number;
}

export async function runLifecycle<L>(driver: LifecycleDriver<L>, jobs: number, hosts: number): Promise<LifecycleResult> {
  const start = now();
  for (let i = 0; i < jobs; i += BATCH) {
    const batch: BenchJob[] = [];
    for (let j = i; j < Math.min(jobs, i + BATCH); j++) batch.push(benchJob(j, hosts));
    await driver.enqueue(batch);
  }
  const enqueueMs = elapsedMs(start);
  let finished = 0;
  // Bounded: a queue that stops handing out jobs ends the run instead of spinning.
  while (finished < jobs) {
    const leased = await driver.lease(BATCH);
    if (leased.length === 0) throw new Error(`the queue handed out nothing with ${jobs - finished} jobs left`);
    await driver.ack(leased);
    finished += leased.length;
    if (driver.stats) await driver.stats();
  }
  const ms = elapsedMs(start);
  return { jobs, ms, jobsPerSecond: (jobs * 1000) / ms, enqueueMs };
}
