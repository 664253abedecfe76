/**
 * Show Details: a read-only Markdown document at `crawl-job:/Job <id>.md` with the job's record,
 * its result and its full event history, attempt by attempt, with exact times: where users work
 * out what happened to a lease. It re-renders when the daemon reports the job changed.
 */
import * as vscode from 'vscode';
import type { Job, JobEvent } from '../../server/src/protocol';
import type { Daemon } from './daemon';
import { formatAge, formatBytes, formatDuration } from './format';
import { STATE_LABELS } from './jobsTreeText';

export const JOB_SCHEME = 'crawl-job';

export function jobUri(id: number): vscode.Uri {
  return vscode.Uri.from({ scheme: JOB_SCHEME, path: `/Job ${id}.md` });
}

export function jobIdOf(uri: vscode.Uri): number | undefined {
  const m = /^\/Job (\d+)\.md$/.exec(uri.path);
  return m ? Number(m[1]) : undefined;
}

export class JobDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private pending = new Set<number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly daemon: Daemon) {
    this.subscription = daemon.onJobsChanged(({ changes, truncated }) => {
      const open = this.openIds();
      for (const id of open) if (truncated || changes.some((c) => c.id === id)) this.pending.add(id);
      // A job changes several times a second while it runs: re-render at most twice a second.
      if (this.pending.size > 0 && !this.timer) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          for (const id of this.pending) this.changed.fire(jobUri(id));
          this.pending.clear();
        }, 500);
      }
    });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = jobIdOf(uri);
    if (id === undefined) return `${uri.toString()} names no job: job documents are crawl-job:/Job <id>.md\n`;
    try {
      const { job, events } = await this.daemon.request('jobs/get', { id });
      return renderJobDocument(job, events, Date.now());
    } catch (err) {
      return `# Job ${id}\n\nCould not read this job: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
  }

  private openIds(): number[] {
    return vscode.workspace.textDocuments
      .filter((d) => d.uri.scheme === JOB_SCHEME)
      .map((d) => jobIdOf(d.uri))
      .filter((id): id is number => id !== undefined);
  }
}

/** The document's text: record, lease, result, then every event grouped by attempt. */
export function renderJobDocument(job: Job, events: JobEvent[], now: number): string {
  const out: string[] = [`# Job ${job.id}: ${STATE_LABELS[job.state]}`, '', `<${job.url}>`, '', '## Record', '', '| Field | Value |', '| :-- | :-- |'];
  const row = (k: string, v: string | number | null) => out.push(`| ${k} | ${v === null ? '—' : String(v).replace(/\|/g, '\\|')} |`);
  row('id', job.id);
  row('state', job.state);
  row('url', job.url);
  row('host', job.host);
  row('crawl', job.crawlId);
  row('depth', job.depth);
  row('priority', job.priority);
  row('attempts', `${job.attempts} of ${job.maxAttempts}`);
  row('created', job.createdAt);
  row('updated', job.updatedAt);
  row('last error', job.lastError);

  out.push('', '## Lease', '');
  if (job.workerId && job.leaseExpiresAt) {
    out.push(
      `- worker: \`${job.workerId}\``,
      `- leased at: ${job.leasedAt ?? '—'}${job.leasedAt ? ` (token age ${formatDuration(now - Date.parse(job.leasedAt))})` : ''}`,
      `- expires at: ${job.leaseExpiresAt} (${formatAge(job.leaseExpiresAt, now)})`,
      `- last heartbeat: ${job.heartbeatAt ? `${job.heartbeatAt} (${formatAge(job.heartbeatAt, now)})` : 'none yet'}`,
    );
  } else {
    out.push('Not leased.');
  }

  out.push('', '## Result', '');
  if (job.result) {
    const r = job.result;
    out.push(
      `- status: ${r.status ?? '—'}`,
      `- content type: ${r.contentType ?? '—'}`,
      `- size: ${r.bytes === null ? '—' : `${formatBytes(r.bytes)} (${r.bytes} bytes)`}`,
      `- duration: ${r.durationMs === null ? '—' : formatDuration(r.durationMs)}`,
      `- final URL: ${r.finalUrl ?? '—'}`,
      `- title: ${r.title ?? '—'}`,
    );
  } else {
    out.push('No result yet.');
  }

  out.push('', `## History (${events.length} events)`);
  for (const section of attempts(events)) {
    out.push('', `### ${section.title}`, '', '| Time | +Elapsed | Event | Worker | Detail |', '| :-- | --: | :-- | :-- | :-- |');
    const start = Date.parse(section.events[0]!.at);
    for (const e of section.events) {
      const cells = [e.at, `+${formatDuration(Date.parse(e.at) - start)}`, e.type, e.workerId ?? '', e.detail ?? ''];
      out.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`);
    }
  }
  if (events.length === 0) out.push('', 'No events recorded.');
  return `${out.join('\n')}\n`;
}

export interface AttemptSection {
  title: string;
  events: JobEvent[];
}

/** Splits the history where a lease starts: each lease is one attempt. */
export function attempts(events: JobEvent[]): AttemptSection[] {
  const sections: AttemptSection[] = [];
  let n = 0;
  for (const e of events) {
    if (e.type === 'leased') {
      n++;
      const said = /attempt (\d+\/\d+)/.exec(e.detail ?? '')?.[1];
      sections.push({ title: `Lease ${n}${said ? `: attempt ${said}` : ''}${e.workerId ? `, worker ${e.workerId}` : ''}`, events: [e] });
    } else if (sections.length === 0) {
      sections.push({ title: 'Before the first lease', events: [e] });
    } else {
      sections[sections.length - 1]!.events.push(e);
    }
  }
  return sections;
}
