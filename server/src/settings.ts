/**
 * The settings, one row each: type and unit, default, bounds or choices, the daemon's flag, and
 * whether it is an editor setting (`crawlOrchestrator.<name>`) and what a change to it takes. The
 * daemon's flags (daemon/process/options.ts), the editor's reading of its settings (client/src/settings.ts),
 * the bounds of daemon/configure and jobs/enqueue (daemon/params.ts) and the crawl kind's defaults
 * are made from these rows; settings.test.ts holds package.json's contributed settings to them.
 *
 * It sits beside the contract, and like it loads nothing heavy: the extension bundles it. Its only
 * imports are the contract and core/config.ts, which import nothing. The core's settings (workers,
 * leases, attempts) keep their defaults and bounds in the core, which may import nothing from out
 * here, and their rows below take them from there, in seconds where the core counts milliseconds.
 */
import { CORE_SETTINGS, type CoreConfig } from './core/config';
import { ADDRESS_POLICIES, LOG_LEVELS, SCOPES } from './protocol';

export { heartbeatProblem, numberProblem } from './core/config';

/**
 * What a change to an editor setting takes: `live`, none (daemon/configure applies it to the
 * running daemon); `restart`, a restart (it is a flag read at start); `command`, none (the editor
 * reads it when a command runs; the daemon, passed it as a flag, uses it for the crawls it starts
 * itself, seed files, from its next start).
 */
export type Applies = 'live' | 'restart' | 'command';

interface Row {
  /** The daemon's flag: `--name`, its value's name in the help (numbers: SECONDS or N), and the help. */
  flag?: { name: string; value?: string; help: string };
  /** An editor setting, and what a change to it takes; none: a flag only. */
  editor?: Applies;
}

interface NumberRow extends Row {
  type: 'integer' | 'number';
  /** The core's setting it is, counted in milliseconds there when this row is in seconds. */
  core?: keyof CoreConfig;
  unit?: 'seconds';
  default: number;
  /** The editor's default, where it is not the daemon's. */
  editorDefault?: number;
  /** Inclusive. */
  min: number;
  max: number;
}
/** A number, or null for no limit (the flag spells it `none`) or, where the row says, the daemon's choice (`auto`). */
interface LimitRow extends Row {
  type: 'integer';
  nullable: true;
  default: null;
  min: number;
  max: number;
}
interface TextRow extends Row {
  type: 'string';
  default: string;
  /** What the editor accepts (the daemon's flag takes more). */
  pattern?: string;
}
interface ChoiceRow extends Row {
  type: 'string';
  choices: readonly string[];
  default: string;
}
interface SwitchRow extends Row {
  type: 'boolean';
  default: boolean;
}
export type SettingRow = NumberRow | LimitRow | TextRow | ChoiceRow | SwitchRow;

/** Milliseconds in a unit: the core counts time in milliseconds, its flags and settings in seconds. */
export const MS_IN = { seconds: 1000 } as const;

/** The row of a core setting: its default and bounds as the core has them, in `unit`. */
function core(key: keyof CoreConfig, unit?: keyof typeof MS_IN) {
  const { default: value, min, max, integer } = CORE_SETTINGS[key];
  const per = unit ? MS_IN[unit] : 1;
  return { type: integer ? 'integer' : 'number', core: key, ...(unit && { unit }), default: value / per, min: min / per, max: max / per } as const;
}

export const SETTINGS = {
  /** As configured: the editor resolves it against the workspace (resolveStateDir) and passes the result. */
  stateDir: {
    type: 'string',
    default: '',
    editor: 'restart',
    flag: { name: 'state-dir', value: 'DIR', help: 'the state folder (default: .crawl in the current folder)' },
  },
  /** Empty: the SQLite file in the state folder. */
  database: {
    type: 'string',
    default: '',
    editor: 'restart',
    pattern: '^(postgres(ql)?://\\S+)?$',
    flag: {
      name: 'db',
      value: 'FILE|URL',
      help: 'the queue database: a SQLite file (default: STATE-DIR/queue.db) or a postgres:// URL shared by daemons on several machines',
    },
  },
  // A daemon the editor starts runs 4 jobs at once unless set; one started by hand, 16.
  maxWorkers: { ...core('maxWorkers'), editorDefault: 4, editor: 'live', flag: { name: 'max-workers', help: 'jobs this daemon runs at once' } },
  perHostLimit: { ...core('perHostLimit'), editor: 'live', flag: { name: 'per-host', help: 'requests in flight per host, across every daemon' } },
  perHostDelaySeconds: {
    ...core('perHostDelayMs', 'seconds'),
    flag: { name: 'per-host-delay', help: 'minimum time between requests to one host; robots.txt Crawl-delay overrides it' },
  },
  leaseTtlSeconds: {
    ...core('leaseTtlMs', 'seconds'),
    editor: 'restart',
    flag: { name: 'lease-ttl', help: 'how long a job stays leased without a heartbeat' },
  },
  heartbeatSeconds: {
    ...core('heartbeatMs', 'seconds'),
    editor: 'restart',
    flag: { name: 'heartbeat', help: 'how often leases are extended, below the lease TTL' },
  },
  stopDeadlineSeconds: {
    ...core('stopDeadlineMs', 'seconds'),
    flag: { name: 'stop-deadline', help: 'on stop, how long running jobs may take before they are handed back' },
  },
  /** Null (`auto`): a thread per core but the daemon's own, at most 8 (crawl/parse-pool.ts). */
  parseThreads: {
    type: 'integer',
    nullable: true,
    default: null,
    min: 0,
    max: 64,
    flag: {
      name: 'parse-threads',
      value: 'N|auto',
      help: "threads that parse fetched pages: auto (the default) one per core but the daemon's own, at most 8; 0 parses them on the daemon's own thread",
    },
  },
  /** Empty: the daemon's own. */
  userAgent: { type: 'string', default: '', editor: 'restart', flag: { name: 'user-agent', value: 'TEXT', help: 'the User-Agent sent with every request' } },
  robots: { type: 'boolean', default: true, editor: 'restart', flag: { name: 'robots', help: 'obey robots.txt (the default; --robots=false ignores it)' } },
  maxAttempts: { ...core('maxAttempts'), editor: 'command', flag: { name: 'max-attempts', help: 'attempts before a job fails for good' } },
  // No limit, as Crawlee, Scrapy and linkinator: a site whose chapters link to the next one went
  // 469 links deep, and a limit of 3 fetched 1,213 of the 2,711 pages of 13 such books.
  defaultMaxDepth: {
    type: 'integer',
    nullable: true,
    default: null,
    min: 0,
    max: 1000,
    editor: 'command',
    flag: {
      name: 'default-max-depth',
      value: 'N|none',
      help: 'max depth of crawls that set none, such as seed files without max-depth: links from the seeds, or none (the default: links are followed within the scope until max pages)',
    },
  },
  defaultScope: {
    type: 'string',
    choices: SCOPES,
    default: 'host',
    editor: 'command',
    flag: { name: 'default-scope', value: 'S', help: 'scope of crawls that set none: host, domain or any (default host)' },
  },
  /** `auto`: each crawl gets the kind of its seeds' addresses. */
  defaultAddresses: {
    type: 'string',
    choices: ['auto', ...ADDRESS_POLICIES],
    default: 'auto',
    editor: 'command',
    flag: {
      name: 'default-addresses',
      value: 'A',
      help: 'addresses crawls that set none may connect to: public, private (loopback, private, link-local), any, or auto (the default: the kind of their seeds)',
    },
  },
  /** What the daemon's log (the editor's output channel) records. */
  logLevel: {
    type: 'string',
    choices: LOG_LEVELS,
    default: 'info',
    editor: 'restart',
    flag: { name: 'log-level', value: 'LEVEL', help: 'what the log on stderr records: error, warn, info (the default: crawls and hosts too) or debug' },
  },
  /** The Node.js that runs the daemon; empty: found on PATH (client/src/runtime.ts). */
  nodePath: { type: 'string', default: '', editor: 'restart' },
} as const satisfies Record<string, SettingRow>;

type Rows = typeof SETTINGS;
type SettingName = keyof Rows;
/** The editor's settings. */
export type EditorName = { [K in SettingName]: Rows[K] extends { editor: Applies } ? K : never }[SettingName];
/** The settings with a daemon flag. */
export type FlaggedName = { [K in SettingName]: Rows[K] extends { flag: object } ? K : never }[SettingName];
/** A setting's value, as the editor holds it. */
export type SettingValue<K extends SettingName> = Rows[K] extends { choices: readonly (infer C)[] }
  ? C
  : Rows[K] extends { type: 'boolean' }
    ? boolean
    : Rows[K] extends { nullable: true }
      ? number | null
      : Rows[K] extends { type: 'integer' | 'number' }
        ? number
        : string;

const NAMES = Object.keys(SETTINGS) as SettingName[];
/** In the table's order. */
export const EDITOR_SETTINGS = NAMES.filter((k): k is EditorName => 'editor' in SETTINGS[k]);
