/**
 * Hosts held back and recovered, in the log (or one origin of a host, held for its unreadable
 * robots.txt): a line when a host becomes held, one when it answers again, none per job. A host held again while held (asked for Retry-After 1 s on every request,
 * still failing after its backoff) is the same hold going on: a debug line, and a count when it
 * recovers; otherwise 10,000 such hosts would write a line each every second.
 */
import type { Logger } from '../core/scheduler';
import type { HoldEvents, HoldKind } from './politeness';

/**
 * A host not heard from this long after its hold ended is forgotten, unlogged: its crawl ended,
 * or its pages gave up. It keeps the map as small as the set of hosts held now.
 */
export const FORGET_AFTER_MS = 10 * 60_000;
/** The map is looked through for holds to forget at most this often: a tick calls often (4 a second). */
const FORGET_EVERY_MS = 60_000;

interface Hold {
  since: number;
  until: number;
  kind: HoldKind;
  reason: string;
  /** Holds in a row, this one included. */
  times: number;
}

export class HoldLog implements HoldEvents {
  /** By host, or by origin for a robots.txt hold. */
  private readonly held = new Map<string, Hold>();
  /** When the map was last looked through by forgetStale. */
  private forgotAt = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  onHold(who: string, until: number, kind: HoldKind, reason: string): void {
    const hold = this.held.get(who);
    if (hold) {
      this.held.set(who, { ...hold, until, kind, reason, times: hold.times + 1 });
      this.log('debug', `${named(who, kind)} held again until ${iso(until)} (${kind}, ${hold.times + 1} holds in a row): ${reason}`);
      return;
    }
    this.held.set(who, { since: this.now(), until, kind, reason, times: 1 });
    this.log('info', `${named(who, kind)} held until ${iso(until)} (${kind}): ${reason}`);
  }

  onRecovered(who: string): void {
    const hold = this.held.get(who);
    // With several requests in flight, one sent before the hold can answer during it: that says
    // nothing of the hold's end, and logging it would make the next hold a new info line.
    if (!hold || this.now() < hold.until) return;
    this.held.delete(who);
    const times = hold.times > 1 ? `, ${hold.times} holds in a row` : '';
    this.log('info', `${named(who, hold.kind)} recovered, held since ${iso(hold.since)}${times} (last: ${hold.kind}: ${hold.reason})`);
  }

  /**
   * Drops the holds long over that nothing followed. The whole map, since holds end in no order
   * (a Retry-After of an hour, then thousands of a second); so at most once a minute.
   */
  forgetStale(): void {
    const now = this.now();
    if (now - this.forgotAt < FORGET_EVERY_MS) return;
    this.forgotAt = now;
    for (const [host, hold] of this.held) if (hold.until < now - FORGET_AFTER_MS) this.held.delete(host);
  }
}

/** "host a.test", or "origin http://a.test:8080" for a robots.txt hold. */
function named(who: string, kind: HoldKind): string {
  return `${kind === 'robots' ? 'origin' : 'host'} ${who}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
