/**
 * A job's states, in their order: the queue's vocabulary and the wire contract's alike, written
 * once. This module imports nothing: the contract (protocol.ts), which imports nothing else,
 * takes them from here, and so does the extension through it.
 */
export const JOB_STATES = ['queued', 'in_progress', 'done', 'skipped', 'error'] as const;
export type JobState = (typeof JOB_STATES)[number];
