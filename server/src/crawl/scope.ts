/**
 * Crawl scope: which URLs a crawl may enqueue.
 *
 * - `host`: only URLs whose host is one of the seeds' hosts.
 * - `domain`: only URLs sharing a registrable domain with a seed
 *   (a.example.co.uk and b.example.co.uk share example.co.uk). Private
 *   suffixes from the public suffix list count as suffixes, so two users'
 *   sites on github.io are different domains rather than one huge scope.
 *   Hosts without a registrable domain (IP addresses, `localhost`) are their
 *   own domain.
 * - `any`: no host restriction.
 *
 * Then include/exclude patterns are applied to the whole normalized URL.
 * A pattern written `/.../` (optionally followed by flags from `imsu`) is a
 * regular expression in RE2's syntax (linear-time: no backreferences or
 * lookarounds), searched anywhere in the URL (anchor it with ^ and $ if
 * needed); anything else is a glob where `*` matches any run of characters
 * (including `/`) and every other character matches itself, anchored at both
 * ends. Exclude wins over include; with no include patterns everything in
 * scope is included.
 */

import { RE2JS } from 're2js';
import { getDomain } from 'tldts';
import type { Scope } from '../protocol';
import { Glob } from './glob';
import { normalizeUrl, type NormalizedUrl } from './url';

export type ScopeMode = Scope;

export interface ScopeOptions {
  seeds: readonly string[];
  scope: ScopeMode;
  include?: readonly string[];
  exclude?: readonly string[];
}

export interface ScopeMatcher {
  /** `true` if the URL may be crawled, otherwise the reason it may not. */
  allows(url: string): true | string;
  /** The same for a URL normalizeUrl already produced, with its host: no second parse. */
  allowsNormalized(n: Pick<NormalizedUrl, 'url' | 'host'>): true | string;
}

/** Thrown by compileScope; lists every bad seed and pattern, each named. */
export class ScopeError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ScopeError';
  }
}

type Pattern = { source: string; test(url: string): boolean };

const REGEX_PATTERN = /^\/(.+)\/([a-z]*)$/s;

/** Registrable domain of a host, or the host itself when it has none (IPs, single labels). */
export function domainOf(host: string): string {
  return getDomain(host, { allowPrivateDomains: true }) ?? host;
}

/**
 * Whole-string glob match where `*` matches any run of characters, in time linear in the glob
 * plus the text (see glob.ts): a client's pattern cannot make a URL's verdict slow.
 */
export function globMatch(glob: string, text: string): boolean {
  return new Glob(glob).test(text);
}

function compilePattern(source: string, problems: string[]): Pattern | null {
  const m = REGEX_PATTERN.exec(source);
  if (!m) return { source, test: (url) => globMatch(source, url) };
  const [, body, flags] = m;
  // g and y make RegExp.test stateful between calls, which would make matching depend on history.
  if (/[^imsu]/.test(flags)) {
    problems.push(`pattern ${source}: unsupported regex flags "${flags}" (allowed: i, m, s, u)`);
    return null;
  }
  // RE2 matches in time linear in the URL: a client's pattern such as /(a+)+$/ cannot hang the
  // daemon, as a backtracking RegExp would. It has no backreferences or lookarounds.
  let mode = 0;
  if (flags.includes('i')) mode |= RE2JS.CASE_INSENSITIVE;
  if (flags.includes('m')) mode |= RE2JS.MULTILINE;
  if (flags.includes('s')) mode |= RE2JS.DOTALL;
  try {
    const re = RE2JS.compile(body, mode);
    return { source, test: (url) => re.test(url) };
  } catch (err) {
    problems.push(`pattern ${source}: invalid or unsupported regular expression (${(err as Error).message}; RE2 syntax, no backreferences or lookarounds)`);
    return null;
  }
}

/** Compiles the scope once per crawl; throws ScopeError naming every invalid seed or pattern. */
export function compileScope(options: ScopeOptions): ScopeMatcher {
  const problems: string[] = [];
  const hosts = new Set<string>();
  for (const seed of options.seeds) {
    const n = normalizeUrl(seed);
    if (n.ok) hosts.add(n.host);
    else problems.push(`seed ${seed}: ${n.reason}`);
  }
  if (options.scope !== 'any' && options.seeds.length === 0) {
    problems.push(`scope "${options.scope}" needs at least one seed`);
  }
  const domains = new Set([...hosts].map(domainOf));
  const compileAll = (list: readonly string[] | undefined) => (list ?? []).map((p) => compilePattern(p, problems)).filter((p): p is Pattern => p !== null);
  const include = compileAll(options.include);
  const exclude = compileAll(options.exclude);
  if (problems.length > 0) throw new ScopeError(problems);

  const mode = options.scope;
  const matcher: ScopeMatcher = {
    allows(url: string): true | string {
      const n = normalizeUrl(url);
      return n.ok ? matcher.allowsNormalized(n) : n.reason;
    },
    allowsNormalized(n: Pick<NormalizedUrl, 'url' | 'host'>): true | string {
      if (mode === 'host' && !hosts.has(n.host)) return `host ${n.host} is not a seed host`;
      if (mode === 'domain') {
        const domain = domainOf(n.host);
        if (!domains.has(domain)) return `domain ${domain} is not a seed domain`;
      }
      const excluded = exclude.find((p) => p.test(n.url));
      if (excluded) return `excluded by ${excluded.source}`;
      if (include.length > 0 && !include.some((p) => p.test(n.url))) return 'matches no include pattern';
      return true;
    },
  };
  return matcher;
}
