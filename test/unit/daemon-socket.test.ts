/**
 * The socket contract, method by method, over the real transport: the daemon is a child process,
 * the crawl targets are real HTTP servers on loopback addresses.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { failureReason } from '../../server/src/core/failure-reason';
import { ErrorCodes, MAX_LINE_BYTES, MAX_SEED_TEXT_BYTES } from '../../server/src/protocol';
import { RawClient, fileMode, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { startSite } from './helpers/sites';
import { eventually } from './helpers/tmp';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let daemon: DaemonProc;
let c: RawClient;
let a: TestWeb;
let b: TestWeb;

before(async () => {
  b = await startWeb('127.0.0.3', { '/': ['/x'], '/x': [] });
  a = await startWeb('127.0.0.2', { '/': ['/one', '/two', '/missing', b.url('/')], '/one': ['/two'], '/two': [] }, ['/gate', '/gate2']);
  daemon = await startDaemon({ args: ['--per-host', '2'] });
  c = await RawClient.connect(daemon.socket);
});

after(async () => {
  c?.close();
  await daemon?.stop();
});

/** The JSON-RPC error of a call that must fail. */
async function fails(client: RawClient, method: string, params?: unknown): Promise<{ code: number; message: string }> {
  const r = await client.call(method, params);
  assert.ok(r.error, `${method} should fail, got ${JSON.stringify(r.result)}`);
  return r.error;
}

async function crawlDone(crawlId: string) {
  return eventually(
    `crawl ${crawlId} to finish`,
    async () => {
      const { crawl } = await c.request('crawl/get', { crawlId });
      return crawl.state === 'finished' ? crawl : null;
    },
    15_000,
  );
}

describe('socket contract', () => {
  test('the state folder is 0700 and the socket 0600', () => {
    assert.equal(fileMode(daemon.stateDir), 0o700);
    assert.equal(fileMode(daemon.socket), 0o600);
    assert.equal(path.dirname(daemon.socket), daemon.stateDir);
  });

  test('crawl/start crawls across hosts; crawl/get, crawl/list, jobs/list, jobs/get tell the story', async () => {
    const started = await c.request('crawl/start', { seeds: [a.url('/'), 'ftp://nope.example/'], scope: 'any', maxDepth: 3, name: 'two hosts' });
    assert.match(started.crawlId, /^[A-Za-z0-9_-]+$/);
    assert.equal(started.enqueued, 1);
    assert.deepEqual(started.rejected, [{ url: 'ftp://nope.example/', reason: 'scheme ftp: is not http(s)' }]);
    const crawl = await crawlDone(started.crawlId);
    assert.equal(crawl.name, 'two hosts');
    assert.deepEqual(crawl.counts, { queued: 0, in_progress: 0, done: 5, skipped: 0, error: 1 });
    assert.match(crawl.createdAt, ISO);
    assert.match(crawl.finishedAt, ISO);
    assert.equal(a.hits('/two'), 1, 'a page linked twice is fetched once');
    assert.ok((await c.request('crawl/list')).crawls.some((x: { crawlId: string }) => x.crawlId === started.crawlId));

    const mine = await c.request('jobs/list', { crawlId: started.crawlId });
    assert.deepEqual(
      mine.jobs.map((j: { url: string }) => j.url).sort(),
      [a.url('/'), a.url('/missing'), a.url('/one'), a.url('/two'), b.url('/'), b.url('/x')].sort(),
    );
    const onB = await c.request('jobs/list', { crawlId: started.crawlId, host: '127.0.0.3' });
    assert.deepEqual(
      onB.jobs.map((j: { url: string }) => j.url),
      [b.url('/'), b.url('/x')],
    );
    const failed = await c.request('jobs/list', { crawlId: started.crawlId, state: 'error' });
    assert.equal(failed.jobs.length, 1);
    assert.equal(failed.jobs[0].lastError, 'HTTP 404');
    assert.equal(failed.jobs[0].host, '127.0.0.2');

    // Keyset paging: one job a page, each page after the last, and the end says so.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { jobs: { id: number }[]; nextCursor: string | null } = await c.request('jobs/list', { crawlId: started.crawlId, limit: 1, cursor });
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen,
      mine.jobs.map((j: { id: number }) => j.id),
    );

    const { job, events } = await c.request('jobs/get', { id: mine.jobs[0].id });
    assert.equal(job.state, 'done');
    assert.equal(job.result.status, 200);
    assert.equal(job.leaseExpiresAt, null, 'no lease times once the lease is over');
    for (const t of [job.createdAt, job.updatedAt, ...events.map((e: { at: string }) => e.at)]) assert.match(t, ISO);
    assert.deepEqual(
      events.map((e: { type: string }) => e.type),
      ['enqueued', 'leased', 'done'],
    );
    assert.ok(events[1].workerId, 'the lease names its worker');
  });

  test('jobs/enqueue: the valid URLs go in even when others are rejected; duplicates counted', async () => {
    await c.request('scheduler/pause');
    try {
      const long = `http://127.0.0.3/${'a'.repeat(9000)}`;
      const r = await c.request('jobs/enqueue', { urls: [b.url('/x?q=1'), 'not a url', 'javascript:alert(1)', long, b.url('/x?q=1#frag')], priority: 5 });
      assert.equal(r.enqueued, 1);
      assert.equal(r.duplicates, 1);
      assert.equal(r.ids.length, 1);
      assert.deepEqual(
        r.rejected.map((x: { reason: string }) => x.reason),
        ['not a URL', 'scheme javascript: is not http(s)', 'longer than 8 KiB'],
      );
      const { job } = await c.request('jobs/get', { id: r.ids[0] });
      assert.deepEqual([job.state, job.priority, job.crawlId], ['queued', 5, null]);

      const status = await c.request('scheduler/status');
      assert.equal(status.paused, true);
      assert.match(status.idleReason, /paused/);
      assert.match(status.workerId, /:\d+:/);
      assert.equal(status.running, 0);

      // Cancel and requeue go through the same fence: what was queued is skipped, and back.
      assert.deepEqual(await c.request('jobs/cancel', { ids: r.ids }), { cancelled: 1 });
      assert.equal((await c.request('jobs/get', { id: r.ids[0] })).job.state, 'skipped');
      assert.deepEqual(await c.request('jobs/requeue', { ids: r.ids }), { requeued: 1 });
      assert.equal((await c.request('jobs/get', { id: r.ids[0] })).job.state, 'queued');
    } finally {
      await c.request('scheduler/resume');
    }
    assert.equal((await c.request('scheduler/status')).paused, false);
  });

  test('queue/stats adds up; jobs/requeue by state', async () => {
    await eventually('the queue to drain', async () => {
      const now = await c.request('queue/stats');
      return now.queued === 0 && now.in_progress === 0;
    });
    const s = await c.request('queue/stats');
    assert.equal(s.total, s.queued + s.in_progress + s.done + s.skipped + s.error);
    assert.equal(typeof s.jobsPerSecond, 'number');
    const onA = (await c.request('jobs/list', { state: 'error', host: '127.0.0.2' })).jobs;
    assert.ok(onA.length >= 1 && s.error > onA.length, 'errors on both hosts');
    assert.deepEqual(await c.request('jobs/requeue', { state: 'error', host: '127.0.0.2' }), { requeued: onA.length });
    const { events } = await c.request('jobs/get', { id: onA[0].id });
    assert.ok(events.some((e: { type: string; detail: string }) => e.type === 'requeued' && e.detail === 'was error'));
    await eventually('the requeued jobs to fail again', async () => (await c.request('queue/stats')).error === s.error);
    const err = await fails(c, 'jobs/requeue', {});
    assert.equal(err.code, ErrorCodes.InvalidParams);
    assert.match(err.message, /ids, state, host, crawlId or reason/);
  });

  test('jobs/reasons counts failures by reason, of a crawl or of all; jobs/list and jobs/requeue take a reason', async () => {
    // Two pages gone (410) and one not found (404), of a site of their own.
    const site = await startSite((req, res) => {
      res.writeHead(req.url?.startsWith('/gone-') ? 410 : 404);
      res.end();
    }, '127.0.0.5');
    try {
      const { crawlId } = await c.request('crawl/start', {
        seeds: [site.url('/gone-1'), site.url('/gone-2'), site.url('/missing')],
        maxDepth: 0,
        name: 'reasons',
      });
      await crawlDone(crawlId);
      const { reasons } = await c.request('jobs/reasons', { crawlId });
      assert.deepEqual(reasons, [
        { reason: 'HTTP 410', count: 2 },
        { reason: 'HTTP 404', count: 1 },
      ]);
      const failed = (await c.request('jobs/list', { crawlId, state: 'error' })).jobs as { lastError: string }[];
      assert.deepEqual(failed.map((j) => failureReason(j.lastError)).sort(), ['HTTP 404', 'HTTP 410', 'HTTP 410'], 'the reasons of their errors');
      // Every crawl's: this crawl's among them, counted with the others' (the crawls before failed on 404s too).
      const all = (await c.request('jobs/reasons')).reasons as { reason: string; count: number }[];
      assert.equal(
        all.reduce((n, r) => n + r.count, 0),
        (await c.request('queue/stats')).error,
      );
      assert.ok(all.find((r) => r.reason === 'HTTP 404')!.count > 1);
      assert.deepEqual((await c.request('jobs/reasons', { limit: 1 })).reasons, all.slice(0, 1));

      const newest = await c.request('jobs/list', { crawlId, reason: 'HTTP 410', order: 'newest', limit: 1 });
      assert.deepEqual(
        newest.jobs.map((j: { url: string }) => j.url),
        [site.url('/gone-2')],
      );
      assert.equal(newest.nextCursor, String(newest.jobs[0].id));
      const next = await c.request('jobs/list', { crawlId, reason: 'HTTP 410', order: 'newest', limit: 1, cursor: newest.nextCursor });
      assert.deepEqual(
        next.jobs.map((j: { url: string }) => j.url),
        [site.url('/gone-1')],
      );
      assert.deepEqual(
        (await c.request('jobs/list', { reason: 'HTTP 404', state: 'error', crawlId })).jobs.map((j: { url: string }) => j.url),
        [site.url('/missing')],
      );

      // Paused, so the requeued jobs are not fetched (and failed again) before the count is read.
      await c.request('scheduler/pause');
      try {
        assert.deepEqual(await c.request('jobs/requeue', { reason: 'HTTP 410', crawlId }), { requeued: 2 });
        assert.deepEqual((await c.request('jobs/reasons', { crawlId })).reasons, [{ reason: 'HTTP 404', count: 1 }], 'requeued: off the count at once');
      } finally {
        await c.request('scheduler/resume');
      }
      await crawlDone(crawlId);
      assert.deepEqual((await c.request('jobs/reasons', { crawlId })).reasons, reasons, 'failed again, for the same reason');
    } finally {
      await site.close();
    }
  });

  test('leases/list shows a running job with its worker and lease times', async () => {
    const {
      ids: [id],
    } = await c.request('jobs/enqueue', { urls: [a.url('/gate')] });
    try {
      const lease = await eventually('the gate job to be leased', async () =>
        (await c.request('leases/list')).leases.find((l: { jobId: number }) => l.jobId === id),
      );
      const { workerId } = await c.request('scheduler/status');
      assert.equal(lease.url, a.url('/gate'));
      assert.equal(lease.workerId, workerId);
      assert.equal(lease.host, '127.0.0.2');
      for (const t of [lease.leasedAt, lease.expiresAt, lease.heartbeatAt]) assert.match(t, ISO);
      assert.ok(Date.parse(lease.expiresAt) > Date.parse(lease.leasedAt));
      const { job } = await c.request('jobs/get', { id });
      assert.equal(job.state, 'in_progress');
      assert.match(job.leaseExpiresAt, ISO);
    } finally {
      a.open('/gate');
    }
    await eventually('the gate job to finish', async () => (await c.request('jobs/get', { id })).job.state === 'done');
  });

  test('hosts/list and hosts/setLimit', async () => {
    assert.deepEqual(await c.request('hosts/setLimit', { host: '127.0.0.3', limit: 5 }), { host: '127.0.0.3', limit: 5 });
    const { hosts } = await c.request('hosts/list');
    const h = hosts.find((x: { host: string }) => x.host === '127.0.0.3');
    assert.equal(h.limit, 5);
    assert.ok(['ready', 'busy', 'delayed', 'backoff', 'blocked'].includes(h.state));
    assert.ok(h.done >= 1);
    const bad = await fails(c, 'hosts/setLimit', { host: 'not a host/..', limit: 1 });
    assert.equal(bad.code, ErrorCodes.InvalidParams);
    assert.match(bad.message, /^host: /);
    assert.match((await fails(c, 'hosts/setLimit', { host: 'a.example', limit: 0 })).message, /^limit: /);
  });

  test('crawl/pause, crawl/resume, crawl/cancel, and their errors', async () => {
    await c.request('scheduler/pause');
    try {
      const { crawlId } = await c.request('crawl/start', { seeds: [b.url('/?held')], name: 'held' });
      assert.equal((await c.request('crawl/pause', { crawlId })).crawl.state, 'paused');
      // Why nothing runs names the crawl "name (id)", as everywhere.
      await c.request('scheduler/resume');
      assert.match((await c.request('scheduler/status')).idleReason ?? '', new RegExp(`belongs? to paused crawl held \\(${crawlId}\\)`));
      await c.request('scheduler/pause');
      assert.equal((await c.request('crawl/resume', { crawlId })).crawl.state, 'running');
      const cancelled = await c.request('crawl/cancel', { crawlId });
      assert.equal(cancelled.crawl.state, 'cancelled');
      assert.equal(cancelled.cancelled, 1);
      const conflict = await fails(c, 'crawl/resume', { crawlId });
      assert.equal(conflict.code, ErrorCodes.Conflict);
      const missing = await fails(c, 'crawl/get', { crawlId: 'c_doesnotexist' });
      assert.equal(missing.code, ErrorCodes.NotFound);
      assert.match(missing.message, /c_doesnotexist/);
    } finally {
      await c.request('scheduler/resume');
    }
  });

  test('daemon/configure validates and applies', async () => {
    assert.deepEqual(await c.request('daemon/configure', { maxWorkers: 3 }), { maxWorkers: 3, perHostLimit: 2 });
    assert.equal((await c.request('scheduler/status')).maxWorkers, 3);
    const e = await fails(c, 'daemon/configure', { maxWorkers: 0 });
    assert.equal(e.code, ErrorCodes.InvalidParams);
    assert.match(e.message, /^maxWorkers: /);
    await c.request('daemon/configure', { maxWorkers: 16 });
  });

  test('seeds/parse answers with start params or problems by line', async () => {
    const ok = await c.request('seeds/parse', { text: `max-depth: 1\n${a.url('/')}\n` });
    assert.deepEqual(ok, { start: { maxDepth: 1, seeds: [a.url('/')] }, problems: [] });
    const bad = await c.request('seeds/parse', { text: 'scope: everywhere\nhttp://x.example/\n' });
    assert.equal(bad.start, null);
    assert.equal(bad.problems[0].line, 1);
    assert.equal(bad.problems[0].severity, 'error');
    const repeated = await c.request('seeds/parse', { text: 'http://x.example/\nhttp://x.example/\n' });
    assert.deepEqual(repeated.problems, [{ line: 2, message: 'the same page as line 1', severity: 'warning' }], 'a warning: the line is not left out');
  });
});

describe('errors', () => {
  test('-32700 with the id the line starts with, else null, and the connection stays usable', async () => {
    c.send('{"jsonrpc":"2.0","id":1,"method":\n');
    const r = await c.next();
    assert.deepEqual([r.id, r.error.code], [1, ErrorCodes.ParseError]);
    c.send('{"jsonrpc":"2.0","method":"queue/stats","id":2,\n');
    assert.deepEqual((await c.next()).id, null);
    c.send(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x0a]));
    assert.equal((await c.next()).error.code, ErrorCodes.ParseError);
    assert.equal((await c.call('queue/stats')).result.total >= 0, true);
  });

  test('-32600 for what is JSON but not a request', async () => {
    const cases: [string, unknown][] = [
      ['42', null],
      ['"hi"', null],
      ['null', null],
      ['[]', null],
      ['{"id":7,"method":"queue/stats"}', 7],
      ['{"jsonrpc":"1.0","id":8,"method":"queue/stats"}', 8],
      ['{"jsonrpc":"2.0","id":9,"method":42}', 9],
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"queue/stats"}', null],
      ['{"jsonrpc":"2.0","id":10,"method":"queue/stats","params":"x"}', 10],
      ['{"jsonrpc":"2.0","id":11,"method":"queue/stats","params":null}', 11],
    ];
    for (const [line, id] of cases) {
      c.send(`${line}\n`);
      const r = await c.next();
      assert.equal(r.error?.code, ErrorCodes.InvalidRequest, line);
      assert.equal(r.id, id, line);
      assert.equal(r.jsonrpc, '2.0');
    }
  });

  test('-32601 names the unknown method; a notification of one gets no answer', async () => {
    c.send('{"jsonrpc":"2.0","method":"no/such"}\n');
    const e = await fails(c, 'jobs/explode', {});
    assert.equal(e.code, ErrorCodes.MethodNotFound);
    assert.match(e.message, /jobs\/explode/);
    assert.equal(c.notifications.length, 0);
  });

  test('-32602 names each field and what was wrong', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['crawl/start', {}, /^seeds: /],
      ['crawl/start', { seeds: [] }, /^seeds: needs at least one seed URL/],
      ['crawl/start', { seeds: ['http://x/', ''] }, /^seeds\.1: must not be empty/],
      ['crawl/start', { seeds: ['http://x/'], scope: 'planet' }, /^scope: /],
      ['crawl/start', { seeds: ['http://x/'], bogus: 1 }, /^bogus: unknown field/],
      ['jobs/get', { id: 'one' }, /^id: /],
      ['jobs/get', { id: -1 }, /^id: /],
      ['jobs/list', { limit: 5000 }, /^limit: /],
      ['jobs/list', { cursor: 'abc' }, /cursor/],
      ['jobs/list', { state: 'lost' }, /^state: /],
      ['jobs/list', { state: 'done', reason: 'HTTP 404' }, /^state: only failed jobs have a reason: give the state error, or none$/],
      ['jobs/list', { reason: 'x'.repeat(121) }, /^reason: /],
      ['jobs/list', { reason: 404 }, /^reason: /],
      ['jobs/reasons', { limit: 0 }, /^limit: /],
      ['jobs/reasons', { limit: 1001 }, /^limit: /],
      ['jobs/reasons', { crawlId: "x' OR 1=1" }, /^crawlId: must be a crawl id/],
      ['jobs/reasons', { state: 'error' }, /^state: unknown field/],
      ['jobs/requeue', { state: 'skipped', reason: 'HTTP 404' }, /^state: only failed jobs have a reason/],
      ['crawl/get', { crawlId: "x'; DROP TABLE jobs; --" }, /^crawlId: must be a crawl id/],
      ['queue/stats', [1, 2], /^params: pass parameters by name/],
      ['crawl/start', { seeds: ['ftp://only.bad/'] }, /no valid seed URL/],
    ];
    for (const [method, params, message] of cases) {
      const e = await fails(c, method, params);
      assert.equal(e.code, ErrorCodes.InvalidParams, `${method} ${JSON.stringify(params)}`);
      assert.match(e.message, message, `${method} ${JSON.stringify(params)}`);
    }
    assert.ok((await c.request('queue/stats')).total > 0, 'the jobs table is still there');
  });

  test('-32001 for a job that does not exist', async () => {
    const e = await fails(c, 'jobs/get', { id: 987654 });
    assert.deepEqual(e, { code: ErrorCodes.NotFound, message: 'job 987654 does not exist' });
  });

  test('batches: each request answered, in one array', async () => {
    c.send(
      `${JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'queue/stats' },
        { jsonrpc: '2.0', id: 'b', method: 'nope' },
        { jsonrpc: '2.0', method: 'queue/stats' },
        5,
      ])}\n`,
    );
    const r = await c.next();
    assert.ok(Array.isArray(r));
    assert.deepEqual(
      r.map((x: { id: unknown }) => x.id),
      ['a', 'b', null],
    );
    assert.ok(r[0].result);
    assert.equal(r[1].error.code, ErrorCodes.MethodNotFound);
    assert.equal(r[2].error.code, ErrorCodes.InvalidRequest);
  });

  test('a line over the limit is answered with an error, dropped, and the connection goes on', async () => {
    const x = await RawClient.connect(daemon.socket);
    const chunk = 'x'.repeat(64 * 1024);
    for (let sent = 0; sent <= MAX_LINE_BYTES + chunk.length; sent += chunk.length) x.send(chunk);
    const r = await x.next();
    assert.deepEqual([r.id, r.error.code], [null, ErrorCodes.InvalidRequest]);
    assert.match(r.error.message, new RegExp(`longer than ${MAX_LINE_BYTES} bytes`));
    x.send('more of the same line\n');
    assert.ok((await x.call('queue/stats')).result, 'the next line is read as a fresh request');
    // A long line that never ends, then the client hangs up: nothing to answer, the daemon lives.
    x.send('y'.repeat(3 * MAX_LINE_BYTES));
    x.close();
    const y = await RawClient.connect(daemon.socket);
    assert.ok((await y.call('queue/stats')).result);
    y.close();
  });

  test('a seed text at its limit is served', async () => {
    const padding = 'p'.repeat(MAX_SEED_TEXT_BYTES - 200);
    const r = await c.call('seeds/parse', { text: `# ${padding}\nhttp://x.example/\n` });
    assert.deepEqual(r.result.start.seeds, ['http://x.example/']);
  });
});

describe('many clients', () => {
  test('fifty clients at once, each pipelining requests, every answer to its own id', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => RawClient.connect(daemon.socket)));
    await Promise.all(
      clients.map(async (k, i) => {
        for (let n = 0; n < 20; n++)
          k.send(`${JSON.stringify({ jsonrpc: '2.0', id: `${i}-${n}`, method: n % 2 ? 'queue/stats' : 'jobs/list', params: n % 2 ? {} : { limit: 2 } })}\n`);
        const ids: string[] = [];
        for (let n = 0; n < 20; n++) {
          const r = await k.next();
          assert.ok(r.result, JSON.stringify(r.error));
          ids.push(r.id);
        }
        assert.deepEqual(ids.sort(), Array.from({ length: 20 }, (_, n) => `${i}-${n}`).sort());
      }),
    );
    clients.forEach((k) => k.close());
    assert.ok((await c.request('queue/stats')).total > 0);
  });

  test('a client that vanishes mid-request does not hurt the others', async () => {
    const k = await RawClient.connect(daemon.socket);
    k.send(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'jobs/list', params: { limit: 1000 } })}\n`);
    k.socket.destroy();
    assert.ok((await c.request('jobs/list', { limit: 1 })).jobs.length === 1);
  });
});

describe('notifications', () => {
  test('subscribers get batched jobs/changed and queue/statsChanged; others get nothing', async () => {
    const sub = await RawClient.connect(daemon.socket);
    const quiet = await RawClient.connect(daemon.socket);
    assert.deepEqual(await sub.request('events/subscribe'), { subscribed: true });
    await c.request('scheduler/pause');
    try {
      const urls = Array.from({ length: 100 }, (_, i) => b.url(`/n/${i}`));
      const { ids } = await c.request('jobs/enqueue', { urls });
      const changed = new Map<number, string>();
      await eventually('jobs/changed for all 100 jobs', () => {
        for (const n of sub.notifications) if (n.method === 'jobs/changed') for (const ch of n.params.changes) changed.set(ch.id, ch.state);
        return ids.every((id: number) => changed.get(id) === 'queued');
      });
      const batches = sub.notifications.filter((n) => n.method === 'jobs/changed');
      assert.ok(batches.length < 100, `batched (${batches.length} notifications for 100 changes)`);
      assert.ok(batches.every((n) => n.params.truncated === false));
      await eventually('queue/statsChanged', () => sub.notifications.some((n) => n.method === 'queue/statsChanged' && n.params.queued >= 100));
      await c.request('jobs/cancel', { ids });

      // Too many at once to list: one truncated notice, and clients refetch.
      const many = await c.request('jobs/enqueue', { urls: Array.from({ length: 600 }, (_, i) => b.url(`/many/${i}`)) });
      await eventually('a truncated jobs/changed', () =>
        sub.notifications.some((n) => n.method === 'jobs/changed' && n.params.truncated === true && n.params.changes.length === 0),
      );
      const seen = sub.notifications.length;
      await c.request('jobs/cancel', { ids: many.ids });
      // Settled before the next test watches for its own changes.
      await eventually('the cancels notified', () => sub.notifications.slice(seen).some((n) => n.method === 'queue/statsChanged' && n.params.queued === 0));
    } finally {
      await c.request('scheduler/resume');
    }
    assert.ok((await quiet.request('queue/stats')).total > 0);
    assert.equal(quiet.notifications.length, 0, 'no notifications without subscribing');
    sub.close();
    quiet.close();
  });

  test("one client's pause and resume reach every subscriber, though no count changed", async () => {
    const sub = await RawClient.connect(daemon.socket);
    await sub.request('events/subscribe');
    const pushes = () => sub.notifications.filter((n) => n.method === 'queue/statsChanged').length;
    try {
      for (const method of ['scheduler/pause', 'scheduler/resume'] as const) {
        const before = pushes();
        await c.request(method);
        // The stats again, the cue on which an editor reads the scheduler's state (client/src/overview.ts).
        await eventually(`stats pushed after ${method}`, () => pushes() > before);
      }
    } finally {
      await c.request('scheduler/resume');
      sub.close();
    }
  });

  test('leases taken by the scheduler are notified too (they commit quietly)', async () => {
    const sub = await RawClient.connect(daemon.socket);
    await sub.request('events/subscribe');
    const {
      ids: [id],
    } = await c.request('jobs/enqueue', { urls: [a.url('/gate2')] });
    try {
      await eventually('jobs/changed: in_progress', () =>
        sub.notifications.some(
          (n) => n.method === 'jobs/changed' && n.params.changes.some((ch: { id: number; state: string }) => ch.id === id && ch.state === 'in_progress'),
        ),
      );
    } finally {
      a.open('/gate2');
    }
    await eventually('jobs/changed: done', () =>
      sub.notifications.some(
        (n) => n.method === 'jobs/changed' && n.params.changes.some((ch: { id: number; state: string }) => ch.id === id && ch.state === 'done'),
      ),
    );
    sub.close();
  });
});

describe('shutdown', () => {
  test('daemon/shutdown answers, then the daemon stops: exit 0, socket gone', async () => {
    const d = await startDaemon();
    const k = await RawClient.connect(d.socket);
    assert.deepEqual(await k.request('daemon/shutdown'), { stopping: true });
    const { code } = await d.exited;
    assert.equal(code, 0);
    await eventually('the connection to close', () => k.closed);
    await assert.rejects(RawClient.connect(d.socket), /ENOENT/);
  });
});

describe("the socket's thread", () => {
  test('queue/stats sent in one write behind an enqueue counts what it enqueued', async () => {
    const d = await startDaemon();
    const k = await RawClient.connect(d.socket);
    try {
      await k.request('scheduler/pause');
      const urls = Array.from({ length: 500 }, (_, i) => `http://127.0.0.9/r${i}`);
      const line = (id: number, method: string, params: unknown) => `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
      k.send(line(10, 'jobs/enqueue', { urls }) + line(11, 'queue/stats', {}));
      const answers = [await k.next(), await k.next()];
      assert.deepEqual(
        answers.map((a) => a.id),
        [10, 11],
      );
      assert.equal(answers[0].result.enqueued, 500);
      assert.equal(answers[1].result.queued, 500, 'the count read before the enqueue ran');
    } finally {
      k.close();
      await d.stop();
    }
  });

  test('queue/stats is answered while the daemon thread requeues 100,000 jobs in one transaction, and never counts half of it', async () => {
    const d = await startDaemon();
    const [big, poll] = [await RawClient.connect(d.socket), await RawClient.connect(d.socket)];
    try {
      await poll.request('scheduler/pause');
      const urls = Array.from({ length: 100_000 }, (_, i) => `http://127.0.0.9/p${i}`);
      assert.equal((await big.request('jobs/enqueue', { urls })).enqueued, 100_000);
      const ids = Array.from({ length: 100_000 }, (_, i) => i + 1);
      assert.equal((await big.request('jobs/cancel', { ids })).cancelled, 100_000);
      // One statement on the daemon's thread, a few seconds long: a row and an event for each job.
      big.send(`${JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'jobs/requeue', params: { state: 'skipped' } })}\n`);
      const requeued = big.next(60_000);
      let done = false;
      void requeued.then(() => (done = true));
      let answeredMeanwhile = 0;
      const seen = new Set<string>();
      while (!done) {
        const s = await poll.request('queue/stats');
        seen.add(`${s.queued}/${s.skipped}`);
        if (!done) answeredMeanwhile++;
      }
      assert.equal((await requeued).result.requeued, 100_000);
      // On one thread, a call behind the requeue waited for all of it: at most the one or two sent before it began were answered.
      assert.ok(answeredMeanwhile > 3, `${answeredMeanwhile} queue/stats answered while the requeue ran`);
      assert.deepEqual(
        [...seen].filter((c) => c !== '0/100000' && c !== '100000/0'),
        [],
        'a count of part of one transaction',
      );
      const after = await poll.request('queue/stats');
      assert.deepEqual([after.queued, after.skipped], [100_000, 0]);
    } finally {
      big.close();
      poll.close();
      await d.stop();
    }
  });
});
