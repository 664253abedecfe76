/**
 * The house's dependency rules (DEVELOPERS.md, "The house"), checked on the sources' imports:
 * the core knows nothing of crawling, RPC or editors; the two engines are siblings; the crawl kind
 * knows the core; the daemon never imports the CLI; the extension knows only the contract (and the
 * export formats it shares with crawlctl); the contract imports nothing.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Every module a file imports (import, export from, require(), import()), relative ones as paths from the root. */
function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const add = (spec: string) => out.push(spec.startsWith('.') ? path.normalize(path.join(path.dirname(file), spec)) : spec);
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) add(node.moduleSpecifier.text);
    if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteral(node.arguments[0])
      && ((ts.isIdentifier(node.expression) && node.expression.text === 'require') || node.expression.kind === ts.SyntaxKind.ImportKeyword)) add(node.arguments[0].text);
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) add(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const under = (dir: string) => (p: string) => p === dir || p.startsWith(`${dir}${path.sep}`);
const FILES = [...sources('server/src'), ...sources('client')];

/** [files the rule is about, imports they may not have, why]. */
const RULES: [(f: string) => boolean, (imported: string) => boolean, string][] = [
  [under('server/src/core'), (i) => ['crawl', 'daemon', 'cli', 'demo', 'protocol', 'exports', 'exit'].some((d) => under(`server/src/${d}`)(i)), 'the core knows nothing of crawling, RPC or editors'],
  [under('server/src/core/sqlite'), under('server/src/core/pg'), 'the engines are siblings: what they share lives in core/'],
  [under('server/src/core/pg'), under('server/src/core/sqlite'), 'the engines are siblings: what they share lives in core/'],
  [under('server/src/crawl'), (i) => under('server/src/daemon')(i) || under('server/src/cli')(i), 'the crawl kind knows the core, not its transports'],
  [under('server/src/daemon'), under('server/src/cli'), 'the daemon never imports its client'],
  [under('client'), (i) => under('server/src')(i) && !['server/src/protocol', 'server/src/exports'].includes(i), 'the extension knows only the contract (and the export formats)'],
  [(f) => f === 'server/src/protocol.ts', () => true, 'the contract imports nothing'],
];

test('every import keeps to the dependency rules', () => {
  const broken: string[] = [];
  for (const file of FILES) {
    for (const imported of importsOf(file)) {
      for (const [about, forbidden, why] of RULES) if (about(file) && forbidden(imported)) broken.push(`${file} imports ${imported}: ${why}`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the check sees imports of every kind', () => {
  assert.ok(FILES.includes('server/src/core/sqlite/engine.ts') && FILES.some((f) => f.startsWith('client/webview/')));
  assert.ok(importsOf('server/src/cli/crawlctl.ts').includes('server/src/daemon/seedfile'), 'a require() in a function');
  assert.ok(importsOf('server/src/core/sqlite/engine.ts').includes('server/src/core/rows'));
});
