/**
 * Servers that break HTTP on purpose, on loopback addresses, and a file-descriptor count to show
 * that whatever they do leaves nothing open behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { eventually } from './tmp';

/** Writes whatever it likes on the socket for one request (the request's path is given). */
export type RawRoute = (socket: net.Socket, path: string) => void;

export interface RawHost {
  origin: string;
  url(path: string): string;
  /** Requests per path. */
  hits: Map<string, number>;
  /** Connections still open that served a request for `path`. */
  openFor(path: string): number;
  close(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';

/**
 * A plain TCP server that reads request heads and hands each to its route by path; an unknown path
 * gets a 404. Routes that answer properly may leave the connection open for the next request.
 */
export async function startRawHost(ip: string, routes: Record<string, RawRoute>): Promise<RawHost> {
  const hits = new Map<string, number>();
  /** Open connections and the paths each served. */
  const sockets = new Map<net.Socket, Set<string>>();
  const server = net.createServer((socket) => {
    const served = new Set<string>();
    sockets.set(socket, served);
    socket.on('close', () => sockets.delete(socket));
    // A test server must not die of the client hanging up mid-write.
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (data) => {
      head += data.toString('latin1');
      for (let end = head.indexOf(HEAD_END); end !== -1; end = head.indexOf(HEAD_END)) {
        const path = head.slice(0, end).split(' ')[1] ?? '/';
        head = head.slice(end + HEAD_END.length);
        hits.set(path, (hits.get(path) ?? 0) + 1);
        served.add(path);
        (routes[path] ?? notFound)(socket, path);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ip, resolve);
  });
  const origin = `http://${ip}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (p) => origin + p,
    hits,
    openFor: (path) => [...sockets.values()].filter((served) => served.has(path)).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets.keys()) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function notFound(socket: net.Socket): void {
  socket.write('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nnot found');
}

/** A response head with these headers (a Content-Type of text/html unless given). */
export function head(headers: Record<string, string | number> = {}, statusLine = 'HTTP/1.1 200 OK'): string {
  const all = { 'content-type': 'text/html', ...headers };
  return `${statusLine}\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}${HEAD_END}`;
}

/** Writes `data` a byte at a time every `everyMs` until done or the peer goes away. */
export function trickle(socket: net.Socket, data: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= data.length) return clearInterval(timer);
    socket.write(data[i++]);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** Writes `chunk` as fast as the peer reads it until `total` bytes (Infinity: forever) or it goes away. */
export function flood(out: NodeJS.WritableStream & { destroyed: boolean }, chunk: Buffer, total = Infinity, end?: () => void): void {
  let sent = 0;
  const pump = () => {
    while (!out.destroyed && sent < total) {
      const piece = sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent);
      sent += piece.length;
      if (!out.write(piece)) return void out.once('drain', pump);
    }
    if (!out.destroyed) end?.();
  };
  pump();
}

/** This process's open file descriptors, each with what it points at. */
export function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // The descriptor readdir itself used is gone by now.
    }
  }
  return fds;
}

/**
 * Runs `body`, which must close everything it opened, then waits for the event loop to release
 * what was closed and asserts that no file descriptor (socket, database file) is left open.
 */
export async function leavesNoFds(body: () => Promise<void>): Promise<void> {
  const before = openFds();
  await body();
  const leaked = () => [...openFds()].filter(([fd, target]) => before.get(fd) !== target);
  try {
    await eventually('file descriptors closed', () => leaked().length === 0, 3000);
  } catch {
    assert.fail(
      `leaked file descriptors: ${leaked()
        .map(([fd, target]) => `${fd} → ${target}`)
        .join(', ')}`,
    );
  }
}
