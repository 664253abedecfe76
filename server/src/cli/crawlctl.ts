/**
 * `crawlctl`: the command line of Crawl Orchestrator. Every command but `daemon` talks to a running
 * daemon over its Unix socket, found from --state-dir (default .crawl) or --socket. Tables for
 * people, `--json` for scripts, and exit codes scripts can trust (see ../exit.ts).
 */
import { DaemonClient, NoDaemonError, RemoteError } from '../daemon/transport/client';
import { UsageError, flagHelp, parseFlags } from '../daemon/process/args';
import { DAEMON_USAGE, daemonCommand } from '../daemon/process/main';
import { locateSocket, type PathFlags } from '../daemon/process/paths';
import { VERSION } from '../version';
import { EXIT } from '../exit';
import { COMMANDS, CommandError, type Context } from './commands';
import { text, type Text } from './format';
import { nearest } from '../core/suggest';
import { Ui } from './ui';

function usage(): string {
  const names = Object.keys(COMMANDS);
  const lines: [string, string][] = [
    ['daemon', 'run a daemon in the foreground until SIGTERM or Ctrl-C'],
    ...names.map((n): [string, string] => [`${n} ${COMMANDS[n].args}`, COMMANDS[n].summary]),
  ];
  const w = Math.max(...lines.map(([l]) => l.length));
  return `crawlctl ${VERSION}: run and inspect polite web crawls

Usage: crawlctl <command> [flags]

Commands:
${lines.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`).join('\n')}

Every command takes --state-dir DIR (default .crawl here) or --socket FILE to find the daemon,
--json for machine-readable output and --help for its flags.

A crawl that sets no max depth, scope or addresses (crawl without --max-depth, --scope or
--addresses, a seed file without those lines) takes the daemon's:
  crawlctl daemon --default-max-depth N   links followed from the seeds, 0 to 1000, or none (the
                                          default: within the scope until max pages)
  crawlctl daemon --default-scope S       host, domain or any (default host)
  crawlctl daemon --default-addresses A   public, private or any (default: the kind of the
                                          crawl's seeds, so a crawl of public sites never
                                          connects to loopback, private or link-local addresses)
"crawlctl daemon --help" lists all of the daemon's flags.

Exit codes: 0 ok · 1 the daemon refused the request or part of it (no such crawl or job), or a
crawl waited for (crawl --wait, watch) was cancelled or has pages that ended in error (unless
--allow-failures; report and export succeed whatever the pages' statuses) · 2 usage error ·
3 no daemon running · 130 interrupted. Output piped into a reader that stops early (| head)
ends the command quietly, exit 0.`;
}

function commandUsage(name: string): string {
  const c = COMMANDS[name];
  return `Usage: crawlctl ${name}${c.args ? ` ${c.args}` : ''} [flags]\n\n${c.summary}\n\n${flagHelp(c.flags)}${c.more ? `\n\n${c.more}` : ''}`;
}

const COMMAND_NAMES = ['daemon', ...Object.keys(COMMANDS)];

/** `\nDid you mean "crawlctl stats"?` when a known word is near the one typed, else nothing. */
function didYouMean(typed: string, known: readonly string[], spell: (word: string) => string): Text {
  const near = nearest(typed, known);
  return near === null ? text`` : text`\nDid you mean "${spell(near)}"?`;
}

/** A command line refused before there is a Ui: the words it echoes are the user's, escaped all the same. */
function usageFailure(message: Text): number {
  process.stderr.write(`${message}\n`);
  return EXIT.usage;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic === 'daemon') process.stdout.write(`${DAEMON_USAGE}\n`);
    else if (topic && Object.prototype.hasOwnProperty.call(COMMANDS, topic)) process.stdout.write(`${commandUsage(topic)}\n`);
    else if (topic) {
      return usageFailure(
        text`crawlctl help: no command "${topic}"${didYouMean(topic, COMMAND_NAMES, (n) => `crawlctl help ${n}`)}\nRun "crawlctl help" for the list.`,
      );
    } else process.stdout.write(`${usage()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (name === 'daemon')
    return daemonCommand(
      rest.map((a) => (a === '-h' ? '--help' : a)),
      'crawlctl daemon',
    );
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    return usageFailure(
      text`crawlctl: unknown command "${name}"${didYouMean(name, [...COMMAND_NAMES, 'help', 'version'], (n) => `crawlctl ${n}`)}\nRun "crawlctl help" for the list.`,
    );
  }
  let flags: Record<string, unknown>;
  let positionals: string[];
  try {
    const short = (a: string) => (a === '-h' ? '--help' : command.short && Object.prototype.hasOwnProperty.call(command.short, a) ? command.short[a] : a);
    ({ flags, positionals } = parseFlags(rest.map(short), command.flags, `crawlctl ${name}`));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const unknown = /unknown flag --([^\s=]+)$/.exec(err.message)?.[1];
    const hint = unknown === undefined ? '' : didYouMean(unknown, Object.keys(command.flags), (n) => `--${n}`);
    return usageFailure(text`crawlctl ${name}: ${err.message.replace(`crawlctl ${name}: `, '')}${hint}\nRun "crawlctl ${name} --help" for its flags.`);
  }
  if (flags.help) {
    process.stdout.write(`${commandUsage(name)}\n`);
    return EXIT.ok;
  }
  // `crawlctl jobs error` meant --state error: a word ignored would do something else than asked.
  if (command.args === '' && positionals.length > 0) {
    return usageFailure(text`crawlctl ${name}: takes no arguments (got "${positionals[0]}")\nRun "crawlctl ${name} --help" for its flags.`);
  }

  const ui = new Ui(flags.json === true);
  const paths: PathFlags = { stateDir: flags['state-dir'] as string | undefined, socket: flags.socket as string | undefined };
  let onInterrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => {
    onInterrupt = resolve;
  });
  let interrupts = 0;
  const sigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    onInterrupt();
  };
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigint);
  const ctx: Context = {
    ui,
    paths,
    interrupted,
    connect: () => DaemonClient.connect(locateSocket(paths)),
  };
  try {
    return await Promise.race([
      command.run(ctx, flags, positionals),
      // Commands other than crawl --wait and watch simply end on Ctrl-C.
      (name === 'crawl' && flags.wait) || name === 'watch' ? new Promise<never>(() => {}) : interrupted.then(() => EXIT.interrupted),
    ]);
  } catch (err) {
    return report(ui, name, err, paths);
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigint);
  }
}

function report(ui: Ui, name: string, err: unknown, paths: PathFlags): number {
  ui.clearProgress();
  if (err instanceof UsageError) {
    ui.err(text`crawlctl ${name}: ${err.message.replace(/^\w+: /, '')}`);
    return EXIT.usage;
  }
  if (err instanceof NoDaemonError) {
    const flags = `${paths.stateDir ? ` --state-dir ${paths.stateDir}` : ''}${paths.socket ? ` --socket ${paths.socket}` : ''}`;
    ui.err(text`crawlctl: no daemon is running (nothing answers at ${err.socketPath}).
Start one with "crawlctl daemon${flags}", or open the folder in VS Code with Crawl Orchestrator${name === 'crawl' ? ', or add --wait to run one for this crawl' : ''}.`);
    if (ui.json) ui.result({ error: { code: 'no-daemon', message: err.message } });
    return EXIT.noDaemon;
  }
  if (err instanceof RemoteError) {
    ui.err(text`crawlctl ${name}: ${err.message}`);
    if (ui.json) ui.result({ error: { code: err.code, message: err.message } });
    return EXIT.failed;
  }
  if (err instanceof CommandError) {
    ui.err(text`crawlctl ${name}: ${err.message}`);
    return err.code;
  }
  ui.err(text`crawlctl ${name}: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.failed;
}

// Run when loaded as the program: directly, or through the package's bin/crawlctl.js.
if (require.main === module || /[\\/]bin[\\/]crawlctl(\.js)?$/.test(require.main?.filename ?? '')) {
  // Output piped into a reader that stopped (`crawlctl jobs --all | head`): stop quietly, as Unix
  // tools do. Any other failure to write it (a full disk) fails the command, said once, at its end.
  let stdoutFailed: string | null = null;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    stdoutFailed ??= err.message;
  });
  // stderr carries progress and notes: a reader of it that stopped (`2> >(head -1)`) ends neither
  // the command nor its result on stdout, nor changes its exit code.
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  void main(process.argv.slice(2)).then(async (code) => {
    process.exitCode = code;
    // Output into a pipe is written as the reader takes it: exiting before it is all written cut
    // `jobs --all --json | jq` off at the pipe's 64 KiB.
    await Promise.all([written(process.stdout), written(process.stderr)]);
    // A write's failure is told after it (to a file, on the next tick): `report --json > /dev/full` exited 0.
    await new Promise((resolve) => setImmediate(resolve));
    if (stdoutFailed !== null && code === EXIT.ok) {
      process.stderr.write(`crawlctl: cannot write standard output: ${stdoutFailed}\n`);
      code = EXIT.failed;
    }
    // Open handles (a daemon's timers) must not hold the command open once it is done.
    process.exit(code);
  });
}

/** Resolves once everything written to the stream so far has reached the OS (or the stream is gone). */
function written(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}
