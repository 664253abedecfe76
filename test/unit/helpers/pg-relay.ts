/**
 * A TCP relay in front of a test database (the throwaway cluster listens on a Unix socket only),
 * each of its connections named by the pid of the backend it reached, read from the server's
 * BackendKeyData message. Any of them can be made silent: nothing goes through either way and
 * nothing is closed, as on a flow a NAT or a firewall forgot.
 */
import * as net from 'node:net';
import { after } from 'node:test';

export interface PgRelay {
  /** The database's URL through the relay. */
  url: string;
  /** Makes the connection to backend `pid` silent, both ways, for good. */
  silence(pid: number): void;
}

/** BackendKeyData: 'K', its length (12), the backend's pid, its secret. */
const BACKEND_KEY = 0x4b;

/** The backend's pid once the server's messages so far hold its BackendKeyData, else null. */
function backendPid(head: Buffer): number | null {
  for (let at = 0; at + 5 <= head.length;) {
    const length = head.readInt32BE(at + 1);
    if (at + 1 + length > head.length) return null;
    if (head[at] === BACKEND_KEY) return head.readInt32BE(at + 5);
    at += 1 + length;
  }
  return null;
}

export async function startPgRelay(url: string): Promise<PgRelay> {
  const u = new URL(url);
  const port = Number(u.port || 5432);
  const socketDir = u.searchParams.get('host');
  const target: net.NetConnectOpts = socketDir ? { path: `${socketDir}/.s.PGSQL.${port}` } : { host: u.hostname, port };
  const flows = new Map<number, { silent: boolean }>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    const flow = { silent: false };
    let head: Buffer | null = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      if (head) {
        head = Buffer.concat([head, chunk]);
        const pid = backendPid(head);
        if (pid !== null) {
          flows.set(pid, flow);
          head = null;
        }
      }
      if (!flow.silent) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (!flow.silent) upstream.write(chunk);
    });
    // A close is passed on even when silent, so that the test leaves no backend behind.
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
      s.on('error', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  const relayed = new URL(url);
  relayed.hostname = '127.0.0.1';
  relayed.port = String((server.address() as net.AddressInfo).port);
  relayed.searchParams.delete('host');
  return {
    url: relayed.toString(),
    silence: (pid) => {
      const flow = flows.get(pid);
      if (!flow) throw new Error(`no connection through the relay reached backend ${pid}`);
      flow.silent = true;
    },
  };
}
