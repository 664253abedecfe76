import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { WorkerRecord } from './types';

/**
 * Where a pid names a process, as far as this process can tell: its host name and its process
 * space, a hash of the kernel's boot id and of the pid namespace (Linux's /proc). Containers share
 * host names (a compose file's `hostname:`, an image's default) and number their processes from 1,
 * so the host name alone let a daemon take a live worker of another machine or container for one
 * of its own, find its pid not running, and reclaim its leases. The machine id is not used:
 * containers copy /etc/machine-id from their image. Where the boot id cannot be read (macOS,
 * Windows) the space is null and the host name alone decides, as it did before.
 */
export interface Machine {
  host: string;
  space: string | null;
}

/** What a process space is made of; null where it cannot be read. */
export interface ProcessFacts {
  bootId: string | null;
  pidNamespace: string | null;
}

export function readProcessFacts(): ProcessFacts {
  const read = (f: () => string) => {
    try {
      return f().trim() || null;
    } catch {
      return null;
    }
  };
  return {
    bootId: read(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    // `pid:[4026531836]`: the namespace's inode, unique among the namespaces of one boot.
    pidNamespace: read(() => fs.readlinkSync('/proc/self/ns/pid')),
  };
}

/** 12 hex digits naming a boot's pid namespace (a namespace unreadable: the boot's), or null without a boot id. */
export function processSpace(facts: ProcessFacts): string | null {
  if (facts.bootId === null) return null;
  return createHash('sha256')
    .update(`${facts.bootId}\n${facts.pidNamespace ?? ''}`)
    .digest('hex')
    .slice(0, 12);
}

export const THIS_MACHINE: Machine = { host: os.hostname(), space: processSpace(readProcessFacts()) };

/**
 * A worker id names its host, its process, a random part and, where there is one, its process
 * space: `host:pid:nonce@space` (`host:pid:nonce` without; a build from before spaces cannot
 * parse the first, so takes it for no machine's). A user can tell workers apart, and a
 * daemon can tell that a worker where its own pids mean something has died (its pid is gone) and
 * reclaim its leases at once instead of waiting out their TTL. `pid` is for tests.
 */
export function makeWorkerId(machine: Machine = THIS_MACHINE, pid = process.pid): string {
  const id = `${machine.host}:${pid}:${randomBytes(3).toString('hex')}`;
  return machine.space === null ? id : `${id}@${machine.space}`;
}

export function parseWorkerId(id: string): { host: string; pid: number; nonce: string; space: string | null } | null {
  const m = /^(.+):(\d+):([0-9a-f]+)(?:@([0-9a-f]{12}))?$/.exec(id);
  return m ? { host: m[1], pid: Number(m[2]), nonce: m[3], space: m[4] ?? null } : null;
}

/**
 * The pid of a worker whose process this one can look up (the same host name and process space,
 * or both without a space), else null. An id with a space seen where there is none, or without one
 * seen where there is one (a daemon of an earlier build), is another machine's: its leases wait
 * out their TTL.
 */
export function localPid(id: string, here: Machine = THIS_MACHINE): number | null {
  const w = parseWorkerId(id);
  return w !== null && w.host === here.host && w.space === here.space ? w.pid : null;
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
 * seconds; one beat of grace keeps a live worker from reading as lost on its first silence where
 * machines without a boot id share a host name). A row of this process's pid that is not `self`
 * is an earlier run's, whose process is gone (a daemon restarted as the same pid: 1 in a container).
 */
export function workerState(w: WorkerRecord, now: number, self: string, here: Machine = THIS_MACHINE): 'live' | 'stopped' | 'lost' {
  if (w.stoppedAt !== null) return 'stopped';
  const silent = now - w.seenAt;
  if (silent > LOST_AFTER_MS) return 'lost';
  const pid = localPid(w.workerId, here);
  if (pid !== null && silent > SEEN_EVERY_MS) {
    if (pid === process.pid ? w.workerId !== self : !processAlive(pid)) return 'lost';
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
export function deadLocalWorkers(ids: string[], here: Machine = THIS_MACHINE): string[] {
  return ids.filter((id) => {
    const pid = localPid(id, here);
    return pid !== null && pid !== process.pid && !processAlive(pid);
  });
}
