import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import type { WorkerRecord } from './types';

/**
 * A worker id names its host, its process and a random part: `host:pid:nonce`. A user can tell
 * workers apart, and a daemon can tell that a worker on its own machine has died (its pid is gone)
 * and reclaim its leases at once instead of waiting out their TTL.
 */
export function makeWorkerId(): string {
  return `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export function parseWorkerId(id: string): { host: string; pid: number; nonce: string } | null {
  const m = /^(.+):(\d+):([0-9a-f]+)$/.exec(id);
  return m ? { host: m[1], pid: Number(m[2]), nonce: m[3] } : null;
}

/** How often a worker says it is alive (Queue.workerSeen, from its reaper's passes), at most. */
export const SEEN_EVERY_MS = 10_000;
/**
 * Silent this long, a worker is lost: three beats missed, whatever its lease TTL (daemons on one
 * database may each have their own, and one's TTL says nothing of another's beat).
 */
export const LOST_AFTER_MS = 3 * SEEN_EVERY_MS;

/**
 * What a recorded worker is now: stopped on its own; lost when silent past LOST_AFTER_MS, or, past
 * one missed beat, on this machine with its process gone (a killed daemon reads as lost within
 * seconds; one beat of grace keeps a live worker of a container sharing the host's name from
 * reading as lost on its first silence); live otherwise. A row of this process's pid that is not
 * `self` is an earlier run's, whose process is gone (a daemon restarted as the same pid: 1 in a container).
 */
export function workerState(w: WorkerRecord, now: number, self: string): 'live' | 'stopped' | 'lost' {
  if (w.stoppedAt !== null) return 'stopped';
  const silent = now - w.seenAt;
  if (silent > LOST_AFTER_MS) return 'lost';
  const id = parseWorkerId(w.workerId);
  if (id && id.host === os.hostname() && silent > SEEN_EVERY_MS) {
    if (id.pid === process.pid ? w.workerId !== self : !processAlive(id.pid)) return 'lost';
  }
  return 'live';
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but is someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Of these lease holders, the ones on this machine whose process no longer exists. */
export function deadLocalWorkers(ids: string[]): string[] {
  const host = os.hostname();
  return ids.filter((id) => {
    const w = parseWorkerId(id);
    return w !== null && w.host === host && w.pid !== process.pid && !processAlive(w.pid);
  });
}
