/** A page record as the daemon sends it (crawl/pages), with `over` in place of its defaults: what the export tests write. */
import type { PageRecord } from '../../../server/src/protocol';

export function pageRecord(over: Partial<PageRecord> = {}): PageRecord {
  return {
    url: 'https://a.test/',
    jobId: 1,
    finalUrl: 'https://a.test/',
    redirects: [],
    status: 200,
    error: null,
    skipped: false,
    contentType: 'text/html',
    bytes: 2048,
    fetchMs: 35,
    fetchedAt: '2025-01-02T03:04:05.000Z',
    depth: 0,
    title: 'Home',
    description: null,
    canonical: null,
    robots: null,
    lang: 'en',
    foundOn: null,
    linkText: null,
    outlinks: 3,
    inlinks: 0,
    sha256: null,
    data: null,
    lastmod: null,
    ...over,
  };
}
