/**
 * Seed files, property-based: the parser never throws on any text, every problem and URL it
 * reports lies inside the document as the editor counts lines and characters (UTF-16, CR, LF
 * and CRLF line breaks), and what it would start is what `crawl/start` accepts. Then the same
 * texts through the language server of a real daemon, over a real LSP connection: diagnostics
 * with valid ranges, and hints, hovers and lenses answered, never failed. Seeded: see
 * helpers/fuzz.ts to replay a failure.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  CodeLensRequest, DidCloseTextDocumentNotification, DidOpenTextDocumentNotification, HoverRequest, InitializeRequest,
  InitializedNotification, InlayHintRequest, PublishDiagnosticsNotification, StreamMessageReader, StreamMessageWriter,
  createProtocolConnection, type Diagnostic, type Position, type ProtocolConnection, type Range,
} from 'vscode-languageserver-protocol/node';
import { parseSeedFile, startParams, whyNotStartable } from '../../server/src/daemon/seedfile';
import { Params } from '../../server/src/protocol';
import { MAIN_JS, QUICK, scratch } from './helpers/daemon-proc';
import { check, checkSync, seedText } from './helpers/fuzz';
import { eventually } from './helpers/tmp';

/** Any text a file may hold: seed-like lines, or anything at all. */
const anyText = fc.oneof(
  { weight: 3, arbitrary: seedText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom('\r', '\n', '\r\n', '\u2028', ' ', '#', ':', 'a', 'http://127.0.0.9:9/', '\ud800', '\ufeff'), { maxLength: 40 }).map((a) => a.join('')) },
);

/** Whether a position lies in the document: the editor's own clamping leaves it as it is. */
function inside(doc: TextDocument, p: Position): boolean {
  const back = doc.positionAt(doc.offsetAt(p));
  return back.line === p.line && back.character === p.character;
}

function rangeProblem(doc: TextDocument, r: Range): string | null {
  if (!inside(doc, r.start) || !inside(doc, r.end)) return `range ${JSON.stringify(r)} outside a document of ${doc.lineCount} lines`;
  if (doc.offsetAt(r.start) > doc.offsetAt(r.end)) return `range ${JSON.stringify(r)} ends before it starts`;
  return null;
}

describe('the seed-file parser', () => {
  test('never throws; problems and URLs lie within their lines; URL ranges hold the URL text', () => {
    checkSync(fc.property(anyText, (text) => {
      const doc = TextDocument.create('file:///f.crawl', 'crawl', 1, text);
      const file = parseSeedFile(text);
      for (const p of file.problems) {
        const at = { start: { line: p.line, character: p.start }, end: { line: p.line, character: p.end } };
        assert.equal(rangeProblem(doc, at), null, p.message);
        assert.ok(p.message.trim().length > 0);
      }
      for (const u of file.urls) {
        const at = { start: { line: u.line, character: u.start }, end: { line: u.line, character: u.end } };
        assert.equal(rangeProblem(doc, at), null, u.text);
        assert.equal(doc.getText(at), u.text);
        assert.ok((u.normalized === null) !== (u.error === null), 'a URL is either normalized or has an error');
      }
      assert.deepEqual(parseSeedFile(text), file, 'the same text, the same reading');
    }), 1_000);
  });

  test('what a file would start is what crawl/start accepts, seeds only http(s); otherwise it says why', () => {
    checkSync(fc.property(anyText, (text) => {
      const file = parseSeedFile(text);
      const start = startParams(file);
      if (start === null) {
        assert.ok(whyNotStartable(file).length > 0);
        return;
      }
      const parsed = Params['crawl/start'].safeParse(start);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
      for (const s of start.seeds) assert.match(s, /^https?:\/\//);
    }), 1_000);
  });
});

describe('seed files in the language server', () => {
  let child: ChildProcess;
  let conn: ProtocolConnection;
  let stderr = '';
  const diagnostics = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();

  before(async () => {
    child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', scratch('crawld-fuzz-lsp-'), ...QUICK], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    conn = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    conn.onNotification(PublishDiagnosticsNotification.type, (p) => diagnostics.set(p.uri, p));
    conn.listen();
    await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, workspaceFolders: null, capabilities: {} });
    await conn.sendNotification(InitializedNotification.type, {});
    // Nothing a file names is fetched: the fuzz never starts a crawl, and the scheduler waits.
    await conn.sendRequest('scheduler/pause', {});
  });

  after(() => {
    conn?.dispose();
    child?.kill('SIGKILL');
  });

  test('random files: diagnostics within the document, hints, hovers and lenses answered', async () => {
    let n = 0;
    await check(fc.asyncProperty(anyText, fc.array(fc.record({ line: fc.nat(30), character: fc.nat(200) }), { maxLength: 3 }), async (text, spots) => {
      const uri = `file:///fuzz/${n++}.crawl`;
      const doc = TextDocument.create(uri, 'crawl', 1, text);
      await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text } });
      try {
        const published = (await eventually(`diagnostics for ${uri}`, () => diagnostics.get(uri), 10_000))!;
        for (const d of published.diagnostics) assert.equal(rangeProblem(doc, d.range), null, d.message);
        const whole = { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) };
        const hints = await conn.sendRequest(InlayHintRequest.type, { textDocument: { uri }, range: whole });
        for (const h of hints ?? []) assert.ok(inside(doc, h.position), JSON.stringify(h.position));
        await conn.sendRequest(CodeLensRequest.type, { textDocument: { uri } });
        for (const position of spots) {
          const hover = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position });
          if (hover?.range) assert.equal(rangeProblem(doc, hover.range), null);
        }
      } finally {
        await conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
      }
    }), 150);
    assert.equal(child.exitCode, null, `the daemon lives:\n${stderr}`);
    assert.equal(((await conn.sendRequest('queue/stats', {})) as { total: number }).total, 0, 'nothing was enqueued');
  });
});
