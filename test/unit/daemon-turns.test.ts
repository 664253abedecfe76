/**
 * The socket's turns (server/src/daemon/transport/turns.ts): round robin across connections, the event loop
 * let in between slices, requests awaiting I/O not holding a turn, a closed connection's requests
 * dropped. A fake clock stands for the work each request does; the daemon itself is tested under a
 * real flood in daemon-fairness.test.ts.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SLICE_MS, Seat, Turns } from '../../server/src/daemon/transport/turns';

/** A clock that requests move by hand: each "costs" what it adds. */
function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    spend: (ms: number) => {
      t += ms;
    },
  };
}

describe('turns', () => {
  test('told: turns last until their request says it awaits I/O or is answered, a few at once and one per seat', async () => {
    const turns = new Turns(fakeClock().now, { until: 'told', concurrent: 2 });
    const [a, b, c] = [new Seat(), new Seat(), new Seat()];
    const started: string[] = [];
    const held = new Map<string, { awaitsIo: () => void; answer: () => void }>();
    const req = (seat: Seat, name: string) =>
      turns.take(seat, (awaitsIo) => {
        started.push(name);
        return new Promise<string>((resolve) => held.set(name, { awaitsIo, answer: () => resolve(name) }));
      });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const all = [req(a, 'a1'), req(a, 'a2'), req(b, 'b1'), req(c, 'c1')];
    await settle();
    // Two at once, and never two of one seat: a2 waits for a1 although a turn is free of b's.
    assert.deepEqual(started, ['a1', 'b1']);
    held.get('b1')!.answer();
    await settle();
    assert.deepEqual(started, ['a1', 'b1', 'c1'], "b's answer frees a turn; a's seat still has one out");
    // No event loop turn ends a told turn: only its request's word.
    await settle();
    assert.deepEqual(started, ['a1', 'b1', 'c1']);
    held.get('a1')!.awaitsIo();
    await settle();
    assert.deepEqual(started, ['a1', 'b1', 'c1', 'a2'], 'a1 awaits I/O: its turn goes to a2');
    // Said twice (awaits, then answered), a turn is given back once.
    held.get('a1')!.answer();
    held.get('c1')!.answer();
    held.get('a2')!.answer();
    assert.deepEqual(await Promise.all(all), ['a1', 'a2', 'b1', 'c1']);
    const d = new Seat();
    const more = [req(d, 'd1'), req(d, 'd2'), req(b, 'b2')];
    await settle();
    assert.deepEqual(started.slice(4), ['d1', 'b2'], 'two turns free again, not three');
    held.get('d1')!.answer();
    held.get('b2')!.answer();
    await settle();
    held.get('d2')!.answer();
    assert.deepEqual(await Promise.all(more), ['d1', 'd2', 'b2']);
  });

  test('seats are served in a round robin, one request per turn, each seat in its own order', async () => {
    const turns = new Turns(fakeClock().now);
    const a = new Seat();
    const b = new Seat();
    const ran: string[] = [];
    const req = (seat: Seat, name: string) =>
      turns.take(seat, async () => {
        ran.push(name);
        return name;
      });
    const all = [req(a, 'a1'), req(a, 'a2'), req(a, 'a3'), req(b, 'b1'), req(b, 'b2')];
    assert.deepEqual(await Promise.all(all), ['a1', 'a2', 'a3', 'b1', 'b2']);
    // a1 took the free turn at once, and a2 was waiting before b1 came; from then on, one each.
    assert.deepEqual(ran, ['a1', 'a2', 'b1', 'a3', 'b2']);
  });

  test('after a slice of work the event loop runs before the next request', async () => {
    const clock = fakeClock();
    const turns = new Turns(clock.now);
    const seat = new Seat();
    // Counts the event loop's rounds, from before the first request.
    let rounds = 0;
    let counting = true;
    const count = () => {
      rounds++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, () =>
        turns.take(seat, async () => {
          seen.push(rounds);
          clock.spend(SLICE_MS / 2.5);
        }),
      ),
    );
    counting = false;
    // Three requests pass SLICE_MS: the fourth waits for the event loop to come round.
    assert.deepEqual(seen, [0, 0, 0, 1, 1, 1]);
  });

  test('a request that awaits I/O gives its turn back; its answer still comes', async () => {
    const turns = new Turns(fakeClock().now);
    const a = new Seat();
    const b = new Seat();
    const ran: string[] = [];
    const slow = turns.take(a, async () => {
      ran.push('a: start');
      await new Promise((r) => setTimeout(r, 20));
      ran.push('a: end');
      return 'slow';
    });
    const quick = turns.take(b, async () => {
      ran.push('b');
      return 'quick';
    });
    assert.equal(await quick, 'quick');
    assert.equal(await slow, 'slow');
    assert.deepEqual(ran, ['a: start', 'b', 'a: end']);
  });

  test('a request that throws ends its turn and the next one runs', async () => {
    const turns = new Turns(fakeClock().now);
    const seat = new Seat();
    const failing = turns.take(seat, () => {
      throw new Error('bad');
    });
    const next = turns.take(seat, async () => 'next');
    await assert.rejects(failing, /bad/);
    assert.equal(await next, 'next');
  });

  test('with nothing waiting no slice runs: an idle daemon schedules nothing', async () => {
    const turns = new Turns();
    assert.equal(await turns.take(new Seat(), async () => 'x'), 'x');
    await new Promise((r) => setTimeout(r, 20));
    let scheduled = 0;
    const real = global.setImmediate;
    global.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
      scheduled++;
      return real(...args);
    }) as typeof setImmediate;
    try {
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      global.setImmediate = real;
    }
    assert.equal(scheduled, 0);
  });

  test('a benched seat waits while the others are served, and is served once back', async () => {
    const turns = new Turns(fakeClock().now);
    const a = new Seat();
    const b = new Seat();
    const ran: string[] = [];
    const req = (seat: Seat, name: string) =>
      turns.take(seat, async () => {
        ran.push(name);
        return name;
      });
    turns.bench(a, true);
    const benched = [req(a, 'a1'), req(a, 'a2')];
    await Promise.all([req(b, 'b1'), req(b, 'b2'), req(b, 'b3')]);
    assert.deepEqual(ran, ['b1', 'b2', 'b3']);
    turns.bench(a, false);
    assert.deepEqual(await Promise.all(benched), ['a1', 'a2']);
    assert.deepEqual(ran, ['b1', 'b2', 'b3', 'a1', 'a2']);
  });

  test('a closed seat drops its waiting requests unrun; the other seats go on', async () => {
    const turns = new Turns(fakeClock().now);
    const a = new Seat();
    const b = new Seat();
    const ran: string[] = [];
    const first = turns.take(a, async () => {
      ran.push('a1');
      return 'a1';
    });
    const dropped = turns.take(a, async () => {
      ran.push('a2');
      return 'a2';
    });
    const other = turns.take(b, async () => {
      ran.push('b1');
      return 'b1';
    });
    turns.close(a);
    assert.equal(await dropped, null);
    assert.equal(await other, 'b1');
    // a1 had its turn before the close: it runs, as a request already started would.
    assert.equal(await first, 'a1');
    assert.equal(await turns.take(a, async () => 'late'), null);
    assert.deepEqual(ran, ['a1', 'b1']);
  });
});
