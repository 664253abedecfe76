/**
 * The daemon as the editor launches it: a language server on stdio, driven by a real LSP client
 * connection. The method table as custom requests, notifications, and the seed-file features.
 */
import * as assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CodeLensRefreshRequest, CodeLensRequest, DidChangeTextDocumentNotification, DidOpenTextDocumentNotification,
  ExitNotification, HoverRequest, IPCMessageReader, IPCMessageWriter, InitializeRequest, InitializedNotification,
  InlayHintRefreshRequest, InlayHintRequest,
  PublishDiagnosticsNotification, ResponseError, ShutdownRequest, StreamMessageReader, StreamMessageWriter,
  createProtocolConnection, type CodeLens, type Diagnostic, type InlayHint, type MarkupContent, type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { CRAWL_COMPONENT } from '../../server/src/crawl/crawls';
import { ErrorCodes, SEED_COMMANDS, STATE_FILES } from '../../server/src/protocol';
import { MAIN_JS, QUICK, RawClient, scratch, startDaemon } from './helpers/daemon-proc';
import { startWeb, type TestWeb } from './helpers/daemon-sites';
import { eventually } from './helpers/tmp';

let web: TestWeb;
let child: ChildProcess;
let conn: ProtocolConnection;
let stateDir: string;
let stderr = '';
const diagnostics = new Map<string, Diagnostic[]>();
const notifications: { method: string; params: any }[] = [];
let refreshes = 0;
const uri = 'file:///work/seeds/docs.crawl';

function seedText(): string {
  return ['# docs', 'name: docs', 'max-depth: 0', '', web.url('/'), web.url('/missing'), 'http//typo.example/', web.url('/gate'), ''].join('\n');
}

before(async () => {
  web = await startWeb('127.0.0.6', { '/': [] }, ['/gate']);
  stateDir = scratch('crawld-lsp-');
  child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', stateDir, ...QUICK, '--stop-deadline', '0.5'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  conn = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => diagnostics.set(p.uri, p.diagnostics));
  for (const method of ['jobs/changed', 'queue/statsChanged', 'crawl/changed']) {
    conn.onNotification(method, (params: unknown) => notifications.push({ method, params }));
  }
  conn.onRequest(InlayHintRefreshRequest.type, () => { refreshes++; });
  conn.onRequest(CodeLensRefreshRequest.type, () => { refreshes++; });
  conn.listen();
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid, rootUri: null, workspaceFolders: null,
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
  ipc.stderr!.setEncoding('utf8').on('data', (d: string) => { text += d; });
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
    const stats = await conn.sendRequest('queue/stats', {}) as { total: number };
    // Params omitted, as the socket allows: the same answer, not an error about the cancellation token.
    assert.equal(((await conn.sendRequest('queue/stats')) as { total: number }).total, stats.total);
    assert.ok(Array.isArray(((await conn.sendRequest('crawl/list')) as { crawls: unknown[] }).crawls));
    assert.equal(stats.total, 0);
    await assert.rejects(conn.sendRequest('jobs/get', { id: 'seven' }), (e: ResponseError<unknown>) =>
      e.code === ErrorCodes.InvalidParams && /^id: /.test(e.message));
    await assert.rejects(conn.sendRequest('jobs/get', { id: 4242 }), (e: ResponseError<unknown>) => e.code === ErrorCodes.NotFound);
    await assert.rejects(conn.sendRequest('jobs/fly', {}), (e: ResponseError<unknown>) => e.code === ErrorCodes.MethodNotFound);
  });

  test('a seed file: diagnostics for bad URLs, hints before any crawl, a lens to start it', async () => {
    await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text: seedText() } });
    const diags = (await eventually('diagnostics', () => diagnostics.get(uri)))!;
    assert.deepEqual(diags.map((d) => [d.range.start.line, d.severity, d.source]), [[6, 1, 'crawl']]);
    assert.match(diags[0].message, /http\/\/typo\.example\/: not a URL/);
    const before = await hints();
    assert.deepEqual(before.map((h) => [h.position.line, h.label]), [[4, 'not crawled yet'], [5, 'not crawled yet'], [7, 'not crawled yet']]);
    const start = (await lenses()).find((l) => l.command?.command === SEED_COMMANDS.startCrawl);
    assert.equal(start?.command?.title, '▶ Start crawl (3 URLs)');
    assert.deepEqual(start?.command?.arguments, [{ uri }]);
  });

  test('seeds/start runs the file as it is open; hints, diagnostics and lenses follow the jobs', async () => {
    assert.deepEqual(await conn.sendRequest('events/subscribe', {}), { subscribed: true });
    const started = await conn.sendRequest('seeds/start', { uri }) as { crawlId: string; enqueued: number };
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
    const { workerId } = await conn.sendRequest('scheduler/status', {}) as { workerId: string };
    assert.match(hintOn(now, 7), new RegExp(`^⟳ running · ${workerId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} · lease \\d+s left · heartbeat \\d+s ago$`));

    const hover = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 4, character: 3 } });
    const md = (hover?.contents as MarkupContent).value;
    assert.match(md, /\| State \| done \|/);
    assert.match(md, /HTTP 200/);
    assert.ok(md.includes(`crawl ${started.crawlId.replace(/_/g, '\\_')}`), 'names the crawl (escaped for markdown)');
    assert.match(md, /Recent events:[\s\S]*\*\*enqueued\*\*[\s\S]*\*\*leased\*\*[\s\S]*\*\*done\*\*/);
    assert.equal(await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 1, character: 2 } }), null, 'no hover off the URLs');

    const all = await lenses();
    const requeue = all.find((l) => l.command?.command === SEED_COMMANDS.requeueFailed);
    assert.equal(requeue?.command?.title, '↻ Requeue failed (1)');
    assert.deepEqual(requeue?.command?.arguments, [{ crawlId: started.crawlId, state: 'error' }]);
    const reveal = all.find((l) => l.command?.command === SEED_COMMANDS.revealJobs);
    assert.equal(reveal?.command?.arguments?.[0].crawlId, started.crawlId);
    assert.equal(reveal?.command?.arguments?.[0].jobIds.length, 3);

    // What the extension does with the lens: the request goes back as is.
    assert.deepEqual(await conn.sendRequest('jobs/requeue', requeue!.command!.arguments![0]), { requeued: 1 });
    await eventually('jobs/changed sent to the editor', () => notifications.some((n) => n.method === 'jobs/changed' && n.params.changes.length > 0));
    assert.ok(notifications.some((n) => n.method === 'crawl/changed' && n.params.crawl.crawlId === started.crawlId));
  });

  test('edits are parsed again: a bad option is reported on its line', async () => {
    const text = seedText().replace('max-depth: 0', 'max-depth: deep');
    await conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 2 }, contentChanges: [{ text }] });
    const d = (await eventually('the option diagnostic', () => diagnostics.get(uri)?.find((x) => x.range.start.line === 2)))!;
    assert.match(d.message, /max-depth: must be a whole number, or none for no limit \(got "deep"\)/);
    assert.equal((await lenses()).some((l) => l.command?.command === SEED_COMMANDS.startCrawl), false, 'no start lens for a file that cannot start');
    await assert.rejects(conn.sendRequest('seeds/start', { uri }), (e: ResponseError<unknown>) => e.code === ErrorCodes.InvalidParams && /line 3: max-depth/.test(e.message));
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

describe('over Node IPC, as the extension launches it', () => {
  test('requests work; the editor going away stops the daemon and frees the socket', async () => {
    const dir = scratch('crawld-ipc-');
    const { ipc, c, exited, log } = editorDaemon(['--state-dir', dir, '--node-ipc', `--clientProcessId=${process.pid}`]);
    try {
      await c.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, workspaceFolders: null, capabilities: {} });
      assert.equal((await c.sendRequest('queue/stats', {}) as { total: number }).total, 0);
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

  test('with a headless daemon already on the folder, the editor\'s still starts, as one more worker', async () => {
    const headless = await startDaemon();
    const { c, exited, log } = editorDaemon(['--state-dir', headless.stateDir, '--node-ipc']);
    try {
      await c.sendRequest(InitializeRequest.type, { processId: null, rootUri: null, workspaceFolders: null, capabilities: {} });
      const mine = await c.sendRequest('scheduler/status', {}) as { workerId: string };
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
    assert.ok(fs.existsSync(headless.socket), 'the headless daemon\'s socket is left alone');
    assert.equal((await headless.stop()).code, 0);
  });
});
