import { setTimeout as sleep } from 'node:timers/promises';
import { QueueLockedError } from '../core/errors';
import type { Queue } from '../core/types';
import type { AddressPolicy } from '../protocol';
import { causeOf, FetchError, noServer, type Fetcher } from './fetcher';
import { ROBOTS_MAX_BYTES, Robots } from './robots';
import type { CrawlStore } from './store';

/** Reads of a robots.txt in a row that found it unreadable before its origin's pages fail rather than wait again. */
export const MAX_ROBOTS_TRIES = 5;
/**
 * How long an expired robots.txt row is kept before the sweep drops it: an unreadable one carries
 * its count of reads in a row, which must outlive a daemon's restart between two reads (it was in
 * memory: 9 leases and 9 waits for "5 tries" across restarts).
 */
const ROBOTS_KEPT_EXPIRED_MS = 3600_000;

/**
 * Why a whole host is held (failures in a row, the server's Retry-After), or one origin of it
 * (its robots.txt unreadable: another port or scheme of the host may well answer).
 */
export type HoldKind = 'backoff' | 'retry-after' | 'robots';

/**
 * What politeness tells of a host or an origin as it decides it, for the log: the queue's deferral
 * is only storage, written by any daemon sharing it, and says neither why nor when it answers again.
 */
export interface HoldEvents {
  /** `who` (a host, or for robots.txt an origin) is held until `until` (ms since the epoch). */
  onHold(who: string, until: number, kind: HoldKind, reason: string): void;
  /** `who` answered: a page of the host fetched (not 5xx nor 429), or the origin's robots.txt read. */
  onRecovered(who: string): void;
}

/** An origin whose robots.txt could not be read: its pages wait until `until`, the rest of its host does not. */
export interface OriginHold {
  origin: string;
  until: number;
  reason: string;
}

export interface PolitenessSettings {
  userAgent: string;
  /** How long a fetched robots.txt is trusted. */
  robotsTtlMs: number;
  /** When robots.txt could not be read (5xx, 429, unreachable): the host is blocked this long, then tried again. */
  robotsRetryMs: number;
  /** Crawl-delay is honoured up to this. */
  maxCrawlDelayMs: number;
  /** Consecutive failures on a host before the whole host backs off. */
  hostFailuresBeforeBackoff: number;
  hostBackoffBaseMs: number;
  hostBackoffMaxMs: number;
  /** The minimum delay between requests to a host when robots.txt names none. */
  defaultDelayMs: number;
}

/** A redirect gone wrong on the way to robots.txt: the RFC lets a crawler take the file as unavailable. */
const REDIRECT_FAILURES = new Set(['redirect_loop', 'too_many_redirects', 'bad_redirect', 'blocked']);

/**
 * Bookkeeping written after something was sent to a host (a slot's end, a backoff, robots.txt
 * and its delay) is not the page's outcome: a database locked by another process must not throw
 * away a fetch already made, to fetch it again later. Lost, it costs some politeness across
 * processes while the lock lasts; this process keeps what it learned in memory. Resolves with
 * whether it was written: a host whose hold was not is not held.
 */
async function bestEffort(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (!(err instanceof QueueLockedError)) throw err;
    return false;
  }
}

/** Bounded maps: what no longer fits is forgotten oldest first (a Map iterates in insertion order). */
const MAX_CACHED_HOSTS = 10_000;

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_CACHED_HOSTS) map.delete(map.keys().next().value as K);
}

/** One more in a row for `key`: the streak's new length. */
function lengthenStreak<K>(map: Map<K, number>, key: K): number {
  const n = (map.get(key) ?? 0) + 1;
  remember(map, key, n);
  return n;
}

/**
 * How often expired robots.txt rows are dropped. Every tick, it was a statement four times a
 * second per daemon: on PostgreSQL, with 4 daemons of a web-bound crawl, 0.08 of 2 statements a page.
 */
const ROBOTS_SWEEP_MS = 60_000;

/**
 * robots.txt per origin, fetched once (one fetch per origin at a time in this process), cached in
 * memory and in the database with an expiry; and each host's health: repeated failures back the
 * whole host off with capped exponential backoff, and a success eases it.
 */
export class Politeness {
  private readonly robots = new Map<string, { robots: Robots; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<Robots>>();
  private readonly failures = new Map<string, number>();
  /** Retry-After answers in a row per host, with no other answer between them. */
  private readonly waits = new Map<string, number>();
  /** By host: its origin last found with robots.txt unreadable, for the hosts view. */
  private readonly held = new Map<string, OriginHold>();
  /** When expired robots.txt rows were last dropped (on the queue's clock). */
  private sweptAt = -Infinity;

  constructor(
    private readonly queue: Queue,
    private readonly store: CrawlStore,
    private readonly fetcher: Fetcher,
    private readonly settings: PolitenessSettings,
    private readonly events: HoldEvents,
    /** The queue's clock: a host's start slots and backoffs are compared with every daemon's on it, and so are robots.txt's expiries. */
    private readonly now: () => number = () => queue.now(),
  ) {}

  /**
   * The robots.txt of an origin as this process knows it, without waiting; null when unknown or
   * expired. Links to an origin not yet known are checked when their page is fetched.
   */
  cached(origin: string): Robots | null {
    const hit = this.robots.get(origin);
    return hit && hit.expiresAt > this.now() ? hit.robots : null;
  }

  /**
   * The robots.txt of an origin: from memory, else from the store (another process or an earlier
   * run fetched it), else fetched. Its Crawl-delay becomes the host's minimum delay.
   */
  async robotsFor(origin: string, host: string, signal: AbortSignal, addresses: AddressPolicy = 'any'): Promise<Robots> {
    const hit = this.cached(origin);
    if (hit) return hit;
    // One load at a time per origin and policy: a load refused under one policy says nothing to another.
    const key = `${addresses} ${origin}`;
    let loading = this.loading.get(key);
    if (!loading) {
      loading = this.loadRobots(origin, host, signal, addresses).finally(() => this.loading.delete(key));
      this.loading.set(key, loading);
    }
    return loading;
  }

  private async loadRobots(origin: string, host: string, signal: AbortSignal, addresses: AddressPolicy): Promise<Robots> {
    const row = await this.store.getRobots(origin);
    const stored = row ? Robots.fromJSON(row.data) : null;
    if (stored && row!.expiresAt > this.now()) {
      remember(this.robots, origin, { robots: stored, expiresAt: row!.expiresAt });
      if (stored.retryLater) remember(this.held, host, { origin, until: row!.expiresAt, reason: this.unreadable(stored) });
      return stored;
    }
    // Expired: an unreadable one's reads in a row go on from the row, whoever read it, before a
    // restart or not; from memory when its write was lost to a lock.
    return this.fetchRobots(origin, host, signal, addresses, (stored ?? this.robots.get(origin)?.robots)?.tries ?? 0);
  }

  /**
   * Runs one request in its slot on the host, claimed across every process, so the minimum delay
   * holds between requests themselves, robots.txt included. The slot's end is recorded too: the
   * next claim then counts the delay from this response's end, so no jitter between a claim and
   * its request can bring two requests closer than the delay.
   */
  async inSlot<T>(host: string, delayMs: number, signal: AbortSignal, request: () => Promise<T>): Promise<T> {
    const at = await this.queue.claimStart(host, delayMs);
    const wait = at - this.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
    try {
      return await request();
    } finally {
      await bestEffort(this.queue.claimStart(host, 0));
    }
  }

  /**
   * A refused address (FetchError `address`) is thrown, not cached: it says nothing of the site,
   * only of one crawl's policy. So is a connection that found no server (refused, no such name, no
   * route): RFC 9309 2.3.1.4 has a crawler assume complete disallow when robots.txt is unreachable
   * "due to server or network errors", to spare a server in trouble; with no server there, nothing
   * is crawled against anyone's wishes, and the page fails as if its own fetch had (a broken link
   * in seconds, where 5 reads a minute apart held it 5 minutes). `before`: reads in a row so far
   * that found it unreadable.
   */
  private async fetchRobots(origin: string, host: string, signal: AbortSignal, addresses: AddressPolicy, before: number): Promise<Robots> {
    const url = `${origin}/robots.txt`;
    let robots: Robots;
    try {
      // The crawl-delay is not known yet; the slot records this request for the page's to follow.
      const res = await this.inSlot(host, this.settings.defaultDelayMs, signal, () =>
        this.fetcher.fetch(url, { signal, accept: 'text/plain,*/*;q=0.5', truncateAt: ROBOTS_MAX_BYTES, addresses }),
      );
      robots = Robots.fromResponse(res.status, res.body);
    } catch (err) {
      if (!(err instanceof FetchError) || err.code === 'aborted' || err.code === 'address' || noServer(err)) throw err;
      // Undecodable, timed out, reset: unreachable, tried again later.
      robots = REDIRECT_FAILURES.has(err.code) ? Robots.unavailable(`robots.txt unavailable: ${err.message}`) : Robots.unreachable(causeOf(err, url));
    }
    robots = robots.inARow(before + 1);
    const now = this.now();
    const expiresAt = now + (robots.retryLater ? this.settings.robotsRetryMs : this.settings.robotsTtlMs);
    remember(this.robots, origin, { robots, expiresAt });
    await bestEffort(this.store.putRobots(origin, robots.toJSON(), expiresAt));
    if (robots.retryLater) {
      // Only this origin's pages wait (each defers itself as it is leased): the host is not held,
      // as its other ports and schemes may answer. The queue's limit per host still holds for them.
      const reason = this.unreadable(robots);
      remember(this.held, host, { origin, until: expiresAt, reason });
      this.events.onHold(origin, expiresAt, 'robots', reason);
    } else {
      if (this.held.get(host)?.origin === origin) this.held.delete(host);
      this.events.onRecovered(origin);
      this.events.onRecovered(host);
      const delay = robots.crawlDelayMs(this.settings.userAgent, this.settings.maxCrawlDelayMs);
      if (delay !== null) await bestEffort(this.queue.setKeyDelay(host, delay));
    }
    return robots;
  }

  /** What failed of an unreadable robots.txt and how many reads are left; when it is read again is the hold's `until`. */
  unreadable(robots: Robots): string {
    const why = robots.verdict('/', this.settings.userAgent).rule ?? 'robots.txt unreadable';
    return `${why}, try ${Math.min(robots.tries, MAX_ROBOTS_TRIES)} of ${MAX_ROBOTS_TRIES}`;
  }

  /** How long until the origin's robots.txt, known here as unreadable, is read again. */
  untilReadAgain(origin: string): number {
    return Math.max(0, (this.robots.get(origin)?.expiresAt ?? this.now() + this.settings.robotsRetryMs) - this.now());
  }

  /** The host's origin whose robots.txt this process last found unreadable, while its pages wait for it. */
  heldOrigin(host: string): OriginHold | null {
    const hold = this.held.get(host);
    return hold && hold.until > this.now() ? hold : null;
  }

  /** A response came back from the host: its failure streak ends, and so does its run of Retry-Afters. */
  succeeded(host: string): void {
    this.failures.delete(host);
    this.waits.delete(host);
    this.events.onRecovered(host);
  }

  /**
   * A temporary failure (5xx, timeout, network error). After a few in a row the whole host backs
   * off, doubling each further failure up to the cap. Returns the backoff's end, if any.
   */
  async failed(host: string, reason: string): Promise<number | null> {
    const n = lengthenStreak(this.failures, host);
    const over = n - this.settings.hostFailuresBeforeBackoff;
    if (over < 0) return null;
    const ms = Math.min(this.settings.hostBackoffMaxMs, this.settings.hostBackoffBaseMs * 2 ** Math.min(over, 30));
    const until = this.now() + ms;
    const why = `${n} failures in a row (last: ${reason})`;
    if (await bestEffort(this.queue.deferKey(host, until, why))) this.events.onHold(host, until, 'backoff', why);
    return until;
  }

  /**
   * A server asked us to slow down (429 or 503 with Retry-After): the whole host waits as it asks, up
   * to `maxInARow` times in a row; past them (its page fails) for no longer than a backoff at its
   * longest, not the hour a 429 may ask at every attempt. Returns how many times in a row it asked.
   */
  async retryAfter(host: string, delayMs: number, reason: string, maxInARow: number): Promise<number> {
    const n = lengthenStreak(this.waits, host);
    const capped = n > maxInARow && delayMs > this.settings.hostBackoffMaxMs;
    const why = capped ? `${reason}, asked ${n} times in a row: held ${this.settings.hostBackoffMaxMs / 1000} s, a backoff's longest` : reason;
    const until = this.now() + (capped ? this.settings.hostBackoffMaxMs : delayMs);
    if (await bestEffort(this.queue.deferKey(host, until, why))) this.events.onHold(host, until, 'retry-after', why);
    return n;
  }

  /**
   * Drops robots.txt rows expired an hour ago, keeping the table as small as the set of live hosts; at most
   * every ROBOTS_SWEEP_MS, though called at every crawl tick (four a second), as rows live a day.
   */
  async sweep(): Promise<void> {
    const now = this.now();
    if (now - this.sweptAt < ROBOTS_SWEEP_MS) return;
    await this.store.dropExpiredRobots(now - ROBOTS_KEPT_EXPIRED_MS);
    this.sweptAt = now;
  }
}
