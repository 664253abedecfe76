/** Text kept or shown about something of unbounded size: its start, and an ellipsis where it was cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  // Not half a surrogate pair at the cut.
  const end = /[\uD800-\uDBFF]/.test(text[max - 2] ?? '') ? max - 2 : max - 1;
  return `${text.slice(0, end)}…`;
}

/**
 * What terminals act on or reorder: C0 controls and DEL, C1 controls (some terminals take U+009B
 * as CSI and U+009D as OSC), the bidi marks, embeddings, overrides and isolates, which make text
 * (a URL) read as other text, and the Unicode line and paragraph separators. A backslash is
 * matched too, so that every escape is unambiguous.
 */
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** The same for a log, which keeps its tabs and backslashes (a line break is escaped: it would forge a line). */
const UNSAFE_IN_LOG = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw that a terminal would still act on; `\u009b` in JSON reads back the same. */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeMatches(s: string, unsafe: RegExp, code: (c: number) => string): string {
  return s.replace(unsafe, (c) => NAMED[c] ?? code(c.charCodeAt(0)));
}
const hex = (c: number) => (c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`);
const jsonHex = (c: number) => `\\u${c.toString(16).padStart(4, '0')}`;

/**
 * `s` shown as it is but for what a terminal would act on: `\x1b`, `\x9b`, `\u202e`, `\n`, `\t`;
 * a backslash becomes `\\`. A newline is escaped too: a line break within one value would let
 * remote text pass for lines of crawlctl's own.
 */
export function escapeControls(s: string): string {
  return escapeMatches(s, UNSAFE, hex);
}

/** A log line's text with what a terminal would act on escaped, line breaks included; tabs and backslashes kept. */
export function escapeForLog(s: string): string {
  return escapeMatches(s, UNSAFE_IN_LOG, hex);
}

/** JSON text with nothing a terminal would act on: the same values, some written as `\uXXXX`. */
export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => jsonHex(c.charCodeAt(0)));
}
