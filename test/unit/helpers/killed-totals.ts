/**
 * A crawl's page count after a SIGKILL, on either engine: a daemon crawls a site whose /gate hangs
 * (so the crawl cannot end under the test) and is killed the moment some pages are done. The
 * totals were counted in memory and written at the crawl service's next tick (every 250 ms), so
 * a kill lost those of the pages done since; they commit with their acknowledgements now.
 */
import { RawClient, startDaemon } from './daemon-proc';
import { startWeb } from './daemon-sites';
import { eventually } from './tmp';

/** A crawl's page count and its jobs done, as its database holds them (read in one statement). */
export type Figures = (crawlId: string) => Promise<{ pages: number; done: number }>;

export async function killedMidCrawl(host: string, args: string[], figures: Figures): Promise<{ pages: number; done: number }> {
  const site: Record<string, string[]> = { '/': ['/gate'] };
  for (let i = 1; i <= 40; i++) {
    site['/'].push(`/p${i}`);
    site[`/p${i}`] = [];
  }
  const web = await startWeb(host, site, ['/gate']);
  const d = await startDaemon({ args: [...args, '--per-host', '2'] });
  const c = await RawClient.connect(d.socket);
  const { crawlId } = await c.request('crawl/start', { seeds: [web.url('/')], maxDepth: 1 });
  c.close();
  await eventually('ten pages done', async () => (await figures(crawlId)).done >= 10, 30_000);
  await d.stop('SIGKILL');
  return figures(crawlId);
}
