/**
 * URL normalization for the crawl queue.
 *
 * Two URLs that normalize to the same string are treated as the same page, so
 * the rules are deliberately conservative: only transformations that never
 * change what a server receives in a meaningful way.
 *
 * - Only http: and https: are accepted; anything else is rejected with a reason.
 * - Parsing follows the WHATWG URL standard (what browsers do), which already
 *   lowercases the scheme and host, converts IDN hosts to punycode, canonicalizes
 *   IPv4 forms, drops the default port, resolves `.` / `..` segments (including
 *   escaped ones like `%2e`), turns an empty path into `/`, and removes tabs and
 *   newlines.
 * - The fragment is dropped: it never reaches the server.
 * - Percent-encoding in the path and query is made canonical per RFC 3986:
 *   escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded
 *   (`%7E` → `~`, `%41` → `A`), every other escape gets upper-case hex
 *   (`%2f` → `%2F`), a `%` not starting a valid escape becomes `%25`, and every
 *   character RFC 3986 does not allow literally (space, `"`, `<`, `>`, `\`,
 *   `^`, `` ` ``, `{`, `|`, `}`, `[`, `]`, controls, non-ASCII as UTF-8) is
 *   escaped. Reserved characters keep their literal/escaped form because
 *   servers may treat them differently (`/` vs `%2F`).
 * - A trailing slash is kept (`/a` and `/a/` are different resources).
 * - The query is kept as is (no parameter sorting or removal; an empty `?`
 *   stays), apart from the canonical escapes above.
 * - User info, if any, is kept as the WHATWG parser serializes it.
 * - The result may be at most 8 KiB (8192 bytes); longer URLs are rejected.
 *
 * Normalization is idempotent: normalizing a normalized URL returns it unchanged.
 */

import { MAX_URL_BYTES } from '../protocol';

export { MAX_URL_BYTES };

export type NormalizedUrl = { ok: true; url: string; host: string };
export type RejectedUrl = { ok: false; reason: string };

/** Literal characters RFC 3986 allows in a path besides unreserved ones: sub-delims, ':', '@' and the '/' separator. */
export const PATH_LITERALS = "!$&'()*+,;=:@/";
/** A query additionally allows a literal '?'. */
export const QUERY_LITERALS = PATH_LITERALS + '?';

const HEX = '0123456789ABCDEF';

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e // - . _ ~
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

function escapeByte(byte: number): string {
  return '%' + HEX[byte >> 4] + HEX[byte & 15];
}

/** Per set of literals, which ASCII codes pass through as they are: unreserved ones and those literals. */
const keepTables = new Map<string, Uint8Array>();

function keepTable(literals: string): Uint8Array {
  let table = keepTables.get(literals);
  if (!table) {
    table = new Uint8Array(128);
    // '%' never passes: an escape is always rewritten canonically.
    for (let c = 0; c < 128; c++) if (c !== 0x25 && (isUnreserved(c) || literals.includes(String.fromCharCode(c)))) table[c] = 1;
    keepTables.set(literals, table);
  }
  return table;
}

/**
 * Rewrites `s` into canonical RFC 3986 percent-encoding: unreserved escapes
 * decoded, other escapes upper-cased, a stray `%` escaped, and every character
 * that is neither unreserved nor in `literals` escaped as UTF-8.
 */
export function canonicalEscapes(s: string, literals: string): string {
  const keep = keepTable(literals);
  // Most paths and queries are already canonical: check that before building a new string.
  let i = 0;
  while (i < s.length) {
    const code = s.charCodeAt(i);
    if (code >= 0x80 || keep[code] === 0) break;
    i++;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  while (i < s.length) {
    const code = s.charCodeAt(i);
    if (code === 0x25 /* % */) {
      const hi = i + 2 < s.length ? hexValue(s.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(s.charCodeAt(i + 2)) : -1;
      if (lo >= 0) {
        const byte = hi * 16 + lo;
        out += isUnreserved(byte) ? String.fromCharCode(byte) : escapeByte(byte);
        i += 3;
      } else {
        out += '%25';
        i += 1;
      }
      continue;
    }
    if (code < 0x80 && keep[code] === 1) {
      out += s[i];
      i += 1;
      continue;
    }
    const cp = s.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    for (const byte of Buffer.from(ch, 'utf8')) out += escapeByte(byte);
    i += ch.length;
  }
  return out;
}

/** Normalizes `input` (resolved against `base` when given) as described at the top of this file. */
export function normalizeUrl(input: string, base?: string): NormalizedUrl | RejectedUrl {
  let parsed: URL;
  try {
    parsed = base === undefined ? new URL(input) : new URL(input, base);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, reason: `scheme ${parsed.protocol} is not http(s)` };
  }
  // The fragment is cut from the serialized href, not set to '' on the URL: that setter parses the
  // whole URL again, 45 ms of a parser thread's 1.4 s per 1,000 heavy pages (bench heavy, profiled).
  // The first '#' of an href starts its fragment: userinfo, path and query have theirs escaped.
  const whole = parsed.href;
  const hash = whole.indexOf('#');
  const href = hash === -1 ? whole : whole.slice(0, hash);
  // The serialized href is the only place that distinguishes "no query" from an empty "?".
  const q = href.indexOf('?');
  const query = q === -1 ? '' : '?' + canonicalEscapes(href.slice(q + 1), QUERY_LITERALS);
  const path = canonicalEscapes(parsed.pathname, PATH_LITERALS);
  const auth = parsed.username || parsed.password ? parsed.username + (parsed.password ? ':' + parsed.password : '') + '@' : '';
  const url = `${parsed.protocol}//${auth}${parsed.host}${path}${query}`;
  if (Buffer.byteLength(url) > MAX_URL_BYTES) return { ok: false, reason: 'longer than 8 KiB' };
  return { ok: true, url, host: parsed.hostname };
}

/** The per-host key of a URL (lowercase hostname without port; IPv6 keeps its brackets), or null if it is not a crawlable URL. */
export function hostOf(url: string): string | null {
  const n = normalizeUrl(url);
  return n.ok ? n.host : null;
}

/**
 * The origin (scheme, host, port; user info left out) of a URL that normalizeUrl produced, read
 * from the string: its authority always ends at the path's first `/`, and an `@` in user info is escaped.
 */
export function originOf(normalized: string): string {
  const start = normalized.indexOf('//') + 2;
  const end = normalized.indexOf('/', start);
  const at = normalized.lastIndexOf('@', end);
  return normalized.slice(0, start) + normalized.slice(at >= start ? at + 1 : start, end);
}

/** Path and query of a URL that normalizeUrl produced: what goes on the HTTP request line. */
export function requestTarget(normalized: string): string {
  return normalized.slice(normalized.indexOf('/', normalized.indexOf('//') + 2));
}
