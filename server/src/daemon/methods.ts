/**
 * The one method table both transports serve. Each method receives params already validated by
 * its schema (params.ts, held to the contract's types) and returns the contract's result;
 * `invoke` is the single way in.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queue } from '../core/types';
import type { z } from 'zod';
import type { CoreConfig, LiveConfig } from '../core/config';
import type { Scheduler } from '../core/scheduler';
import type { CrawlService } from '../crawl/service';
import { normalizeUrl } from '../crawl/url';
import { ErrorCodes, type Method, type ParamsOf, type Results } from '../protocol';
import { Params } from './params';
import type { Logger } from '../core/scheduler';
import { idleReason } from './idle';
import { statsAnswer, type RateMeter } from './notify/rate';
import { RpcError, formatIssues, invalidParams, notFound, toRpcError, unavailable } from './transport/rpc';
import { parseSeedFile, startParams, whyNotStartable } from './seeds/file';
import type { SeedMap } from './seeds/map';
import { wireCrawl, wireEvent, wireHost, wireJob, wireLease, wirePage, wireRates, wireWorker } from './wire';
import { workerState } from '../core/worker-id';

/** workers/list's default length. */
const WORKERS_LISTED = 200;

/** What a method may know of the connection that called it. */
export interface CallContext {
  /** Turns on change notifications for this connection. */
  subscribe(): void;
  /** The text of a document open in the editor (LSP transport only). */
  documentText?(uri: string): string | undefined;
  /** The request awaits I/O: its turn goes back before its answer (the socket's thread, turns.ts). */
  awaitsIo?(): void;
}

export interface DaemonServices {
  queue: Queue;
  crawls: CrawlService;
  scheduler: Scheduler;
  rate: RateMeter;
  seeds: SeedMap;
  config(): CoreConfig;
  /** Applies and returns a new configuration; throws ConfigError when it is invalid. */
  reconfigure(change: Partial<LiveConfig>): CoreConfig;
  /** Starts a graceful stop once the current responses are out. */
  shutdown(): void;
  stopping(): boolean;
  /** The scheduler's state changed at a client's word: every client hears of it, not only that one. */
  schedulerChanged(): void;
  /** A client subscribed: what changed while no one listened (no batch is made then) is sent now. */
  subscribed(): void;
  log: Logger;
}

type ParsedParams<M extends Method> = z.output<(typeof Params)[M]>;
export type MethodTable = { [M in Method]: (params: ParsedParams<M>, call: CallContext) => Promise<Results[M]> };

/** idleReason reads every host's totals; a status poll more often than this reuses the last one. */
const IDLE_REASON_TTL_MS = 1_000;

export function createMethods(d: DaemonServices): MethodTable {
  const { queue, crawls, scheduler } = d;
  let idleCache: { at: number; value: string | null } | null = null;

  return {
    'crawl/start': async (p) => crawls.start(p),
    'crawl/list': async () => ({ crawls: (await crawls.list()).map(wireCrawl) }),
    'crawl/get': async (p) => {
      const crawl = await crawls.get(p.crawlId);
      return { crawl: wireCrawl(crawl), warc: await crawls.warcFiles(crawl) };
    },
    'crawl/pause': async (p) => ({ crawl: wireCrawl(await crawls.pause(p.crawlId)) }),
    'crawl/resume': async (p) => ({ crawl: wireCrawl(await crawls.resume(p.crawlId)) }),
    'crawl/cancel': async (p) => {
      const r = await crawls.cancel(p.crawlId);
      return { crawl: wireCrawl(r.crawl), cancelled: r.cancelled };
    },
    'crawl/pages': async (p) => {
      const r = await crawls.pages(p.crawlId, p);
      return { pages: r.pages.map(wirePage), nextCursor: r.nextCursor };
    },
    'crawl/page': async (p) => {
      const r = await crawls.page(p.crawlId, p.url);
      return { ...r, page: wirePage(r.page) };
    },
    'crawl/links': async (p) => crawls.links(p.crawlId, p),
    'crawl/report': async (p) => crawls.report(p.crawlId),
    'crawl/rates': async (p) => wireRates(await crawls.rateHistory(p.crawlId, p.since === undefined ? null : Date.parse(p.since), p.bucketSeconds ?? 2)),
    'jobs/enqueue': async (p) => crawls.enqueue(p),
    'jobs/list': async (p) => {
      const page = await queue.list({
        state: p.state,
        key: p.host?.toLowerCase(),
        crawlId: p.crawlId,
        limit: p.limit,
        cursor: p.cursor,
        newestFirst: p.order === 'newest',
        search: p.search,
        reason: p.reason,
      });
      const now = queue.now();
      return { jobs: page.jobs.map((j) => wireJob(j, now)), nextCursor: page.nextCursor };
    },
    'jobs/reasons': async (p) => ({ reasons: await queue.reasons({ crawlId: p.crawlId, limit: p.limit }) }),
    'jobs/get': async (p) => {
      const found = await queue.get(p.id);
      if (!found) throw notFound(`job ${p.id} does not exist`);
      const page = await crawls.pageOfJob(found.job);
      return { job: wireJob(found.job, queue.now()), events: found.events.map(wireEvent), page: page && wirePage(page) };
    },
    'jobs/requeue': async (p) => {
      if (!p.ids && !p.state && !p.host && !p.crawlId && p.reason === undefined)
        throw invalidParams('params: give ids, state, host, crawlId or reason to say which jobs');
      return { requeued: await crawls.requeue({ ids: p.ids, state: p.state, key: p.host?.toLowerCase(), crawlId: p.crawlId, reason: p.reason }) };
    },
    'jobs/cancel': async (p) => ({ cancelled: await queue.cancel({ ids: p.ids }) }),
    'queue/stats': async () => statsAnswer(await queue.stats(), d.rate),
    'leases/list': async () => ({ leases: (await queue.leases()).map(wireLease) }),
    'workers/list': async (p) => {
      const now = queue.now();
      const rows = await queue.workers(p.limit ?? WORKERS_LISTED);
      return { workers: rows.map((w) => wireWorker(w, workerState(w, now, scheduler.workerId), w.workerId === scheduler.workerId)) };
    },
    'hosts/list': async (p) => ({ hosts: (await crawls.hosts({ limit: p.limit, defaultLimit: d.config().perHostLimit })).map(wireHost) }),
    'hosts/setLimit': async (p) => {
      const n = normalizeUrl(`http://${p.host}/`);
      if (!n.ok || n.host !== p.host.toLowerCase()) throw invalidParams(`host: "${p.host}" is not a host name`);
      await queue.setKeyLimit(n.host, p.limit);
      return { host: n.host, limit: p.limit };
    },
    'scheduler/status': async () => {
      const s = scheduler.status();
      const now = Date.now();
      if (!idleCache || now - idleCache.at > IDLE_REASON_TTL_MS) {
        idleCache = { at: now, value: await idleReason(queue, crawls, s, d.config().perHostLimit) };
      }
      return { workerId: s.workerId, paused: s.paused, running: s.running, maxWorkers: s.maxWorkers, idleReason: idleCache.value };
    },
    'scheduler/pause': async () => {
      scheduler.pause();
      idleCache = null;
      d.schedulerChanged();
      return { paused: true };
    },
    'scheduler/resume': async () => {
      scheduler.resume();
      idleCache = null;
      d.schedulerChanged();
      return { paused: false };
    },
    'daemon/configure': async (p) => {
      const c = d.reconfigure({ maxWorkers: p.maxWorkers, perHostLimit: p.perHostLimit });
      idleCache = null;
      d.schedulerChanged();
      return { maxWorkers: c.maxWorkers, perHostLimit: c.perHostLimit };
    },
    'daemon/shutdown': async () => {
      d.shutdown();
      return { stopping: true };
    },
    'events/subscribe': async (_p, call) => {
      call.subscribe();
      d.subscribed();
      return { subscribed: true };
    },
    'seeds/parse': async (p) => {
      const file = parseSeedFile(p.text);
      return { start: startParams(file), problems: file.problems.map((x) => ({ line: x.line + 1, message: x.message, severity: x.severity })) };
    },
    'seeds/start': async (p, call) => {
      const text = p.text ?? call.documentText?.(p.uri);
      if (text === undefined) throw notFound(`${p.uri} is not open in the editor; send its text`);
      const file = parseSeedFile(text);
      const start = startParams(file);
      if (!start) throw invalidParams(whyNotStartable(file));
      // A seed file's handler is named from the file's folder.
      if (start.handler !== undefined && p.uri.startsWith('file:')) start.handler = path.resolve(path.dirname(filePath(p.uri)), start.handler);
      // The file's crawl must pass what crawl/start would (at most 10,000 seeds, say).
      const r = await crawls.start(checkParams('crawl/start', start));
      d.seeds.set(p.uri, r.crawlId);
      return r;
    },
  };
}

/** A seed file's path from its file: URI; one that names no local file is a bad parameter. */
function filePath(uri: string): string {
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw invalidParams(`uri: ${(err as Error).message}`);
  }
}

const METHOD_NAMES = new Set<string>(Object.keys(Params));

export function isMethod(name: string): name is Method {
  return METHOD_NAMES.has(name);
}

/** Methods still answered while the daemon stops: they only read memory. */
const WHILE_STOPPING = new Set<string>(['scheduler/status', 'daemon/shutdown', 'seeds/parse']);

/** Params checked against their schema (params.ts): invalid params name each field and what was wrong. */
function checkParams<M extends Method>(method: M, params: unknown): ParamsOf<M> {
  const parsed = Params[method].safeParse(params);
  if (!parsed.success) throw invalidParams(formatIssues(parsed.error.issues));
  return parsed.data as ParamsOf<M>;
}

/**
 * Validates and runs one call. Always settles with the result or an RpcError: unknown method,
 * params by position, schema failures (each field named), and every domain error mapped.
 */
export async function invoke(table: MethodTable, d: DaemonServices, method: string, params: unknown, call: CallContext): Promise<unknown> {
  if (!isMethod(method)) throw new RpcError(ErrorCodes.MethodNotFound, `unknown method "${method.slice(0, 100)}"`);
  if (Array.isArray(params)) throw invalidParams('params: pass parameters by name (an object), not by position');
  const checked = checkParams(method, params === undefined ? {} : params);
  if (d.stopping() && !WHILE_STOPPING.has(method)) throw unavailable('the daemon is stopping');
  try {
    return await (table[method] as (p: unknown, c: CallContext) => Promise<unknown>)(checked, call);
  } catch (err) {
    throw toRpcError(err, d.log, method);
  }
}
