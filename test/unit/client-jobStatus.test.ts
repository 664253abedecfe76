// What a job's row and document say happened to it, case by case: a permanent failure, a job given
// up after losing its worker, a page put off by Retry-After, a genuine retry. Times in local time,
// with the zone pinned (five and a half hours off UTC).
import './helpers/vscode';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job, JobEvent } from '../../server/src/protocol';
import { attempts, renderJobDocument } from '../../client/src/jobDocument';
import { hostStateText, jobStatusText, jobTooltip } from '../../client/src/jobsTreeText';
import { HELD } from '../../server/src/core/types';
import { wireJob } from '../../server/src/daemon/wire';
import { TestDaemon } from './helpers/client-daemon';
import { sentJob } from './helpers/jobs';

process.env.TZ = 'Asia/Kolkata';
const now = Date.parse('2026-03-04T04:08:23.000Z'); // 09:38:23 in Kolkata
const RETRY_AT = '2026-03-04T04:08:35.000Z'; // 09:38:35

const base: Job = sentJob({ id: 7, crawlId: 'c_1', depth: 1, createdAt: '2026-03-04T04:00:00.000Z', updatedAt: '2026-03-04T04:08:00.000Z' });
const result = { status: 404, contentType: 'text/html', bytes: 10, durationMs: 5, finalUrl: null, title: null };

test('a permanent 404 reads "HTTP 404", not "attempt 1/3"', () => {
  assert.equal(jobStatusText({ ...base, state: 'error', attempts: 1, lastError: 'HTTP 404', result }, now), 'HTTP 404');
});

test('a failure after every attempt says how many', () => {
  assert.equal(jobStatusText({ ...base, state: 'error', attempts: 3, lastError: 'HTTP 503' }, now), 'HTTP 503 after 3 attempts');
});

test('a job given up after losing its worker three times says so, and why, not "attempt 0/3"', () => {
  const job: Job = { ...base, state: 'error', attempts: 0, lostWorkers: 3, lastError: 'lost its worker 3 times (lease expired)' };
  assert.equal(jobStatusText(job, now), 'lost its worker 3× (lease expired)');
  assert.equal(jobStatusText({ ...job, lastError: 'lost its worker 3 times (worker process is gone)' }, now), 'lost its worker 3× (worker process is gone)');
  assert.equal(jobStatusText({ ...job, lastError: 'lost its worker' }, now), 'lost its worker 3×', 'no cause given');
  assert.equal(jobStatusText({ ...base, lostWorkers: 1 }, now), 'queued again, lost its worker 1×');
});

test('a page put off 20 times waits, with the count, the last reason (the only one kept) and until when', () => {
  const job: Job = { ...base, deferrals: 20, runAfter: RETRY_AT, lastError: 'HTTP 503 with Retry-After 12s' };
  // The count may mix reasons (Retry-After, robots.txt, a paused crawl): the reason is named the last.
  assert.equal(jobStatusText(job, now), 'waiting: put off 20× (last: HTTP 503 with Retry-After 12s), until 09:38:35');
  assert.equal(jobStatusText({ ...job, deferrals: 1 }, now), 'waiting: HTTP 503 with Retry-After 12s, until 09:38:35');
  assert.equal(jobStatusText({ ...job, runAfter: null }, now), 'due, put off 20× (last: HTTP 503 with Retry-After 12s)');
  assert.equal(jobStatusText({ ...job, runAfter: null, deferrals: 1 }, now), 'due, put off 1× (HTTP 503 with Retry-After 12s)');
  assert.equal(jobStatusText({ ...job, state: 'in_progress', attempts: 1, runAfter: null }, now), 'attempt 1 of 3, put off 20×', 'leased again');
});

test('a time the reason names already is not said again', () => {
  const robots = 'robots.txt unreadable; trying again at 2026-03-04T04:08:35.000Z';
  assert.equal(
    jobStatusText({ ...base, deferrals: 1, runAfter: RETRY_AT, lastError: robots }, now),
    'waiting: robots.txt unreadable; trying again at 09:38:35',
  );
  assert.equal(
    jobStatusText({ ...base, deferrals: 7, runAfter: RETRY_AT, lastError: robots }, now),
    'waiting: put off 7× (last: robots.txt unreadable; trying again at 09:38:35)',
  );
  assert.equal(
    jobStatusText({ ...base, attempts: 1, runAfter: RETRY_AT, lastError: `HTTP 500; ${robots}` }, now),
    'attempt 2 of 3, retrying after HTTP 500; robots.txt unreadable; trying again at 09:38:35',
  );
  const host = { host: 'a.test', limit: 2, inFlight: 0, queued: 3, done: 0, error: 0, state: 'blocked' as const, until: RETRY_AT };
  assert.equal(hostStateText({ ...host, reason: robots }, now), 'blocked (robots.txt unreadable; trying again at 09:38:35)');
  assert.equal(hostStateText({ ...host, reason: 'robots.txt unreadable' }, now), 'blocked until 09:38:35 (robots.txt unreadable)');
  // Read before its time passed and not read again since (a paused crawl's host): the hold is over.
  const later = Date.parse(RETRY_AT);
  assert.equal(hostStateText({ ...host, reason: robots }, later), 'ready');
  assert.equal(hostStateText({ ...host, state: 'backoff', inFlight: 2, reason: 'HTTP 429' }, later), 'busy');
});

test('a job held by its paused crawl reads held, not due nor waiting, whatever it went through', () => {
  const held: Job = { ...base, held: true };
  assert.equal(jobStatusText(held, now), 'held: crawl paused');
  assert.equal(jobStatusText({ ...held, deferrals: 3, lastError: 'crawl paused' }, now), 'held: crawl paused');
  assert.equal(jobStatusText({ ...held, attempts: 1, lastError: 'HTTP 500' }, now), 'held: crawl paused, attempt 2 of 3 next (last: HTTP 500)');
  assert.equal(jobStatusText({ ...held, lostWorkers: 1 }, now), 'held: crawl paused, lost its worker 1×');
});

test('a genuine retry names the attempt to come and when', () => {
  const job: Job = { ...base, attempts: 1, runAfter: RETRY_AT, lastError: 'HTTP 500' };
  assert.equal(jobStatusText(job, now), 'attempt 2 of 3, retrying at 09:38:35 after HTTP 500');
  assert.equal(jobStatusText({ ...job, runAfter: '2026-03-04T04:08:00.000Z' }, now), 'attempt 2 of 3 due after HTTP 500', 'its backoff over');
});

test('running, done, skipped and cancelled jobs', () => {
  assert.equal(jobStatusText({ ...base, state: 'in_progress', attempts: 2 }, now), 'attempt 2 of 3');
  assert.equal(jobStatusText({ ...base, state: 'done', attempts: 1, result: { ...result, status: 200 } }, now), 'HTTP 200');
  assert.equal(jobStatusText({ ...base, state: 'done', attempts: 2, result: { ...result, status: 200 } }, now), 'HTTP 200 on attempt 2 of 3');
  assert.equal(jobStatusText({ ...base, state: 'skipped', lastError: 'robots.txt: Disallow: /a' }, now), 'skipped: robots.txt: Disallow: /a');
  assert.equal(jobStatusText({ ...base, state: 'skipped', lastError: 'cancelled' }, now), 'cancelled');
  assert.equal(jobStatusText(base, now), 'queued');
});

test("the daemon's ISO times in an error read in local time, on one line", () => {
  const job: Job = { ...base, state: 'error', attempts: 1, lastError: 'robots.txt blocked;\ntrying again at 2026-03-04T04:08:35.000Z' };
  assert.equal(jobStatusText(job, now), 'robots.txt blocked; trying again at 09:38:35');
});

const ev = (at: string, type: string, detail: string | null = null): JobEvent => ({ at, type, workerId: type === 'enqueued' ? null : 'w', detail });

test('the job document: what happened, the counts behind it, local times, and leases that spent no attempt said so', () => {
  // Lease 1's retry spent an attempt; leases 2 and 4 were put off and lease 3 lost its worker, none spending one.
  const job: Job = { ...base, attempts: 1, deferrals: 2, lostWorkers: 1, runAfter: RETRY_AT, lastError: 'HTTP 429 with Retry-After 12s' };
  const events = [
    ev('2026-03-04T04:00:00.000Z', 'enqueued'),
    ev('2026-03-04T04:01:00.000Z', 'leased', 'attempt 1/3'),
    ev('2026-03-04T04:01:00.250Z', 'retry', 'HTTP 500; retry at 2026-03-04T04:01:02.000Z (attempt 1/3 failed)'),
    ev('2026-03-04T04:01:02.000Z', 'leased', 'attempt 2/3'),
    ev('2026-03-04T04:01:03.000Z', 'deferred', 'HTTP 429 with Retry-After 12s; not before 2026-03-04T04:01:15.000Z'),
    ev('2026-03-04T04:05:00.000Z', 'leased', 'attempt 2/3'),
    ev('2026-03-04T04:05:40.000Z', 'expired', 'lease expired'),
    ev('2026-03-04T04:08:22.000Z', 'leased', 'attempt 2/3'),
    ev('2026-03-04T04:08:23.000Z', 'deferred', 'HTTP 429 with Retry-After 12s; not before 2026-03-04T04:08:35.000Z'),
  ];
  assert.deepEqual(
    attempts(events).map((s) => s.title),
    [
      'Before the first lease',
      'Lease 1: attempt 1 of 3, worker w',
      'Lease 2: attempt 2 of 3, put off, not counted, worker w',
      'Lease 3: attempt 2 of 3, lost its worker, not counted, worker w',
      'Lease 4: attempt 2 of 3, put off, not counted, worker w',
    ],
  );
  const text = renderJobDocument(job, events, now, undefined, { crawlId: 'c_1', name: 'docs' });
  assert.match(text, /^\| what happened \| waiting: put off 2× \(last: HTTP 429 with Retry-After 12s\), until 09:38:35 \|$/m);
  assert.match(text, /^\| attempts \| 1 of 3 spent · put off 2× since an attempt last counted · lost its worker 1× \|$/m);
  assert.match(text, /^\| crawl \| docs \(c\\_1\) \|$/m);
  // Absolute times only: the document is rendered again only when the job changes, so "in 12 s" would go stale.
  assert.match(text, /^\| may start \| 09:38:35 \|$/m);
  assert.match(text, /^\| created \| 09:30:00 \|$/m);
  assert.doesNotMatch(text, /\bago\b|\bin \d+ (s|min|h)\b|token age/);
  assert.match(text, /^\| 09:31:00\.250 \| \+250 ms \| retry \| w \| HTTP 500; retry at 09:31:02 \(attempt 1\/3 failed\) \|$/m);
  assert.doesNotMatch(text, /T\d\d:\d\d/, 'no ISO time left');
  assert.match(renderJobDocument(job, events, now), /^\| crawl \| c\\_1 \|$/m, 'its name unknown, the id');
  assert.match(renderJobDocument({ ...job, held: true, runAfter: null }, events, now), /^\| may start \| when its crawl resumes \|$/m);

  const tip = jobTooltip(job, events, now, { crawlId: 'c_1', name: 'docs' });
  assert.match(tip, /· job 7 · waiting: put off 2× \\\(last: HTTP 429 with Retry\\-After 12s\\\), until 09:38:35 · crawl docs \(`c_1`\) ·/);
  assert.match(jobTooltip(job, events, now), /· crawl `c_1` ·/, 'its name unknown, the id');
  assert.match(tip, /\*\*Attempts:\*\* 1 of 3 spent · put off 2× since an attempt last counted · lost its worker 1×\n/);
  assert.match(tip, /- 09:31:03 \*\*deferred\*\* `w`: HTTP 429 with Retry\\-After 12s; not before 09:31:15/);
});

test("on the wire, a paused crawl's queued jobs are held, with no time; past backoffs are no time either", async () => {
  const d = await TestDaemon.start();
  try {
    const { crawlId } = await d.request('crawl/start', { seeds: ['http://held.test/a', 'http://held.test/b'], name: 'held' });
    await d.request('crawl/pause', { crawlId });
    let { jobs } = await d.request('jobs/list', { crawlId });
    assert.deepEqual(
      jobs.map((j) => [j.state, j.held, j.runAfter]),
      [
        ['queued', true, null],
        ['queued', true, null],
      ],
    );
    assert.equal(jobStatusText(jobs[0], Date.now()), 'held: crawl paused');
    await d.request('crawl/resume', { crawlId });
    ({ jobs } = await d.request('jobs/list', { crawlId }));
    assert.deepEqual(
      jobs.map((j) => [j.held, j.runAfter]),
      [
        [false, null],
        [false, null],
      ],
    );
  } finally {
    await d.stop();
  }
  const core = {
    id: 1,
    kind: 'page',
    url: 'http://a.test/',
    key: 'a.test',
    crawlId: null,
    depth: 0,
    priority: 0,
    state: 'queued' as const,
    attempts: 1,
    maxAttempts: 3,
    reclaims: 0,
    deferrals: 0,
    runAfter: 0,
    workerId: null,
    leaseToken: null,
    leasedAt: null,
    leaseExpiresAt: null,
    heartbeatAt: null,
    lastError: 'HTTP 500',
    result: null,
    payload: null,
    createdAt: 0,
    updatedAt: 0,
    finishedAt: null,
  };
  const hour = 3_600_000;
  // The queue's clock, not this machine's: an hour behind it here, as a PostgreSQL server's may be.
  const now = Date.now() - hour;
  assert.equal(wireJob({ ...core, runAfter: now - 1_000 }, now).runAfter, null, 'a backoff that is over');
  assert.equal(wireJob({ ...core, runAfter: now + 1_000 }, now).runAfter !== null, true, "one still to come, by the queue's clock");
  assert.deepEqual([wireJob({ ...core, runAfter: HELD }, now).held, wireJob({ ...core, runAfter: HELD }, now).runAfter], [true, null]);
  assert.equal(wireJob({ ...core, state: 'done', runAfter: HELD }, now).held, false, 'only a queued job waits');
});
