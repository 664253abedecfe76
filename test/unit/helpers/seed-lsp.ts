/**
 * A seed file open in the seed-file language features, run in this process over a pair of
 * streams and driven by a real LSP client connection, on a real queue file whose reads the test
 * can count or slow down (`wrap` proxies the queue the features see).
 */
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after } from 'node:test';
import { createConnection } from 'vscode-languageserver/node';
import {
  DidOpenTextDocumentNotification,
  InitializeRequest,
  InitializedNotification,
  InlayHintRefreshRequest,
  InlayHintRequest,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type Diagnostic,
  type InlayHint,
} from 'vscode-languageserver-protocol/node';
import { SqliteQueue } from '../../../server/src/core/sqlite/engine';
import type { Queue } from '../../../server/src/core/types';
import { CRAWL_COMPONENT } from '../../../server/src/crawl/crawls';
import { CRAWL_DEFAULTS } from '../../../server/src/crawl/defaults';
import { SeedFeatures } from '../../../server/src/daemon/seeds/features';
import { SeedMap } from '../../../server/src/daemon/seeds/map';
import { eventually, tempDir } from './tmp';

/** Queue methods the test stands in for: each gets the real queue's method and returns its own. */
export type QueueWraps = { [K in keyof Queue]?: (real: Queue[K]) => Queue[K] };

export async function openSeedFile(opts: {
  text: string;
  sweepMs: number;
  /** Jobs in the queue before the file opens. */
  before?: (queue: SqliteQueue) => Promise<unknown>;
  wrap?: QueueWraps;
  /** The crawl the file started, as the seed map remembers it. */
  crawlId?: string;
}) {
  const dir = tempDir();
  const real = new SqliteQueue(path.join(dir, 'queue.db'), { components: [CRAWL_COMPONENT] });
  after(() => real.close());
  await opts.before?.(real);
  const wraps = (opts.wrap ?? {}) as Record<string, (m: unknown) => unknown>;
  const queue = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      const method = typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return typeof prop === 'string' && wraps[prop] ? wraps[prop](method) : method;
    },
  }) as Queue;

  const uri = 'file:///work/big.crawl';
  const seedMap = new SeedMap(path.join(dir, 'seedfiles.json'), () => {});
  if (opts.crawlId) seedMap.set(uri, opts.crawlId);
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const server = createConnection(new StreamMessageReader(toServer), new StreamMessageWriter(toClient));
  const features = new SeedFeatures(
    server,
    queue,
    { get: () => Promise.reject(new Error('no crawls here')), pageOfJob: async () => null },
    seedMap,
    () => {},
    CRAWL_DEFAULTS,
    opts.sweepMs,
  );
  server.onInitialize((p) => {
    features.setCapabilities(p.capabilities);
    return { capabilities: { inlayHintProvider: { resolveProvider: false } } };
  });
  features.listen();
  server.listen();
  const client = createProtocolConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  let redraws = 0;
  let diagnosed = 0;
  let diagnostics: Diagnostic[] = [];
  client.onRequest(InlayHintRefreshRequest.type, () => {
    redraws++;
  });
  client.onNotification(PublishDiagnosticsNotification.type, (p) => {
    diagnostics = p.diagnostics;
    diagnosed++;
  });
  client.listen();
  after(() => {
    features.close();
    client.dispose();
    server.dispose();
  });
  await client.sendRequest(InitializeRequest.type, {
    processId: null,
    rootUri: null,
    workspaceFolders: null,
    capabilities: { workspace: { inlayHint: { refreshSupport: true } } },
  });
  await client.sendNotification(InitializedNotification.type, {});
  await client.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text: opts.text } });
  await eventually('the file looked at', () => diagnosed > 0);
  return {
    real,
    features,
    client,
    uri,
    redraws: () => redraws,
    diagnosed: () => diagnosed,
    /** The diagnostics last published. */
    diagnostics: () => diagnostics,
    /** The hints of lines `from` to `to`, as an editor showing them asks. */
    hints: (from: number, to: number) =>
      client.sendRequest(InlayHintRequest.type, {
        textDocument: { uri },
        range: { start: { line: from, character: 0 }, end: { line: to, character: 0 } },
      }) as Promise<InlayHint[]>,
  };
}
