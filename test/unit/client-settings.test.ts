// Settings: bad values fall back to defaults with a message naming what is wrong, changes are
// sorted into those applied live and those that take a restart, and the daemon's flags.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULTS, daemonArgs, diffSettings, readSettings, resolveStateDir } from '../../client/src/settings';
import { DEFAULT_CRAWL_SETTINGS } from '../../server/src/crawl/crawls';
import { daemonOptions } from '../../server/src/daemon/process/options';
import { redactUrl } from '../../server/src/core/db-url';
import { resolvePaths } from '../../server/src/daemon/process/paths';

const from = (values: Record<string, unknown>) => (key: string) => values[key];

test('unset settings are the defaults, with no problems', () => {
  assert.deepEqual(readSettings(from({})), { settings: DEFAULTS, problems: [] });
});

test('each bad value is reported with the setting, the value, what is wrong and what is used', () => {
  const { settings, problems } = readSettings(
    from({ maxWorkers: 0, perHostLimit: 2.5, defaultScope: 'planet', robots: 'yes', userAgent: 'a\nb', maxAttempts: 4 }),
  );
  assert.deepEqual(problems, [
    'crawlOrchestrator.maxWorkers must be from 1 to 10000 (got 0); using 4',
    'crawlOrchestrator.perHostLimit must be a whole number (got 2.5); using 2',
    'crawlOrchestrator.userAgent must be a single line (got "a\\nb"); using ""',
    'crawlOrchestrator.robots must be true or false (got "yes"); using true',
    'crawlOrchestrator.defaultScope must be one of host, domain, any (got "planet"); using "host"',
  ]);
  assert.equal(settings.maxWorkers, 4);
  assert.equal(settings.maxAttempts, 4, 'good values are kept');
});

test('the default max depth: none unless a whole number from 0 to 1000 is set', () => {
  assert.equal(DEFAULTS.defaultMaxDepth, null);
  assert.deepEqual(readSettings(from({ defaultMaxDepth: 7 })), { settings: { ...DEFAULTS, defaultMaxDepth: 7 }, problems: [] });
  assert.deepEqual(readSettings(from({ defaultMaxDepth: null })).settings.defaultMaxDepth, null);
  for (const bad of [-1, 1001, 2.5, '3']) {
    const { settings, problems } = readSettings(from({ defaultMaxDepth: bad }));
    assert.deepEqual(problems, [
      `crawlOrchestrator.defaultMaxDepth must be a whole number from 0 to 1000, or null for no limit (got ${JSON.stringify(bad)}); using null`,
    ]);
    assert.equal(settings.defaultMaxDepth, null);
  }
});

test('a heartbeat not below the lease TTL is refused, since leases would lapse between beats', () => {
  const { settings, problems } = readSettings(from({ leaseTtlSeconds: 5, heartbeatSeconds: 5 }));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /heartbeatSeconds \(5\) must be below crawlOrchestrator\.leaseTtlSeconds \(5\)/);
  assert.equal(settings.leaseTtlSeconds, 30);
  assert.equal(settings.heartbeatSeconds, 10);
});

test('worker counts apply live, flags take a restart, command defaults need nothing', () => {
  const after = { ...DEFAULTS, maxWorkers: 8, leaseTtlSeconds: 60, defaultScope: 'any' as const, nodePath: '/opt/node' };
  assert.deepEqual(diffSettings(DEFAULTS, after), { live: { maxWorkers: 8 }, restart: ['leaseTtlSeconds', 'nodePath'] });
  assert.deepEqual(diffSettings(DEFAULTS, { ...DEFAULTS }), { live: {}, restart: [] });
});

test('the state folder: default under the workspace, relative, home, absolute, none without a folder', () => {
  assert.equal(resolveStateDir('', '/ws', '/home/u', path.posix), '/ws/.crawl');
  assert.equal(resolveStateDir('state/q', '/ws', '/home/u', path.posix), '/ws/state/q');
  assert.equal(resolveStateDir('~/crawls', '/ws', '/home/u', path.posix), '/home/u/crawls');
  assert.equal(resolveStateDir('/var/crawl', undefined, '/home/u', path.posix), '/var/crawl');
  assert.equal(resolveStateDir('', undefined, '/home/u', path.posix), undefined);
});

test('daemon flags: always the state folder and worker settings; the rest only when set', () => {
  assert.deepEqual(daemonArgs(DEFAULTS, '/ws/.crawl', '/ws'), [
    '--state-dir',
    '/ws/.crawl',
    '--workspace',
    '/ws',
    '--max-workers',
    '4',
    '--per-host',
    '2',
    '--lease-ttl',
    '30',
    '--heartbeat',
    '10',
  ]);
  const args = daemonArgs({ ...DEFAULTS, userAgent: 'MyBot/1.0', robots: false, maxAttempts: 5, heartbeatSeconds: 0.5 }, '/s', undefined);
  assert.equal(args[2], '--handlers=false', 'no folder: no handlers (not the home folder the daemon runs in)');
  assert.deepEqual(args.slice(10), ['0.5', '--user-agent', 'MyBot/1.0', '--robots=false', '--max-attempts', '5']);
  // What seed files started in the daemon (seeds/start) get when they set no max-depth or scope.
  const crawl = daemonArgs({ ...DEFAULTS, defaultMaxDepth: 0, defaultScope: 'any' }, '/s', '/w');
  assert.deepEqual(crawl.slice(12), ['--default-max-depth', '0', '--default-scope', 'any']);
});

test("defaults left out of the flags are the daemon's own", () => {
  assert.deepEqual(
    [DEFAULTS.defaultMaxDepth, DEFAULTS.defaultScope, DEFAULTS.maxAttempts],
    [DEFAULT_CRAWL_SETTINGS.defaultMaxDepth, DEFAULT_CRAWL_SETTINGS.defaultScope, daemonOptions({}).config.maxAttempts],
  );
});

test('the database: empty for SQLite in the state folder, a postgres URL passed on as --db, anything else refused', () => {
  const { settings, problems } = readSettings(from({ database: 'mysql://db/crawls' }));
  assert.deepEqual(problems, [
    'crawlOrchestrator.database must be empty (SQLite in the state folder) or a postgres:// URL (got "mysql://db/crawls"); using ""',
  ]);
  assert.ok(!daemonArgs(settings, '/w/.crawl', '/w').includes('--db'));
  const url = 'postgres://crawler@db.internal:5432/crawls';
  const pg = readSettings(from({ database: ` ${url} ` })).settings;
  const args = daemonArgs(pg, '/w/.crawl', '/w');
  assert.equal(args[args.indexOf('--db') + 1], url);
  assert.equal(resolvePaths(daemonOptions({ db: url, 'state-dir': '/w/.crawl' }).paths).db, url, 'a URL is not taken for a path');
  assert.equal(redactUrl('postgres://crawler:s3cret@db/crawls'), 'postgres://crawler:***@db/crawls', 'logs never show the password');
  assert.deepEqual(diffSettings(DEFAULTS, pg).restart, ['database'], 'a new database takes a restart');
});
