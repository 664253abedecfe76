/**
 * Incremental link extraction from HTML with htmlparser2's streaming parser,
 * so a fetcher can feed body chunks as they arrive.
 *
 * - Links come from `<a href>` and `<area href>`. They are resolved against the
 *   document base URL: the first `<base>` with an href, itself resolved
 *   against the page URL (ignored if unparsable or data:/javascript:, as in the
 *   HTML standard). Since that base also applies to links written before it,
 *   such links wait until the base is known or the document ends.
 * - Only URLs that normalizeUrl accepts are returned, already normalized and
 *   de-duplicated in document order; the rest (javascript:, mailto:, data:,
 *   malformed, too long) are counted as `dropped`.
 * - A link is nofollow when every occurrence of it carries rel=nofollow.
 * - At most `maxLinks` distinct links are kept; later occurrences of other
 *   URLs are counted as `truncated`.
 * - `<meta name="robots">` (and `<meta name="<botToken>">` when given) sets
 *   metaNofollow / metaNoindex (`none` means both).
 * - The title is the text of the first `<title>` outside `<svg>`, whitespace
 *   collapsed, trimmed and capped; null when absent or empty.
 * - A link's text is that of its first occurrence: the anchor's text content,
 *   else the alt of an `<img>` in it, its aria-label or its title; an `<area>`'s
 *   alt. The description, canonical URL, `<html lang>` and meta robots content
 *   are kept for the page record.
 * - Every piece of text kept is whitespace collapsed, trimmed and capped, and
 *   collected within a few times its cap: a page costs its length whatever its
 *   shape.
 */

import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { decodeHTMLAttribute } from 'entities';
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { ownString } from './bounded';
import { TreeBuilder } from './dom';
import { normalizeUrl } from './url';

export interface ExtractedLink {
  /** Normalized. */
  url: string;
  /** Its host, as normalizeUrl gives it (so nobody parses the URL again). */
  host: string;
  nofollow: boolean;
  /** The text of its first occurrence (see MAX_LINK_TEXT_CHARS); '' for none. */
  text: string;
}

export interface LinkExtraction {
  title: string | null;
  /** The first `<meta name="description">`'s content; null when absent or empty. */
  description: string | null;
  /** The first `<link rel="canonical">`'s href, resolved and normalized; null when absent or not crawlable. */
  canonical: string | null;
  /** The first `<html>`'s lang attribute; null when absent or empty. */
  lang: string | null;
  links: ExtractedLink[];
  metaNofollow: boolean;
  metaNoindex: boolean;
  /** The content of the meta robots tags read for metaNofollow / metaNoindex, joined with ", " (whole tags, as many as fit); null for none. */
  metaRobots: string | null;
  /** hrefs that were not crawlable http(s) URLs. */
  dropped: number;
  /** Occurrences of crawlable links beyond maxLinks. */
  truncated: number;
  /** The URL relative links were resolved against. */
  baseUrl: string;
  /** The page's tree (dom.ts), when asked for (`document`); null otherwise. */
  tree: TreeBuilder | null;
}

export interface LinkExtractorOptions {
  /** Distinct links kept per page; default 20,000. */
  maxLinks?: number;
  /** Default 512. */
  maxTitleChars?: number;
  /** Our robots product token, also honoured as a `<meta name>`. */
  botToken?: string;
  /** Character encoding of Buffer chunks (a WHATWG label such as from Content-Type); default utf-8. */
  encoding?: string;
  /** Build the page's tree too, for selectors: only a crawl that extracts fields pays for it. */
  document?: boolean;
}

export const DEFAULT_MAX_LINKS = 20_000;
export const DEFAULT_MAX_TITLE_CHARS = 512;
export const MAX_LINK_TEXT_CHARS = 200;
export const MAX_DESCRIPTION_CHARS = 1000;
export const MAX_LANG_CHARS = 35;
export const MAX_META_ROBOTS_CHARS = 200;

function makeDecoder(label: string | undefined): TextDecoder {
  try {
    return new TextDecoder(label ?? 'utf-8');
  } catch {
    // Unknown labels are common in the wild (typos, made-up names); UTF-8 is the best guess.
    return new TextDecoder('utf-8');
  }
}

/**
 * UTF-8 bytes decoded as a stream, with ASCII read as it is. A streaming TextDecoder took 88 µs
 * for 65 KB of ASCII, reading it as Latin-1 (the same characters) 9 (Node 20): in a profile of the
 * parser thread on the heavy bench, decoding went from 84 ms per 1,000 pages to 19. For text with
 * other characters the streaming decoder is the faster of the two (66 µs against 104), so it stays.
 * Once a chunk was not ASCII the decoder reads the rest, as it may hold the start of a character;
 * one started after ASCII was read keeps a byte order mark as text, as the stream's would.
 */
class StreamDecoder {
  private decoder: TextDecoder;
  /** Bytes read as ASCII, not by the decoder: it is no longer at the stream's start. */
  private skipped = false;
  private decoding = false;

  constructor(label: string | undefined) {
    this.decoder = makeDecoder(label);
  }

  decode(bytes: Uint8Array): string {
    if (!this.decoding && this.decoder.encoding === 'utf-8' && isAscii(bytes)) {
      this.skipped ||= bytes.byteLength > 0;
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    }
    if (!this.decoding && this.skipped) this.decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    this.decoding = true;
    return this.decoder.decode(bytes, { stream: true });
  }

  end(): string {
    return this.decoding ? this.decoder.decode() : '';
  }
}

/** A page's body as text, decoded as sniffEncoding settles it. */
export function decodePage(body: Uint8Array, declared: string | null): string {
  return makeDecoder(sniffEncoding(body, declared)).decode(body);
}

/** Where the HTML standard's prescan looks for a `<meta>` charset: the first 1024 bytes. */
const PRESCAN_BYTES = 1024;
const META_CHARSET = /<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.()-]+)/i;

/**
 * A page's encoding as a browser would settle it, simplified: a byte order mark first, then the
 * Content-Type's charset, then a `<meta charset>` or `<meta http-equiv … charset=…>` in the
 * first 1024 bytes (a UTF-16 label there means UTF-8, as the standard says); undefined for none.
 */
export function sniffEncoding(body: Uint8Array, declared: string | null): string | undefined {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if (body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  if (body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  if (declared) return declared;
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, PRESCAN_BYTES)).toString('latin1');
  const label = META_CHARSET.exec(head)?.[1].toLowerCase();
  if (label === undefined) return undefined;
  return label.startsWith('utf-16') ? 'utf-8' : label;
}

function tokens(value: string | undefined, separators: RegExp): string[] {
  return (value ?? '')
    .toLowerCase()
    .split(separators)
    .filter((t) => t !== '');
}

/**
 * Text capped at `max` characters, whitespace runs collapsed and trimmed. Runs collapse as the text
 * comes, so indentation cannot push the words out, and collecting stops once the cap is sure to be
 * filled: whatever is added, it holds at most 4 × max characters and costs O(1) per character.
 */
class CappedText {
  private text = '';
  private full: boolean;

  constructor(private readonly max: number) {
    // A cap of 0 keeps nothing, and would leave add() no room to make progress.
    this.full = !(max > 0);
  }

  add(piece: string): void {
    for (let at = 0; !this.full && at < piece.length;) {
      // Never 0: after a collapse that leaves room, the text is at most `max` long.
      const room = this.max * 4 - this.text.length;
      this.text += piece.slice(at, at + room);
      at += room;
      if (this.text.length >= this.max * 4) {
        this.text = this.text.replace(/\s+/g, ' ').trimStart();
        // More than max characters left after collapsing: what follows cannot change the first max.
        this.full = this.text.length > this.max;
      }
    }
  }

  /**
   * A string of its own (ownString): with nothing to collapse, the text would be a slice of the
   * page's decoded chunk, and keep it whole wherever it is kept. At the benchmark crawl's peak the
   * page store's text cache held 5,359 page bodies (9.8 MB; the daemon's heap 22 MB larger with
   * records on than off, 11 MB since); records waiting for a database that refuses writes, 100
   * pages of 1 MB with URLs for link texts kept 103 MB.
   */
  value(): string {
    let text = this.text.replace(/\s+/g, ' ').trim().slice(0, this.max);
    if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1);
    return ownString(text.trimEnd());
  }
}

/** An attribute value as CappedText keeps it. */
function clip(value: string | undefined, max: number): string {
  if (value === undefined) return '';
  const text = new CappedText(max);
  text.add(value);
  return text.value();
}

/** Where a link's text goes once known: its first occurrence, resolved or still pending. */
interface TextTarget {
  text: string;
}

/** A link seen before the base URL is known. */
interface PendingLink extends TextTarget {
  href: string;
  nofollow: boolean;
}

/** The `<a href>` whose text is being read, until it closes or another `<a>` opens. */
interface OpenAnchor {
  /** Null when its text is not wanted: the link is dropped, over the cap or seen before. */
  target: TextTarget | null;
  text: CappedText;
  /** The first non-empty alt of an `<img>` inside it. */
  imgAlt: string;
  ariaLabel: string | undefined;
  title: string | undefined;
}

/** HTML's void elements (and a few obsolete ones browsers still treat so): never open, so never closed. */
const VOID = new Set([
  'area',
  'base',
  'basefont',
  'bgsound',
  'br',
  'col',
  'command',
  'embed',
  'frame',
  'hr',
  'image',
  'img',
  'input',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);
const P = new Set(['p']);
const CELLS = ['td', 'th', 'p'];
const HEADINGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
/**
 * For a start tag, the open elements it ends while they are innermost (HTML's optional end tags):
 * a block ends a `<p>`, a heading an open heading, `<li>` an `<li>` (and a `<p>` in it), a cell
 * a cell. Innermost only: `<li>` in a `<ul>` in an `<li>` leaves the outer one open.
 */
const IMPLIED_END = new Map<string, ReadonlySet<string>>([
  ...[
    'address',
    'article',
    'aside',
    'blockquote',
    'details',
    'div',
    'dl',
    'fieldset',
    'figcaption',
    'figure',
    'footer',
    'form',
    'header',
    'hgroup',
    'hr',
    'main',
    'menu',
    'nav',
    'ol',
    'p',
    'pre',
    'section',
    'table',
    'ul',
  ].map((tag) => [tag, P] as const),
  ...HEADINGS.map((tag) => [tag, new Set(['p', ...HEADINGS])] as const),
  ['li', new Set(['li', 'p'])],
  ['dt', new Set(['dt', 'dd', 'p'])],
  ['dd', new Set(['dt', 'dd', 'p'])],
  ['option', new Set(['option'])],
  ['optgroup', new Set(['optgroup', 'option'])],
  ['rt', new Set(['rt', 'rp'])],
  ['rp', new Set(['rt', 'rp'])],
  ['td', new Set(CELLS)],
  ['th', new Set(CELLS)],
  ['tr', new Set(['tr', ...CELLS])],
  ...['thead', 'tbody', 'tfoot'].map((tag) => [tag, new Set(['thead', 'tbody', 'tfoot', 'tr', ...CELLS])] as const),
]);

/**
 * The tags whose attributes onOpenTag reads. Without a tree the others' go unread: not sliced from
 * the page nor decoded. On a page of 600 blocks of `<div class id data-id style>` (94 KB), 2.0-2.3
 * ms a page against 2.3-4.1 with every tag's read (fastest of 4 rounds, 5 runs of each interleaved,
 * a loaded machine); the heavy bench's pages have few attributes and showed no difference.
 */
const READ_ATTRIBUTES = new Set(['a', 'area', 'img', 'html', 'link', 'base', 'meta']);
const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

/** `<x/>` closes itself inside SVG and MathML, but not at their HTML integration points. */
const FOREIGN = new Set(['svg', 'math']);
const INTEGRATION_POINTS = new Set(['mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml', 'foreignobject', 'desc', 'title']);

/**
 * The elements open at this point of a page, innermost last, with a count per name: an end tag
 * learns in O(1) whether its element is open, and closes it and every element opened inside it.
 * Each element is pushed once and popped at most once, so a page costs its length whatever its
 * nesting. (htmlparser2's Parser unshifts onto its stack and searches it on every end tag: quadratic.)
 */
class OpenElements {
  private readonly names: string[] = [];
  /** Whether each element's content is foreign (SVG or MathML), for `<x/>`. */
  private readonly foreign: boolean[] = [];
  private readonly counts = new Map<string, number>();

  constructor(private readonly onClose: (name: string) => void) {}

  has(name: string): boolean {
    return (this.counts.get(name) ?? 0) > 0;
  }

  get inForeignContent(): boolean {
    return this.foreign.length > 0 && this.foreign[this.foreign.length - 1];
  }

  /**
   * The end tags HTML leaves out, implied by this start tag: `<li>` ends the open `<li>`, a block
   * ends an open `<p>`, and so on (IMPLIED_END), as a tree builder does. Only the innermost
   * elements are looked at, so each costs O(1).
   */
  closeImplied(name: string): void {
    const closes = IMPLIED_END.get(name);
    if (closes === undefined || this.inForeignContent) return;
    while (this.names.length > 0 && closes.has(this.names[this.names.length - 1])) this.pop();
  }

  open(name: string): void {
    this.foreign.push(FOREIGN.has(name) || (!INTEGRATION_POINTS.has(name) && this.inForeignContent));
    this.names.push(name);
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  /** An end tag: nothing when no such element is open (a stray end tag), as in HTML. */
  close(name: string): void {
    if (!this.has(name)) return;
    for (let top = this.pop(); top !== name; top = this.pop());
  }

  private pop(): string {
    const name = this.names.pop() as string;
    this.foreign.pop();
    this.counts.set(name, (this.counts.get(name) as number) - 1);
    this.onClose(name);
    return name;
  }
}

/** What of htmlparser2 9.x's Tokenizer the extractor reaches into: private, read at every character; the links tests pin them. */
interface TokenizerInternals {
  buffer: string;
  index: number;
  offset: number;
  decodeEntities: boolean;
  fastForwardTo(c: number): boolean;
}

/** One-character strings by code, for `indexOf`: the tokenizer skips to `<`, `>`, quotes and the first characters of `-->` and `]]>`. */
const CHARS = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));

/**
 * htmlparser2's Tokenizer, skipping ahead (to a tag's `<`, an attribute's closing quote, a comment's
 * end) with `String.indexOf` rather than its loop over characters: 500 heavy pages parsed alone on
 * one thread took 350 µs a page with the loop, 205 with this (the pages' prose is what it skips).
 * Where the character is, and where the index is left when it is not found, are as the loop leaves them.
 */
export class SkippingTokenizer extends Tokenizer {}
(SkippingTokenizer.prototype as unknown as TokenizerInternals).fastForwardTo = function (this: TokenizerInternals, c: number): boolean {
  const at = this.buffer.indexOf(CHARS[c] ?? String.fromCharCode(c), this.index + 1 - this.offset);
  if (at !== -1) {
    this.index = at + this.offset;
    return true;
  }
  // Not in this chunk: left on its last character, as the loop leaves it (the caller's loop steps past it).
  this.index = this.buffer.length + this.offset - 1;
  return false;
};

/**
 * Driven by htmlparser2's Tokenizer alone, not its Parser, whose stack of open elements made a
 * page cost its length times its nesting: `<b>` × 1,000,000 (3 MB, 2.9 KB gzipped) took 371 s.
 * The tokenizer is linear whatever the page's shape, and so is OpenElements, which is all of a
 * tree that links and their text, the title and meta tags need.
 */
export class LinkExtractor {
  private readonly tokenizer: Tokenizer;
  private readonly decoder: StreamDecoder;
  private readonly maxLinks: number;
  private readonly metaNames: Set<string>;
  private readonly links = new Map<string, ExtractedLink>();
  private pending: PendingLink[] = [];
  private base: string | null = null;
  private dropped = 0;
  private truncated = 0;
  private metaNofollow = false;
  private metaNoindex = false;
  private metaRobots = '';
  /** Undefined until seen: only the first of each counts. */
  private description: string | undefined;
  private canonicalHref: string | undefined;
  private lang: string | undefined;
  private readonly elements = new OpenElements((name) => this.onCloseTag(name));
  private readonly tree: TreeBuilder | null;
  private titleState: 'before' | 'inside' | 'done' = 'before';
  private titleText: CappedText;
  private anchor: OpenAnchor | null = null;
  private ended = false;
  /** Text written and not yet sliced; the tokenizer reports positions counted from the document's start. */
  private readonly chunks: string[] = [];
  private chunksOffset = 0;
  /**
   * The open tag being read: its name, and its attributes (the first of each name wins, as in HTML)
   * when they are read (READ_ATTRIBUTES); null between tags.
   */
  private tagName = '';
  private attribs: Map<string, string> | null = null;
  private inTag = false;
  private attribName = '';
  private attribValue = '';
  /**
   * Whether the tokenizer decodes character references: only while text is read (readsText), set
   * at each tag. Elsewhere it skips to the next `<` (or quote) as a string search does: alone on 500
   * of the heavy bench's pages (70 KB), the tokenizer took 420 µs a page decoding, 200 not. Where it
   * decodes it does so as it always has (in title but not textarea or script, a page cut inside a
   * comment); attribute values it read undecoded are decoded in onattribend. Deferring the text's
   * decoding instead held an anchor's text whole until its end, 219 MB of heap for 6 MiB of `&`.
   */
  private decoding: boolean;

  constructor(
    private readonly pageUrl: string,
    options: LinkExtractorOptions = {},
  ) {
    // Only checked here, not normalized: it is usually a fetched page's normalized final URL already.
    if (!/^https?:/i.test(pageUrl) || !URL.canParse(pageUrl)) throw new TypeError(`page URL ${pageUrl} is not a crawlable URL`);
    this.maxLinks = options.maxLinks ?? DEFAULT_MAX_LINKS;
    this.titleText = new CappedText(options.maxTitleChars ?? DEFAULT_MAX_TITLE_CHARS);
    this.metaNames = new Set(['robots', ...(options.botToken ? [options.botToken.toLowerCase()] : [])]);
    this.decoder = new StreamDecoder(options.encoding);
    this.tree = options.document ? new TreeBuilder() : null;
    this.decoding = this.readsText();
    this.tokenizer = new SkippingTokenizer({ decodeEntities: this.decoding }, this.callbacks());
  }

  write(chunk: Uint8Array | string): void {
    if (this.ended) throw new Error('LinkExtractor.write after end');
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk));
  }

  end(): LinkExtraction {
    if (!this.ended) {
      this.ended = true;
      this.feed(this.decoder.end());
      this.tokenizer.end();
      this.endAnchor();
      if (this.base === null) this.freezeBase(this.pageUrl);
    }
    const canonical = this.canonicalHref === undefined ? null : normalizeUrl(this.canonicalHref, this.base as string);
    return {
      title: this.titleText.value() || null,
      description: this.description || null,
      canonical: canonical?.ok ? canonical.url : null,
      lang: this.lang || null,
      links: [...this.links.values()],
      metaNofollow: this.metaNofollow,
      metaNoindex: this.metaNoindex,
      metaRobots: this.metaRobots || null,
      dropped: this.dropped,
      truncated: this.truncated,
      baseUrl: this.base as string,
      tree: this.tree,
    };
  }

  private feed(text: string): void {
    if (text === '') return;
    this.chunks.push(text);
    this.tokenizer.write(text);
  }

  /**
   * The text between two document positions. Positions only move forward, so chunks wholly
   * before `start` are dropped as we go (a name or a comment may still span several chunks).
   */
  private slice(start: number, end: number): string {
    while (this.chunks.length > 1 && start - this.chunksOffset >= this.chunks[0].length) {
      this.chunksOffset += (this.chunks.shift() as string).length;
    }
    let text = '';
    let offset = this.chunksOffset;
    for (const chunk of this.chunks) {
      if (offset >= end) break;
      text += chunk.slice(Math.max(0, start - offset), end - offset);
      offset += chunk.length;
    }
    return text;
  }

  private callbacks(): TokenizerCallbacks {
    const ignore = () => undefined;
    return {
      onopentagname: (start, end) => {
        this.tagName = this.slice(start, end).toLowerCase();
        this.inTag = true;
        this.attribs = this.tree !== null || READ_ATTRIBUTES.has(this.tagName) ? new Map() : null;
      },
      onattribname: (start, end) => {
        if (this.attribs !== null) this.attribName = this.slice(start, end).toLowerCase();
      },
      onattribdata: (start, end) => {
        if (this.attribs !== null) this.attribValue += this.slice(start, end);
      },
      onattribentity: (codepoint) => {
        if (this.attribs !== null) this.attribValue += String.fromCodePoint(codepoint);
      },
      onattribend: () => {
        if (this.attribs !== null && !this.attribs.has(this.attribName)) {
          const value = !this.decoding && this.attribValue.includes('&') ? decodeHTMLAttribute(this.attribValue) : this.attribValue;
          this.attribs.set(this.attribName, value);
        }
        this.attribValue = '';
      },
      onopentagend: () => {
        this.endOpenTag(false);
        this.decodeWhereRead();
      },
      onselfclosingtag: () => {
        this.endOpenTag(true);
        this.decodeWhereRead();
      },
      onclosetag: (start, end) => {
        const name = this.slice(start, end).toLowerCase();
        if (!VOID.has(name)) this.elements.close(name);
        this.decodeWhereRead();
      },
      // At the end of a page cut inside some tags the tokenizer reports text from position -1: no text of the page.
      ontext: (start, end) => {
        if (start >= 0 && this.readsText()) this.onText(this.slice(start, end));
      },
      ontextentity: (codepoint) => this.onText(String.fromCodePoint(codepoint)),
      oncdata: ignore,
      oncomment: ignore,
      ondeclaration: ignore,
      onprocessinginstruction: ignore,
      onend: ignore,
    };
  }

  /** The tokenizer set to decode references where text is read from here on (see `decoding`). */
  private decodeWhereRead(): void {
    const reads = this.readsText();
    if (reads === this.decoding) return;
    this.decoding = reads;
    (this.tokenizer as unknown as TokenizerInternals).decodeEntities = reads;
  }

  private endOpenTag(selfClosing: boolean): void {
    if (!this.inTag) return;
    const attribs = this.attribs ?? NO_ATTRIBUTES;
    this.inTag = false;
    this.attribs = null;
    const name = this.tagName;
    this.elements.closeImplied(name);
    this.onOpenTag(name, attribs);
    this.tree?.openElement(name, attribs, VOID.has(name));
    if (VOID.has(name)) return;
    this.elements.open(name);
    if (selfClosing && this.elements.inForeignContent) this.elements.close(name);
  }

  private onOpenTag(name: string, attribs: ReadonlyMap<string, string>): void {
    switch (name) {
      case 'a': {
        // Anchors do not nest in HTML: a tree builder closes the open one here.
        this.endAnchor();
        const href = attribs.get('href');
        if (href === undefined) break;
        const target = this.addLink(href, tokens(attribs.get('rel'), /\s+/).includes('nofollow'));
        if (target === null) break;
        this.anchor = {
          target,
          text: new CappedText(MAX_LINK_TEXT_CHARS),
          imgAlt: '',
          ariaLabel: attribs.get('aria-label'),
          title: attribs.get('title'),
        };
        break;
      }
      case 'area': {
        const href = attribs.get('href');
        const target = href === undefined ? null : this.addLink(href, tokens(attribs.get('rel'), /\s+/).includes('nofollow'));
        if (target !== null) target.text = clip(attribs.get('alt'), MAX_LINK_TEXT_CHARS);
        break;
      }
      case 'img':
        if (this.anchor !== null && this.anchor.imgAlt === '') this.anchor.imgAlt = clip(attribs.get('alt'), MAX_LINK_TEXT_CHARS);
        break;
      case 'html':
        this.lang ??= clip(attribs.get('lang'), MAX_LANG_CHARS);
        break;
      case 'link':
        if (this.canonicalHref === undefined && attribs.has('href') && tokens(attribs.get('rel'), /\s+/).includes('canonical')) {
          // Resolved at the end, when the base URL is sure to be known.
          this.canonicalHref = attribs.get('href');
        }
        break;
      case 'base': {
        const href = attribs.get('href');
        if (href !== undefined && this.base === null) this.freezeBase(this.resolveBase(href));
        break;
      }
      case 'meta': {
        const metaName = (attribs.get('name') ?? '').trim().toLowerCase();
        if (this.metaNames.has(metaName)) {
          for (const t of tokens(attribs.get('content'), /[\s,]+/)) {
            if (t === 'nofollow' || t === 'none') this.metaNofollow = true;
            if (t === 'noindex' || t === 'none') this.metaNoindex = true;
          }
          // Whole tags only, as many as fit: a cut one could read as another directive ("noindex" as "no").
          const content = clip(attribs.get('content'), MAX_META_ROBOTS_CHARS);
          const separator = this.metaRobots === '' ? '' : ', ';
          if (content !== '' && this.metaRobots.length + separator.length + content.length <= MAX_META_ROBOTS_CHARS) {
            this.metaRobots += separator + content;
          }
        }
        if (metaName === 'description') this.description ??= clip(attribs.get('content'), MAX_DESCRIPTION_CHARS);
        break;
      }
      case 'title':
        if (this.titleState === 'before' && !this.elements.has('svg')) this.titleState = 'inside';
        break;
    }
  }

  private onCloseTag(name: string): void {
    this.tree?.close();
    if (name === 'title' && this.titleState === 'inside') this.titleState = 'done';
    // The open anchor is the last `<a>` opened, so the first `<a>` closed after it is this one.
    else if (name === 'a') this.endAnchor();
  }

  /** Whether onText keeps any of the text here: for the tree, the title or the open link. */
  private readsText(): boolean {
    return this.tree !== null || this.titleState === 'inside' || this.anchor !== null;
  }

  private onText(text: string): void {
    this.tree?.text(text);
    if (this.titleState === 'inside') this.titleText.add(text);
    // Script and style are not text a reader sees.
    if (this.anchor !== null && !this.elements.has('script') && !this.elements.has('style')) this.anchor.text.add(text);
  }

  private endAnchor(): void {
    const anchor = this.anchor;
    if (anchor === null) return;
    this.anchor = null;
    if (anchor.target === null) return;
    anchor.target.text = anchor.text.value() || anchor.imgAlt || clip(anchor.ariaLabel, MAX_LINK_TEXT_CHARS) || clip(anchor.title, MAX_LINK_TEXT_CHARS);
  }

  private resolveBase(href: string): string {
    try {
      const url = new URL(href, this.pageUrl);
      return url.protocol === 'data:' || url.protocol === 'javascript:' ? this.pageUrl : url.href;
    } catch {
      return this.pageUrl;
    }
  }

  private freezeBase(base: string): void {
    this.base = base;
    for (const p of this.pending) {
      const link = this.resolveLink(p.href, p.nofollow, p.text);
      // A `<base>` inside the open anchor: the rest of its text goes to the link it became.
      if (this.anchor !== null && this.anchor.target === p) this.anchor.target = link;
    }
    this.pending = [];
  }

  /** Where the occurrence's text goes: null when nobody will read it. */
  private addLink(href: string, nofollow: boolean): TextTarget | null {
    if (this.base !== null) return this.resolveLink(href, nofollow, '');
    const p = { href, nofollow, text: '' };
    this.pending.push(p);
    return p;
  }

  /** The link when this is its first occurrence; null when dropped, seen before or over the cap. */
  private resolveLink(href: string, nofollow: boolean, text: string): ExtractedLink | null {
    // A tree wanted without links (a page handler's): no URL is normalized for nothing.
    if (this.maxLinks === 0) return null;
    const n = normalizeUrl(href, this.base as string);
    if (!n.ok) {
      this.dropped++;
      return null;
    }
    const seen = this.links.get(n.url);
    if (seen !== undefined) {
      seen.nofollow &&= nofollow;
      return null;
    }
    if (this.links.size >= this.maxLinks) {
      this.truncated++;
      return null;
    }
    const link = { url: n.url, host: n.host, nofollow, text };
    this.links.set(n.url, link);
    return link;
  }
}

/**
 * A body is fed in slices this large, the event loop let in between: linear is not free, and a
 * 10 MiB page of 750,000 links takes about 1.5 s to read (normalizing each one), which in one piece
 * would hold up every client and heartbeat of the daemon. A slice takes at most tens of ms.
 */
const SLICE_BYTES = 256 * 1024;

/** extractLinks for a whole body, yielding to the event loop between slices of a large one. */
export async function extractLinksInSlices(body: Uint8Array, pageUrl: string, options?: LinkExtractorOptions): Promise<LinkExtraction> {
  const extractor = new LinkExtractor(pageUrl, options);
  for (let at = 0; at < body.byteLength; at += SLICE_BYTES) {
    if (at > 0) await new Promise(setImmediate);
    extractor.write(body.subarray(at, at + SLICE_BYTES));
  }
  return extractor.end();
}

/** One-shot convenience over LinkExtractor. */
export function extractLinks(html: Uint8Array | string, pageUrl: string, options?: LinkExtractorOptions): LinkExtraction {
  const extractor = new LinkExtractor(pageUrl, options);
  extractor.write(html);
  return extractor.end();
}
