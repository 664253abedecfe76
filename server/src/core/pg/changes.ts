/**
 * The change feed over LISTEN/NOTIFY. Every committing write that changes jobs notifies CHANNEL
 * (transactional: delivered on commit, to every listener on the database) with the ids it changed,
 * or "*" when they would not fit in one payload. One listening connection per queue hears every
 * process's commits; a reader accumulates the ids until it takes them.
 */
import pg from 'pg';
import type { JobChanges } from '../types';

export const CHANNEL = 'crawl_orchestrator_jobs';

/** PostgreSQL refuses payloads of 8,000 bytes or more; past this, "refetch everything". */
const PAYLOAD_MAX = 7000;

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
 * The queue's listening connection. Reconnects after a drop; since notifications may have been
 * lost meanwhile, it then reports "everything may have changed".
 */
export class Listener {
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly onPayload: (payload: string) => void,
    private readonly onLost: () => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (n) => { if (n.channel === CHANNEL && n.payload !== undefined) this.onPayload(n.payload); });
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
  }

  private dropped(client: pg.Client): void {
    if (this.closed || this.client !== client) return;
    this.client = null;
    client.end().catch(() => {});
    this.onLost();
    this.reconnect();
  }

  private reconnect(): void {
    this.retry = setTimeout(() => {
      this.retry = null;
      this.start().then(() => this.onLost(), () => { if (!this.closed) this.reconnect(); });
    }, 1000);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => {});
  }
}

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
