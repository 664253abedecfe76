/** A caller's mistake (bad argument, unknown cursor): reported to the caller, never fatal. */
export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueError';
  }
}

/**
 * The queue's database cannot be written for now: another process holds its write lock. Not the
 * job's fault, nor the caller's; the same write goes through once the lock is let go.
 */
export class QueueLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueLockedError';
  }
}

/** The job, crawl or host asked for does not exist. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** The request conflicts with the state of things (resuming a cancelled crawl, say). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The database cannot be opened or used as the queue's (either engine): its path or URL, and why, in a sentence. */
export class DatabaseOpenError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'DatabaseOpenError';
  }
}
