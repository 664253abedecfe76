/**
 * What the Jobs tree's rows say: labels, descriptions and Markdown tooltips, from the daemon's
 * records. Pure, so the wording is pinned by tests without an editor.
 */
import { crawlLabel, crawlProgressText, JOB_STATES, type Crawl, type Host, type Job, type JobEvent, type JobState } from '../../server/src/protocol';
import {
  escapeMarkdown,
  formatAge,
  plural,
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatLeaseLeft,
  formatRate,
  formatSpan,
  localTimes,
} from './format';

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

/**
 * A state's icon standing still: a job's row does not spin, its group does. Sixteen spinning rows
 * kept the page painting 20 frames a second, which a machine without a GPU (a VM, a remote
 * desktop, the benchmark's headless Chromium) pays for in CPU taken from the crawl.
 */
export function stillIcon(state: JobState): [string, string] {
  const [id, color] = STATE_ICONS[state];
  return [id.replace('~spin', ''), color];
}

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

/** A failure reason's row: the reason itself (one from an empty error says so). */
export function reasonLabel(reason: string): string {
  return reason === '' ? '(no message)' : reason;
}

/** A failure reason's tooltip, Markdown: how many failed so, and what the row offers. */
export function reasonTooltip(reason: string, count: number): string {
  return `${plural(count, 'job')} failed with **${escapeMarkdown(reasonLabel(reason))}** (their errors, without the URLs and figures in them). Requeue them from the row's menu.`;
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

/** The most of a daemon's reason or error a row's description shows; the tooltip has it whole. */
const REASON_SHOWN = 120;

/**
 * What happened to a job, in words, from its record alone (rows are listed without their
 * history): "HTTP 404", "lost its worker 3× (lease expired)", "waiting: put off 20× (last: HTTP
 * 503 with Retry-After 30s), until 09:38:35", "attempt 2 of 3, retrying at 09:38:35 after HTTP
 * 503", "held: crawl paused". Attempts are named only where they tell something: a
 * deferral, a release or a lost worker gives its attempt back, so "attempt 1/3" said nothing of a
 * page put off 20 times.
 */
export function jobStatusText(job: Job, now: number): string {
  const reason = job.lastError === null ? null : oneLine(localTimes(job.lastError, now));
  const lost = job.lostWorkers > 0 ? `lost its worker ${job.lostWorkers}×` : null;
  const next = `attempt ${job.attempts + 1} of ${job.maxAttempts}`;
  const joined = (...parts: (string | null)[]) => parts.filter((s) => s !== null).join(', ');
  switch (job.state) {
    case 'in_progress':
      return joined(`attempt ${job.attempts} of ${job.maxAttempts}`, job.deferrals > 0 ? `put off ${job.deferrals}×` : null, lost);
    case 'queued': {
      // Held with its paused crawl: nothing is due, whatever its backoff, until the crawl resumes.
      if (job.held) return joined('held: crawl paused', job.attempts > 0 ? `${next} next${reason ? ` (last: ${reason})` : ''}` : null, lost);
      const until = job.runAfter !== null && Date.parse(job.runAfter) > now ? formatClock(job.runAfter, now) : null;
      // The reason may name that time already ("trying again at 09:38:35"): once is enough.
      const at = (prefix: string) => (until === null || reason?.includes(until) ? '' : `${prefix}${until}`);
      // A deferral counts while no attempt has counted since (the queue clears it then): with a
      // time to wait for, the job waits out the last deferral; without deferrals, a retry's backoff.
      if (until !== null && job.deferrals > 0) return `waiting: ${putOff(job.deferrals, reason, false)}${at(', until ')}`;
      if (until !== null) return `${next}, retrying${at(' at ')}${reason ? ` after ${reason}` : ''}`;
      if (job.attempts > 0) return joined(`${next} due${reason ? ` after ${reason}` : ''}`, lost);
      if (job.deferrals > 0) return joined(`due, ${putOff(job.deferrals, reason, true)}`, lost);
      return lost === null ? 'queued' : `queued again, ${lost}`;
    }
    case 'done': {
      const status = job.result?.status;
      return `${status === null || status === undefined ? 'done' : `HTTP ${status}`}${job.attempts > 1 ? ` on attempt ${job.attempts} of ${job.maxAttempts}` : ''}`;
    }
    case 'skipped':
      return reason === 'cancelled' ? 'cancelled' : `skipped: ${reason ?? 'no reason given'}`;
    case 'error': {
      // The queue's own wording when it gives up on a job that keeps losing its worker (sql.ts),
      // "lost its worker 3 times (lease expired)": the count as the row says it, with the cause.
      const cause = reason === null ? null : /^lost its worker \d+ times \((.+)\)$/.exec(reason);
      if (lost !== null && cause) return `${lost} (${cause[1]})`;
      if (lost !== null && reason?.startsWith('lost its worker')) return lost;
      return `${reason ?? 'failed'}${job.attempts > 1 ? ` after ${job.attempts} attempts` : ''}`;
    }
  }
}

/**
 * Deferrals as far as the record tells them: the count mixes reasons (Retry-After, robots.txt, a
 * paused crawl) and only the last is kept, so past one the reason is named as the last.
 * `counted`: say "1×" too.
 */
function putOff(n: number, reason: string | null, counted: boolean): string {
  if (n === 1) return counted ? `put off 1×${reason ? ` (${reason})` : ''}` : (reason ?? 'put off');
  return `put off ${n}×${reason ? ` (last: ${reason})` : ''}`;
}

/** A daemon's text on one line, clipped for a row. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > REASON_SHOWN ? `${line.slice(0, REASON_SHOWN - 1)}…` : line;
}

/**
 * "example.com · HTTP 404", "example.com · docs (c_1a2b) · attempt 2 of 3 · lease 12 s left":
 * `crawl` names the job's crawl where rows of several crawls are listed together.
 */
export function jobDescription(job: Job, now: number, crawl?: string): string {
  const parts = [job.host];
  if (crawl !== undefined) parts.push(crawl);
  parts.push(jobStatusText(job, now));
  if (job.state === 'in_progress' && job.leaseExpiresAt) parts.push(formatLeaseLeft(job.leaseExpiresAt, now));
  return parts.join(' · ');
}

export { crawlLabel };

/** Crawls newest first (the one just started is the likeliest wanted), as a new array. */
export function newestFirst<T extends Pick<Crawl, 'createdAt'>>(crawls: readonly T[]): T[] {
  return [...crawls].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/**
 * What job rows call each crawl: its name where no other crawl has that name, else "name (id)";
 * its id when it has no name.
 */
export function crawlLabels(crawls: readonly Pick<Crawl, 'crawlId' | 'name'>[]): Map<string, string> {
  const named = new Map<string, number>();
  for (const c of crawls) if (c.name !== null) named.set(c.name, (named.get(c.name) ?? 0) + 1);
  return new Map(crawls.map((c) => [c.crawlId, c.name === null ? c.crawlId : named.get(c.name)! > 1 ? crawlLabel(c) : c.name]));
}

/** Whether rows listed together come from more than one crawl (jobs outside any crawl count as one more). */
export function mixesCrawls(jobs: readonly Pick<Job, 'crawlId'>[]): boolean {
  return new Set(jobs.map((j) => j.crawlId)).size > 1;
}

/** Events a job's tooltip lists, newest first; the document has them all. */
const RECENT_EVENTS = 6;

/**
 * The Markdown tooltip of a job row, from jobs/get: what happened, the lease, the last error,
 * recent events. `crawl`: its crawl, when its name is known, for "docs (`c_1a2b`)".
 */
export function jobTooltip(job: Job, events: JobEvent[], now: number, crawl?: Pick<Crawl, 'crawlId' | 'name'>): string {
  const crawlName = crawl?.crawlId === job.crawlId ? crawl.name : null;
  const lines: string[] = [
    `**${escapeMarkdown(job.url)}**`,
    '',
    `$(${stillIcon(job.state)[0]}) ${STATE_LABELS[job.state]} · job ${job.id} · ${escapeMarkdown(jobStatusText(job, now))}` +
      (job.crawlId ? ` · crawl ${crawlName ? `${escapeMarkdown(crawlName)} (\`${job.crawlId}\`)` : `\`${job.crawlId}\``}` : '') +
      (job.depth !== null ? ` · depth ${job.depth}` : ''),
    '',
    `**Attempts:** ${attemptsText(job)}`,
  ];
  if (job.workerId && job.leaseExpiresAt) {
    const lease = [`worker \`${job.workerId}\``];
    if (job.leasedAt) lease.push(`token age ${formatSpan(now - Date.parse(job.leasedAt))}`);
    lease.push(`expires ${formatAge(job.leaseExpiresAt, now)} (${formatClock(job.leaseExpiresAt, now)})`);
    lease.push(job.heartbeatAt ? `last heartbeat ${formatAge(job.heartbeatAt, now)}` : 'no heartbeat yet');
    lines.push('', `**Lease:** ${lease.join(' · ')}`);
  }
  if (job.lastError) lines.push('', `**Last error:** ${escapeMarkdown(localTimes(job.lastError, now))}`);
  if (job.result) lines.push('', `**Result:** ${escapeMarkdown(resultSummary(job.result))}`);
  const shown = events.slice(-RECENT_EVENTS).reverse();
  if (shown.length > 0) {
    lines.push('', `**Recent events** (${shown.length} of ${events.length}, newest first)`, '');
    for (const e of shown) {
      const who = e.workerId ? ` \`${e.workerId}\`` : '';
      const detail = e.detail ? `: ${escapeMarkdown(localTimes(e.detail, now))}` : '';
      lines.push(`- ${formatClock(e.at, now)} **${e.type}**${who}${detail}`);
    }
  }
  return lines.join('\n');
}

/**
 * "1 of 3 spent · put off 20× since · lost its worker 1×": the counts behind jobStatusText, for
 * the tooltip and the job document.
 */
export function attemptsText(job: Job): string {
  const parts = [`${job.attempts} of ${job.maxAttempts} spent`];
  if (job.deferrals > 0) parts.push(`put off ${job.deferrals}× since an attempt last counted`);
  if (job.lostWorkers > 0) parts.push(`lost its worker ${job.lostWorkers}×`);
  return parts.join(' · ');
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

/**
 * A host as it stands at `now`: a hold (a delay, a backoff, a block) whose time has passed is over,
 * as the daemon would say it now (ready, or busy at its limit), and its reason no longer current;
 * a view read before that instant (a paused crawl's, which nothing reads again) must not keep it.
 */
export function hostAsOf(host: Host, now: number): Host {
  if (host.until === null || Date.parse(host.until) > now) return host;
  const busy = host.inFlight >= host.limit;
  return { ...host, state: busy ? 'busy' : 'ready', until: null, reason: busy ? `${host.inFlight} of ${host.limit} requests in flight` : null };
}

/**
 * "ready", "busy", "delayed until 14:05:07", "backing off until 14:05:07 (429 Too Many Requests)",
 * "blocked (robots.txt unreadable; trying again at 14:05:07)": a reason naming the time already
 * goes without " until" too.
 */
export function hostStateText(given: Host, now: number): string {
  const host = hostAsOf(given, now);
  const reason = host.reason ? localTimes(host.reason, now) : null;
  const clock = host.until ? formatClock(host.until, now) : null;
  const until = clock === null || reason?.includes(clock) ? '' : ` until ${clock}`;
  const why = reason ? ` (${reason})` : '';
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

/** "running · 120/300 finished · 2.5 pages/s", "cancelled · 6 finished · 153 cancelled · 2 failed" */
export function crawlDescription(crawl: Crawl): string {
  const parts = [crawl.state, crawlProgressText(crawl, formatCount)];
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

/** The Jobs view's line above a filtered list: which crawl, or how many of the jobs picked (it lists the first `listed`) and whence. */
export function filterMessage(
  filter: { crawlId: string } | { jobIds: readonly number[]; from?: string } | { search: string },
  crawlTitle: string | undefined,
  listed: number,
): string {
  if ('crawlId' in filter) return `Only crawl ${crawlTitle ?? filter.crawlId} is shown.`;
  if ('search' in filter) return `Jobs matching "${filter.search}"`;
  const n = filter.jobIds.length;
  const from = filter.from ?? 'from a seed file';
  return n > listed
    ? `The first ${formatCount(listed)} of ${plural(n, 'job')} ${from} are shown.`
    : `Only ${plural(n, 'job')} ${from} ${n === 1 ? 'is' : 'are'} shown.`;
}
