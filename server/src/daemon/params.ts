/**
 * The daemon's checks of each method's params: bounds and formats over the contract's types
 * (protocol.ts ParamsMap). The contract has no runtime dependency; these schemas are the daemon's
 * (and its tests'), and the compiler holds each to its method's type both ways (`Exact` below).
 */
import { z } from 'zod';
import {
  ADDRESS_POLICIES,
  FINISHED_STATES,
  JOB_STATES,
  MAX_ENQUEUE_URLS,
  MAX_EXTRACT_FIELDS,
  MAX_EXTRACT_NAME,
  MAX_EXTRACT_SPEC,
  MAX_JOB_REASON,
  MAX_JOB_SEARCH,
  MAX_REASONS_LISTED,
  MAX_SEED_TEXT_BYTES,
  MAX_SEEDS,
  MAX_URL_BYTES,
  MAX_URL_LIST_BYTES,
  SCOPES,
  STATUS_CLASSES,
  jsonBytes,
  type Method,
  type ParamsOf,
} from '../protocol';
import { SETTINGS } from '../settings';

const url = z.string().min(1, 'must not be empty');
/** A list of URLs: one at least, `max` at most, and MAX_URL_LIST_BYTES as JSON. */
const urlList = <T extends z.ZodType<string>>(item: T, max: number, empty: string) =>
  z
    .array(item)
    .min(1, empty)
    .max(max)
    .refine(
      (urls) => jsonBytes(urls) <= MAX_URL_LIST_BYTES,
      `the URLs come to more than ${MAX_URL_LIST_BYTES / 1024 / 1024} MiB as JSON; send them in several requests`,
    );
/** A seed file's text, at most MAX_SEED_TEXT_BYTES as JSON (the length check first: it is free). */
const seedText = z
  .string()
  .max(MAX_SEED_TEXT_BYTES)
  .refine((text) => jsonBytes(text) <= MAX_SEED_TEXT_BYTES, `must come to at most ${MAX_SEED_TEXT_BYTES / 1024 / 1024} MiB as JSON`);
const crawlId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a crawl id such as c_1a2b3c');
const jobId = z.number().int().positive();
const strict = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape);
/** A failure reason, as jobs/reasons gives them. */
const reason = z.string().max(MAX_JOB_REASON);
/** Only failed jobs have a reason: with one, the state is `error` or none. */
const failedOnly = <T extends { state?: string; reason?: string }>(p: T) => p.reason === undefined || p.state === undefined || p.state === 'error';
const FAILED_ONLY = { path: ['state'], message: 'only failed jobs have a reason: give the state error, or none' };
/** A whole-number setting's value, within its bounds in the table of settings. */
const setting = ({ min, max }: { min: number; max: number }) => z.number().int().min(min).max(max);

export const Params = {
  'crawl/start': strict({
    seeds: urlList(url, MAX_SEEDS, 'needs at least one seed URL'),
    name: z.string().max(200).optional(),
    /** Omitted: the daemon's default (no limit unless it was started with one); null: no limit. */
    maxDepth: z.number().int().min(0).max(1000).nullable().optional(),
    maxPages: z.number().int().min(1).max(100_000_000).optional(),
    scope: z.enum(SCOPES).optional(),
    include: z.array(z.string().min(1).max(1000)).max(100).optional(),
    exclude: z.array(z.string().min(1).max(1000)).max(100).optional(),
    followNofollow: z.boolean().optional(),
    storeBodies: z.boolean().optional(),
    /** Default: the daemon's setting, else the kind of the seeds' own addresses. */
    addresses: z.enum(ADDRESS_POLICIES).optional(),
    /** Names and selectors are checked by the crawl kind (crawl/extract.ts), which can say what is wrong with a selector. */
    extract: z
      .record(z.string().max(MAX_EXTRACT_NAME), z.string().max(MAX_EXTRACT_SPEC))
      .refine((fields) => Object.keys(fields).length <= MAX_EXTRACT_FIELDS, `at most ${MAX_EXTRACT_FIELDS} fields`)
      .optional(),
    warc: z.boolean().optional(),
    sitemaps: z.boolean().optional(),
    /** Where it is and what it exports are checked by the crawl kind (crawl/handlers.ts). */
    handler: z.string().min(1).max(4096).optional(),
    handlerTimeout: z.number().int().min(1).max(600).optional(),
  }),
  'crawl/list': strict({}),
  'crawl/get': strict({ crawlId }),
  'crawl/pause': strict({ crawlId }),
  'crawl/resume': strict({ crawlId }),
  'crawl/cancel': strict({ crawlId }),
  /** A crawl's page records, in the order they were first met, a page at a time. */
  'crawl/pages': strict({
    crawlId,
    cursor: z.string().max(32).nullable().optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    status: z.union([z.number().int().min(100).max(599), z.enum(STATUS_CLASSES)]).optional(),
    /** A substring of the URL or the title (case-insensitive for ASCII letters). */
    search: z.string().min(1).max(1000).optional(),
  }),
  /** One page record with the links to it (the first 1,000) and every link it has, with their fate. */
  'crawl/page': strict({ crawlId, url: url.max(MAX_URL_BYTES) }),
  /** The link graph, a page at a time: every link, or those from one page, or those to one URL. */
  'crawl/links': strict({
    crawlId,
    cursor: z.string().max(64).nullable().optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    from: url.max(MAX_URL_BYTES).optional(),
    to: url.max(MAX_URL_BYTES).optional(),
  }),
  /** What a site audit wants at a glance: statuses, broken links and their referrers, redirects, slow and large pages. */
  'crawl/report': strict({ crawlId }),
  'crawl/rates': strict({ crawlId, since: z.string().datetime().optional(), bucketSeconds: z.number().int().min(1).max(3600).optional() }),
  'jobs/enqueue': strict({
    urls: urlList(z.string(), MAX_ENQUEUE_URLS, 'needs at least one URL'),
    crawlId: crawlId.optional(),
    priority: z.number().int().min(-1000).max(1000).optional(),
    maxAttempts: setting(SETTINGS.maxAttempts).optional(),
  }),
  'jobs/list': strict({
    state: z.enum(JOB_STATES).optional(),
    host: z.string().min(1).max(253).optional(),
    crawlId: crawlId.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    cursor: z.string().max(32).nullable().optional(),
    /** `newest`: by id, descending (a running crawl's latest results first); default `oldest`. */
    order: z.enum(['oldest', 'newest']).optional(),
    search: z.string().max(MAX_JOB_SEARCH).optional(),
    reason: reason.optional(),
  }).refine(failedOnly, FAILED_ONLY),
  'jobs/reasons': strict({ crawlId: crawlId.optional(), limit: z.number().int().min(1).max(MAX_REASONS_LISTED).optional() }),
  'jobs/get': strict({ id: jobId }),
  'jobs/requeue': strict({
    ids: z.array(jobId).min(1).max(100_000).optional(),
    state: z.enum(FINISHED_STATES).optional(),
    host: z.string().min(1).max(253).optional(),
    crawlId: crawlId.optional(),
    reason: reason.optional(),
  }).refine(failedOnly, FAILED_ONLY),
  'jobs/cancel': strict({ ids: z.array(jobId).min(1).max(100_000) }),
  'queue/stats': strict({}),
  'leases/list': strict({}),
  'workers/list': strict({ limit: z.number().int().min(1).max(1000).optional() }),
  'hosts/list': strict({ limit: z.number().int().min(1).max(10_000).optional() }),
  'hosts/setLimit': strict({ host: z.string().min(1).max(253), limit: setting(SETTINGS.perHostLimit) }),
  'scheduler/status': strict({}),
  'scheduler/pause': strict({}),
  'scheduler/resume': strict({}),
  'daemon/configure': strict({
    maxWorkers: setting(SETTINGS.maxWorkers).optional(),
    perHostLimit: setting(SETTINGS.perHostLimit).optional(),
  }),
  'daemon/shutdown': strict({}),
  'events/subscribe': strict({}),
  /** Parses a seed file (`*.crawl`) into crawl/start params, or says what is wrong where. */
  'seeds/parse': strict({ text: seedText }),
  /**
   * Starts a crawl from a seed file and remembers that the file started it, so the file's hints,
   * diagnostics and lenses follow that crawl. `uri` is only a name, never opened: the text is
   * `text`, or, over LSP, the open document's. Option lines or no valid URL: invalid params.
   */
  'seeds/start': strict({ uri: z.string().min(1).max(4096), text: seedText.optional() }),
} as const satisfies { [M in Method]: z.ZodType };

/** True when a schema takes exactly its method's params: the same keys, each type assignable to the other. */
type Same<A, B> = [A, keyof A] extends [B, keyof B] ? ([B, keyof B] extends [A, keyof A] ? true : false) : false;
/** Fails to compile, naming the method, when a schema and the contract disagree. */
type Exact<T extends Record<Method, true>> = T;
export type ParamsAgree = Exact<{ [M in Method]: Same<z.input<(typeof Params)[M]>, ParamsOf<M>> }>;
