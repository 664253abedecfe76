/**
 * The wire's limits agree: the largest valid request of every method, as JSON.stringify writes it,
 * fits on one socket line, and what would not fit is refused by the schema with a clear message.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  MAX_ENQUEUE_URLS,
  MAX_EXTRACT_FIELDS,
  MAX_EXTRACT_NAME,
  MAX_EXTRACT_SPEC,
  MAX_JOB_REASON,
  MAX_JOB_SEARCH,
  MAX_LINE_BYTES,
  MAX_REASONS_LISTED,
  MAX_SEEDS,
  MAX_SEED_TEXT_BYTES,
  MAX_URL_LIST_BYTES,
  jsonBytes,
  type Method,
} from '../../server/src/protocol';
import { Params } from '../../server/src/daemon/params';
import { MAX_REASON, failureReason } from '../../server/src/core/failure-reason';
import { MAX_REASONS } from '../../server/src/core/job-rules';

/** Strings of `n` characters that each take 6 bytes as JSON (`\u0001`): the costliest there are. */
const escaped = (n: number) => '\u0001'.repeat(n);
/** `count` strings of one length whose JSON array takes `bytes` at most. */
const filling = (count: number, bytes: number, prefix: string) => {
  const each = Math.floor((bytes - 2) / count) - 3; // quotes and comma
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`.padEnd(each, 'x'));
};
const crawlId = `c_${'x'.repeat(62)}`;
const host = escaped(253);
const ids = Array.from({ length: 100_000 }, (_, i) => Number.MAX_SAFE_INTEGER - i);

const LARGEST: Record<Method, Record<string, unknown>> = {
  'crawl/start': {
    seeds: filling(MAX_SEEDS, MAX_URL_LIST_BYTES, 'http://a.example/'),
    name: escaped(200),
    maxDepth: 1000,
    maxPages: 100_000_000,
    scope: 'domain',
    include: Array.from({ length: 100 }, () => escaped(1000)),
    exclude: Array.from({ length: 100 }, () => escaped(1000)),
    followNofollow: false,
    storeBodies: false,
    addresses: 'private',
    warc: false,
    extract: Object.fromEntries(
      Array.from({ length: MAX_EXTRACT_FIELDS }, (_, i) => [`${escaped(MAX_EXTRACT_NAME - 6)}${String(i).padStart(4, '0')}[]`, escaped(MAX_EXTRACT_SPEC)]),
    ),
  },
  'crawl/list': {},
  'crawl/get': { crawlId },
  'crawl/pause': { crawlId },
  'crawl/resume': { crawlId },
  'crawl/cancel': { crawlId },
  'crawl/pages': { crawlId, cursor: escaped(32), limit: 1000, status: '5xx', search: escaped(1000) },
  'crawl/page': { crawlId, url: 'h'.repeat(8192) },
  'crawl/links': { crawlId, cursor: escaped(64), limit: 1000, from: 'h'.repeat(8192), to: 'h'.repeat(8192) },
  'crawl/report': { crawlId },
  'crawl/rates': { crawlId, since: '2026-12-08T03:00:00.000Z', bucketSeconds: 3600 },
  'jobs/enqueue': { urls: filling(MAX_ENQUEUE_URLS, MAX_URL_LIST_BYTES, 'http://a.example/'), crawlId, priority: -1000, maxAttempts: 100 },
  'jobs/list': {
    state: 'error',
    host,
    crawlId,
    limit: 1000,
    cursor: escaped(32),
    order: 'newest',
    search: escaped(MAX_JOB_SEARCH),
    reason: escaped(MAX_JOB_REASON),
  },
  'jobs/reasons': { crawlId, limit: MAX_REASONS_LISTED },
  'jobs/get': { id: Number.MAX_SAFE_INTEGER },
  'jobs/requeue': { ids, state: 'error', host, crawlId, reason: escaped(MAX_JOB_REASON) },
  'jobs/cancel': { ids },
  'queue/stats': {},
  'leases/list': {},
  'workers/list': { limit: 1000 },
  'hosts/list': { limit: 10_000 },
  'hosts/setLimit': { host, limit: 10_000 },
  'scheduler/status': {},
  'scheduler/pause': {},
  'scheduler/resume': {},
  'daemon/configure': { maxWorkers: 10_000, perHostLimit: 10_000 },
  'daemon/shutdown': {},
  'events/subscribe': {},
  'seeds/parse': { text: 'x'.repeat(MAX_SEED_TEXT_BYTES - 2) },
  'seeds/start': { uri: escaped(4096), text: 'x'.repeat(MAX_SEED_TEXT_BYTES - 2) },
};

test("the contract's bounds on failure reasons are the core's (which does not import the contract)", () => {
  assert.equal(MAX_JOB_REASON, MAX_REASON);
  assert.equal(MAX_REASONS_LISTED, MAX_REASONS);
  assert.equal(failureReason(`HTTP ${'x'.repeat(500)}`).length, MAX_JOB_REASON, 'a reason is cut there');
});

describe('the line limit and the params schemas', () => {
  for (const method of Object.keys(Params) as Method[]) {
    test(`${method}: its largest valid request fits on a line`, () => {
      const params = LARGEST[method];
      const checked = Params[method].safeParse(params);
      assert.ok(checked.success, `valid: ${checked.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const line = JSON.stringify({ jsonrpc: '2.0', id: Number.MAX_SAFE_INTEGER, method, params });
      assert.ok(Buffer.byteLength(line) <= MAX_LINE_BYTES, `${Buffer.byteLength(line)} bytes, over ${MAX_LINE_BYTES}`);
    });
  }

  test('URL lists and seed texts past their bytes are refused, saying what to do', () => {
    const urls = filling(1000, MAX_URL_LIST_BYTES + 4000, 'http://a.example/');
    assert.ok(jsonBytes(urls) > MAX_URL_LIST_BYTES);
    for (const [method, params] of [
      ['jobs/enqueue', { urls }],
      ['crawl/start', { seeds: urls }],
    ] as const) {
      const r = Params[method].safeParse(params);
      assert.equal(r.success, false);
      assert.deepEqual(
        r.error.issues.map((i) => i.message),
        ['the URLs come to more than 16 MiB as JSON; send them in several requests'],
      );
    }
    // Short enough in characters, too long as JSON: every newline is two bytes there.
    const r = Params['seeds/parse'].safeParse({ text: '\n'.repeat(MAX_SEED_TEXT_BYTES / 2) });
    assert.deepEqual(
      r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      ['text: must come to at most 10 MiB as JSON'],
    );
  });
});

/** The modules a fresh node process holds after running `args` (a script and its arguments), under out/ and node_modules/. */
function loadedBy(args: string[]): string[] {
  const hook = `process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'))`;
  const r = spawnSync(process.execPath, ['--require', hookFile(hook), ...args], { encoding: 'utf8', timeout: 60_000 });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `no module list: exit ${r.status}, ${r.stderr.slice(-500)}`);
  return (JSON.parse(line.slice('LOADED '.length)) as string[]).filter((f) => /\/(out|node_modules)\//.test(f));
}

function hookFile(body: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'loaded-')), 'hook.js');
  fs.writeFileSync(file, body);
  return file;
}

const OUT = path.resolve(__dirname, '..', '..');

describe('what the contract costs a client to load', () => {
  test('protocol.ts loads nothing but itself and the job states it shares with the queue: types and constants, no runtime dependency', () => {
    const loaded = loadedBy(['-e', `require(${JSON.stringify(path.join(OUT, 'server/src/protocol.js'))})`]);
    assert.deepEqual(
      loaded.map((f) => path.relative(OUT, f)),
      [path.join('server', 'src', 'protocol.js'), path.join('server', 'src', 'core', 'states.js')],
    );
  });

  test('crawlctl loads the params schemas (zod) only for a command that reads a seed file', () => {
    const crawlctl = path.join(OUT, '..', 'bin', 'crawlctl.js');
    const zod = (files: string[]) => files.some((f) => f.includes(`${path.sep}node_modules${path.sep}zod${path.sep}`));
    assert.equal(zod(loadedBy([crawlctl, '--help'])), false);
    assert.equal(zod(loadedBy([crawlctl, 'jobs', '--help'])), false);
  });
});
