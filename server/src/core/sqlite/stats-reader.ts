/**
 * The queue's counts read on a connection of their own, for a thread other than the queue's
 * (the daemon's socket thread): in WAL mode a reader never waits for the writer, so a count is
 * answered while the queue's thread is busy, and as of the last commit.
 */
import Database from 'better-sqlite3';
import { statsOf } from '../rows';
import type { JobState, Stats, StatsReader } from '../types';
import { SQL } from './sql';

/** A read meets a lock only while the checkpoint thread restarts the WAL (a few ms at most). */
const READ_BUSY_TIMEOUT_MS = 1_000;

export class SqliteStatsReader implements StatsReader {
  private readonly db: Database.Database;
  private readonly counts: Database.Statement;

  /** `file`: a queue's database, opened (and migrated) by its SqliteQueue first. */
  constructor(file: string) {
    this.db = new Database(file, { readonly: true, fileMustExist: true, timeout: READ_BUSY_TIMEOUT_MS });
    this.counts = this.db.prepare(SQL.stats);
  }

  // async: a read that fails (SQLITE_BUSY past the timeout, an I/O error) rejects, as PostgreSQL's does, rather than throw.
  async stats(): Promise<Stats> {
    return statsOf(this.counts.all() as { state: JobState; n: number }[]);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
