/**
 * Issue 18, part 2: daemons that add up when a crawl waits on the web rather than on the CPU. A
 * local site of many hosts whose every answer takes a timer's 200 ms, crawled by 1, 2 and 4 real
 * daemon processes (`main.js --db postgres://…`) on one database, beside one SQLite daemon with as
 * many workers; then by 4 daemons of which one is killed with SIGKILL halfway, once as a daemon of
 * this machine (the others' reapers see its pid gone and take its leases at once) and once as a
 * daemon of another machine (a host name of its own, from `unshare --uts`: its pid means nothing
 * to the others, so its leases wait out their TTL).
 *
 * The site counts what no daemon can vouch for: pages fetched, fetched again, and requests in
 * flight per host. CPU per daemon comes from /proc; the PostgreSQL server's from its postmaster,
 * which is charged its backends' time once they exit (the daemons' connections close when they
 * stop), so it is read after every daemon of a run has gone.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SCHEMA } from '../server/src/core/pg/schema';
import { createDatabase } from '../server/src/demo/pg-cluster';
import { DAEMON_MAIN, stopDaemon, waitForSocket, type RpcClient } from './daemon';
import { cpuProfileArgs, elapsedMs, fmtRatio, log, now, tempDir, type Figure } from './measure';
import { pgServer } from './pg';
import { startSite, type Site } from './site';
import { elsewhere } from '../test/unit/helpers/elsewhere';

export const SCALE_SIZES = {
  hosts: 200,
  /** 4,000 pages: about 13 s for four daemons at their ceiling of 64 requests per 200 ms. */
  pages: 20,
  delayMs: 200,
  workers: 16,
  perHostLimit: 2,
  daemons: [1, 2, 4],
  /** The daemons of the runs where one is killed, and when: this share of the pages fetched. */
  killAmong: 4,
  killAt: 0.5,
  deadlineMs: 240_000,
};

/** The host name the daemon "of another machine" runs under (test/unit/helpers/elsewhere.ts). */
const ELSEWHERE = 'scale-bench-elsewhere';

type Kill = 'this machine' | 'another machine';

interface DaemonProc {
  child: ChildProcess;
  client: RpcClient;
  workerId: string;
  /** CPU seconds at the crawl's start, and at the last reading (its end, or just before a kill). */
  cpuStart: number;
  cpuLast: number;
  stderr(): string;
}

export interface ScaleRun {
  label: string;
  daemons: number;
  complete: boolean;
  wallMs: number;
  pagesPerSecond: number;
  /** Server-counted: distinct pages fetched, and page requests beyond one per page. */
  distinct: number;
  refetches: number;
  maxPerHost: number;
  /**
   * Requests in flight at the site, on average over the crawl (sampled every 20 ms): how many of
   * the workers were waiting on the web rather than on the queue or the CPU.
   */
  meanInFlight: number;
  /** CPU seconds each daemon spent during the crawl (the killed one's up to its kill). */
  cpuSeconds: number[];
  /** Pages each daemon acknowledged, from the queue (PostgreSQL only). */
  pagesByDaemon: number[] | null;
  /** The PostgreSQL server's CPU seconds over the run, when its postmaster can be read. */
  serverCpuSeconds: number | null;
  killed: { workerId: string; afterPages: number; leasesReclaimed: number; firstReclaimMs: number | null; lastReclaimMs: number | null } | null;
  problems: string[];
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime (and, with `children`, the waited-for children's) of a process, in seconds, from /proc. */
function cpuOf(pid: number, children = false): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return ticks / TICKS;
}

async function startDaemon(dir: string, db: string | null, wrapper: string[] | null): Promise<DaemonProc> {
  const S = SCALE_SIZES;
  const socket = path.join(dir, 'd.sock');
  const args = [
    DAEMON_MAIN,
    '--state-dir',
    dir,
    '--socket',
    socket,
    '--max-workers',
    String(S.workers),
    '--per-host',
    String(S.perHostLimit),
    '--log-level',
    'warn',
  ];
  if (db !== null) args.push('--db', db);
  const [command, ...rest] = [...(wrapper ?? []), process.execPath, ...cpuProfileArgs(), ...args];
  const child = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  try {
    const client = await waitForSocket(socket, child, 60_000);
    const { workerId } = (await client.request('scheduler/status', {})) as { workerId: string };
    return { child, client, workerId, cpuStart: 0, cpuLast: 0, stderr: () => stderr };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}; daemon stderr: ${stderr.trim().slice(-800)}`);
  }
}

/** The postmaster's pid, read from its data directory (a server of our own, on this machine), else null. */
async function postmasterPid(db: pg.Client): Promise<number | null> {
  try {
    const dir = (await db.query<{ data_directory: string }>('SHOW data_directory')).rows[0].data_directory;
    return Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

/** Whatever its backends still have to exit: their time reaches the postmaster only then. */
async function settledServerCpu(pid: number): Promise<number> {
  let last = cpuOf(pid, true);
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const next = cpuOf(pid, true);
    if (next === last && i >= 2) break;
    last = next;
  }
  return last;
}

let runs = 0;

/**
 * One crawl of the whole site: `daemons` daemons on `url` (null: one SQLite daemon), one of them
 * killed halfway when `kill` says so. Wall time from crawl/start until a surviving daemon reads
 * the crawl finished.
 */
export async function scaleRun(site: Site, root: string, url: string | null, daemons: number, kill: Kill | null = null): Promise<ScaleRun> {
  const S = SCALE_SIZES;
  const label = url === null ? 'one SQLite daemon' : `${daemons} daemon${daemons > 1 ? 's' : ''} on PostgreSQL${kill ? `, one of ${kill} killed` : ''}`;
  log(`scale: ${label}...`);
  site.reset();
  const other = kill === 'another machine' ? elsewhere(ELSEWHERE) : null;
  if (other && 'why' in other) throw new Error(other.why);
  // The last daemon is the one killed; the first starts the crawl and is asked for its state.
  const procs: DaemonProc[] = [];
  const db = url === null ? null : new pg.Client({ connectionString: url, options: `-c search_path=${SCHEMA}` });
  try {
    for (let i = 0; i < daemons; i++) {
      const wrapper = other && i === daemons - 1 ? other.wrapper : null;
      procs.push(await startDaemon(tempDir(root, `scale-${runs}-${i}`), url, wrapper));
    }
    runs++;
    await db?.connect();
    const postmaster = db ? await postmasterPid(db) : null;
    const serverCpu0 = postmaster === null ? null : cpuOf(postmaster, true);
    for (const p of procs) p.cpuStart = p.cpuLast = cpuOf(p.child.pid!);
    const start = now();
    const { crawlId } = (await procs[0].client.request('crawl/start', {
      seeds: site.seeds,
      maxDepth: 50,
      maxPages: site.allowedPages + site.disallowedLinks + 1_000,
      scope: 'host',
    })) as { crawlId: string };
    const victim = kill ? procs[daemons - 1] : null;
    let killed: { at: number; afterPages: number } | null = null;
    let complete = false;
    const fetched = () => site.counters.reduce((n, c) => n + c.pages, 0);
    let inFlight = 0;
    let samples = 0;
    for (let polls = 0; elapsedMs(start) < S.deadlineMs; polls++) {
      inFlight += site.counters.reduce((n, c) => n + c.inFlight, 0);
      samples++;
      // Killed while it holds leases: at an instant between its acknowledgement and its next lease
      // it holds none, and its kill would show nothing of reclaiming (seen once in some twenty runs).
      if (victim && !killed && fetched() >= S.killAt * site.allowedPages && (await leasesHeld(db!, victim.workerId)) > 0) {
        victim.cpuLast = cpuOf(victim.child.pid!);
        const exited = new Promise((r) => victim.child.once('exit', r));
        victim.child.kill('SIGKILL');
        killed = { at: Date.now(), afterPages: fetched() };
        await exited;
        victim.client.close();
        log(`scale: killed ${victim.workerId} after ${killed.afterPages} pages`);
      }
      // The site's counter every 20 ms, for a kill on time; the crawl's state once every page was
      // served, and every second before (a crawl that ends short of them). Read every 200 ms, it
      // cost the daemon asked 16 ms of CPU a second on PostgreSQL (its wakes: 3.2 ms a call), where
      // 4 daemons are short of CPU.
      if (site.distinctPages() >= site.allowedPages || polls % 50 === 0) {
        const { crawl } = (await procs[0].client.request('crawl/get', { crawlId })) as { crawl: { state: string } };
        if (crawl.state === 'finished') {
          complete = true;
          break;
        }
      }
      await sleep(20);
    }
    const wallMs = elapsedMs(start);
    const alive = procs.filter((p) => p !== victim);
    for (const p of alive) p.cpuLast = cpuOf(p.child.pid!);

    let pagesByDaemon: number[] | null = null;
    let reclaims: ScaleRun['killed'] = null;
    if (db) {
      const done = await db.query<{ worker_id: string; n: number }>(`SELECT worker_id, count(*)::int AS n FROM jobs WHERE state = 'done' GROUP BY worker_id`);
      pagesByDaemon = procs.map((p) => done.rows.find((r) => r.worker_id === p.workerId)?.n ?? 0);
      if (victim && killed) {
        // The victim's leases that another daemon took back: `expired` events naming it, on the server's clock.
        const { rows } = await db.query<{ n: number; first: string | null; last: string | null }>(
          `SELECT count(*)::int AS n, min(at) AS first, max(at) AS last FROM events WHERE type = 'expired' AND worker_id = $1`,
          [victim.workerId],
        );
        const since = (at: string | null) => (at === null ? null : Number(at) - killed.at);
        reclaims = {
          workerId: victim.workerId,
          afterPages: killed.afterPages,
          leasesReclaimed: rows[0].n,
          firstReclaimMs: since(rows[0].first),
          lastReclaimMs: since(rows[0].last),
        };
      }
    }
    await Promise.all(alive.map((p) => stopDaemon(p.child, p.client)));
    const serverCpuSeconds = postmaster === null || serverCpu0 === null ? null : (await settledServerCpu(postmaster)) - serverCpu0;
    const pages = site.counters.reduce((n, c) => n + c.pages, 0);
    const run: ScaleRun = {
      label,
      daemons,
      complete,
      wallMs,
      pagesPerSecond: (site.distinctPages() * 1000) / wallMs,
      distinct: site.distinctPages(),
      refetches: pages - site.distinctPages(),
      maxPerHost: Math.max(...site.counters.map((c) => c.maxInFlight)),
      meanInFlight: inFlight / samples,
      cpuSeconds: procs.map((p) => p.cpuLast - p.cpuStart),
      pagesByDaemon,
      serverCpuSeconds,
      killed: reclaims,
      problems: alive.map((p) => p.stderr().trim()).filter((e) => e !== ''),
    };
    log(
      `scale: ${label}: ${run.distinct}/${site.allowedPages} pages in ${(wallMs / 1000).toFixed(1)} s (${run.pagesPerSecond.toFixed(0)}/s)` +
        `${complete ? '' : ', INCOMPLETE'}, ${run.refetches} fetched again, max ${run.maxPerHost} per host, ${run.meanInFlight.toFixed(1)} in flight on average, CPU ${run.cpuSeconds.map((c) => c.toFixed(1)).join(' + ')} s` +
        (serverCpuSeconds === null ? '' : `, server ${serverCpuSeconds.toFixed(1)} s`) +
        (reclaims === null
          ? ''
          : reclaims.firstReclaimMs === null || reclaims.lastReclaimMs === null
            ? '; no lease of the killed daemon reclaimed'
            : `; ${reclaims.leasesReclaimed} leases reclaimed ${(reclaims.firstReclaimMs / 1000).toFixed(1)}-${(reclaims.lastReclaimMs / 1000).toFixed(1)} s after the kill`),
    );
    return run;
  } finally {
    for (const p of procs) {
      p.client.close();
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await db?.end();
  }
}

function describe(r: ScaleRun, allowed: number): string {
  const cpu = r.cpuSeconds.map((c, i) => `${c.toFixed(1)} s${r.pagesByDaemon ? ` for ${r.pagesByDaemon[i]} pages` : ''}`).join(', ');
  return (
    `${r.distinct}/${allowed} pages${r.complete ? '' : ' (INCOMPLETE)'}, ${r.refetches} fetched twice, max ${r.maxPerHost} in flight per host (site-measured); ` +
    `${r.meanInFlight.toFixed(1)} requests in flight on average, of ${r.daemons * SCALE_SIZES.workers} workers; ` +
    `daemon CPU ${cpu}` +
    (r.serverCpuSeconds === null
      ? ''
      : `; PostgreSQL server CPU ${r.serverCpuSeconds.toFixed(1)} s (${((r.serverCpuSeconds * 1000) / r.distinct).toFixed(2)} s per 1,000 pages)`) +
    (r.problems.length ? `; daemon log: ${r.problems.join(' | ').slice(0, 300)}` : '')
  );
}

/**
 * Whether this machine could have met a target rate at all: the CPU the run spent per page (its
 * daemons' and the server's; the site's and the other processes' not counted) at that rate, in
 * cores, against the cores there are.
 */
function cpuNeeded(r: ScaleRun, pagesPerSecond: number): string {
  if (r.serverCpuSeconds === null) return '';
  const perPage = (r.cpuSeconds.reduce((a, b) => a + b, 0) + r.serverCpuSeconds) / r.distinct;
  return `at the target's ${pagesPerSecond.toFixed(0)} pages/s, the daemons and the server would need ${(perPage * pagesPerSecond).toFixed(2)} cores of this machine's ${os.cpus().length}`;
}

/** How many jobs the worker holds leases on now. */
async function leasesHeld(db: pg.Client, workerId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE state = 'in_progress' AND worker_id = $1`, [workerId]);
  return rows[0].n;
}

/** The section's figures: pages/s by daemons, the ratios the issue asks for, and the two kills. */
export async function scaleFigures(root: string): Promise<{ figures: Figure[]; raw: ScaleRun[] }> {
  const S = SCALE_SIZES;
  const section = '15. Scale-out on a slow site';
  const setting = `${S.hosts} hosts × ${S.pages} pages answering in ${S.delayMs} ms, ${S.workers} workers per daemon, per-host limit ${S.perHostLimit} across all`;
  const figures: Figure[] = [];
  const raw: ScaleRun[] = [];
  const failed = (name: string, err: unknown) => {
    const message = (err as Error).message ?? String(err);
    log(`scale: ${name} failed: ${message}`);
    figures.push({ section, name, value: null, unit: '', met: null, note: `failed: ${message.slice(0, 300)}` });
  };
  const site = await startSite(S.hosts, S.pages, 'light', S.delayMs);
  const server = pgServer();
  const fresh = async (what: string) => {
    const name = `crawl_bench_scale_${process.pid}_${what}`;
    await createDatabase(server.adminUrl, name);
    return server.urlFor(name);
  };
  const once = (r: ScaleRun) => r.complete && r.distinct === site.allowedPages && r.maxPerHost <= S.perHostLimit;
  try {
    let sqlite: ScaleRun | null = null;
    try {
      sqlite = await scaleRun(site, root, null, 1);
      raw.push(sqlite);
      figures.push({
        section,
        name: 'one SQLite daemon: pages/s',
        value: sqlite.pagesPerSecond,
        unit: 'pages/s',
        met: null,
        note: `${setting}; ${describe(sqlite, site.allowedPages)}`,
      });
    } catch (err) {
      failed('one SQLite daemon', err);
    }
    const byDaemons = new Map<number, ScaleRun>();
    for (const n of S.daemons) {
      try {
        const r = await scaleRun(site, root, await fresh(`${n}`), n);
        raw.push(r);
        byDaemons.set(n, r);
      } catch (err) {
        failed(`${n} daemon(s) on PostgreSQL`, err);
      }
    }
    const one = byDaemons.get(1);
    const targets: Record<number, number> = { 2: 1.8, 4: 3.5 };
    for (const [n, r] of byDaemons) {
      const target = targets[n];
      const ratio = one ? r.pagesPerSecond / one.pagesPerSecond : null;
      figures.push({
        section,
        name: `${r.label}: pages/s`,
        value: r.pagesPerSecond,
        unit: 'pages/s',
        ...(n === 1
          ? sqlite && {
              baseline: { name: 'one SQLite daemon', value: sqlite.pagesPerSecond, unit: 'pages/s' },
              ratio: r.pagesPerSecond / sqlite.pagesPerSecond,
              ratioLabel: 'PostgreSQL / SQLite',
            }
          : one && { baseline: { name: 'one daemon on PostgreSQL', value: one.pagesPerSecond, unit: 'pages/s' }, ratio, ratioLabel: `${n} daemons / one` }),
        ...(target !== undefined
          ? {
              target: `≥ ${target}× one daemon, every page once, ≤ ${S.perHostLimit} per host`,
              met: ratio !== null && ratio >= target && once(r) && r.refetches === 0,
            }
          : { met: null }),
        note: [setting, describe(r, site.allowedPages), target !== undefined && one ? cpuNeeded(r, target * one.pagesPerSecond) : '']
          .filter((t) => t !== '')
          .join('; '),
      });
    }
    for (const kill of ['this machine', 'another machine'] as const) {
      try {
        const r = await scaleRun(site, root, await fresh(kill === 'this machine' ? 'kill_here' : 'kill_elsewhere'), S.killAmong, kill);
        raw.push(r);
        const k = r.killed;
        const full = byDaemons.get(S.killAmong);
        const reclaim =
          k && k.lastReclaimMs !== null
            ? `its ${k.leasesReclaimed} leases reclaimed ${(k.firstReclaimMs! / 1000).toFixed(1)} to ${(k.lastReclaimMs / 1000).toFixed(1)} s after the kill`
            : 'no lease of its reclaimed';
        figures.push({
          section,
          name: `${r.label} at ${Math.round(S.killAt * 100)}%: pages/s`,
          value: r.pagesPerSecond,
          unit: 'pages/s',
          ...(full && {
            baseline: { name: `${S.killAmong} daemons, none killed`, value: full.pagesPerSecond, unit: 'pages/s' },
            ratio: r.pagesPerSecond / full.pagesPerSecond,
            ratioLabel: 'with the kill / without',
          }),
          target: 'complete, every page fetched; fetched again only what the killed daemon held',
          met: once(r) && k !== null && r.refetches <= k.leasesReclaimed,
          note: `killed after ${k?.afterPages ?? '?'} pages (SIGKILL), ${reclaim}; ${describe(r, site.allowedPages)}`,
        });
      } catch (err) {
        failed(`${S.killAmong} daemons, one of ${kill} killed`, err);
      }
    }
    if (sqlite && one) log(`scale: one daemon on PostgreSQL / one SQLite daemon: ${fmtRatio(one.pagesPerSecond / sqlite.pagesPerSecond)}`);
  } finally {
    server.stop();
    await site.close();
  }
  return { figures, raw };
}
