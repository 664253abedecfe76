/**
 * A worker process for multi-process tests: opens the queue (a SQLite file, or a postgres:// URL),
 * runs a scheduler whose `test` handler asks the parent's probe server (a real HTTP server) to
 * hold the request a while, so the probe can count concurrency per key across processes.
 * Reports "ready <worker id>" on stdout, and "leased <job id>" in `hang` mode.
 * Config comes as JSON in CHILD_CONFIG.
 */
import * as http from 'node:http';
import { validateConfig } from '../../../server/src/core/config';
import { isPostgresUrl } from '../../../server/src/core/db-url';
import { PgQueue } from '../../../server/src/core/pg/engine';
import { Scheduler } from '../../../server/src/core/scheduler';
import { SqliteQueue } from '../../../server/src/core/sqlite/engine';

interface ChildConfig {
  db: string;
  probe?: string;
  /** `probe`: GET the probe and finish; `hang`: never finish (to be killed). */
  mode: 'probe' | 'hang';
  maxWorkers: number;
  perHostLimit: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  /** How often a sleeping dispatcher looks for other processes' work (default 20 ms). */
  pollMs?: number;
}

const cfg = JSON.parse(process.env.CHILD_CONFIG ?? '{}') as ChildConfig;
const agent = new http.Agent({ keepAlive: true });

function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`probe said ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

void (async () => {
  const queue = isPostgresUrl(cfg.db) ? await PgQueue.open(cfg.db) : new SqliteQueue(cfg.db, { busyTimeoutMs: 10_000 });
  const scheduler = new Scheduler(
    queue,
    {
      test: async (job) => {
        if (cfg.mode === 'hang') {
          process.stdout.write(`leased ${job.id}\n`);
          // Never finishes; the interval keeps the process alive until it is killed.
          await new Promise(() => setInterval(() => {}, 60_000));
        }
        await get(`${cfg.probe}/${encodeURIComponent(job.key)}/${job.id}`);
      },
    },
    validateConfig({
      maxWorkers: cfg.maxWorkers,
      perHostLimit: cfg.perHostLimit,
      leaseTtlMs: cfg.leaseTtlMs,
      heartbeatMs: cfg.heartbeatMs,
      pollMs: cfg.pollMs ?? 20,
    }),
    (level, msg) => process.stderr.write(`[${level}] ${msg}\n`),
  );
  scheduler.start();
  process.stdout.write(`ready ${scheduler.workerId}\n`);
  process.on('SIGTERM', () => {
    void scheduler
      .stop(1000)
      .then(() => queue.close())
      .then(() => process.exit(0));
  });
})();
