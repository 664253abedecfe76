/**
 * Child: the ceiling. A bare loop with no queue: an in-memory frontier per host and a Set of seen
 * URLs, undici for HTTP, htmlparser2 for links. It does what a crawl must and nothing more: the
 * same concurrency and per-host limit as ours, robots.txt fetched once per host and its Disallow
 * prefixes honoured; no persistence, no retries, no URL normalization beyond dropping fragments.
 */
import { Parser } from 'htmlparser2';
import { Agent } from 'undici';
import { runChild } from './child';

interface Host {
  origin: string;
  queue: string[];
  inFlight: number;
  /** Disallow prefixes for `*`, read from robots.txt before the host's first page. */
  disallow: Promise<string[]> | null;
}

function parseRobots(text: string): string[] {
  const out: string[] = [];
  let applies = false;
  for (const raw of text.split('\n')) {
    const [field, ...rest] = raw.split(':');
    const value = rest.join(':').trim();
    const name = field.trim().toLowerCase();
    if (name === 'user-agent') applies = value === '*';
    else if (name === 'disallow' && applies && value !== '') out.push(value);
  }
  return out;
}

function links(html: string, base: string): string[] {
  const out: string[] = [];
  const parser = new Parser({
    onopentag(name, attribs) {
      if ((name === 'a' || name === 'area') && attribs.href) {
        try {
          const u = new URL(attribs.href, base);
          u.hash = '';
          if (u.protocol === 'http:' || u.protocol === 'https:') out.push(u.href);
        } catch {
          // Not a URL: ignored, as a crawler would.
        }
      }
    },
  });
  parser.write(html);
  parser.end();
  return out;
}

runChild('bare', async (job, clock) => {
  const agent = new Agent({ connect: { timeout: 10_000 }, headersTimeout: 15_000, bodyTimeout: 15_000 });
  const hosts = new Map<string, Host>();
  const seen = new Set<string>();
  let pages = 0;
  let skipped = 0;
  let errors = 0;
  let running = 0;
  let late = false;
  const hostOf = (origin: string) => {
    let h = hosts.get(origin);
    if (!h) hosts.set(origin, (h = { origin, queue: [], inFlight: 0, disallow: null }));
    return h;
  };
  const origins = new Set(job.seeds.map((s) => new URL(s).origin));
  const add = (url: string) => {
    if (seen.has(url) || seen.size >= job.maxPages) return;
    if (job.seedOriginsOnly && !origins.has(new URL(url).origin)) return;
    seen.add(url);
    hostOf(new URL(url).origin).queue.push(url);
  };
  const get = async (url: string): Promise<{ status: number; text: string }> => {
    const u = new URL(url);
    const res = await agent.request({ origin: u.origin, path: u.pathname + u.search, method: 'GET', headers: { 'user-agent': 'bench-bare-loop' } });
    return { status: res.statusCode, text: await res.body.text() };
  };

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const fetchOne = async (h: Host, url: string) => {
    try {
      h.disallow ??= get(`${h.origin}/robots.txt`).then((r) => (r.status >= 200 && r.status < 300 ? parseRobots(r.text) : []));
      const disallow = await h.disallow;
      const p = new URL(url).pathname;
      if (disallow.some((d) => p.startsWith(d))) {
        skipped++;
        return;
      }
      const r = await get(url);
      if (r.status >= 200 && r.status < 300) {
        pages++;
        for (const l of links(r.text, url)) add(l);
      } else errors++;
    } catch {
      errors++;
    }
  };
  /** Starts fetches while there are free slots and a host below its limit has work. */
  const pump = () => {
    let progress = true;
    while (!late && running < job.concurrency && progress) {
      progress = false;
      for (const h of hosts.values()) {
        if (running >= job.concurrency) break;
        if (h.queue.length === 0 || h.inFlight >= job.perHostLimit) continue;
        const url = h.queue.shift()!;
        h.inFlight++;
        running++;
        progress = true;
        void fetchOne(h, url).then(() => {
          h.inFlight--;
          running--;
          pump();
        });
      }
    }
    if (running === 0) finish();
  };
  const timer = setTimeout(() => {
    late = true;
  }, job.deadlineMs);
  clock.begin();
  for (const s of job.seeds) add(s);
  pump();
  await finished;
  clock.end();
  clearTimeout(timer);
  await agent.close();
  return { pages, skipped, errors, complete: !late };
});
