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
  /** The restart could not take the write lock in time: the copy is done, the WAL not restarted yet. */
  busy: boolean;
  error: string | null;
}

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
const db = new Database(path, { fileMustExist: true });
// The same durability as the daemon's own connection: the checkpoint syncs the WAL, then the file.
db.pragma('synchronous = NORMAL');
db.pragma(`busy_timeout = ${busyTimeoutMs}`);
const port = parentPort!;

port.on('message', (m: 'checkpoint' | 'close') => {
  if (m === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: CheckpointReply;
  try {
    // The bulk copied while the daemon goes on writing; then what came meanwhile, with writers held
    // back (here, on this thread) only that long, and the WAL restarted for the next write.
    db.pragma('wal_checkpoint(PASSIVE)');
    const [r] = db.pragma('wal_checkpoint(RESTART)') as { busy: number; log: number; checkpointed: number }[];
    reply = { log: r.log, checkpointed: r.checkpointed, busy: r.busy !== 0, error: null };
  } catch (err) {
    reply = { log: -1, checkpointed: -1, busy: false, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
