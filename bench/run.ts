/**
 * `npm run bench`: the figures issues 2, 3 and 4 ask for, in one run, side by side on this
 * machine, every database a real SQLite file (WAL, synchronous=NORMAL) in one temp folder that is
 * removed at the end. Prints a table and writes the same figures to bench/results/latest.json.
 * Figures, not a test: nothing here fails on a missed target.
 *
 * `node out/bench/run.js [section...]` runs some sections only: lifecycle, binding, million
 * (lease and stats latency at a million jobs, then the daemon on the same database), crawl, soak
 * (a million jobs through the scheduler, memory and file descriptors sampled; `SOAK_JOBS=n` for fewer).
 * postgres (the lifecycle on PostgreSQL with 1, 2 and 4 worker processes, beside SqliteQueue; bench/pg.ts),
 * paused (lease latency beside a paused crawl of many held jobs, against none),
 * results (issue 14: 100,000 page records written through the engine, exported by the real crawlctl
 * from a real daemon, crawl/report and crawl/pages latency at 100,000 and 1,000,000 records, the
 * report on PostgreSQL too; bench/results.ts; the crawl section measures what records cost a crawl),
 * editor (issue 16: the extension's daemon crawls the local site in code-server with the Jobs view
 * and a seed file watching it, and with them closed; pages/s, keystroke latency, CPU; bench/editor.ts),
 * heavy (issue 17: the crawl section's three crawlers on pages shaped like real ones, 20-120 KB
 * with 20-120 links each; site.ts).
 * scale (issue 18: 1, 2 and 4 real daemons on one PostgreSQL crawling 200 hosts that answer in
 * 200 ms, beside one SQLite daemon; then 4 with one killed halfway, of this machine and of another;
 * bench/scale.ts).
 * BENCH_CPU_PROF=<dir> writes a CPU profile of each crawler child there (and of the results
 * section's daemons and crawlctl commands, and the scale section's daemons).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import { lifecycleBare, lifecycleOriginal, lifecyclePlainjob, originalCountsLatency } from './baselines';
import { crawlOnPostgres, crawlWith, type CrawlRun, type PgCrawlRun } from './crawl';
import { DAEMON_MAIN, daemonOverSocket, statsDuringCrawl, type CrawlStatsResult } from './daemon';
import type { LifecycleResult } from './lifecycle';
import { elapsedMs, fmt, fmtRatio, log, makeRoot, now, tempDir, type Figure } from './measure';
import { createDatabase } from '../server/src/demo/pg-cluster';
import { pgLifecycle, pgServer } from './pg';
import { RESULTS_SIZES, resultsFigures } from './results';
import { EDITOR_SIZES, editorFigures } from './editor';
import { buildMillion, fastFillMatches, fill, leaseLatency, lifecycleOurs, pausedLatency, perHostBinding, statsLatency } from './queue';
import { startSite } from './site';
import { SCALE_SIZES, scaleFigures } from './scale';
import { soak, soakJobs, soakSummary, soakTable } from './soak';

/**
 * Sizes. The lifecycle runs are short, so each is repeated and the best kept. The original
 * pattern opens a connection per job and is slow, so it gets fewer jobs (its cost per job does not
 * depend on the count); so does plainjob. Rates are per job, comparable across sizes.
 */
const SIZES = {
  lifecycle: { ours: 20_000, bare: 100_000, original: 500, plainjob: 20_000, hosts: 100, repeats: 3 },
  binding: { hosts: 200, perHost: 100, limit: 2, repeats: 3 },
  million: { queued: 1_000_000, hosts: 100_000, smallQueued: 1_000, smallHosts: 100, samples: 300, statsCalls: 10_000, countCalls: 3, daemonRounds: 16 },
  // recordRepeats: runs of ours with page records and as many without (issue 14's cost of them).
  crawl: { hosts: 20, pages: 1_000, concurrency: 16, perHostLimit: 2, recordRepeats: 3, deadlineMs: { ours: 150_000, bare: 60_000, crawlee: 120_000 } },
  soak: { jobs: soakJobs() },
  paused: { queued: 1_000, hosts: 100, held: 200_000, heldHosts: 20_000, samples: 300 },
  results: RESULTS_SIZES,
  editor: EDITOR_SIZES,
  heavy: { hosts: 20, pages: 1_000, concurrency: 16, perHostLimit: 2, deadlineMs: { ours: 150_000, bare: 60_000, crawlee: 300_000 } },
  scale: SCALE_SIZES,
};

const SECTIONS = ['lifecycle', 'binding', 'million', 'crawl', 'heavy', 'soak', 'postgres', 'paused', 'results', 'editor', 'scale'] as const;
type Section = (typeof SECTIONS)[number];

const figures: Figure[] = [];
const raw: Record<string, unknown> = {};

function add(f: Figure): void {
  figures.push(f);
}

function failed(section: string, name: string, err: unknown): void {
  const message = (err as Error).message ?? String(err);
  log(`${section}: ${name} failed: ${message}`);
  add({ section, name, value: null, unit: '', met: null, note: `failed: ${message.slice(0, 300)}` });
}

async function logged(label: string, run: () => Promise<LifecycleResult>): Promise<LifecycleResult> {
  const r = await run();
  log(`lifecycle: ${label}: ${Math.round(r.jobsPerSecond).toLocaleString('en-US')} jobs/s (${r.jobs.toLocaleString('en-US')} jobs)`);
  return r;
}

async function lifecycleSection(root: string): Promise<void> {
  const S = SIZES.lifecycle;
  const section = '1. Queue lifecycle';
  let n = 0;
  const dir = () => tempDir(root, `lifecycle-${n++}`);
  // Interleaved, so that a disturbance of the machine does not fall on one variant only.
  const results: Record<string, LifecycleResult[]> = { ours: [], oneHost: [], bare: [], bareIndexed: [], original: [], plainjob: [] };
  for (let i = 0; i < S.repeats; i++) {
    results.ours.push(await logged('SqliteQueue', () => lifecycleOurs(dir(), S.ours, S.hosts)));
    results.oneHost.push(await logged('SqliteQueue, one host', () => lifecycleOurs(dir(), S.ours, 1)));
    results.bare.push(await logged('bare SQL', () => lifecycleBare(dir(), S.bare, S.hosts)));
    // As many jobs as ours: the per-host indexes cost more as they grow.
    results.bareIndexed.push(await logged('bare SQL with per-host indexes', () => lifecycleBare(dir(), S.ours, S.hosts, true)));
    results.plainjob.push(await logged('plainjob', () => lifecyclePlainjob(dir(), S.plainjob, S.hosts)));
    results.original.push(await logged('original pattern', () => lifecycleOriginal(dir(), S.original, S.hosts)));
  }
  // The best of the repeats: the run least disturbed by whatever else the machine was doing.
  const top = (k: string) => results[k].reduce((a, b) => (b.jobsPerSecond > a.jobsPerSecond ? b : a));
  const ours = top('ours').jobsPerSecond;
  raw.lifecycle = results;
  const vs = (name: string, key: string, target: number, targetText: string, note: string) => {
    const base = top(key).jobsPerSecond;
    const ratio = ours / base;
    add({
      section,
      name,
      value: ours,
      unit: 'jobs/s',
      baseline: { name: key, value: base, unit: 'jobs/s' },
      ratio,
      ratioLabel: 'ours / baseline',
      target: targetText,
      met: ratio >= target,
      note,
    });
  };
  vs('SqliteQueue vs bare SQL (the ceiling)', 'bare', 0.5, '≥ 0.5×', `${S.hosts} hosts, limit not binding; bare SQL: one table, one index, no stats`);
  const bare = top('bare').jobsPerSecond;
  const info = (name: string, value: number, note: string) =>
    add({
      section,
      name,
      value,
      unit: 'jobs/s',
      baseline: { name: 'bare', value: bare, unit: 'jobs/s' },
      ratio: value / bare,
      ratioLabel: 'figure / baseline',
      met: null,
      note,
    });
  info(
    'bare SQL with per-host indexes vs bare SQL',
    top('bareIndexed').jobsPerSecond,
    `no target: bare SQL plus only the three indexes that keep each host's jobs together (dedupe on the URL, ready jobs by host, jobs by host), ${S.ours.toLocaleString('en-US')} jobs over ${S.hosts} hosts`,
  );
  info(
    'SqliteQueue on one host vs bare SQL',
    top('oneHost').jobsPerSecond,
    `no target: the same lifecycle with every job on one host, so that what ${S.hosts} hosts cost (per-host index pages and counter rows) shows apart`,
  );
  vs('SqliteQueue vs original pattern', 'original', 20, '≥ 20×', 'original: connection per operation, one job per lease, 6 COUNTs per 100 jobs');
  vs('SqliteQueue vs plainjob', 'plainjob', 5, '≥ 5×', 'plainjob: its API (one job per lease), acks 100 per transaction, no stats');
}

async function bindingSection(root: string): Promise<void> {
  const S = SIZES.binding;
  const section = '2. Per-host limits binding';
  const runs = [];
  for (let i = 0; i < S.repeats; i++) {
    const r = await perHostBinding(tempDir(root, `binding-${i}`), S.hosts, S.perHost, S.limit);
    log(
      `binding: ${Math.round(r.jobsPerSecond).toLocaleString('en-US')} jobs/s, ${r.fullBatchesWithRoom}/${r.batchesWithRoom} batches full while ≥ ${100 / S.limit} hosts had work`,
    );
    runs.push(r);
  }
  raw.binding = runs;
  // Throughput from the best run, as in section 1; fullness and limits from the worst.
  const r = runs.reduce((a, b) => (b.jobsPerSecond > a.jobsPerSecond ? b : a));
  const full = runs.reduce((n, x) => n + x.fullBatchesWithRoom, 0);
  const withRoom = runs.reduce((n, x) => n + x.batchesWithRoom, 0);
  const maxPerHost = Math.max(...runs.map((x) => x.maxPerHostInBatch));
  add({
    section,
    name: `${S.hosts} hosts × limit ${S.limit}, grouped backlog: lease+ack`,
    value: r.jobsPerSecond,
    unit: 'jobs/s',
    target: '≥ 50,000',
    met: r.jobsPerSecond >= 50_000,
    note: `${r.jobs.toLocaleString('en-US')} jobs, lease 100 then ack 100; best of ${S.repeats} runs`,
  });
  add({
    section,
    name: `full batches while ≥ ${100 / S.limit} hosts had work`,
    value: (100 * full) / withRoom,
    unit: '%',
    target: '100%',
    met: full === withRoom,
    note: `${full} of ${withRoom} over ${S.repeats} runs; short of what the hosts with work allowed: ${runs.reduce((n, x) => n + x.shortBatches, 0)} of ${runs.reduce((n, x) => n + x.batches, 0)}`,
  });
  add({
    section,
    name: 'most jobs of one host in one lease',
    value: maxPerHost,
    unit: 'jobs',
    target: `≤ ${S.limit}`,
    met: maxPerHost <= S.limit,
  });
}

async function millionSection(root: string): Promise<void> {
  const S = SIZES.million;
  const dir = tempDir(root, 'million');
  const file = path.join(dir, 'million.db');
  const fast = await fastFillMatches(tempDir(root, 'fastfill-check'));
  if (!fast) log('million: the fast fill path no longer matches enqueue; building through enqueue (slower)');
  const built = await buildMillion(file, S.queued, S.hosts, fast);
  raw.millionBuild = { ...built, path: fast ? 'fast (checked against enqueue)' : 'enqueue' };

  const count = (n: number) => n.toLocaleString('en-US');
  const latency = '3. Lease latency vs queue depth';
  try {
    const small = new SqliteQueue(path.join(dir, 'small.db'));
    await fill(small, S.smallQueued, S.smallHosts, S.smallQueued);
    const deep = new SqliteQueue(file);
    const [little, big] = await leaseLatency(
      [
        { q: small, queued: S.smallQueued, hosts: S.smallHosts },
        { q: deep, queued: S.queued, hosts: S.hosts },
      ],
      S.samples,
    );
    await small.close();
    await deep.close();
    raw.leaseLatency = { small: little, big };
    const note = `lease(…, 100, limit 2) then ack of those 100; ${S.samples} samples; ${count(S.smallQueued)} jobs over ${S.smallHosts} hosts as the baseline`;
    for (const [which, key] of [
      ['median', 'medianMs'],
      ['p99', 'p99Ms'],
    ] as const) {
      const ratio = big[key] / little[key];
      add({
        section: latency,
        name: `lease+ack ${which} at ${count(S.queued)} queued / ${count(S.hosts)} hosts`,
        value: big[key],
        unit: 'ms',
        baseline: { name: `${count(S.smallQueued)} queued`, value: little[key], unit: 'ms' },
        ratio,
        ratioLabel: 'deep / shallow',
        target: '≤ 2×',
        met: ratio <= 2,
        note,
      });
    }
  } catch (err) {
    failed(latency, 'lease latency', err);
  }

  const stats = `4. stats() at ${count(S.queued)} jobs`;
  try {
    const q = new SqliteQueue(file);
    const s = await statsLatency(q, S.statsCalls);
    await q.close();
    const counts = originalCountsLatency(file, S.countCalls);
    raw.stats = { ours: s, originalCounts: counts };
    add({ section: stats, name: `stats() median (${count(s.total)} jobs)`, value: s.medianMs, unit: 'ms', target: '< 1 ms', met: s.medianMs < 1 });
    add({ section: stats, name: 'stats() p99', value: s.p99Ms, unit: 'ms', target: '< 1 ms', met: s.p99Ms < 1 });
    add({
      section: stats,
      name: "original pattern's six COUNTs, median",
      value: counts.medianMs,
      unit: 'ms',
      baseline: { name: 'stats() median', value: s.medianMs, unit: 'ms' },
      ratio: counts.medianMs / s.medianMs,
      ratioLabel: 'COUNTs / stats()',
      note: `new connection per call, as the original did; ${S.countCalls} calls`,
    });
  } catch (err) {
    failed(stats, 'stats latency', err);
  }

  const daemon = '6. Daemon over the socket';
  if (!fs.existsSync(DAEMON_MAIN)) {
    add({ section: daemon, name: 'not measured', value: null, unit: '', met: null, note: `${DAEMON_MAIN} does not exist (build the daemon first)` });
    return;
  }
  try {
    const d = await daemonOverSocket(file, tempDir(root, 'daemon'), S.hosts, S.daemonRounds);
    raw.daemon = d;
    const note = `${count(d.queued)} queued (issue: 500,000), idle daemon (every host deferred); ${d.rssByRoundMb.length - 1} rounds × 200 calls of each, sequential`;
    add({
      section: daemon,
      name: 'queue/stats p99',
      value: d.stats.p99Ms,
      unit: 'ms',
      baseline: { name: 'median', value: d.stats.medianMs, unit: 'ms' },
      target: '< 10 ms ("in milliseconds")',
      met: d.stats.p99Ms < 10,
      note,
    });
    add({
      section: daemon,
      name: 'jobs/list first page (100) p99',
      value: d.list.p99Ms,
      unit: 'ms',
      baseline: { name: 'median', value: d.list.medianMs, unit: 'ms' },
      target: '< 10 ms ("in milliseconds")',
      met: d.list.p99Ms < 10,
    });
    add({
      section: daemon,
      name: 'jobs/list state=queued first page p99',
      value: d.listQueued.p99Ms,
      unit: 'ms',
      baseline: { name: 'median', value: d.listQueued.medianMs, unit: 'ms' },
      target: '< 10 ms ("in milliseconds")',
      met: d.listQueued.p99Ms < 10,
    });
    // Bounded: the later rounds' mean RSS no more than 10% above the earlier rounds' (means, since
    // garbage collection makes RSS swing by a tenth between rounds).
    const half = Math.ceil(d.rssByRoundMb.length / 2);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const early = mean(d.rssByRoundMb.slice(1, half));
    const late = mean(d.rssByRoundMb.slice(half));
    add({
      section: daemon,
      name: `daemon mean RSS, rounds ${half + 1}–${d.rssByRoundMb.length} vs 2–${half}`,
      value: late,
      unit: 'MB',
      baseline: { name: 'earlier rounds', value: early, unit: 'MB' },
      ratio: late / early,
      ratioLabel: 'later / earlier',
      target: 'bounded (≤ 1.1×)',
      met: late <= early * 1.1,
      note: `RSS by round: ${d.rssByRoundMb.map((m) => m.toFixed(0)).join(', ')} MB; peak ${d.peakRssMb.toFixed(0)} MB; serving ${(d.startMs / 1000).toFixed(1)} s after spawn`,
    });
    add({
      section: daemon,
      name: "scheduler/status (reads every host's totals)",
      value: d.statusMs,
      unit: 'ms',
      met: null,
      note: 'not a target of the issue; shown because it is the one read that grows with the queue',
    });
  } catch (err) {
    failed(daemon, 'daemon over socket', err);
  }
}

async function crawlSection(root: string): Promise<void> {
  const S = SIZES.crawl;
  const section = '5. Local site crawl';
  const site = await startSite(S.hosts, S.pages);
  const runs: Partial<Record<'crawlee' | 'bare', CrawlRun>> = {};
  // Ours with page records (the default) and without, `recordRepeats` times each, in the order
  // on, off, off, on, ...: neither pays more than the other for warming up the site's servers (the
  // first run does) or for a drift of the machine over the section.
  const withRecords: CrawlRun[] = [];
  const withoutRecords: CrawlRun[] = [];
  // And with selector fields, and with WARC files (records on, as shipped): in the same rotation.
  const withFields: CrawlRun[] = [];
  const withWarc: CrawlRun[] = [];
  const withHandler: CrawlRun[] = [];
  const opts = { concurrency: S.concurrency, perHostLimit: S.perHostLimit };
  const kinds = ['on', 'off', 'fields', 'warc', 'handler'] as const;
  try {
    for (let i = 0; i < S.recordRepeats; i++) {
      for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
        try {
          const r = await crawlWith(site, 'ours', root, {
            ...opts,
            deadlineMs: S.deadlineMs.ours,
            pageRecords: kind !== 'off',
            ...(kind === 'fields' && { extract: BENCH_FIELDS }),
            ...(kind === 'warc' && { warc: true }),
            ...(kind === 'handler' && { handler: BENCH_HANDLER }),
          });
          ({ on: withRecords, off: withoutRecords, fields: withFields, warc: withWarc, handler: withHandler })[kind].push(r);
        } catch (err) {
          failed(
            section,
            { on: 'ours', off: 'ours without page records', fields: 'ours with selector fields', warc: 'ours with WARC', handler: 'ours with a page handler' }[
              kind
            ],
            err,
          );
        }
      }
    }
    for (const crawler of ['bare', 'crawlee'] as const) {
      try {
        runs[crawler] = await crawlWith(site, crawler, root, { ...opts, deadlineMs: S.deadlineMs[crawler] });
      } catch (err) {
        failed(section, crawler, err);
      }
    }
  } finally {
    await site.close();
  }
  const fastest = (rs: CrawlRun[]) => (rs.length ? rs.reduce((a, b) => (b.pagesPerSecond > a.pagesPerSecond ? b : a)) : undefined);
  // "ours" below is the fastest run with records: the product as shipped.
  const ours = fastest(withRecords);
  const oursOff = fastest(withoutRecords);
  const { crawlee, bare } = runs;
  raw.crawl = {
    ours,
    oursWithoutRecords: oursOff,
    bare,
    crawlee,
    runsWithRecords: withRecords,
    runsWithoutRecords: withoutRecords,
    runsWithFields: withFields,
    runsWithWarc: withWarc,
    runsWithHandler: withHandler,
  };
  if (!ours) return;
  if (oursOff) recordsCost(section, withRecords, withoutRecords, ours, oursOff);
  const fields = `five selector fields (${Object.entries(BENCH_FIELDS)
    .map(([k, v]) => `${k}: ${v}`)
    .join('; ')})`;
  if (withFields.length) featureCost(section, 'five selector fields', fields, withRecords, withFields);
  if (withWarc.length) featureCost(section, 'WARC files', 'every response and its request as WARC records, gzipped', withRecords, withWarc);
  if (withHandler.length)
    featureCost(
      section,
      'a page handler',
      "a handler module doing the five fields' work with page.$ and page.$$, on its threads",
      withRecords,
      withHandler,
      0.6,
    );
  const expected = site.allowedPages;
  const deadline = (r: CrawlRun) => (r.crawler === 'bare' || r.crawler === 'crawlee' ? S.deadlineMs[r.crawler] : S.deadlineMs.ours);
  const partial = (r: CrawlRun | undefined) =>
    r && !r.complete ? ` (${r.crawler} stopped at its ${deadline(r) / 1000} s deadline after ${r.pages} pages: rate over those)` : '';
  const setting = `${S.hosts} hosts × ${S.pages} pages, concurrency ${S.concurrency}, per-host limit ${S.perHostLimit}`;
  add({
    section,
    name: 'ours: pages/s, end to end',
    value: ours.pagesPerSecond,
    unit: 'pages/s',
    target: '≥ 1,000',
    met: ours.pagesPerSecond >= 1000,
    note: `${setting}; ${ours.pages}/${expected} pages${partial(ours)}`,
  });
  if (crawlee) {
    const ratio = ours.pagesPerSecond / crawlee.pagesPerSecond;
    add({
      section,
      name: 'ours vs Crawlee CheerioCrawler (memory storage)',
      value: ours.pagesPerSecond,
      unit: 'pages/s',
      baseline: { name: 'Crawlee', value: crawlee.pagesPerSecond, unit: 'pages/s' },
      ratio,
      ratioLabel: 'ours / Crawlee',
      target: '> 2×',
      met: ratio > 2,
      note: `Crawlee ${crawlee.pages}/${expected} pages${partial(crawlee)}`,
    });
  }
  if (bare) {
    const ratio = ours.pagesPerSecond / bare.pagesPerSecond;
    add({
      section,
      name: 'ours vs bare undici + htmlparser2 loop',
      value: ours.pagesPerSecond,
      unit: 'pages/s',
      baseline: { name: 'bare loop', value: bare.pagesPerSecond, unit: 'pages/s' },
      ratio,
      ratioLabel: 'ours / bare',
      target: '> 0.5× ("most of")',
      met: ratio > 0.5,
      note: `bare ${bare.pages}/${expected} pages${partial(bare)}`,
    });
  }
  for (const r of [ours, bare, crawlee]) {
    if (!r) continue;
    add({
      section,
      name: `${r.crawler}: CPU seconds per 1,000 pages`,
      value: r.cpuSecondsPer1000,
      unit: 's',
      ...(r !== bare &&
        bare && {
          baseline: { name: 'bare loop', value: bare.cpuSecondsPer1000, unit: 's' },
          ratio: r.cpuSecondsPer1000 / bare.cpuSecondsPer1000,
          ratioLabel: `${r.crawler} / bare`,
        }),
      met: null,
    });
  }
  for (const r of [ours, bare, crawlee]) {
    if (!r) continue;
    add({
      section,
      name: `${r.crawler}: peak RSS`,
      value: r.peakRssMb,
      unit: 'MB',
      ...(r === ours ? { target: '< 150 MB', met: r.peakRssMb < 150 } : { met: null }),
      ...(r === ours && oursOff && { note: `without page records: ${oursOff.peakRssMb.toFixed(0)} MB` }),
    });
  }
  for (const r of [ours, bare, crawlee]) {
    if (!r) continue;
    const bound = r !== crawlee;
    add({
      section,
      name: `${r.crawler}: max concurrent requests per host (server-measured)`,
      value: r.maxPerHost,
      unit: '',
      ...(bound ? { target: `≤ ${S.perHostLimit}`, met: r.maxPerHost <= S.perHostLimit } : { met: null, note: 'Crawlee has no per-host concurrency limit' }),
    });
  }
  add({
    section,
    name: 'ours: requests for robots.txt-disallowed paths',
    value: ours.disallowedServed,
    unit: '',
    target: '0',
    met: ours.disallowedServed === 0,
    note:
      `skipped as disallowed: ${ours.skipped} of ${site.disallowedLinks}; robots.txt requests: ${ours.robotsRequests}; ` +
      `duplicate page fetches: ${ours.duplicateFetches}; 404s: ${ours.notFound}; errors: ${ours.errors}`,
  });
}

/**
 * Issue 17's targets, on pages the size of real ones: ours (page records on, as shipped) against
 * the bare undici + htmlparser2 loop and Crawlee, each keeping to the site's hosts. Ours runs twice,
 * before and after the others, and its faster run counts; CPU counts every thread of each process.
 * Between them, ours on its own thread and ours without page records, for what each part costs.
 * Then the same crawl once more by a daemon process, started over its socket, with `queue/stats`
 * timed at the client all along (daemon.ts statsDuringCrawl).
 */
/** How the heavy section's client asks for `queue/stats`. */
const STATS_NOTE = 'one call after another, 10 ms apart, from a client on the Unix socket';

async function heavySection(root: string): Promise<void> {
  const S = SIZES.heavy;
  const section = '14. Pages shaped like real ones';
  const site = await startSite(S.hosts, S.pages, 'heavy');
  const opts = { concurrency: S.concurrency, perHostLimit: S.perHostLimit, seedOriginsOnly: true };
  const ours: CrawlRun[] = [];
  const runs: Partial<Record<'bare' | 'crawlee' | 'inline' | 'unrecorded', CrawlRun>> = {};
  let daemon: CrawlStatsResult | undefined;
  try {
    // Between the two runs of ours: ours parsing on its own thread (--parse-threads 0), what the
    // pool is worth; ours without page records and the link graph, what they cost.
    type Variant = { crawler: 'ours' | 'bare' | 'crawlee'; name: string; opts: { parseThreads?: number; pageRecords?: boolean } };
    const variants: Record<'ours' | 'bare' | 'inline' | 'unrecorded' | 'crawlee', Variant> = {
      ours: { crawler: 'ours', name: 'ours', opts: {} },
      bare: { crawler: 'bare', name: 'bare', opts: {} },
      inline: { crawler: 'ours', name: 'ours parsing on its own thread', opts: { parseThreads: 0 } },
      unrecorded: { crawler: 'ours', name: 'ours without page records', opts: { pageRecords: false } },
      crawlee: { crawler: 'crawlee', name: 'crawlee', opts: {} },
    };
    for (const kind of ['ours', 'bare', 'inline', 'unrecorded', 'crawlee', 'ours'] as const) {
      const v = variants[kind];
      try {
        const r = await crawlWith(site, v.crawler, root, { ...opts, deadlineMs: S.deadlineMs[v.crawler], ...v.opts });
        if (kind === 'ours') ours.push(r);
        else runs[kind] = r;
      } catch (err) {
        failed(section, v.name, err);
      }
    }
    try {
      site.reset();
      log('crawl: ours as a daemon process, queue/stats timed over its socket...');
      daemon = await statsDuringCrawl(
        tempDir(root, 'heavy-daemon'),
        { seeds: site.seeds, maxDepth: 50, maxPages: site.allowedPages + site.disallowedLinks + 1_000 },
        { maxWorkers: S.concurrency, perHost: S.perHostLimit, deadlineMs: S.deadlineMs.ours },
      );
      log(
        `crawl: the daemon: ${daemon.pages} pages in ${(daemon.wallMs / 1000).toFixed(1)} s, queue/stats p99 ${daemon.stats.p99Ms.toFixed(1)} ms over ${daemon.calls} calls`,
      );
    } catch (err) {
      failed(section, 'ours as a daemon', err);
    }
  } finally {
    await site.close();
  }
  const best = ours.length ? ours.reduce((a, b) => (b.pagesPerSecond > a.pagesPerSecond ? b : a)) : undefined;
  const { bare, crawlee, inline, unrecorded } = runs;
  raw.heavy = { ours: best, runs: ours, bare, crawlee, inline, unrecorded, daemon };
  if (daemon) {
    add({
      section,
      name: 'queue/stats over the socket while the crawl runs: p99',
      value: daemon.stats.p99Ms,
      unit: 'ms',
      target: '< 10 ms',
      met: daemon.stats.p99Ms < 10,
      note:
        `median ${daemon.stats.medianMs.toFixed(2)} ms over ${daemon.calls} calls, ${STATS_NOTE}; the daemon crawled ${daemon.pages}/${site.allowedPages} pages ` +
        `in ${(daemon.wallMs / 1000).toFixed(1)} s (${((daemon.pages * 1000) / daemon.wallMs).toFixed(0)} pages/s), peak RSS ${daemon.peakRssMb.toFixed(0)} MB`,
    });
  }
  if (!best) return;
  const setting = `${S.hosts} hosts × ${S.pages} pages of 20-120 KB with 20-120 links, concurrency ${S.concurrency}, per-host limit ${S.perHostLimit}`;
  const pages = (r: CrawlRun) => `${r.pages}/${site.allowedPages} pages${r.complete ? '' : ` (stopped at its deadline: rate over those)`}`;
  add({
    section,
    name: 'ours: pages/s, end to end',
    value: best.pagesPerSecond,
    unit: 'pages/s',
    met: null,
    note: `${setting}; ${pages(best)}; runs: ${ours.map((r) => r.pagesPerSecond.toFixed(0)).join(', ')} pages/s`,
  });
  /** A figure of ours against another crawl's: the other's as its baseline, and their ratio. */
  const against = (name: string, value: number, unit: string, baseline: { name: string; value: number }, ratioLabel: string, rest: Partial<Figure> = {}) =>
    add({ section, name, value, unit, baseline: { ...baseline, unit }, ratio: value / baseline.value, ratioLabel, met: null, ...rest });
  if (inline) {
    against(
      "pages parsed on threads vs on the crawl's own thread: pages/s",
      best.pagesPerSecond,
      'pages/s',
      { name: '--parse-threads 0', value: inline.pagesPerSecond },
      'threads / own thread',
      {
        note: `on its own thread: ${pages(inline)}, ${inline.cpuSecondsPer1000.toFixed(2)} CPU s per 1,000 pages, peak RSS ${inline.peakRssMb.toFixed(0)} MB`,
      },
    );
  }
  if (bare) {
    const ratio = best.pagesPerSecond / bare.pagesPerSecond;
    against('ours vs the bare loop: pages/s', best.pagesPerSecond, 'pages/s', { name: 'bare loop', value: bare.pagesPerSecond }, 'ours / bare', {
      target: '≥ 0.7×',
      met: ratio >= 0.7,
      note: `bare ${pages(bare)}`,
    });
    const cpu = best.cpuSecondsPer1000 / bare.cpuSecondsPer1000;
    const bareCpu = { name: 'bare loop', value: bare.cpuSecondsPer1000 };
    against('ours vs the bare loop: CPU seconds per 1,000 pages (all threads)', best.cpuSecondsPer1000, 's', bareCpu, 'ours / bare', {
      target: '≤ 1.6×',
      met: cpu <= 1.6,
    });
    if (unrecorded) {
      // The bare loop keeps nothing of a page; ours keeps its record and every link (70 a page here) by page and by target.
      against(
        'ours without page records and the link graph vs the bare loop: CPU seconds per 1,000 pages (all threads)',
        unrecorded.cpuSecondsPer1000,
        's',
        bareCpu,
        'ours / bare',
        {
          note:
            `${pages(unrecorded)} at ${unrecorded.pagesPerSecond.toFixed(0)} pages/s (${(unrecorded.pagesPerSecond / bare.pagesPerSecond).toFixed(2)}× the bare loop's); ` +
            `records and the graph cost ${((best.cpuSecondsPer1000 - unrecorded.cpuSecondsPer1000) * 1000).toFixed(0)} CPU ms per 1,000 pages`,
        },
      );
    }
  }
  if (crawlee) {
    const ratio = best.pagesPerSecond / crawlee.pagesPerSecond;
    against('ours vs Crawlee CheerioCrawler: pages/s', best.pagesPerSecond, 'pages/s', { name: 'Crawlee', value: crawlee.pagesPerSecond }, 'ours / Crawlee', {
      target: '≥ 4×',
      met: ratio >= 4,
      note: `Crawlee ${pages(crawlee)}, ${crawlee.cpuSecondsPer1000.toFixed(2)} CPU s per 1,000 pages`,
    });
  }
  for (const r of [best, bare, crawlee]) {
    if (!r) continue;
    add({
      section,
      name: `${r.crawler}: peak RSS`,
      value: r.peakRssMb,
      unit: 'MB',
      ...(r === best ? { target: '< 200 MB', met: r.peakRssMb < 200 } : { met: null }),
    });
  }
  add({
    section,
    name: 'ours: max concurrent requests per host (server-measured)',
    value: best.maxPerHost,
    unit: '',
    target: `≤ ${S.perHostLimit}`,
    met: best.maxPerHost <= S.perHostLimit,
    note: `requests for disallowed paths: ${best.disallowedServed}; duplicate page fetches: ${best.duplicateFetches}; 404s: ${best.notFound}; errors: ${best.errors}`,
  });
}

/**
 * Issue 14's targets: what page records and the link graph cost a crawl, ours with them against
 * ours without in the same run. Pages/s from each variant's fastest run; CPU from its least (the
 * run least disturbed); bytes from the database each run left, its WAL checkpointed.
 */
function recordsCost(section: string, on: CrawlRun[], off: CrawlRun[], fastOn: CrawlRun, fastOff: CrawlRun): void {
  const S = SIZES.crawl;
  const list = (rs: CrawlRun[], f: (r: CrawlRun) => number, digits: number) => rs.map((r) => f(r).toFixed(digits)).join(', ');
  const incomplete = [...on, ...off].some((r) => !r.complete) ? '; INCOMPLETE runs among them' : '';
  const runs = `${on.length} runs each, interleaved (on, off, off, on, ...)${incomplete}`;
  const pps = fastOn.pagesPerSecond / fastOff.pagesPerSecond;
  add({
    section,
    name: 'page records on vs off: pages/s',
    value: fastOn.pagesPerSecond,
    unit: 'pages/s',
    baseline: { name: 'records off', value: fastOff.pagesPerSecond, unit: 'pages/s' },
    ratio: pps,
    ratioLabel: 'on / off',
    target: '≥ 0.85× (within 15%)',
    met: pps >= 0.85,
    note: `${S.hosts} hosts × ${S.pages} pages, the fastest of ${runs}; pages/s on: ${list(on, (r) => r.pagesPerSecond, 0)}; off: ${list(off, (r) => r.pagesPerSecond, 0)}`,
  });
  const cpuOn = Math.min(...on.map((r) => r.cpuSecondsPer1000));
  const cpuOff = Math.min(...off.map((r) => r.cpuSecondsPer1000));
  add({
    section,
    name: 'page records on vs off: CPU seconds per 1,000 pages',
    value: cpuOn,
    unit: 's',
    baseline: { name: 'records off', value: cpuOff, unit: 's' },
    ratio: cpuOn / cpuOff,
    ratioLabel: 'on / off',
    target: '≤ 1.15×',
    met: cpuOn / cpuOff <= 1.15,
    note: `the least of ${runs}; on: ${list(on, (r) => r.cpuSecondsPer1000, 2)}; off: ${list(off, (r) => r.cpuSecondsPer1000, 2)} s; crawler process only (the site is served by the parent)`,
  });
  const perPage = (r: CrawlRun) => (r.dbBytes ?? NaN) / r.pages;
  const bOn = perPage(fastOn);
  const bOff = perPage(fastOff);
  const mb = (bytes: number) => `${Math.round(bytes / 1e6).toLocaleString('en-US')} MB`;
  add({
    section,
    name: 'page records on vs off: database bytes per page',
    value: bOn,
    unit: 'B',
    baseline: { name: 'records off', value: bOff, unit: 'B' },
    ratio: bOn / bOff,
    ratioLabel: 'on / off',
    met: null,
    note:
      `the SQLite file (+ -wal) once the crawl ended and the queue closed (WAL checkpointed), over the pages crawled; ` +
      `on: ${mb(fastOn.dbBytes ?? NaN)} for ${fastOn.pages} pages, off: ${mb(fastOff.dbBytes ?? NaN)} for ${fastOff.pages}; ` +
      `projected for a million pages: ${mb(bOn * 1e6)} with records, ${mb(bOff * 1e6)} without`,
  });
  add({
    section,
    name: 'page records and link graph: bytes per page',
    value: bOn - bOff,
    unit: 'B',
    met: null,
    note: `on minus off: what the records and the graph (about 5 links a page on this site) add; for a million pages: ${mb((bOn - bOff) * 1e6)}`,
  });
}

/** Five fields of the kinds a scraper asks for, on the benchmark site's pages (bench/site.ts). */
const BENCH_FIELDS = { title: 'title', charset: 'meta @charset', first: 'ul > li:first-child', 'links[]': 'li > a @href', 'texts[]': 'li a' };

/** BENCH_FIELDS' work done by a page handler, as a user would write it. */
const BENCH_HANDLER = `export default (page) => ({
  data: {
    title: page.$('title')?.text ?? null,
    charset: page.$('meta')?.attr('charset') ?? null,
    first: page.$('ul > li:first-child')?.text ?? null,
    links: page.$$('li > a').map((a) => a.attr('href')).filter((href) => href !== null),
    texts: page.$$('li a').map((a) => a.text),
  },
});
`;

/**
 * What a feature costs a crawl (issue "Data from pages": within 20% of the plain crawl's pages/s,
 * 40% for a handler, under 200 MB): the same crawl with records and without the feature, in the
 * same rotation.
 */
function featureCost(section: string, name: string, what: string, plain: CrawlRun[], runs: CrawlRun[], floor = 0.8): void {
  const list = (rs: CrawlRun[], f: (r: CrawlRun) => number, digits: number) => rs.map((r) => f(r).toFixed(digits)).join(', ');
  const how = `${runs.length} runs each, interleaved with the records on/off runs${[...plain, ...runs].some((r) => !r.complete) ? '; INCOMPLETE runs among them' : ''}`;
  const fast = (rs: CrawlRun[]) => Math.max(...rs.map((r) => r.pagesPerSecond));
  const pps = fast(runs) / fast(plain);
  add({
    section,
    name: `${name} vs none: pages/s`,
    value: fast(runs),
    unit: 'pages/s',
    baseline: { name: 'without', value: fast(plain), unit: 'pages/s' },
    ratio: pps,
    ratioLabel: 'with / without',
    target: `≥ ${floor}× (within ${Math.round((1 - floor) * 100)}%)`,
    met: pps >= floor,
    note: `${what}; the fastest of ${how}; with: ${list(runs, (r) => r.pagesPerSecond, 0)}; without: ${list(plain, (r) => r.pagesPerSecond, 0)}`,
  });
  const cpu = Math.min(...runs.map((r) => r.cpuSecondsPer1000));
  const cpuPlain = Math.min(...plain.map((r) => r.cpuSecondsPer1000));
  add({
    section,
    name: `${name} vs none: CPU seconds per 1,000 pages`,
    value: cpu,
    unit: 's',
    baseline: { name: 'without', value: cpuPlain, unit: 's' },
    ratio: cpu / cpuPlain,
    ratioLabel: 'with / without',
    met: null,
    note: `the least of ${how}; with: ${list(runs, (r) => r.cpuSecondsPer1000, 2)}; without: ${list(plain, (r) => r.cpuSecondsPer1000, 2)} s`,
  });
  const rss = Math.max(...runs.map((r) => r.peakRssMb));
  add({ section, name: `${name}: peak RSS`, value: rss, unit: 'MB', target: '< 200 MB', met: rss < 200, note: `the most of ${runs.length} runs` });
}

async function postgresSection(root: string): Promise<void> {
  for (const f of await pgLifecycle(root)) add(f);
  await postgresCrawl(root);
}

/**
 * The local-site crawl by 1, 2 and 4 daemons on one PostgreSQL, beside one SQLite daemon in the
 * same run, the per-host limit held across them all. Issue 18's target: the daemons' CPU per
 * 1,000 pages within 1.5× the SQLite daemon's, the server's own CPU reported beside it, and how
 * often a lease comes back empty.
 */
async function postgresCrawl(root: string): Promise<void> {
  const S = SIZES.crawl;
  const section = '10. PostgreSQL engine: local site crawl';
  const site = await startSite(S.hosts, S.pages);
  const server = pgServer();
  const opts = { concurrency: S.concurrency, perHostLimit: S.perHostLimit, deadlineMs: S.deadlineMs.ours };
  try {
    const sqlite = await crawlWith(site, 'ours', root, opts);
    const setting = `${S.hosts} hosts × ${S.pages} pages, ${S.concurrency} workers per daemon, per-host limit ${S.perHostLimit} across all daemons`;
    for (const daemons of [1, 2, 4]) {
      const name = `crawl_bench_crawl_${process.pid}_${daemons}`;
      await createDatabase(server.adminUrl, name);
      let r: PgCrawlRun;
      try {
        r = await crawlOnPostgres(site, server.urlFor(name), root, daemons, opts);
      } catch (err) {
        failed(section, `${daemons} daemon(s)`, err);
        continue;
      }
      const them = `${daemons} daemon${daemons > 1 ? 's' : ''} on PostgreSQL`;
      const fair = r.maxPerHost <= S.perHostLimit && r.complete;
      const serverCpu = r.serverCpuSecondsPer1000 === null ? 'not on this machine' : `${r.serverCpuSecondsPer1000.toFixed(2)} s`;
      add({
        section,
        name: `${them}: pages/s`,
        value: r.pagesPerSecond,
        unit: 'pages/s',
        baseline: { name: 'one SQLite daemon', value: sqlite.pagesPerSecond, unit: 'pages/s' },
        ratio: r.pagesPerSecond / sqlite.pagesPerSecond,
        ratioLabel: 'PostgreSQL / SQLite',
        met: null,
        note:
          `${setting}; ${r.pages}/${site.allowedPages} pages${r.complete ? '' : ' (INCOMPLETE)'}; max ${r.maxPerHost} per host (server-measured); ` +
          `${r.duplicateFetches} duplicate fetches; ${(r.emptyLeaseFraction * 100).toFixed(0)}% of leases empty`,
      });
      const ratio = r.cpuSecondsPer1000 / sqlite.cpuSecondsPer1000;
      add({
        section,
        name: `${them}: daemon CPU per 1,000 pages`,
        value: r.cpuSecondsPer1000,
        unit: 's',
        baseline: { name: 'one SQLite daemon', value: sqlite.cpuSecondsPer1000, unit: 's' },
        ratio,
        ratioLabel: 'PostgreSQL / SQLite',
        ...(daemons === 1 ? { target: '≤ 1.5× one SQLite daemon', met: ratio <= 1.5 && fair } : { met: null }),
        note: `summed over the daemons; the PostgreSQL server's own CPU per 1,000 pages beside it: ${serverCpu} (from /proc)`,
      });
    }
  } finally {
    server.stop();
    await site.close();
  }
}

async function scaleSection(root: string): Promise<void> {
  const r = await scaleFigures(root);
  raw.scale = r.raw;
  for (const f of r.figures) add(f);
}

async function soakSection(root: string): Promise<void> {
  const section = '7. Soak';
  log(`soak: ${SIZES.soak.jobs.toLocaleString('en-US')} jobs through the scheduler...`);
  const r = await soak(tempDir(root, 'soak'), SIZES.soak.jobs);
  raw.soak = r;
  process.stdout.write(`\nSoak, sampled at every 5% of the jobs:\n${soakTable(r)}\n${soakSummary(r)}\n`);
  const warm = `after warm-up (${r.warm.done.toLocaleString('en-US')} jobs)`;
  add({
    section,
    name: `${r.jobs.toLocaleString('en-US')} jobs through the scheduler, one GET each`,
    value: r.jobsPerSecond,
    unit: 'jobs/s',
    met: null,
    note: `${r.failed} failed; database ${r.last.dbMb.toFixed(0)} MB at the end`,
  });
  add({
    section,
    name: `RSS at the end vs ${warm}`,
    value: r.last.rssMb,
    unit: 'MB',
    baseline: { name: 'after warm-up', value: r.warm.rssMb, unit: 'MB' },
    ratio: r.rssRatio,
    ratioLabel: 'last / after warm-up',
    target: 'flat (≤ 1.2×)',
    met: r.rssRatio <= 1.2,
  });
  add({
    section,
    name: `heap after GC at the end vs ${warm}`,
    value: r.last.heapMb,
    unit: 'MB',
    baseline: { name: 'after warm-up', value: r.warm.heapMb, unit: 'MB' },
    ratio: r.heapRatio,
    ratioLabel: 'last / after warm-up',
    target: 'flat (≤ 1.1×)',
    met: r.heapRatio <= 1.1,
  });
  add({
    section,
    name: `open file descriptors at the end vs ${warm}`,
    value: r.last.fds,
    unit: '',
    baseline: { name: 'after warm-up', value: r.warm.fds, unit: '' },
    target: 'no growth',
    met: r.last.fds <= r.warm.fds,
  });
  add({
    section,
    name: 'max concurrent requests per host (server-measured)',
    value: r.maxPerHost,
    unit: '',
    target: `≤ ${r.perHostLimit}`,
    met: r.maxPerHost <= r.perHostLimit,
  });
}

async function pausedSection(root: string): Promise<void> {
  const S = SIZES.paused;
  const section = '8. Lease latency beside a paused crawl';
  const count = (n: number) => n.toLocaleString('en-US');
  try {
    const r = await pausedLatency(tempDir(root, 'paused'), S.queued, S.hosts, S.held, S.heldHosts, S.samples);
    raw.paused = r;
    const note = `lease(…, 100, limit 2) then ack; ${S.samples} samples; ${count(S.queued)} ready jobs over ${S.hosts} hosts in both`;
    for (const [which, key] of [
      ['median', 'medianMs'],
      ['p99', 'p99Ms'],
    ] as const) {
      const ratio = r.paused[key] / r.none[key];
      add({
        section,
        name: `lease+ack ${which} beside ${count(S.held)} held jobs over ${count(S.heldHosts)} hosts`,
        value: r.paused[key],
        unit: 'ms',
        baseline: { name: 'no paused crawl', value: r.none[key], unit: 'ms' },
        ratio,
        ratioLabel: 'paused / none',
        target: '≤ 1.5×',
        met: ratio <= 1.5,
        note,
      });
    }
    add({ section, name: `pause (holdCrawl) of ${count(S.held)} jobs`, value: r.holdMs, unit: 'ms', met: null });
    add({ section, name: `resume (holdCrawl false) of ${count(S.held)} jobs`, value: r.releaseMs, unit: 'ms', met: null });
  } catch (err) {
    failed(section, 'paused crawl', err);
  }
}

async function resultsSection(root: string): Promise<void> {
  const r = await resultsFigures(root);
  raw.results = r.raw;
  for (const f of r.figures) add(f);
}

async function editorSection(root: string): Promise<void> {
  const r = await editorFigures(root);
  raw.editor = r.raw;
  for (const f of r.figures) add(f);
}

function printTable(): void {
  // By section number: the daemon's figures are measured before the crawl's but numbered after.
  figures.sort((a, b) => a.section.localeCompare(b.section, 'en', { numeric: true }));
  const rows = figures.map((f) => [
    f.name,
    f.value === null ? 'n/a' : fmt(f.value, f.unit),
    f.baseline ? `${fmt(f.baseline.value, f.baseline.unit)} (${f.baseline.name})` : '',
    f.ratio !== undefined ? fmtRatio(f.ratio) : '',
    f.target ?? '',
    f.met === true ? 'met' : f.met === false ? 'MISSED' : f.note?.startsWith('failed') ? 'FAILED' : '',
  ]);
  const head = ['name', 'figure', 'baseline', 'ratio', 'target', ''];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 || i === 3 ? c.padStart(width[i]) : c.padEnd(width[i])))
      .join('  ')
      .trimEnd();
  let section = '';
  const out: string[] = [line(head), width.map((w) => '-'.repeat(w)).join('  ')];
  figures.forEach((f, i) => {
    if (f.section !== section) {
      section = f.section;
      out.push('', section);
    }
    out.push(line(rows[i]));
  });
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.name}: ${f.note}`);
  process.stdout.write(`\n${out.join('\n')}\n\nNotes:\n${notes.join('\n')}\n`);
}

/** The commit measured, marked dirty when server/ has uncommitted changes; null outside a git checkout. */
function commit(): string | null {
  const root = path.join(__dirname, '..', '..');
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'server'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

function machine(): Record<string, unknown> {
  const sqlite = new Database(':memory:');
  const version = sqlite.prepare('SELECT sqlite_version()').pluck().get();
  sqlite.close();
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    sqlite: version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SECTIONS.includes(w as Section));
  if (unknown.length) {
    process.stderr.write(`unknown section(s): ${unknown.join(', ')}; sections: ${SECTIONS.join(', ')}\n`);
    process.exit(2);
  }
  const sections = wanted.length ? (wanted as Section[]) : [...SECTIONS];
  const started = now();
  const startedAt = new Date().toISOString();
  const loadBefore = os.loadavg();
  const root = makeRoot();
  log(`temp folder ${root}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);
  const run: Record<Section, (root: string) => Promise<void>> = {
    lifecycle: lifecycleSection,
    binding: bindingSection,
    million: millionSection,
    crawl: crawlSection,
    heavy: heavySection,
    soak: soakSection,
    postgres: postgresSection,
    paused: pausedSection,
    results: resultsSection,
    editor: editorSection,
    scale: scaleSection,
  };
  try {
    for (const s of sections) {
      try {
        await run[s](root);
      } catch (err) {
        failed(s, s, err);
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg();
  const wallSeconds = elapsedMs(started) / 1000;
  const measured = commit();
  printTable();
  process.stdout.write(
    `\nCommit ${measured ?? 'unknown'}. Wall time ${wallSeconds.toFixed(0)} s. Load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs` +
      ' (a load above the CPU count means other processes shared the machine and every figure is lower for it).\n',
  );
  const out = path.join(__dirname, '..', '..', 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, 'latest.json'),
    `${JSON.stringify(
      {
        startedAt,
        wallSeconds,
        sections,
        commit: measured,
        machine: machine(),
        loadAverage: { before: loadBefore, after: loadAfter },
        sizes: SIZES,
        figures,
        raw,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`Figures written to ${path.relative(process.cwd(), path.join(out, 'latest.json'))}\n`);
}

void main();
