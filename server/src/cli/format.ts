/**
 * Text for people: aligned tables, sizes, durations, a progress bar, and `Text`, the only thing
 * Ui writes, whose remote parts (titles, URLs, error texts) are escaped on the way in.
 */
import { escapeControls } from '../core/text';

/**
 * Text for the terminal. Made only here, by `text`, `table` and `fields`, which escape every value
 * given to them, so a command cannot print a remote string raw by forgetting to escape it.
 */
class Text {
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  toString(): string {
    return this.#text;
  }
}
export type { Text };

/** A template whose literal parts are crawlctl's own and whose values are escaped (a `Text` goes in as it is). */
export function text(literals: TemplateStringsArray, ...values: (Text | string | number)[]): Text {
  let out = literals[0];
  values.forEach((v, i) => {
    out += (v instanceof Text ? v.toString() : escapeControls(String(v))) + literals[i + 1];
  });
  return new Text(out);
}

/**
 * A value as one word a POSIX shell reads back unchanged, and shown safely: bare when plain, else
 * in single quotes; with a backslash or anything a terminal would act on, as $'…' (bash, zsh, ksh)
 * with those escaped as escapeControls writes them (`\\`, `\n`, `\x1b`, `\u202e`), which $'…'
 * reads back. Quoted plainly, `C:\tmp` was shown escaped as `C:\\tmp`: another search.
 */
export function shellWord(v: string): Text {
  if (/^[\w.,:/@%+=-]+$/.test(v)) return new Text(v);
  const escaped = escapeControls(v);
  return new Text(escaped === v ? `'${v.replace(/'/g, `'\\''`)}'` : `$'${escaped.replace(/'/g, `\\'`)}'`);
}

export function lines(parts: readonly Text[]): Text {
  return new Text(parts.join('\n'));
}

/** Every line two spaces in. */
export function indent(t: Text): Text {
  return new Text(
    t
      .toString()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  );
}

/** `key  value` lines with the keys aligned; rows with an empty value are left out. */
export function fields(rows: readonly (readonly [string, string])[]): Text {
  const shown = rows.filter(([, v]) => v !== '').map(([k, v]) => [escapeControls(k), escapeControls(v)]);
  const w = Math.max(...shown.map(([k]) => width(k)));
  return new Text(shown.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
}

export interface Column {
  title: string;
  align?: 'left' | 'right';
  /** May be cut to fit the terminal (URLs, error messages). */
  flexible?: boolean;
}

/** Display width, counting each code point as one column (good enough for our symbols). */
function width(s: string): number {
  return [...s].length;
}

function cut(s: string, w: number): string {
  if (width(s) <= w) return s;
  if (w <= 1) return [...s].slice(0, w).join('');
  return `${[...s].slice(0, w - 1).join('')}…`;
}

/** Cut in the middle, keeping both ends: a URL's host and its last path segment. */
function cutMiddle(s: string, w: number): string {
  const chars = [...s];
  if (chars.length <= w) return s;
  if (w <= 1) return chars.slice(0, w).join('');
  const head = Math.ceil((w - 1) / 2);
  const tail = w - 1 - head;
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(-tail).join('') : ''}`;
}

/** The columns a value takes once escaped for the terminal. */
export function shownWidth(value: string): number {
  return width(escapeControls(value));
}

/**
 * A value escaped, then cut to `w` columns with an ellipsis: at its end, or in its middle (for
 * URLs, whose two ends say most). Measured in its escaped form, as tables are.
 */
export function fit(value: string, w: number, where: 'end' | 'middle' = 'end'): Text {
  const shown = escapeControls(value);
  return new Text(where === 'middle' ? cutMiddle(shown, Math.max(1, w)) : cut(shown, Math.max(1, w)));
}

/** `1,234`: a count with thousands separators, whatever the locale. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** How wide a flexible column is padded off a terminal (see table). */
const PADDED_OFF_TERMINAL = 80;

/**
 * A table of escaped cells, measured and cut as shown; when `maxWidth` is given, flexible columns
 * are cut so each line fits.
 */
export function table(columns: Column[], rows: string[][], maxWidth?: number): Text {
  const clean = rows.map((r) => r.map(escapeControls));
  const widths = columns.map((c, i) => Math.max(width(c.title), ...clean.map((r) => width(r[i] ?? ''))));
  if (maxWidth !== undefined) {
    const gap = 2 * (columns.length - 1);
    let over = widths.reduce((a, b) => a + b, 0) + gap - maxWidth;
    for (let i = columns.length - 1; i >= 0 && over > 0; i--) {
      if (!columns[i].flexible) continue;
      const floor = Math.max(width(columns[i].title), 20);
      const take = Math.min(over, widths[i] - floor);
      if (take > 0) {
        widths[i] -= take;
        over -= take;
      }
    }
  }
  // Off a terminal (no width to fit) cells are written whole, and a flexible column is padded to at
  // most PADDED_OFF_TERMINAL: one URL of 5,000 characters padded every line of a 1,519-job listing
  // to 5,100 (7.7 MB where the JSON was 1.2).
  if (maxWidth === undefined) {
    for (const [i, c] of columns.entries()) if (c.flexible) widths[i] = Math.min(widths[i], Math.max(width(c.title), PADDED_OFF_TERMINAL));
  }
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        const text = maxWidth === undefined ? cell : cut(cell, widths[i]);
        const pad = ' '.repeat(Math.max(0, widths[i] - width(text)));
        if (i === cells.length - 1 && columns[i].align !== 'right') return text;
        return columns[i].align === 'right' ? pad + text : text + pad;
      })
      .join('  ');
  return new Text([line(columns.map((c) => c.title)), ...clean.map(line)].join('\n'));
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "in 12 s" / "3 s ago" relative to now, from an ISO time. */
export function relative(isoTime: string | null, now = Date.now()): string {
  if (!isoTime) return '';
  const d = Date.parse(isoTime) - now;
  const text = duration(Math.abs(d));
  return d >= 0 ? `in ${text}` : `${text} ago`;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** `[██████░░░░]` for a fraction in [0, 1]. */
export function bar(fraction: number, cells = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * cells);
  return `[${'█'.repeat(full)}${'░'.repeat(cells - full)}]`;
}
