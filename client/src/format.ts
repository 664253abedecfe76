/**
 * Wording shared by the tree, the status bar and the job document: times, durations and counts
 * as a person reads them. Every time the extension shows goes through here, in the editor's
 * local time, never as the wire's ISO UTC. Pure (the clock is a parameter), so the views' tests
 * can pin the exact text.
 */
import { pad2 } from '../../server/src/times';

export { formatClock, instantsIn, localTimes } from '../../server/src/times';

/** A measured duration, exact to the unit below: "850 ms", "12 s", "4 min 05 s", "2 h 03 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  const s = Math.floor(abs / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad2(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${pad2(m % 60)} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** How far an instant is, rounded down as people say it: "12 s", "3 min", "2 h 5 min", "3 d 4 h". */
export function formatSpan(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "in 12 s" for a future instant, "3 min ago" for a past one, "now" within the second. */
export function formatAge(iso: string, now: number): string {
  const delta = now - Date.parse(iso);
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `${formatSpan(delta)} ago` : `in ${formatSpan(delta)}`;
}

/** What a lease has left: "lease 12 s left", or "lease expired 3 s ago" once the reaper is due. */
export function formatLeaseLeft(expiresAt: string, now: number): string {
  const left = Date.parse(expiresAt) - now;
  return left >= 0 ? `lease ${formatSpan(left)} left` : `lease expired ${formatSpan(left)} ago`;
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
