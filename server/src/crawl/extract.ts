/**
 * Extraction by selector: a crawl's fields, each a CSS selector evaluated by css-select on the
 * page's tree (dom.ts), land in its page records' `data`.
 *
 * A field is `name: "<selector>"` for the text of the first match (whitespace collapsed and
 * trimmed), or `name: "<selector> @<attribute>"` for an attribute of it; a name ending in `[]`
 * collects every match, in document order. No match is null (or []).
 */
import { compile, type Options } from 'css-select';
import { isTag, isText, type AnyNode, type Document, type Element } from 'domhandler';
import * as DomUtils from 'domutils';
import { MAX_EXTRACT_FIELDS, MAX_EXTRACT_SPEC } from '../protocol';
import { ownString } from './bounded';

/** A field's name: a word, `[]` for every match. Letters, digits, `_` and `-`, so it is a CSV column and a seed-file option as it is. */
export const FIELD_NAME = /^(?!__proto__)[A-Za-z_][A-Za-z0-9_-]{0,63}(\[\])?$/;
/** Characters of one value, at most (an article's text is a few thousand). */
export const MAX_VALUE_CHARS = 10_000;
/** Matches a `[]` field keeps. */
export const MAX_MATCHES = 1_000;
/** Characters of all of a page's values together: a record's data stays under a few MB whatever the page. */
export const MAX_DATA_CHARS = 1_000_000;

/**
 * Steps a page's selectors may take together (each a node looked at, or 64 characters of text
 * read). css-select is linear for most selectors but not all: `li:nth-child(2)` counts each
 * element's earlier siblings, `li ~ li` walks them, `:has()` and `:contains()` walk subtrees, so on
 * a flat list of 100,000 items one field took 20.6 s. Counted in the adapter every css-select loop
 * goes through, the budget (0.35 s measured) stops such a field with the values it found so far
 * (null for a single value) and the crawl goes on. Each field gets an equal share of what the
 * fields before it left, so one expensive field cannot empty the others.
 */
export const MAX_STEPS = 20_000_000;
/** Characters of text read for a step. */
const CHARS_PER_STEP = 64;

export class ExtractError extends Error {}

/** A field took its share of the page's MAX_STEPS steps. */
class StepsSpent extends Error {}

let stepsLeft = MAX_STEPS;

function step(): void {
  if (--stepsLeft < 0) throw new StepsSpent();
}

/**
 * Every node under `nodes` in document order, each a step, until `visit` says stop: the subtree
 * walks (`:has`, `:contains`, selectAll, a value's text) domutils would do uncounted.
 */
function walk(nodes: readonly AnyNode[], visit: (node: AnyNode) => boolean): boolean {
  const stack = [...nodes].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    step();
    if (visit(node)) return true;
    if (isTag(node)) for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
  }
  return false;
}

/** The text under a node, in document order, read no further than `max` characters (each 64 a step). */
function textOf(node: AnyNode, max = Infinity): string {
  let text = '';
  walk([node], (n) => {
    if (!isText(n)) return false;
    const piece = n.data.length > max - text.length ? n.data.slice(0, max - text.length) : n.data;
    stepsLeft -= Math.floor(piece.length / CHARS_PER_STEP);
    if (stepsLeft < 0) throw new StepsSpent();
    text += piece;
    return text.length >= max;
  });
  return text;
}

const elements = (test: (el: Element) => boolean) => (node: AnyNode) => isTag(node) && test(node);

const ADAPTER: NonNullable<Options<AnyNode, Element>['adapter']> = {
  ...DomUtils,
  isTag: (node): node is Element => {
    step();
    return isTag(node);
  },
  getParent: (el) => {
    step();
    return el.parent;
  },
  getChildren: (node) => {
    step();
    return DomUtils.getChildren(node);
  },
  getSiblings: (node) => {
    step();
    return DomUtils.getSiblings(node);
  },
  getText: (node) => textOf(node),
  existsOne: (test, nodes) => walk(nodes, elements(test)),
  findOne: (test, nodes) => {
    let found: Element | null = null;
    walk(
      nodes,
      elements((el) => test(el) && (found = el) !== null),
    );
    return found;
  },
  findAll: (test, nodes) => {
    const found: Element[] = [];
    walk(
      nodes,
      elements((el) => {
        if (test(el)) found.push(el);
        return false;
      }),
    );
    return found;
  },
};

export interface Field {
  /** The key in `data`: the name without `[]`. */
  key: string;
  many: boolean;
  selector: string;
  /** Null: the element's text. */
  attribute: string | null;
  query: ReturnType<typeof compile<AnyNode, Element>>;
}

const ATTRIBUTE = /^(.*\S)\s+@([A-Za-z_:][-A-Za-z0-9_:.]*)\s*$/s;

function compiled(selector: string): Field['query'] | Error {
  try {
    return compile<AnyNode, Element>(selector, { adapter: ADAPTER });
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** One field's spec made a query; an ExtractError names the field and says what is wrong. */
export function parseField(name: string, spec: string): Field {
  if (!FIELD_NAME.test(name)) {
    throw new ExtractError(
      `extract.${name}: a field name is a letter or _ then letters, digits, _ or - (64 at most), with [] at the end to collect every match`,
    );
  }
  const text = spec.trim();
  if (text === '') throw new ExtractError(`extract.${name}: needs a selector`);
  if (text.length > MAX_EXTRACT_SPEC) throw new ExtractError(`extract.${name}: at most ${MAX_EXTRACT_SPEC} characters`);
  const many = name.endsWith('[]');
  const key = many ? name.slice(0, -2) : name;
  // `a @href` is an attribute of `a`; a selector that merely contains ` @` (in a quoted value) is tried whole.
  const split = ATTRIBUTE.exec(text);
  if (split) {
    const query = compiled(split[1]);
    if (!(query instanceof Error)) return { key, many, selector: split[1], attribute: split[2].toLowerCase(), query };
  }
  const query = compiled(text);
  if (query instanceof Error) {
    throw new ExtractError(
      `extract.${name}: not a CSS selector${split ? ` (before @${split[2]})` : ''}: ${(split ? (compiled(split[1]) as Error) : query).message}`,
    );
  }
  return { key, many, selector: text, attribute: null, query };
}

/** A crawl's fields, checked: the first problem throws, naming its field. */
export function parseFields(fields: Readonly<Record<string, string>>): Field[] {
  const names = Object.keys(fields);
  if (names.length > MAX_EXTRACT_FIELDS) throw new ExtractError(`extract: at most ${MAX_EXTRACT_FIELDS} fields (got ${names.length})`);
  const keys = new Map<string, string>();
  return names.map((name) => {
    const field = parseField(name, fields[name]);
    const other = keys.get(field.key);
    if (other !== undefined) throw new ExtractError(`extract.${name}: the same field as extract.${other}`);
    keys.set(field.key, name);
    return field;
  });
}

/** Values cut to what the page's budget has left. */
class Budget {
  private left = MAX_DATA_CHARS;

  value(raw: string): string {
    let cut = raw.length > MAX_VALUE_CHARS || raw.length > this.left ? raw.slice(0, Math.min(MAX_VALUE_CHARS, this.left)) : raw;
    // Not half a character: a high surrogate cut from its pair.
    if (cut.length < raw.length && /[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
    this.left -= cut.length;
    // A copy: a slice of the page's text would keep the page alive as long as the record waits.
    return ownString(cut);
  }
}

function valueOf(el: Element, field: Field, budget: Budget): string | null {
  // Read a little past the cap: collapsing whitespace may shorten it.
  if (field.attribute === null)
    return budget.value(
      textOf(el, MAX_VALUE_CHARS * 4)
        .replace(/\s+/g, ' ')
        .trim(),
    );
  // Attributes are kept in objects without a prototype (dom.ts): `@constructor` is an attribute or nothing.
  return Object.hasOwn(el.attribs, field.attribute) ? budget.value(el.attribs[field.attribute]) : null;
}

export interface Extracted {
  /** Each field's value: null (or [] for a `[]` field) when nothing matched. */
  data: Record<string, unknown>;
  /** The fields whose selectors ran out of steps (MAX_STEPS): null, or the values found before. */
  stopped: string[];
  /** Fields css-select failed on (an error of its own), each null or []: a field and its message. */
  failed: [string, string][];
}

/** A page's data, its selectors given MAX_STEPS steps in all, shared as MAX_STEPS says. */
export function extractData(document: Document, fields: readonly Field[]): Extracted {
  const budget = new Budget();
  // No field is named __proto__ (FIELD_NAME): each key is an own property of a plain object.
  const data: Record<string, unknown> = {};
  const stopped: string[] = [];
  const failed: [string, string][] = [];
  let left = MAX_STEPS;
  fields.forEach((field, i) => {
    const share = Math.floor(left / (fields.length - i));
    stepsLeft = share;
    const values: string[] = [];
    data[field.key] = field.many ? values : null;
    try {
      // The document's elements in order, each tested (what css-select's selectAll does), so that a
      // field stopped part way keeps what it found.
      walk(document.children, (node) => {
        if (!isTag(node) || !field.query(node)) return false;
        const value = valueOf(node, field, budget);
        if (!field.many) {
          data[field.key] = value;
          return true;
        }
        if (value !== null) values.push(value);
        return values.length >= MAX_MATCHES;
      });
    } catch (err) {
      if (err instanceof StepsSpent) stopped.push(field.key);
      else failed.push([field.key, err instanceof Error ? err.message : String(err)]);
    }
    left -= share - Math.max(0, stepsLeft);
  });
  return { data, stopped, failed };
}
