/**
 * The seed-file options, once: what the parser accepts, what completion offers and what hover
 * says. Limits and enumerated values are read from the crawl/start schema (as JSON Schema), and
 * the defaults from crawl/defaults.ts or, in the daemon, its own (its --default-* flags), so neither
 * is restated here.
 */
import { z } from 'zod';
import { CRAWL_DEFAULTS } from '../../crawl/defaults';
import type { ParamsOf } from '../../protocol';
import { Params } from '../params';

/** What a crawl gets when it sets no limit, scope or address policy. */
export type CrawlDefaults = typeof CRAWL_DEFAULTS;

export type OptionKey = Exclude<keyof ParamsOf<'crawl/start'>, 'seeds'>;

/**
 * How a value is read: `text` as it is, `int` a whole number, `depth` a whole number or `none`,
 * `bool` true or false (yes or no), `choice` one of the schema's values, `list` one pattern per
 * line, the line repeatable; `field` one line per field, named `<option>.<field>` (extract.price).
 */
export type OptionKind = 'text' | 'int' | 'depth' | 'bool' | 'choice' | 'list' | 'field';

export interface OptionValue {
  value: string;
  help: string;
}

export interface SeedOption {
  /** As written in a file: `max-depth`. */
  name: string;
  key: OptionKey;
  kind: OptionKind;
  help: string;
  /**
   * What a crawl gets without the line, as it would be written in the file (`10000`, not
   * `10,000`, which the parser refuses); in words for what no value says (no name, no patterns).
   */
  default: string;
  /** What the default means, or who may change it. */
  defaultNote?: string;
  /** Values completion offers; for `choice`, the only ones accepted. */
  values: OptionValue[];
  /** The values allowed, in words, from the schema. */
  range: string;
}

interface Schema {
  type?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  enum?: string[];
  items?: Schema;
  anyOf?: Schema[];
  additionalProperties?: Schema;
}

const SCHEMA = z.toJSONSchema(Params['crawl/start'], { unrepresentable: 'any' }).properties as Record<OptionKey, Schema>;

/** The non-null branch of a nullable option's schema. */
function valueSchema(key: OptionKey): Schema {
  const s = SCHEMA[key];
  return s.anyOf?.find((b) => b.type !== 'null') ?? s;
}

/** 100,000,000: by hand, as toLocaleString's first call loads ICU's locale data (20 ms of crawlctl's start). */
const n = (x: number) => String(x).replace(/\B(?=(\d{3})+$)/g, ',');

function rangeOf(key: OptionKey, kind: OptionKind): string {
  const s = valueSchema(key);
  switch (kind) {
    case 'int':
      return `a whole number from ${n(s.minimum!)} to ${n(s.maximum!)}`;
    case 'depth':
      return `a whole number from ${n(s.minimum!)} to ${n(s.maximum!)}, or none`;
    case 'bool':
      return 'true or false (yes or no)';
    case 'choice':
      return `${s.enum!.slice(0, -1).join(', ')} or ${s.enum!.at(-1)}`;
    case 'list':
      return `up to ${n(s.maxItems!)} lines, each up to ${n(s.items!.maxLength!)} characters`;
    case 'text':
      return `up to ${n(s.maxLength!)} characters`;
    case 'field':
      return `a CSS selector, or a selector then @attribute (up to ${n(s.additionalProperties!.maxLength!)} characters)`;
  }
}

/** Help for each value of a choice; the values themselves come from the schema. */
function choices(key: OptionKey, help: Record<string, string>): OptionValue[] {
  return valueSchema(key).enum!.map((value) => ({ value, help: help[value] ?? '' }));
}

const BOOL: OptionValue[] = [
  { value: 'true', help: 'Yes.' },
  { value: 'false', help: 'No.' },
];
const DAEMON_SETS = (flag: string, setting: string) => `the daemon may set another: \`--${flag}\`, in the editor the ${setting} setting`;
type Spec = Omit<SeedOption, 'range' | 'values'> & { values?: OptionValue[] };

const specs = (defaults: CrawlDefaults): Spec[] => [
  {
    name: 'name',
    key: 'name',
    kind: 'text',
    help: "The crawl's name, shown beside its id in the jobs view and in crawlctl.",
    default: 'none',
    defaultNote: 'the crawl is shown by its id',
  },
  {
    name: 'max-depth',
    key: 'maxDepth',
    kind: 'depth',
    help: 'How many links away from a seed the crawl goes: 0 fetches the seeds only.',
    default: String(defaults.defaultMaxDepth ?? 'none'),
    defaultNote: `${defaults.defaultMaxDepth === null ? 'no limit, links are followed within the scope up to max-pages; ' : ''}${DAEMON_SETS('default-max-depth', 'Default Max Depth')}`,
    values: [{ value: 'none', help: 'No limit: links are followed within the scope until max-pages.' }],
  },
  { name: 'max-pages', key: 'maxPages', kind: 'int', help: 'Pages the crawl fetches at most, seeds included.', default: String(defaults.defaultMaxPages) },
  {
    name: 'scope',
    key: 'scope',
    kind: 'choice',
    help: 'Which links the crawl follows.',
    default: defaults.defaultScope,
    defaultNote: DAEMON_SETS('default-scope', 'Default Scope'),
    values: choices('scope', {
      host: "Links on the seeds' own hosts only.",
      domain: "Links within the seeds' registrable domains (docs.example.com and example.com).",
      any: 'Links anywhere, bounded by max-depth and max-pages.',
    }),
  },
  {
    name: 'include',
    key: 'include',
    kind: 'list',
    help: 'Follow only the links that match: a glob (`*` matches anything, `/` included) or a /regular expression/ (RE2). Repeat the line for more patterns; a link matching any one is followed.',
    default: 'none',
    defaultNote: 'every link in scope is followed',
  },
  {
    name: 'exclude',
    key: 'exclude',
    kind: 'list',
    help: 'Never follow the links that match: a glob or a /regular expression/, as for include. Repeat the line for more patterns; exclude wins over include.',
    default: 'none',
  },
  { name: 'follow-nofollow', key: 'followNofollow', kind: 'bool', help: 'Follow links marked `rel="nofollow"` too.', default: 'false', values: BOOL },
  { name: 'store-bodies', key: 'storeBodies', kind: 'bool', help: "Keep each fetched page's body in the state folder.", default: 'false', values: BOOL },
  {
    name: 'warc',
    key: 'warc',
    kind: 'bool',
    help: "Keep every response the crawl fetches, with its request, in WARC files (the web-archive standard replay tools read) in the state folder's `warc` folder.",
    default: 'false',
    values: BOOL,
  },
  {
    name: 'sitemaps',
    key: 'sitemaps',
    kind: 'bool',
    help: "Read the sitemaps of the seeds' hosts (those robots.txt names, else /sitemap.xml) and crawl their URLs too, at depth 0; a page's `<lastmod>` is kept in its record.",
    default: 'false',
    values: BOOL,
  },
  {
    name: 'addresses',
    key: 'addresses',
    kind: 'choice',
    help: 'Which addresses the crawl may connect to, checked on the address each host resolves to.',
    default: defaults.defaultAddresses ?? "the kind of the seeds' own addresses",
    defaultNote: DAEMON_SETS('default-addresses', 'Default Addresses'),
    values: choices('addresses', {
      public: 'Globally routable addresses only: never loopback, private or link-local ones.',
      private: 'Loopback, private and link-local addresses only: nothing on the public internet.',
      any: 'Any address.',
    }),
  },
  {
    name: 'extract',
    key: 'extract',
    kind: 'field',
    help:
      "A field of each page's record data, one line each: `extract.price: span.price` for the text of the first match, " +
      '`extract.price: span.price @data-value` for an attribute of it, `extract.tags[]: a.tag` for every match. No match: null (or an empty list).',
    default: 'none',
    defaultNote: 'records have no data',
  },
  {
    name: 'handler',
    key: 'handler',
    kind: 'text',
    help:
      "A JavaScript module (`./scrape.mjs`, from this file's folder, inside the workspace) whose default export is called with each page fetched: " +
      '`export default async (page) => ({ data, enqueue })`. `page` has `url`, `finalUrl`, `status`, `headers`, `contentType`, `text`, ' +
      "and `$(selector)` / `$$(selector)` giving elements' `text`, `attributes` and `attr(name)`. `data` (an object, or a list of records) joins the page's data; " +
      "`enqueue`'s URLs are crawled as its links are. It runs on a thread of the daemon with your permissions, which the editor starts only in a trusted workspace; " +
      'saved, it is used for the pages fetched next.',
    default: 'none',
    defaultNote: 'no code of the workspace runs',
  },
  {
    name: 'handler-timeout',
    key: 'handlerTimeout',
    kind: 'int',
    help: 'Seconds the handler may take over a page: past them, its thread is stopped and the page fails.',
    default: '10',
  },
];

export type SeedOptions = ReadonlyMap<string, SeedOption>;

/** The option a line names: `extract.price` names `extract`. */
export function optionNamed(options: SeedOptions, name: string): SeedOption | undefined {
  const dot = name.indexOf('.');
  const option = options.get(dot < 0 ? name : name.slice(0, dot));
  return option && (option.kind === 'field') === dot >= 0 ? option : undefined;
}

/** The options as a crawl with these defaults gets them: a daemon's help states its own defaults. */
export function seedOptions(defaults: CrawlDefaults): SeedOptions {
  return new Map(specs(defaults).map((s) => [s.name, { ...s, values: s.values ?? [], range: rangeOf(s.key, s.kind) }]));
}

/** With the built-in defaults: what the parser and crawlctl read (keys, kinds and values alone). */
export const SEED_OPTIONS = seedOptions(CRAWL_DEFAULTS);

/** An option's help as markdown: what it does, its values, its range and its default. */
export function optionMarkdown(o: SeedOption): string {
  const parts = [`**${o.kind === 'field' ? `${o.name}.<field>` : o.name}**: ${o.help}`];
  if (o.kind === 'choice') parts.push(o.values.map((v) => `- \`${v.value}\`: ${v.help}`).join('\n'));
  else parts.push(`Value: ${o.range}.`);
  parts.push(`Default: ${o.default}${o.defaultNote ? ` (${o.defaultNote})` : ''}.`);
  return parts.join('\n\n');
}
