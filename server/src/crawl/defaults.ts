/**
 * The crawl defaults a user sees: what a crawl gets when it sets no limit, scope or address
 * policy. Kept apart from crawls.ts, which loads the fetcher (undici, htmlparser2): the seed-file
 * help reads these, and crawlctl loads the seed-file parser, which took 260-310 ms to require with
 * crawls.ts behind it, 105-155 ms without.
 */
import type { CrawlSettings } from './crawls';

export const CRAWL_DEFAULTS: Pick<CrawlSettings, 'defaultMaxDepth' | 'defaultMaxPages' | 'defaultScope' | 'defaultAddresses'> = {
  // No limit, as Crawlee, Scrapy and linkinator: a site whose chapters link to the next one went
  // 469 links deep, and a limit of 3 fetched 1,213 of the 2,711 pages of 13 such books.
  defaultMaxDepth: null,
  defaultMaxPages: 10_000,
  defaultScope: 'host',
  defaultAddresses: null,
};
