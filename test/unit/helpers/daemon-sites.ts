/**
 * A small web for daemon tests on one loopback address: pages with links, a 404, and "gates":
 * pages that hang until the test opens them, so a job can be caught while it is leased.
 * Counts requests per path and the most in flight at once.
 */
import http from 'node:http';
import { after } from 'node:test';
import { startSite, type Site } from './sites';

export interface TestWeb {
  site: Site;
  url(path: string): string;
  hits(path: string): number;
  maxInFlight(): number;
  /** Answers every request held at the gate (and those that come later) with a page. */
  open(gate: string): void;
  /** Requests waiting at a gate now. */
  waiting(gate: string): number;
}

const sites: Site[] = [];
// Registered at load time (the test file's top level), so sites live until the file ends.
after(() => Promise.all(sites.map((s) => s.close())));

/** `pages` maps a path to its links (paths or absolute URLs); `gates` are paths that hang. */
export async function startWeb(host: string, pages: Record<string, string[]>, gates: string[] = []): Promise<TestWeb> {
  const hits = new Map<string, number>();
  const held = new Map<string, http.ServerResponse[]>(gates.map((g) => [g, []]));
  const opened = new Set<string>();
  let inFlight = 0;
  let max = 0;
  const page = (res: http.ServerResponse, links: string[]) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><head><title>t</title></head><body>${links.map((l) => `<a href="${l}">x</a>`).join('')}</body></html>`);
  };
  const site = await startSite((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    inFlight++;
    max = Math.max(max, inFlight);
    res.on('close', () => {
      inFlight--;
    });
    if (held.has(path) && !opened.has(path)) {
      held.get(path)!.push(res);
      return;
    }
    if (held.has(path) || path in pages) return page(res, pages[path] ?? []);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }, host);
  sites.push(site);
  return {
    site,
    url: (p) => site.url(p),
    hits: (p) => hits.get(p) ?? 0,
    maxInFlight: () => max,
    open: (gate) => {
      opened.add(gate);
      for (const res of held.get(gate)?.splice(0) ?? []) if (!res.destroyed) page(res, []);
    },
    waiting: (gate) => (held.get(gate) ?? []).filter((r) => !r.destroyed).length,
  };
}
