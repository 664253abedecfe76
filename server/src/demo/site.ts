/**
 * The bundled demo site: three small sites on loopback addresses (distinct hosts to the crawler),
 * linked to each other, with what a real crawl meets: a robots.txt that forbids a folder, a
 * redirect, broken links (404, 410, a 500, a connection dropped mid-answer), a nofollow link and a
 * slow page. Loopback only: nothing leaves the machine.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoSite {
  /** Origins by site name: docs, blog, shop. */
  origins: Record<'docs' | 'blog' | 'shop', string>;
  /** The crawl starts here. */
  seed: string;
  /** Requests served, by path with origin. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

type Page = {
  status?: number;
  location?: string;
  title?: string;
  links?: string[];
  nofollow?: string[];
  body?: string;
  delayMs?: number;
  type?: string;
  /** Drop the connection instead of answering. */
  reset?: boolean;
};

function html(title: string, links: string[], nofollow: string[]): string {
  const a = (l: string, rel: string) => `<li><a href="${l.replace(/"/g, '&quot;')}"${rel}>${l.replace(/</g, '&lt;')}</a></li>`;
  const items = [...links.map((l) => a(l, '')), ...nofollow.map((l) => a(l, ' rel="nofollow"'))].join('\n');
  return `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><ul>\n${items}\n</ul></body></html>`;
}

/** Listens on a free port of `host` (a loopback address); resolves with the origin. */
export async function listen(server: http.Server, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

/**
 * Starts the three sites. `addresses` are the loopback addresses to use (Linux routes all of
 * 127.0.0.0/8 to loopback); `slowMs` is how long the slow page takes.
 */
export async function startDemoSite(opts: { addresses?: [string, string, string]; slowMs?: number } = {}): Promise<DemoSite> {
  const [docsHost, blogHost, shopHost] = opts.addresses ?? ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
  const slowMs = opts.slowMs ?? 2_500;
  const hits = new Map<string, number>();
  const servers: http.Server[] = [];
  const origins = { docs: '', blog: '', shop: '' };
  const routes = new Map<string, Map<string, () => Page>>();

  const serve = (name: keyof typeof origins) => {
    const server = http.createServer((req, res) => {
      const origin = origins[name];
      const path = (req.url ?? '/').split('?')[0];
      hits.set(origin + path, (hits.get(origin + path) ?? 0) + 1);
      const page = routes.get(name)?.get(path)?.() ?? { status: 404, title: 'Not found' };
      const send = () => {
        if (res.destroyed) return;
        if (page.reset) return req.socket.destroy();
        const status = page.status ?? 200;
        if (page.location) {
          res.writeHead(status, { location: page.location });
          return res.end();
        }
        const body = page.body ?? html(page.title ?? String(status), page.links ?? [], page.nofollow ?? []);
        res.writeHead(status, { 'content-type': page.type ?? 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (page.delayMs) setTimeout(send, page.delayMs);
      else send();
    });
    // The slow page must not keep the demo from ending.
    server.keepAliveTimeout = 1_000;
    servers.push(server);
    return server;
  };

  const docs = serve('docs');
  const blog = serve('blog');
  const shop = serve('shop');
  origins.docs = await listen(docs, docsHost);
  origins.blog = await listen(blog, blogHost);
  origins.shop = await listen(shop, shopHost);

  const { docs: d, blog: b, shop: s } = origins;
  routes.set(
    'docs',
    new Map<string, () => Page>([
      ['/robots.txt', () => ({ type: 'text/plain', body: 'User-agent: *\nDisallow: /private/\n' })],
      ['/', () => ({ title: 'Docs', links: ['/guide/', '/api/', '/private/notes', '/missing-page', `${b}/`, `${s}/`] })],
      ['/guide/', () => ({ title: 'Guide', links: ['/guide/install', '/guide/configure', '/guide/old-name', '/'] })],
      ['/guide/install', () => ({ title: 'Install', links: ['/guide/', '/guide/configure'] })],
      ['/guide/configure', () => ({ title: 'Configure', links: ['/guide/', '/api/'] })],
      ['/guide/old-name', () => ({ status: 301, location: '/guide/configure' })],
      ['/api/', () => ({ title: 'API', links: ['/api/queue', '/api/crawls', '/api/broken'] })],
      ['/api/queue', () => ({ title: 'Queue API', links: ['/api/'] })],
      ['/api/crawls', () => ({ title: 'Crawls API', links: ['/api/'] })],
      ['/api/broken', () => ({ status: 500, title: 'Internal Server Error' })],
      ['/private/notes', () => ({ title: 'Private notes (robots.txt forbids this page)' })],
    ]),
  );
  routes.set(
    'blog',
    new Map<string, () => Page>([
      ['/', () => ({ title: 'Blog', links: ['/posts/1', '/posts/2', '/posts/3', '/slow', `${d}/`] })],
      ['/posts/1', () => ({ title: 'Hello, crawler', links: ['/', '/posts/2'] })],
      ['/posts/2', () => ({ title: 'Politeness', links: ['/', '/posts/3', `${s}/discontinued`] })],
      ['/posts/3', () => ({ title: 'Leases', links: ['/', '/posts/1'] })],
      ['/slow', () => ({ title: 'A slow page', links: ['/'], delayMs: slowMs })],
    ]),
  );
  routes.set(
    'shop',
    new Map<string, () => Page>([
      ['/', () => ({ title: 'Shop', links: ['/products/1', '/products/2', '/products/3'], nofollow: ['/cart'] })],
      ['/products/1', () => ({ title: 'Product 1', links: ['/', '/products/2'] })],
      ['/products/2', () => ({ title: 'Product 2', links: ['/', '/products/3', '/products/4'] })],
      ['/products/4', () => ({ reset: true })],
      ['/products/3', () => ({ title: 'Product 3', links: ['/'] })],
      ['/cart', () => ({ title: 'Cart' })],
      ['/discontinued', () => ({ status: 410, title: 'Gone' })],
    ]),
  );

  return {
    origins,
    seed: `${d}/`,
    hits,
    close: async () => {
      await Promise.all(
        servers.map(
          (srv) =>
            new Promise<void>((r) => {
              srv.closeAllConnections();
              srv.close(() => r());
            }),
        ),
      );
    },
  };
}
