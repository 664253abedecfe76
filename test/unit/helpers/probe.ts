import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server that stands in for the outside world in queue tests: each request
 * `/<key>/<job id>` is held for `holdMs`, and the server counts how many requests per key it
 * holds at once, and how often each job id came.
 */
export async function startProbe(holdMs: number) {
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const [, key, id] = (req.url ?? '').split('/');
    const now = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, now);
    maxInFlight.set(key, Math.max(maxInFlight.get(key) ?? 0, now));
    seen.set(id, (seen.get(id) ?? 0) + 1);
    setTimeout(() => {
      inFlight.set(key, inFlight.get(key)! - 1);
      res.end('ok');
    }, holdMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    maxInFlight,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
