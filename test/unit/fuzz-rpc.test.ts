/**
 * Bad input on the socket, property-based: every method of the contract with random and
 * adversarial params, then raw bytes (random, truncated, oversized, invalid UTF-8) and
 * connections opened and dropped. Every request gets a valid JSON-RPC 2.0 answer (a result, or an
 * error with a contract code and a plain message; never an internal error), the daemon lives,
 * its memory and descriptors stay bounded, and bytes that cannot be a write change nothing.
 *
 * The daemon's scheduler is paused for the whole file and never resumed, so nothing the fuzz
 * enqueues is fetched. Seeded: see helpers/fuzz.ts to replay a failure.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ErrorCodes, MAX_LINE_BYTES, type Method } from '../../server/src/protocol';
import { Params } from '../../server/src/daemon/params';
import { RawClient, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { Entries, answerProblem, check, fdCount, paramsFor, rssKiB, toJson } from './helpers/fuzz';
import { eventually } from './helpers/tmp';

let daemon: DaemonProc;
let c: RawClient;
let crawlId: string;
let jobIds: number[];
let nextId = 1;

before(async () => {
  daemon = await startDaemon({ args: ['--max-workers', '2'] });
  c = await RawClient.connect(daemon.socket);
  await c.request('scheduler/pause');
  // Something real for the fuzz to find: a crawl and a few jobs (never fetched: paused).
  crawlId = (await c.request('crawl/start', { seeds: ['http://127.0.0.9:9/'], name: 'fuzz' })).crawlId;
  jobIds = (await c.request('jobs/enqueue', { urls: ['http://127.0.0.9:9/a', 'http://127.0.0.9:9/b'] })).ids;
});

after(async () => {
  c?.close();
  await daemon?.stop();
});

/** The counts a request that cannot write must leave as they were. */
async function snapshot(client: RawClient) {
  const { jobsPerSecond: _rate, ...stats } = await client.request('queue/stats');
  const crawls = (await client.request('crawl/list')).crawls.map((x: { crawlId: string; state: string; counts: unknown }) => [x.crawlId, x.state, x.counts]);
  const hosts = (await client.request('hosts/list')).hosts.map((h: { host: string; limit: number; queued: number }) => [h.host, h.limit, h.queued]);
  return { stats, crawls, hosts };
}

// Things that exist, read when the arbitraries run (after the before hook).
const real = { crawlId: fc.constant(null).map(() => crawlId), jobId: fc.constantFrom(0, 1).map((i) => jobIds[i]) };
const paramsOf = (method: Method) => paramsFor(method, real);

const requestId = fc.oneof(
  fc.integer(),
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/**
 * Sends one request on a connection of its own (a failed run leaves no stray answer behind for
 * the shrinker's next one) and checks its answer; a line over the limit is answered as such.
 */
async function sendChecked(method: string, params: unknown, id: unknown, before?: string): Promise<any> {
  const line = `{"jsonrpc":"2.0","id":${toJson(id)},"method":${JSON.stringify(method)}${params === undefined ? '' : `,"params":${toJson(params)}`}}\n`;
  const k = await RawClient.connect(daemon.socket);
  let r: any;
  try {
    if (before !== undefined) k.send(before);
    k.send(line);
    r = await k.next(30_000);
  } finally {
    k.close();
  }
  const problem = answerProblem(r, JSON.parse(JSON.stringify(JSON.parse(toJson(id)))));
  if (Buffer.byteLength(line) - 1 > MAX_LINE_BYTES) {
    assert.deepEqual([problem, r.error?.code], [null, ErrorCodes.InvalidRequest], 'a line over the limit, answered to the id it starts with');
    return r;
  }
  assert.equal(problem, null, `${method} ${line.length > 600 ? `${line.slice(0, 600)}… (${line.length} bytes)` : line}\n→ ${JSON.stringify(r).slice(0, 600)}`);
  return r;
}

const METHODS = Object.keys(Params) as Method[];

describe('every method with random and adversarial params', () => {
  let rssBefore = 0;
  before(() => {
    rssBefore = rssKiB(daemon.child.pid!);
  });

  for (const method of METHODS) {
    test(method, async () => {
      await check(
        fc.asyncProperty(paramsOf(method), requestId, async (params, id) => {
          await sendChecked(method, params, id);
        }),
        120,
      );
      assert.ok((await c.request('queue/stats')).total >= 3, 'the daemon answers after');
    });
  }

  test('the daemon held its course: alive, still paused, nothing leased, prototypes clean', async () => {
    const status = await c.request('scheduler/status');
    assert.equal(status.paused, true);
    assert.deepEqual((await c.request('leases/list')).leases, []);
    // Had a `__proto__` key polluted Object.prototype with ids or state, this would requeue.
    const e = (await c.call('jobs/requeue', {})).error;
    assert.equal(e.code, ErrorCodes.InvalidParams);
    assert.match(e.message, /give ids, state, host, crawlId or reason/);
    assert.equal(daemon.child.exitCode, null);
  });

  test('memory stays bounded over a long mixed run', async (t) => {
    const mixed = fc.constantFrom(...METHODS).chain((m) => fc.tuple(fc.constant(m), paramsOf(m)));
    const middle = rssKiB(daemon.child.pid!);
    await check(
      fc.asyncProperty(mixed, async ([method, params]) => {
        await sendChecked(method, params, nextId++);
      }),
      1_500,
    );
    const end = rssKiB(daemon.child.pid!);
    // Generous: a leak of a few KB a request over ~4,000 requests, some near 1 MiB, shows well above this.
    const bound = Math.max(rssBefore, middle) + 192 * 1024;
    t.diagnostic(`daemon RSS: ${rssBefore} KiB before the fuzz, ${middle} KiB after one pass of every method, ${end} KiB after the mixed run`);
    assert.ok(end < bound, `RSS ${end} KiB after the runs, ${rssBefore} KiB before (bound ${bound} KiB)`);
  });
});

describe('envelopes and ids', () => {
  test('errors stay short however much input they are about', async () => {
    const long = 'x'.repeat(2_000);
    const cases: [string, unknown][] = [
      ['crawl/start', { seeds: Array.from({ length: 400 }, (_, i) => `ftp://${i}.example/${long}`) }],
      ['jobs/enqueue', { urls: Array.from({ length: 5_000 }, (_, i) => i) }],
      ['jobs/cancel', { ids: Array.from({ length: 5_000 }, () => 'x') }],
      ['queue/stats', Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`${long}${i}`, 1]))],
      ['crawl/start', { seeds: ['http://127.0.0.9:9/'], include: Array.from({ length: 100 }, (_, i) => `/[${i}${'y'.repeat(900)}/`) }],
      ['seeds/start', { uri: 'u', text: Array.from({ length: 300 }, () => `bogus${long}: 1`).join('\n') }],
    ];
    for (const [method, params] of cases) {
      const r = await sendChecked(method, params, nextId++);
      assert.ok(r.error, method);
    }
  });

  test('odd ids: each echoed, or refused with id null', async () => {
    const cases: [string, unknown][] = [
      ['1e999', null],
      ['-1e999', null],
      ['-0', 0],
      ['1e-400', 0],
      ['9007199254740993', 9007199254740992],
      ['{"__proto__":1}', null],
      ['[1]', null],
      ['true', null],
      ['null', null],
      ['""', ''],
      ['"\\ud800"', '\ud800'],
    ];
    for (const [raw, id] of cases) {
      c.send(`{"jsonrpc":"2.0","id":${raw},"method":"queue/stats"}\n`);
      const r = await c.next();
      assert.equal(answerProblem(r, id), null, `${raw} → ${JSON.stringify(r)}`);
    }
  });

  test('a notification (no id) with params in an object is never answered, whatever they hold', async () => {
    await check(
      fc.asyncProperty(
        fc.constantFrom(...METHODS.filter((m) => m !== 'scheduler/resume' && m !== 'daemon/shutdown')).chain((m) =>
          fc.tuple(
            fc.constant(m),
            paramsOf(m).filter((p) => p instanceof Entries && toJson(p).length < MAX_LINE_BYTES / 2),
          ),
        ),
        async ([method, params]) => {
          const id = `after-${nextId++}`;
          const r = await sendChecked('scheduler/status', {}, id, `{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${toJson(params)}}\n`);
          assert.equal(r.id, id, 'the next answer is to the next request');
        },
      ),
      100,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Raw bytes

/** What the daemon owes for these bytes once a newline follows: one answer per non-blank line. */
function linesOwed(bytes: Buffer): number {
  let owed = 0;
  let start = 0;
  for (let nl = bytes.indexOf(10); nl !== -1; nl = bytes.indexOf(10, start)) {
    const text = bytes.subarray(start, nl).toString('utf8');
    start = nl + 1;
    if (text.trim() === '') continue;
    try {
      const m = JSON.parse(text) as Record<string, unknown> | null;
      // A well-formed notification is answered by nothing; random bytes will hardly make one.
      if (m && typeof m === 'object' && !Array.isArray(m) && m.jsonrpc === '2.0' && typeof m.method === 'string' && !('id' in m)) continue;
    } catch {
      // A parse error is owed.
    }
    owed++;
  }
  return owed;
}

/** Answers for `owed` lines and for the sentinel (in any order: answers need not keep the lines' order). */
async function drain(k: RawClient, owed: number, sentinel: string): Promise<void> {
  k.send(`${JSON.stringify({ jsonrpc: '2.0', id: sentinel, method: 'queue/stats' })}\n`);
  let sentinelSeen = false;
  for (let i = 0; i <= owed; i++) {
    const r = await k.next(20_000);
    if (!Array.isArray(r) && r.id === sentinel) {
      assert.ok(!sentinelSeen && r.result, JSON.stringify(r));
      sentinelSeen = true;
      continue;
    }
    for (const a of Array.isArray(r) ? r : [r]) {
      assert.equal(answerProblem(a, a.id), null, JSON.stringify(a).slice(0, 300));
      assert.ok(a.error, `random bytes cannot make a request that succeeds: ${JSON.stringify(a).slice(0, 300)}`);
    }
  }
  assert.ok(sentinelSeen, 'the sentinel was answered');
}

describe('raw bytes on the socket', () => {
  test('random bytes, random JSON, invalid UTF-8 and truncated frames: answered, then the sentinel', async () => {
    const was = await snapshot(c);
    const k = await RawClient.connect(daemon.socket);
    const validLine = fc.constantFrom(...METHODS).map((m) => Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"${m}","params":{}}`));
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from([0x22, ...a.map((b) => b | 0x80), 0x22])),
      fc.tuple(validLine, fc.nat()).map(([l, n]) => l.subarray(0, n % l.length)),
    );
    await check(
      fc.asyncProperty(fc.array(chunk, { minLength: 1, maxLength: 6 }), async (chunks) => {
        const bytes = Buffer.concat([...chunks.flatMap((b) => [b, Buffer.from('\n')])]);
        // In pieces of random size, as a stream may cut them.
        for (let i = 0; i < bytes.length; i += 37) k.send(bytes.subarray(i, i + 37));
        await drain(k, linesOwed(bytes), `s-${nextId++}`);
      }),
      200,
    );
    k.close();
    assert.deepEqual(await snapshot(c), was, 'nothing written');
  });

  test('a huge line, then a request in the same write: the first refused, the second served', async () => {
    const k = await RawClient.connect(daemon.socket);
    k.send(Buffer.concat([Buffer.alloc(MAX_LINE_BYTES + 1, 0x7b), Buffer.from('\n{"jsonrpc":"2.0","id":"x","method":"queue/stats"}\n')]));
    // Lines of 18 MiB each: on a loaded machine one took past next()'s usual 10 s to come back.
    const BIG_MS = 60_000;
    const first = await k.next(BIG_MS);
    assert.deepEqual([first.id, first.error.code], [null, ErrorCodes.InvalidRequest]);
    assert.equal((await k.next(BIG_MS)).id, 'x');
    // Exactly at the limit is not over it.
    const pad = MAX_LINE_BYTES - '{"jsonrpc":"2.0","id":"y","method":"queue/stats","p":""}'.length;
    k.send(`{"jsonrpc":"2.0","id":"y","method":"queue/stats","p":"${'p'.repeat(pad)}"}\n`);
    const at = await k.next(BIG_MS);
    assert.equal(at.id, 'y');
    assert.ok(at.result, 'served, not refused for its length');
    // Deep nesting up to the limit: parsed or refused, never a crash.
    const depth = Math.floor((MAX_LINE_BYTES - 200) / 2);
    k.send(`{"jsonrpc":"2.0","id":"z","method":"seeds/parse","params":{"text":${'['.repeat(depth)}${']'.repeat(depth)}}}\n`);
    const nested = await k.next(BIG_MS);
    assert.equal(answerProblem(nested, nested.id), null);
    assert.ok(nested.error && (nested.id === 'z' || nested.id === null));
    k.close();
  });

  test('many connections opened and dropped, some mid-request: the daemon lives, no descriptor leaks', async () => {
    const pid = daemon.child.pid!;
    const fdsBefore = fdCount(pid);
    const snap = await snapshot(c);
    for (let round = 0; round < 5; round++) {
      const clients = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(daemon.socket)));
      clients.forEach((k, i) => {
        if (i % 3 === 0) k.send('{"jsonrpc":"2.0","id":1,"method":"queue/st');
        if (i % 3 === 1) k.send('{"jsonrpc":"2.0","id":1,"method":"jobs/list","params":{"limit":1000}}\n');
        k.socket.destroy();
      });
    }
    assert.ok((await c.request('queue/stats')).total >= 3);
    await eventually('the daemon to close the dropped connections', () => fdCount(pid) <= fdsBefore + 2, 10_000);
    assert.deepEqual(await snapshot(c), snap, 'nothing written');
    assert.equal(daemon.child.exitCode, null);
  });
});

describe('large answers', () => {
  test('a batch whose answers would pass 16 MB: the rest of its members are refused, by id', async () => {
    // Pages of a thousand jobs with 2 KB URLs: answers of about 2.5 MB each.
    for (let i = 0; i < 1_000; i += 250) {
      await c.request('jobs/enqueue', { urls: Array.from({ length: 250 }, (_, j) => `http://127.0.0.9:9/big/${i + j}/${'p'.repeat(2_000)}`) });
    }
    const k = await RawClient.connect(daemon.socket);
    try {
      k.send(`${JSON.stringify(Array.from({ length: 20 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'jobs/list', params: { limit: 1000, cursor: '0' } })))}\n`);
      const answers: any[] = await k.next(30_000);
      assert.deepEqual(
        answers.map((a) => a.id),
        Array.from({ length: 20 }, (_, id) => id),
      );
      const refused = answers.filter((a) => a.error);
      assert.ok(answers[0].result && refused.length > 0, `${refused.length} refused`);
      for (const a of refused) assert.deepEqual([a.error.code, /fewer requests/.test(a.error.message)], [ErrorCodes.Unavailable, true]);
    } finally {
      k.close();
    }
    assert.equal(daemon.child.exitCode, null);
  });
});
