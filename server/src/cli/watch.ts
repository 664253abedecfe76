/**
 * `crawlctl crawl --wait` and `crawlctl watch`: a live progress line until the crawl ends, woken
 * by the daemon's change notifications (and a slow timer, should one be missed), with what its
 * queued pages wait for under it (a host backing off and why, a paused daemon), then a summary.
 */
import type { DaemonClient } from '../daemon/transport/client';
import { crawlProgress, type Crawl, type Host, type Job } from '../protocol';
import { formatClock, localTimes } from '../times';
import { bar, bytes, duration, indent, lines, plural, table, text, type Text } from './format';
import type { Ui } from './ui';

/** Pages listed by state in the summary. */
const LISTED_FAILURES = 10;
const LISTED_SKIPS = 5;
/** The progress line fits a terminal of 80 columns, the cursor after it included. */
const PROGRESS_WIDTH = 79;
/** How often the hosts of a crawl's queued pages are looked up (hosts/list reads every host). */
const WAITING_CHECK_MS = 3_000;
/** Queued pages whose hosts are looked at: the oldest, which are the ones left waiting. */
const WAITING_PAGES = 100;
/** Hosts named under the progress line, at most. */
const WAITING_HOSTS = 3;

export type WatchEnd = { crawl: Crawl; how: 'ended' } | { crawl: Crawl | null; how: 'interrupted' | 'daemon-gone' };

export async function watchCrawl(client: DaemonClient, crawlId: string, ui: Ui, interrupted: Promise<void>): Promise<WatchEnd> {
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const off = client.onNotification((method, params) => {
    if (method === 'crawl/changed' && (params as { crawl: Crawl }).crawl.crawlId !== crawlId) return;
    poke();
  });
  let stop: 'interrupted' | 'daemon-gone' | null = null;
  void interrupted.then(() => {
    stop ??= 'interrupted';
    poke();
  });
  client.onClose(() => {
    stop ??= 'daemon-gone';
    poke();
  });
  let crawl: Crawl | null = null;
  let notes: Text[] = [];
  let notesAt = -Infinity;
  try {
    await client.request('events/subscribe', {});
    for (;;) {
      if (stop) return { crawl, how: stop };
      try {
        crawl = (await client.request('crawl/get', { crawlId })).crawl;
      } catch (err) {
        if (client.isClosed) continue;
        throw err;
      }
      if (crawl.state === 'finished' || crawl.state === 'cancelled') {
        ui.progressDone(progressLine(crawl));
        return { crawl, how: 'ended' };
      }
      if (crawl.counts.queued === 0) notes = [];
      else if (Date.now() - notesAt >= WAITING_CHECK_MS) {
        notesAt = Date.now();
        try {
          notes = await waitingFor(client, crawlId);
        } catch (err) {
          if (client.isClosed) continue;
          throw err;
        }
      }
      ui.progress([progressLine(crawl), ...notes], JSON.stringify([crawl.state, crawl.counts, notes.map(String)]));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
      // At most a few redraws a second, however busy the crawl.
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    off();
  }
}

/**
 * `[█████████░] 83 finished of 92 found so far · 1 error · 2 running · 21.3 s`: the
 * fraction says what it counts (pages found grow as links are followed), and the parts after it
 * are left out, least useful first, when the line would not fit `width` columns.
 */
export function progressLine(c: Crawl, now = Date.now(), width = PROGRESS_WIDTH): Text {
  const n = c.counts;
  const { finished, found, cancelled } = crawlProgress(c);
  const over = c.state === 'finished' || c.state === 'cancelled';
  const elapsed = (c.finishedAt ? Date.parse(c.finishedAt) : now) - Date.parse(c.createdAt);
  let line = `${bar(found ? finished / found : 0, 10)} ${finished} finished of ${found} found${over ? '' : ' so far'}`;
  if (c.state !== 'running' && c.state !== 'finished') line += ` · ${c.state}`;
  const parts = [
    cancelled ? `${cancelled} cancelled` : '',
    n.error ? plural(n.error, 'error') : '',
    n.in_progress ? `${n.in_progress} running` : '',
    duration(elapsed),
    // Skipped pages are the crawl's rules at work (robots.txt, scope): the least news.
    n.skipped > cancelled ? `${n.skipped - cancelled} skipped` : '',
    `${c.pagesPerSecond.toFixed(1)} pages/s`,
  ];
  for (const part of parts) {
    if (part && [...line].length + 3 + part.length <= width) line += ` · ${part}`;
  }
  return text`${line}`;
}

/**
 * Why the crawl's queued pages wait, one line each: the daemon paused, and the hosts of its oldest
 * queued pages that back off or are blocked, with the daemon's reason (a refused connection, an
 * unreadable robots.txt and when it is tried again).
 */
async function waitingFor(client: DaemonClient, crawlId: string): Promise<Text[]> {
  const [queued, hosts, scheduler] = await Promise.all([
    client.request('jobs/list', { crawlId, state: 'queued', limit: WAITING_PAGES }),
    client.request('hosts/list', {}),
    client.request('scheduler/status', {}),
  ]);
  const notes: Text[] = [];
  if (scheduler.paused) notes.push(text`  this daemon is paused: no page starts until "crawlctl resume"`);
  const mine = new Set(queued.jobs.map((j) => j.host));
  const waiting = hosts.hosts.filter(
    (h): h is Host & { reason: string } => mine.has(h.host) && (h.state === 'backoff' || h.state === 'blocked') && h.reason !== null,
  );
  // The time first: a terminal's width cuts the line's end, and a reason can be long.
  for (const h of waiting.slice(0, WAITING_HOSTS)) {
    notes.push(text`  ${h.host} ${h.state}${h.until ? ` until ${formatClock(h.until, Date.now())}` : ''}: ${localTimes(h.reason, Date.now())}`);
  }
  if (waiting.length > WAITING_HOSTS) notes.push(text`  and ${plural(waiting.length - WAITING_HOSTS, 'host')} more waiting: "crawlctl hosts" lists them`);
  return notes;
}

/** The end of a crawl in a few lines: totals, what was not followed, and what failed and why. */
export function summary(c: Crawl, failed: Job[], skipped: Job[], columns?: number): Text {
  const n = c.counts;
  const { cancelled } = crawlProgress(c);
  const elapsed = (c.finishedAt ? Date.parse(c.finishedAt) : Date.now()) - Date.parse(c.createdAt);
  const unfinished = n.queued + n.in_progress ? ` · left unfinished ${n.queued + n.in_progress}` : '';
  const out = [
    text`Crawl ${c.crawlId}${c.name ? text` (${c.name})` : ''} ${c.state} in ${duration(elapsed)}: ${plural(c.pages, 'page')} fetched, ${bytes(c.bytes)}`,
    text`  done ${n.done} · skipped ${n.skipped - cancelled} · error ${n.error}${cancelled ? ` · cancelled ${cancelled}` : ''}${unfinished}`,
  ];
  if (c.options.sitemaps) out.push(text`  from sitemaps: ${plural(c.fromSitemaps, 'URL')} in scope`);
  const dropped = Object.entries(c.dropped).filter(([, k]) => k > 0);
  if (dropped.length) out.push(text`  links not followed: ${dropped.map(([why, k]) => `${why} ${k}`).join(' · ')}`);
  if (failed.length) {
    out.push(text``, text`Failed pages${n.error > failed.length ? ` (first ${failed.length} of ${n.error})` : ''}:`);
    out.push(
      indent(
        table(
          [
            { title: 'URL', flexible: true },
            { title: 'ERROR', flexible: true },
          ],
          failed.map((j) => [j.url, j.lastError ?? '']),
          columns && columns - 2,
        ),
      ),
    );
  }
  if (skipped.length) {
    out.push(text``, text`Skipped pages${n.skipped > skipped.length ? ` (first ${skipped.length} of ${n.skipped})` : ''}:`);
    out.push(
      indent(
        table(
          [
            { title: 'URL', flexible: true },
            { title: 'WHY', flexible: true },
          ],
          skipped.map((j) => [j.url, j.lastError ?? '']),
          columns && columns - 2,
        ),
      ),
    );
  }
  return lines(out);
}

export async function crawlOutcome(client: DaemonClient, crawlId: string): Promise<{ failed: Job[]; skipped: Job[] }> {
  const [failed, skipped] = await Promise.all([
    client.request('jobs/list', { crawlId, state: 'error', limit: LISTED_FAILURES }),
    client.request('jobs/list', { crawlId, state: 'skipped', limit: LISTED_SKIPS }),
  ]);
  return { failed: failed.jobs, skipped: skipped.jobs };
}
