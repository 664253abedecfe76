/**
 * Issue 14's figures on what a crawl leaves its user, at scale: page records and the link graph
 * written straight through the engine (no HTTP: the crawl section measures fetching), then read by
 * a real daemon on the same state folder: `crawlctl export` as a user runs it, and `crawl/report`
 * and `crawl/pages` timed over the socket at 100,000 and at 1,000,000 records; the report again on
 * PostgreSQL at 100,000.
 *
 * The records are a generated site shaped like the crawl section's (site.ts), with about ten
 * links a page: 20 hosts of 5,000 pages a site, page n of a host linking to pages 5n+1..5n+5, to
 * its host's root, to pages n-1 and n+1, to four other pages of its host and to two pages of other
 * hosts of the site, every 50th page to a path robots.txt disallows, one page in ten to a page out
 * of scope (a link text of its own); the other texts come from a dozen words and "Page n". 2% of
 * the pages 404 (each linked from ~10 pages, as any page is), 1% redirect, 5% are PDFs or images
 * with no links. Written in the order a crawl meets them (breadth first, the site's hosts in
 * turn), so a page's referrer is recorded before it, as in a crawl. 100,000 records are one such
 * site; a million are ten, the nine more copied from the first in SQL (growByCopies).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgQueue } from '../server/src/core/pg/engine';
import { SqliteQueue } from '../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT, SqliteCrawlStore } from '../server/src/crawl/crawls';
import { urlKey, type LinkWrite, type PageWrite } from '../server/src/crawl/pages';
import { PG_CRAWL_COMPONENT, PgCrawlStore } from '../server/src/crawl/pg-store';
import type { CrawlStore } from '../server/src/crawl/store';
import { DaemonClient } from '../server/src/daemon/transport/client';
import { createDatabase } from '../server/src/demo/pg-cluster';
import type { CrawlOptions } from '../server/src/protocol';
import { DAEMON_MAIN, memoryOf } from './daemon';
import { cpuProfileArgs, elapsedMs, log, median, now, tempDir, type Figure } from './measure';
import { pgServer } from './pg';
import { mix } from './site';

export const RESULTS_SIZES = {
  /** The crawl measured: records written, exported, reported on. */
  pages: 100_000,
  /** The crawl grown to this for the report and paging latency at scale. */
  grown: 1_000_000,
  /** Records per store.pages.write: about what the recorder batches at a few thousand pages/s. */
  batch: 500,
  /** Timed calls of crawl/report, after one warm-up (fewer past 30 s of them); the median is kept. */
  calls: 5,
  /** Timed calls of crawl/pages' first page and of its last, alternating, after a warm-up of each. */
  pagingCalls: 11,
  /** Records per crawl/pages call (the most it gives, and what crawlctl export asks for). */
  pageLimit: 1_000,
};

const SITE = { perHost: 5_000, hostsPerSite: 20 };
const NAV_TEXTS = ['Read more', 'See also', 'Details', 'Back to top', 'Continue', 'Related', 'More', 'Index'];
const PARTNER_TEXTS = ['Partner', 'Our friends', 'Elsewhere'];
const T0 = Date.UTC(2025, 0, 1);
const CRAWLCTL = path.join(__dirname, '..', '..', 'bin', 'crawlctl.js');
const RSS_HOOK = path.join(__dirname, 'rss-hook.js');

function depthOf(page: number): number {
  let d = 0;
  for (let p = page; p > 0; p = Math.floor((p - 1) / 5)) d++;
  return d;
}

const pageUrl = (host: number, page: number) => `http://h${host}.example${page === 0 ? '/' : `/p/${page}`}`;

/** The i-th record of the generated crawl: the same for the same i in every run. */
export function pageAt(crawlId: string, i: number): PageWrite {
  const H = SITE.hostsPerSite;
  const siteSize = SITE.perHost * H;
  const site = Math.floor(i / siteSize);
  const local = (i % siteSize) % H;
  const h = site * H + local;
  const p = Math.floor((i % siteSize) / H);
  const host = `h${h}.example`;
  // Never page 0 (the root, "/").
  const pick = (n: number) => 1 + (n % (SITE.perHost - 1));
  const base = {
    crawlId,
    url: pageUrl(h, p),
    host,
    jobId: i + 1,
    depth: depthOf(p),
    error: null,
    skipped: false,
    via: [] as string[],
    fetchedAt: T0 + i * 7,
    canonical: null,
    robots: null,
    sha256: null,
    data: null,
    lastmod: null,
    // 1% slow pages, so that "slowest" has something to rank.
    fetchMs: 3 + (mix(p, h + 2) % 300) + (mix(p + 3, h) % 100 === 0 ? 1_000 + (mix(h, p + 3) % 5_000) : 0),
  };
  const none = { redirectTo: null, title: null, description: null, lang: null, links: null };
  const r = p === 0 ? 999 : mix(h + 1, p) % 1000;
  // As the page handler records a 404: failed, with the fetcher's reason, its links not read.
  if (r < 20) return { ...base, ...none, status: 404, error: 'HTTP 404', contentType: 'text/html', bytes: 512 };
  if (r < 30) return { ...base, ...none, status: 301, contentType: 'text/html', bytes: 162, redirectTo: pageUrl(h, pick(mix(h, p + 11))) };
  const kind = mix(p + 5, h) % 100;
  if (kind < 3) return { ...base, ...none, status: 200, contentType: 'application/pdf', bytes: 50_000 + (mix(h + 4, p) % 2_000_000) };
  if (kind < 5) return { ...base, ...none, status: 200, contentType: 'image/png', bytes: 5_000 + (mix(h + 4, p) % 300_000) };
  const links: LinkWrite[] = [];
  for (let c = 5 * p + 1; c <= 5 * p + 5 && c < SITE.perHost; c++) links.push({ url: pageUrl(h, c), text: `Page ${c}`, reason: null });
  links.push({ url: pageUrl(h, 0), text: 'Home', reason: null });
  if (p > 0) links.push({ url: pageUrl(h, p - 1), text: 'Previous', reason: null });
  if (p + 1 < SITE.perHost) links.push({ url: pageUrl(h, p + 1), text: 'Next', reason: null });
  for (const k of [1, 2, 3, 4]) links.push({ url: pageUrl(h, pick(mix(h + 7 * k, p))), text: NAV_TEXTS[mix(p, h + k) % NAV_TEXTS.length], reason: null });
  for (const k of [1, 2]) {
    const other = site * H + ((local + 1 + (mix(h + k, p) % (H - 1))) % H);
    links.push({ url: pageUrl(other, pick(mix(other, p + k))), text: PARTNER_TEXTS[mix(h, p + k) % PARTNER_TEXTS.length], reason: null });
  }
  if (p % 50 === 0) links.push({ url: `http://${host}/private/${p}`, text: 'Private', reason: 'robots.txt' });
  if (mix(h + 9, p) % 10 === 0) {
    links.push({ url: `https://ref${mix(p, h + 9) % 100}.example.org/${h}/${p}`, text: `Reference for page ${p} of ${host}`, reason: 'out of scope' });
  }
  return {
    ...base,
    redirectTo: null,
    status: 200,
    contentType: 'text/html',
    bytes: 3_000 + (mix(h + 4, p) % 120_000),
    title: mix(h + 6, p) % 100 === 0 ? null : `Page ${p} of ${host}`,
    description: mix(p + 6, h) % 10 < 7 ? `What page ${p} of ${host} is about, in a sentence or two.` : null,
    lang: 'en',
    links,
  };
}

const OPTIONS: CrawlOptions = {
  maxDepth: null,
  maxPages: 100_000_000,
  scope: 'host',
  include: [],
  exclude: [],
  followNofollow: false,
  storeBodies: false,
  addresses: 'any',
};

/** A crawl row, finished, so that a daemon opening the database leaves it alone. */
async function insertCrawl(store: CrawlStore, crawlId: string): Promise<void> {
  await store.insert({ id: crawlId, name: crawlId, seeds: [pageUrl(0, 0)], options: OPTIONS, now: Date.now() });
  await store.setState(crawlId, 'finished', Date.now());
}

interface Written {
  records: number;
  links: number;
  /** Time inside store.pages.write only (not generating the records). */
  writeMs: number;
  wallMs: number;
  recordsPerSecond: number;
}

/** Records [from, to) of the generated crawl, through the engine's own write path, `batch` at a time. */
async function writePages(store: CrawlStore, crawlId: string, from: number, to: number, batch: number, label: string): Promise<Written> {
  let writeMs = 0;
  let links = 0;
  const start = now();
  let next = from + 100_000;
  for (let i = from; i < to; i += batch) {
    const pages: PageWrite[] = [];
    for (let k = i; k < Math.min(to, i + batch); k++) pages.push(pageAt(crawlId, k));
    for (const w of pages) links += w.links?.length ?? 0;
    const t = now();
    await store.pages.write(pages);
    writeMs += elapsedMs(t);
    if (i + batch >= next && i + batch < to) {
      log(`results: ${label}: ${(i + batch).toLocaleString('en-US')} records, ${(((i + batch - from) * 1000) / writeMs).toFixed(0)} records/s`);
      next += 100_000;
    }
  }
  return { records: to - from, links, writeMs, wallMs: elapsedMs(start), recordsPerSecond: ((to - from) * 1000) / writeMs };
}

const fileBytes = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
/** The database on disk: its file and WAL (the WAL is checkpointed into the file when the last connection closes). */
const dbBytes = (file: string) => fileBytes(file) + fileBytes(`${file}-wal`);

interface Daemon {
  child: ChildProcess;
  client: DaemonClient;
  socket: string;
  stop(): Promise<void>;
}

/** `crawld` as the benchmark runs it elsewhere (daemon.ts), on a state folder and perhaps --db. */
async function startDaemon(stateDir: string, extra: string[] = []): Promise<Daemon> {
  const socket = path.join(stateDir, 'd.sock');
  const child = spawn(process.execPath, [...cpuProfileArgs(), DAEMON_MAIN, '--state-dir', stateDir, '--socket', socket, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = Date.now() + 60_000;
  let client: DaemonClient;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited with ${child.exitCode} before serving: ${stderr.trim().slice(-800)}`);
    try {
      client = await DaemonClient.connect(socket);
      break;
    } catch {
      if (Date.now() > end) {
        child.kill('SIGKILL');
        throw new Error(`the daemon did not serve ${socket} within 60 s: ${stderr.trim().slice(-800)}`);
      }
      await sleep(50);
    }
  }
  return {
    child,
    client,
    socket,
    stop: async () => {
      if (child.exitCode === null) {
        try {
          await client.requestWithin('daemon/shutdown', {}, 5_000);
        } catch {
          child.kill('SIGTERM');
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      client.close();
    },
  };
}

export interface ExportRun {
  what: string;
  records: number;
  ms: number;
  recordsPerSecond: number;
  fileMb: number;
  /** The crawlctl process's peak RSS (the kernel's high-water mark, at its exit). */
  peakRssMb: number;
  /** The daemon's RSS high-water mark so far, read after the export. */
  daemonHwmMb: number;
  /** crawlctl's RSS, sampled every 50 ms: the most while it wrote the first half of the file, and the second. */
  rssFirstHalfMb: number;
  rssSecondHalfMb: number;
}

/**
 * The real `crawlctl export`, a process of its own, timed from spawn to exit (node's start
 * included: what a user waits for). Its records are counted in the file it wrote.
 */
async function runExport(d: Daemon, dir: string, crawlId: string, what: 'pages' | 'links'): Promise<ExportRun> {
  const out = path.join(dir, `${crawlId}-${what}.jsonl`);
  const rssFile = path.join(dir, `${crawlId}-${what}.rss.json`);
  const start = now();
  const child = spawn(
    process.execPath,
    [...cpuProfileArgs(), '--require', RSS_HOOK, CRAWLCTL, 'export', crawlId, '--what', what, '--format', 'jsonl', '-o', out, '--socket', d.socket],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, BENCH_RSS_FILE: rssFile },
    },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  // RSS against the bytes written so far, to tell memory that grows with the records from a heap settling.
  const samples: { bytes: number; rssMb: number }[] = [];
  const sampler = setInterval(() => {
    try {
      const rssMb = memoryOf(child.pid!).rssMb;
      // NaN once it has exited and not yet been reaped (a zombie has no VmRSS).
      if (Number.isFinite(rssMb)) samples.push({ bytes: fileBytes(out), rssMb });
    } catch {
      // Exited between two samples.
    }
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearInterval(sampler);
  clearTimeout(timer);
  const ms = elapsedMs(start);
  if (code !== 0) throw new Error(`crawlctl export --what ${what} exited with ${code}: ${stderr.trim().slice(-500)}`);
  let records = 0;
  const buf = Buffer.alloc(1 << 20);
  const fd = fs.openSync(out, 'r');
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) {
    for (let k = buf.indexOf(10); k !== -1 && k < n; k = buf.indexOf(10, k + 1)) records++;
  }
  fs.closeSync(fd);
  const fileMb = fileBytes(out) / 1e6;
  fs.rmSync(out);
  const peakRssMb = (JSON.parse(fs.readFileSync(rssFile, 'utf8')) as { maxRssKb: number }).maxRssKb / 1024;
  const total = fileMb * 1e6;
  const maxRss = (xs: typeof samples) => (xs.length ? Math.max(...xs.map((x) => x.rssMb)) : NaN);
  const r = {
    what,
    records,
    ms,
    recordsPerSecond: (records * 1000) / ms,
    fileMb,
    peakRssMb,
    daemonHwmMb: memoryOf(d.child.pid!).hwmMb,
    rssFirstHalfMb: maxRss(samples.filter((x) => x.bytes > 0 && x.bytes <= total / 2)),
    rssSecondHalfMb: maxRss(samples.filter((x) => x.bytes > total / 2)),
  };
  log(
    `results: export ${what} of ${crawlId}: ${records.toLocaleString('en-US')} in ${(ms / 1000).toFixed(1)} s (${r.recordsPerSecond.toFixed(0)}/s), crawlctl peak RSS ${peakRssMb.toFixed(0)} MB`,
  );
  return r;
}

export interface Timed {
  medianMs: number;
  samplesMs: number[];
  /** Of the last answer, as JSON: what went over the socket. */
  answerBytes: number;
}

/**
 * One warm-up call, then `calls` timed ones at the client, one after the other; fewer (one at
 * least) once `budgetMs` of timed calls are spent, so that a slow call does not hold up the section.
 */
async function timed(calls: number, fn: () => Promise<unknown>, budgetMs = 30_000): Promise<Timed> {
  await fn();
  const samplesMs: number[] = [];
  let last: unknown;
  for (let spent = 0; samplesMs.length < calls && (samplesMs.length === 0 || spent < budgetMs);) {
    const t = now();
    last = await fn();
    samplesMs.push(elapsedMs(t));
    spent += samplesMs[samplesMs.length - 1];
  }
  return { medianMs: median(samplesMs), samplesMs, answerBytes: Buffer.byteLength(JSON.stringify(last)) };
}

const REPORT_TIMEOUT_MS = 300_000;

function reportLatency(d: Daemon, crawlId: string, calls: number): Promise<Timed> {
  return timed(calls, () => d.client.requestWithin('crawl/report', { crawlId }, REPORT_TIMEOUT_MS));
}

/**
 * crawl/pages' first page and its last, by the cursor paging would reach it with: one warm-up of
 * each, then `calls` of each, alternating, so that a disturbance of the machine falls on both.
 */
async function pagingLatency(
  d: Daemon,
  crawlId: string,
  cursors: { last: string; afterFirst: string },
  calls: number,
  limit: number,
): Promise<{ first: Timed; last: Timed }> {
  const page = async (cursor: string | null) => {
    const r = await d.client.requestWithin('crawl/pages', { crawlId, cursor, limit }, REPORT_TIMEOUT_MS);
    if (r.pages.length !== limit) throw new Error(`crawl/pages after cursor ${cursor} gave ${r.pages.length} records, not ${limit}`);
    return r;
  };
  const head = await page(null);
  if (head.nextCursor !== cursors.afterFirst) {
    throw new Error(`crawl/pages' cursor is not built as bench/results.ts builds it (${head.nextCursor} given, ${cursors.afterFirst} built): update cursorAt`);
  }
  await page(cursors.last);
  const samples: Record<'first' | 'last', number[]> = { first: [], last: [] };
  for (let i = 0; i < calls; i++) {
    for (const which of ['first', 'last'] as const) {
      const t = now();
      await page(which === 'first' ? null : cursors.last);
      samples[which].push(elapsedMs(t));
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(head));
  const t = (xs: number[]): Timed => ({ medianMs: median(xs), samplesMs: xs, answerBytes: bytes });
  return { first: t(samples.first), last: t(samples.last) };
}

/**
 * crawl/pages' cursor after the record at `offset` in its order (url ids, when no status is
 * asked for), built as the daemon builds it (`<status>.<url id>`, pages.ts). `check` is the
 * first page's own next cursor: a cursor built here that differs from it means the format changed.
 */
function cursorAt(q: SqliteQueue, crawlId: string, offset: number, fromEnd: boolean): string {
  const r = q.db
    .prepare(`SELECT status, url_id AS urlId FROM pages WHERE crawl_id = ? ORDER BY url_id ${fromEnd ? 'DESC' : ''} LIMIT 1 OFFSET ?`)
    .get(crawlId, offset) as { status: number | null; urlId: number };
  return `${r.status ?? 0}.${r.urlId}`;
}

/** The cursor paging to the end asks for last (the last `limit` records after it), and what the first page's cursor should be. */
function pagingCursors(q: SqliteQueue, crawlId: string, limit: number): { last: string; afterFirst: string } {
  return { last: cursorAt(q, crawlId, limit, true), afterFirst: cursorAt(q, crawlId, limit - 1, false) };
}

/**
 * The crawl grown from its first site to `sites` sites in SQL, on the benchmark's own connection:
 * each further site a copy of the first (its records, URLs and links) with its host names, job
 * ids and fetch times shifted, as the generator would have made them but for which pages 404 or
 * redirect (other pages of the same shape) and the link texts (the first site's, shared). Through
 * store.pages.write, the 900,000 more took over nine minutes (1,600 records/s and falling), past
 * this section's budget; the write path is measured on the first 100,000.
 */
function growByCopies(q: SqliteQueue, crawlId: string, sites: number, perSite: number): void {
  const db = q.db;
  const range = db.prepare('SELECT min(id) AS lo, max(id) AS hi, count(*) AS n FROM crawl_urls WHERE crawl_id = ?').get(crawlId) as {
    lo: number;
    hi: number;
    n: number;
  };
  if (range.n !== range.hi - range.lo + 1) throw new Error("the first site's URL ids are not contiguous: write it before anything else");
  const pages = db.prepare('SELECT count(*) FROM pages WHERE crawl_id = ?').pluck().get(crawlId) as number;
  if (pages !== perSite) throw new Error(`the crawl has ${pages} records, not one site's ${perSite}`);
  // Host numbers in URLs, host names, titles and descriptions ("h5.example"), and in the path of out-of-scope links ("/5/617").
  db.function(
    'bench_shift',
    { deterministic: true },
    (text: unknown, by: unknown) =>
      (typeof text !== 'string'
        ? text
        : text
            .replace(/\bh(\d+)\.example\b/g, (_, n: string) => `h${Number(n) + Number(by)}.example`)
            .replace(/(\.example\.org\/)(\d+)\//, (_, a: string, n: string) => `${a}${Number(n) + Number(by)}/`)) as string,
  );
  // Every column copied as it is but those shifted: a column added later is copied too.
  const columns = (table: string) => db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[];
  const shifted: Record<string, string> = {
    url_id: 'url_id + @delta',
    redirect_to: 'redirect_to + @delta',
    found_on: 'found_on + @delta',
    job_id: 'job_id + @jobs',
    fetched_at: 'fetched_at + @time',
    host: 'bench_shift(host, @hosts)',
    title: 'bench_shift(title, @hosts)',
    description: 'bench_shift(description, @hosts)',
    // A page's links (SQLite keeps them with its record: [to_id, text_id, reason], by to_id).
    links: `iif(links IS NULL, NULL, (SELECT json_group_array(json_array(j.value ->> 0 + @delta, j.value ->> 1, j.value ->> 2) ORDER BY j.key) FROM json_each(links) j))`,
  };
  const pageCols = columns('pages');
  const linkCols = columns('links');
  // A copy's URLs are new URLs of the crawl: their key is the store's (urlKey), made here in JS.
  db.function('bench_url_key', { deterministic: true }, (crawl: unknown, url: unknown) => urlKey(String(crawl), String(url)));
  const copyUrls = db.prepare(`INSERT INTO crawl_urls (id, crawl_id, url, key)
    SELECT id + @delta, crawl_id, bench_shift(url, @hosts), bench_url_key(crawl_id, bench_shift(url, @hosts))
      FROM crawl_urls WHERE crawl_id = @crawlId AND id BETWEEN @lo AND @hi`);
  const copyPages = db.prepare(`INSERT INTO pages (${pageCols.join(', ')})
    SELECT ${pageCols.map((c) => shifted[c] ?? c).join(', ')} FROM pages WHERE crawl_id = @crawlId AND url_id BETWEEN @lo AND @hi`);
  const copyLinks = db.prepare(`INSERT INTO links_merged (${linkCols.join(', ')})
    SELECT ${linkCols.map((c) => (c === 'from_id' || c === 'to_id' ? `${c} + @delta` : c)).join(', ')} FROM links WHERE to_id BETWEEN @lo AND @hi`);
  // The first site's figures (page_groups, kept by the store as records are written), copied per copy under its hosts.
  const firstGroups = db.prepare('SELECT * FROM page_groups WHERE crawl_id = ?').all(crawlId) as Record<string, unknown>[];
  const addGroup = db.prepare(`INSERT INTO page_groups (crawl_id, host, content_type, status, pages, failed, fetch_ms_sum, fetch_ms_count, missing_titles)
    VALUES (@crawl_id, bench_shift(@host, @hosts), @content_type, @status, @pages, @failed, @fetch_ms_sum, @fetch_ms_count, @missing_titles)`);
  const copyGroups = {
    run: (p: { hosts: number }) => {
      for (const g of firstGroups) addGroup.run({ ...g, hosts: p.hosts });
    },
  };
  const maxId = db.prepare('SELECT max(id) FROM crawl_urls').pluck();
  for (let site = 1; site < sites; site++) {
    db.transaction(() => {
      const params = {
        crawlId,
        lo: range.lo,
        hi: range.hi,
        delta: (maxId.get() as number) + 1 - range.lo,
        hosts: site * SITE.hostsPerSite,
        jobs: site * perSite,
        time: site * perSite * 7,
      };
      copyUrls.run(params);
      copyPages.run(params);
      copyLinks.run(params);
      // The copies' figures, as the store keeps them: their hosts' rows of page_groups, shifted.
      copyGroups.run(params);
    }).immediate();
    log(`results: grown to ${((site + 1) * perSite).toLocaleString('en-US')} records`);
  }
}

export interface ResultsRaw {
  write?: Written & { dbBytes: number; bytesPerRecord: number };
  grow?: { records: number; links: number; ms: number; dbBytes: number; bytesPerRecord: number };
  exports?: { pages?: ExportRun; pagesGrown?: ExportRun; links?: ExportRun };
  report?: { at100k?: Timed; at1m?: Timed; pg100k?: Timed };
  paging?: { at100k?: { first: Timed; last: Timed }; at1m?: { first: Timed; last: Timed } };
  pgWrite?: Written;
}

export async function resultsFigures(root: string): Promise<{ figures: Figure[]; raw: ResultsRaw }> {
  const S = RESULTS_SIZES;
  const figures: Figure[] = [];
  const raw: ResultsRaw = { exports: {}, report: {}, paging: {} };
  const written = '11. Page records: writes and export';
  const latency = '12. Page records: crawl/report and crawl/pages latency';
  const count = (n: number) => n.toLocaleString('en-US');
  const failed = (section: string, name: string, err: unknown) => {
    const message = (err as Error).message ?? String(err);
    log(`results: ${name} failed: ${message}`);
    figures.push({ section, name, value: null, unit: '', met: null, note: `failed: ${message.slice(0, 300)}` });
  };
  const dir = tempDir(root, 'results');
  const file = path.join(dir, 'queue.db');
  const big = 'c_bench_big';
  const open = () => new SqliteQueue(file, { components: [CRAWL_COMPONENT] });

  // a. The records, through the engine's write path, on a fresh file with the queue's settings.
  {
    const q = open();
    const store = new SqliteCrawlStore(q.db);
    await insertCrawl(store, big);
    log(`results: writing ${count(S.pages)} page records...`);
    const w = await writePages(store, big, 0, S.pages, S.batch, 'write');
    // What the copies and cursors below read with their own SQL.
    q.db.transaction(() => store.pages.moveLogs()).immediate();
    await q.close();
    const bytes = dbBytes(file);
    raw.write = { ...w, dbBytes: bytes, bytesPerRecord: bytes / S.pages };
    log(`results: ${w.recordsPerSecond.toFixed(0)} records/s; ${(bytes / 1e6).toFixed(0)} MB`);
    figures.push({
      section: written,
      name: `${count(S.pages)} page records through store.pages.write`,
      value: w.recordsPerSecond,
      unit: 'records/s',
      met: null,
      note:
        `batches of ${S.batch}, one transaction each; ${count(w.links)} links (${(w.links / S.pages).toFixed(1)} a record); ` +
        `time inside write() only: ${(w.writeMs / 1000).toFixed(1)} s (${(w.wallMs / 1000).toFixed(1)} s with generating the records)`,
    });
    figures.push({
      section: written,
      name: `database bytes per record at ${count(S.pages)}`,
      value: bytes / S.pages,
      unit: 'B',
      met: null,
      note:
        `the SQLite file once closed (WAL checkpointed): ${(bytes / 1e6).toFixed(0)} MB of records, URLs, link texts and links (no jobs); ` +
        `projected for a million records: ${(((bytes / S.pages) * 1e6) / 1e6).toFixed(0)} MB`,
    });
  }

  // b and c at 100,000: the real crawlctl export, the report and paging, from a real daemon on this folder.
  let q = open();
  const cursors100k = pagingCursors(q, big, S.pageLimit);
  await q.close();
  let d = await startDaemon(dir);
  try {
    try {
      // A daemon that has just started reads a cold database with code not yet compiled: the
      // first export is timed apart, and the second is the figure, as the latencies below are
      // taken after a warm-up (a user exports from a daemon that ran the crawl).
      const cold = await runExport(d, dir, big, 'pages');
      const pages = await runExport(d, dir, big, 'pages');
      raw.exports!.pages = pages;
      figures.push({
        section: written,
        name: `crawlctl export --what pages --format jsonl, ${count(S.pages)} records`,
        value: pages.recordsPerSecond,
        unit: 'records/s',
        target: '≥ 50,000',
        met: pages.recordsPerSecond >= 50_000,
        note:
          `the real command (bin/crawlctl.js) against a daemon on the folder, to a file, timed from spawn to exit (node's start included), ` +
          `after one export from the daemon just started (${(cold.ms / 1000).toFixed(2)} s, ${cold.recordsPerSecond.toFixed(0)}/s): ` +
          `${(pages.ms / 1000).toFixed(2)} s for ${count(pages.records)} lines, ${pages.fileMb.toFixed(0)} MB; ` +
          `daemon's peak RSS by then ${pages.daemonHwmMb.toFixed(0)} MB`,
      });
    } catch (err) {
      failed(written, 'crawlctl export --what pages', err);
    }
    try {
      const links = await runExport(d, dir, big, 'links');
      raw.exports!.links = links;
      figures.push({
        section: written,
        name: `crawlctl export --what links, ${count(S.pages)} pages`,
        value: links.recordsPerSecond,
        unit: 'records/s',
        met: null,
        note: `${count(links.records)} links in ${(links.ms / 1000).toFixed(1)} s, ${links.fileMb.toFixed(0)} MB; crawlctl peak RSS ${links.peakRssMb.toFixed(0)} MB`,
      });
    } catch (err) {
      failed(written, 'crawlctl export --what links', err);
    }
    try {
      raw.report!.at100k = await reportLatency(d, big, S.calls);
    } catch (err) {
      failed(latency, `crawl/report at ${count(S.pages)}`, err);
    }
    try {
      raw.paging!.at100k = await pagingLatency(d, big, cursors100k, S.pagingCalls, S.pageLimit);
    } catch (err) {
      failed(latency, `crawl/pages at ${count(S.pages)}`, err);
    }
  } finally {
    await d.stop();
  }

  // c at 1,000,000: the same crawl grown to ten sites.
  let cursors1m: { last: string; afterFirst: string } | null = null;
  try {
    q = open();
    // The copy's own cache, so that it is quick; the daemon reads with the queue's settings.
    q.db.pragma('cache_size = -262144');
    log(`results: growing the crawl to ${count(S.grown)} records...`);
    const start = now();
    growByCopies(q, big, Math.round(S.grown / S.pages), S.pages);
    const ms = elapsedMs(start);
    cursors1m = pagingCursors(q, big, S.pageLimit);
    const records = q.db.prepare('SELECT count(*) FROM pages WHERE crawl_id = ?').pluck().get(big) as number;
    const links = q.db.prepare('SELECT count(*) FROM links').pluck().get() as number;
    await q.close();
    const bytes = dbBytes(file);
    raw.grow = { records, links, ms, dbBytes: bytes, bytesPerRecord: bytes / records };
    figures.push({
      section: written,
      name: `database bytes per record at ${count(records)}`,
      value: bytes / records,
      unit: 'B',
      met: null,
      note:
        `grown in SQL in ${(ms / 1000).toFixed(0)} s (copies of the first ${count(S.pages)} under other hosts, see growByCopies); ` +
        `${(bytes / 1e6).toFixed(0)} MB, ${count(links)} links; the copies share the first site's link texts`,
    });
  } catch (err) {
    failed(written, `growing to ${count(S.grown)}`, err);
  }
  if (cursors1m !== null) {
    d = await startDaemon(dir);
    try {
      // The exporter's memory must not grow with the crawl: the same export at ten times the
      // records. (Against a smaller export, its peak would measure V8's heap settling, which takes
      // longer than 10,000 records; after that it stays put.)
      const pages = raw.exports!.pages;
      try {
        const grown = await runExport(d, dir, big, 'pages');
        raw.exports!.pagesGrown = grown;
        if (pages) {
          const ratio = grown.peakRssMb / pages.peakRssMb;
          figures.push({
            section: written,
            name: `crawlctl export peak RSS, ${count(grown.records)} vs ${count(pages.records)} records`,
            value: grown.peakRssMb,
            unit: 'MB',
            baseline: { name: `${count(pages.records)} records`, value: pages.peakRssMb, unit: 'MB' },
            ratio,
            ratioLabel: 'large / small',
            target: 'flat (≤ 1.2×)',
            met: ratio <= 1.2,
            note:
              `the exporting process's own high-water mark (VmHWM at its exit); sampled every 50 ms, its RSS peaked at ` +
              `${grown.rssFirstHalfMb.toFixed(0)} MB while it wrote the first half of the ${count(grown.records)} records and ${grown.rssSecondHalfMb.toFixed(0)} MB the second; ` +
              `${count(grown.records)} records at ${grown.recordsPerSecond.toFixed(0)}/s`,
          });
        }
      } catch (err) {
        failed(written, `crawlctl export --what pages at ${count(S.grown)}`, err);
      }
      try {
        raw.report!.at1m = await reportLatency(d, big, S.calls);
      } catch (err) {
        failed(latency, `crawl/report at ${count(S.grown)}`, err);
      }
      try {
        raw.paging!.at1m = await pagingLatency(d, big, cursors1m, S.pagingCalls, S.pageLimit);
      } catch (err) {
        failed(latency, `crawl/pages at ${count(S.grown)}`, err);
      }
    } finally {
      await d.stop();
    }
  }
  const { at100k, at1m } = raw.report!;
  const calls = (t: Timed) =>
    t.samplesMs.length === S.calls
      ? `median of ${S.calls} after a warm-up`
      : `${t.samplesMs.length} call(s) after a warm-up (each slow: ${S.calls} would hold up the section)`;
  const reportNote = (t: Timed) =>
    `${calls(t)}, timed at the client (DaemonClient); ${(t.answerBytes / 1e6).toFixed(1)} MB of JSON; samples ${t.samplesMs.map((x) => x.toFixed(0)).join(', ')} ms`;
  if (at100k) {
    figures.push({
      section: latency,
      name: `crawl/report at ${count(S.pages)} pages`,
      value: at100k.medianMs,
      unit: 'ms',
      target: '< 1 s',
      met: at100k.medianMs < 1000,
      note: reportNote(at100k),
    });
  }
  if (at1m) {
    figures.push({
      section: latency,
      name: `crawl/report at ${count(S.grown)} pages`,
      value: at1m.medianMs,
      unit: 'ms',
      target: '< 1 s',
      met: at1m.medianMs < 1000,
      note: reportNote(at1m),
      ...(at100k && {
        baseline: { name: `${count(S.pages)} pages`, value: at100k.medianMs, unit: 'ms' },
        ratio: at1m.medianMs / at100k.medianMs,
        ratioLabel: '1M / 100k',
      }),
    });
  }
  for (const [size, p] of [
    [S.pages, raw.paging!.at100k],
    [S.grown, raw.paging!.at1m],
  ] as const) {
    if (!p) continue;
    const ratio = p.last.medianMs / p.first.medianMs;
    figures.push({
      section: latency,
      name: `crawl/pages, last page vs first, at ${count(size)} (limit ${S.pageLimit})`,
      value: p.last.medianMs,
      unit: 'ms',
      baseline: { name: 'first page', value: p.first.medianMs, unit: 'ms' },
      ratio,
      ratioLabel: 'last / first',
      target: 'flat (≤ 1.5×)',
      met: ratio <= 1.5,
      note: `the last page by the cursor paging reaches it with; median of ${p.last.samplesMs.length} of each, alternating, after a warm-up of each; ${(p.first.answerBytes / 1e6).toFixed(1)} MB a page`,
    });
  }

  // d. The report on PostgreSQL at 100,000: the same records through PgPageStore's write path.
  try {
    const server = pgServer();
    let pd: Daemon | null = null;
    try {
      const name = `crawl_bench_results_${process.pid}`;
      await createDatabase(server.adminUrl, name);
      const url = server.urlFor(name);
      const pq = await PgQueue.open(url, { components: [PG_CRAWL_COMPONENT] });
      try {
        const store = new PgCrawlStore(pq.pool);
        await insertCrawl(store, big);
        log(`results: writing ${count(S.pages)} page records on PostgreSQL...`);
        raw.pgWrite = await writePages(store, big, 0, S.pages, S.batch, 'PostgreSQL');
        // Planner statistics, as autovacuum would have gathered them by the time a crawl this size ends.
        await pq.pool.query('ANALYZE');
      } finally {
        await pq.close();
      }
      pd = await startDaemon(tempDir(root, 'results-pg'), ['--db', url]);
      raw.report!.pg100k = await reportLatency(pd, big, S.calls);
    } finally {
      await pd?.stop();
      server.stop();
    }
    const t = raw.report!.pg100k;
    figures.push({
      section: latency,
      name: `crawl/report at ${count(S.pages)} pages on PostgreSQL`,
      value: t.medianMs,
      unit: 'ms',
      target: '< 1 s',
      met: t.medianMs < 1000,
      ...(at100k && {
        baseline: { name: 'SQLite', value: at100k.medianMs, unit: 'ms' },
        ratio: t.medianMs / at100k.medianMs,
        ratioLabel: 'PostgreSQL / SQLite',
      }),
      note: `${reportNote(t)}; a throwaway cluster (bench/pg.ts)`,
    });
    figures.push({
      section: written,
      name: `${count(S.pages)} page records through store.pages.write on PostgreSQL`,
      value: raw.pgWrite.recordsPerSecond,
      unit: 'records/s',
      ...(raw.write && {
        baseline: { name: 'SQLite', value: raw.write.recordsPerSecond, unit: 'records/s' },
        ratio: raw.pgWrite.recordsPerSecond / raw.write.recordsPerSecond,
        ratioLabel: 'PostgreSQL / SQLite',
      }),
      met: null,
      note: `batches of ${S.batch}; time inside write() only`,
    });
  } catch (err) {
    failed(latency, `crawl/report at ${count(S.pages)} on PostgreSQL`, err);
  }
  return { figures, raw };
}
