/**
 * Sitemaps (sitemaps.org): a `<urlset>` of pages or a `<sitemapindex>` of sitemaps, XML or a plain
 * text list of URLs, perhaps gzipped. Read with htmlparser2's Tokenizer in XML mode, as pages are
 * (links.ts): linear whatever the nesting, fed in slices with the event loop let in between. The
 * protocol's limits hold: at most 50,000 URLs and 50 MB uncompressed a file; entries past them are
 * counted, not kept.
 */
import { Tokenizer } from 'htmlparser2';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

export const SITEMAP_MAX_URLS = 50_000;
export const SITEMAP_MAX_BYTES = 50 * 1024 * 1024;
/** Sitemaps one index (or robots.txt) may name that are read, at most (the protocol allows 50,000 of 50,000 URLs each). */
export const SITEMAPS_PER_INDEX = 1_000;
/**
 * Sitemaps a crawl reads, at most (as this process counts them): robots.txt may name a thousand
 * indexes of a thousand each, a million fetches that a crawl's max pages, which is for its pages,
 * does not bound.
 */
export const SITEMAPS_PER_CRAWL = 10_000;
/** Characters of a `<loc>` or `<lastmod>` kept: a URL past 8 KiB is refused later anyway. */
const FIELD_CHARS = 10_000;
/** Characters fed to the tokenizer at a time, the event loop let in between. */
const SLICE = 256 * 1024;

const gunzip = promisify(zlib.gunzip);

/** The protocol's URLs are absolute, http or https: anything else in a sitemap (a line of an error page) is no URL. */
const ABSOLUTE = /^https?:\/\/\S+$/i;

export interface SitemapEntry {
  /** As written: the caller resolves and normalizes it. */
  loc: string;
  lastmod: string | null;
}

export interface Sitemap {
  kind: 'urlset' | 'index' | 'text';
  entries: SitemapEntry[];
  /** Entries past SITEMAP_MAX_URLS, not kept. */
  cut: number;
}

/** A fetched sitemap as text: gunzipped when it is gzip (a `.xml.gz` sent as it is), within SITEMAP_MAX_BYTES. */
export async function sitemapText(body: Buffer): Promise<string> {
  // Off the event loop's thread; maxOutputLength refuses a bomb before it is inflated whole.
  const raw = body[0] === 0x1f && body[1] === 0x8b ? await gunzip(body, { maxOutputLength: SITEMAP_MAX_BYTES }) : body;
  if (raw.byteLength > SITEMAP_MAX_BYTES) throw new RangeError(`over the protocol's ${SITEMAP_MAX_BYTES / 1024 / 1024} MB`);
  return raw.toString('utf8');
}

/** A sitemap's entries, in order. */
export async function parseSitemap(text: string): Promise<Sitemap> {
  if (!text.trimStart().startsWith('<')) return textSitemap(text);
  const entries: SitemapEntry[] = [];
  let kind: Sitemap['kind'] | null = null;
  let cut = 0;
  /**
   * The entry being read (inside `<url>` or `<sitemap>`), how deep in it the reading is, and the field
   * whose text is being read: only the entry's own children count (an image sitemap's
   * `<image:image><image:loc>` is no page).
   */
  let entry: { loc: string; lastmod: string } | null = null;
  let depth = 0;
  let field: 'loc' | 'lastmod' | null = null;
  const local = (a: number, b: number) => {
    const name = text.slice(a, b);
    return name.slice(name.indexOf(':') + 1).toLowerCase();
  };
  const append = (s: string) => {
    if (entry && field && entry[field].length < FIELD_CHARS) entry[field] += s;
  };
  const none = () => undefined;
  const tokenizer = new Tokenizer(
    { xmlMode: true, decodeEntities: true },
    {
      onopentagname: (a, b) => {
        const tag = local(a, b);
        kind ??= tag === 'urlset' ? 'urlset' : tag === 'sitemapindex' ? 'index' : null;
        if (entry === null && (tag === 'url' || tag === 'sitemap')) {
          entry = { loc: '', lastmod: '' };
          depth = 0;
          return;
        }
        if (entry === null) return;
        depth++;
        field = depth === 1 && (tag === 'loc' || tag === 'lastmod') ? tag : null;
      },
      onclosetag: (a, b) => {
        const tag = local(a, b);
        if (entry !== null && depth > 0) {
          depth--;
          field = null;
        } else if ((tag === 'url' || tag === 'sitemap') && entry) {
          const loc = entry.loc.trim();
          if (ABSOLUTE.test(loc) && entries.length < SITEMAP_MAX_URLS) entries.push({ loc, lastmod: entry.lastmod.trim() || null });
          else if (ABSOLUTE.test(loc)) cut++;
          entry = null;
          field = null;
        }
      },
      ontext: (a, b) => append(text.slice(a, b)),
      ontextentity: (cp) => append(String.fromCodePoint(cp)),
      oncdata: (a, b, offset) => append(text.slice(a, b - offset)),
      onselfclosingtag: () => {
        if (entry !== null && depth > 0) depth--;
        field = null;
      },
      onattribname: none,
      onattribdata: none,
      onattribentity: none,
      onattribend: none,
      onopentagend: none,
      oncomment: none,
      ondeclaration: none,
      onprocessinginstruction: none,
      onend: none,
    },
  );
  for (let at = 0; at < text.length; at += SLICE) {
    if (at > 0) await new Promise(setImmediate);
    tokenizer.write(text.slice(at, at + SLICE));
  }
  tokenizer.end();
  return { kind: kind ?? 'urlset', entries, cut };
}

/** A plain text sitemap: one URL a line. */
function textSitemap(text: string): Sitemap {
  const entries: SitemapEntry[] = [];
  let cut = 0;
  for (const line of text.split(/\r\n|\r|\n/)) {
    const loc = line.trim();
    if (!ABSOLUTE.test(loc)) continue;
    if (entries.length < SITEMAP_MAX_URLS) entries.push({ loc, lastmod: null });
    else cut++;
  }
  return { kind: 'text', entries, cut };
}
