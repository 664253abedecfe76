/**
 * The daemon's flags, shared by `crawlctl daemon`, the process entry (`main.js`, which the editor
 * extension launches with `--node-ipc` or `--stdio`) and `crawlctl crawl --wait` running its own.
 */
import { ConfigError, validateConfig, type CoreConfig } from '../../core/config';
import { USER_AGENT, type AddressPolicy, type LogLevel, type Scope } from '../../protocol';
import { MS_IN, SETTINGS, heartbeatProblem, type FlaggedName, type SettingRow } from '../../settings';
import { UsageError, parseFlags, type FlagSpec, type FlagSpecs } from './args';
import type { PathFlags } from './paths';

type Rows = typeof SETTINGS;
/** How the parser takes a setting's flag: a number, a switch, or text (`none` for a limit is text). */
type FlagType<R> = R extends { type: 'boolean' }
  ? 'boolean'
  : R extends { nullable: true }
    ? 'string'
    : R extends { type: 'integer' | 'number' }
      ? 'int' | 'number'
      : 'string';
type SettingFlags<K extends FlaggedName> = {
  [P in K as Rows[P] extends { flag: { name: infer N extends string } } ? N : never]: FlagSpec & { type: FlagType<Rows[P]> };
};

/** The flags of these settings, named, bounded and described by the table. */
function settingFlags<K extends FlaggedName>(...names: K[]): SettingFlags<K> {
  return Object.fromEntries(names.map((name) => [SETTINGS[name].flag.name, flagOf(SETTINGS[name])])) as SettingFlags<K>;
}

function flagOf(row: SettingRow & { flag: NonNullable<SettingRow['flag']> }): FlagSpec {
  const { value, help } = row.flag;
  if (row.type === 'boolean') return { type: 'boolean', help };
  if ('choices' in row) return { type: 'string', choices: row.choices, value, help };
  // A limit: read by maxDepthFlag, which takes `none` too.
  if ('nullable' in row || row.type === 'string') return { type: 'string', value, help };
  return {
    type: row.type === 'integer' ? 'int' : 'number',
    min: row.min,
    max: row.max,
    value: value ?? (row.unit === 'seconds' ? 'SECONDS' : 'N'),
    help: `${help} (default ${row.default})`,
  };
}

export const PATH_FLAGS = {
  ...settingFlags('stateDir', 'database'),
  socket: { type: 'string', value: 'FILE', help: 'the Unix socket (default: STATE-DIR/crawld.sock)' },
} as const satisfies FlagSpecs;

export const WORKER_FLAGS = settingFlags(
  'maxWorkers',
  'perHostLimit',
  'perHostDelaySeconds',
  'leaseTtlSeconds',
  'heartbeatSeconds',
  'stopDeadlineSeconds',
  'parseThreads',
  'maxAttempts',
  'userAgent',
  'robots',
) satisfies FlagSpecs;

/** What a crawl that does not say gets: seed files without those options, `crawl/start` without them. */
export const CRAWL_DEFAULT_FLAGS = settingFlags('defaultMaxDepth', 'defaultScope', 'defaultAddresses') satisfies FlagSpecs;

export const WORKSPACE_FLAGS = {
  workspace: {
    type: 'string',
    value: 'DIR',
    help: "the folder whose JavaScript modules crawls may run as page handlers, with this daemon's permissions (default: the current folder)",
  },
  handlers: { type: 'boolean', help: 'run page handlers (the default; --handlers=false refuses crawls that name one, and runs none)' },
} as const satisfies FlagSpecs;

export const LOG_FLAGS = settingFlags('logLevel') satisfies FlagSpecs;

/** Flags the editor's language client adds when it launches the daemon. */
export const LSP_FLAGS = {
  stdio: { type: 'boolean', help: 'also speak LSP on stdin/stdout (for the editor)' },
  'node-ipc': { type: 'boolean', help: 'also speak LSP over the Node IPC channel (for the editor)' },
  clientProcessId: { type: 'int', min: 1, value: 'PID', help: 'stop when this process (the editor, or a script that started the daemon) is gone' },
} as const satisfies FlagSpecs;

export const DAEMON_FLAGS = {
  ...PATH_FLAGS,
  ...WORKER_FLAGS,
  ...CRAWL_DEFAULT_FLAGS,
  ...WORKSPACE_FLAGS,
  ...LOG_FLAGS,
  ...LSP_FLAGS,
  help: { type: 'boolean', help: 'show this help' },
} as const satisfies FlagSpecs;

export interface DaemonOptions {
  paths: PathFlags;
  config: CoreConfig;
  userAgent?: string;
  robots: boolean;
  /** Threads that parse pages; unset: the crawl service's choice for the machine. */
  parseThreads?: number;
  /** Unset: the crawl service's own defaults. A null max depth: no limit. */
  defaultMaxDepth?: number | null;
  defaultScope?: Scope;
  defaultAddresses?: AddressPolicy;
  /** Where page handlers may come from; unset: the current folder; null: nowhere (none runs). */
  workspace?: string | null;
  /** Lines below it are not written. */
  logLevel: LogLevel;
  lsp: 'stdio' | 'ipc' | null;
  clientProcessId: number | null;
}

type Values = ReturnType<typeof parseFlags<typeof DAEMON_FLAGS>>['flags'];

/** The core's settings as their flags give them, in the core's units. */
function coreInput(f: Partial<Values>): Partial<CoreConfig> {
  const input: Partial<CoreConfig> = {};
  for (const row of Object.values(SETTINGS) as readonly SettingRow[]) {
    if (!('core' in row) || row.core === undefined || row.flag === undefined) continue;
    const value = f[row.flag.name as keyof Values] as number | undefined;
    if (value !== undefined) input[row.core] = row.unit ? value * MS_IN[row.unit] : value;
  }
  return input;
}

/** Daemon options from parsed flags; a bad combination is a usage error naming the flags. */
export function daemonOptions(f: Partial<Values>): DaemonOptions {
  const heartbeat = f.heartbeat ?? SETTINGS.heartbeatSeconds.default;
  const leaseTtl = f['lease-ttl'] ?? SETTINGS.leaseTtlSeconds.default;
  // A flag not given is named with its default, so that the one given is the one to look at.
  const given = (set: boolean) => (set ? '' : 'default ');
  const beats = heartbeatProblem(heartbeat, leaseTtl, {
    heartbeat: `the --${SETTINGS.heartbeatSeconds.flag.name} (${given(f.heartbeat !== undefined)}${heartbeat} s)`,
    leaseTtl: `the --${SETTINGS.leaseTtlSeconds.flag.name} (${given(f['lease-ttl'] !== undefined)}${leaseTtl} s)`,
  });
  if (beats) throw new UsageError(beats);
  let config: CoreConfig;
  try {
    config = validateConfig(coreInput(f));
  } catch (err) {
    // Each flag is checked against the core's bounds as it is parsed, and the one rule between
    // them above: whatever the core refuses now, it says in its own words.
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (f.stdio && f['node-ipc']) throw new UsageError('--stdio and --node-ipc: choose one');
  // Sent in every request's header: a character a header cannot hold would fail every fetch.
  if (f['user-agent'] !== undefined && !USER_AGENT.test(f['user-agent'])) {
    throw new UsageError(`--user-agent: must be printable ASCII on one line (got ${JSON.stringify(f['user-agent'])})`);
  }
  const addresses = f['default-addresses'] as AddressPolicy | 'auto' | undefined;
  return {
    paths: { stateDir: f['state-dir'], db: f.db, socket: f.socket },
    config,
    userAgent: f['user-agent'],
    robots: f.robots ?? SETTINGS.robots.default,
    parseThreads: nullableFlag(SETTINGS.parseThreads, f['parse-threads'], 'auto', "the machine's choice") ?? undefined,
    defaultMaxDepth: nullableFlag(SETTINGS.defaultMaxDepth, f['default-max-depth'], 'none', 'no limit'),
    defaultScope: f['default-scope'] as Scope | undefined,
    defaultAddresses: addresses === 'auto' ? undefined : addresses,
    workspace: f.handlers === false ? null : f.workspace,
    logLevel: (f['log-level'] as LogLevel | undefined) ?? SETTINGS.logLevel.default,
    lsp: f.stdio ? 'stdio' : f['node-ipc'] ? 'ipc' : null,
    clientProcessId: f.clientProcessId ?? null,
  };
}

/** A limit's flag (`--default-max-depth`, `--parse-threads`): a whole number within its row's bounds, or `word` for null. */
function nullableFlag(
  row: { min: number; max: number; flag: { name: string } },
  raw: string | undefined,
  word: string,
  meaning: string,
): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === word) return null;
  const { min, max, flag } = row;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${flag.name}: must be a whole number from ${min} to ${max}, or ${word} for ${meaning} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

export function parseDaemonArgs(argv: readonly string[], command = 'crawlctl daemon'): { options: DaemonOptions; help: boolean } {
  const { flags, positionals } = parseFlags(argv, DAEMON_FLAGS, command);
  if (positionals.length) throw new UsageError(`${command}: unexpected argument "${positionals[0]}"`);
  return { options: daemonOptions(flags), help: flags.help === true };
}
