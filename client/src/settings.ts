/**
 * The `crawlOrchestrator.*` settings: read, checked and compared. A bad value is replaced by its
 * default and reported with what is wrong, rather than handed to the daemon to fail on. Each
 * setting's type, default, bounds, flag and what a change takes are the table's
 * (server/src/settings.ts); what is here is how the editor reads and passes them.
 * Pure: it reads through a getter, so it is tested without an editor.
 */
import { USER_AGENT, type ParamsOf } from '../../server/src/protocol';
import {
  EDITOR_SETTINGS,
  SETTINGS,
  heartbeatProblem,
  numberProblem,
  type Applies,
  type EditorName,
  type SettingRow,
  type SettingValue,
} from '../../server/src/settings';

export const SECTION = 'crawlOrchestrator';

export type Settings = { [K in EditorName]: SettingValue<K> };

export const DEFAULTS = Object.fromEntries(
  EDITOR_SETTINGS.map((key) => {
    const row: SettingRow = SETTINGS[key];
    return [key, 'editorDefault' in row && row.editorDefault !== undefined ? row.editorDefault : row.default];
  }),
) as Settings;

type Taking<A extends Applies> = { [K in EditorName]: (typeof SETTINGS)[K]['editor'] extends A ? K : never }[EditorName];
const taking = <A extends Applies>(applies: A) => EDITOR_SETTINGS.filter((key): key is Taking<A> => SETTINGS[key].editor === applies);
/** Settings the running daemon takes through `daemon/configure`, without a restart. */
const LIVE_KEYS = taking('live');
/** Settings that are daemon flags read at its start: a change takes a restart. */
const RESTART_KEYS = taking('restart');

/** Checks of a setting beyond its type and bounds, on the trimmed text. */
const TEXT_CHECKS: Partial<Record<EditorName, (value: string) => string | null>> = {
  database: (value) => (new RegExp(SETTINGS.database.pattern).test(value) ? null : 'must be empty (SQLite in the state folder) or a postgres:// URL'),
  // It goes in every request's header, which holds one line of ASCII.
  userAgent: (value) => (USER_AGENT.test(value) ? null : /[\r\n]/.test(value) ? 'must be a single line' : 'must be printable ASCII'),
};

/** What is wrong with a value for a row, as the editor holds it (JSON); null: nothing. */
function problemOf(row: SettingRow, value: unknown): string | null {
  if (row.type === 'boolean') return typeof value === 'boolean' ? null : 'must be true or false';
  if ('choices' in row) return row.choices.includes(value as string) ? null : `must be one of ${row.choices.join(', ')}`;
  if ('nullable' in row) {
    return numberProblem(value, { ...row, integer: true }) === null ? null : `must be a whole number from ${row.min} to ${row.max}, or null for no limit`;
  }
  if (row.type === 'string') return typeof value !== 'string' ? 'must be a string' : value.includes('\0') ? 'must not contain a NUL character' : null;
  return numberProblem(value, { ...row, integer: row.type === 'integer' });
}

export interface ReadSettings {
  settings: Settings;
  /** Each names the setting, the bad value and what is used instead. */
  problems: string[];
}

/** Reads every setting through `get` (a `WorkspaceConfiguration.get` of the section). */
export function readSettings(get: (key: string) => unknown): ReadSettings {
  const settings: Record<string, unknown> = { ...DEFAULTS };
  const problems: string[] = [];
  const bad = (key: EditorName, value: unknown, what: string) =>
    problems.push(`${SECTION}.${key} ${what} (got ${JSON.stringify(value)}); using ${JSON.stringify(DEFAULTS[key])}`);

  for (const key of EDITOR_SETTINGS) {
    const row: SettingRow = SETTINGS[key];
    let value = get(key);
    if (value === undefined || value === null) continue;
    const problem = problemOf(row, value);
    if (problem) {
      bad(key, value, problem);
      continue;
    }
    if (typeof value === 'string' && !('choices' in row)) {
      value = value.trim();
      const wrong = TEXT_CHECKS[key]?.(value as string);
      if (wrong) {
        bad(key, value, wrong);
        continue;
      }
    }
    settings[key] = value;
  }
  const read = settings as Settings;
  const beats = heartbeatProblem(read.heartbeatSeconds, read.leaseTtlSeconds, {
    heartbeat: `${SECTION}.heartbeatSeconds (${read.heartbeatSeconds})`,
    leaseTtl: `${SECTION}.leaseTtlSeconds (${read.leaseTtlSeconds})`,
  });
  if (beats) {
    problems.push(`${beats}; using ${DEFAULTS.heartbeatSeconds} and ${DEFAULTS.leaseTtlSeconds}`);
    read.heartbeatSeconds = DEFAULTS.heartbeatSeconds;
    read.leaseTtlSeconds = DEFAULTS.leaseTtlSeconds;
  }
  return { settings: read, problems };
}

export interface SettingsChange {
  /** Sent to the running daemon with `daemon/configure`. */
  live: ParamsOf<'daemon/configure'>;
  /** Settings whose new value takes a daemon restart. */
  restart: EditorName[];
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

/** Passed whatever their value, so that the daemon's command line shows how it runs jobs. */
const ALWAYS_PASSED: EditorName[] = ['maxWorkers', 'perHostLimit', 'leaseTtlSeconds', 'heartbeatSeconds'];

/**
 * The daemon's command-line flags for these settings (the state folder resolved), named by the
 * table. The language client appends `--node-ipc` and `--clientProcessId` itself. Apart from the
 * worker settings, a setting is passed only when it is not the daemon's own default.
 */
export function daemonArgs(settings: Settings, stateDir: string, workspace: string | undefined): string[] {
  const args = [
    `--${SETTINGS.stateDir.flag.name}`,
    stateDir,
    // Page handlers come from the workspace folder; with none open, from nowhere (not the home folder it runs in).
    ...(workspace === undefined ? ['--handlers=false'] : ['--workspace', workspace]),
  ];
  for (const key of EDITOR_SETTINGS) {
    const row: SettingRow = SETTINGS[key];
    const value = settings[key];
    if (!row.flag || key === 'stateDir' || (value === row.default && !ALWAYS_PASSED.includes(key))) continue;
    if (typeof value === 'boolean') args.push(`--${row.flag.name}=${value}`);
    else args.push(`--${row.flag.name}`, value === null ? 'none' : String(value));
  }
  return args;
}
