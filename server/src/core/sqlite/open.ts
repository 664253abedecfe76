import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { DatabaseOpenError } from '../errors';
import { DatabaseLockedError } from './busy';

/** SQLite's automatic checkpoint, in WAL pages; a queue's checkpoint thread (checkpoint.ts) raises it while it runs. */
export const AUTOCHECKPOINT_PAGES = 10_000;

/** Marks a database file as ours ('CRAW'), so a foreign SQLite file is refused, not migrated. */
const APPLICATION_ID = 0x43524157;

/** A plain sentence for the SQLite failures a user can cause and fix. */
export function describeSqliteError(err: unknown, path: string): string {
  const code = (err as { code?: string }).code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB') return `${path} is not a SQLite database (or it is encrypted or corrupt)`;
  if (code.startsWith('SQLITE_CORRUPT')) return `${path} is corrupt: ${msg}`;
  if (code.startsWith('SQLITE_READONLY')) return `${path} is read-only: the queue needs to write to it and to its folder`;
  if (code.startsWith('SQLITE_CANTOPEN')) {
    if (isFolder(path)) return `${path} is a folder, not a database file`;
    return `cannot open ${path}: check that its folder exists and is writable`;
  }
  if (err instanceof DatabaseLockedError) return err.message;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `${path} is locked by another process (one holding a write transaction on it, a SQLite browser's say); try again when it lets go`;
  }
  if (code === 'SQLITE_FULL') return `${path}: the database or disk is full`;
  return `${path}: ${msg}`;
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface OpenOptions {
  /** How long each statement waits on the thread for another connection's lock, once open. */
  busyTimeoutMs?: number;
}

/** Opening waits longer: daemons starting together on one file migrate it one after another. */
const OPEN_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating if needed) one long-lived connection, refusing files that are not ours before
 * writing a single byte to them, then sets WAL and applies pending migrations.
 */
export function openDatabase(path: string, components: Component[], opts: OpenOptions = {}): Database.Database {
  const existed = path !== ':memory:' && fs.existsSync(path) && fs.statSync(path).size > 0;
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: false, timeout: OPEN_BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new DatabaseOpenError(describeSqliteError(err, path), path);
  }
  try {
    if (existed) {
      checkOwnership(db, path);
      checkVersions(db, path, components);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // The automatic checkpoint (and its fsync) runs inside whichever commit crosses the threshold:
    // at SQLite's default of 1,000 pages it was half of every transaction's time (measured).
    // Ten times rarer, and the WAL file trimmed back after each one.
    db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
    migrate(db, components);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    return db;
  } catch (err) {
    db.close();
    if (err instanceof DatabaseOpenError) throw err;
    throw new DatabaseOpenError(describeSqliteError(err, path), path);
  }
}

function checkOwnership(db: Database.Database, path: string): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  if (appId === APPLICATION_ID) return;
  const tables = db.prepare(`SELECT count(*) FROM sqlite_schema`).pluck().get() as number;
  if (appId !== 0 || tables > 0) {
    throw new DatabaseOpenError(`${path} is a SQLite database of another program; refusing to touch it`, path);
  }
}

/**
 * A migration: SQL, or a function for what SQL alone cannot do (values computed in JavaScript),
 * run on the connection inside the migrations' transaction.
 */
export type Migration = string | ((db: Database.Database) => void);

type Component = { name: string; migrations: readonly Migration[] };

/** Refuses a schema newer than this build before anything is written (WAL mode included). */
function checkVersions(db: Database.Database, path: string, components: Component[]): void {
  const hasTable = db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_versions'`).get();
  if (!hasTable) return;
  const current = db.prepare(`SELECT version FROM schema_versions WHERE component = ?`).pluck();
  for (const { name, migrations } of components) {
    const have = (current.get(name) as number | undefined) ?? 0;
    if (have > migrations.length) {
      throw new DatabaseOpenError(
        `${path} has ${name} schema version ${have}, newer than this build knows (${migrations.length}); upgrade Crawl Orchestrator`,
        path,
      );
    }
  }
}

function migrate(db: Database.Database, components: Component[]): void {
  db.transaction(() => {
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.exec(`CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID`);
    const current = db.prepare(`SELECT version FROM schema_versions WHERE component = ?`).pluck();
    const record = db.prepare(`INSERT INTO schema_versions (component, version) VALUES (?, ?)
      ON CONFLICT (component) DO UPDATE SET version = excluded.version`);
    for (const { name, migrations } of components) {
      const have = (current.get(name) as number | undefined) ?? 0;
      for (let v = have; v < migrations.length; v++) {
        const m = migrations[v];
        if (typeof m === 'string') db.exec(m);
        else m(db);
      }
      if (have < migrations.length) record.run(name, migrations.length);
    }
  }).immediate();
}
