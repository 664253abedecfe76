/**
 * robots.txt per RFC 9309.
 *
 * Parsing: only the first 500 KiB are read, and of each line only its first
 * 16,663 bytes, as in Google's parser; a BOM, CR/LF/CRLF line endings,
 * comments and lines that are not `key: value` are tolerated. At most
 * ROBOTS_MAX_RULES allow/disallow rules are kept, the first in the file. One or more
 * consecutive `user-agent` lines start a group; the `allow`/`disallow` lines
 * after them belong to it. Rules before any user-agent line are ignored.
 * `crawl-delay` counts as a group member like a rule, so the common
 * "User-agent: * / Crawl-delay: 10 / User-agent: x / Disallow: /y" keeps
 * two groups; `sitemap` and unknown lines are neutral.
 *
 * Group selection: the crawler's product token (the leading `[A-Za-z_-]+` of
 * its User-Agent) is compared case-insensitively with each group's tokens. A
 * group token matches if it equals ours or is a `-`-separated prefix of it
 * (group `examplebot` applies to `examplebot-news`); the longest matching
 * token wins and all groups naming it are merged. Without a match the `*`
 * groups apply (merged); without those, everything is allowed.
 *
 * Matching: rule paths and the URL's path+query are compared in canonical
 * percent-encoding (see canonicalEscapes in url.ts). `*` matches any run of
 * characters, a final `$` anchors the end, otherwise a rule is a prefix. The
 * longest matching rule (in octets) wins; on a tie Allow wins. An empty
 * Disallow disallows nothing. /robots.txt itself is always allowed.
 *
 * Cost: each rule is compiled once per selected group into a matcher linear in
 * the URL plus the rule (glob.ts), and one verdict does at most about
 * ROBOTS_VERDICT_STEPS steps of matching. Past that the URL is disallowed,
 * with a rule text saying why: only a file crafted to be slow gets there.
 *
 * Crawl-delay is not in the RFC; it is read from the selected group(s) and
 * capped by the caller.
 */

import { ownString } from './bounded';
import { canonicalEscapes, normalizeUrl, QUERY_LITERALS, requestTarget } from './url';
import { Glob, type GlobWork } from './glob';

export const ROBOTS_MAX_BYTES = 500 * 1024;

/**
 * Google's parser keeps a line in a buffer of 2083 × 8 = 16,664 bytes (eight times the longest
 * URL some browsers accept) with room for a final NUL: 16,663 bytes of a line count, the rest is
 * ignored.
 */
export const ROBOTS_MAX_LINE_BYTES = 2083 * 8 - 1;

/**
 * Rules kept per group. The largest real robots.txt files have a few thousand lines; 10,000 rules
 * leaves room for several times that, while one verdict over them all stays far inside
 * ROBOTS_VERDICT_STEPS for ordinary URLs. Counted per group, so that rules for other bots written
 * first cannot crowd out the ones that apply; past the cap a group's rules are ignored, as RFC 9309
 * has a file past its size limit read.
 */
export const ROBOTS_MAX_RULES = 10_000;

/**
 * Matching steps (see GlobWork) one verdict may spend. Ordinary rules fail within their first
 * characters or read the URL once: 10,000 path rules take about 300,000 steps, and 200 rules
 * starting with `/*` against an 8 KiB URL about 1,700,000. Files made to be slow reach it: a
 * 500 KiB file of `/*a*a*a*a*aaa…ab<n>` rules would take some 160,000,000 steps against an 8 KiB
 * URL, and stops here after 21 ms (measured on a loaded 2-core machine).
 */
export const ROBOTS_VERDICT_STEPS = 4_000_000;

export interface RobotsRule {
  allow: boolean;
  /** The path pattern as written in the file. */
  pattern: string;
}

export interface RobotsGroup {
  /** Lowercased product tokens, or `*`. */
  agents: string[];
  rules: RobotsRule[];
  /** Seconds, as written in the first valid crawl-delay line of the group. */
  crawlDelay: number | null;
}

/** Plain JSON form of a robots.txt verdict source, for caching in the database. */
export type RobotsData =
  | { v: 1; kind: 'rules'; groups: RobotsGroup[]; sitemaps: string[] }
  | { v: 1; kind: 'allow_all'; reason: string }
  /** `tries`: reads in a row that found robots.txt unreadable, this one included (1 when absent, as rows before it were written). */
  | { v: 1; kind: 'disallow_all'; reason: string; tries?: number };

/** What to do with a robots.txt response, by status (RFC 9309 section 2.3.1). */
export type RobotsStatusPolicy =
  | { action: 'parse' }
  | { action: 'allow_all'; reason: string }
  /** Temporary: the caller should fetch robots.txt again later. */
  | { action: 'disallow_all'; reason: string; retry: true };

export interface RobotsVerdict {
  allowed: boolean;
  /**
   * Why: the rule that decided (`Disallow: /private`), the policy reason for a
   * whole-site verdict (`robots.txt returned 503`), or null when no rule matched.
   */
  rule: string | null;
}

/**
 * `status` is the final HTTP status after following redirects, or null when
 * robots.txt could not be fetched at all (DNS, connection, timeout).
 */
export function robotsFromStatus(status: number | null): RobotsStatusPolicy {
  if (status === null) return { action: 'disallow_all', reason: 'robots.txt unreachable', retry: true };
  if (status >= 200 && status < 300) return { action: 'parse' };
  // Too many redirects: the RFC allows treating the file as unavailable, like a 4xx.
  if (status >= 300 && status < 400) return { action: 'allow_all', reason: `robots.txt returned ${status} after redirects` };
  if (status === 429 || status >= 500 || status < 200) {
    return { action: 'disallow_all', reason: `robots.txt returned ${status}`, retry: true };
  }
  return { action: 'allow_all', reason: `robots.txt returned ${status}` };
}

/** The lowercased product token of a User-Agent string or user-agent line, '*' for the wildcard, '' if none. */
export function productToken(userAgent: string): string {
  const s = userAgent.trim();
  if (s.startsWith('*')) return '*';
  return (/^[A-Za-z_-]+/.exec(s)?.[0] ?? '').toLowerCase();
}

function limitBody(body: string | Uint8Array): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return bytes.subarray(0, ROBOTS_MAX_BYTES).toString('utf8');
}

/** The part of a line Google's parser reads: its first ROBOTS_MAX_LINE_BYTES bytes, cut at a character boundary. */
function cutLine(line: string): string {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: shorter lines need no counting.
  if (line.length * 3 <= ROBOTS_MAX_LINE_BYTES) return line;
  const bytes = Buffer.from(line, 'utf8');
  if (bytes.length <= ROBOTS_MAX_LINE_BYTES) return line;
  let end = ROBOTS_MAX_LINE_BYTES;
  while ((bytes[end] & 0xc0) === 0x80) end--; // a continuation byte: its character started before the cut
  return bytes.subarray(0, end).toString('utf8');
}

function parseCrawlDelay(value: string): number | null {
  return /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : null;
}

/** Parses a robots.txt body into its serializable form. */
export function parseRobots(body: string | Uint8Array): RobotsData {
  const text = limitBody(body).replace(/^\uFEFF/, '');
  const groups: RobotsGroup[] = [];
  const sitemaps: string[] = [];
  let current: RobotsGroup | null = null;
  let currentHasRules = false;
  for (const whole of text.split(/\r\n|\r|\n/)) {
    const raw = cutLine(whole);
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    switch (key) {
      case 'user-agent': {
        if (current === null || currentHasRules) {
          current = { agents: [], rules: [], crawlDelay: null };
          currentHasRules = false;
          groups.push(current);
        }
        const token = productToken(value);
        if (token !== '' && !current.agents.includes(token)) current.agents.push(token);
        break;
      }
      case 'allow':
      case 'disallow':
        if (current === null) break;
        currentHasRules = true;
        // Copied (ownString), as are sitemaps: cached for a day, a slice would keep the whole file (up to 500 KiB).
        if (value !== '' && current.rules.length < ROBOTS_MAX_RULES) current.rules.push({ allow: key === 'allow', pattern: ownString(value) });
        break;
      case 'crawl-delay':
        if (current === null) break;
        currentHasRules = true;
        current.crawlDelay ??= parseCrawlDelay(value);
        break;
      case 'sitemap':
        if (value !== '') sitemaps.push(ownString(value));
        break;
    }
  }
  return { v: 1, kind: 'rules', groups, sitemaps };
}

/** `glob` matches the whole path and query: rules without a final `$` get a trailing `*` to act as prefixes. */
type CompiledRule = { allow: boolean; text: string; glob: Glob; length: number };
/** `rules` longest first, Allow before Disallow of the same length, else in file order: the first match decides. */
type Selected = { rules: CompiledRule[]; crawlDelay: number | null };

function compileRule(rule: RobotsRule): CompiledRule {
  // A path not starting with / or * could never match; reading it as rooted honours the author's intent.
  const rooted = rule.pattern.startsWith('/') || rule.pattern.startsWith('*') ? rule.pattern : '/' + rule.pattern;
  const canonical = canonicalEscapes(rooted, QUERY_LITERALS);
  const anchored = canonical.endsWith('$');
  return {
    allow: rule.allow,
    text: `${rule.allow ? 'Allow' : 'Disallow'}: ${rule.pattern}`,
    glob: new Glob(anchored ? canonical.slice(0, -1) : canonical + '*'),
    length: canonical.length,
  };
}

function pathAndQuery(url: string): string | null {
  if (url.startsWith('/')) return canonicalEscapes(url, QUERY_LITERALS);
  const n = normalizeUrl(url);
  if (!n.ok) return null;
  return requestTarget(n.url);
}

/** Parsed robots.txt (or a whole-site policy) answering per-URL questions for any user agent. */
export class Robots {
  private readonly selected = new Map<string, Selected>();

  private constructor(private readonly data: RobotsData) {}

  static parse(body: string | Uint8Array): Robots {
    return new Robots(parseRobots(body));
  }

  /** Applies the RFC status policy: `status` null means robots.txt was unreachable. */
  static fromResponse(status: number | null, body: string | Uint8Array = ''): Robots {
    const policy = robotsFromStatus(status);
    if (policy.action === 'parse') return Robots.parse(body);
    return new Robots({ v: 1, kind: policy.action, reason: policy.reason });
  }

  /** robots.txt could not be fetched (a refused connection, a timeout): nothing is allowed until it is read; `why` says what failed. */
  static unreachable(why: string): Robots {
    return new Robots({ v: 1, kind: 'disallow_all', reason: `robots.txt unreachable: ${why}` });
  }

  /** robots.txt exists in no usable form (the RFC's "unavailable", like a 4xx): everything is allowed. */
  static unavailable(reason: string): Robots {
    return new Robots({ v: 1, kind: 'allow_all', reason });
  }

  /** Loads what toJSON produced; throws on anything else. */
  static fromJSON(data: unknown): Robots {
    const d = data as RobotsData;
    const valid =
      typeof d === 'object' &&
      d !== null &&
      d.v === 1 &&
      (d.kind === 'rules'
        ? Array.isArray(d.groups) &&
          Array.isArray(d.sitemaps) &&
          d.sitemaps.every((s) => typeof s === 'string') &&
          d.groups.every(
            (g) =>
              Array.isArray(g.agents) &&
              g.agents.every((a) => typeof a === 'string') &&
              Array.isArray(g.rules) &&
              (g.crawlDelay === null || typeof g.crawlDelay === 'number') &&
              g.rules.every((r) => typeof r.allow === 'boolean' && typeof r.pattern === 'string'),
          )
        : (d.kind === 'allow_all' || (d.kind === 'disallow_all' && (d.tries === undefined || Number.isInteger(d.tries)))) && typeof d.reason === 'string');
    if (!valid) throw new TypeError('not serialized robots.txt data');
    return new Robots(d);
  }

  toJSON(): RobotsData {
    return this.data;
  }

  /** True when the whole site is disallowed only because robots.txt could not be read; fetch it again later. */
  get retryLater(): boolean {
    return this.data.kind === 'disallow_all';
  }

  /** Reads in a row that found robots.txt unreadable, this one included; 0 when it was read. */
  get tries(): number {
    return this.data.kind === 'disallow_all' ? (this.data.tries ?? 1) : 0;
  }

  /** This unreadable robots.txt as the `n`th read in a row to find it so; one that was read as it is. */
  inARow(n: number): Robots {
    return this.data.kind === 'disallow_all' ? new Robots({ ...this.data, tries: n }) : this;
  }

  get sitemaps(): readonly string[] {
    return this.data.kind === 'rules' ? this.data.sitemaps : [];
  }

  /**
   * May `userAgent` fetch `url` (an absolute URL, or a path starting with `/`)? `work` counts the
   * steps spent, for a caller that bounds many verdicts together; the bound here is per verdict.
   */
  verdict(url: string, userAgent: string, work: GlobWork = { steps: 0 }): RobotsVerdict {
    const target = pathAndQuery(url);
    if (target === null) return { allowed: false, rule: 'not a crawlable URL' };
    const q = target.indexOf('?');
    if ((q === -1 ? target : target.slice(0, q)) === '/robots.txt') {
      return { allowed: true, rule: '/robots.txt is always allowed' };
    }
    if (this.data.kind !== 'rules') return { allowed: this.data.kind === 'allow_all', rule: this.data.reason };
    const limit = work.steps + ROBOTS_VERDICT_STEPS;
    for (const rule of this.select(userAgent).rules) {
      // Checked between rules: one rule adds at most its length plus twice the URL's.
      if (work.steps > limit) {
        return { allowed: false, rule: `rules too costly to match against this URL (over ${ROBOTS_VERDICT_STEPS} steps); disallowed to be safe` };
      }
      if (rule.glob.test(target, work)) return { allowed: rule.allow, rule: rule.text };
    }
    return { allowed: true, rule: null };
  }

  /** Crawl-delay for `userAgent` in milliseconds, capped at `maxMs`; null when none is given. */
  crawlDelayMs(userAgent: string, maxMs: number): number | null {
    if (this.data.kind !== 'rules') return null;
    const seconds = this.select(userAgent).crawlDelay;
    return seconds === null ? null : Math.min(Math.round(seconds * 1000), maxMs);
  }

  private select(userAgent: string): Selected {
    const token = productToken(userAgent);
    const cached = this.selected.get(token);
    if (cached) return cached;
    const groups = (this.data as Extract<RobotsData, { kind: 'rules' }>).groups;
    let bestLength = 0;
    for (const g of groups) {
      for (const a of g.agents) {
        if (a !== '*' && (token === a || token.startsWith(a + '-')) && a.length > bestLength) bestLength = a.length;
      }
    }
    const chosen = groups.filter((g) =>
      bestLength > 0 ? g.agents.some((a) => a.length === bestLength && (token === a || token.startsWith(a + '-'))) : g.agents.includes('*'),
    );
    const selected: Selected = {
      // Array.prototype.sort is stable: equal rules keep their order in the file.
      rules: chosen.flatMap((g) => g.rules.map(compileRule)).sort((a, b) => b.length - a.length || Number(b.allow) - Number(a.allow)),
      crawlDelay: chosen.find((g) => g.crawlDelay !== null)?.crawlDelay ?? null,
    };
    this.selected.set(token, selected);
    return selected;
  }
}
