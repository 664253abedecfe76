/**
 * `crawlctl crawl --wait`: a live progress bar with per-state counts until the crawl ends, woken
 * by the daemon's change notifications (and a slow timer, should one be missed), then a summary.
 */
import type { DaemonClient } from '../daemon/client';
import type { Crawl, Job } from '../protocol';
import { bar, bytes, duration, indent, lines, plural, table, text, type Text } from './format';
import type { Ui } from './ui';

/** Pages listed by state in the summary. */
const LISTED_FAILURES = 10;
const LISTED_SKIPS = 5;

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
      ui.progress(progressLine(crawl), JSON.stringify(crawl.counts));
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

export function progressLine(c: Crawl, now = Date.now()): Text {
  const n = c.counts;
  const finished = n.done + n.skipped + n.error;
  const total = finished + n.queued + n.in_progress;
  const pct = total ? Math.floor((finished / total) * 100) : 0;
  const elapsed = (c.finishedAt ? Date.parse(c.finishedAt) : now) - Date.parse(c.createdAt);
  const counts = `done ${n.done} · skipped ${n.skipped} · error ${n.error} · queued ${n.queued} · running ${n.in_progress}`;
  return text`${bar(total ? finished / total : 0)} ${String(pct).padStart(3)}% ${finished}/${total}  ${counts}  ${c.pagesPerSecond.toFixed(1)} pages/s · ${duration(elapsed)}`;
}

/** The end of a crawl in a few lines: totals, what was not followed, and what failed and why. */
export function summary(c: Crawl, failed: Job[], skipped: Job[], columns?: number): Text {
  const n = c.counts;
  const elapsed = (c.finishedAt ? Date.parse(c.finishedAt) : Date.now()) - Date.parse(c.createdAt);
  const unfinished = n.queued + n.in_progress ? ` · left unfinished ${n.queued + n.in_progress}` : '';
  const out = [
    text`Crawl ${c.crawlId}${c.name ? text` (${c.name})` : ''} ${c.state} in ${duration(elapsed)}: ${plural(c.pages, 'page')} fetched, ${bytes(c.bytes)}`,
    text`  done ${n.done} · skipped ${n.skipped} · error ${n.error}${unfinished}`,
  ];
  const dropped = Object.entries(c.dropped).filter(([, k]) => k > 0);
  if (dropped.length) out.push(text`  links not followed: ${dropped.map(([why, k]) => `${why} ${k}`).join(' · ')}`);
  if (failed.length) {
    out.push(text``, text`Failed pages${n.error > failed.length ? ` (first ${failed.length} of ${n.error})` : ''}:`);
    out.push(indent(table([{ title: 'URL', flexible: true }, { title: 'ERROR', flexible: true }], failed.map((j) => [j.url, j.lastError ?? '']), columns && columns - 2)));
  }
  if (skipped.length) {
    out.push(text``, text`Skipped pages${n.skipped > skipped.length ? ` (first ${skipped.length} of ${n.skipped})` : ''}:`);
    out.push(indent(table([{ title: 'URL', flexible: true }, { title: 'WHY', flexible: true }], skipped.map((j) => [j.url, j.lastError ?? '']), columns && columns - 2)));
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
