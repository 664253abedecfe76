/**
 * The change feed over LISTEN/NOTIFY. Every committing write that changes jobs notifies CHANNEL
 * (transactional: delivered on commit, to every listener on the database) with the ids it changed,
 * or "*" when they would not fit in one payload. One listening connection per queue hears every
 * process's commits; a reader accumulates the ids until it takes them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { JobChanges } from '../types';

export const CHANNEL = 'crawl_orchestrator_jobs';

/** PostgreSQL refuses payloads of 8,000 bytes or more; past this, "refetch everything". */
export const PAYLOAD_MAX = 7000;

/** What one commit changed: ids, or null for "too many, refetch". */
export type Changed = number[] | null;

/**
 * `<origin><mark>:<ids>`: origin names the queue that wrote (its own notifications it has already
 * handled); mark `q` is a quiet change (a lease: it makes no work ready, so it wakes nobody), `w` any other.
 */
export function encodePayload(origin: string, quiet: boolean, ids: Iterable<number> | null): string {
  const head = `${origin}${quiet ? 'q' : 'w'}:`;
  if (ids === null) return `${head}*`;
  const body = [...ids].join(',');
  return head.length + body.length > PAYLOAD_MAX ? `${head}*` : head + body;
}

export function decodePayload(payload: string): { origin: string; quiet: boolean; ids: Changed } | null {
  const m = /^([0-9a-f]{8})([qw]):(\*|[0-9,]*)$/.exec(payload);
  if (!m) return null;
  return { origin: m[1], quiet: m[2] === 'q', ids: m[3] === '*' ? null : m[3] === '' ? [] : m[3].split(',').map(Number) };
}

/**
 * How often the listening connection shows that it still hears, and how long it is given to: it
 * sends itself a notification. A flow that went silent (a NAT or firewall that forgot it, a host
 * gone without a word) raises no error, and a daemon listening on it never heard another's enqueue
 * again; now it is found deaf within two of these and replaced.
 */
export const LISTEN_CHECK_MS = 10_000;

/**
 * The queue's listening connection. Reconnects after a drop, and after a check it did not answer
 * in time; since notifications may have been lost meanwhile, it then reports "everything may have
 * changed", once when it finds the loss and again when it hears again.
 */
export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private check: NodeJS.Timeout | null = null;
  /** A channel of this listener's own, for its checks, so that no other process hears them. */
  private readonly echo = `${CHANNEL}_echo_${randomBytes(4).toString('hex')}`;
  private echoed: (() => void) | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onPayload: (payload: string) => void,
    private readonly onLost: () => void,
    private readonly checkMs = LISTEN_CHECK_MS,
  ) {}

  async start(): Promise<void> {
    // A statement that gets no answer fails in as long as a check waits, LISTEN's included.
    const client = new pg.Client({ ...this.config, query_timeout: this.checkMs });
    client.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload !== undefined) this.onPayload(n.payload);
      else if (n.channel === this.echo) this.echoed?.();
    });
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      await client.query(`LISTEN ${this.echo}`);
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.scheduleCheck();
  }

  private scheduleCheck(): void {
    this.check = setTimeout(() => void this.checkOnce(), this.checkMs);
    this.check.unref();
  }

  /** Notifies itself and waits for it: no answer in time, and the connection is given up. */
  private async checkOnce(): Promise<void> {
    this.check = null;
    const client = this.client;
    if (!client) return;
    const heard = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.checkMs);
      timer.unref();
      this.echoed = () => {
        clearTimeout(timer);
        resolve(true);
      };
      client.query(`NOTIFY ${this.echo}`).catch(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    this.echoed = null;
    if (this.client !== client) return;
    if (heard) this.scheduleCheck();
    else this.dropped(client);
  }

  private dropped(client: pg.Client): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    if (this.check) clearTimeout(this.check);
    this.check = null;
    // With a statement in flight (a check's), end() destroys the socket rather than waiting on a dead flow.
    client.end().catch(() => {});
    this.onLost();
    this.reconnect();
  }

  private reconnect(): void {
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start().then(
        () => this.onLost(),
        () => {
          if (!this.closed) this.reconnect();
        },
      );
    }, 1000);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.check) clearTimeout(this.check);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => {});
  }
}

/** Ids a reader holds at most between takes: past them, a take says "too many to name". */
const MAX_HELD = 10_000;

/** One reader of the feed: the ids changed since its last take, by every process. */
export class PgJobChanges implements JobChanges {
  private readonly listeners = new Set<() => void>();
  private ids = new Set<number>();
  private all = false;

  constructor(private readonly detach: (reader: PgJobChanges) => void) {}

  /** Called by the queue for each commit, local or heard. */
  add(changed: Changed): void {
    if (changed === null) this.all = true;
    else if (!this.all) for (const id of changed) this.ids.add(id);
    // A reader not taken for a while (no one listens) keeps no more than a take could name.
    if (this.ids.size > MAX_HELD) {
      this.all = true;
      this.ids.clear();
    }
    for (const l of this.listeners) l();
  }

  onSignal(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async take(max: number): Promise<{ ids: number[] | null; missed: boolean }> {
    const ids = this.all || this.ids.size > max ? null : [...this.ids];
    this.ids = new Set();
    this.all = false;
    return { ids, missed: false };
  }

  close(): void {
    this.listeners.clear();
    this.detach(this);
  }
}
