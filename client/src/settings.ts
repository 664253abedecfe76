/**
 * The `crawlOrchestrator.*` settings: read, checked and compared. A bad value is replaced by its
 * default and reported with what is wrong, rather than handed to the daemon to fail on.
 * Pure: it reads through a getter, so it is tested without an editor.
 */
import { ADDRESS_POLICIES, LOG_LEVELS, SCOPES, USER_AGENT, type AddressPolicy, type LogLevel, type Scope } from '../../server/src/protocol';

export const SECTION = 'crawlOrchestrator';

export interface Settings {
  /** As configured; resolved against the workspace by `resolveStateDir`. */
  stateDir: string;
  /** Empty: the SQLite file in the state folder; else a PostgreSQL connection URL. */
  database: string;
  maxWorkers: number;
  perHostLimit: number;
  leaseTtlSeconds: number;
  heartbeatSeconds: number;
  maxAttempts: number;
  userAgent: string;
  robots: boolean;
  /** null: no limit (crawls follow links within their scope until max pages). */
  defaultMaxDepth: number | null;
  defaultScope: Scope;
  /** `auto`: each crawl gets the kind of its seeds' addresses. */
  defaultAddresses: AddressPolicy | 'auto';
  /** The daemon's `--log-level`: what its log (the output channel) records. */
  logLevel: LogLevel;
  nodePath: string;
}

export const DEFAULTS: Settings = {
  stateDir: '',
  database: '',
  maxWorkers: 4,
  perHostLimit: 2,
  leaseTtlSeconds: 30,
  heartbeatSeconds: 10,
  maxAttempts: 3,
  userAgent: '',
  robots: true,
  defaultMaxDepth: null,
  defaultScope: 'host',
  defaultAddresses: 'auto',
  logLevel: 'info',
  nodePath: '',
};

type NumberKey = { [K in keyof Settings]: Settings[K] extends number ? K : never }[keyof Settings];

const NUMBERS: Record<NumberKey, { min: number; max: number; integer: boolean }> = {
  maxWorkers: { min: 1, max: 10_000, integer: true },
  perHostLimit: { min: 1, max: 10_000, integer: true },
  leaseTtlSeconds: { min: 0.1, max: 86_400, integer: false },
  heartbeatSeconds: { min: 0.01, max: 86_400, integer: false },
  maxAttempts: { min: 1, max: 100, integer: true },
};

/** Settings the running daemon takes through `daemon/configure`, without a restart. */
export const LIVE_KEYS = ['maxWorkers', 'perHostLimit'] as const satisfies readonly (keyof Settings)[];
/**
 * Settings read by the extension when a command runs: nothing to apply. Those also passed to the
 * daemon (`daemonArgs`) reach the crawls it starts by itself (seed files) at its next start; like
 * max attempts, they do not force one.
 */
export const CLIENT_KEYS = ['maxAttempts', 'defaultMaxDepth', 'defaultScope', 'defaultAddresses'] as const satisfies readonly (keyof Settings)[];
/** Everything else is a daemon argument: a change takes a restart. */
export const RESTART_KEYS = (Object.keys(DEFAULTS) as (keyof Settings)[]).filter(
  (k) => !(LIVE_KEYS as readonly string[]).includes(k) && !(CLIENT_KEYS as readonly string[]).includes(k),
);

/** What the daemon takes as a PostgreSQL database rather than a file. */
const POSTGRES_URL = /^postgres(ql)?:\/\/\S+$/;

export interface ReadSettings {
  settings: Settings;
  /** Each names the setting, the bad value and what is used instead. */
  problems: string[];
}

/** Reads every setting through `get` (a `WorkspaceConfiguration.get` of the section). */
export function readSettings(get: (key: string) => unknown): ReadSettings {
  const settings = { ...DEFAULTS };
  const problems: string[] = [];
  const bad = (key: keyof Settings, value: unknown, what: string) =>
    problems.push(`${SECTION}.${key} ${what} (got ${JSON.stringify(value)}); using ${JSON.stringify(DEFAULTS[key])}`);

  for (const [key, rule] of Object.entries(NUMBERS) as [NumberKey, (typeof NUMBERS)[NumberKey]][]) {
    const value = get(key);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) bad(key, value, 'must be a number');
    else if (rule.integer && !Number.isInteger(value)) bad(key, value, 'must be a whole number');
    else if (value < rule.min || value > rule.max) bad(key, value, `must be from ${rule.min} to ${rule.max}`);
    else settings[key] = value;
  }
  const depth = get('defaultMaxDepth');
  if (depth !== undefined && depth !== null) {
    if (typeof depth !== 'number' || !Number.isInteger(depth) || depth < 0 || depth > 1000) {
      bad('defaultMaxDepth', depth, 'must be a whole number from 0 to 1000, or null for no limit');
    } else settings.defaultMaxDepth = depth;
  }
  for (const key of ['stateDir', 'database', 'userAgent', 'nodePath'] as const) {
    const value = get(key);
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') bad(key, value, 'must be a string');
    else if (value.includes('\0')) bad(key, value, 'must not contain a NUL character');
    else settings[key] = value.trim();
  }
  if (settings.database !== '' && !POSTGRES_URL.test(settings.database)) {
    bad('database', settings.database, 'must be empty (SQLite in the state folder) or a postgres:// URL');
    settings.database = DEFAULTS.database;
  }
  if (!USER_AGENT.test(settings.userAgent)) {
    // It goes in every request's header, which holds one line of ASCII.
    bad('userAgent', settings.userAgent, /[\r\n]/.test(settings.userAgent) ? 'must be a single line' : 'must be printable ASCII');
    settings.userAgent = DEFAULTS.userAgent;
  }
  const robots = get('robots');
  if (robots !== undefined && robots !== null) {
    if (typeof robots !== 'boolean') bad('robots', robots, 'must be true or false');
    else settings.robots = robots;
  }
  const scope = get('defaultScope');
  if (scope !== undefined && scope !== null) {
    if (!(SCOPES as readonly unknown[]).includes(scope)) bad('defaultScope', scope, `must be one of ${SCOPES.join(', ')}`);
    else settings.defaultScope = scope as Scope;
  }
  const addresses = get('defaultAddresses');
  if (addresses !== undefined && addresses !== null) {
    const allowed = ['auto', ...ADDRESS_POLICIES] as const;
    if (!(allowed as readonly unknown[]).includes(addresses)) bad('defaultAddresses', addresses, `must be one of ${allowed.join(', ')}`);
    else settings.defaultAddresses = addresses as Settings['defaultAddresses'];
  }
  const logLevel = get('logLevel');
  if (logLevel !== undefined && logLevel !== null) {
    if (!(LOG_LEVELS as readonly unknown[]).includes(logLevel)) bad('logLevel', logLevel, `must be one of ${LOG_LEVELS.join(', ')}`);
    else settings.logLevel = logLevel as LogLevel;
  }
  if (settings.heartbeatSeconds >= settings.leaseTtlSeconds) {
    problems.push(
      `${SECTION}.heartbeatSeconds (${settings.heartbeatSeconds}) must be below ${SECTION}.leaseTtlSeconds ` +
        `(${settings.leaseTtlSeconds}), or leases expire between heartbeats; using ${DEFAULTS.heartbeatSeconds} and ${DEFAULTS.leaseTtlSeconds}`,
    );
    settings.heartbeatSeconds = DEFAULTS.heartbeatSeconds;
    settings.leaseTtlSeconds = DEFAULTS.leaseTtlSeconds;
  }
  return { settings, problems };
}

export interface SettingsChange {
  /** Sent to the running daemon with `daemon/configure`. */
  live: Partial<Pick<Settings, (typeof LIVE_KEYS)[number]>>;
  /** Settings whose new value takes a daemon restart. */
  restart: (keyof Settings)[];
}

export function diffSettings(before: Settings, after: Settings): SettingsChange {
  const live: SettingsChange['live'] = {};
  for (const key of LIVE_KEYS) if (before[key] !== after[key]) live[key] = after[key];
  return { live, restart: RESTART_KEYS.filter((key) => before[key] !== after[key]) };
}

/**
 * The state folder: an absolute setting as is, `~/` from the home folder, a relative one under
 * the first workspace folder; undefined when relative and no folder is open.
 */
export function resolveStateDir(
  setting: string,
  workspaceFolder: string | undefined,
  home: string,
  path: { isAbsolute(p: string): boolean; join(...p: string[]): string },
): string | undefined {
  const value = setting || '.crawl';
  if (value === '~' || value.startsWith('~/')) return path.join(home, value.slice(1));
  if (path.isAbsolute(value)) return value;
  return workspaceFolder === undefined ? undefined : path.join(workspaceFolder, value);
}

/**
 * The daemon's command-line flags for these settings (the state folder resolved). The language
 * client appends `--node-ipc` and `--clientProcessId` itself. Robots, max attempts, the crawl
 * defaults and the log level are passed only when changed from their defaults, which are also the daemon's.
 */
export function daemonArgs(settings: Settings, stateDir: string, workspace: string | undefined): string[] {
  const args = [
    '--state-dir', stateDir,
    // Page handlers come from the workspace folder; with none open, from nowhere (not the home folder it runs in).
    ...(workspace === undefined ? ['--handlers=false'] : ['--workspace', workspace]),
    ...(settings.database ? ['--db', settings.database] : []),
    '--max-workers', String(settings.maxWorkers),
    '--per-host', String(settings.perHostLimit),
    '--lease-ttl', String(settings.leaseTtlSeconds),
    '--heartbeat', String(settings.heartbeatSeconds),
  ];
  if (settings.userAgent) args.push('--user-agent', settings.userAgent);
  if (!settings.robots) args.push('--robots=false');
  if (settings.maxAttempts !== DEFAULTS.maxAttempts) args.push('--max-attempts', String(settings.maxAttempts));
  if (settings.defaultMaxDepth !== DEFAULTS.defaultMaxDepth) args.push('--default-max-depth', String(settings.defaultMaxDepth));
  if (settings.defaultScope !== DEFAULTS.defaultScope) args.push('--default-scope', settings.defaultScope);
  if (settings.defaultAddresses !== 'auto') args.push('--default-addresses', settings.defaultAddresses);
  if (settings.logLevel !== DEFAULTS.logLevel) args.push('--log-level', settings.logLevel);
  return args;
}
