/**
 * Turns for the socket's clients. A request's SQLite work runs synchronously, so without turns a
 * client that sent thousands of heavy requests at once held the event loop until the last was
 * done: one `queue/stats` from another client waited 24 s behind 2,000 `jobs/list` of 1,000 jobs
 * (measured), and so did the editor, the heartbeats and the workers.
 *
 * Each connection holds one seat. Seats with requests waiting are served in a round robin, one
 * request per turn, so a request that arrives waits for at most one request of every other
 * client. A turn lasts until the request is answered or, if it awaits I/O (the network, say),
 * until the event loop moves on. Turns are granted back to back for at most SLICE_MS; then the
 * event loop gets a turn of its own (I/O, timers, the scheduler) before the next slice.
 */

/** Work between two visits of the event loop, at most (a request started inside it may run past it). */
export const SLICE_MS = 10;

export class Seat {
  /** Requests of this seat waiting for a turn, in order: each is told whether to run. */
  readonly waiting: ((run: boolean) => void)[] = [];
  enlisted = false;
  closed = false;
  /** Out of the round robin for now: its client holds answers it has not read (socket.ts). */
  benched = false;
  /** Its turns out now. */
  out = 0;
}

/**
 * How long a turn lasts. `io`: until its request is answered or awaits I/O, one at a time: requests
 * run on this thread. `told`: until it is answered or `fn` says its request awaits I/O, `concurrent`
 * at once and one per seat: requests run on another thread (socket-thread.ts), which says when a
 * handler awaits, so that one client's requests in flight cannot all queue there ahead of another's,
 * and a client's request starts after its earlier ones have (a count read after a write it sent).
 */
export type TurnRelease = { until: 'io' } | { until: 'told'; concurrent: number };

export class Turns {
  private readonly ring: Seat[] = [];
  /** Turns out: requests neither answered nor waiting on I/O yet. */
  private granted = 0;
  /** When the current slice began; null when the event loop has had its turn since. */
  private sliceStart: number | null = null;
  private readonly concurrent: number;

  constructor(
    private readonly clock: () => number = () => performance.now(),
    private readonly turnsEnd: TurnRelease = { until: 'io' },
  ) {
    this.concurrent = turnsEnd.until === 'told' ? turnsEnd.concurrent : 1;
  }

  /**
   * Runs `fn` in one of `seat`'s turns, after the requests the seat sent before it. Resolves to
   * null, without running `fn`, if the seat is closed first: nobody is left to answer.
   */
  async take<T>(seat: Seat, fn: (awaitsIo: () => void) => Promise<T>): Promise<T | null> {
    if (seat.closed) return null;
    const run = await new Promise<boolean>((resolve) => {
      seat.waiting.push(resolve);
      if (!seat.enlisted && !seat.benched) {
        seat.enlisted = true;
        this.ring.push(seat);
      }
      this.grant();
    });
    if (!run) return null;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      seat.out--;
      this.release();
    };
    try {
      const p = fn(end);
      p.then(end, end);
      // A request that awaits I/O gives its turn back when the event loop moves on.
      if (this.turnsEnd.until === 'io') setImmediate(end);
      return await p;
    } catch (err) {
      end();
      throw err;
    }
  }

  /**
   * Takes the seat out of the round robin, or puts it back. Pausing a client's socket stops new
   * requests only; benched, the ones it already sent wait too, rather than make answers it does
   * not read while the clients that read wait behind them (120 such clients held another's
   * `queue/stats` 3.7 s, measured).
   */
  bench(seat: Seat, benched: boolean): void {
    seat.benched = benched;
    if (benched || seat.enlisted || seat.waiting.length === 0) return;
    seat.enlisted = true;
    this.ring.push(seat);
    this.grant();
  }

  /** The seat's connection went away: its waiting requests are dropped, unrun. */
  close(seat: Seat): void {
    seat.closed = true;
    for (const resolve of seat.waiting.splice(0)) resolve(false);
  }

  private release(): void {
    this.granted--;
    this.grant();
  }

  private grant(): void {
    // Nothing waiting starts no slice: an idle daemon schedules nothing.
    if (this.granted >= this.concurrent || this.ring.length === 0) return;
    const now = this.clock();
    if (this.sliceStart === null) {
      this.sliceStart = now;
      // Runs once the event loop has been round (I/O first): the slice ends there.
      setImmediate(() => {
        this.sliceStart = null;
        this.grant();
      });
    } else if (now - this.sliceStart > SLICE_MS) {
      return;
    }
    const oneEach = this.turnsEnd.until === 'told';
    for (let seats = this.ring.length; seats > 0 && this.granted < this.concurrent; seats--) {
      const seat = this.ring.shift()!;
      if (seat.benched) {
        seat.enlisted = false;
        continue;
      }
      if (oneEach && seat.out > 0) {
        this.ring.push(seat);
        continue;
      }
      const resolve = seat.waiting.shift();
      if (seat.waiting.length > 0) this.ring.push(seat);
      else seat.enlisted = false;
      if (!resolve) continue;
      this.granted++;
      seat.out++;
      resolve(true);
    }
  }
}
