// Times as the extension shows them: local wall-clock times and relative spans, from the wire's
// ISO UTC. The zone is pinned to one five and a half hours off UTC (no daylight saving), so a time
// left in UTC, or converted the wrong way, shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAge, formatClock, formatDuration, formatLeaseLeft, formatSpan, localTimes } from '../../client/src/format';

process.env.TZ = 'Asia/Kolkata';
const now = Date.parse('2026-03-04T04:08:35.000Z'); // 09:38:35 in Kolkata
const iso = (ms: number) => new Date(ms).toISOString();

test('an instant reads in local time, with its date when not today, and to the millisecond where asked', () => {
  assert.equal(formatClock('2026-03-04T04:08:35.250Z', now), '09:38:35');
  assert.equal(formatClock('2026-03-04T04:08:35.250Z', now, { ms: true }), '09:38:35.250');
  // 19:00 UTC the day before is already today, 00:30, in Kolkata.
  assert.equal(formatClock('2026-03-03T19:00:00.000Z', now), '00:30:00');
  assert.equal(formatClock('2026-03-03T18:00:00.000Z', now), '2026-03-03 23:30:00');
});

test('relative times: "in 12 s", "3 min ago", "now"', () => {
  assert.equal(formatAge(iso(now + 12_400), now), 'in 12 s');
  assert.equal(formatAge(iso(now - 3 * 60_000 - 5_000), now), '3 min ago');
  assert.equal(formatAge(iso(now - 400), now), 'now');
  assert.equal(formatAge(iso(now + (2 * 60 + 5) * 60_000), now), 'in 2 h 5 min');
  assert.equal(formatAge(iso(now - 3 * 3_600_000), now), '3 h ago');
  assert.equal(formatAge(iso(now - (3 * 24 + 4) * 3_600_000), now), '3 d 4 h ago');
  assert.equal(formatSpan(59_999), '59 s');
});

test('a lease says what it has left, or how long ago it ran out', () => {
  assert.equal(formatLeaseLeft(iso(now + 12_000), now), 'lease 12 s left');
  assert.equal(formatLeaseLeft(iso(now - 3_000), now), 'lease expired 3 s ago');
});

test('measured durations keep the unit below', () => {
  assert.deepEqual([850, 12_000, 245_000, 7_380_000, 273_600_000].map(formatDuration), ['850 ms', '12 s', '4 min 05 s', '2 h 03 min', '3 d 4 h']);
});

test("the daemon's ISO instants inside its text become local clock times, and nothing else changes", () => {
  assert.equal(localTimes('HTTP 503; retry at 2026-03-04T04:08:47.123Z (attempt 1/3 failed)', now), 'HTTP 503; retry at 09:38:47 (attempt 1/3 failed)');
  assert.equal(
    localTimes('a.test until 2026-03-03T18:00:00.000Z, b.test until 2026-03-04T04:09:00Z', now),
    'a.test until 2026-03-03 23:30:00, b.test until 09:39:00',
  );
  assert.equal(localTimes('version 2026-03-04 at 12:00', now), 'version 2026-03-04 at 12:00');
});

test('an instant inside a URL is part of the URL and stays as it is; one after it is a time', () => {
  assert.equal(
    localTimes('HTTP 404 for https://a.test/log/2026-03-04T04:09:00Z?at=2026-03-04T04:09:00.000Z, tried at 2026-03-04T04:09:00Z', now),
    'HTTP 404 for https://a.test/log/2026-03-04T04:09:00Z?at=2026-03-04T04:09:00.000Z, tried at 09:39:00',
  );
  assert.equal(localTimes('robots.txt of HTTP://B.test/2026-03-04T04:09:00Z unreadable', now), 'robots.txt of HTTP://B.test/2026-03-04T04:09:00Z unreadable');
});
