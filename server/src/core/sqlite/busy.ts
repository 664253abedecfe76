/**
 * Writes that meet another process's write lock. SQLite's busy handler waits on the calling
 * thread, which is the daemon's only one: with the old 5 s busy timeout, a SQLite browser holding
 * `BEGIN EXCLUSIVE` made every write (acknowledgement, heartbeat, reaper, crawl totals) stall
 * every client for 5 s, one after another. So a write waits on the thread only briefly, then
 * gives the thread back and tries again on a timer, backing off, until a bound.
 */

import { QueueLockedError } from '../errors';

/**
 * How long one write attempt waits on the thread. Enough for another daemon's transaction on the
 * same file (a few ms); a lock held longer is waited out on timers.
 */
export const BUSY_TIMEOUT_MS = 10;
/** How long a write keeps trying, on timers, before it fails saying the database is locked. */
export const LOCK_RETRY_MS = 2_000;
const FIRST_RETRY_MS = 5;
const MAX_RETRY_MS = 200;

/** Another process holds the write lock, and held it through every retry. */
export class DatabaseLockedError extends QueueLockedError {
  /** The code of SQLite's own error, so that callers sorting errors by code see "locked", not "unexpected". */
  readonly code = 'SQLITE_BUSY';

  constructor(path: string, budgetMs: number) {
    super(
      `the queue database is locked by another process (${path}: a write transaction held for over ` +
        `${budgetMs / 1000} s, a SQLite browser's say); reads go on, writes resume when it lets go`,
    );
  }
}

/** SQLITE_BUSY and its extended codes: another connection holds a lock we need. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Runs `fn` (one whole transaction or statement, safe to run again after SQLITE_BUSY since
 * nothing of it was committed) at once, and again on timers while the database is locked, for
 * up to `budgetMs`.
 */
export async function retryWhileBusy<T>(fn: () => T, path: string, budgetMs = LOCK_RETRY_MS): Promise<T> {
  const start = Date.now();
  for (let delay = FIRST_RETRY_MS; ; delay = Math.min(2 * delay, MAX_RETRY_MS)) {
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      const waited = Date.now() - start;
      if (waited >= budgetMs) throw new DatabaseLockedError(path, budgetMs);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, budgetMs - waited)));
    }
  }
}
