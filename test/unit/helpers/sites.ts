/**
 * Tiny loopback HTTP servers for crawl tests. Each 127.0.0.x address is
 * loopback on Linux, so several sites can stand for distinct hosts.
 */

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Site {
  /** e.g. http://127.0.0.2:41234 */
  origin: string;
  host: string;
  port: number;
  url(path: string): string;
  /** Connections accepted so far. */
  connections(): number;
  /** Resolves when `socket` is closed, from the server's point of view. */
  closed(socket: Socket): Promise<void>;
  close(): Promise<void>;
}

export async function startSite(handler: http.RequestListener, host = '127.0.0.1'): Promise<Site> {
  const server = http.createServer(handler);
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host}:${port}`;
  return {
    origin,
    host,
    port,
    url: (path) => origin + path,
    connections: () => accepted,
    closed: (socket) => (socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
