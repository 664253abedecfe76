/**
 * Writing a seed file in the editor: completion of option keys and values, hover help on option
 * lines, and quick fixes, from a daemon speaking LSP on stdio to a real client connection.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  CodeActionRequest,
  CompletionRequest,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  HoverRequest,
  InitializeRequest,
  InitializedNotification,
  PublishDiagnosticsNotification,
  StreamMessageReader,
  StreamMessageWriter,
  createProtocolConnection,
  type CodeAction,
  type CompletionItem,
  type Diagnostic,
  type MarkupContent,
  type Position,
  type ProtocolConnection,
  type TextDocumentEdit,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { MAIN_JS, QUICK, scratch } from './helpers/daemon-proc';
import { eventually } from './helpers/tmp';

let child: ChildProcess;
let conn: ProtocolConnection;
const published = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
let opened = 0;

before(async () => {
  child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', scratch('crawld-assist-'), ...QUICK], { stdio: ['pipe', 'pipe', 'ignore'] });
  conn = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  conn.onNotification(PublishDiagnosticsNotification.type, (p) => published.set(p.uri, p));
  conn.listen();
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: null,
    workspaceFolders: null,
    capabilities: { workspace: { workspaceEdit: { documentChanges: true } } },
  });
  assert.deepEqual(init.capabilities.completionProvider?.triggerCharacters, [':']);
  assert.ok(init.capabilities.codeActionProvider);
  await conn.sendNotification(InitializedNotification.type, {});
});

after(() => {
  conn?.dispose();
  child?.kill('SIGKILL');
});

/** Opens a seed file and waits for its first diagnostics. */
async function open(lines: string[]) {
  const uri = `file:///work/assist/${opened++}.crawl`;
  const text = lines.join('\n');
  await conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'crawl', version: 1, text } });
  await eventually('diagnostics', () => published.get(uri));
  return { uri, doc: TextDocument.create(uri, 'crawl', 1, text) };
}

const complete = async (uri: string, position: Position) =>
  ((await conn.sendRequest(CompletionRequest.type, { textDocument: { uri }, position })) ?? []) as CompletionItem[];
const edited = (doc: TextDocument, item: CompletionItem) => TextDocument.applyEdits(doc, [item.textEdit as TextEdit]);

describe('completion', () => {
  test('option keys at the top, those already given left out (include and exclude repeat)', async () => {
    const { uri, doc } = await open(['name: docs', 'include: https://a.example/*', 'extract.title: h1', 'ma', 'https://a.example/']);
    const items = await complete(uri, { line: 3, character: 2 });
    assert.deepEqual(
      items.map((i) => i.label),
      [
        'max-depth',
        'max-pages',
        'scope',
        'include',
        'exclude',
        'follow-nofollow',
        'store-bodies',
        'warc',
        'sitemaps',
        'addresses',
        'extract',
        'handler',
        'handler-timeout',
      ],
    );
    const pages = items.find((i) => i.label === 'max-pages')!;
    assert.equal(pages.detail, 'a whole number from 1 to 100,000,000; default 10000', 'the default as it would be written');
    assert.match((pages.documentation as MarkupContent).value, /^\*\*max-pages\*\*: Pages the crawl fetches at most/);
    assert.equal(edited(doc, pages).split('\n')[3], 'max-pages: ', 'the word typed is replaced by the key and its colon');
    const extract = items.find((i) => i.label === 'extract')!;
    assert.equal(edited(doc, extract).split('\n')[3], 'extract.', "a field option goes on with the field's name");
    assert.match((extract.documentation as MarkupContent).value, /^\*\*extract\.<field>\*\*: A field of each page's record data/);
    const scope = items.find((i) => i.label === 'scope')!;
    assert.equal(scope.command?.command, 'editor.action.triggerSuggest', 'a key with values offers them next');
    assert.equal(pages.command, undefined);
    assert.deepEqual(await complete(uri, { line: 4, character: 0 }), [], 'no option keys among the URLs');
  });

  test('values of an option after its colon: the enumeration, the default marked, a space put in', async () => {
    const { uri, doc } = await open(['scope:', 'addresses: pr', 'store-bodies: ', 'name: x', 'https://a.example/']);
    const scope = await complete(uri, { line: 0, character: 6 });
    assert.deepEqual(
      scope.map((i) => [i.label, i.detail]),
      [
        ['host', 'default'],
        ['domain', undefined],
        ['any', undefined],
      ],
    );
    assert.equal(edited(doc, scope[1]).split('\n')[0], 'scope: domain');
    const addresses = await complete(uri, { line: 1, character: 13 });
    assert.deepEqual(
      addresses.map((i) => i.label),
      ['public', 'private', 'any'],
    );
    assert.equal(edited(doc, addresses[1]).split('\n')[1], 'addresses: private', 'what was typed is replaced');
    assert.deepEqual(
      (await complete(uri, { line: 2, character: 14 })).map((i) => i.label),
      ['true', 'false'],
    );
    assert.deepEqual(await complete(uri, { line: 3, character: 7 }), [], 'a free-text option has no values to offer');
  });
});

describe('hover', () => {
  test('an option line: what it does, its values or range, and its default', async () => {
    const { uri } = await open(['max-depth: 2', 'scope: domain  # wider', 'https://a.example/']);
    const hover = async (line: number, character: number) =>
      ((await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line, character } }))?.contents as MarkupContent | undefined)?.value;
    const depth = await hover(0, 2);
    assert.match(depth!, /^\*\*max-depth\*\*: How many links away from a seed/);
    assert.match(depth!, /Value: a whole number from 0 to 1,000, or none\./);
    assert.match(depth!, /Default: none \(no limit/);
    const scope = await hover(1, 10);
    assert.match(scope!, /- `domain`: Links within the seeds' registrable domains/);
    assert.match(scope!, /Default: host \(the daemon may set another: `--default-scope`/);
    assert.equal(await hover(1, 17), undefined, 'nothing on the comment');
    const field = await (async () => {
      const { uri: u2 } = await open(['extract.tags[]: a.tag @href', 'https://a.example/']);
      return ((await conn.sendRequest(HoverRequest.type, { textDocument: { uri: u2 }, position: { line: 0, character: 3 } }))?.contents as MarkupContent).value;
    })();
    assert.match(field, /Value: a CSS selector, or a selector then @attribute \(up to 1,000 characters\)\./);
  });
});

describe('quick fixes', () => {
  test('each problem has one; applied, the file has none left', async () => {
    const { uri, doc } = await open([
      'colour: blue',
      'https://a.example/',
      'not a url',
      'https://a.example/#top',
      'https://b.example/ extra',
      'https://a.example/',
    ]);
    const diagnostics = published.get(uri)!.diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => d.range.start.line),
      [0, 2, 3, 4, 5],
    );
    const actions = (await conn.sendRequest(CodeActionRequest.type, {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } },
      context: { diagnostics },
    })) as CodeAction[];
    assert.deepEqual(
      actions.map((a) => a.title),
      [
        'Remove line 1',
        'Remove line 3',
        'Remove this duplicate URL (the same page as line 2)',
        'Remove the text after the URL',
        'Remove this duplicate URL (the same page as line 2)',
        'Remove all 2 duplicate URLs',
      ],
    );
    for (const a of actions) {
      assert.equal(a.kind, 'quickfix');
      assert.ok(a.diagnostics!.length > 0, `${a.title}: names the diagnostics it fixes`);
      assert.equal((a.edit!.documentChanges![0] as TextDocumentEdit).textDocument.version, 1, 'edits are for the version they were made for');
    }
    const edits = (a: CodeAction) => (a.edit!.documentChanges![0] as TextDocumentEdit).edits as TextEdit[];
    const fixed = TextDocument.applyEdits(doc, [...[0, 1, 3].flatMap((i) => edits(actions[i])), ...edits(actions[5])]);
    assert.equal(fixed, 'https://a.example/\nhttps://b.example/\n');

    await conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 2 }, contentChanges: [{ text: fixed }] });
    await eventually('no problem left', () => published.get(uri)?.version === 2);
    assert.deepEqual(published.get(uri)!.diagnostics, []);
  });

  test('a pattern too long among include lines: its own line is taken out, the valid one kept', async () => {
    const { uri, doc } = await open([`include: https://a.example/${'x'.repeat(1000)}`, 'include: https://a.example/docs/*', 'https://a.example/docs/']);
    const diagnostics = published.get(uri)!.diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => [d.range.start.line, d.message.slice(0, 9)]),
      [[0, 'include: ']],
    );
    const actions = (await conn.sendRequest(CodeActionRequest.type, {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } },
      context: { diagnostics },
    })) as CodeAction[];
    assert.deepEqual(
      actions.map((a) => a.title),
      ['Remove line 1'],
    );
    const fixed = TextDocument.applyEdits(doc, (actions[0].edit!.documentChanges![0] as TextDocumentEdit).edits);
    assert.equal(fixed, 'include: https://a.example/docs/*\nhttps://a.example/docs/');
  });

  test('too many exclude lines: reported, and no line offered for removal', async () => {
    const { uri } = await open([...Array.from({ length: 101 }, (_, i) => `exclude: /p${i}/`), 'https://a.example/']);
    const diagnostics = published.get(uri)!.diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => d.range.start.line),
      [0],
    );
    const actions = await conn.sendRequest(CodeActionRequest.type, {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 101, character: 0 } },
      context: { diagnostics },
    });
    assert.deepEqual(actions, []);
  });
});
