/**
 * Why nothing runs while jobs wait, in a sentence a user can act on: the scheduler is paused,
 * leasing or committing fails, every host with work is at its limit, backing off or delayed (and until when),
 * crawls are paused, origins wait for their robots.txt, retries are waiting out their backoff.
 */
import type { Queue } from '../core/types';
import type { SchedulerStatus } from '../core/scheduler';
import type { CrawlService } from '../crawl/service';
import { crawlLabel } from '../protocol';
import { iso } from './wire';

/** Hosts named one by one before the rest are summed up. */
const NAMED_HOSTS = 3;

export async function idleReason(queue: Queue, crawls: CrawlService, status: SchedulerStatus, defaultLimit: number): Promise<string | null> {
  // Backoffs and delays are on the queue's clock (the server's on PostgreSQL).
  const now = queue.now();
  const { queued } = await queue.stats();
  if (queued === 0) return null;
  const waiting = `${queued} job${queued === 1 ? ' is' : 's are'} queued`;
  if (status.paused) return `The scheduler is paused while ${waiting}; resume it to continue.`;
  // Before the running check: jobs that cannot be committed hold their slots and stop leasing.
  if (status.lastError) return `Nothing ${status.running > 0 ? 'more ' : ''}runs although ${waiting}: ${status.lastError}.`;
  if (status.running > 0) return null;

  const atLimit: string[] = [];
  const backingOff: string[] = [];
  const delayed: string[] = [];
  for (const k of await queue.keys({ defaultLimit, limit: 1000, live: true })) {
    if (k.queued === 0) continue;
    if (k.inFlight >= k.limit) atLimit.push(`${k.key} (${k.inFlight}/${k.limit})`);
    else if (k.deferredUntil !== null && k.deferredUntil > now) {
      backingOff.push(`${k.key} until ${iso(k.deferredUntil)}${k.deferReason ? ` (${k.deferReason})` : ''}`);
    } else if (k.nextStartAt !== null && k.nextStartAt > now) delayed.push(`${k.key} until ${iso(k.nextStartAt)}`);
  }
  const paused = (await crawls.list()).filter((c) => c.state === 'paused' && c.counts.queued > 0);
  const parts: string[] = [];
  if (atLimit.length) parts.push(`at the per-host limit, held by other workers: ${hosts(atLimit)}`);
  if (backingOff.length) parts.push(`backing off: ${hosts(backingOff)}`);
  if (delayed.length) parts.push(`waiting out a crawl delay: ${hosts(delayed)}`);
  if (paused.length) {
    const held = paused.reduce((n, c) => n + c.counts.queued, 0);
    parts.push(
      `${held} job${held === 1 ? ' belongs' : 's belong'} to paused crawl${paused.length === 1 ? '' : 's'} ${paused
        .map((c) => crawlLabel({ crawlId: c.id, name: c.name }))
        .slice(0, NAMED_HOSTS)
        .join(', ')}${paused.length > NAMED_HOSTS ? ', …' : ''}`,
    );
  }
  // An origin waiting for its robots.txt holds its pages, not its host's key: only the crawl kind knows it.
  const blocked = parts.length ? [] : (await crawls.hosts({ defaultLimit })).filter((h) => h.state === 'blocked' && h.queued > 0);
  if (blocked.length) parts.push(`waiting for robots.txt: ${hosts(blocked.map((h) => `${h.reason} until ${iso(h.until)}`))}`);
  const wake = await queue.nextWakeAt();
  if (wake !== null && wake > now && !backingOff.length && !delayed.length && !blocked.length) {
    parts.push(`retries wait out their backoff, the next at ${iso(wake)}`);
  }
  if (parts.length === 0) return null;
  return `Nothing runs although ${waiting}: ${parts.join('; ')}.`;
}

function hosts(list: string[]): string {
  if (list.length <= NAMED_HOSTS) return list.join(', ');
  return `${list.slice(0, NAMED_HOSTS).join(', ')} and ${list.length - NAMED_HOSTS} more host${list.length - NAMED_HOSTS === 1 ? '' : 's'}`;
}
