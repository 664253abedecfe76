/**
 * Command-line flags, strictly: an unknown flag or a bad value is a usage error naming the flag
 * and what was wrong, reported before anything runs. `--flag value` and `--flag=value` both work,
 * a value may start with `-` (`--priority -5`), and the last of a repeated flag wins.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  type: 'string' | 'boolean' | 'int' | 'number' | 'list';
  /** For numbers: inclusive bounds. */
  min?: number;
  max?: number;
  /** Greater than min rather than equal allowed (a lease TTL of 0 makes no sense). */
  exclusiveMin?: boolean;
  choices?: readonly string[];
  /** The value's name in help text (`SECONDS`). */
  value?: string;
  help: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : S[K]['type'] extends 'int' | 'number' ? number : S[K]['type'] extends 'list' ? string[] : string;
};

export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S, command: string): { flags: FlagValues<S>; positionals: string[] } {
  const flags: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(`${command}: unknown flag ${arg} (flags are spelled --name)`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UsageError(`${command}: unknown flag ${name ? `--${name}` : JSON.stringify(arg)}`);
    if (spec.type === 'boolean') {
      if (eq !== -1) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(`--${name}: takes no value, or true or false (got "${v}")`);
        flags[name] = v === 'true';
      } else flags[name] = true;
      continue;
    }
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (i + 1 < argv.length) raw = argv[++i];
    else throw new UsageError(`--${name}: needs a value${spec.value ? ` (${spec.value})` : ''}`);
    const value = convert(name, spec, raw);
    // A repeated flag: lists collect, others take the last value (so a wrapper's default can be overridden).
    if (spec.type === 'list') ((flags[name] ??= []) as string[]).push(value as string);
    else flags[name] = value;
  }
  return { flags: flags as FlagValues<S>, positionals };
}

function convert(name: string, spec: FlagSpec, raw: string): string | number {
  if (spec.type === 'string' || spec.type === 'list') {
    if (raw === '') throw new UsageError(`--${name}: needs a value${spec.value ? ` (${spec.value})` : ''}`);
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new UsageError(`--${name}: must be one of ${spec.choices.join(', ')} (got "${raw}")`);
    }
    return raw;
  }
  const pattern = spec.type === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/;
  const n = Number(raw);
  const range = rangeText(spec);
  if (!pattern.test(raw.trim()) || !Number.isFinite(n)) {
    throw new UsageError(`--${name}: must be ${spec.type === 'int' ? 'a whole number' : 'a number'}${range} (got "${raw}")`);
  }
  const tooLow = spec.min !== undefined && (spec.exclusiveMin ? n <= spec.min : n < spec.min);
  const tooHigh = spec.max !== undefined && n > spec.max;
  if (tooLow || tooHigh) throw new UsageError(`--${name}: must be ${spec.type === 'int' ? 'a whole number' : 'a number'}${range} (got ${raw})`);
  return n;
}

function rangeText(spec: FlagSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) {
    return spec.exclusiveMin ? ` above ${spec.min} and at most ${spec.max}` : ` from ${spec.min} to ${spec.max}`;
  }
  if (spec.min !== undefined) return spec.exclusiveMin ? ` above ${spec.min}` : ` of at least ${spec.min}`;
  return '';
}

/** Help lines for a set of flags, aligned. */
export function flagHelp(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => [`--${name}${s.type === 'boolean' ? '' : ` ${s.value ?? 'VALUE'}`}`, s.help]);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`).join('\n');
}
