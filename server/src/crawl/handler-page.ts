/**
 * What a page handler sees (`page`) and what it may give back, on the handler's thread
 * (handler-worker.ts). The page's text and tree are made on first use: a handler that reads only
 * `status` or `headers` costs no parse. The tree is the one the crawl's `extract.*` fields search
 * (dom.ts, built by the link extractor), so a selector matches the same elements in both.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compile, selectAll, selectOne } from 'css-select';
import type { AnyNode, Element } from 'domhandler';
import * as DomUtils from 'domutils';
import { MAX_DATA_CHARS } from './extract';
import { decodePage, DEFAULT_MAX_LINKS, extractLinks, sniffEncoding } from './links';
import { MAX_URL_BYTES } from './url';

/** A fetched page as the daemon sends it to a handler's thread. */
export interface PageInput {
  url: string;
  finalUrl: string;
  status: number;
  headers: Record<string, string>;
  contentType: string | null;
  charset: string | null;
  body: Uint8Array;
}

/** The daemon's messages to a handler's thread (handler-worker.ts), and its answers. */
export type ToHandler = { type: 'load'; id: number; file: string } | { type: 'run'; id: number; file: string; page: PageInput };

export type FromHandler = { id: number; output: HandlerOutput | null; error: null } | { id: number; output: null; error: string };

/** A handler thread's workerData: its buffers' limit (the heap's is the Worker's resourceLimits). */
export interface HandlerData {
  buffersMb: number;
}

/** The exit code of a thread that stopped itself because its buffers passed their limit. */
export const BUFFERS_EXIT_CODE = 86;

/** What a handler's return value comes to, checked: its data as JSON, and URLs as given. */
export interface HandlerOutput {
  /** Null: none. An object is merged into the page's data; an array is its `records`. */
  data: string | null;
  enqueue: string[];
}

/** The longest message a failure keeps: it goes into the page's record. */
const MAX_MESSAGE_CHARS = 1_000;

/** Thrown for a return value that is not `{ data?, enqueue? }` as documented: the page fails with it. */
export class ResultError extends Error {}

/** Selectors compiled, by their text: a handler asks the same few on every page. */
const queries = new Map<string, ReturnType<typeof compile<AnyNode, Element>>>();
const QUERIES_KEPT = 256;

function query(selector: string): ReturnType<typeof compile<AnyNode, Element>> {
  if (typeof selector !== 'string') throw new TypeError(`a selector is a string (got ${typeof selector})`);
  let q = queries.get(selector);
  if (q === undefined) {
    q = compile<AnyNode, Element>(selector);
    if (queries.size >= QUERIES_KEPT) queries.clear();
    queries.set(selector, q);
  }
  return q;
}

/** An element a selector matched: its name, text (collapsed as a field's is) and attributes, and queries under it. */
export class Match {
  private textCache: string | undefined;

  constructor(private readonly el: Element) {}

  get tag(): string {
    return this.el.name;
  }

  get text(): string {
    return (this.textCache ??= DomUtils.textContent(this.el).replace(/\s+/g, ' ').trim());
  }

  /** Every attribute, by lower-case name, in a plain object of its own. */
  get attributes(): Record<string, string> {
    return { ...this.el.attribs };
  }

  /** One attribute's value; null when the element has none of that name. */
  attr(name: string): string | null {
    const key = String(name).toLowerCase();
    return Object.hasOwn(this.el.attribs, key) ? this.el.attribs[key] : null;
  }

  /** The first element under this one that matches; null for none. */
  $(selector: string): Match | null {
    const el = selectOne<AnyNode, Element>(query(selector), this.el.children);
    return el === null ? null : new Match(el);
  }

  /** Every element under this one that matches, in document order. */
  $$(selector: string): Match[] {
    return selectAll<AnyNode, Element>(query(selector), this.el.children).map((el) => new Match(el));
  }
}

/** The `page` a handler is called with. */
export function handlerPage(input: PageInput) {
  let text: string | undefined;
  let nodes: AnyNode[] | undefined;
  const tree = () =>
    (nodes ??= extractLinks(Buffer.from(input.body.buffer, input.body.byteOffset, input.body.byteLength), input.finalUrl, {
      encoding: sniffEncoding(input.body, input.charset),
      document: true,
      maxLinks: 0,
    }).tree!.document.children);
  return {
    url: input.url,
    finalUrl: input.finalUrl,
    status: input.status,
    headers: input.headers,
    contentType: input.contentType,
    /** The body decoded as the crawler decodes it (its charset, a BOM or a `<meta charset>`). */
    get text(): string {
      return (text ??= decodePage(input.body, input.charset));
    },
    /** The first element that matches, as a Match; null for none. */
    $(selector: string): Match | null {
      const el = selectOne<AnyNode, Element>(query(selector), tree());
      return el === null ? null : new Match(el);
    },
    /** Every element that matches, in document order. */
    $$(selector: string): Match[] {
      return selectAll<AnyNode, Element>(query(selector), tree()).map((el) => new Match(el));
    },
  };
}

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** A handler's return value, checked and made plain: what the daemon keeps of it. */
export function handlerOutput(result: unknown): HandlerOutput {
  if (result === undefined || result === null) return { data: null, enqueue: [] };
  if (typeof result !== 'object' || Array.isArray(result)) {
    throw new ResultError(`the handler returned ${kind(result)}; return { data, enqueue } (each optional), or nothing`);
  }
  const { data: given, enqueue } = result as { data?: unknown; enqueue?: unknown };
  let json: string | null = null;
  if (given !== undefined && given !== null) {
    try {
      json = JSON.stringify(given) ?? null;
    } catch (err) {
      throw new ResultError(`data cannot be kept as JSON: ${(err as Error).message}`);
    }
    if (json === null) throw new ResultError('data is nothing as JSON; a record is an object');
    if (json.length > MAX_DATA_CHARS) {
      throw new ResultError(
        `data is ${json.length.toLocaleString('en-US')} characters as JSON; a page's data is at most ${MAX_DATA_CHARS.toLocaleString('en-US')}`,
      );
    }
    // Checked as it will be kept: toJSON (a Date's, a URL's) makes of a value what JSON says.
    const data = JSON.parse(json) as unknown;
    const records = Array.isArray(data) ? data : [data];
    records.forEach((r, i) => {
      if (r === null || typeof r !== 'object' || Array.isArray(r)) {
        throw new ResultError(`${Array.isArray(data) ? `data[${i}]` : 'data'} is ${kind(r)} as JSON; a record is an object`);
      }
    });
  }
  const urls: string[] = [];
  if (enqueue !== undefined && enqueue !== null) {
    if (!Array.isArray(enqueue)) throw new ResultError(`enqueue is ${kind(enqueue)}; it is a list of URLs`);
    if (enqueue.length > DEFAULT_MAX_LINKS)
      throw new ResultError(`enqueue has ${enqueue.length.toLocaleString('en-US')} URLs; a page may add at most ${DEFAULT_MAX_LINKS.toLocaleString('en-US')}`);
    enqueue.forEach((u, i) => {
      if (typeof u !== 'string') throw new ResultError(`enqueue[${i}] is ${kind(u)}; a URL is a string`);
      if (Buffer.byteLength(u) > MAX_URL_BYTES) throw new ResultError(`enqueue[${i}] is longer than a URL may be (${MAX_URL_BYTES} bytes)`);
      urls.push(u);
    });
  }
  return { data: json, enqueue: urls };
}

/**
 * What went wrong, on one line: the error and where it was thrown, as the nearest frame in the
 * handler's own folder (paths shown relative to it), else the nearest frame that is not Node's.
 */
export function describe(err: unknown, file: string): string {
  if (err instanceof ResultError) return clip(err.message);
  if (!(err instanceof Error)) return clip(`threw ${err === null ? 'null' : typeof err}: ${String(err)}`);
  const dir = `${pathToFileURL(path.dirname(file)).href}/`;
  const lines = (err.stack ?? '').split('\n');
  // A module that does not parse: its place goes first (`/…/x.mjs:3`, see handler-worker.ts), before the source line.
  const place = /^\S+:\d+$/.test(lines[0]) ? lines[0] : null;
  const frames = lines
    .filter((l) => /^\s+at /.test(l))
    .map((l) => l.trim().slice(3))
    .filter((f) => !/\(?node:|handler-worker\.js/.test(f));
  const top = place ?? frames.find((f) => f.includes(dir)) ?? frames[0];
  const where =
    top === undefined
      ? ''
      : ` (at ${top
          .split(dir)
          .join('')
          .split(`${path.dirname(file)}${path.sep}`)
          .join('')})`;
  return clip(`${err.name}: ${err.message}${where}`);
}

function clip(raw: string): string {
  const text = raw.replace(/\s*\n\s*/g, ' ');
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…` : text;
}
