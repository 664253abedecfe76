/**
 * The daemon's log at the level `--log-level` chose: lines below it are not written. Applied by
 * the daemon itself, so a daemon started by `crawlctl crawl --wait` or a test is filtered alike.
 */
import type { LogLevel as CoreLogLevel, Logger } from '../../core/scheduler';
import { LOG_LEVELS, type LogLevel } from '../../protocol';

/** True when A and B are the same type (wrapped in [], so that a union is not taken member by member). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The core names its levels itself (it knows no protocol): here, where both are seen, they must be
// the same, or this does not compile.
true satisfies Same<CoreLogLevel, LogLevel>;

export function atLevel(level: LogLevel, log: Logger): Logger {
  const most = LOG_LEVELS.indexOf(level);
  return (l, message) => {
    const rank = LOG_LEVELS.indexOf(l);
    // A level the protocol does not list (a caller's cast, plain JavaScript) is no level: dropped.
    if (rank >= 0 && rank <= most) log(l, message);
  };
}
