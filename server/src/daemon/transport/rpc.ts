/**
 * Errors as the wire sees them, for both transports: every exception a method can raise becomes
 * a JSON-RPC error with a code from the contract and a plain message. Nothing a client sends
 * can make a method throw anything else but an internal error, which is logged.
 */
import type { z } from 'zod';
import { ConfigError } from '../../core/config';
import { ConflictError, NotFoundError, QueueError } from '../../core/errors';
import { DatabaseOpenError } from '../../core/errors';
import { describeSqliteError } from '../../core/sqlite/open';
import { clip } from '../../core/text';
import { ScopeError } from '../../crawl/scope';
import { ErrorCodes } from '../../protocol';
import type { Logger } from '../../core/scheduler';

/** The longest error message sent: an error about a huge input need not repeat all of it. */
const MAX_MESSAGE = 2_000;
/** Issues listed in one invalid-params message; the rest are counted. */
const MAX_ISSUES = 10;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(clip(message, MAX_MESSAGE));
    this.name = 'RpcError';
  }
}

export const invalidParams = (message: string) => new RpcError(ErrorCodes.InvalidParams, message);
export const notFound = (message: string) => new RpcError(ErrorCodes.NotFound, message);
export const unavailable = (message: string) => new RpcError(ErrorCodes.Unavailable, message);

/** `field: message` per issue, the field as a dotted path (`seeds.2`), `params` for the whole. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.flatMap((issue) => {
    const at = issue.path.length ? issue.path.map((p) => clip(String(p), 100)).join('.') : 'params';
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => `${issue.path.length ? `${at}.` : ''}${clip(k, 100)}: unknown field`);
    }
    return [`${at}: ${clip(issue.message, 200)}`];
  });
  const more = lines.length > MAX_ISSUES ? `; and ${lines.length - MAX_ISSUES} more` : '';
  return lines.slice(0, MAX_ISSUES).join('; ') + more;
}

/** SQLite result codes that mean "not now" rather than "never": disk full, locked, read-only. */
const UNAVAILABLE_SQLITE = /^SQLITE_(FULL|BUSY|LOCKED|READONLY|IOERR|CANTOPEN)/;

/** What a client is told of a failure the daemon did not expect (the cause logged where it is known). */
export function internalError(err: unknown): RpcError {
  return new RpcError(ErrorCodes.InternalError, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}

/** An RpcError as it is; anything else an internal error. */
export function asRpcError(err: unknown): RpcError {
  return err instanceof RpcError ? err : internalError(err);
}

export function toRpcError(err: unknown, log: Logger, method: string): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof QueueError || err instanceof ConfigError || err instanceof ScopeError) {
    return new RpcError(ErrorCodes.InvalidParams, err.message);
  }
  if (err instanceof NotFoundError) return new RpcError(ErrorCodes.NotFound, err.message);
  if (err instanceof ConflictError) return new RpcError(ErrorCodes.Conflict, err.message);
  if (err instanceof DatabaseOpenError) return new RpcError(ErrorCodes.Unavailable, err.message);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE_SQLITE.test(code)) {
    return new RpcError(ErrorCodes.Unavailable, describeSqliteError(err, 'the queue database'));
  }
  if (err instanceof TypeError && /database connection is not open/.test(err.message)) {
    return new RpcError(ErrorCodes.Unavailable, 'the daemon is stopping');
  }
  log('error', `${method} failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return internalError(err);
}
