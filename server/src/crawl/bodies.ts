import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Page bodies stored by content: `<dir>/<first two hex digits>/<sha256>`. Names come from the hash
 * alone, never from the URL, so nothing a server sends can choose a path; equal bodies are stored once.
 */
export class BodyStore {
  constructor(private readonly dir: string) {}

  /** Stores the body unless one with the same hash is already there; returns its path. */
  async put(sha256: string, body: Buffer): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256 hex digest: ${sha256}`);
    const folder = path.join(this.dir, sha256.slice(0, 2));
    const file = path.join(folder, sha256);
    if (fs.existsSync(file)) return file;
    await fs.promises.mkdir(folder, { recursive: true, mode: 0o700 });
    // Written aside and renamed, so a reader (or a crash) never sees half a body.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.promises.writeFile(tmp, body, { mode: 0o600 });
    await fs.promises.rename(tmp, file);
    return file;
  }
}
