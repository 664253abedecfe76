/**
 * Domain records → wire records: epoch milliseconds become ISO-8601 strings, the queue's limit
 * key becomes the host, and fields the wire does not carry (lease tokens, payloads) stay behind.
 */
import { isHeld } from '../core/types';
import type * as core from '../core/types';
import type { PageInfo, RateBucket } from '../crawl/pages';
import type { CrawlRecord, HostRecord } from '../crawl/service';
import type { Crawl, CrawlRates, Host, Job, JobEvent, Lease, PageRecord, PageResult, StateCounts, Worker, WorkerState } from '../protocol';
import { parseWorkerId } from '../core/worker-id';

/** Largest time a Date can hold; sentinels beyond it (a held job's run_after) have no date. */
const MAX_DATE_MS = 8.64e15;

export function iso(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return null;
  return new Date(ms).toISOString();
}

/** For fields that always hold a time (created, updated). */
function isoAlways(ms: number): string {
  return iso(ms) ?? new Date(0).toISOString();
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function strOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function wireResult(r: core.JobResult | null): PageResult | null {
  if (!r) return null;
  return {
    status: numOrNull(r.status),
    contentType: strOrNull(r.contentType),
    bytes: numOrNull(r.bytes),
    durationMs: numOrNull(r.durationMs),
    finalUrl: strOrNull(r.finalUrl),
    title: strOrNull(r.title),
  };
}

/**
 * A job on the wire. Its runAfter only when still to come, so a client never reads a past backoff
 * as a wait; the daemon's clock decides, not the editor's (mapped by Array.map, so no `now` argument).
 */
/** `now` on the queue's clock, as the job's times are (the server's, on PostgreSQL). */
export function wireJob(j: core.Job, now: number): Job {
  const leased = j.state === 'in_progress';
  // A paused crawl's queued jobs wait at the HELD sentinel (core/types.ts), with no time to show.
  const held = j.state === 'queued' && isHeld(j.runAfter);
  return {
    id: j.id,
    url: j.url,
    host: j.key,
    crawlId: j.crawlId,
    depth: j.depth,
    state: j.state,
    priority: j.priority,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    lostWorkers: j.reclaims,
    deferrals: j.deferrals,
    runAfter: j.state === 'queued' && !held && j.runAfter > now ? iso(j.runAfter) : null,
    held,
    workerId: j.workerId,
    // The lease columns outlive a lease in part (worker_id names the last holder): only a live
    // lease has times on the wire.
    leasedAt: leased ? iso(j.leasedAt) : null,
    leaseExpiresAt: leased ? iso(j.leaseExpiresAt) : null,
    heartbeatAt: leased ? iso(j.heartbeatAt) : null,
    lastError: j.lastError,
    createdAt: isoAlways(j.createdAt),
    updatedAt: isoAlways(j.updatedAt),
    result: wireResult(j.result),
  };
}

export function wireEvent(e: core.JobEvent): JobEvent {
  return { at: isoAlways(e.at), type: e.type, workerId: e.workerId, detail: e.detail };
}

export function wireCounts(s: core.Stats): StateCounts {
  return { queued: s.queued, in_progress: s.in_progress, done: s.done, skipped: s.skipped, error: s.error };
}

export function wireCrawl(c: CrawlRecord): Crawl {
  return {
    crawlId: c.id,
    name: c.name,
    seeds: c.seeds,
    options: c.options,
    state: c.state,
    counts: wireCounts(c.counts),
    cancelled: c.cancelled,
    pages: c.pages,
    bytes: c.bytes,
    fromSitemaps: c.fromSitemaps,
    sitemapsRead: c.sitemapsRead,
    dropped: c.dropped,
    pagesPerSecond: c.pagesPerSecond,
    createdAt: isoAlways(c.createdAt),
    finishedAt: iso(c.finishedAt),
  };
}

export function wireRates(r: { bucketSeconds: number; buckets: RateBucket[] }): CrawlRates {
  return { bucketSeconds: r.bucketSeconds, buckets: r.buckets.map((b) => ({ at: isoAlways(b.at), pages: b.pages, failures: b.failures })) };
}

export function wireLease(l: core.LeaseInfo): Lease {
  return {
    jobId: l.jobId,
    url: l.url,
    host: l.key,
    workerId: l.workerId,
    leasedAt: isoAlways(l.leasedAt),
    expiresAt: isoAlways(l.expiresAt),
    heartbeatAt: isoAlways(l.heartbeatAt),
  };
}

export function wireWorker(w: core.WorkerRecord, state: WorkerState, self: boolean): Worker {
  const id = parseWorkerId(w.workerId);
  return {
    workerId: w.workerId,
    host: id?.host ?? null,
    pid: id?.pid ?? null,
    startedAt: iso(w.startedAt),
    seenAt: isoAlways(w.seenAt),
    stoppedAt: iso(w.stoppedAt),
    state,
    leases: w.leases,
    self,
  };
}

export function wireHost(h: HostRecord): Host {
  return {
    host: h.host,
    limit: h.limit,
    inFlight: h.inFlight,
    queued: h.queued,
    done: h.done,
    error: h.error,
    state: h.state,
    until: iso(h.until),
    reason: h.reason,
  };
}

/** A page record on the wire: the contract's fields in its order, its time as ISO. */
export function wirePage(p: PageInfo): PageRecord {
  return {
    url: p.url,
    jobId: p.jobId,
    finalUrl: p.finalUrl,
    redirects: p.redirects,
    status: p.status,
    error: p.error,
    skipped: p.skipped,
    contentType: p.contentType,
    bytes: p.bytes,
    fetchMs: p.fetchMs,
    fetchedAt: iso(p.fetchedAt),
    lastmod: p.lastmod,
    depth: p.depth,
    title: p.title,
    description: p.description,
    canonical: p.canonical,
    robots: p.robots,
    lang: p.lang,
    foundOn: p.foundOn,
    linkText: p.linkText,
    outlinks: p.outlinks,
    inlinks: p.inlinks,
    sha256: p.sha256,
    data: p.data,
  };
}
