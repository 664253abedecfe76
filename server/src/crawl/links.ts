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
 */

import { TextDecoder } from 'node:util';
import { Parser } from 'htmlparser2';
import { normalizeUrl } from './url';

export interface ExtractedLink {
  /** Normalized. */
  url: string;
  /** Its host, as normalizeUrl gives it (so nobody parses the URL again). */
  host: string;
  nofollow: boolean;
}

export interface LinkExtraction {
  title: string | null;
  links: ExtractedLink[];
  metaNofollow: boolean;
  metaNoindex: boolean;
  /** hrefs that were not crawlable http(s) URLs. */
  dropped: number;
  /** Occurrences of crawlable links beyond maxLinks. */
  truncated: number;
  /** The URL relative links were resolved against. */
  baseUrl: string;
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
}

export const DEFAULT_MAX_LINKS = 20_000;
export const DEFAULT_MAX_TITLE_CHARS = 512;

function makeDecoder(label: string | undefined): TextDecoder {
  try {
    return new TextDecoder(label ?? 'utf-8');
  } catch {
    // Unknown labels are common in the wild (typos, made-up names); UTF-8 is the best guess.
    return new TextDecoder('utf-8');
  }
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
  return (value ?? '').toLowerCase().split(separators).filter((t) => t !== '');
}

export class LinkExtractor {
  private readonly parser: Parser;
  private readonly decoder: TextDecoder;
  private readonly maxLinks: number;
  private readonly maxTitleChars: number;
  private readonly metaNames: Set<string>;
  private readonly links = new Map<string, ExtractedLink>();
  /** Links seen before the base URL is known. */
  private pending: { href: string; nofollow: boolean }[] = [];
  private base: string | null = null;
  private dropped = 0;
  private truncated = 0;
  private metaNofollow = false;
  private metaNoindex = false;
  private svgDepth = 0;
  private titleState: 'before' | 'inside' | 'done' = 'before';
  private titleText = '';
  private ended = false;

  constructor(
    private readonly pageUrl: string,
    options: LinkExtractorOptions = {},
  ) {
    // Only checked here, not normalized: it is usually a fetched page's normalized final URL already.
    if (!/^https?:/i.test(pageUrl) || !URL.canParse(pageUrl)) throw new TypeError(`page URL ${pageUrl} is not a crawlable URL`);
    this.maxLinks = options.maxLinks ?? DEFAULT_MAX_LINKS;
    this.maxTitleChars = options.maxTitleChars ?? DEFAULT_MAX_TITLE_CHARS;
    this.metaNames = new Set(['robots', ...(options.botToken ? [options.botToken.toLowerCase()] : [])]);
    this.decoder = makeDecoder(options.encoding);
    this.parser = new Parser(
      {
        onopentag: (name, attribs) => this.onOpenTag(name, attribs),
        onclosetag: (name) => this.onCloseTag(name),
        ontext: (text) => this.onText(text),
      },
      { decodeEntities: true },
    );
  }

  write(chunk: Buffer | string): void {
    if (this.ended) throw new Error('LinkExtractor.write after end');
    this.parser.write(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
  }

  end(): LinkExtraction {
    if (!this.ended) {
      this.ended = true;
      this.parser.end(this.decoder.decode());
      if (this.base === null) this.freezeBase(this.pageUrl);
    }
    return {
      title: this.finishTitle(),
      links: [...this.links.values()],
      metaNofollow: this.metaNofollow,
      metaNoindex: this.metaNoindex,
      dropped: this.dropped,
      truncated: this.truncated,
      baseUrl: this.base as string,
    };
  }

  private onOpenTag(name: string, attribs: Record<string, string>): void {
    switch (name) {
      case 'a':
      case 'area':
        if (attribs.href !== undefined) this.addLink(attribs.href, tokens(attribs.rel, /\s+/).includes('nofollow'));
        break;
      case 'base':
        if (attribs.href !== undefined && this.base === null) this.freezeBase(this.resolveBase(attribs.href));
        break;
      case 'meta':
        if (this.metaNames.has((attribs.name ?? '').trim().toLowerCase())) {
          for (const t of tokens(attribs.content, /[\s,]+/)) {
            if (t === 'nofollow' || t === 'none') this.metaNofollow = true;
            if (t === 'noindex' || t === 'none') this.metaNoindex = true;
          }
        }
        break;
      case 'svg':
        this.svgDepth++;
        break;
      case 'title':
        if (this.titleState === 'before' && this.svgDepth === 0) this.titleState = 'inside';
        break;
    }
  }

  private onCloseTag(name: string): void {
    if (name === 'svg' && this.svgDepth > 0) this.svgDepth--;
    else if (name === 'title' && this.titleState === 'inside') this.titleState = 'done';
  }

  private onText(text: string): void {
    // Whitespace runs collapse later, so a few times the cap is plenty and bounds memory on a runaway title.
    if (this.titleState === 'inside' && this.titleText.length < this.maxTitleChars * 4) this.titleText += text;
  }

  private finishTitle(): string | null {
    let title = this.titleText.replace(/\s+/g, ' ').trim().slice(0, this.maxTitleChars);
    if (/[\uD800-\uDBFF]$/.test(title)) title = title.slice(0, -1);
    return title === '' ? null : title.trimEnd();
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
    for (const p of this.pending) this.resolveLink(p.href, p.nofollow);
    this.pending = [];
  }

  private addLink(href: string, nofollow: boolean): void {
    if (this.base === null) this.pending.push({ href, nofollow });
    else this.resolveLink(href, nofollow);
  }

  private resolveLink(href: string, nofollow: boolean): void {
    const n = normalizeUrl(href, this.base as string);
    if (!n.ok) {
      this.dropped++;
      return;
    }
    const seen = this.links.get(n.url);
    if (seen !== undefined) seen.nofollow &&= nofollow;
    else if (this.links.size < this.maxLinks) this.links.set(n.url, { url: n.url, host: n.host, nofollow });
    else this.truncated++;
  }
}

/** One-shot convenience over LinkExtractor. */
export function extractLinks(html: Buffer | string, pageUrl: string, options?: LinkExtractorOptions): LinkExtraction {
  const extractor = new LinkExtractor(pageUrl, options);
  extractor.write(html);
  return extractor.end();
}
