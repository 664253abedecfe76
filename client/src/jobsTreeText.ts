/**
 * What the Jobs tree's rows say: labels, descriptions and Markdown tooltips, from the daemon's
 * records. Pure, so the wording is pinned by tests without an editor.
 */
import { JOB_STATES, type Crawl, type Host, type Job, type JobEvent, type JobState } from '../../server/src/protocol';
import { escapeMarkdown, formatAge, formatBytes, formatClock, formatCount, formatDuration, formatLeaseLeft, formatRate } from './format';

export const STATE_LABELS: Record<JobState, string> = {
  queued: 'Queued',
  in_progress: 'In progress',
  done: 'Done',
  skipped: 'Skipped',
  error: 'Error',
};

/** Each state's codicon and theme colour. */
export const STATE_ICONS: Record<JobState, [string, string]> = {
  queued: ['circle-large-outline', 'charts.blue'],
  in_progress: ['sync~spin', 'charts.yellow'],
  done: ['pass', 'testing.iconPassed'],
  skipped: ['circle-slash', 'disabledForeground'],
  error: ['error', 'testing.iconFailed'],
};

/** All of a crawl's jobs, whatever their state. */
export function countTotal(counts: Crawl['counts']): number {
  return JOB_STATES.reduce((sum, s) => sum + counts[s], 0);
}

/** Ends "N jobs ..." in a state group's tooltip. */
export function stateSentence(state: JobState): string {
  switch (state) {
    case 'queued':
      return 'waiting for a worker (or for their host, or a retry backoff).';
    case 'in_progress':
      return 'leased by a worker and being fetched.';
    case 'done':
      return 'fetched.';
    case 'skipped':
      return 'not fetched: robots.txt, scope or a non-HTML answer said no.';
    case 'error':
      return 'failed after their last attempt. Requeue them to try again.';
  }
}

/** A job row's label: the URL's path and query (the host is in the description). */
export function jobLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname}${u.search}`;
  } catch {
    return url;
  }
}

/** "example.com · attempt 2/3 · lease 12s left" */
export function jobDescription(job: Job, now: number): string {
  const parts = [job.host, `attempt ${job.attempts}/${job.maxAttempts}`];
  if (job.state === 'in_progress' && job.leaseExpiresAt) parts.push(formatLeaseLeft(job.leaseExpiresAt, now));
  return parts.join(' · ');
}

/** The Markdown tooltip of a job row, from jobs/get: the lease, the last error, recent events. */
export function jobTooltip(job: Job, events: JobEvent[], now: number, recent = 6): string {
  const lines: string[] = [
    `**${escapeMarkdown(job.url)}**`,
    '',
    `$(${STATE_ICONS[job.state][0].replace('~spin', '')}) ${STATE_LABELS[job.state]} · job ${job.id} · attempt ${job.attempts}/${job.maxAttempts}` +
      (job.crawlId ? ` · crawl \`${job.crawlId}\`` : '') +
      (job.depth !== null ? ` · depth ${job.depth}` : ''),
  ];
  if (job.workerId && job.leaseExpiresAt) {
    const lease = [`worker \`${job.workerId}\``];
    if (job.leasedAt) lease.push(`token age ${formatDuration(now - Date.parse(job.leasedAt))}`);
    lease.push(`expires ${formatAge(job.leaseExpiresAt, now)} (${formatClock(job.leaseExpiresAt, now)})`);
    lease.push(job.heartbeatAt ? `last heartbeat ${formatAge(job.heartbeatAt, now)}` : 'no heartbeat yet');
    lines.push('', `**Lease:** ${lease.join(' · ')}`);
  }
  if (job.lastError) lines.push('', `**Last error:** ${escapeMarkdown(job.lastError)}`);
  if (job.result) lines.push('', `**Result:** ${escapeMarkdown(resultSummary(job.result))}`);
  const shown = events.slice(-recent).reverse();
  if (shown.length > 0) {
    lines.push('', `**Recent events** (${shown.length} of ${events.length}, newest first)`, '');
    for (const e of shown) {
      const who = e.workerId ? ` \`${e.workerId}\`` : '';
      const detail = e.detail ? `: ${escapeMarkdown(e.detail)}` : '';
      lines.push(`- ${formatClock(e.at, now)} **${e.type}**${who}${detail}`);
    }
  }
  return lines.join('\n');
}

export function resultSummary(result: NonNullable<Job['result']>): string {
  const parts: string[] = [];
  if (result.status !== null) parts.push(`HTTP ${result.status}`);
  if (result.contentType) parts.push(result.contentType);
  if (result.bytes !== null) parts.push(formatBytes(result.bytes));
  if (result.durationMs !== null) parts.push(formatDuration(result.durationMs));
  if (result.title) parts.push(`"${result.title}"`);
  return parts.join(' · ') || 'no details';
}

/**
 * The order of host rows: IPv4 addresses by their numbers (127.0.1.25 before 127.0.1.249), before
 * names, which go as text.
 */
export function compareHosts(a: string, b: string): number {
  const x = ipv4(a);
  const y = ipv4(b);
  if (x !== undefined && y !== undefined) return x - y;
  if (x !== undefined || y !== undefined) return x !== undefined ? -1 : 1;
  return a.localeCompare(b);
}

function ipv4(host: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts.reduce((n, p) => n * 256 + p, 0) : undefined;
}

/** "1/2 in flight · backoff until 14:05:07 · 429 Too Many Requests" */
export function hostDescription(host: Host, now: number): string {
  const parts = [`${host.inFlight}/${host.limit} in flight`, hostStateText(host, now)];
  if (host.queued > 0) parts.push(`${formatCount(host.queued)} queued`);
  if (host.error > 0) parts.push(`${formatCount(host.error)} failed`);
  return parts.join(' · ');
}

/** "ready", "busy", "delayed until 14:05:07", "backing off until 14:05:07 (429 Too Many Requests)", "blocked (robots.txt)". */
export function hostStateText(host: Host, now: number): string {
  const until = host.until ? ` until ${formatClock(host.until, now)}` : '';
  const why = host.reason ? ` (${host.reason})` : '';
  switch (host.state) {
    case 'ready':
    case 'busy':
      return host.state;
    case 'delayed':
      return `delayed${until}`;
    case 'backoff':
      return `backing off${until}${why}`;
    case 'blocked':
      return `blocked${until}${why}`;
  }
}

export function hostTooltip(host: Host, now: number): string {
  const lines = [
    `**${escapeMarkdown(host.host)}**: ${escapeMarkdown(hostStateText(host, now))}`,
    '',
    `${host.inFlight} of ${host.limit} allowed at once in flight · ${formatCount(host.queued)} queued · ${formatCount(host.done)} done · ${formatCount(host.error)} failed`,
  ];
  if (host.until) lines.push('', `May start again ${formatAge(host.until, now)}.`);
  return lines.join('\n');
}

/** "running · 120/300 done · 2.5 pages/s" */
export function crawlDescription(crawl: Crawl): string {
  const total = countTotal(crawl.counts);
  const finished = crawl.counts.done + crawl.counts.skipped + crawl.counts.error;
  const parts = [crawl.state, `${formatCount(finished)}/${formatCount(total)} finished`];
  if (crawl.counts.error > 0) parts.push(`${formatCount(crawl.counts.error)} failed`);
  if (crawl.state === 'running') parts.push(`${formatRate(crawl.pagesPerSecond)} pages/s`);
  return parts.join(' · ');
}

export function crawlTooltip(crawl: Crawl, now: number): string {
  const o = crawl.options;
  const lines = [
    `**${escapeMarkdown(crawl.name ?? crawl.crawlId)}** (\`${crawl.crawlId}\`): ${crawl.state}, started ${formatAge(crawl.createdAt, now)}` +
      (crawl.finishedAt ? `, finished ${formatAge(crawl.finishedAt, now)}` : ''),
    '',
    `Seeds: ${crawl.seeds.slice(0, 3).map(escapeMarkdown).join(', ')}${crawl.seeds.length > 3 ? ` and ${crawl.seeds.length - 3} more` : ''}`,
    '',
    `Scope ${o.scope} · max depth ${o.maxDepth ?? 'none'} · max pages ${formatCount(o.maxPages)}`,
    '',
    JOB_STATES.map((s) => `${STATE_LABELS[s]} ${formatCount(crawl.counts[s])}`).join(' · '),
    '',
    `${formatCount(crawl.pages)} pages · ${formatBytes(crawl.bytes)} · ${formatRate(crawl.pagesPerSecond)} pages/s`,
  ];
  const dropped = Object.entries(crawl.dropped).filter(([, n]) => n > 0);
  if (dropped.length > 0) lines.push('', `Links not followed: ${dropped.map(([why, n]) => `${escapeMarkdown(why)} ${formatCount(n)}`).join(' · ')}`);
  return lines.join('\n');
}
