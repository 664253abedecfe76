/**
 * Where the daemon keeps its state and where clients find it. The state folder (default `.crawl`
 * in the working directory) holds the database, the stored bodies and the socket. A Unix socket
 * path may hold only about 107 bytes, so when the state folder's path is too long the socket goes
 * to a short private folder and the state folder records where (STATE_FILES.socketPointer).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPostgresUrl } from '../../core/db-url';
import { STATE_FILES } from '../../protocol';

/** sun_path is 108 bytes on Linux and 104 on macOS, each including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'darwin' ? 103 : 107;

export const DEFAULT_STATE_DIR = '.crawl';

export interface PathFlags {
  stateDir?: string;
  db?: string;
  socket?: string;
}

export interface StatePaths {
  stateDir: string;
  db: string;
  socket: string;
  /** Set when the socket lives outside the state folder because the folder's path is too long. */
  pointerFile: string | null;
  bodiesDir: string;
  warcDir: string;
  seedFiles: string;
}

/** A path the user gave (or implied) that cannot work; the message names the flag. */
export class PathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathError';
  }
}

export function fitsSocket(p: string): boolean {
  return Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES;
}

/** The folder a daemon binds its socket in before linking it into place (socket.ts): this, then mkdtemp's six characters. */
export const BIND_FOLDER_PREFIX = '.c';

/** Where in `folder` the socket is bound. */
export function boundIn(folder: string): string {
  return path.join(folder, 's');
}

/** A socket path a daemon can serve: it fits, and so does the path it is bound at first, in a folder beside it. */
export function servesSocket(p: string): boolean {
  return fitsSocket(p) && fitsSocket(boundIn(path.join(path.dirname(p), `${BIND_FOLDER_PREFIX}XXXXXX`)));
}

/** Resolves every path from the flags, without touching the disk. */
export function resolvePaths(flags: PathFlags, cwd = process.cwd()): StatePaths {
  const stateDir = path.resolve(cwd, flags.stateDir ?? DEFAULT_STATE_DIR);
  const db = flags.db === undefined ? path.join(stateDir, STATE_FILES.db) : isPostgresUrl(flags.db) ? flags.db : path.resolve(cwd, flags.db);
  let socket: string;
  let pointerFile: string | null = null;
  if (flags.socket !== undefined) {
    socket = path.resolve(cwd, flags.socket);
    if (!servesSocket(socket)) {
      throw new PathError(
        `--socket ${socket} is too long: a Unix socket path may have at most ${MAX_SOCKET_PATH_BYTES} bytes, and its folder's path at most ${MAX_SOCKET_PATH_BYTES - 11}`,
      );
    }
  } else {
    const direct = path.join(stateDir, STATE_FILES.socket);
    if (servesSocket(direct)) {
      socket = direct;
    } else {
      socket = shortSocketPath(stateDir);
      pointerFile = path.join(stateDir, STATE_FILES.socketPointer);
    }
  }
  return {
    stateDir,
    db,
    socket,
    pointerFile,
    bodiesDir: path.join(stateDir, STATE_FILES.bodies),
    warcDir: path.join(stateDir, STATE_FILES.warc),
    seedFiles: path.join(stateDir, STATE_FILES.seedFiles),
  };
}

/** A short, stable, per-user socket path for a state folder whose own path is too long. */
export function shortSocketPath(stateDir: string): string {
  const name = `${createHash('sha256').update(stateDir).digest('hex').slice(0, 20)}.sock`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const bases = [process.env.XDG_RUNTIME_DIR, os.tmpdir(), '/tmp'].filter((b): b is string => !!b && path.isAbsolute(b));
  for (const base of bases) {
    const candidate = path.join(base, `crawld-${uid}`, name);
    if (servesSocket(candidate)) return candidate;
  }
  throw new PathError(`no short enough folder for the socket of ${stateDir}; pass --socket with a short path`);
}

/**
 * Where a client should connect: --socket if given; else the state folder's socket when it is
 * there; else the folder recorded in the pointer file; else the computed default.
 */
export function locateSocket(flags: PathFlags, cwd = process.cwd()): string {
  const paths = resolvePaths(flags, cwd);
  if (flags.socket !== undefined || paths.pointerFile === null) return paths.socket;
  try {
    const recorded = fs.readFileSync(paths.pointerFile, 'utf8').trim();
    if (path.isAbsolute(recorded) && fitsSocket(recorded)) return recorded;
  } catch {
    // No pointer (no daemon has run here yet): the computed path is where one would listen.
  }
  return paths.socket;
}

/**
 * Makes a folder private to this user, creating it (0700) if needed. An existing folder of ours
 * with wider permissions loses what others could do, and gains nothing (a read-only folder stays
 * so, and says so when written to); a file, a symlink or somebody else's folder is refused.
 */
export function ensurePrivateDir(dir: string, what: string): void {
  const existing = statOrNull(dir);
  if (existing && !existing.isDirectory()) throw new PathError(`${what} ${dir} is not a folder`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new PathError(`${what} ${dir} is not a folder`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.uid !== uid) throw new PathError(`${what} ${dir} belongs to another user; refusing to use it`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, st.mode & 0o700);
}

/** The entry itself (a symlink is not followed), or null when there is none. */
export function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Creates the state folder and, when the socket lives elsewhere, its private folder; and a new
 * database file, private to this user.
 */
export function prepareStateDir(paths: StatePaths): void {
  ensurePrivateDir(paths.stateDir, 'the state folder');
  if (paths.pointerFile !== null) ensurePrivateDir(path.dirname(paths.socket), 'the socket folder');
  if (!isPostgresUrl(paths.db)) createPrivateFile(paths.db);
}

/**
 * Creates an empty file 0600 where none is, before SQLite would create it by the umask (often
 * 0644; a `--db` outside the state folder has no private folder around it). SQLite opens an
 * empty file as a new database and gives its -wal and -shm files the same mode.
 */
function createPrivateFile(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch {
    // Already there (left as it is), or its folder is missing: opening the database says so.
  }
}

/** Writes a small file atomically (temp file, then rename), private to this user. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}
