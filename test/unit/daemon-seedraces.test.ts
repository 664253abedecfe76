/**
 * A seed file's hints stay true when the database is slow and jobs change unnamed: a URL's new
 * job, read while the file is edited, is not lost to the snapshot the edit made; and the sweep
 * of unfinished jobs shows a job that failed and went back to the queue (its state the same).
 * The language server runs in process (helpers/seed-lsp.ts), on a real queue file whose reads
 * can be slowed as a PostgreSQL round trip would slow them.
 */
import * as assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { DidChangeTextDocumentNotification } from 'vscode-languageserver-protocol/node';
import { CRAWL_KIND } from '../../server/src/crawl/crawls';
import { openSeedFile } from './helpers/seed-lsp';
import { eventually } from './helpers/tmp';

const URL_1 = 'http://127.0.0.9/page/1';
const SWEEP_MS = 200;

/** A one-URL seed file open in the language server over a queue whose reads wait `slow.ms` first. */
async function openFile() {
  const slow = { ms: 0 };
  const f = await openSeedFile({
    text: `${URL_1}\n`,
    sweepMs: SWEEP_MS,
    wrap: {
      findByDedupeKeys: (real) => async (crawlId, keys) => {
        if (slow.ms) await sleep(slow.ms);
        return real(crawlId, keys);
      },
    },
  });
  let version = 1;
  return {
    ...f,
    slow,
    /** The hint of the URL's line (the last line, as comments are typed above it). */
    hint: async () => {
      const hints = await f.hints(0, 100);
      return String(hints[hints.length - 1]?.label);
    },
    /** A comment typed at the top. */
    type: () =>
      f.client.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri: f.uri, version: ++version },
        contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# a note\n' }],
      }),
  };
}

test("a URL's new job read while the file is edited shows, however slow the read", async () => {
  const f = await openFile();
  assert.equal(await f.hint(), 'not crawled yet');
  f.slow.ms = 300;
  const { ids } = await f.real.enqueue([{ kind: CRAWL_KIND, url: URL_1, key: '127.0.0.9', dedupeKey: URL_1 }]);
  f.features.jobsChanged(ids as number[]);
  // The change's look starts its read 100 ms on; the edit comes while it waits.
  await sleep(120);
  await f.type();
  await sleep(SWEEP_MS * 3);
  f.slow.ms = 0;
  await f.type();
  await eventually('the new job shown', async () => (await f.hint()) === '⏳ queued', 5_000);
});

test('the sweep shows a job that failed and went back to the queue, which no change named', async () => {
  const f = await openFile();
  const { ids } = await f.real.enqueue([{ kind: CRAWL_KIND, url: URL_1, key: '127.0.0.9', dedupeKey: URL_1 }]);
  f.features.jobsChanged(ids as number[]);
  await eventually('queued shown', async () => (await f.hint()) === '⏳ queued');
  const [job] = await f.real.lease('w', 1, { ttlMs: 60_000, defaultLimit: 1 });
  await f.real.ack('w', [{ id: job.id, token: job.leaseToken, outcome: { type: 'fail', error: 'HTTP 503' } }]);
  // Jobs moved, but the batch names none of this file's: its state, queued, is as it was.
  f.features.jobsChanged([]);
  await eventually('the retry shown', async () => /^⏳ queued · attempt 2 of 3/.test(await f.hint()), 5_000);
});
