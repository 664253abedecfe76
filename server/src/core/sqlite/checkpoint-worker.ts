/**
 * The checkpointer's thread (checkpoint.ts starts it): its own connection to the queue's file,
 * which copies the WAL back into the database and restarts it when asked, so that the daemon's
 * thread never does. Answers each request with what the checkpoint did.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointReply {
  /** Frames in the WAL and frames copied back, as SQLite counts them; -1 when it could not run. */
  log: number;
  checkpointed: number;
  /** The restart was tried and could not have the lock or the readers in time: the WAL is not restarted yet. */
  busy: boolean;
  error: string | null;
}

export type ToCheckpointer = { restart: boolean } | 'close';

/**
 * How long a restart waits for the write lock, and then, holding it, for readers on older
 * snapshots: the daemon's writes wait as long (on its thread up to busy.ts's 10 ms).
 */
export const LOCK_WAIT_MS = 5;

const { path } = workerData as { path: string };
const db = new Database(path, { fileMustExist: true });
// The same durability as the daemon's own connection: the checkpoint syncs the WAL, then the file.
db.pragma('synchronous = NORMAL');
// A restart holds the write lock while it waits for the lock's holder and for readers on older
// snapshots (a SQLite shell left in a transaction): it must give up soon, not hold writers back.
db.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
const port = parentPort!;

port.on('message', (m: ToCheckpointer) => {
  if (m === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: CheckpointReply;
  try {
    // The bulk copied while the daemon goes on writing; then, if asked, what came meanwhile, with
    // writers held back only that long, and the WAL restarted for the next write.
    let [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    if (m.restart) [r] = db.pragma('wal_checkpoint(RESTART)') as (typeof r)[];
    reply = { log: r.log, checkpointed: r.checkpointed, busy: r.busy !== 0, error: null };
  } catch (err) {
    reply = { log: -1, checkpointed: -1, busy: false, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
