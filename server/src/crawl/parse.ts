/**
 * A fetched HTML page read once: decoded, tokenized (links.ts), its links with their text, the
 * page record's fields, and the crawl's selector fields searched on its tree (extract.ts). Done on
 * a parser thread (parse-worker.ts, parse-pool.ts) or, with no threads, on the daemon's own; the
 * answer is a plain record either way, so both give the same.
 */
import { extractData, parseFields, type Field } from './extract';
import { sniffEncoding, type LinkExtraction, type LinkExtractorOptions } from './links';

/** A page to read, as the daemon's thread sends it to a parser thread. */
export interface ParseRequest {
  /** The page's final URL: its links are resolved against it. */
  url: string;
  body: Uint8Array;
  /** The Content-Type's charset, if any. */
  charset: string | null;
  /** The crawler's robots product token, also honoured as a `<meta name>`. */
  botToken: string;
  /** The crawl's selector fields as given (options.extract); null for none. */
  fields: Readonly<Record<string, string>> | null;
}

/** What a page's record keeps of its links and head: the extraction without its tree. */
export type PageLinks = Omit<LinkExtraction, 'tree'>;

export interface ParsedPage extends PageLinks {
  /** The selector fields' values; null when the crawl has none. */
  data: Record<string, unknown> | null;
  /** Fields whose selectors ran out of steps (extract.ts MAX_STEPS). */
  stopped: string[];
  /** Fields css-select failed on, with its message. */
  failed: [string, string][];
  /** The tree stopped growing at dom.ts MAX_NODES: the selectors searched its beginning only. */
  treeTruncated: boolean;
}

/** The extractor's options for a request: its encoding sniffed, and a tree only for a crawl with fields. */
export function extractorOptions(request: ParseRequest): LinkExtractorOptions {
  return { botToken: request.botToken, encoding: sniffEncoding(request.body, request.charset), document: request.fields !== null };
}

/** A page's record from its extraction, its tree searched by the fields and then let go. */
export function parsedPage(extraction: LinkExtraction, fields: readonly Field[] | null): ParsedPage {
  const { tree, ...links } = extraction;
  if (fields === null || tree === null) return { ...links, data: null, stopped: [], failed: [], treeTruncated: false };
  const { data, stopped, failed } = extractData(tree.document, fields);
  return { ...links, data, stopped, failed, treeTruncated: tree.truncated };
}

/**
 * A record as it crosses between threads: its links as a column per field. Structured clone
 * copies an object key by key; columns of 70 links cloned in 118 µs where the objects took 257
 * (v8.serialize and deserialize, on a loaded machine), and the daemon's thread pays the latter.
 */
export interface PackedPage extends Omit<ParsedPage, 'links'> {
  urls: string[];
  hosts: string[];
  texts: string[];
  nofollow: boolean[];
}

export function packPage({ links, ...page }: ParsedPage): PackedPage {
  return { ...page, urls: links.map((l) => l.url), hosts: links.map((l) => l.host), texts: links.map((l) => l.text), nofollow: links.map((l) => l.nofollow) };
}

export function unpackPage({ urls, hosts, texts, nofollow, ...page }: PackedPage): ParsedPage {
  return { ...page, links: urls.map((url, i) => ({ url, host: hosts[i], nofollow: nofollow[i], text: texts[i] })) };
}

/** Fields compiled, by their crawl's spec: a thread sees the same few crawls' fields on every page. */
const compiledFields = new Map<string, Field[]>();
const FIELD_SETS_KEPT = 64;

/** A crawl's fields compiled once per thread (crawl/start checked them: they compile). */
export function fieldsOf(spec: Readonly<Record<string, string>> | null): Field[] | null {
  if (spec === null) return null;
  const key = JSON.stringify(spec);
  let fields = compiledFields.get(key);
  if (fields === undefined) {
    fields = parseFields(spec);
    if (compiledFields.size >= FIELD_SETS_KEPT) compiledFields.clear();
    compiledFields.set(key, fields);
  }
  return fields;
}
