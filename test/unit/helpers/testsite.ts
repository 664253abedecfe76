import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void | Promise<void>;

export interface TestHost {
  ip: string;
  origin: string;
  url(path: string): string;
  /** Requests per path (query included). */
  hits: Map<string, number>;
  /** The most requests this host served at once, measured by the server itself. */
  maxConcurrent(): number;
  /** The shortest time between two request starts on this host, in ms (Infinity with fewer than two). */
  minInterval(): number;
  close(): Promise<void>;
}

/** An HTML page with these links and an optional title. */
export function page(links: string[], title = 'page'): Route {
  return (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><html><head><title>${title}</title></head><body>${links.map((l) => `<a href="${l}">${l}</a>`).join('\n')}</body></html>`);
  };
}

export function text(body: string, type = 'text/plain'): Route {
  return (_req, res) => {
    res.setHeader('content-type', type);
    res.end(body);
  };
}

export function status(code: number, headers: Record<string, string> = {}): Route {
  return (_req, res) => {
    res.writeHead(code, headers);
    res.end(`status ${code}`);
  };
}

/**
 * A real HTTP server on one loopback address (127.0.0.2, 127.0.0.3, … are distinct hosts on Linux),
 * serving fixed routes after `delayMs`, and measuring what a polite crawler must respect:
 * concurrent requests and the interval between request starts.
 */
export async function startHost(ip: string, routes: Record<string, Route>, delayMs = 0): Promise<TestHost> {
  const hits = new Map<string, number>();
  const starts: number[] = [];
  let inFlight = 0;
  let most = 0;
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = req.url ?? '/';
    starts.push(performance.now());
    inFlight++;
    most = Math.max(most, inFlight);
    res.on('close', () => inFlight--);
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const route = routes[path];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    await route(req, res, n);
  };
  // A route that throws is a bug of its test, which node:test fails on the unhandled rejection.
  const server = http.createServer((req, res) => void serve(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ip, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${ip}:${port}`;
  return {
    ip,
    origin,
    url: (p) => origin + p,
    hits,
    maxConcurrent: () => most,
    minInterval: () => {
      let min = Infinity;
      for (let i = 1; i < starts.length; i++) min = Math.min(min, starts[i] - starts[i - 1]);
      return min;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
