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

/**
 * What a recorded worker is now: stopped on its own; live, heard from within `silentMs` (and, on
 * this machine, its process still runs); else lost.
 */
export function workerState(w: WorkerRecord, now: number, silentMs: number): 'live' | 'stopped' | 'lost' {
  if (w.stoppedAt !== null) return 'stopped';
  const id = parseWorkerId(w.workerId);
  if (id && id.host === os.hostname() && !processAlive(id.pid)) return 'lost';
  return now - w.seenAt <= silentMs ? 'live' : 'lost';
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
