/**
 * The crawl defaults a user sees: what a crawl gets when it sets no limit, scope or address
 * policy. Kept apart from crawls.ts, which loads the fetcher (undici, htmlparser2): the seed-file
 * help reads these, and crawlctl loads the seed-file parser, which took 260-310 ms to require with
 * crawls.ts behind it, 105-155 ms without. Those a user can set (the daemon's --default-* flags,
 * the editor's settings) have their defaults in the table of settings.
 */
import { SETTINGS } from '../settings';
import type { CrawlSettings } from './crawls';

export const CRAWL_DEFAULTS: Pick<CrawlSettings, 'defaultMaxDepth' | 'defaultMaxPages' | 'defaultScope' | 'defaultAddresses'> = {
  defaultMaxDepth: SETTINGS.defaultMaxDepth.default,
  defaultMaxPages: 10_000,
  defaultScope: SETTINGS.defaultScope.default,
  // The setting's `auto`: no policy of the crawl kind's own, each crawl the kind of its seeds.
  defaultAddresses: null,
};
