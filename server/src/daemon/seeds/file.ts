/**
 * Seed files (`*.crawl`): where users keep their crawls.
 *
 *     # Documentation crawl            ← `#` starts a comment (at the start or after a space)
 *     name: docs                       ← option lines, `key: value`, before the first URL
 *     max-depth: 2                     ← or none: no limit (the default, unless the daemon sets one)
 *     scope: domain
 *     include: https://example.com/docs/*    ← include and exclude may repeat
 *     extract.title: h1                ← a field of each page's data (extract.tags[]: every match;
 *                                        no comment on these lines: `#main` is a selector)
 *
 *     https://example.com/docs/        ← then one URL per line
 *     https://example.com/api/
 *
 * The options are those of options.ts. Values are checked against the very schema
 * `crawl/start` validates with, and every problem is reported on its line.
 */
import { clip } from '../../core/text';
import { nearest } from '../../core/suggest';
import { BoundedMap, ownString } from '../../crawl/bounded';
import { ExtractError, parseField } from '../../crawl/extract';
import { normalizeUrl } from '../../crawl/url';
import type { ParamsOf } from '../../protocol';
import { Params } from '../params';
import { optionNamed, SEED_OPTIONS, type OptionKey } from './options';

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
  /**
   * What its quick fix takes out: the line, the line of a repeated URL, or the text itself; null
   * when no one line is wrong (more include lines than allowed).
   */
  fix: 'line' | 'duplicate' | 'text' | null;
}

export interface SeedFile {
  urls: SeedUrl[];
  problems: SeedProblem[];
  /** crawl/start params without seeds, from the option lines that were valid. */
  options: Omit<ParamsOf<'crawl/start'>, 'seeds'>;
  /** True when an option line is wrong: starting would not do what the file says. */
  badOptions: boolean;
}

/** How much of a line a problem quotes: a 20 MB line once made a 20-million-character diagnostic. */
const QUOTED = 200;
const OPTION_NAMES = [...SEED_OPTIONS.keys()].join(', ');

/** `key: value`; a field option's key names its field too (`extract.tags[]: a.tag`). */
export const OPTION_LINE = /^(\s*)([A-Za-z][A-Za-z0-9_-]*(?:\.[^:#]*?)?)\s*:(.*)$/s;

/** A URL's scheme, which a seed line must start with to be taken for a URL. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const NO_SCHEME = 'not a URL: expected http:// or https://';

/**
 * Splits off a comment: `#` at the start of the content or after whitespace (URLs hold no spaces).
 * An `extract.` line has none: `#main` is a CSS selector there.
 */
export function stripComment(line: string): string {
  if (EXTRACT_LINE.test(line)) return line;
  const m = /(^|\s)#/.exec(line);
  return m ? line.slice(0, m.index) : line;
}

const EXTRACT_LINE = /^\s*extract\./i;

/**
 * An option line as the parser reads it: a known option name, or any `word: value` with a space
 * after the colon (`https://` has none). Anything else that is not blank is a URL line.
 */
export function optionLine(content: string): RegExpExecArray | null {
  const m = OPTION_LINE.exec(content);
  return m && (optionNamed(SEED_OPTIONS, m[2].toLowerCase()) !== undefined || /^(\s|$)/.test(m[3])) ? m : null;
}

/** What a URL line says on its own, wherever it stands in the file (its line number and duplicates aside). */
interface UrlLine {
  start: number;
  /** Its own copy, as every string here (see urlLines). */
  text: string;
  normalized: string | null;
  error: string | null;
  /** The error as its problem says it: the URL quoted, unless the line is reported whole. */
  message: string | null;
  /** Text after the URL on its line: where it starts (end: `contentEnd`); null for none. */
  extraStart: number | null;
  contentEnd: number;
}

/**
 * URL lines read, by their text: every keystroke in a seed file parses it whole, and the lines
 * not edited read the same as before. Reading each line again (comment, option or URL, the URL
 * normalized from a cache of its own) took 7 ms of a 5,000-URL file's parse, looking each up here
 * 2.3 ms. Keys are copied: a line is a slice of its version of the document, which it would keep
 * alive.
 */
const urlLines = new BoundedMap<string, UrlLine>(20_000);
/** Longer lines are read every time, not kept: no URL that long is crawlable (url.ts), and a 20 MB line kept twice would stay. */
const CACHED_LINE_MAX = 16 * 1024;

/** A URL line read (content: the line without its comment, not blank, not an option). */
function readUrlLine(content: string): UrlLine {
  // `s`: other line terminators (U+2028) stay inside the line, as they do for the editor.
  const m = /^(\s*)(\S+)(.*)$/s.exec(content)!;
  const start = m[1].length;
  const more = m[3].trim() !== '';
  // Words with no scheme are text, not a URL: the line is reported whole, rather than its first
  // word quoted as if it were one (`not a url` read "not: not a URL").
  const schemeless = !SCHEME.test(m[2]);
  const found = schemeless && more ? content.trimEnd().slice(start) : m[2];
  // Copied: kept here, a slice of the line would keep its whole version of the document alive.
  const text = ownString(found);
  const n = schemeless ? { ok: false as const, reason: NO_SCHEME } : normalizeUrl(text);
  const quoted = found === m[2];
  const error = n.ok ? null : ownString(n.reason);
  return {
    start,
    text,
    normalized: n.ok ? n.url : null,
    error,
    message: error === null ? null : quoted ? `${clip(text, QUOTED)}: ${error}` : error,
    extraStart: more && quoted ? start + text.length + (m[3].length - m[3].trimStart().length) : null,
    contentEnd: content.trimEnd().length,
  };
}

/** Line breaks as LSP counts them (a lone CR too), so problems land on the lines the editor shows. */
const LINE_BREAK = /\r\n|\r|\n/;

export function parseSeedFile(text: string): SeedFile {
  const lines = text.split(LINE_BREAK);
  const urls: SeedUrl[] = [];
  const problems: SeedProblem[] = [];
  const options: Record<string, unknown> = {};
  // Every line of a list option, in the order of its values: a schema issue names the value by index.
  const optionLines = new Map<OptionKey, number[]>();
  // The line of each field of a field option (extract.price), by field name as written.
  const fieldLines = new Map<string, number>();
  let badOptions = false;
  const seen = new Map<string, number>();

  lines.forEach((raw, line) => {
    let read = urlLines.get(raw);
    const content = read ? '' : stripComment(raw);
    if (!read && content.trim() === '') return;
    const opt = read ? null : optionLine(content);
    if (opt) {
      const name = opt[2].toLowerCase();
      const dot = opt[2].indexOf('.');
      // A field's name keeps its case: it is the data's key and the CSV's column.
      const field = dot < 0 ? null : opt[2].slice(dot + 1);
      const start = opt[1].length;
      const end = content.trimEnd().length;
      const problem = (message: string) => {
        problems.push({ line, start, end, message, severity: 'error', option: true, fix: 'line' });
        badOptions = true;
      };
      const spec = optionNamed(SEED_OPTIONS, name);
      if (urls.length > 0) return problem(`options go at the top, before the first URL`);
      if (!spec) {
        // Not "extract" for "extract" (a field option named without its field).
        const near = nearest(
          name,
          [...SEED_OPTIONS.keys()].filter((k) => k !== name),
        );
        return problem(`unknown option "${clip(opt[2], QUOTED)}"${near === null ? '' : ` (did you mean "${near}"?)`}; known options: ${OPTION_NAMES}`);
      }
      const value = opt[3].trim();
      const shown = field === null ? name : `${spec.name}.${clip(field, QUOTED)}`;
      if (value === '') return problem(`${shown}: needs a value`);
      const given = optionLines.get(spec.key);
      if (field !== null && fieldLines.has(field)) return problem(`${shown}: given twice (also on line ${fieldLines.get(field)! + 1})`);
      if (spec.kind !== 'list' && spec.kind !== 'field' && given) return problem(`${name}: given twice (also on line ${given[0] + 1})`);
      if (given) given.push(line);
      else optionLines.set(spec.key, [line]);
      switch (spec.kind) {
        case 'text':
          options[spec.key] = value;
          break;
        case 'choice':
          if (!spec.values.some((v) => v.value === value)) return problem(`${name}: must be ${spec.range} (got "${clip(value, QUOTED)}")`);
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
        case 'field': {
          try {
            parseField(field!, value);
          } catch (err) {
            if (err instanceof ExtractError) return problem(clip(err.message, QUOTED * 2));
            throw err;
          }
          const fields = (options[spec.key] ??= {}) as Record<string, string>;
          const twin = Object.keys(fields).find((f) => f.replace(/\[\]$/, '') === field!.replace(/\[\]$/, ''));
          if (twin !== undefined) return problem(`${shown}: the same field as ${spec.name}.${twin} (line ${fieldLines.get(twin)! + 1})`);
          fields[field!] = value;
          fieldLines.set(field!, line);
          break;
        }
      }
      return;
    }
    if (!read) {
      read = readUrlLine(content);
      if (raw.length <= CACHED_LINE_MAX) urlLines.set(ownString(raw), read);
    }
    const { start, text, normalized, error, message, extraStart } = read;
    const url: SeedUrl = { line, start, end: start + text.length, text, normalized, error, duplicateOf: null };
    urls.push(url);
    if (message !== null) problems.push({ line, start, end: url.end, message, severity: 'error', option: false, fix: 'line' });
    if (extraStart !== null) {
      problems.push({
        line,
        start: extraStart,
        end: read.contentEnd,
        message: 'one URL per line: this is not part of the URL',
        severity: 'error',
        option: false,
        fix: 'text',
      });
    }
    if (url.normalized) {
      const first = seen.get(url.normalized);
      if (first === undefined) seen.set(url.normalized, line);
      else {
        url.duplicateOf = first;
        problems.push({ line, start, end: url.end, message: `the same page as line ${first + 1}`, severity: 'warning', option: false, fix: 'duplicate' });
      }
    }
  });

  // The option values against the schema crawl/start uses: one source of truth for the limits.
  const checked = Params['crawl/start'].safeParse({ seeds: ['http://x/'], ...options });
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const key = issue.path[0] as OptionKey;
      const spec = [...SEED_OPTIONS.values()].find((s) => s.key === key)!;
      // Every key checked came from a line. A list's issue names its value's index, so its line;
      // one about the list as a whole (too many lines) names none: shown on its first line, with
      // no line offered for removal, as taking out any one would not fix it.
      const given = optionLines.get(key)!;
      const item = issue.path[1];
      const at =
        spec.kind === 'field'
          ? typeof item === 'string'
            ? fieldLines.get(item)
            : undefined
          : spec.kind !== 'list'
            ? given[0]
            : typeof item === 'number'
              ? given[item]
              : undefined;
      const line = at ?? given[0];
      problems.push({
        line,
        start: 0,
        end: lines[line].length,
        message: `${spec.name}: ${issue.message}`,
        severity: 'error',
        option: true,
        fix: at === undefined ? null : 'line',
      });
      delete options[key];
      badOptions = true;
    }
  }
  problems.sort((a, b) => a.line - b.line || a.start - b.start);
  return { urls, problems, options, badOptions };
}

/** The crawl/start params a seed file stands for, or null when it cannot start a crawl. */
export function startParams(file: SeedFile): ParamsOf<'crawl/start'> | null {
  const seeds = file.urls.filter((u) => u.normalized !== null && u.duplicateOf === null).map((u) => u.normalized!);
  if (file.badOptions || seeds.length === 0) return null;
  return { ...file.options, seeds };
}

/** Why a seed file cannot start a crawl, in one message (for invalid params). */
export function whyNotStartable(file: SeedFile): string {
  if (file.badOptions)
    return file.problems
      .filter((p) => p.option)
      .map((p) => `line ${p.line + 1}: ${p.message}`)
      .join('; ');
  return 'the seed file has no valid URL';
}
