/**
 * Wording shared by the tree, the status bar and the job document: durations, ages and counts
 * as a person reads them. Pure, so the views' tests can pin the exact text.
 */

/** "850ms", "12s", "4m 05s", "2h 03m", "3d 4h". */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)}ms`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "12s ago" for a past instant, "in 12s" for a future one. */
export function formatAge(iso: string, now: number): string {
  const delta = now - Date.parse(iso);
  return delta >= 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
}

/** What a lease has left: "lease 12s left", or "lease expired 3s ago" once the reaper is due. */
export function formatLeaseLeft(expiresAt: string, now: number): string {
  const left = Date.parse(expiresAt) - now;
  return left >= 0 ? `lease ${formatDuration(left)} left` : `lease expired ${formatDuration(-left)} ago`;
}

/** The local wall-clock time of an instant, "14:03:07", with the date when not today. */
export function formatClock(iso: string, now: number): string {
  const at = new Date(iso);
  const time = `${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}`;
  return at.toDateString() === new Date(now).toDateString()
    ? time
    : `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${time}`;
}

/** "1,234,567": counts in the UI are read at a glance. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 job", "2 jobs". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : nouns}`;
}

/** "512 B", "12.3 KiB", "4.0 MiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Rates under 10/s keep a decimal, so a slow crawl does not read as stalled at "0". */
export function formatRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(1) : String(Math.round(perSecond));
}

/** Text shown where Markdown is rendered, with the characters Markdown would act on escaped. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`);
}

/**
 * Text put in the middle of a Markdown line (after a list item's "- label: "), escaped for
 * what Markdown acts on there: emphasis, code, links, images, autolinks and HTML, entities,
 * strikethrough, table pipes. Unlike escapeMarkdown it leaves dots, dashes, pluses, hashes,
 * parentheses and braces alone, which act only at the start of a line (or after a `]`, which is
 * escaped), so a document read as text stays readable. Line breaks are the caller's: it puts the
 * text on one line.
 */
export function escapeMarkdownInline(text: string): string {
  return text.replace(/[\\`*_[\]<>!&|~]/g, (c) => `\\${c}`);
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
