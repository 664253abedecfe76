/**
 * The core's settings, validated once at start. Every problem is reported at once, each naming
 * the setting and what is wrong, so a user fixes a bad configuration in one round.
 *
 * This module imports nothing: the table of settings the daemon's flags and the editor read
 * (server/src/settings.ts) takes these rows' bounds and defaults, so the extension loads it too.
 */
export interface CoreConfig {
  /** Jobs this process runs at once. */
  maxWorkers: number;
  /** Concurrent leases per key (host) unless overridden, counted across every process. */
  perHostLimit: number;
  /** Minimum time between two lease starts on one key unless overridden (Crawl-delay overrides). */
  perHostDelayMs: number;
  leaseTtlMs: number;
  /** Must be below the lease TTL, or leases would lapse between beats. */
  heartbeatMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Leases lost to dead workers before a job fails for good. */
  maxReclaims: number;
  /** How long in-flight jobs may take to finish on a graceful stop. */
  stopDeadlineMs: number;
  /** How often another process's commits are looked for (PRAGMA data_version, a cheap read). */
  pollMs: number;
}

/** What a running scheduler takes without a restart (daemon/configure); the rest is fixed at its start. */
export type LiveConfig = Pick<CoreConfig, 'maxWorkers' | 'perHostLimit'>;

export interface CoreSetting {
  default: number;
  /** Inclusive bounds, in the setting's unit (milliseconds for times). */
  min: number;
  max: number;
  integer: boolean;
  /** Its name in the core's messages. */
  what: string;
}

/** Each setting's default and bounds: validateConfig checks against them, and the daemon's flags and the editor's settings take theirs from them. */
export const CORE_SETTINGS: { readonly [K in keyof CoreConfig]: CoreSetting } = {
  maxWorkers: { default: 16, min: 1, max: 10_000, integer: true, what: 'max workers' },
  perHostLimit: { default: 2, min: 1, max: 10_000, integer: true, what: 'per-host limit' },
  perHostDelayMs: { default: 0, min: 0, max: 3600_000, integer: false, what: 'per-host delay (ms)' },
  leaseTtlMs: { default: 30_000, min: 100, max: 24 * 3600_000, integer: false, what: 'lease TTL (ms)' },
  heartbeatMs: { default: 10_000, min: 10, max: 24 * 3600_000, integer: false, what: 'heartbeat interval (ms)' },
  // 100, as the editor's setting and jobs/enqueue have it (this row and the daemon's flag had 1,000):
  // with the default backoff a job's 100th try comes 4 to 8 hours after its first, and a page still
  // failing then is better reported than asked of its host for days more.
  maxAttempts: { default: 3, min: 1, max: 100, integer: true, what: 'max attempts' },
  backoffBaseMs: { default: 1_000, min: 0, max: 24 * 3600_000, integer: false, what: 'backoff base (ms)' },
  backoffMaxMs: { default: 5 * 60_000, min: 0, max: 7 * 24 * 3600_000, integer: false, what: 'backoff cap (ms)' },
  maxReclaims: { default: 3, min: 1, max: 1000, integer: true, what: 'max reclaims' },
  stopDeadlineMs: { default: 10_000, min: 0, max: 3600_000, integer: false, what: 'stop deadline (ms)' },
  pollMs: { default: 250, min: 10, max: 60_000, integer: false, what: 'poll interval (ms)' },
};

export const DEFAULT_CONFIG = Object.fromEntries(Object.entries(CORE_SETTINGS).map(([name, s]) => [name, s.default])) as unknown as Readonly<CoreConfig>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** What is wrong with a number for these bounds, for a message that names the setting first; null: nothing. */
export function numberProblem(value: unknown, { min, max, integer }: Pick<CoreSetting, 'min' | 'max' | 'integer'>): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
  if (integer && !Number.isInteger(value)) return 'must be a whole number';
  if (value < min || value > max) return `must be from ${min} to ${max}`;
  return null;
}

/**
 * The one rule between settings: leases would lapse between beats. Both values in one unit; each
 * caller names them as its user set them (the core's words, the daemon's flags, the editor's settings).
 */
export function heartbeatProblem(heartbeat: number, leaseTtl: number, names: { heartbeat: string; leaseTtl: string }): string | null {
  return heartbeat < leaseTtl ? null : `${names.heartbeat} must be below ${names.leaseTtl}, or leases expire between heartbeats`;
}

export function validateConfig(input: Partial<Record<keyof CoreConfig, unknown>>): CoreConfig {
  const problems: string[] = [];
  const out = { ...DEFAULT_CONFIG };
  for (const [name, value] of Object.entries(input) as [keyof CoreConfig, unknown][]) {
    const setting = Object.prototype.hasOwnProperty.call(CORE_SETTINGS, name) ? CORE_SETTINGS[name] : undefined;
    if (!setting) {
      problems.push(`unknown setting "${name}"`);
      continue;
    }
    if (value === undefined) continue;
    const problem = numberProblem(value, setting);
    if (problem) problems.push(`${setting.what} ${problem} (got ${JSON.stringify(value)})`);
    else out[name] = value as number;
  }
  const beats = heartbeatProblem(out.heartbeatMs, out.leaseTtlMs, {
    heartbeat: `the heartbeat interval (${out.heartbeatMs / 1000}s)`,
    leaseTtl: `the lease TTL (${out.leaseTtlMs / 1000}s)`,
  });
  if (beats) problems.push(beats);
  if (out.backoffMaxMs < out.backoffBaseMs) problems.push('the backoff cap must not be below the backoff base');
  if (problems.length) throw new ConfigError(problems);
  return out;
}
