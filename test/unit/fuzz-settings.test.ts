/**
 * Settings, property-based: the daemon's flags and the extension's settings with random values.
 * A bad flag is a usage error naming it, never a crash; a bad setting is reported naming it and
 * replaced by its default; and settings that pass the extension's checks always make flags the
 * daemon accepts. Seeded: see helpers/fuzz.ts to replay a failure.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULTS, SECTION, daemonArgs, readSettings, type Settings } from '../../client/src/settings';
import { UsageError } from '../../server/src/daemon/process/args';
import { DAEMON_FLAGS, parseDaemonArgs } from '../../server/src/daemon/process/options';
import { runMain } from './helpers/daemon-proc';
import { check, checkSync } from './helpers/fuzz';

const FLAG_NAMES = Object.keys(DAEMON_FLAGS).filter((f) => f !== 'help');

/** Values as a command line may hold them: numbers of every shape, words, empties, control characters. */
const flagValue = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1',
    '2',
    '0.5',
    '0.05',
    '1e3',
    '1e400',
    'NaN',
    'Infinity',
    '-0',
    '+3',
    '.5',
    '5.',
    ' 5',
    '0x10',
    '',
    'true',
    'false',
    'host',
    'planet',
    '99999999999999999999',
    '86400',
    '86401',
    '3600.5',
    'a\u0000b',
    'UA\r\nX-Evil: 1',
    'Bot/1.0 (+https://x.example)',
  ),
  fc.integer({ min: -10, max: 100_000 }).map(String),
  fc.double({ noNaN: true, min: -10, max: 100_000 }).map(String),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }).filter((s) => !s.includes('\u0000')),
);

const argv = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...FLAG_NAMES), flagValue, fc.boolean()).map(([f, v, eq]) => (eq ? [`--${f}=${v}`] : [`--${f}`, v])) },
      { weight: 1, arbitrary: fc.constantFrom(...FLAG_NAMES).map((f) => [`--${f}`]) },
      {
        weight: 1,
        arbitrary: fc
          .oneof(fc.constantFrom('--nope', '-x', '--', '---', '--=1', '--__proto__', '--constructor', '--toString'), fc.string({ maxLength: 8 }))
          .map((a) => [a]),
      },
    ),
    { maxLength: 6 },
  )
  .map((groups) => groups.flat());

describe('daemon flags', () => {
  test('random command lines: options within every bound, or a usage error naming a flag or argument', () => {
    checkSync(
      fc.property(argv, (args) => {
        let parsed: ReturnType<typeof parseDaemonArgs>;
        try {
          parsed = parseDaemonArgs(args, 'crawld');
        } catch (err) {
          assert.ok(err instanceof UsageError, `${args.join(' ')} → ${(err as Error).stack}`);
          const names = args.some((a) => {
            const head = a.split('=')[0] || a;
            return head === '' ? err.message.includes('""') : err.message.includes(head);
          });
          assert.ok(names, `the message names a flag or argument given: ${args.join(' ')} → ${err.message}`);
          return;
        }
        const c = parsed.options.config;
        for (const v of Object.values(c)) assert.ok(Number.isFinite(v), JSON.stringify(c));
        assert.ok(c.heartbeatMs < c.leaseTtlMs);
        const ua = parsed.options.userAgent;
        if (ua !== undefined) assert.match(ua, /^[\x20-\x7e\t]+$/, 'a user agent that can go in a header');
      }),
      2_000,
    );
  });

  test('one flag at a time: accepted, or refused with a message that names that very flag', () => {
    checkSync(
      fc.property(fc.constantFrom(...FLAG_NAMES), flagValue, (flag, value) => {
        const spec = DAEMON_FLAGS[flag as keyof typeof DAEMON_FLAGS];
        const args = spec.type === 'boolean' ? [`--${flag}=${value}`] : [`--${flag}`, value];
        try {
          parseDaemonArgs(args, 'crawld');
        } catch (err) {
          assert.ok(err instanceof UsageError, (err as Error).stack);
          assert.ok(err.message.includes(`--${flag}`), `${args.join(' ')} → "${err.message}" does not name --${flag}`);
        }
      }),
      1_000,
    );
  });

  test('the daemon process exits at once with a usage error for a bad flag, never a stack trace', async () => {
    const bad = fc
      .tuple(
        fc.constantFrom(...FLAG_NAMES.filter((f) => DAEMON_FLAGS[f as keyof typeof DAEMON_FLAGS].type !== 'string')),
        fc.constantFrom('-5', 'x', '', '1e400', '0'),
      )
      .filter(([f, v]) => {
        try {
          parseDaemonArgs([`--${f}=${v}`], 'crawld');
          return false;
        } catch {
          return true;
        }
      });
    await check(
      fc.asyncProperty(bad, async ([flag, value]) => {
        const r = await runMain([`--${flag}=${value}`]);
        assert.equal(r.code, 2, r.stderr);
        assert.ok(r.stderr.includes(`--${flag}`), r.stderr);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      }),
      8,
    );
  });
});

const SETTING_KEYS = Object.keys(DEFAULTS) as (keyof Settings)[];
/** What a settings.json may hold for a key: anything JSON can say, and odd strings. */
const settingValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 0.5, 1e9, Number.NaN, Infinity, -0, '3', 'host', 'any', '', ' ', '~', '/tmp/x', 'a\nb', 'a\u0000b', 'Bot\r\nX: 1', 'é', 'Bot/1.0'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

describe('extension settings', () => {
  test("random values: never a crash; each problem names its setting; what is used passes the daemon's checks", () => {
    checkSync(
      fc.property(fc.dictionary(fc.constantFrom(...SETTING_KEYS), settingValue), (values) => {
        const { settings, problems } = readSettings((key) => (Object.prototype.hasOwnProperty.call(values, key) ? values[key] : undefined));
        for (const p of problems) assert.match(p, new RegExp(`^${SECTION}\\.(${SETTING_KEYS.join('|')})\\b`), p);
        for (const key of SETTING_KEYS) {
          const named = problems.some((p) => p.includes(`${SECTION}.${key}`));
          if (!named && key in values && values[key] !== null && typeof values[key] !== 'string') {
            assert.deepEqual(settings[key], values[key], `${key} was neither used nor reported`);
          }
        }
        // Settings that passed go to the daemon as flags, and the daemon must take them.
        const flags = daemonArgs(settings, '/tmp/state', '/tmp');
        assert.doesNotThrow(() => parseDaemonArgs(flags, 'crawld'), `${JSON.stringify(settings)} → ${flags.join(' ')}`);
        for (const key of ['stateDir', 'nodePath'] as const) assert.ok(!settings[key].includes('\u0000'), `${key} with a NUL cannot be a path`);
      }),
      2_000,
    );
  });

  test('a setting of the wrong type is reported with its name and the default used', () => {
    checkSync(
      fc.property(fc.constantFrom(...SETTING_KEYS), fc.oneof(fc.object({ maxDepth: 1 }), fc.array(fc.integer(), { maxLength: 3 })), (key, value) => {
        const { settings, problems } = readSettings((k) => (k === key ? value : undefined));
        assert.equal(problems.length, 1, JSON.stringify(problems));
        assert.ok(problems[0].startsWith(`${SECTION}.${key} `), problems[0]);
        assert.deepEqual(settings[key], DEFAULTS[key]);
      }),
      300,
    );
  });
});
