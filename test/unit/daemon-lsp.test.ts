/**
 * The daemon as the editor launches it: a language server on stdio, driven by a real LSP client
 * connection. The method table as custom requests, notifications, and the seed-file features.
 */
import * as assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CodeActionRequest,
  CodeLensRefreshRequest,
  CodeLensRequest,
  CompletionRequest,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  DocumentLinkRequest,
  ExitNotification,
  HoverRequest,
  IPCMessageReader,
  IPCMessageWriter,
  InitializeRequest,
  InitializedNotification,
  InlayHintRefreshRequest,
  InlayHintRequest,
  PublishDiagnosticsNotification,
  ResponseError,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type ClientCapabilities,
  type CodeAction,
  type CodeLens,
  type CompletionItem,
  type Diagnostic,
  type InlayHint,
  type MarkupContent,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
  type TextDocumentEdit,
} from 'vscode-languageserver-protocol/node';
import { createConnection } from 'vscode-languageserver/lib/common/api';
import { NotFoundError } from '../../server/src/core/errors';
import { HELD, type Job, type Queue } from '../../server/src/core/types';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT, createCrawlService, SqliteCrawlStore } from '../../server/src/crawl/crawls';
import { CRAWL_DEFAULTS } from '../../server/src/crawl/defaults';
import type { CrawlRecord, CrawlService } from '../../server/src/crawl/service';
import { countdownChangesIn, HANDLER_RECHECK_MS, SeedFeatures, stateLabel, Throttled } from '../../server/src/daemon/seeds/features';
import { SeedMap } from '../../server/src/daemon/seeds/map';
import { wireCrawl } from '../../server/src/daemon/wire';
import { ErrorCodes, SEED_COMMANDS, STATE_FILES } from '../../server/src/protocol';
import { MAIN_JS, QUICK, RawClient, scratch, startDaemon } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { eventually, tempDir } from './helpers/tmp';

let web: TestWeb;
let child: ChildProcess;
let conn: ProtocolConnection;
let stateDir: string;
let stderr = '';
const diagnostics = new Map<string, Diagnostic[]>();
const notifications: { method: string; params: any }[] = [];
let refreshes = 0;
let lensRefreshes = 0;
const uri = 'file:///work/seeds/docs.crawl';

function seedText(): string {
  return [
    '# docs',
    'name: docs',
    'max-depth: 0',
    'extract.heading: title',
    web.url('/'),
    web.url('/missing'),
    'http//typo.example/',
    web.url('/gate'),
    '',
  ].join('\n');
}

before(async () => {
  web = await startWeb('127.0.0.6', { '/': [] }, ['/gate']);
  stateDir = scratch('crawld-lsp-');
  child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', stateDir, ...QUICK, '--stop-deadline', '0.5'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  conn = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => diagnostics.set(p.uri, p.diagnostics));
  for (const method of ['jobs/changed', 'queue/statsChanged', 'crawl/changed']) {
    conn.onNotification(method, (params: unknown) => notifications.push({ method, params }));
  }
  conn.onRequest(InlayHintRefreshRequest.type, () => {
    refreshes++;
  });
  conn.onRequest(CodeLensRefreshRequest.type, () => {
    refreshes++;
    lensRefreshes++;
  });
  conn.listen();
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: null,
    workspaceFolders: null,
    capabilities: { workspace: { inlayHint: { refreshSupport: true }, codeLens: { refreshSupport: true } } },
  });
  assert.ok(init.capabilities.inlayHintProvider);
  await conn.sendNotification(InitializedNotification.type, {});
});

after(() => {
  conn?.dispose();
  child?.kill('SIGKILL');
});

/** A daemon as the editor starts it, over node IPC, with an LSP connection to it and its log. */
function editorDaemon(args: string[]) {
  const ipc = fork(MAIN_JS, [...args, ...QUICK], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let text = '';
  ipc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  const exited = new Promise<number | null>((resolve) => ipc.once('exit', (code) => resolve(code)));
  const c = createProtocolConnection(new IPCMessageReader(ipc), new IPCMessageWriter(ipc));
  c.listen();
  return { ipc, c, exited, log: () => text };
}

const wholeDoc = { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } };
const hints = () => conn.sendRequest(InlayHintRequest.type, { textDocument: { uri }, range: wholeDoc }) as Promise<InlayHint[]>;
const lenses = () => conn.sendRequest(CodeLensRequest.type, { textDocument: { uri } }) as Promise<CodeLens[]>;
const hintOn = (all: InlayHint[], line: number) => String(all.find((h) => h.position.line === line)?.label ?? '');

describe('language server', () => {
  test('the method table as custom requests, with the same error codes', async () => {
    const stats = await conn.sendRequest<{ total: number }>('queue/stats', {});
    // Params omitted, as the socket allows: the same answer, not an error about the cancellation token.
    assert.equal((await conn.sendRequest<{ total: number }>('queue/stats')).total, stats.total);
    assert.ok(Array.isArray((await conn.sendRequest<{ crawls: unknown[] }>('crawl/list')).crawls));
    assert.equal(stats.total, 0);
    await assert.rejects(
      conn.sendRequest('jobs/get', { id: 'seven' }),
      (e: ResponseError<unknown>) => e.code === ErrorCodes.InvalidParams && /^id: /.test(e.message),
    );
    await assert.rejects(conn.sendRequest('jobs/get', { id: 4242 }), (e: ResponseError<unknown>) => e.code === ErrorCodes.NotFound);
    await assert.rejects(conn.sendRequest('jobs/fly', {}), (e: ResponseError<unknown>) => e.code === ErrorCodes.MethodNotFound);
    assert.deepEqual(await conn.sendRequest('jobs/reasons', {}), { reasons: [] });
    await assert.rejects(
      conn.sendRequest('jobs/reasons', { limit: 0 }),
      (e: ResponseError<unknown>) => e.code === ErrorCodes.InvalidParams && /^limit: /.test(e.message),
    );
  });

  test('a seed file: diagnostics for bad URLs, hints before any crawl, a lens to start it', async () => {
    await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text: seedText() } });
    const diags = (await eventually('diagnostics', () => diagnostics.get(uri)))!;
    assert.deepEqual(
      diags.map((d) => [d.range.start.line, d.severity, d.source]),
      [[6, 1, 'crawl']],
    );
    assert.equal(diags[0].message, 'http//typo.example/: not a URL: expected http:// or https://');
    const before = await hints();
    assert.deepEqual(
      before.map((h) => [h.position.line, h.label]),
      [
        [4, 'not crawled yet'],
        [5, 'not crawled yet'],
        [7, 'not crawled yet'],
      ],
    );
    const start = (await lenses()).find((l) => l.command?.command === SEED_COMMANDS.startCrawl);
    assert.equal(start?.command?.title, '▶ Start crawl (3 URLs)');
    assert.deepEqual(start?.command?.arguments, [{ uri }]);
  });

  test('seeds/start runs the file as it is open; hints, diagnostics and lenses follow the jobs', async () => {
    assert.deepEqual(await conn.sendRequest('events/subscribe', {}), { subscribed: true });
    const started = await conn.sendRequest<{ crawlId: string; enqueued: number }>('seeds/start', { uri });
    assert.equal(started.enqueued, 3);
    const remembered = JSON.parse(fs.readFileSync(path.join(stateDir, STATE_FILES.seedFiles), 'utf8'));
    assert.deepEqual(remembered, { [uri]: started.crawlId });

    const failed = (await eventually('a diagnostic for the failed page', () => diagnostics.get(uri)?.find((d) => d.range.start.line === 5)))!;
    assert.equal(failed.message, 'HTTP 404');
    assert.ok(refreshes > 0, 'the client was asked to redraw hints and lenses');

    const now = (await eventually('hints with live states', async () => {
      const h = await hints();
      return hintOn(h, 4).startsWith('✓ done') && hintOn(h, 7).startsWith('⟳ running') ? h : null;
    }))!;
    assert.match(hintOn(now, 4), /^✓ done · 200 · \d+ B · \d+ ms$/);
    assert.match(hintOn(now, 5), /^✗ error · HTTP 404$/);
    const { workerId } = await conn.sendRequest<{ workerId: string }>('scheduler/status', {});
    assert.match(hintOn(now, 7), new RegExp(`^⟳ running · ${workerId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} · lease \\d+ s left · heartbeat \\d+ s ago$`));

    const hover = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 4, character: 3 } });
    const md = (hover?.contents as MarkupContent).value;
    assert.match(md, /\| State \| done \|/);
    assert.match(md, /HTTP 200/);
    assert.ok(md.includes(`crawl ${started.crawlId.replace(/_/g, '\\_')}`), 'names the crawl (escaped for markdown)');
    assert.match(md, /Recent events:[\s\S]*\*\*enqueued\*\*[\s\S]*\*\*leased\*\*[\s\S]*\*\*done\*\*/);
    assert.match(
      md,
      /^\*\*[^\n]+\*\*\n\nData:\n\n\| \| \|\n\|---\|---\|\n\| heading \| t \|\n\n\| \| \|\n\|---\|---\|\n\| State \| done \|/,
      "the page's data (the file's extract fields) first",
    );
    assert.equal(await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 0, character: 2 } }), null, 'no hover on a comment');
    const option = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 1, character: 8 } });
    assert.match((option?.contents as MarkupContent).value, /^\*\*name\*\*: The crawl's name/, 'an option line: its help');

    // The crawl runs (/gate is held): the lens shows it and steers it, and starts no other.
    const title = (all: CodeLens[]) => all.map((l) => l.command?.title ?? '');
    const all = (await eventually('the lens of the running crawl', async () => {
      const l = await lenses();
      return title(l).includes(`⟳ docs (${started.crawlId}): running · 2/3 · 1 failed`) ? l : null;
    }))!;
    assert.deepEqual(title(all), [
      `⟳ docs (${started.crawlId}): running · 2/3 · 1 failed`,
      '$(debug-pause) Pause',
      '$(debug-stop) Cancel',
      '↻ Requeue failed (1)',
      '$(graph) Report',
    ]);
    const pause = all.find((l) => l.command?.title === '$(debug-pause) Pause')!.command!;
    assert.deepEqual([pause.command, pause.arguments], [SEED_COMMANDS.pauseCrawl, [{ crawlId: started.crawlId }]]);
    const cancel = all.find((l) => l.command?.title === '$(debug-stop) Cancel')!.command!;
    assert.deepEqual([cancel.command, cancel.arguments], [SEED_COMMANDS.cancelCrawl, [{ crawlId: started.crawlId }]]);
    // Paused (as the lens's command would ask): the editor is asked to redraw, and the lens follows.
    const asked = lensRefreshes;
    await conn.sendRequest('crawl/pause', pause.arguments![0]);
    await eventually('a lens redraw for the pause', () => lensRefreshes > asked);
    const paused = title(await lenses());
    assert.deepEqual(paused.slice(0, 3), [`$(debug-pause) docs (${started.crawlId}): paused · 2/3 · 1 failed`, '▶ Resume', '$(debug-stop) Cancel']);
    await conn.sendRequest('crawl/resume', { crawlId: started.crawlId });

    const requeue = all.find((l) => l.command?.command === SEED_COMMANDS.requeueFailed);
    assert.equal(requeue?.command?.title, '↻ Requeue failed (1)');
    assert.deepEqual(requeue?.command?.arguments, [{ crawlId: started.crawlId, state: 'error' }]);
    const reveal = all.find((l) => l.command?.command === SEED_COMMANDS.revealJobs);
    assert.equal(reveal?.command?.arguments?.[0].crawlId, started.crawlId);
    assert.deepEqual(reveal?.command?.arguments?.[0].jobIds, [], 'the crawl names its jobs: their ids do not go with every lens');

    // The failure counted by its reason, under the same method name as on the socket.
    const { reasons } = await conn.sendRequest<{ reasons: { reason: string; count: number }[] }>('jobs/reasons', { crawlId: started.crawlId });
    assert.deepEqual(
      reasons.map((r) => r.count),
      [1],
    );

    // What the extension does with the lens: the request goes back as is.
    assert.deepEqual(await conn.sendRequest('jobs/requeue', requeue.command.arguments[0]), { requeued: 1 });
    await eventually('jobs/changed sent to the editor', () => notifications.some((n) => n.method === 'jobs/changed' && n.params.changes.length > 0));
    assert.ok(notifications.some((n) => n.method === 'crawl/changed' && n.params.crawl.crawlId === started.crawlId));
  });

  test('edits are parsed again: a bad option is reported on its line', async () => {
    const text = seedText().replace('max-depth: 0', 'max-depth: deep');
    await conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 2 }, contentChanges: [{ text }] });
    const d = (await eventually('the option diagnostic', () => diagnostics.get(uri)?.find((x) => x.range.start.line === 2)))!;
    assert.match(d.message, /max-depth: must be a whole number, or none for no limit \(got "deep"\)/);
    assert.equal(
      (await lenses()).some((l) => l.command?.command === SEED_COMMANDS.startCrawl),
      false,
      'no start lens for a file that cannot start',
    );
    await assert.rejects(
      conn.sendRequest('seeds/start', { uri }),
      (e: ResponseError<unknown>) => e.code === ErrorCodes.InvalidParams && /line 3: max-depth/.test(e.message),
    );
  });

  test('the same daemon serves the socket too', async () => {
    const socket = path.join(stateDir, STATE_FILES.socket);
    const c = await RawClient.connect(socket);
    const { crawls } = await c.request('crawl/list');
    assert.equal(crawls.length, 1);
    c.close();
  });

  test('shutdown and exit: exit code 0, running jobs handed back', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await conn.sendRequest(ShutdownRequest.type);
    await conn.sendNotification(ExitNotification.type);
    assert.equal(await exited, 0, stderr);
    const q = new SqliteQueue(path.join(stateDir, STATE_FILES.db), { components: [CRAWL_COMPONENT] });
    try {
      assert.equal((await q.stats()).in_progress, 0);
      const [gate] = await q.findByDedupeKeys(JSON.parse(fs.readFileSync(path.join(stateDir, STATE_FILES.seedFiles), 'utf8'))[uri], [web.url('/gate')]);
      assert.equal(gate.state, 'queued');
    } finally {
      await q.close();
    }
    assert.ok(!fs.existsSync(path.join(stateDir, STATE_FILES.socket)));
  });
});

describe('an editor that stops reading mid-conversation', () => {
  test('answers and notifications it no longer takes are logged, none left to reject unhandled', async () => {
    const dir = scratch('crawld-lsp-gone-');
    const d = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', dir, ...QUICK, '--log-level', 'debug'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let log = '';
    d.stderr.setEncoding('utf8').on('data', (s: string) => {
      log += s;
    });
    const c = createProtocolConnection(new StreamMessageReader(d.stdout), new StreamMessageWriter(d.stdin));
    c.listen();
    try {
      await c.sendRequest(InitializeRequest.type, { processId: null, rootUri: null, workspaceFolders: null, capabilities: {} });
      await c.sendRequest('events/subscribe', {});
      // Its end of the daemon's stdout goes: every write meets a broken pipe, while requests still arrive.
      d.stdout.destroy();
      for (let i = 0; i < 3; i++) c.sendRequest('jobs/enqueue', { urls: [`http://127.0.0.9:9/${i}`] }).catch(() => undefined);
      await eventually('an answer not sent, logged', () => /LSP: Sending response failed/.test(log));
      await eventually('a change notification not sent, logged', () => /jobs\/changed not sent to the editor/.test(log));
      assert.doesNotMatch(log, /uncaught/);
    } finally {
      c.dispose();
      d.kill('SIGKILL');
    }
  });
});

describe('over Node IPC, as the extension launches it', () => {
  test('requests work; the editor going away stops the daemon and frees the socket', async () => {
    const dir = scratch('crawld-ipc-');
    const { ipc, c, exited, log } = editorDaemon(['--state-dir', dir, '--node-ipc', `--clientProcessId=${process.pid}`]);
    try {
      await c.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, workspaceFolders: null, capabilities: {} });
      assert.equal((await c.sendRequest<{ total: number }>('queue/stats', {})).total, 0);
      assert.ok(fs.existsSync(path.join(dir, STATE_FILES.socket)));
    } finally {
      c.dispose();
    }
    ipc.disconnect();
    assert.equal(await exited, 1, 'no shutdown was asked for: exit 1, as LSP says');
    assert.match(log(), /stopping \(the editor closed the connection\)/);
    assert.match(log(), /stopped/);
    assert.ok(!fs.existsSync(path.join(dir, STATE_FILES.socket)));
  });

  test("with a headless daemon already on the folder, the editor's still starts, as one more worker", async () => {
    const headless = await startDaemon();
    const { c, exited, log } = editorDaemon(['--state-dir', headless.stateDir, '--node-ipc']);
    try {
      await c.sendRequest(InitializeRequest.type, { processId: null, rootUri: null, workspaceFolders: null, capabilities: {} });
      const mine = await c.sendRequest<{ workerId: string }>('scheduler/status', {});
      const k = await RawClient.connect(headless.socket);
      assert.notEqual((await k.request('scheduler/status')).workerId, mine.workerId, 'the socket stays with the headless daemon');
      k.close();
      assert.match(log(), /is served by the daemon with worker id .*; serving the editor only/);
      await c.sendRequest(ShutdownRequest.type);
      await c.sendNotification(ExitNotification.type);
    } finally {
      c.dispose();
    }
    assert.equal(await exited, 0);
    assert.ok(fs.existsSync(headless.socket), "the headless daemon's socket is left alone");
    assert.equal((await headless.stop()).code, 0);
  });
});

/**
 * The seed-file features in this process, over an in-memory LSP connection, with a queue and
 * crawls the test controls: what they read, when, and how they fail.
 */
function inProcess(
  queue: Partial<Queue>,
  crawls: Pick<CrawlService, 'get'> & Partial<Pick<CrawlService, 'pageOfJob' | 'handlerProblem'>>,
  capabilities: ClientCapabilities = {},
  defaults = CRAWL_DEFAULTS,
) {
  const up = new PassThrough();
  const down = new PassThrough();
  const server = createConnection((logger) => createProtocolConnection(new StreamMessageReader(up), new StreamMessageWriter(down), logger), {
    shutdownReceived: false,
    initialize: () => {},
    exit: () => {},
  });
  const seeds = new SeedMap(path.join(scratch('crawld-seedmap-'), STATE_FILES.seedFiles), () => {});
  // This machine's clock, unless the test gives the queue one of its own.
  const features = new SeedFeatures(
    server,
    { now: () => Date.now(), ...queue } as Queue,
    { pageOfJob: async () => null, ...crawls },
    seeds,
    () => {},
    defaults,
  );
  features.setCapabilities(capabilities);
  features.listen();
  server.listen();
  const client = createProtocolConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const published = new Map<string, PublishDiagnosticsParams>();
  client.onNotification(PublishDiagnosticsNotification.type, (p) => published.set(p.uri, p));
  let hintRefreshes = 0;
  client.onRequest(InlayHintRefreshRequest.type, () => {
    hintRefreshes++;
  });
  client.onRequest(CodeLensRefreshRequest.type, () => {});
  client.listen();
  let opened = 0;
  return {
    features,
    client,
    seeds,
    published,
    hintRefreshes: () => hintRefreshes,
    /** Opens a seed file (started crawl `crawlId`, when given) and waits for its first diagnostics. */
    async open(lines: string[], crawlId?: string) {
      const uri = `file:///work/inproc/${opened++}.crawl`;
      if (crawlId) seeds.set(uri, crawlId);
      await client.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text: lines.join('\n') } });
      await eventually('diagnostics', () => published.get(uri));
      return uri;
    },
    lensTitles: async (uri: string) => ((await client.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) ?? []).map((l) => l.command?.title ?? ''),
    close() {
      features.close();
      client.dispose();
      server.dispose();
    },
  };
}

function job(url: string, fields: Partial<Job>): Job {
  return {
    id: 1,
    kind: 'page',
    url,
    key: new URL(url).hostname,
    crawlId: null,
    depth: 0,
    priority: 0,
    state: 'queued',
    attempts: 0,
    maxAttempts: 3,
    reclaims: 0,
    deferrals: 0,
    runAfter: 0,
    workerId: null,
    leaseToken: null,
    leasedAt: null,
    leaseExpiresAt: null,
    heartbeatAt: null,
    lastError: null,
    result: null,
    payload: null,
    createdAt: 0,
    updatedAt: 0,
    finishedAt: null,
    ...fields,
  };
}

function crawlRecord(id: string, state: CrawlRecord['state']): CrawlRecord {
  return {
    id,
    name: null,
    seeds: ['https://a.example/'],
    options: {} as CrawlRecord['options'],
    state,
    counts: { queued: 1, in_progress: 0, done: 0, skipped: 0, error: 0 } as CrawlRecord['counts'],
    cancelled: 0,
    pages: 0,
    bytes: 0,
    dropped: {},
    fromSitemaps: 0,
    sitemapsRead: 0,
    pagesPerSecond: 0,
    createdAt: 0,
    finishedAt: null,
  };
}

const noCrawls: Pick<CrawlService, 'get'> = {
  get: async (id) => {
    throw new NotFoundError(`no crawl ${id}`);
  },
};

describe('seed features in process', () => {
  test('completion and quick fixes neither read the database nor parse the file again', async () => {
    let failing = false;
    const queue: Partial<Queue> = {
      findByDedupeKeys: async () => {
        if (failing) throw new Error('database is locked');
        return [];
      },
    };
    const lsp = inProcess(queue, noCrawls, { workspace: { workspaceEdit: { documentChanges: true } } });
    try {
      const uri = await lsp.open(['colour: blue', 'https://a.example/']);
      failing = true;
      const change = async (version: number, text: string) =>
        lsp.client.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges: [{ text }] });
      const v2 = 'colour: blue\nma\nhttps://a.example/\nhttps://b.example/';
      await change(2, v2);
      const items = (await lsp.client.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: 1, character: 2 } })) as CompletionItem[];
      assert.ok(
        items.some((i) => i.label === 'max-pages'),
        'completion answers from the text alone, while reads fail',
      );
      const actions = (range: { start: { line: number; character: number }; end: { line: number; character: number } }) =>
        lsp.client.sendRequest(CodeActionRequest.type, {
          textDocument: { uri },
          range,
          context: { diagnostics: lsp.published.get(uri)!.diagnostics },
        }) as Promise<CodeAction[]>;
      const whole = { start: { line: 0, character: 0 }, end: { line: 4, character: 0 } };
      assert.deepEqual(await actions(whole), [], 'the last parse is of version 1: no fixes for version 2');

      failing = false;
      await change(3, `${v2}\n`);
      await eventually('diagnostics of version 3', () => lsp.published.get(uri)?.version === 3);
      const fixes = await actions(whole);
      assert.deepEqual(
        fixes.map((a) => a.title),
        ['Remove line 1', 'Remove line 2'],
      );
      for (const a of fixes) assert.equal((a.edit!.documentChanges![0] as TextDocumentEdit).textDocument.version, 3);

      await lsp.client.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
      assert.deepEqual(await actions(whole), [], 'closed meanwhile: none, and no error');
      assert.deepEqual(await lsp.client.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: 1, character: 2 } }), []);
    } finally {
      lsp.close();
    }
  });

  test('a crawl that could not be read is not taken for gone: no start offered, and read again', async () => {
    const failed = new Set<string>();
    const crawls: Pick<CrawlService, 'get'> = {
      get: async (id) => {
        if (id === 'c_gone') throw new NotFoundError(`no crawl ${id}`);
        if (!failed.has(id)) {
          failed.add(id);
          throw new Error('database is locked');
        }
        return crawlRecord(id, 'running');
      },
    };
    const lsp = inProcess({ findByDedupeKeys: async () => [] }, crawls);
    try {
      const uri = await lsp.open(['https://a.example/'], 'c_1');
      assert.deepEqual(await lsp.lensTitles(uri), ['Open in jobs view (crawl c_1)'], 'its state unknown: neither a start nor its progress');
      assert.deepEqual(await lsp.lensTitles(uri), ['⟳ c_1: running · 0/1', '$(debug-pause) Pause', '$(debug-stop) Cancel', '$(graph) Report']);
      const other = await lsp.open(['https://a.example/'], 'c_2');
      assert.deepEqual(await lsp.lensTitles(other), ['Open in jobs view (crawl c_2)']);
      lsp.features.crawlsChanged([wireCrawl(crawlRecord('c_2', 'paused'))]);
      assert.deepEqual(
        await lsp.lensTitles(other),
        ['$(debug-pause) c_2: paused · 0/1', '▶ Resume', '$(debug-stop) Cancel', '$(graph) Report'],
        "the change feed's news, after a failed read",
      );
      const gone = await lsp.open(['https://a.example/'], 'c_gone');
      assert.deepEqual(await lsp.lensTitles(gone), ['▶ Start crawl (1 URL)', 'Open in jobs view (crawl c_gone)'], 'a crawl that is gone: start it again');
      // A crawl with a name is "name (id)", as everywhere.
      lsp.features.crawlsChanged([wireCrawl({ ...crawlRecord('c_2', 'finished'), name: 'docs' })]);
      assert.deepEqual(await lsp.lensTitles(other), ['▶ Start crawl (1 URL)', 'Open in jobs view (docs (c_2))', '$(graph) Report']);
    } finally {
      lsp.close();
    }
  });

  test("the change feed's news of a crawl wins over a read that was under way", async () => {
    let asked!: () => void;
    const reading = new Promise<void>((resolve) => {
      asked = resolve;
    });
    let answer!: (c: CrawlRecord) => void;
    const crawls: Pick<CrawlService, 'get'> = {
      get: () => {
        asked();
        return new Promise<CrawlRecord>((resolve) => {
          answer = resolve;
        });
      },
    };
    const lsp = inProcess({ findByDedupeKeys: async () => [] }, crawls);
    try {
      const uri = await lsp.open(['https://a.example/'], 'c_1');
      const titles = lsp.lensTitles(uri);
      await reading;
      lsp.features.crawlsChanged([wireCrawl(crawlRecord('c_1', 'paused'))]);
      answer(crawlRecord('c_1', 'running'));
      assert.deepEqual(await titles, ['$(debug-pause) c_1: paused · 0/1', '▶ Resume', '$(debug-stop) Cancel', '$(graph) Report']);
      assert.deepEqual(await lsp.lensTitles(uri), ['$(debug-pause) c_1: paused · 0/1', '▶ Resume', '$(debug-stop) Cancel', '$(graph) Report']);
    } finally {
      lsp.close();
    }
  });

  test("a crawl's counts redraw its lens in turn, but its last count (nothing left queued or running) and a change of state at once", async () => {
    const lsp = inProcess(
      { findByDedupeKeys: async () => [] },
      { get: async (id) => crawlRecord(id, 'running') },
      { workspace: { codeLens: { refreshSupport: true } } },
    );
    const redraws: string[] = [];
    const counted = (queued: number, running: number, done: number, state: CrawlRecord['state'] = 'running') =>
      wireCrawl({ ...crawlRecord('c_1', state), counts: { queued, in_progress: running, done, skipped: 0, error: 0, total: queued + running + done } });
    try {
      const uri = await lsp.open(['https://a.example/', 'https://b.example/', 'https://c.example/'], 'c_1');
      await lsp.lensTitles(uri);
      // The throttle's two ways, recorded: which one a change takes is the decision under test.
      (lsp.features as unknown as { lensRedraws: { ask(): void; now(): void; close(): void } }).lensRedraws = {
        ask: () => redraws.push('in turn'),
        now: () => redraws.push('at once'),
        close: () => {},
      };
      lsp.features.crawlsChanged([counted(2, 1, 0)]);
      lsp.features.crawlsChanged([counted(1, 1, 1)]);
      lsp.features.crawlsChanged([counted(1, 1, 1)]);
      lsp.features.crawlsChanged([counted(0, 0, 3)]);
      lsp.features.crawlsChanged([counted(0, 0, 3, 'finished')]);
      assert.deepEqual(redraws, ['in turn', 'in turn', 'at once', 'at once'], 'a count that did not move asks nothing');
      assert.equal((await lsp.lensTitles(uri))[0], '▶ Start crawl (3 URLs)', 'finished: the file may start it again');
    } finally {
      lsp.close();
    }
  });

  test('a file that started another crawl: the crawl it showed is forgotten, and read again if shown again', async () => {
    const states = new Map<string, CrawlRecord['state']>([
      ['c_1', 'running'],
      ['c_2', 'running'],
    ]);
    const lsp = inProcess({ findByDedupeKeys: async () => [] }, { get: async (id) => crawlRecord(id, states.get(id)!) });
    try {
      const uri = await lsp.open(['https://a.example/'], 'c_1');
      assert.deepEqual(await lsp.lensTitles(uri), ['⟳ c_1: running · 0/1', '$(debug-pause) Pause', '$(debug-stop) Cancel', '$(graph) Report']);
      lsp.seeds.set(uri, 'c_2');
      assert.deepEqual(await lsp.lensTitles(uri), ['⟳ c_2: running · 0/1', '$(debug-pause) Pause', '$(debug-stop) Cancel', '$(graph) Report']);
      // Finished meanwhile; the change feed's news of it is for files that show it, and none does.
      states.set('c_1', 'finished');
      lsp.features.crawlsChanged([wireCrawl(crawlRecord('c_1', 'finished'))]);
      lsp.seeds.set(uri, 'c_1');
      assert.deepEqual(await lsp.lensTitles(uri), ['▶ Start crawl (1 URL)', 'Open in jobs view (crawl c_1)', '$(graph) Report'], 'not its state as last shown');
    } finally {
      lsp.close();
    }
  });

  test("option help states the daemon's defaults, not the built-in ones", async () => {
    const lsp = inProcess({ findByDedupeKeys: async () => [] }, noCrawls, {}, { ...CRAWL_DEFAULTS, defaultScope: 'domain' });
    try {
      const uri = await lsp.open(['scope: ', 'https://a.example/']);
      const items = (await lsp.client.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: 0, character: 7 } })) as CompletionItem[];
      assert.deepEqual(
        items.map((i) => [i.label, i.detail]),
        [
          ['host', undefined],
          ['domain', 'default'],
          ['any', undefined],
        ],
      );
      const hover = await lsp.client.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 0, character: 2 } });
      assert.match((hover?.contents as MarkupContent).value, /Default: domain \(/);
    } finally {
      lsp.close();
    }
  });

  test("a seed file's handler: a link to its module, from the file's folder, and an error when the crawl could not run it", async () => {
    const asked: [string, string][] = [];
    let created = false;
    const lsp = inProcess(
      { findByDedupeKeys: async () => [] },
      {
        ...noCrawls,
        handlerProblem: (given, base) => {
          asked.push([given, base]);
          return given === 'lib/missing.mjs' && !created ? 'handler: lib/missing.mjs: no such file' : null;
        },
      },
    );
    try {
      const good = await lsp.open(['handler:  ./scrape.mjs  # ours', 'https://a.example/']);
      const links = await lsp.client.sendRequest(DocumentLinkRequest.type, { textDocument: { uri: good } });
      assert.deepEqual(
        links?.map((l) => [l.target, l.range.start.character, l.range.end.character]),
        [['file:///work/inproc/scrape.mjs', 10, 22]],
      );
      assert.deepEqual(lsp.published.get(good)!.diagnostics, []);
      const bad = await lsp.open(['name: x', 'handler: lib/missing.mjs', 'https://a.example/']);
      assert.deepEqual(
        lsp.published.get(bad)!.diagnostics.map((d) => [d.range.start.line, d.message]),
        [[1, 'handler: lib/missing.mjs: no such file']],
      );
      assert.deepEqual(asked.slice(0, 2), [
        ['./scrape.mjs', '/work/inproc'],
        ['lib/missing.mjs', '/work/inproc'],
      ]);
      // The module created: its error goes without an edit, at the next look.
      created = true;
      await eventually('the handler error withdrawn', () => lsp.published.get(bad)!.diagnostics.length === 0, HANDLER_RECHECK_MS * 3);
      // Below the first URL, a `handler:` line is no option: no link.
      const late = await lsp.open(['https://a.example/', 'handler: ./x.mjs']);
      assert.deepEqual(await lsp.client.sendRequest(DocumentLinkRequest.type, { textDocument: { uri: late } }), []);
    } finally {
      lsp.close();
    }
  });

  test('a job waiting out a backoff: its wait counts down, redrawn while shown', async () => {
    const url = 'https://a.example/';
    const waiting = job(url, { attempts: 1, runAfter: Date.now() + 60_000 });
    const lsp = inProcess({ findByDedupeKeys: async (crawlId) => (crawlId === null ? [waiting] : []) }, noCrawls, {
      workspace: { inlayHint: { refreshSupport: true } },
    });
    try {
      const uri = await lsp.open([url]);
      await eventually('the redraw asked for with the diagnostics', () => lsp.hintRefreshes() > 0);
      const asked = lsp.hintRefreshes();
      const hints = await lsp.client.sendRequest(InlayHintRequest.type, { textDocument: { uri }, range: wholeDoc });
      assert.match(String(hints?.[0].label), /^⏳ queued · attempt 2 of 3 · retrying in (59|60) s$/);
      await eventually('a redraw of the countdown', () => lsp.hintRefreshes() > asked);
    } finally {
      lsp.close();
    }
  });
});

describe('hint wording', () => {
  test('waits as spans, not UTC clocks; attempts as "2 of 3"', () => {
    const now = Date.UTC(2026, 0, 2, 9, 38, 23);
    const url = 'https://a.example/';
    assert.equal(stateLabel(job(url, {}), now), '⏳ queued');
    assert.equal(
      stateLabel(job(url, { attempts: 1, runAfter: now + 12_000 }), now),
      '⏳ queued · attempt 2 of 3 · retrying in 12 s',
      'spans as the Jobs view writes them',
    );
    assert.equal(stateLabel(job(url, { deferrals: 2, runAfter: now + 30_000 }), now), '⏳ queued · due in 30 s', 'put off, not retried');
    assert.equal(stateLabel(job(url, { attempts: 1, runAfter: now + 300_000 }), now), '⏳ queued · attempt 2 of 3 · retrying in 5 min');
    assert.equal(stateLabel(job(url, { attempts: 2, runAfter: now - 1 }), now), '⏳ queued · attempt 3 of 3');
    assert.equal(stateLabel(job(url, { runAfter: HELD }), now), '‖ held · crawl paused', 'held with its paused crawl, as the jobs view says');
    assert.equal(stateLabel(job(url, { attempts: 1, runAfter: HELD }), now), '‖ held · crawl paused');
  });

  test('a redirect says where it leads: a path on its own origin, else the whole URL', () => {
    const now = Date.UTC(2026, 0, 2, 9, 38, 23);
    const done = (status: number, finalUrl: string) => job('https://a.example/old', { state: 'done', result: { status, bytes: 0, durationMs: 1, finalUrl } });
    assert.equal(stateLabel(done(301, 'https://a.example/new?x=1'), now), '✓ done · 301 → /new?x=1 · 0 B · 1 ms');
    assert.equal(stateLabel(done(302, 'https://b.example/'), now), '✓ done · 302 → https://b.example/ · 0 B · 1 ms');
    assert.equal(stateLabel(done(200, 'https://a.example/old'), now), '✓ done · 200 · 0 B · 1 ms');
  });

  test('a countdown is redrawn when its text next changes: each second, each minute from two', () => {
    const now = Date.UTC(2026, 0, 2, 9, 38, 23);
    for (const wait of [300, 1_000, 12_300, 59_999, 119_700, 120_000, 150_000, 3_599_400, 3_600_000]) {
      const label = (at: number) => stateLabel(job('https://a.example/', { attempts: 1, runAfter: now + wait }), at);
      const next = countdownChangesIn(wait);
      assert.notEqual(label(now + next), label(now), `${wait} ms: changed by then`);
      assert.equal(label(now + next - 2), label(now), `${wait} ms: not before`);
    }
    assert.ok(countdownChangesIn(3_600_000) > 29_000, "an hour's wait, told in minutes, is not redrawn every second");
  });
});

describe('a crawl changed by another daemon on the same database', () => {
  test('its finish is emitted here too: the lens and the jobs view do not show it running for good', async () => {
    const dir = tempDir();
    const open = (store: (s: SqliteCrawlStore) => SqliteCrawlStore) => {
      const queue = new SqliteQueue(path.join(dir, 'queue.db'), { components: [CRAWL_COMPONENT] });
      return { queue, crawls: createCrawlService(queue, store(new SqliteCrawlStore(queue.db)), { bodiesDir: path.join(dir, 'bodies') }) };
    };
    // Here, every finish is lost to the other daemon's: it is the other that finishes the crawl.
    const here = open((s) => Object.assign(s, { finish: async () => false }));
    const other = open((s) => s);
    after(async () => {
      for (const p of [here, other]) {
        await p.crawls.close();
        await p.queue.close();
      }
    });
    const { crawlId } = await here.crawls.start({ seeds: ['http://127.0.0.1:1/'] });
    const seen: string[] = [];
    here.crawls.onCrawlChanged((c) => {
      if (c.id === crawlId) seen.push(c.state);
    });
    await other.queue.cancel({ crawlId });
    await eventually("the other daemon's finish, emitted here", () => seen.includes('finished'));
    assert.equal((await other.crawls.get(crawlId)).state, 'finished');
  });
});

test('a redraw asked in the wait goes at its end, once; one asked now goes at once and starts the wait anew', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent: number[] = [];
  let clock = 0;
  const throttled = new Throttled(() => sent.push(clock), 1_000);
  throttled.ask();
  throttled.ask();
  throttled.ask();
  assert.deepEqual(sent, [0], 'the first at once, the others kept');
  clock = 1_000;
  t.mock.timers.tick(1_000);
  assert.deepEqual(sent, [0, 1_000], 'the kept ones sent once at the end of the wait');
  clock = 1_200;
  throttled.now();
  assert.deepEqual(sent, [0, 1_000, 1_200], 'a state change does not wait');
  throttled.ask();
  clock = 2_000;
  t.mock.timers.tick(800);
  assert.deepEqual(sent, [0, 1_000, 1_200], 'the wait started again with it');
  clock = 2_200;
  t.mock.timers.tick(200);
  assert.deepEqual(sent, [0, 1_000, 1_200, 2_200]);
  throttled.close();
});
