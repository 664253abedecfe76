/**
 * The queue's counts read on a connection of their own, for a thread other than the queue's
 * (the daemon's socket thread): answered while the queue's thread is busy.
 */
import pg from 'pg';
import { statsOf } from '../rows';
import type { JobState, Stats, StatsReader } from '../types';
import { clientConfig } from './open';
import { PG_SQL as SQL } from './sql';

export class PgStatsReader implements StatsReader {
  private client: Promise<pg.Client> | null = null;

  constructor(private readonly url: string) {}

  async stats(): Promise<Stats> {
    const connecting = this.connected();
    const client = await connecting;
    try {
      return statsOf((await client.query<{ state: JobState; n: number }>(SQL.stats)).rows);
    } catch (err) {
      // A connection that failed is dropped (unless another read has made one since); the next read makes another.
      if (this.client === connecting) this.client = null;
      void client.end().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await (await client.catch(() => null))?.end();
  }

  private connected(): Promise<pg.Client> {
    this.client ??= (async () => {
      const client = new pg.Client(clientConfig(this.url));
      client.on('error', () => {
        // A connection lost while idle: the next read fails, and makes another.
      });
      await client.connect();
      return client;
    })().catch((err: unknown) => {
      this.client = null;
      throw err;
    });
    return this.client;
  }
}
