/**
 * Whole-string globs where `*` matches any run of characters (including none) and every other
 * character matches itself: robots.txt rules and the crawl's include/exclude patterns.
 *
 * A glob is compiled once into its literal segments between stars. The text must start with the
 * first segment and end with the last; the segments in between are found leftmost-first, in
 * order, each after the previous one. Taking the leftmost occurrence is always right for
 * star-only globs: it leaves the most text for the segments after it. Each search is
 * Knuth-Morris-Pratt with a failure table built at compile time, so it never reads a character
 * of the text twice except on a fallback, and fallbacks never outnumber the characters read.
 * A test therefore costs at most the pattern's length plus twice the text's, whatever the
 * pattern. The backtracking matcher this replaces took 12 s for one robots.txt verdict over 120
 * rules of a star then 4,000 characters, against an 8 KiB URL; this takes 7 ms.
 *
 * Not a RegExp (or RE2): a backtracking engine is exponential on many stars, and RE2's
 * simulation costs pattern length times text length, which is the cost being avoided here.
 */

/** Work counter shared across tests, for callers that bound the total work of many matches. */
export interface GlobWork {
  /** One per test, plus one per character compared or KMP fallback taken. */
  steps: number;
}

/** Steps of the test under way (tests never interleave: they are synchronous). */
let steps = 0;

interface Segment {
  text: string;
  /** failure[k] is the length of the longest proper border of text[0..k]. */
  failure: number[];
}

function segment(text: string): Segment {
  // A plain array: most segments are a few characters, and a typed array costs more to create.
  const failure = [0];
  for (let i = 1, k = 0; i < text.length; i++) {
    while (k > 0 && text.charCodeAt(i) !== text.charCodeAt(k)) k = failure[k - 1];
    if (text.charCodeAt(i) === text.charCodeAt(k)) k++;
    failure.push(k);
  }
  return { text, failure };
}

export class Glob {
  /** The whole glob when it has no star; otherwise the part before the first star. */
  private readonly head: string;
  private readonly tail: string;
  /** Non-empty segments between the first and last star (consecutive stars leave empty ones). */
  private readonly middle: Segment[];
  private readonly starred: boolean;

  constructor(readonly source: string) {
    const first = source.indexOf('*');
    const last = source.lastIndexOf('*');
    this.starred = first !== -1;
    this.head = this.starred ? source.slice(0, first) : source;
    this.tail = this.starred ? source.slice(last + 1) : '';
    this.middle = [];
    for (let i = first + 1; i < last;) {
      const star = source.indexOf('*', i);
      if (star > i) this.middle.push(segment(source.slice(i, star)));
      i = star + 1;
    }
  }

  /** Does the glob match all of `text`? Adds the work done to `work` when given. */
  test(text: string, work?: GlobWork): boolean {
    steps = 1;
    const matched = this.run(text);
    if (work) work.steps += steps;
    return matched;
  }

  private run(text: string): boolean {
    const { head, tail } = this;
    if (!this.starred) {
      steps += Math.min(head.length, text.length);
      return text === head;
    }
    if (text.length < head.length + tail.length) return false;
    steps += head.length + tail.length;
    if (!text.startsWith(head) || !text.endsWith(tail)) return false;
    let from = head.length;
    const end = text.length - tail.length;
    for (const s of this.middle) {
      from = find(s, text, from, end);
      if (from === -1) return false;
    }
    return true;
  }
}

/** Index just after the leftmost occurrence of `s` in text[from, end), or -1. */
function find(s: Segment, text: string, from: number, end: number): number {
  const { text: p, failure } = s;
  const m = p.length;
  let k = 0;
  let i = from;
  let n = 0; // steps, kept local in the loop and added once
  // Stop as soon as the rest of the text is too short for the rest of the segment.
  while (end - i >= m - k) {
    const c = text.charCodeAt(i);
    while (k > 0 && p.charCodeAt(k) !== c) {
      k = failure[k - 1];
      n++;
    }
    if (p.charCodeAt(k) === c) k++;
    i++;
    n++;
    if (k === m) {
      steps += n;
      return i;
    }
  }
  steps += n;
  return -1;
}
