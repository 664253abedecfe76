/**
 * SQLite has no change feed, so the jobs that changed are found from what the queue leaves behind,
 * each by a range or index scan that costs nothing like the queue's size:
 *   - new jobs: ids past the highest seen (ids only grow);
 *   - attempts that send a job round again, and requeues: events rows past the last seen (their
 *     ids only grow);
 *   - leases taken and ended, which write no event row: the in-progress set (as small as the
 *     leases held), compared with the last one;
 *   - attempts that finish a job, which write no event row either: the unfinished jobs seen so far
 *     are watched and their states compared.
 * Other processes' commits are noticed by a poll of four cheap marks (`PRAGMA data_version` among
 * them); this process's by the queue's onChange.
 */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { JobChanges, JobState, JobStateRow } from '../types';
import { CHANGES_SQL } from './sql';

/** Unfinished jobs whose state a reader keeps an eye on, at most. */
const WATCHED_MAX = 5000;

interface Marks {
  version: number;
  event: number;
  job: number;
  leased: number;
}

export class SqliteJobChanges implements JobChanges {
  private readonly s: { [K in keyof typeof CHANGES_SQL]: Statement };
  private readonly listeners = new Set<() => void>();
  private eventCursor: number;
  private jobCursor: number;
  private leasedIds: Set<number>;
  /** Unfinished jobs seen, by id, with the state they had. */
  private readonly watched = new Map<number, JobState>();
  private missed = false;
  private marks: Marks;
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;

  constructor(
    db: Database.Database,
    private readonly changeCounter: () => number,
    onLocalChange: (listener: () => void) => () => void,
    pollMs: number,
  ) {
    this.s = Object.fromEntries(Object.entries(CHANGES_SQL).map(([k, v]) => [k, db.prepare(v)])) as SqliteJobChanges['s'];
    this.eventCursor = this.s.maxEvent.pluck().get() as number;
    this.jobCursor = this.s.maxJob.pluck().get() as number;
    this.leasedIds = new Set(this.s.leased.pluck().all(WATCHED_MAX) as number[]);
    this.marks = this.readMarks();
    this.unsubscribe = onLocalChange(() => this.signal());
    const poll = () => {
      try {
        const now = this.readMarks();
        const m = this.marks;
        if (now.version !== m.version || now.event !== m.event || now.job !== m.job || now.leased !== m.leased) {
          this.marks = now;
          this.signal();
        }
      } catch {
        // A closed or busy database: the next look tries again, and reads report real failures.
      }
      this.pollTimer = setTimeout(poll, pollMs).unref();
    };
    this.pollTimer = setTimeout(poll, pollMs).unref();
  }

  onSignal(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async take(max: number): Promise<{ ids: number[] | null; missed: boolean }> {
    const limit = max * 4;
    const events = this.s.eventsSince.all(this.eventCursor, limit + 1) as { id: number; jobId: number }[];
    const created = this.s.jobsSince.pluck().all(this.jobCursor, limit + 1) as number[];
    const leased = this.s.leased.pluck().all(max + 1) as number[];
    const previous = this.leasedIds;
    this.leasedIds = new Set(leased);
    const missed = this.missed;
    this.missed = false;
    if (events.length > limit || created.length > limit || leased.length > max) {
      this.eventCursor = this.s.maxEvent.pluck().get() as number;
      this.jobCursor = this.s.maxJob.pluck().get() as number;
      return { ids: null, missed };
    }
    if (events.length) this.eventCursor = events[events.length - 1].id;
    if (created.length) this.jobCursor = created[created.length - 1];
    const ids = new Set<number>([...events.map((e) => e.jobId), ...created]);
    // Leases taken and leases ended.
    for (const id of leased) if (!previous.has(id)) ids.add(id);
    for (const id of previous) if (!this.leasedIds.has(id)) ids.add(id);
    // A job can be leased and finished between two looks: compare the watched jobs' states.
    for (const { id, state } of this.states([...this.watched.keys(), ...ids])) {
      const before = this.watched.get(id);
      if (before !== undefined && before !== state) ids.add(id);
      this.watched.delete(id);
      if (state === 'queued' || state === 'in_progress') this.watched.set(id, state);
    }
    // Past what can be watched, the oldest are forgotten; their changes may go unnamed.
    for (const id of this.watched.keys()) {
      if (this.watched.size <= WATCHED_MAX) break;
      this.watched.delete(id);
      this.missed = true;
    }
    return { ids: ids.size > max ? null : [...ids], missed };
  }

  states(ids: number[]): JobStateRow[] {
    return this.s.states.all(JSON.stringify(ids)) as JobStateRow[];
  }

  close(): void {
    this.unsubscribe();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.listeners.clear();
  }

  /** Four reads of an index's edge: a look costs next to nothing. */
  private readMarks(): Marks {
    return {
      version: this.changeCounter(),
      event: this.s.maxEvent.pluck().get() as number,
      job: this.s.maxJob.pluck().get() as number,
      leased: this.s.leasedCount.pluck().get() as number,
    };
  }

  private signal(): void {
    for (const l of this.listeners) l();
  }
}
