// The end-to-end suite's test site: two small sites on loopback addresses
// (distinct hosts to the crawler; Linux routes all of 127.0.0.0/8 to lo),
// with what the suite needs to see: a robots.txt that forbids a folder (a
// skipped job), a page that answers 404 the first time and 200 afterwards (a
// failed job that succeeds once requeued), one that is always gone (410, for
// the seed file's error diagnostic) and a slow page (a lease held long enough
// to be seen, and longer than the lease TTL, so heartbeats must keep it).
import * as http from 'node:http';
import { listen as listenOn } from '../../server/src/demo/site';

export interface TestSite {
  /** Origins, e.g. http://127.0.0.21:40123. */
  a: string;
  b: string;
  /** Where Start Crawl begins: a's home page. */
  seed: string;
  /** How long /slow takes to answer. */
  slowMs: number;
  /** Requests served for an absolute URL (origin + path). */
  hits(url: string): number;
  /** Every User-Agent seen, once each. */
  userAgents(): string[];
  close(): Promise<void>;
}

interface Page {
  status?: number;
  type?: string;
  title?: string;
  links?: string[];
  body?: string;
  delayMs?: number;
}

/**
 * What a crawl from `seed` with max depth 2 and scope "any" must end with:
 * a/ → a/a a/b a/slow a/missing a/private/report b/ (depth 1) → b/b1 (depth 2).
 */
export const EXPECTED_FIRST_CRAWL = { queued: 0, in_progress: 0, done: 6, skipped: 1, error: 1 } as const;

function html(title: string, links: string[]): string {
  const items = links.map((l) => `<li><a href="${l}">${l}</a></li>`).join('\n');
  return `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><ul>\n${items}\n</ul></body></html>`;
}

export async function startTestSite(opts: { addresses?: [string, string]; slowMs?: number } = {}): Promise<TestSite> {
  // Not the demo's 127.0.0.2-4, so the two can run side by side without confusion in logs.
  const [hostA, hostB] = opts.addresses ?? ['127.0.0.21', '127.0.0.22'];
  const slowMs = opts.slowMs ?? 12_000;
  const hits = new Map<string, number>();
  const agents = new Set<string>();
  const servers: http.Server[] = [];
  const origin = { a: '', b: '' };

  const routes: Record<'a' | 'b', Record<string, (n: number) => Page>> = {
    a: {
      '/robots.txt': () => ({ type: 'text/plain', body: 'User-agent: *\nDisallow: /private/\n' }),
      '/': () => ({ title: 'Site A', links: ['/a', '/b', '/slow', '/missing', '/private/report', `${origin.b}/`] }),
      '/a': () => ({ title: 'Page A', links: ['/', '/b'] }),
      '/b': () => ({ title: 'Page B', links: ['/a'] }),
      '/slow': () => ({ title: 'A slow page', links: ['/'], delayMs: slowMs }),
      // 404 on the first request only: the crawl's job fails, its requeue succeeds.
      '/missing': (n) => (n === 1 ? { status: 404, title: 'Not found' } : { title: 'Found on the second try', links: ['/'] }),
      '/gone': () => ({ status: 410, title: 'Gone' }),
      '/private/report': () => ({ title: 'Private (robots.txt forbids it)' }),
    },
    b: {
      // No robots.txt: everything allowed.
      '/': () => ({ title: 'Site B', links: ['/b1', `${origin.a}/a`] }),
      '/b1': () => ({ title: 'Page B1', links: ['/'] }),
    },
  };

  const serve = (name: 'a' | 'b') =>
    http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const url = origin[name] + path;
      const n = (hits.get(url) ?? 0) + 1;
      hits.set(url, n);
      agents.add(req.headers['user-agent'] ?? '(none)');
      const page = routes[name][path]?.(n) ?? { status: 404, title: 'Not found' };
      const send = () => {
        if (res.destroyed) return;
        const status = page.status ?? 200;
        const body = page.body ?? html(page.title ?? String(status), page.links ?? []);
        res.writeHead(status, { 'content-type': page.type ?? 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (page.delayMs) setTimeout(send, page.delayMs);
      else send();
    });

  const listen = (server: http.Server, host: string): Promise<string> => {
    servers.push(server);
    server.keepAliveTimeout = 1_000;
    return listenOn(server, host);
  };

  const site: TestSite = {
    a: '',
    b: '',
    seed: '',
    slowMs,
    hits: (url) => hits.get(url) ?? 0,
    userAgents: () => [...agents],
    close: () =>
      Promise.all(
        servers.map(
          (srv) =>
            new Promise<void>((resolve) => {
              srv.closeAllConnections();
              srv.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
  try {
    origin.a = site.a = await listen(serve('a'), hostA);
    origin.b = site.b = await listen(serve('b'), hostB);
  } catch (err) {
    await site.close();
    throw err;
  }
  site.seed = `${site.a}/`;
  return site;
}
