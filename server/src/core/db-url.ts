/**
 * Which engine a database argument names, and how to show it: light enough for the command line
 * to use without loading either engine.
 */

/** A postgres:// or postgresql:// URL names a PostgreSQL server; anything else is a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** The database as logs, errors and status show it: a URL without its password. */
export function redactUrl(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    const url = new URL(db);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
