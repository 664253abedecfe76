/**
 * Property runs for the bad-input suites: seeded, so a failure replays, and bounded in runs.
 * A failure names its seed and path; `FUZZ_SEED=<n>` runs the suites with another seed (to
 * explore) or with a failing one (to replay), `FUZZ_RUNS=<n>` scales every run count.
 *
 * Also a JSON writer for adversarial requests: objects as ordered key lists (so `__proto__` and
 * repeated keys reach the wire as keys), and raw number tokens JSON.stringify cannot write
 * (`1e999`, `-0`, `NaN`).
 */
import * as fs from 'node:fs';
import fc from 'fast-check';
import { ErrorCodes, JOB_STATES, type Method } from '../../../server/src/protocol';
import { Params } from '../../../server/src/daemon/params';

export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20_261_127;
const SCALE = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) / 100 : 1;

/** Runs a property `runs` times (scaled by FUZZ_RUNS) with the suite's seed. */
export async function check<T extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<T>, runs: number): Promise<void> {
  await fc.assert(property, { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), includeErrorInReport: true });
}

export function checkSync<T extends [unknown, ...unknown[]]>(property: fc.IProperty<T>, runs: number): void {
  fc.assert(property, { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)), includeErrorInReport: true });
}

/** An object written key by key, in order, repeats and `__proto__` included. */
export class Entries {
  constructor(readonly pairs: readonly (readonly [string, unknown])[]) {}
}

/** A number token written as is. */
export class Raw {
  constructor(readonly text: string) {}
}

export function toJson(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Entries) return `{${v.pairs.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') return toJson(new Entries(Object.entries(v)));
  return JSON.stringify(v) ?? 'null';
}

const KNOWN_CODES = new Set<number>(Object.values(ErrorCodes));

/**
 * A valid JSON-RPC 2.0 answer to `id`: the id echoed, a result or an error (not both), an error's
 * code from the contract, never an internal error (which means the daemon did not expect the
 * input), with a plain message of bounded size.
 */
export function answerProblem(r: unknown, id: unknown): string | null {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'not an object';
  const a = r as Record<string, unknown>;
  if (a.jsonrpc !== '2.0') return 'jsonrpc is not "2.0"';
  if (JSON.stringify(a.id) !== JSON.stringify(id)) return `id ${JSON.stringify(a.id)} instead of ${JSON.stringify(id)}`;
  if ('result' in a === 'error' in a) return 'needs exactly one of result and error';
  if ('error' in a) {
    const e = a.error as { code?: unknown; message?: unknown } | null;
    if (!e || typeof e.code !== 'number' || !KNOWN_CODES.has(e.code)) return `error code ${JSON.stringify(e?.code)} is not one of the contract's`;
    if (e.code === ErrorCodes.InternalError) return `internal error: ${String(e.message)}`;
    if (typeof e.message !== 'string' || e.message.trim() === '') return 'error without a message';
    if (e.message.length > 4096) return `error message of ${e.message.length} characters`;
  }
  return null;
}

/** Resident memory of a process in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// ---------------------------------------------------------------------------------------------
// Inputs shared by the suites

/** Strings that would change a statement built by pasting them in. */
export const SQL_INJECTION = ["'; DROP TABLE jobs; --", '1 OR 1=1', "x' OR '1'='1", '"; DELETE FROM crawls; --', "c_1' UNION SELECT * FROM keys --"];

/** URLs good and bad: other schemes, broken syntax, odd paths and hosts (loopback where fetchable). */
export const url: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'http://127.0.0.9:9/',
    'https://127.0.0.9:9/x?y=1#z',
    'file:///etc/passwd',
    'ftp://127.0.0.9/',
    'data:text/plain,hi',
    'javascript:alert(1)',
    'gopher://127.0.0.9/',
    'http://[::1',
    'http://127.0.0.9:9/../../etc/passwd',
    'http://a b/',
    'http://',
    '//x/',
    'http://127.0.0.9:99999/',
    'http://user:pw@127.0.0.9:9/',
    'HTTP://127.0.0.9:9/%zz',
    'http://xn--/',
    'http://127.0.0.9:9/\u0000',
  ),
  fc.string().map((s) => `http://127.0.0.9:9/${s}`),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `http://${s}/`),
  fc.webUrl(),
  fc.constantFrom(...SQL_INJECTION).map((s) => `http://127.0.0.9:9/?q=${s}`),
  fc.string(),
);

/** Seed-file text: option lines good and bad, URLs, comments and junk, either line ending. */
export const seedText: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.constantFrom(
          '# comment',
          'name: x',
          'max-depth: 2',
          'max-depth: -1',
          'max-depth: 99999999999999999',
          'scope: planet',
          'scope: any',
          'include: /(a+)+$/',
          'exclude: /[/',
          'store-bodies: maybe',
          'follow-nofollow: yes',
          'bogus: 1',
          ': x',
          'name:',
          '\t',
          '\r',
          '',
          '  http://127.0.0.9:9/ trailing',
          'http://127.0.0.9:9/#frag # comment',
          '\ufeffhttp://127.0.0.9:9/',
        ),
        url,
        fc.string(),
        fc.string({ unit: 'binary' }),
      ),
      { maxLength: 20 },
    ),
    fc.constantFrom('\n', '\r\n', '\r'),
  )
  .map(([lines, eol]) => lines.join(eol));

// ---------------------------------------------------------------------------------------------
// Method params: plausible values for each field, and hostile ones for any field.

/** A crawl and a job that exist, for params that name them. */
export interface Real {
  crawlId: fc.Arbitrary<string>;
  jobId: fc.Arbitrary<number>;
}

const hugeString = fc
  .tuple(fc.integer({ min: 1_000, max: 400_000 }), fc.constantFrom('A', 'é', '\u0000', '\\', '"', '𝕏', '\ud800'))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)));
const deep = fc
  .tuple(fc.integer({ min: 50, max: 60_000 }), fc.boolean())
  .map(([d, arrays]) => new Raw(arrays ? `${'['.repeat(d)}${']'.repeat(d)}` : `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`));
const oddNumber = fc
  .constantFrom('1e999', '-1e999', '-0', '1e-400', '9007199254740993', '123456789012345678901234567890', '0.5', '-1', '4294967296', '1E3')
  .map((t) => new Raw(t));
const pollution = fc.constantFrom(
  new Entries([['__proto__', { polluted: 'yes', ids: [1], state: 'error' }]]),
  new Entries([['constructor', new Entries([['prototype', { polluted: 'yes' }]])]]),
  new Entries([['__proto__', null]]),
);
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  oddNumber,
  fc.string(),
  fc.string({ unit: 'binary' }),
);
/** Anything at all, some of it large or deep. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: scalar },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: pollution },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 8 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 4 }) },
);

const crawlIdish = (real: Real) => fc.oneof(real.crawlId, fc.constantFrom('c_00000000', 'c_', '', '../x', ...SQL_INJECTION), fc.string({ maxLength: 80 }));
const jobIdish = (real: Real) => fc.oneof(real.jobId, fc.integer(), fc.constantFrom(0, -1, 2 ** 53, 2 ** 63), oddNumber);
const count = fc.oneof(fc.integer({ min: -5, max: 2_000 }), oddNumber, fc.double({ noNaN: true, noDefaultInfinity: true }));
const cursor = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('1', '0', '-1', '1e5', ' 1', '999999999999999', '9999999999999999', 'NaN', '0x10', ...SQL_INJECTION),
);
const host = fc.oneof(
  fc.constantFrom('127.0.0.9', 'a.example', '..', 'a/b', '%2e%2e', '[::1]', 'xn--', 'A.EXAMPLE', '', ...SQL_INJECTION),
  fc.domain(),
  fc.string({ maxLength: 300 }),
);

const plausibleFor = (real: Real): Record<string, fc.Arbitrary<unknown>> => ({
  seeds: fc.array(url, { maxLength: 12 }),
  urls: fc.array(url, { maxLength: 12 }),
  name: fc.oneof(fc.string({ maxLength: 250 }), fc.constantFrom(...SQL_INJECTION)),
  maxDepth: count,
  maxPages: count,
  scope: fc.constantFrom('host', 'domain', 'any', 'planet', '', 'HOST'),
  include: fc.array(fc.oneof(fc.constantFrom('/(a+)+$/', '/[/', '*', '**/x', 'http://127.0.0.9:9/*'), fc.string()), { maxLength: 4 }),
  exclude: fc.array(fc.oneof(fc.constantFrom('/(a+)+$/', '/[/', '*'), fc.string()), { maxLength: 4 }),
  followNofollow: fc.oneof(fc.boolean(), scalar),
  storeBodies: fc.oneof(fc.boolean(), scalar),
  crawlId: crawlIdish(real),
  priority: count,
  maxAttempts: count,
  state: fc.constantFrom(...JOB_STATES, 'lost', 'ERROR', ''),
  host,
  limit: count,
  cursor,
  id: jobIdish(real),
  ids: fc.array(jobIdish(real), { maxLength: 6 }),
  maxWorkers: count,
  perHostLimit: count,
  text: seedText,
  uri: fc.oneof(fc.constantFrom('file:///w/a.crawl', '../../etc/passwd', ''), fc.string({ maxLength: 200 })),
});

function fieldsOf(method: Method): string[] {
  return Object.keys(Params[method].shape);
}

/**
 * Params for one method: plausible values per field (often valid), hostile values in known
 * fields, unknown and prototype keys, or no object at all. Methods that would let the queue run
 * or stop the daemon get only params the schema refuses (a key it does not know).
 */
export function paramsFor(method: Method, real: Real): fc.Arbitrary<unknown> {
  const fields = fieldsOf(method);
  const PLAUSIBLE = plausibleFor(real);
  const extraKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'), fc.string({ maxLength: 20 }));
  if (method === 'scheduler/resume' || method === 'daemon/shutdown') {
    return fc
      .array(
        fc.tuple(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== '__proto__'),
          hostile,
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((pairs) => new Entries(pairs));
  }
  const plausible =
    fields.length === 0
      ? fc.constant(new Entries([]))
      : fc
          .subarray(fields)
          .chain((keys) => fc.tuple(...keys.map((k) => (PLAUSIBLE[k] ?? hostile).map((v) => [k, v] as const))))
          .map((pairs) => new Entries(pairs));
  const mixed = fc
    .tuple(
      fc.subarray(fields).chain((keys) => fc.tuple(...keys.map((k) => fc.oneof(PLAUSIBLE[k] ?? hostile, hostile).map((v) => [k, v] as const)))),
      fc.array(fc.tuple(extraKey, hostile), { maxLength: 3 }),
    )
    .chain(([known, extra]) => fc.shuffledSubarray([...known, ...extra], { minLength: known.length + extra.length }))
    .map((pairs) => new Entries(pairs));
  return fc.oneof({ weight: 5, arbitrary: plausible }, { weight: 4, arbitrary: mixed }, { weight: 1, arbitrary: hostile });
}
