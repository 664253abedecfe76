/** Flag parsing and the daemon's flags, in process: every message names the flag and the problem. */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UsageError, parseFlags, type FlagSpecs } from '../../server/src/daemon/process/args';
import { parseDaemonArgs } from '../../server/src/daemon/process/options';
import { bar, table } from '../../server/src/cli/format';

const SPECS = {
  limit: { type: 'int', min: 1, max: 1000, help: '' },
  priority: { type: 'int', min: -1000, max: 1000, help: '' },
  ttl: { type: 'number', min: 0, exclusiveMin: true, help: '' },
  state: { type: 'string', choices: ['queued', 'done'], help: '' },
  include: { type: 'list', help: '' },
  wait: { type: 'boolean', help: '' },
} as const satisfies FlagSpecs;

const fails = (argv: string[], message: RegExp) =>
  assert.throws(
    () => parseFlags(argv, SPECS, 'crawlctl x'),
    (e: Error) => e instanceof UsageError && message.test(e.message),
    argv.join(' '),
  );

describe('flags', () => {
  test('values by space or =, negative numbers, lists, booleans, positionals, --', () => {
    const r = parseFlags(['a', '--limit', '5', '--priority', '-3', '--ttl=0.5', '--include', 'x*', '--include=y*', '--wait', 'b', '--', '--limit'], SPECS, 'x');
    assert.deepEqual(r.flags, { limit: 5, priority: -3, ttl: 0.5, include: ['x*', 'y*'], wait: true });
    assert.deepEqual(r.positionals, ['a', 'b', '--limit']);
    assert.equal(parseFlags(['--limit', '1', '--limit', '9'], SPECS, 'x').flags.limit, 9, 'the last wins');
    assert.equal(parseFlags(['--wait=false'], SPECS, 'x').flags.wait, false);
  });

  test('every mistake is named', () => {
    fails(['--limit', '0'], /^--limit: must be a whole number from 1 to 1000 \(got 0\)$/);
    fails(['--limit', '2.5'], /^--limit: must be a whole number/);
    fails(['--limit', '12abc'], /\(got "12abc"\)/);
    fails(['--limit'], /^--limit: needs a value$/);
    fails(['--ttl', '0'], /^--ttl: must be a number above 0/);
    fails(['--ttl', 'Infinity'], /^--ttl: must be a number/);
    fails(['--state', 'lost'], /^--state: must be one of queued, done \(got "lost"\)$/);
    fails(['--include='], /^--include: needs a value/);
    fails(['--wait=maybe'], /^--wait: takes no value, or true or false/);
    fails(['--nope'], /^crawlctl x: unknown flag --nope$/);
    fails(['-v'], /unknown flag -v \(flags are spelled --name\)/);
    fails(['--constructor', '1'], /unknown flag --constructor/);
  });
});

describe('daemon flags', () => {
  test('seconds become the core settings, fractions allowed', () => {
    const { options } = parseDaemonArgs([
      '--lease-ttl',
      '1.5',
      '--heartbeat',
      '0.25',
      '--max-workers',
      '4',
      '--per-host',
      '3',
      '--stop-deadline',
      '0',
      '--node-ipc',
      '--clientProcessId=77',
    ]);
    assert.deepEqual(
      [options.config.leaseTtlMs, options.config.heartbeatMs, options.config.maxWorkers, options.config.perHostLimit, options.config.stopDeadlineMs],
      [1500, 250, 4, 3, 0],
    );
    assert.deepEqual([options.lsp, options.clientProcessId, options.robots], ['ipc', 77, true]);
    const other = parseDaemonArgs(['--robots=false', '--max-attempts', '5', '--per-host-delay', '0.2']).options;
    assert.deepEqual([other.robots, other.config.maxAttempts, other.config.perHostDelayMs], [false, 5, 200]);
  });

  test('crawl defaults: a depth and a scope for crawls that set none, checked like the other flags', () => {
    const { options } = parseDaemonArgs(['--default-max-depth', '0', '--default-scope=domain']);
    assert.deepEqual([options.defaultMaxDepth, options.defaultScope], [0, 'domain']);
    const unset = parseDaemonArgs([]).options;
    assert.deepEqual([unset.defaultMaxDepth, unset.defaultScope], [undefined, undefined], "the crawl service's own defaults");
    assert.equal(parseDaemonArgs(['--default-max-depth=none']).options.defaultMaxDepth, null, 'none: no limit');
    assert.equal(parseDaemonArgs(['--default-max-depth', '1000']).options.defaultMaxDepth, 1000);
    assert.throws(
      () => parseDaemonArgs(['--default-max-depth', '1001']),
      /^UsageError: --default-max-depth: must be a whole number from 0 to 1000, or none for no limit \(got "1001"\)$/,
    );
    for (const bad of ['-1', '2.5', 'None', 'unlimited', ' 3']) {
      assert.throws(() => parseDaemonArgs(['--default-max-depth', bad]), /--default-max-depth: must be a whole number from 0 to 1000, or none/, bad);
    }
    assert.throws(() => parseDaemonArgs(['--default-scope', 'planet']), /--default-scope: must be one of host, domain, any \(got "planet"\)/);
  });

  test('a heartbeat not below the lease TTL is refused, naming both flags', () => {
    assert.throws(
      () => parseDaemonArgs(['--heartbeat', '30']),
      (e: Error) => e instanceof UsageError && /--heartbeat \(30 s\) must be below the --lease-ttl \(default 30 s\)/.test(e.message),
    );
    assert.throws(() => parseDaemonArgs(['--stdio', '--node-ipc']), /choose one/);
  });
});

describe('tables', () => {
  test('columns align; flexible ones are cut to the width, with an ellipsis', () => {
    const t = table(
      [{ title: 'ID', align: 'right' }, { title: 'URL', flexible: true }, { title: 'STATE' }],
      [
        ['7', 'http://example.com/a/very/long/path/indeed', 'done'],
        ['12', 'http://x/', 'error'],
      ],
      40,
    );
    const lines = String(t).split('\n');
    assert.ok(
      lines.every((l) => [...l].length <= 40),
      String(t),
    );
    assert.equal(lines[1].slice(0, 2), ' 7');
    assert.match(lines[1], /…\s+done$/);
    assert.equal(bar(0.5, 4), '[██░░]');
  });

  test('off a terminal (no width) cells are whole, and a flexible column is padded to 80 at most, not to its longest cell', () => {
    const long = `http://example.com/${'x'.repeat(5_000)}`;
    const t = table(
      [{ title: 'ID', align: 'right' }, { title: 'URL', flexible: true }, { title: 'STATE' }],
      [
        ['7', long, 'done'],
        ['12', 'http://x/', 'error'],
      ],
    );
    const lines = String(t).split('\n');
    assert.equal(lines[1], ` 7  ${long}  done`, 'the long URL whole');
    assert.equal(lines[2], `12  http://x/${' '.repeat(80 - 'http://x/'.length)}  error`);
    assert.ok(lines[0].length < 100, `the header: ${lines[0].length} characters`);
  });
});
