/**
 * The core's settings, validated once at start. Every problem is reported at once, each naming
 * the setting and what is wrong, so a user fixes a bad configuration in one round.
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

export const DEFAULT_CONFIG: CoreConfig = {
  maxWorkers: 16,
  perHostLimit: 2,
  perHostDelayMs: 0,
  leaseTtlMs: 30_000,
  heartbeatMs: 10_000,
  maxAttempts: 3,
  backoffBaseMs: 1_000,
  backoffMaxMs: 5 * 60_000,
  maxReclaims: 3,
  stopDeadlineMs: 10_000,
  pollMs: 250,
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const RULES: { [K in keyof CoreConfig]: { min: number; max: number; integer: boolean; what: string } } = {
  maxWorkers: { min: 1, max: 10_000, integer: true, what: 'max workers' },
  perHostLimit: { min: 1, max: 10_000, integer: true, what: 'per-host limit' },
  perHostDelayMs: { min: 0, max: 3600_000, integer: false, what: 'per-host delay (ms)' },
  leaseTtlMs: { min: 100, max: 24 * 3600_000, integer: false, what: 'lease TTL (ms)' },
  heartbeatMs: { min: 10, max: 24 * 3600_000, integer: false, what: 'heartbeat interval (ms)' },
  maxAttempts: { min: 1, max: 1000, integer: true, what: 'max attempts' },
  backoffBaseMs: { min: 0, max: 24 * 3600_000, integer: false, what: 'backoff base (ms)' },
  backoffMaxMs: { min: 0, max: 7 * 24 * 3600_000, integer: false, what: 'backoff cap (ms)' },
  maxReclaims: { min: 1, max: 1000, integer: true, what: 'max reclaims' },
  stopDeadlineMs: { min: 0, max: 3600_000, integer: false, what: 'stop deadline (ms)' },
  pollMs: { min: 10, max: 60_000, integer: false, what: 'poll interval (ms)' },
};

export function validateConfig(input: Partial<Record<keyof CoreConfig, unknown>>): CoreConfig {
  const problems: string[] = [];
  const out = { ...DEFAULT_CONFIG };
  for (const [name, value] of Object.entries(input) as [keyof CoreConfig, unknown][]) {
    const rule = RULES[name];
    if (!rule) {
      problems.push(`unknown setting "${name}"`);
      continue;
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      problems.push(`${rule.what} must be a number (got ${JSON.stringify(value)})`);
    } else if (rule.integer && !Number.isInteger(value)) {
      problems.push(`${rule.what} must be a whole number (got ${value})`);
    } else if (value < rule.min || value > rule.max) {
      problems.push(`${rule.what} must be from ${rule.min} to ${rule.max} (got ${value})`);
    } else {
      out[name] = value;
    }
  }
  if (out.heartbeatMs >= out.leaseTtlMs) {
    problems.push(`the heartbeat interval (${out.heartbeatMs / 1000}s) must be below the lease TTL (${out.leaseTtlMs / 1000}s), or leases expire between heartbeats`);
  }
  if (out.backoffMaxMs < out.backoffBaseMs) problems.push('the backoff cap must not be below the backoff base');
  if (problems.length) throw new ConfigError(problems);
  return out;
}
