/**
 * Reading URLs typed or pasted into an input box. A single-line input may receive many lines:
 * browsers drop the line breaks of a paste into such a field, gluing the URLs together, so
 * text is split at whitespace and commas and also where a new `http(s)://` begins.
 */
import { MAX_URL_BYTES } from '../../server/src/protocol';

export interface ParsedUrls {
  urls: string[];
  /** One per bad entry, saying what is wrong with it. */
  problems: string[];
}

export function parseUrlList(text: string): ParsedUrls {
  const urls: string[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries = text
    .split(/[\s,]+/)
    .flatMap((chunk) => chunk.split(/(?=https?:\/\/)/i))
    .filter((entry) => entry.length > 0);
  for (const entry of entries) {
    const problem = urlProblem(entry);
    if (problem) problems.push(problem);
    else if (!seen.has(entry)) {
      seen.add(entry);
      urls.push(entry);
    }
  }
  return { urls, problems };
}

/** Why `entry` cannot be crawled, or undefined when it can. */
export function urlProblem(entry: string): string | undefined {
  const shown = entry.length > 60 ? `${entry.slice(0, 57)}...` : entry;
  if (Buffer.byteLength(entry, 'utf8') > MAX_URL_BYTES) return `${shown} is longer than ${MAX_URL_BYTES} bytes`;
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return `"${shown}" is not an absolute URL (it needs http:// or https://)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${shown}: only http and https URLs can be crawled, not ${url.protocol.slice(0, -1)}`;
  }
  if (!url.hostname) return `${shown} has no host`;
  return undefined;
}

/**
 * The input box's live verdict: an error naming the first bad entry, or too many for `max` (what
 * the daemon would refuse, said before the rest of the questions), or how many will go.
 */
export function describeUrlInput(text: string, max?: { count: number; what: string }): { error?: string; info?: string } {
  const { urls, problems } = parseUrlList(text);
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    return { error: `${problems[0]}${more}` };
  }
  if (urls.length === 0) return { error: 'Enter at least one http:// or https:// URL' };
  if (max && urls.length > max.count) return { error: `${urls.length.toLocaleString('en-US')} URLs: ${max.what}` };
  return { info: urls.length === 1 ? '1 URL' : `${urls.length} URLs` };
}
