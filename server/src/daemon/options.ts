/**
 * The daemon's flags, shared by `crawlctl daemon`, the process entry (`main.js`, which the editor
 * extension launches with `--node-ipc` or `--stdio`) and `crawlctl crawl --wait` running its own.
 */
import { validateConfig, type CoreConfig } from '../core/config';
import { ADDRESS_POLICIES, LOG_LEVELS, SCOPES, USER_AGENT, type AddressPolicy, type LogLevel, type Scope } from '../protocol';
import { UsageError, parseFlags, type FlagSpecs } from './args';
import type { PathFlags } from './paths';

export const PATH_FLAGS = {
  'state-dir': { type: 'string', value: 'DIR', help: 'the state folder (default: .crawl in the current folder)' },
  db: { type: 'string', value: 'FILE|URL', help: 'the queue database: a SQLite file (default: STATE-DIR/queue.db) or a postgres:// URL shared by daemons on several machines' },
  socket: { type: 'string', value: 'FILE', help: 'the Unix socket (default: STATE-DIR/crawld.sock)' },
} as const satisfies FlagSpecs;

export const WORKER_FLAGS = {
  'max-workers': { type: 'int', min: 1, max: 10_000, value: 'N', help: 'jobs this daemon runs at once (default 16)' },
  'per-host': { type: 'int', min: 1, max: 10_000, value: 'N', help: 'requests in flight per host, across every daemon (default 2)' },
  'per-host-delay': { type: 'number', min: 0, max: 3600, value: 'SECONDS', help: 'minimum time between requests to one host (default 0; robots.txt Crawl-delay overrides)' },
  // The core's bounds (100 ms, 10 ms), so a value out of them is refused naming the flag.
  'lease-ttl': { type: 'number', min: 0.1, max: 86_400, value: 'SECONDS', help: 'how long a job stays leased without a heartbeat (default 30)' },
  heartbeat: { type: 'number', min: 0.01, max: 86_400, value: 'SECONDS', help: 'how often leases are extended, below the lease TTL (default 10)' },
  'stop-deadline': { type: 'number', min: 0, max: 3600, value: 'SECONDS', help: 'on stop, how long running jobs may take before they are handed back (default 10)' },
  'max-attempts': { type: 'int', min: 1, max: 100, value: 'N', help: 'attempts before a job fails for good (default 3)' },
  'user-agent': { type: 'string', value: 'TEXT', help: 'the User-Agent sent with every request' },
  robots: { type: 'boolean', help: 'obey robots.txt (the default; --robots=false ignores it)' },
} as const satisfies FlagSpecs;

/** What a crawl that does not say gets: seed files without those options, `crawl/start` without them. */
export const CRAWL_DEFAULT_FLAGS = {
  // A string, so that it can say `none` (maxDepthFlag reads it).
  'default-max-depth': {
    type: 'string', value: 'N|none',
    help: 'max depth of crawls that set none, such as seed files without max-depth: 0 to 1000, or none (the default: links are followed within the scope until max pages)',
  },
  'default-scope': { type: 'string', choices: SCOPES, value: 'S', help: 'scope of crawls that set none: host, domain or any (default host)' },
  'default-addresses': {
    type: 'string', choices: ADDRESS_POLICIES, value: 'A',
    help: 'addresses crawls that set none may connect to: public, private (loopback, private, link-local) or any (default: the kind of their seeds)',
  },
} as const satisfies FlagSpecs;

export const WORKSPACE_FLAGS = {
  workspace: {
    type: 'string', value: 'DIR',
    help: 'the folder whose JavaScript modules crawls may run as page handlers, with this daemon\'s permissions (default: the current folder)',
  },
  handlers: { type: 'boolean', help: 'run page handlers (the default; --handlers=false refuses crawls that name one, and runs none)' },
} as const satisfies FlagSpecs;

export const LOG_FLAGS = {
  'log-level': {
    type: 'string', choices: LOG_LEVELS, value: 'LEVEL',
    help: 'what the log on stderr records: error, warn, info (the default: crawls and hosts too) or debug',
  },
} as const satisfies FlagSpecs;

/** Flags the editor's language client adds when it launches the daemon. */
export const LSP_FLAGS = {
  stdio: { type: 'boolean', help: 'also speak LSP on stdin/stdout (for the editor)' },
  'node-ipc': { type: 'boolean', help: 'also speak LSP over the Node IPC channel (for the editor)' },
  clientProcessId: { type: 'int', min: 1, value: 'PID', help: 'stop when this process (the editor, or a script that started the daemon) is gone' },
} as const satisfies FlagSpecs;

export const DAEMON_FLAGS = { ...PATH_FLAGS, ...WORKER_FLAGS, ...CRAWL_DEFAULT_FLAGS, ...WORKSPACE_FLAGS, ...LOG_FLAGS, ...LSP_FLAGS, help: { type: 'boolean', help: 'show this help' } } as const satisfies FlagSpecs;

export interface DaemonOptions {
  paths: PathFlags;
  config: CoreConfig;
  userAgent?: string;
  robots: boolean;
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

/** Daemon options from parsed flags; a bad combination is a usage error naming the flags. */
export function daemonOptions(f: Partial<Values>): DaemonOptions {
  const secs = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
  let config: CoreConfig;
  try {
    config = validateConfig({
      maxWorkers: f['max-workers'],
      perHostLimit: f['per-host'],
      perHostDelayMs: secs(f['per-host-delay']),
      leaseTtlMs: secs(f['lease-ttl']),
      heartbeatMs: secs(f.heartbeat),
      stopDeadlineMs: secs(f['stop-deadline']),
      maxAttempts: f['max-attempts'],
    });
  } catch (err) {
    // The core speaks of settings; on the command line they are flags.
    throw new UsageError((err as Error).message
      .replace(/heartbeat interval \(([\d.]+)s\)/, '--heartbeat ($1 s)')
      .replace(/lease TTL \(([\d.]+)s\)/, '--lease-ttl ($1 s)'));
  }
  if (f.stdio && f['node-ipc']) throw new UsageError('--stdio and --node-ipc: choose one');
  // Sent in every request's header: a character a header cannot hold would fail every fetch.
  if (f['user-agent'] !== undefined && !USER_AGENT.test(f['user-agent'])) {
    throw new UsageError(`--user-agent: must be printable ASCII on one line (got ${JSON.stringify(f['user-agent'])})`);
  }
  return {
    paths: { stateDir: f['state-dir'], db: f.db, socket: f.socket },
    config,
    userAgent: f['user-agent'],
    robots: f.robots !== false,
    defaultMaxDepth: maxDepthFlag(f['default-max-depth']),
    defaultScope: f['default-scope'] as Scope | undefined,
    defaultAddresses: f['default-addresses'] as AddressPolicy | undefined,
    workspace: f.handlers === false ? null : f.workspace,
    logLevel: (f['log-level'] as LogLevel | undefined) ?? 'info',
    lsp: f.stdio ? 'stdio' : f['node-ipc'] ? 'ipc' : null,
    clientProcessId: f.clientProcessId ?? null,
  };
}

/** `--default-max-depth`: a whole number from 0 to 1000, or `none` (null: no limit). */
function maxDepthFlag(raw: string | undefined): number | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'none') return null;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) > 1000) {
    throw new UsageError(`--default-max-depth: must be a whole number from 0 to 1000, or none for no limit (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

export function parseDaemonArgs(argv: readonly string[], command = 'crawlctl daemon'): { options: DaemonOptions; help: boolean } {
  const { flags, positionals } = parseFlags(argv, DAEMON_FLAGS, command);
  if (positionals.length) throw new UsageError(`${command}: unexpected argument "${positionals[0]}"`);
  return { options: daemonOptions(flags), help: flags.help === true };
}
