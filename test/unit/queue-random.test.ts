import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { HELD, type JobState, type LeasedJob, type Outcome, type Queue } from '../../server/src/core/types';
import { ENGINES } from './helpers/engines';
import { job } from './helpers/jobs';
import { prng } from './helpers/prng';

/** The state each event leaves a job in, and the states it may come from. */
const TRANSITIONS: Record<string, { from: (JobState | null)[]; to: JobState | 'same' | 'queued|error' }> = {
  enqueued: { from: [null], to: 'queued' },
  leased: { from: ['queued'], to: 'in_progress' },
  done: { from: ['in_progress'], to: 'done' },
  skipped: { from: ['in_progress', 'queued'], to: 'skipped' },
  failed: { from: ['in_progress'], to: 'error' },
  retry: { from: ['in_progress'], to: 'queued' },
  deferred: { from: ['in_progress'], to: 'queued' },
  released: { from: ['in_progress'], to: 'queued' },
  expired: { from: ['in_progress'], to: 'queued|error' },
  requeued: { from: ['done', 'skipped', 'error', 'in_progress'], to: 'queued' },
  cancelled: { from: ['queued'], to: 'skipped' },
  lost_lease: { from: ['queued', 'in_progress', 'done', 'skipped', 'error'], to: 'same' },
};

/** Every job id, through the queue's own paging. */
async function allIds(q: Queue): Promise<number[]> {
  const ids: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await q.list({ limit: 1000, cursor });
    ids.push(...page.jobs.map((j) => j.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

async function checkHistories(q: Queue): Promise<void> {
  const ids = await allIds(q);
  for (const id of ids) {
    const { job: j, events } = (await q.get(id))!;
    let state: JobState | null = null;
    for (const e of events) {
      const t = TRANSITIONS[e.type];
      assert.ok(t, `job ${id}: unknown event ${e.type}`);
      // Trimming may have cut the start of a long history: replay from the first event we have.
      if (state !== null) assert.ok(t.from.includes(state), `job ${id}: ${e.type} from ${state} is illegal`);
      if (t.to === 'same') continue;
      state = t.to === 'queued|error' ? (/gave up/.test(e.detail ?? '') ? 'error' : 'queued') : t.to;
    }
    assert.equal(state, j.state, `job ${id}: history ends in ${state}, row says ${j.state}`);
  }
}

const SEEDS = [1, 2, 3, 4, 5, 6];

for (const engine of ENGINES) {
  for (const seed of SEEDS) {
    test(`random interleavings of every operation from several workers (${engine.name}, seed ${seed})`, async () => {
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
      const clock = { now: 1_700_000_000_000 };
      const where = await engine.database();
      const opts = { clock: () => clock.now, random: rand, maxReclaims: 3, eventsPerJob: 1000 };
      // Separate connections, as separate processes would have.
      const conns = [await engine.connect(where, opts), await engine.connect(where, opts), await engine.connect(where, opts)];
      const workers = ['w1', 'w2', 'w3', 'w4'];
      const held = new Map<string, LeasedJob[]>(workers.map((w) => [w, []]));
      const keys = ['a', 'b', 'c', 'd', 'e'];
      // Crawls paused now: their new jobs are enqueued held, as the frontier does.
      const paused = new Set<string>();
      const crawlJob = (key: string, crawlId: string | null) =>
        job(key, n++ % 40, { crawlId, ...(crawlId !== null && paused.has(crawlId) && { runAfter: HELD }) });
      let n = 0;
      const limit = { ttlMs: 1000, defaultLimit: 2 };

      for (let step = 0; step < 600; step++) {
        const q = pick(conns);
        const w = pick(workers);
        const r = rand();
        if (r < 0.2) {
          const batch = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => crawlJob(pick(keys), pick(['x', 'y', null])));
          await q.enqueue(batch);
        } else if (r < 0.4) {
          const { jobs: queued } = await q.list({ state: 'queued', limit: 1000 });
          const heldIds = new Set(queued.filter((j) => j.runAfter >= HELD).map((j) => j.id));
          const got = await q.lease(w, 1 + Math.floor(rand() * 4), limit);
          assert.ok(
            got.every((j) => !heldIds.has(j.id)),
            `seed ${seed} step ${step}: a held job was leased`,
          );
          held.get(w)!.push(...got);
        } else if (r < 0.65) {
          const mine = held.get(w)!;
          if (mine.length === 0) continue;
          const j = mine.splice(Math.floor(rand() * mine.length), 1)[0];
          const outcome: Outcome = pick<Outcome>([
            { type: 'done' },
            { type: 'skip', reason: 'x' },
            { type: 'fail', error: 'e' },
            { type: 'fail', error: 'e', retryable: false },
            { type: 'fail', error: `${j.url}: connect ECONNREFUSED 127.0.0.1:80`, retryable: false },
            { type: 'defer', reason: 'd', delayMs: 500 },
            { type: 'release', reason: 'r' },
            { type: 'done', enqueue: [crawlJob(pick(keys), 'x')], crawlCap: 30 },
          ]);
          await q.ack(w, [{ id: j.id, token: j.leaseToken, outcome }]);
        } else if (r < 0.72) {
          const mine = held.get(w)!;
          const { lost } = await q.heartbeat(
            w,
            limit.ttlMs,
            mine.map((j) => ({ id: j.id, token: j.leaseToken })),
          );
          held.set(
            w,
            mine.filter((j) => !lost.some((l) => l.token === j.leaseToken)),
          );
        } else if (r < 0.8) {
          clock.now += Math.floor(rand() * 700);
          await q.reap();
        } else if (r < 0.85) {
          await q.requeue(
            pick([
              { state: 'error' as const },
              { state: 'done' as const, key: pick(keys) },
              { ids: [1 + Math.floor(rand() * Math.max(1, n))] },
              { reason: pick(['e', 'ECONNREFUSED']), crawlId: pick(['x', 'y']) },
            ]),
          );
        } else if (r < 0.9) {
          await q.cancel(pick([{ ids: [1 + Math.floor(rand() * Math.max(1, n))] }, { crawlId: 'y' }]));
        } else if (r < 0.93) {
          await q.reclaimWorkers([w], 'test: worker died');
          held.set(w, []);
        } else if (r < 0.945) {
          await q.setKeyLimit(pick(keys), pick([1, 3, null]));
        } else if (r < 0.98) {
          const crawl = pick(['x', 'y']);
          const hold = !paused.has(crawl);
          await q.holdCrawl(crawl, hold);
          if (hold) paused.add(crawl);
          else paused.delete(crawl);
        } else {
          clock.now += 100;
        }

        // No job held by two workers at once: the live (id, token) pairs are distinct per id.
        for (const l of await q.leases()) {
          const holders = workers.filter((x) => held.get(x)!.some((j) => j.id === l.jobId && j.leaseToken === l.leaseToken));
          assert.ok(holders.length <= 1, `seed ${seed} step ${step}: job ${l.jobId} held by ${holders.join(', ')}`);
        }
        // Limits change as the test goes (1, 2 or 3): no key ever holds more than the largest.
        await engine.check(q, 3);
      }
      await checkHistories(conns[0]);
      const total = (await conns[0].stats()).total;
      assert.equal(total, (await allIds(conns[0])).length, 'no job lost');
      for (const c of conns) await c.close();
    });
  }
}
