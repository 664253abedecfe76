/**
 * The PostgreSQL engine's clock: the server's, read as this machine's clock plus their offset.
 * Daemons on several machines store and compare times on one database (lease expiry, backoffs,
 * a host's next start): on their own clocks, a daemon whose clock ran ahead took live leases for
 * expired and reclaimed them, and one whose clock ran behind wrote leases already expired for the
 * others. Reading the server's time in each statement would leave the engine without the one
 * clock tests inject and move by hand; instead the offset is measured at open and every minute,
 * and the local clock, injected or not, is corrected by it.
 */
import type pg from 'pg';
import { Ticker } from '../ticker';

/** How often the offset is measured again: clocks drift, and a machine's may be stepped. */
export const CLOCK_CHECK_MS = 60_000;
/** Round trips a measurement takes; the shortest is kept (its midpoint is off by half of it at most). */
const SAMPLES = 3;

export class ServerClock {
  /** Server time minus local time, in ms. */
  private offset = 0;
  private readonly ticker: Ticker;

  constructor(
    private readonly local: () => number,
    private readonly pool: pg.Pool,
  ) {
    // A failed measurement keeps the last offset; the ticker tries again soon.
    this.ticker = new Ticker(
      CLOCK_CHECK_MS,
      () => this.measure(),
      () => {},
    );
  }

  now(): number {
    return this.local() + this.offset;
  }

  /** Measures the offset now, then again every CLOCK_CHECK_MS. */
  async start(): Promise<void> {
    await this.measure();
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /**
   * The server's time against the midpoint of the round trip that read it, on a connection already
   * checked out (a wait for one would count as round trip).
   */
  private async measure(): Promise<void> {
    const client = await this.pool.connect();
    try {
      let best = { roundTrip: Infinity, offset: 0 };
      for (let i = 0; i < SAMPLES; i++) {
        const sent = this.local();
        const {
          rows: [r],
        } = await client.query<{ t: number }>(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t`);
        const back = this.local();
        if (back - sent < best.roundTrip) best = { roundTrip: back - sent, offset: Math.round(r.t - (sent + back) / 2) };
      }
      this.offset = best.offset;
    } finally {
      client.release();
    }
  }
}
