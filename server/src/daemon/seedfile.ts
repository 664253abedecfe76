/**
 * Seed files (`*.crawl`): where users keep their crawls.
 *
 *     # Documentation crawl            ← `#` starts a comment (at the start or after a space)
 *     name: docs                       ← option lines, `key: value`, before the first URL
 *     max-depth: 2                     ← or none: no limit (the default, unless the daemon sets one)
 *     scope: domain
 *     include: https://example.com/docs/*    ← include and exclude may repeat
 *
 *     https://example.com/docs/        ← then one URL per line
 *     https://example.com/api/
 *
 * Options: name, max-depth, max-pages, scope (host | domain | any), include, exclude,
 * follow-nofollow and store-bodies (true | false), addresses (public | private | any). Values are checked against the very schema
 * `crawl/start` validates with, and every problem is reported on its line.
 */
import { clip } from '../core/text';
import { normalizeUrl } from '../crawl/url';
import { Params, type ParamsOf } from '../protocol';

export interface SeedUrl {
  /** 0-based line and character range of the URL text. */
  line: number;
  start: number;
  end: number;
  text: string;
  /** The normalized URL (the job's dedupe key), or null when the line is not a crawlable URL. */
  normalized: string | null;
  /** Why the line is not a crawlable URL. */
  error: string | null;
  /** 0-based line of an earlier occurrence of the same page. */
  duplicateOf: number | null;
}

export interface SeedProblem {
  line: number;
  start: number;
  end: number;
  message: string;
  severity: 'error' | 'warning';
  /** On an option line: the crawl's options would not be what the file says. */
  option: boolean;
}

export interface SeedFile {
  urls: SeedUrl[];
  problems: SeedProblem[];
  /** crawl/start params without seeds, from the option lines that were valid. */
  options: Omit<ParamsOf<'crawl/start'>, 'seeds'>;
  /** True when an option line is wrong: starting would not do what the file says. */
  badOptions: boolean;
}

type OptionKey = 'name' | 'maxDepth' | 'maxPages' | 'scope' | 'include' | 'exclude' | 'followNofollow' | 'storeBodies' | 'addresses';

const OPTIONS: Record<string, { key: OptionKey; kind: 'string' | 'int' | 'depth' | 'bool' | 'list' }> = {
  name: { key: 'name', kind: 'string' },
  'max-depth': { key: 'maxDepth', kind: 'depth' },
  'max-pages': { key: 'maxPages', kind: 'int' },
  scope: { key: 'scope', kind: 'string' },
  include: { key: 'include', kind: 'list' },
  exclude: { key: 'exclude', kind: 'list' },
  'follow-nofollow': { key: 'followNofollow', kind: 'bool' },
  'store-bodies': { key: 'storeBodies', kind: 'bool' },
  addresses: { key: 'addresses', kind: 'string' },
};
/** How much of a line a problem quotes: a 20 MB line once made a 20-million-character diagnostic. */
const QUOTED = 200;
const OPTION_NAMES = Object.keys(OPTIONS).join(', ');

const OPTION_LINE = /^(\s*)([A-Za-z][A-Za-z0-9_-]*)\s*:(.*)$/s;

/** Splits off a comment: `#` at the start of the content or after whitespace (URLs hold no spaces). */
function stripComment(line: string): string {
  const m = /(^|\s)#/.exec(line);
  return m ? line.slice(0, m.index) : line;
}

/** Line breaks as LSP counts them (a lone CR too), so problems land on the lines the editor shows. */
const LINE_BREAK = /\r\n|\r|\n/;

export function parseSeedFile(text: string): SeedFile {
  const lines = text.split(LINE_BREAK);
  const urls: SeedUrl[] = [];
  const problems: SeedProblem[] = [];
  const options: Record<string, unknown> = {};
  const optionLines = new Map<OptionKey, number>();
  let badOptions = false;
  const seen = new Map<string, number>();

  lines.forEach((raw, line) => {
    const content = stripComment(raw);
    if (content.trim() === '') return;
    const opt = OPTION_LINE.exec(content);
    const name = opt?.[2].toLowerCase();
    // A known option name, or any `word: value` with a space after the colon (`https://` has none).
    if (opt && name !== undefined && (OPTIONS[name] || /^(\s|$)/.test(opt[3]))) {
      const start = opt[1].length;
      const end = content.trimEnd().length;
      const problem = (message: string) => {
        problems.push({ line, start, end, message, severity: 'error', option: true });
        badOptions = true;
      };
      const spec = OPTIONS[name];
      if (urls.length > 0) return problem(`options go at the top, before the first URL`);
      if (!spec) return problem(`unknown option "${clip(opt[2], QUOTED)}"; known options: ${OPTION_NAMES}`);
      const value = opt[3].trim();
      if (value === '') return problem(`${name}: needs a value`);
      if (spec.kind !== 'list' && optionLines.has(spec.key)) return problem(`${name}: given twice (also on line ${optionLines.get(spec.key)! + 1})`);
      optionLines.set(spec.key, line);
      switch (spec.kind) {
        case 'string':
          options[spec.key] = value;
          break;
        case 'int':
          if (!/^[+-]?\d{1,15}$/.test(value)) return problem(`${name}: must be a whole number (got "${clip(value, QUOTED)}")`);
          options[spec.key] = Number(value);
          break;
        case 'depth':
          if (/^none$/i.test(value)) options[spec.key] = null;
          else if (/^[+-]?\d{1,15}$/.test(value)) options[spec.key] = Number(value);
          else return problem(`${name}: must be a whole number, or none for no limit (got "${clip(value, QUOTED)}")`);
          break;
        case 'bool':
          if (!/^(true|false|yes|no)$/i.test(value)) return problem(`${name}: must be true or false (got "${clip(value, QUOTED)}")`);
          options[spec.key] = /^(true|yes)$/i.test(value);
          break;
        case 'list':
          ((options[spec.key] ??= []) as string[]).push(value);
          break;
      }
      return;
    }
    // `s`: other line terminators (U+2028) stay inside the line, as they do for the editor.
    const m = /^(\s*)(\S+)(.*)$/s.exec(content)!;
    const start = m[1].length;
    const url: SeedUrl = { line, start, end: start + m[2].length, text: m[2], normalized: null, error: null, duplicateOf: null };
    const n = normalizeUrl(m[2]);
    if (n.ok) url.normalized = n.url;
    else url.error = n.reason;
    urls.push(url);
    if (url.error) problems.push({ line, start, end: url.end, message: `${clip(url.text, QUOTED)}: ${url.error}`, severity: 'error', option: false });
    if (m[3].trim() !== '') {
      const extra = m[3].length - m[3].trimStart().length;
      problems.push({ line, start: url.end + extra, end: content.trimEnd().length, message: 'one URL per line: this is not part of the URL', severity: 'error', option: false });
    }
    if (url.normalized) {
      const first = seen.get(url.normalized);
      if (first === undefined) seen.set(url.normalized, line);
      else {
        url.duplicateOf = first;
        problems.push({ line, start, end: url.end, message: `the same page as line ${first + 1}`, severity: 'warning', option: false });
      }
    }
  });

  // The option values against the schema crawl/start uses: one source of truth for the limits.
  const checked = Params['crawl/start'].safeParse({ seeds: ['http://x/'], ...options });
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const key = issue.path[0] as OptionKey;
      const line = optionLines.get(key) ?? 0;
      const label = Object.entries(OPTIONS).find(([, s]) => s.key === key)?.[0] ?? String(key);
      problems.push({ line, start: 0, end: lines[line]?.length ?? 0, message: `${label}: ${issue.message}`, severity: 'error', option: true });
      delete options[key];
      badOptions = true;
    }
  }
  problems.sort((a, b) => a.line - b.line || a.start - b.start);
  return { urls, problems, options: options as SeedFile['options'], badOptions };
}

/** The crawl/start params a seed file stands for, or null when it cannot start a crawl. */
export function startParams(file: SeedFile): ParamsOf<'crawl/start'> | null {
  const seeds = file.urls.filter((u) => u.normalized !== null && u.duplicateOf === null).map((u) => u.normalized!);
  if (file.badOptions || seeds.length === 0) return null;
  return { ...file.options, seeds };
}

/** Why a seed file cannot start a crawl, in one message (for invalid params). */
export function whyNotStartable(file: SeedFile): string {
  if (file.badOptions) return file.problems.filter((p) => p.option).map((p) => `line ${p.line + 1}: ${p.message}`).join('; ');
  return 'the seed file has no valid URL';
}
