/**
 * The wire contract: every method, its params and result, and every notification, with the same
 * names on both transports (LSP custom requests and the JSON-RPC socket). The extension, the
 * daemon and `crawlctl` all import this one module. It is types and constants only, with no
 * runtime dependency, so a client loads nothing it does not use; the daemon's schemas of the
 * params (daemon/params.ts) are held to these types by the compiler.
 * Timestamps on the wire are ISO-8601 UTC strings.
 */
import type { JobState } from './core/states';
export { JOB_STATES, type JobState } from './core/states';
export const FINISHED_STATES = ['done', 'skipped', 'error'] as const;
export const SCOPES = ['host', 'domain', 'any'] as const;
export type Scope = (typeof SCOPES)[number];
/** Which addresses a crawl connects to: globally routable ones, non-public ones (loopback, private, link-local), or both. */
export const ADDRESS_POLICIES = ['public', 'private', 'any'] as const;
export type AddressPolicy = (typeof ADDRESS_POLICIES)[number];
/** The daemon's log levels, least to most verbose: `--log-level` writes its own and those before it. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const HOST_STATES = ['ready', 'busy', 'delayed', 'backoff', 'blocked'] as const;
export type HostState = (typeof HOST_STATES)[number];
export const CRAWL_STATES = ['running', 'paused', 'finished', 'cancelled'] as const;
export type CrawlState = (typeof CRAWL_STATES)[number];

/** URLs longer than this are refused everywhere. */
export const MAX_URL_BYTES = 8192;
/** A User-Agent that can go in an HTTP header: printable ASCII and tabs, one line. */
export const USER_AGENT = /^[\x20-\x7e\t]*$/;
/**
 * The URLs of one request (crawl/start's seeds, jobs/enqueue's urls) as JSON, at most: 100,000
 * URLs of 167 bytes on average. 100,000 URLs of a real site came to 3.18 MB.
 */
export const MAX_URL_LIST_BYTES = 16 * 1024 * 1024;
/** A seed file's text as JSON (seeds/parse, seeds/start), at most. */
export const MAX_SEED_TEXT_BYTES = 10 * 1024 * 1024;
/**
 * The socket's longest accepted line: the largest valid request of every method, as JSON.stringify
 * writes it, must fit. The largest is crawl/start: its seeds at MAX_URL_LIST_BYTES, its include and
 * exclude patterns at 1.2 MB (200 of 1,000 characters, each escaped to 6 bytes), its extract fields
 * at 0.3 MB (50 of 1,000 characters, escaped) and its name at 1.2 KB; the 2 MiB over the URLs also hold jobs/requeue's and jobs/cancel's 100,000 ids (1.7 MB)
 * and the envelope. protocol.test.ts builds each method's largest request and checks it fits.
 * What a line may make the daemon hold is bounded in daemon/transport/socket.ts (SocketLimits).
 */
export const MAX_LINE_BYTES = MAX_URL_LIST_BYTES + 2 * 1024 * 1024;
/** Fields one crawl extracts (crawl/start's extract), at most. */
export const MAX_EXTRACT_FIELDS = 50;
/** The longest extract field spec (a selector, and an attribute). */
export const MAX_EXTRACT_SPEC = 1000;
/** The longest extract field name, `[]` included. */
export const MAX_EXTRACT_NAME = 66;
/** The longest jobs/list search. */
export const MAX_JOB_SEARCH = 200;
/** The longest failure reason: the daemon cuts every reason there (core/failure-reason.ts MAX_REASON). */
export const MAX_JOB_REASON = 120;
/** Reasons one jobs/reasons lists at most. */
export const MAX_REASONS_LISTED = 1000;
/** Seed URLs one crawl may start from. */
export const MAX_SEEDS = 10_000;
/** URLs one jobs/enqueue may hold. */
export const MAX_ENQUEUE_URLS = 100_000;

// ---------------------------------------------------------------------------------------------
// Records

export interface PageResult {
  status: number | null;
  contentType: string | null;
  bytes: number | null;
  durationMs: number | null;
  finalUrl: string | null;
  title: string | null;
}

export interface Job {
  id: number;
  url: string;
  host: string;
  crawlId: string | null;
  depth: number | null;
  state: JobState;
  priority: number;
  /** Attempts spent: a lease counts one, given back when it ends in a deferral, a release or a lost worker. */
  attempts: number;
  maxAttempts: number;
  /** Times a worker died holding it (its lease expired, or its process was gone). */
  lostWorkers: number;
  /**
   * Times it was put off without spending an attempt (Retry-After, robots.txt unreadable, its
   * crawl paused) since an attempt last counted; 0 once one counts, so a queued job waiting with
   * deferrals waits out the last of them, one without waits out a retry's backoff.
   */
  deferrals: number;
  /** When a queued job may start (a retry's backoff, a deferral), if that is still to come; null when it may start now, or is held. */
  runAfter: string | null;
  /** Queued and held with its paused crawl: it starts only once the crawl resumes, whatever runAfter would say. */
  held: boolean;
  workerId: string | null;
  leasedAt: string | null;
  leaseExpiresAt: string | null;
  heartbeatAt: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  result: PageResult | null;
}

export interface JobEvent {
  at: string;
  type: string;
  workerId: string | null;
  detail: string | null;
}

/**
 * Failed jobs (state `error`) that failed for one reason: the class of their last error, with the
 * URLs and figures with units taken out ("ECONNREFUSED", "HTTP 404", "took longer than N ms").
 */
export interface FailureReason {
  reason: string;
  count: number;
}

export interface StateCounts {
  queued: number;
  in_progress: number;
  done: number;
  skipped: number;
  error: number;
}

export interface CrawlOptions {
  /** Links followed from the seeds, at most; null: no limit (the crawl is bounded by scope and maxPages). */
  maxDepth: number | null;
  maxPages: number;
  scope: Scope;
  include: string[];
  exclude: string[];
  followNofollow: boolean;
  storeBodies: boolean;
  /** Crawls started before this option existed have none: they connect anywhere, as they did. */
  addresses?: AddressPolicy;
  /** Fields extracted from each page into its record's data (see ParamsMap['crawl/start'].extract); absent for none. */
  extract?: Record<string, string>;
  /** Every response fetched kept in WARC files (see ParamsMap['crawl/start'].warc); absent: false. */
  warc?: boolean;
  /** The seeds' hosts' sitemaps read (see ParamsMap['crawl/start'].sitemaps); absent: false. */
  sitemaps?: boolean;
  /** The page handler's module, its real path (see ParamsMap['crawl/start'].handler); absent for none. */
  handler?: string;
  /** Seconds the handler may take over a page; absent: the default, 10. */
  handlerTimeout?: number;
}

/** A WARC file of a crawl: its absolute path and size. */
export interface WarcFile {
  path: string;
  bytes: number;
}

export interface Crawl {
  crawlId: string;
  name: string | null;
  seeds: string[];
  options: CrawlOptions;
  state: CrawlState;
  counts: StateCounts;
  /**
   * Of `counts.skipped`, the jobs cancelled with the crawl while queued: they did not end on their
   * own (see crawlProgress).
   */
  cancelled: number;
  pages: number;
  bytes: number;
  /**
   * URLs the crawl's sitemaps named that its scope and patterns let in (see CrawlOptions.sitemaps),
   * before the queue drops those it has already and those past max pages.
   */
  fromSitemaps: number;
  /** Of `pages`, those that were sitemaps (and robots.txt) read for its sitemaps: not pages of the site. */
  sitemapsRead: number;
  /** Links seen but not enqueued, by reason: out of scope, past max depth or max pages, excluded. */
  dropped: Record<string, number>;
  pagesPerSecond: number;
  createdAt: string;
  finishedAt: string | null;
}

/** A crawl as every view and message names it: "name (id)", its id alone when it has no name. */
export function crawlLabel(crawl: Pick<Crawl, 'crawlId' | 'name'>): string {
  return crawl.name ? `${crawl.name} (${crawl.crawlId})` : crawl.crawlId;
}

/**
 * A crawl's progress as every view says it (the pickers, the Jobs view, the lens, the report,
 * crawlctl): jobs that ended on their own of those found, and apart those cancelled with the
 * crawl, which the queue counts as skipped (cancel: queued to skipped).
 */
export function crawlProgress(c: Pick<Crawl, 'counts' | 'cancelled'>): { finished: number; found: number; cancelled: number; failed: number } {
  const n = c.counts;
  const cancelled = Math.min(c.cancelled, n.skipped);
  return { finished: n.done + n.skipped + n.error - cancelled, found: n.queued + n.in_progress + n.done + n.skipped + n.error, cancelled, failed: n.error };
}

/** "120/300 finished", or for a cancelled crawl "6 finished · 153 cancelled"; counts as `count` writes them. */
export function crawlProgressText(c: Pick<Crawl, 'counts' | 'cancelled'>, count: (n: number) => string = String): string {
  const p = crawlProgress(c);
  return p.cancelled > 0 ? `${count(p.finished)} finished · ${count(p.cancelled)} cancelled` : `${count(p.finished)}/${count(p.found)} finished`;
}

export interface Lease {
  jobId: number;
  url: string;
  host: string;
  workerId: string;
  leasedAt: string;
  expiresAt: string;
  heartbeatAt: string;
}

export const WORKER_STATES = ['live', 'stopped', 'lost'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** A worker of the database (workers/list): every daemon that ran on it in the last week, and any lease holder. */
export interface Worker {
  workerId: string;
  /** The machine and process it runs as, from its id (host:pid:nonce[@space]); null when the id is not of that form. */
  host: string | null;
  pid: number | null;
  /** Null for a lease holder never recorded (a daemon older than the registry). */
  startedAt: string | null;
  /** When it was last heard from: every 10 s while it runs, busy or idle. */
  seenAt: string;
  stoppedAt: string | null;
  /**
   * stopped: it stopped on its own; lost: silent for 30 s, or, past one missed beat, on a machine of
   * the answering daemon's host name with its process gone (killed, hung, cut off: its leases go
   * back to the queue); live otherwise.
   */
  state: WorkerState;
  /** Leases it holds now. */
  leases: number;
  /** The daemon answering runs this worker. */
  self: boolean;
}

export interface Host {
  host: string;
  limit: number;
  inFlight: number;
  queued: number;
  done: number;
  error: number;
  state: HostState;
  /** When a delayed, backing-off or blocked host may start again. */
  until: string | null;
  reason: string | null;
}

export interface Rejected {
  url: string;
  reason: string;
}

/**
 * A page filter of crawl/pages: one status, or a class of them (`error`: failed with no response;
 * `failed`: every page that failed, whatever its status, as crawl/report counts broken pages: a
 * 4xx, a 5xx, no response, a redirect loop, a handler that threw; skipped pages are in none).
 */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'error', 'failed'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/**
 * What a crawl knows of one URL it fetched or tried: one per URL of the crawl that got a response
 * or ended without one (failed, skipped). Times are ISO strings.
 */
export interface PageRecord {
  url: string;
  /** The job that fetched it; null when the page was recorded without one (none so far). */
  jobId: number | null;
  /** Where the URL led: itself, or the end of its redirect chain (null while that is not known). */
  finalUrl: string | null;
  /** The redirect chain after `url`, hop by hop, ending at `finalUrl`; empty when it did not redirect. */
  redirects: string[];
  /** Null when no response came (a network error, a page skipped before it was fetched). */
  status: number | null;
  /** Why it failed or was skipped; null for a page that was fetched and kept. */
  error: string | null;
  /** Not fetched on purpose (robots.txt, the address policy, a redirect out of scope): not broken. */
  skipped: boolean;
  contentType: string | null;
  bytes: number | null;
  fetchMs: number | null;
  fetchedAt: string | null;
  /** The `<lastmod>` a sitemap gave the URL, as written; null when it came from no sitemap or had none. */
  lastmod: string | null;
  depth: number | null;
  title: string | null;
  /** The meta description. */
  description: string | null;
  canonical: string | null;
  /** Meta robots, as the page wrote it (`noindex, nofollow`). */
  robots: string | null;
  lang: string | null;
  /** The page whose link (or redirect) first put this URL in the queue; null for seeds. */
  foundOn: string | null;
  /** That link's text. */
  linkText: string | null;
  outlinks: number;
  /** Links to it; in crawl/pages (and exports) counted up to INLINKS_COUNTED, in crawl/page and jobs/get all. */
  inlinks: number;
  /** Of the stored body, when the crawl stores bodies. */
  sha256: string | null;
  /** Fields extracted from the page; null until extraction fills it. */
  data: Record<string, unknown> | null;
}

/**
 * A page's inlinks are counted up to this in lists: the navigation pages of a million-page crawl
 * have a million each, and counting them cost a page of records half a second.
 */
export const INLINKS_COUNTED = 10_000;

/** The report lists this many broken links and redirects at most (the most linked first); export has them all. */
export const REPORT_LISTED = 1_000;

/** Why a link was not followed, as crawl/page and crawl/links say it. */
export const LINK_REASONS = [
  'nofollow',
  'meta nofollow',
  'past max depth',
  'out of scope',
  'excluded by pattern',
  'robots.txt',
  'past max pages',
  'crawl cancelled',
] as const;
export type LinkReason = (typeof LINK_REASONS)[number];

/** One link of the graph: a page, where one of its links goes, its text, and what became of it. */
export interface LinkRecord {
  from: string;
  to: string;
  text: string;
  followed: boolean;
  reason: LinkReason | null;
}

/** Buckets crawl/rates answers at most: twenty minutes of two seconds. */
export const RATE_BUCKETS = 600;

/** A crawl's rate over time (crawl/rates): buckets with pages in them, oldest first, each at its start. */
export interface CrawlRates {
  bucketSeconds: number;
  buckets: { at: string; pages: number; failures: number }[];
}

export interface CrawlReport {
  crawlId: string;
  /** Page records. */
  pages: number;
  /** Pages by HTTP status; `error` for those that failed with no response, `skipped` for those not fetched on purpose. */
  byStatus: Record<string, number>;
  /** Pages with a response, by content type (`none` when it had none). */
  byContentType: Record<string, number>;
  byHost: { host: string; pages: number; errors: number; meanFetchMs: number | null }[];
  /**
   * URLs that failed (a 4xx, a 5xx, no response, a redirect loop), most-linked first, at most
   * REPORT_LISTED, each with its first 100 referrers; `brokenCount` counts them all.
   */
  /** `foundOn`: the page whose link or redirect first queued the URL (one reached by a redirect has no link to it); null for a seed. */
  brokenLinks: {
    url: string;
    status: number | null;
    error: string | null;
    referrerCount: number;
    referrers: { url: string; text: string }[];
    foundOn: string | null;
  }[];
  brokenCount: number;
  /** Redirects in the order met, at most REPORT_LISTED; `finalUrl` null for a chain that loops. */
  redirects: { url: string; finalUrl: string | null; status: number }[];
  redirectCount: number;
  slowest: { url: string; fetchMs: number }[];
  largest: { url: string; bytes: number }[];
  /** HTML pages fetched with no title. */
  missingTitles: number;
}

// ---------------------------------------------------------------------------------------------
// Params (validated by the daemon) and results

/** Bytes of a value as JSON.stringify writes it, in UTF-8: what it takes on a socket line. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** Params of a method that takes none. */
type None = Record<string, never>;

/**
 * What each method takes. The daemon checks what it receives against the schemas of
 * daemon/params.ts (bounds, formats), which the compiler holds to exactly these types.
 */
export interface ParamsMap {
  'crawl/start': {
    /** At least one, at most MAX_SEEDS, at most MAX_URL_LIST_BYTES as JSON. */
    seeds: string[];
    name?: string;
    /** Omitted: the daemon's default (no limit unless it was started with one); null: no limit. */
    maxDepth?: number | null;
    maxPages?: number;
    scope?: Scope;
    include?: string[];
    exclude?: string[];
    followNofollow?: boolean;
    storeBodies?: boolean;
    /** Default: the daemon's setting, else the kind of the seeds' own addresses. */
    addresses?: AddressPolicy;
    /**
     * Fields for each page's record data, by name: `"<selector>"` for the text of the first match
     * (whitespace collapsed), `"<selector> @<attribute>"` for an attribute of it; a name ending in
     * `[]` collects every match. No match: null (or []). At most 50; a bad selector is refused,
     * naming its field.
     */
    extract?: Record<string, string>;
    /**
     * Keep every response the crawl fetches, with its request, as WARC/1.1 records in gzipped
     * files of the state folder (`warc/<crawlId>-<n>.warc.gz`, a new one past 1 GB); crawl/get lists them.
     */
    warc?: boolean;
    /**
     * Read the sitemaps of the seeds' hosts: those robots.txt names (`Sitemap:` lines), else
     * `/sitemap.xml`; indexes, gzip, the protocol's 50,000 URLs and 50 MB a file. Their URLs join
     * the crawl at depth 0 (scope and robots.txt apply), their `<lastmod>` kept in the page record,
     * counted apart (`fromSitemaps`).
     */
    sitemaps?: boolean;
    /**
     * A JavaScript module in the daemon's workspace (a path relative to it, or absolute; refused
     * outside it) whose default export is called with each page fetched, on a thread of its own:
     * `async (page) => ({ data, enqueue })`. `page` has url, finalUrl, status, headers,
     * contentType, text, and `$(selector)`/`$$(selector)` returning elements' text and attributes.
     * `data` (an object, or an array of them: its `records`) joins the page's data; `enqueue`'s
     * URLs are crawled as its links are. A handler that throws or takes too long fails its page.
     */
    handler?: string;
    /** Seconds the handler may take over a page (default 10); only with a handler. */
    handlerTimeout?: number;
  };
  'crawl/list': None;
  'crawl/get': { crawlId: string };
  'crawl/pause': { crawlId: string };
  'crawl/resume': { crawlId: string };
  'crawl/cancel': { crawlId: string };
  /** A crawl's page records, in the order they were first met, a page at a time. */
  'crawl/pages': {
    crawlId: string;
    cursor?: string | null;
    /** At most 1,000; default 100. */
    limit?: number;
    status?: number | StatusClass;
    /** A substring of the URL or the title (ignoring case: of ASCII letters on SQLite, by the database's locale on PostgreSQL). */
    search?: string;
  };
  /** One page record with the links to it (the first 1,000) and every link it has, with their fate. */
  'crawl/page': { crawlId: string; url: string };
  /** The link graph, a page at a time: every link, or those from one page, or those to one URL. */
  'crawl/links': { crawlId: string; cursor?: string | null; limit?: number; from?: string; to?: string };
  /** What a site audit wants at a glance: statuses, broken links and their referrers, redirects, slow and large pages. */
  'crawl/report': { crawlId: string };
  /**
   * The crawl's rate over time from its page records' fetchedAt: pages fetched (and of them failed
   * with a response) in buckets of `bucketSeconds` (default 2), RATE_BUCKETS of them from `since`
   * (ISO; default: those up to now).
   */
  'crawl/rates': { crawlId: string; since?: string; bucketSeconds?: number };
  'jobs/enqueue': {
    /** At least one, at most MAX_ENQUEUE_URLS, at most MAX_URL_LIST_BYTES as JSON. */
    urls: string[];
    crawlId?: string;
    priority?: number;
    maxAttempts?: number;
  };
  'jobs/list': {
    state?: JobState;
    host?: string;
    crawlId?: string;
    limit?: number;
    /** The nextCursor of the page before: the id, as text, of the last job it examined. */
    cursor?: string | null;
    /** `newest`: by id, descending (a running crawl's latest results first); default `oldest`. */
    order?: 'oldest' | 'newest';
    /**
     * An HTTP status (`404`) or class (`4xx`) of the job's result; any other text matches part of
     * the URL or the last error (ignoring case: ASCII letters on SQLite, the locale's on
     * PostgreSQL). Blank: no search. One call examines at most 50,000 jobs: fewer than `limit` may
     * come back with a nextCursor, and the next page walks on. At most MAX_JOB_SEARCH characters.
     */
    search?: string;
    /**
     * Only failed jobs of this reason (jobs/reasons'); `state` is then `error` or absent. At most
     * MAX_JOB_REASON characters.
     */
    reason?: string;
  };
  /** Failed jobs counted by reason, most first (then by reason): of every crawl, or of one; at most `limit` (default and most MAX_REASONS_LISTED). */
  'jobs/reasons': { crawlId?: string; limit?: number };
  'jobs/get': { id: number };
  /** `reason`: only failed jobs of that reason (`state`, if given, is `error`). */
  'jobs/requeue': { ids?: number[]; state?: (typeof FINISHED_STATES)[number]; host?: string; crawlId?: string; reason?: string };
  'jobs/cancel': { ids: number[] };
  'queue/stats': None;
  'leases/list': None;
  /** The workers recorded on the database, the most recently seen first: at most `limit` (default 200, at most 1,000). */
  'workers/list': { limit?: number };
  'hosts/list': { limit?: number };
  'hosts/setLimit': { host: string; limit: number };
  'scheduler/status': None;
  'scheduler/pause': None;
  'scheduler/resume': None;
  'daemon/configure': { maxWorkers?: number; perHostLimit?: number };
  'daemon/shutdown': None;
  'events/subscribe': None;
  /** Parses a seed file (`*.crawl`) into crawl/start params, or says what is wrong where. */
  'seeds/parse': { text: string };
  /**
   * Starts a crawl from a seed file and remembers that the file started it, so the file's hints,
   * diagnostics and lenses follow that crawl. `uri` is only a name, never opened: the text is
   * `text`, or, over LSP, the open document's. Option lines or no valid URL: invalid params.
   */
  'seeds/start': { uri: string; text?: string };
}

export type Method = keyof ParamsMap;
export type ParamsOf<M extends Method> = ParamsMap[M];

export interface Results {
  'crawl/start': { crawlId: string; enqueued: number; rejected: Rejected[] };
  'crawl/list': { crawls: Crawl[] };
  /** `warc`: the crawl's WARC files, oldest first (none unless it keeps them). */
  'crawl/get': { crawl: Crawl; warc: WarcFile[] };
  'crawl/pause': { crawl: Crawl };
  'crawl/resume': { crawl: Crawl };
  'crawl/cancel': { crawl: Crawl; cancelled: number };
  'crawl/pages': { pages: PageRecord[]; nextCursor: string | null };
  'crawl/page': {
    page: PageRecord;
    inlinks: { url: string; text: string }[];
    inlinkCount: number;
    outlinks: { url: string; text: string; followed: boolean; reason: LinkReason | null }[];
  };
  'crawl/links': { links: LinkRecord[]; nextCursor: string | null };
  'crawl/report': CrawlReport;
  'crawl/rates': CrawlRates;
  'jobs/enqueue': { enqueued: number; duplicates: number; ids: number[]; rejected: Rejected[] };
  'jobs/list': { jobs: Job[]; nextCursor: string | null };
  'jobs/reasons': { reasons: FailureReason[] };
  /** `page`: the page record of a crawl's job once it has one. */
  'jobs/get': { job: Job; events: JobEvent[]; page: PageRecord | null };
  'jobs/requeue': { requeued: number };
  'jobs/cancel': { cancelled: number };
  'queue/stats': StateCounts & { total: number; jobsPerSecond: number };
  'leases/list': { leases: Lease[] };
  'workers/list': { workers: Worker[] };
  'hosts/list': { hosts: Host[] };
  'hosts/setLimit': { host: string; limit: number };
  'scheduler/status': {
    workerId: string;
    paused: boolean;
    running: number;
    maxWorkers: number;
    /** Why nothing runs while jobs are queued, in a sentence; null when work runs or none waits. */
    idleReason: string | null;
  };
  'scheduler/pause': { paused: boolean };
  'scheduler/resume': { paused: boolean };
  'daemon/configure': { maxWorkers: number; perHostLimit: number };
  'daemon/shutdown': { stopping: boolean };
  'events/subscribe': { subscribed: boolean };
  /**
   * `start` is null when the file cannot start a crawl (bad options, no valid URL); lines are
   * 1-based. A line with an error is left out of the crawl; a warning's (a repeated URL) is not.
   */
  'seeds/parse': { start: ParamsOf<'crawl/start'> | null; problems: { line: number; message: string; severity: 'error' | 'warning' }[] };
  'seeds/start': Results['crawl/start'];
}

export type ResultOf<M extends Method> = Results[M];

// ---------------------------------------------------------------------------------------------
// Notifications (daemon → client), sent to subscribers, batched, a few per second at most.

export interface Notifications {
  'jobs/changed': { changes: { id: number; state: JobState }[]; /** True when too many to list: refetch. */ truncated: boolean };
  'queue/statsChanged': ResultOf<'queue/stats'>;
  'crawl/changed': { crawl: Crawl };
}
export type Notification = keyof Notifications;

// ---------------------------------------------------------------------------------------------
// Seed-file code lenses (language server → extension). Each lens carries one of these command ids
// with the arguments below; the extension registers the commands and sends the request named.

export const SEED_COMMANDS = {
  /** Args `[{ uri }]`: send `seeds/start` with them. */
  startCrawl: 'crawlOrchestrator.startCrawl',
  /** Args `[ParamsOf<'jobs/requeue'>]`: send `jobs/requeue` with them as they are. */
  requeueFailed: 'crawlOrchestrator.requeueFailed',
  /** Args `[{ crawlId, jobIds, from? }]`: show the jobs view filtered to the crawl (or to those jobs when crawlId is null; `from` says where they came from). */
  revealJobs: 'crawlOrchestrator.revealJobs',
  /** Args `[{ crawlId }]`: pause the crawl (the lens of a running crawl; also on a jobs view row, or from the palette). */
  pauseCrawl: 'crawlOrchestrator.pauseCrawl',
  /** Args `[{ crawlId }]`: resume the crawl. */
  resumeCrawl: 'crawlOrchestrator.resumeCrawl',
  /** Args `[{ crawlId }]`: cancel the crawl, once the user confirms. */
  cancelCrawl: 'crawlOrchestrator.cancelCrawl',
  /** Args `[{ crawlId }]`: open the crawl's report (also on a jobs view row, or from the palette with a picker). */
  showReport: 'crawlOrchestrator.showCrawlReport',
} as const;

export interface SeedCommandArgs {
  [SEED_COMMANDS.startCrawl]: [{ uri: string }];
  [SEED_COMMANDS.requeueFailed]: [ParamsOf<'jobs/requeue'>];
  [SEED_COMMANDS.revealJobs]: [{ crawlId: string | null; jobIds: number[]; from?: string }];
  [SEED_COMMANDS.pauseCrawl]: [{ crawlId: string }];
  [SEED_COMMANDS.resumeCrawl]: [{ crawlId: string }];
  [SEED_COMMANDS.cancelCrawl]: [{ crawlId: string }];
  [SEED_COMMANDS.showReport]: [{ crawlId: string }];
}

/** The seed files' language id and extension. */
export const SEED_LANGUAGE_ID = 'crawl';
export const SEED_FILE_EXTENSION = '.crawl';

// ---------------------------------------------------------------------------------------------
// Errors

export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Application errors: a job or crawl that does not exist. */
  NotFound: -32001,
  /** The request was understood but cannot be done now (the daemon is stopping, the disk is full). */
  Unavailable: -32002,
  /** The request conflicts with the state of things (resume a cancelled crawl). */
  Conflict: -32003,
} as const;

/** Where clients find the daemon: file names inside the state folder. */
export const STATE_FILES = {
  db: 'queue.db',
  socket: 'crawld.sock',
  /** Written when the socket had to live elsewhere (a state folder path too long for a socket). */
  socketPointer: 'crawld.sock.path',
  bodies: 'bodies',
  /** WARC files of the crawls that keep them. */
  warc: 'warc',
  /** Which seed file started which crawl (written by the daemon, JSON). */
  seedFiles: 'seedfiles.json',
} as const;
