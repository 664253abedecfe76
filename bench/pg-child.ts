/**
 * One worker process of the PostgreSQL lifecycle (pg.ts): opens the queue at argv[2], waits for
 * the parent's "go", enqueues its share of the jobs in batches of 100, then leases 100 and acks
 * 100 with a stats call per batch, as the lifecycle does, until nothing is left to lease. Reports
 * the jobs it finished over IPC.
 */
import { PgQueue } from '../server/src/core/pg/engine';
import type { Ack, LeasedJob, NewJob } from '../server/src/core/types';
import { benchJob } from './lifecycle';

interface Plan {
  url: string;
  /** This worker enqueues jobs first..first+count-1 of the run. */
  first: number;
  count: number;
  hosts: number;
}

const BATCH = 100;
const plan = JSON.parse(process.argv[2]) as Plan;
const workerId = `bench:${process.pid}:0`;
const done = (j: LeasedJob): Ack => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done' }, job: j });

void (async () => {
  const q = await PgQueue.open(plan.url, { poolSize: 2 });
  process.send!({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  for (let i = plan.first; i < plan.first + plan.count; i += BATCH) {
    const batch: NewJob[] = [];
    for (let j = i; j < Math.min(plan.first + plan.count, i + BATCH); j++) {
      const b = benchJob(j, plan.hosts);
      batch.push({ kind: 'bench', url: b.url, key: b.key, dedupeKey: b.url });
    }
    await q.enqueue(batch);
  }
  let finished = 0;
  for (;;) {
    const leased = await q.lease(workerId, BATCH, { ttlMs: 60_000, defaultLimit: 10_000 });
    if (leased.length === 0) break;
    await q.ack(workerId, leased.map(done));
    finished += leased.length;
    await q.stats();
  }
  await q.close();
  process.send!({ finished }, () => process.exit(0));
})();
