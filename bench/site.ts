/**
 * The local site the crawl section fetches: `hosts` HTTP servers on 127.0.0.2, 127.0.0.3, ...
 * (on Linux all of 127/8 is loopback, and each address is a distinct host to a crawler), each with
 * `pages` pages answered at once from memory. Page n links to pages 5n+1..5n+5 of its host (so the
 * root reaches every page within a few hops), to two other pages of its host and to two pages of
 * other hosts. Every 50th page also links to /private/n, which robots.txt disallows.
 *
 * Pages shaped like real ones (`heavy`, issue 17) are 20-120 KB with 20-120 links each: the same
 * five children as relative paths, then links to pages of the host (absolute paths, `../` paths,
 * with fragments), to the page's own fragments, to other hosts of the site, to /search?q= (query
 * strings, which robots.txt disallows) and out of the site (127.0.0.1 port 9, which no crawler
 * measured here follows: each keeps to the seeds' hosts). Made deterministically, per request
 * (the text after the links is one shared buffer), so 20,000 of them take no memory.
 *
 * The servers count what a crawler's politeness must guarantee: requests in flight per host at
 * once (a response goes out on the next turn of the event loop, so requests that arrive together
 * are seen together), and requests for disallowed paths (must be 0).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const ROBOTS_TXT = 'User-agent: *\nDisallow: /private/\nDisallow: /search\n';

export interface HostCounters {
  host: string;
  requests: number;
  pages: number;
  robots: number;
  disallowed: number;
  notFound: number;
  inFlight: number;
  maxInFlight: number;
}

export interface Site {
  /** One seed per host: its root page. */
  seeds: string[];
  /** Pages that exist and robots.txt allows: what a complete crawl fetches. */
  allowedPages: number;
  disallowedLinks: number;
  counters: HostCounters[];
  /** Distinct page URLs requested since the last reset, to tell duplicates from pages. */
  distinctPages(): number;
  reset(): void;
  close(): Promise<void>;
}

/** Deterministic pseudo-random numbers (so every run crawls the same site). */
export function mix(a: number, b: number): number {
  let x = (a * 0x9e3779b1) ^ (b * 0x85ebca77);
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
  x = Math.imul(x ^ (x >>> 12), 0x297a2d39);
  return (x ^ (x >>> 15)) >>> 0;
}

const FILLER = 'The quick brown fox jumps over the lazy dog while the crawler counts its pages. ';

function render(host: number, page: number, hosts: number, pages: number, origins: string[]): string {
  const links: string[] = [];
  for (let c = 5 * page + 1; c <= 5 * page + 5 && c < pages; c++) links.push(`/p/${c}`);
  // Never /p/0: page 0 is the root, "/".
  const pick = (n: number) => 1 + (n % (pages - 1));
  links.push(`/p/${pick(mix(host, page))}`, `/p/${pick(mix(page, host + 7))}`);
  for (let k = 1; k <= 2; k++) {
    const other = (host + 1 + (mix(host + k, page) % (hosts - 1))) % hosts;
    links.push(`${origins[other]}/p/${pick(mix(other, page + k))}`);
  }
  if (page % 50 === 0) links.push(`/private/${page}`);
  const items = links.map((l) => `<li><a href="${l}">${l}</a></li>`).join('');
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>Host ${host} page ${page}</title></head>` +
    `<body><h1>Page ${page}</h1><p>${FILLER.repeat(12)}</p><ul>${items}</ul><p>${FILLER.repeat(6)}</p></body></html>`
  );
}

export type SiteShape = 'light' | 'heavy';

/** Prose after a heavy page's links, as much of it as the page's size wants. */
const PROSE = Buffer.from(`<p>${FILLER.repeat(40)}</p>\n`.repeat(40));
/** Distinct /search?q= URLs per host, which robots.txt disallows. */
const SEARCHES = 50;
const WORDS = ['guide', 'reference', 'next chapter', 'previous', 'install', 'API', 'examples', 'home', 'changelog', 'FAQ'];

/** A heavy page: its head and links as text; its size says how much of PROSE follows. */
function renderHeavy(host: number, page: number, hosts: number, pages: number, origins: string[]): { head: string; size: number } {
  const size = 20_000 + (mix(host, page) % 100_001);
  const count = 20 + (mix(page, host + 3) % 101);
  const pick = (n: number) => 1 + (n % (pages - 1));
  const links: string[] = [];
  // The tree that reaches every page: relative to /p/<page> (the root, "/", has them under /p/).
  for (let c = 5 * page + 1; c <= 5 * page + 5 && c < pages; c++) links.push(page === 0 ? `p/${c}` : String(c));
  for (let i = links.length; i < count; i++) {
    const k = pick(mix(host * 31 + i, page));
    switch (i % 8) {
      case 0:
      case 1:
        links.push(`/p/${k}`);
        break;
      case 2:
        links.push(`../p/${k}`);
        break;
      case 3:
        links.push(`/p/${k}#section-${i}`);
        break;
      case 4:
        links.push(`#part-${i}`);
        break;
      case 5:
        links.push(`/search?q=${mix(k, i) % SEARCHES}`);
        break;
      case 6:
        links.push(`${origins[(host + 1 + (mix(host, page + i) % (hosts - 1))) % hosts]}/p/${k}`);
        break;
      default:
        links.push(`http://127.0.0.1:9/elsewhere/${k}`);
    }
  }
  const items = links.map((l, i) => `<li><a href="${l}">${WORDS[(i + page) % WORDS.length]} ${i}</a></li>`).join('\n');
  const head =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host ${host} page ${page}</title>` +
    `<meta name="description" content="Page ${page} of host ${host}, shaped like a real one."></head>` +
    `<body><nav><ul>\n${items}\n</ul></nav><main><h1 id="top">Page ${page}</h1>\n`;
  return { head, size };
}

/**
 * `delayMs`: how long every answer waits (a timer, no CPU), as a distant server's would; 0 answers
 * on the next turn of the event loop.
 */
export async function startSite(hosts: number, pages: number, shape: SiteShape = 'light', delayMs = 0): Promise<Site> {
  const servers: http.Server[] = [];
  const counters: HostCounters[] = [];
  const seen = new Set<string>();
  const ports: number[] = [];
  // Filled once every origin is known, since pages link across hosts.
  const bodies: Buffer[][] = [];
  const origins: string[] = [];
  for (let h = 0; h < hosts; h++) {
    const address = `127.0.0.${h + 2}`;
    const c: HostCounters = { host: address, requests: 0, pages: 0, robots: 0, disallowed: 0, notFound: 0, inFlight: 0, maxInFlight: 0 };
    counters.push(c);
    bodies.push([]);
    const robots = Buffer.from(ROBOTS_TXT);
    const server = http.createServer((req, res) => {
      c.requests++;
      c.inFlight++;
      c.maxInFlight = Math.max(c.maxInFlight, c.inFlight);
      res.once('close', () => c.inFlight--);
      const url = req.url ?? '/';
      const respond = () => {
        let body: Buffer;
        let type = 'text/html; charset=utf-8';
        let status = 200;
        const m = /^\/p\/(\d+)$/.exec(url);
        if (url === '/robots.txt') {
          c.robots++;
          body = robots;
          type = 'text/plain';
        } else if (url === '/' || (m && Number(m[1]) >= 1 && Number(m[1]) < pages)) {
          const page = url === '/' ? 0 : Number(m![1]);
          c.pages++;
          seen.add(`${h} ${page}`);
          if (shape === 'heavy') {
            const { head, size } = renderHeavy(h, page, hosts, pages, origins);
            const start = Buffer.from(head);
            const end = Buffer.from('</main></body></html>');
            const prose = PROSE.subarray(0, Math.max(0, size - start.length - end.length));
            res.writeHead(200, { 'content-type': type, 'content-length': start.length + prose.length + end.length });
            res.write(start);
            res.write(prose);
            res.end(end);
            return;
          }
          body = bodies[h][page];
        } else {
          if (url.startsWith('/private/') || url.startsWith('/search')) c.disallowed++;
          else c.notFound++;
          status = 404;
          body = Buffer.from('not found');
          type = 'text/plain';
        }
        res.writeHead(status, { 'content-type': type, 'content-length': body.length });
        res.end(body);
      };
      if (delayMs > 0) setTimeout(respond, delayMs);
      else setImmediate(respond);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, address, () => resolve());
    });
    ports.push((server.address() as AddressInfo).port);
    servers.push(server);
  }
  origins.push(...ports.map((port, h) => `http://127.0.0.${h + 2}:${port}`));
  if (shape === 'light') {
    for (let h = 0; h < hosts; h++) {
      for (let p = 0; p < pages; p++) bodies[h].push(Buffer.from(render(h, p, hosts, pages, origins)));
    }
  }
  const disallowedPerHost = shape === 'heavy' ? SEARCHES : Math.ceil(pages / 50);
  return {
    seeds: origins.map((o) => `${o}/`),
    allowedPages: hosts * pages,
    disallowedLinks: hosts * disallowedPerHost,
    counters,
    distinctPages: () => seen.size,
    reset: () => {
      seen.clear();
      for (const c of counters) Object.assign(c, { requests: 0, pages: 0, robots: 0, disallowed: 0, notFound: 0, inFlight: 0, maxInFlight: 0 });
    },
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
