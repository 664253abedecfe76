/**
 * Seed files, property-based: the parser never throws on any text, every problem and URL it
 * reports lies inside the document as the editor counts lines and characters (UTF-16, CR, LF
 * and CRLF line breaks), and what it would start is what `crawl/start` accepts. Then the same
 * texts through the language server of a real daemon, over a real LSP connection: diagnostics
 * with valid ranges, and hints, hovers, lenses, completions and quick fixes answered, never failed,
 * their edits inside the document. And the contract's
 * methods over that transport with adversarial params: a result or an error with a contract code,
 * never an internal one. Seeded: see helpers/fuzz.ts to replay a failure.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  CodeActionRequest,
  CodeLensRequest,
  CompletionRequest,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  HoverRequest,
  InitializeRequest,
  InitializedNotification,
  InlayHintRequest,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  ResponseError,
  createProtocolConnection,
  type CodeAction,
  type CompletionItem,
  type Diagnostic,
  type Position,
  type ProtocolConnection,
  type Range,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { parseSeedFile, startParams, whyNotStartable } from '../../server/src/daemon/seeds/file';
import { MAX_LINE_BYTES, type Method } from '../../server/src/protocol';
import { Params } from '../../server/src/daemon/params';
import { MAIN_JS, QUICK, scratch } from './helpers/daemon-proc';
import { answerProblem, check, checkSync, paramsFor, seedText, toJson } from './helpers/fuzz';
import { eventually } from './helpers/tmp';

/** Any text a file may hold: seed-like lines, or anything at all. */
const anyText = fc.oneof(
  { weight: 3, arbitrary: seedText },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom('\r', '\n', '\r\n', '\u2028', ' ', '#', ':', 'a', 'http://127.0.0.9:9/', '\ud800', '\ufeff'), { maxLength: 40 })
      .map((a) => a.join('')),
  },
);

/** Whether a position lies in the document: the editor's own clamping leaves it as it is. */
function inside(doc: TextDocument, p: Position): boolean {
  const back = doc.positionAt(doc.offsetAt(p));
  return back.line === p.line && back.character === p.character;
}

/** How deep arrays and objects nest in JSON text. */
function nesting(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') max = Math.max(max, ++depth);
    else if (ch === ']' || ch === '}') depth--;
  }
  return max;
}

function rangeProblem(doc: TextDocument, r: Range): string | null {
  if (!inside(doc, r.start) || !inside(doc, r.end)) return `range ${JSON.stringify(r)} outside a document of ${doc.lineCount} lines`;
  if (doc.offsetAt(r.start) > doc.offsetAt(r.end)) return `range ${JSON.stringify(r)} ends before it starts`;
  return null;
}

describe('the seed-file parser', () => {
  test('never throws; problems and URLs lie within their lines; URL ranges hold the URL text', () => {
    checkSync(
      fc.property(anyText, (text) => {
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
      }),
      1_000,
    );
  });

  test('what a file would start is what crawl/start accepts, seeds only http(s); otherwise it says why', () => {
    checkSync(
      fc.property(anyText, (text) => {
        const file = parseSeedFile(text);
        const start = startParams(file);
        if (start === null) {
          assert.ok(whyNotStartable(file).length > 0);
          return;
        }
        const parsed = Params['crawl/start'].safeParse(start);
        assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
        for (const s of start.seeds) assert.match(s, /^https?:\/\//);
      }),
      1_000,
    );
  });
});

describe('seed files in the language server', () => {
  let child: ChildProcess;
  let conn: ProtocolConnection;
  let stderr = '';
  const diagnostics = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();

  before(async () => {
    child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', scratch('crawld-fuzz-lsp-'), ...QUICK], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
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
    await check(
      fc.asyncProperty(anyText, fc.array(fc.record({ line: fc.nat(30), character: fc.nat(200) }), { maxLength: 3 }), async (text, spots) => {
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
            const items = (await conn.sendRequest(CompletionRequest.type, { textDocument: { uri }, position })) as CompletionItem[];
            for (const { range: r } of items.map((i) => i.textEdit as TextEdit)) {
              assert.equal(rangeProblem(doc, r), null);
              assert.ok(
                r.start.line === position.line &&
                  r.end.line === position.line &&
                  r.start.character <= position.character &&
                  position.character <= r.end.character,
                `completion range ${JSON.stringify(r)} holds the cursor ${JSON.stringify(position)}`,
              );
            }
          }
          const actions = (await conn.sendRequest(CodeActionRequest.type, {
            textDocument: { uri },
            range: whole,
            context: { diagnostics: published.diagnostics },
          })) as CodeAction[];
          // Every problem has a fix but one about a list as a whole (more include lines than allowed).
          for (const p of parseSeedFile(text).problems.filter((x) => x.fix !== null)) {
            assert.ok(
              actions.some((a) => a.diagnostics?.some((x) => x.message === p.message && x.range.start.line === p.line)),
              `a fix for ${p.message}`,
            );
          }
          for (const a of actions) {
            const edits = a.edit!.changes![uri].map((e) => e.range).sort((x, y) => doc.offsetAt(x.start) - doc.offsetAt(y.start));
            edits.forEach((r, i) => {
              assert.equal(rangeProblem(doc, r), null, a.title);
              if (i > 0) assert.ok(doc.offsetAt(edits[i - 1].end) <= doc.offsetAt(r.start), `${a.title}: edits do not overlap`);
            });
          }
        } finally {
          await conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
        }
      }),
      150,
    );
    assert.equal(child.exitCode, null, `the daemon lives:\n${stderr}`);
    assert.equal((await conn.sendRequest<{ total: number }>('queue/stats', {})).total, 0, 'nothing was enqueued');
  });

  test('every method as an LSP request with adversarial params: a result, or an error with a contract code', async () => {
    const { crawlId } = await conn.sendRequest<{ crawlId: string }>('crawl/start', { seeds: ['http://127.0.0.9:9/'] });
    const { ids } = await conn.sendRequest<{ ids: number[] }>('jobs/enqueue', { urls: ['http://127.0.0.9:9/a'] });
    const real = { crawlId: fc.constant(crawlId), jobId: fc.constant(ids[0]) };
    const methods = (Object.keys(Params) as Method[]).filter((m) => m !== 'daemon/shutdown' && m !== 'scheduler/resume');
    await check(
      fc.asyncProperty(
        fc.constantFrom(...methods).chain((m) => fc.tuple(fc.constant(m), paramsFor(m, real))),
        async ([method, params]) => {
          // As a client library would send it: parsed JSON (a `__proto__` key stays an own key).
          // Deep nesting is the socket suite's: the LSP client library itself cannot write it.
          const text = toJson(params);
          fc.pre(text.length < MAX_LINE_BYTES && nesting(text) < 1_000);
          try {
            await conn.sendRequest(method, JSON.parse(text));
          } catch (err) {
            assert.ok(err instanceof ResponseError, String(err));
            const problem = answerProblem({ jsonrpc: '2.0', id: 1, error: { code: err.code, message: err.message } }, 1);
            assert.equal(problem, null, `${method} ${text.slice(0, 300)}`);
          }
        },
      ),
      400,
    );
    assert.equal(child.exitCode, null, `the daemon lives:\n${stderr}`);
    assert.equal((await conn.sendRequest<{ paused: boolean }>('scheduler/status', {})).paused, true);
  });
});
