import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processAlive } from '../core/worker-id';

/** `<sha256>.<pid>.<random>.tmp`: a body being written, by the process named. */
const TMP_NAME = /^[0-9a-f]{64}\.(\d+)\.[0-9a-z]+\.tmp$/;
/**
 * A body is written in well under a second once fetched. A pid says nothing of a process in
 * another pid namespace or on another machine sharing the folder, so a file is also this old.
 */
const STALE_TMP_MS = 60_000;

/**
 * Page bodies stored by content: `<dir>/<first two hex digits>/<sha256>`. Names come from the hash
 * alone, never from the URL, so nothing a server sends can choose a path; equal bodies are stored once.
 */
export class BodyStore {
  constructor(private readonly dir: string) {}

  /**
   * Stores the body unless one with the same hash is already there; returns its hash and path.
   * Hashed here, where the hash names something: every fetch hashing its body cost a crawl of
   * 70 KB pages 56 µs a page on the thread that runs the queue, for a hash no record kept.
   */
  async put(body: Buffer): Promise<{ sha256: string; file: string }> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    const folder = path.join(this.dir, sha256.slice(0, 2));
    const file = path.join(folder, sha256);
    if (fs.existsSync(file)) return { sha256, file };
    try {
      await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new Error(`cannot store page bodies: ${explain(err, `the folder ${folder} cannot be made`)}`, { cause: err });
    }
    // Written aside and renamed, so a reader (or a crash) never sees half a body.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.promises.writeFile(tmp, body, { mode: 0o600 });
      await fs.promises.rename(tmp, file);
    } catch (err) {
      // A full disk leaves a partial file behind: it holds nothing anyone can use.
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw new Error(`cannot store the page body: ${explain(err, `${file} cannot be written`)}`, { cause: err });
    }
    return { sha256, file };
  }

  /**
   * Removes bodies left half-written by processes that are gone (a crash, a kill, a full disk
   * before this version cleaned up after itself); a live process's are left to it. Returns how many.
   */
  async sweep(): Promise<number> {
    const now = Date.now();
    let removed = 0;
    const folders = await fs.promises.readdir(this.dir).catch(() => [] as string[]);
    for (const folder of folders.filter((f) => /^[0-9a-f]{2}$/.test(f))) {
      const names = await fs.promises.readdir(path.join(this.dir, folder)).catch(() => [] as string[]);
      for (const name of names) {
        const pid = TMP_NAME.exec(name)?.[1];
        if (pid === undefined || processAlive(Number(pid))) continue;
        const file = path.join(this.dir, folder, name);
        const age = await fs.promises.stat(file).then(
          (st) => now - st.mtimeMs,
          () => 0,
        );
        if (age < STALE_TMP_MS) continue;
        await fs.promises.rm(file, { force: true }).then(
          () => removed++,
          () => undefined,
        );
      }
    }
    return removed;
  }
}

function explain(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOSPC'
      ? 'the disk is full'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'the file system is read-only'
          : code === 'EDQUOT'
            ? 'the disk quota is used up'
            : code === 'EFBIG'
              ? 'larger than this process may write'
              : (err as Error).message;
  return `${what} (${why})`;
}
