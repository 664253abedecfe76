/**
 * The daemon's process entry: `node out/server/src/daemon/process/main.js [flags]`, which is what
 * `crawlctl daemon` runs and what the editor extension launches (adding `--node-ipc` or `--stdio`).
 * Runs until SIGTERM or SIGINT, `daemon/shutdown`, or the editor leaving; then stops gracefully
 * and exits 0. A second signal while stopping exits at once (130): leases left behind are
 * reclaimed by the next daemon, which sees this process is gone.
 */
import { EXIT } from '../../exit';
import type { Logger } from '../../core/scheduler';
import { escapeForLog } from '../../core/text';
import { UsageError, flagHelp } from './args';
import type { Daemon } from '../daemon';
import { tuneHeap } from './heap';
import { atLevel } from './log';
import { DAEMON_FLAGS, parseDaemonArgs, type DaemonOptions } from './options';
import { whenGone } from './parent';

export const DAEMON_USAGE = `Usage: crawlctl daemon [flags]

Runs a daemon in the foreground until SIGTERM or SIGINT (Ctrl-C), then stops gracefully: running
jobs get the stop deadline, then go back to the queue. Several daemons may share one database,
each with its own socket.

${flagHelp(DAEMON_FLAGS)}`;

/** Log lines on stderr: stdout may be the editor's LSP channel. */
export function stderrLogger(prefix = 'crawld'): Logger {
  process.stderr.on('error', () => {});
  return (level, message) => {
    process.stderr.write(`${new Date().toISOString()} ${prefix} ${level}: ${escapeForLog(message)}\n`);
  };
}

/** Runs a daemon until it is stopped; resolves with the process exit code. */
export async function runDaemon(options: DaemonOptions, sink: Logger): Promise<number> {
  // For this function's own lines; the daemon applies the level to the sink itself.
  const log = atLevel(options.logLevel, sink);
  tuneHeap();
  // Loaded here, not at the top: a usage error or --help answers without loading the crawler.
  const { Daemon } = require('../daemon') as typeof import('../daemon');
  const { startLsp } = require('../transport/lsp') as typeof import('../transport/lsp');
  // Signals are heard from the start: one that comes while the daemon opens is acted on once it has.
  let daemon: Daemon | null = null;
  let early: NodeJS.Signals | null = null;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log('warn', `${signal} again: exiting without waiting for running jobs`);
      process.exit(EXIT.interrupted);
    }
    if (daemon) void daemon.stop(signal);
    else early = signal;
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);
  // A bug must not take the crawl down with it: report it, keep serving.
  const onUncaught = (err: unknown) => log('error', `uncaught: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const done = () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  };
  try {
    daemon = await Daemon.start({ ...options, log: sink, socketInUse: options.lsp ? 'continue' : 'refuse' });
  } catch (err) {
    log('error', (err as Error).message);
    done();
    return EXIT.failed;
  }
  if (early) void daemon.stop(early);
  const lsp = options.lsp ? startLsp(daemon, options.lsp, options.clientProcessId, options) : null;
  // Over LSP the transport watches the editor; headless, the flag names whoever started the daemon.
  const pid = options.clientProcessId;
  if (!lsp && pid !== null) {
    const running = daemon;
    whenGone(pid, () => void running.stop(`process ${pid} (--clientProcessId) is gone`));
  }
  await daemon.stopped;
  const code = lsp ? await lsp.finished : EXIT.ok;
  done();
  return code;
}

/** `crawlctl daemon` and `main.js`: parse the flags, run, exit with the code. */
export async function daemonCommand(argv: readonly string[], command: string): Promise<number> {
  let parsed: ReturnType<typeof parseDaemonArgs>;
  try {
    parsed = parseDaemonArgs(argv, command);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${command}: ${escapeForLog(err.message.replace(`${command}: `, ''))}\nRun "crawlctl daemon --help" for the flags.\n`);
    return EXIT.usage;
  }
  if (parsed.help) {
    process.stdout.write(`${DAEMON_USAGE}\n`);
    return EXIT.ok;
  }
  return runDaemon(parsed.options, stderrLogger());
}

if (require.main === module) {
  void daemonCommand(process.argv.slice(2), 'crawld').then((code) => process.exit(code));
}
