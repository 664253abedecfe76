/** A caller's mistake (bad argument, unknown cursor): reported to the caller, never fatal. */
export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueError';
  }
}
