/**
 * What both engines' page stores leave after one batch of acknowledgements carrying records, the
 * same scenario on each (sqlite-crawl-store.test.ts, crawl-pages.test.ts): `/` and `/next` (each
 * linking to the other), `/bad` refused for its data by the database, `/odd` that makes the
 * writer itself throw, and `/later` deferred.
 */
import * as assert from 'node:assert/strict';
import type { AckResult } from '../../../server/src/core/types';
import type { PageStore } from '../../../server/src/crawl/pages';

export async function assertRecordsRodeOnAcks(results: AckResult[], pages: PageStore, crawlId: string, logged: string[]): Promise<void> {
  const u = (p: string) => `http://127.0.0.9${p}`;
  assert.deepEqual(
    results.map((r) => [r.ok, r.state]),
    [
      [true, 'done'],
      [true, 'done'],
      [true, 'done'],
      [true, 'done'],
      [true, 'queued'],
    ],
    'a refused record does not hold back its acknowledgement',
  );
  assert.equal(await pages.page(crawlId, u('/bad')), null);
  assert.equal(await pages.page(crawlId, u('/odd')), null);
  assert.equal(await pages.page(crawlId, u('/later')), null, 'a deferral ends no attempt: what it carries is not written');
  const said = [...logged].sort();
  assert.equal(said.length, 2);
  assert.match(said[0], /^the record of http:\/\/127\.0\.0\.9\/bad could not be stored/);
  assert.match(said[1], /^the record of http:\/\/127\.0\.0\.9\/odd could not be stored/);
  assert.equal((await pages.page(crawlId, u('/next')))?.foundOn, u('/'));
  assert.deepEqual(await pages.inlinks(crawlId, u('/next'), 10), { links: [{ url: u('/'), text: 'Next' }], count: 1 });
}
