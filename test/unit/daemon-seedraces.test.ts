/**
 * A seed file's hints stay true when the database is slow and jobs change unnamed: a URL's new
 * job, read while the file is edited, is not lost to the snapshot the edit made; and the sweep
 * of unfinished jobs shows a job that failed and went back to the queue (its state the same).
 * The language server runs in process, driven by a real LSP client, on a real queue file whose
 * reads can be slowed as a PostgreSQL round trip would slow them.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { createConnection } from 'vscode-languageserver/node';
import {
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  InitializeRequest,
  InitializedNotification,
  InlayHintRequest,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type InlayHint,
} from 'vscode-languageserver-protocol/node';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import type { Queue } from '../../server/src/core/types';
import { CRAWL_COMPONENT, CRAWL_KIND } from '../../server/src/crawl/crawls';
import { CRAWL_DEFAULTS } from '../../server/src/crawl/defaults';
import { SeedFeatures } from '../../server/src/daemon/seeds/features';
import { SeedMap } from '../../server/src/daemon/seeds/map';
import { eventually, tempDir } from './helpers/tmp';

const URL_1 = 'http://127.0.0.9/page/1';
const SWEEP_MS = 200;

/** A one-URL seed file open in the language server over a queue whose reads wait `slow.ms` first. */
async function openFile() {
  const dir = tempDir();
  const real = new SqliteQueue(path.join(dir, 'queue.db'), { components: [CRAWL_COMPONENT] });
  after(() => real.close());
  const slow = { ms: 0 };
  const queue = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'findByDedupeKeys') {
        return async (crawlId: string | null, keys: string[]) => {
          if (slow.ms) await sleep(slow.ms);
          return target.findByDedupeKeys(crawlId, keys);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Queue;
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  const features = new SeedFeatures(
    server,
    queue,
    { get: () => Promise.reject(new Error('no crawls here')), pageOfJob: async () => null },
    new SeedMap(path.join(dir, 'seedfiles.json'), () => {}),
    () => {},
    CRAWL_DEFAULTS,
    SWEEP_MS,
  );
  server.onInitialize((p) => {
    features.setCapabilities(p.capabilities);
    return { capabilities: { inlayHintProvider: { resolveProvider: false } } };
  });
  features.listen();
  server.listen();
  const client = createProtocolConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  let diagnosed = 0;
  client.onNotification(PublishDiagnosticsNotification.type, () => {
    diagnosed++;
  });
  client.listen();
  after(() => {
    features.close();
    client.dispose();
    server.dispose();
  });
  await client.sendRequest(InitializeRequest.type, { processId: null, rootUri: null, workspaceFolders: null, capabilities: {} });
  await client.sendNotification(InitializedNotification.type, {});
  const uri = 'file:///work/a.crawl';
  await client.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text: `${URL_1}\n` } });
  await eventually('the file looked at', () => diagnosed > 0);
  let version = 1;
  return {
    real,
    features,
    slow,
    /** The hint of the URL's line (the last line, as comments are typed above it). */
    hint: async () => {
      const hints = (await client.sendRequest(InlayHintRequest.type, {
        textDocument: { uri },
        range: { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } },
      })) as InlayHint[];
      return String(hints[hints.length - 1]?.label);
    },
    /** A comment typed at the top. */
    type: () =>
      client.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri, version: ++version },
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
