/**
 * The house's dependency rules (README, "How it is built"), checked on the sources' imports: the
 * core knows nothing of crawling, RPC or editors; the two engines are siblings; the crawl kind
 * knows the core; the daemon never imports the CLI; the extension knows only the contract (and
 * the export formats it shares with crawlctl, and the table of settings, which keep to the contract
 * and the core's import-free config in turn, and the core's failure reasons, which the report
 * groups by as the queue counts by them); the contract imports nothing. Packages too: the core uses only its database drivers and Node, and the
 * extension none of the daemon's.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Source files under a folder, as '/'-separated paths from the root. */
function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

/**
 * Every module a file imports (import, export from, import = require, require(), import(), import
 * types): relative ones as '/'-separated paths from the root without extension, packages by name.
 */
function importsOf(file: string): string[] {
  const sf = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const add = (spec: string) => out.push(spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : spec);
  const literal = (e: ts.Node | undefined) => (e && (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) ? e.text : undefined);
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && literal(node.moduleSpecifier)) add(literal(node.moduleSpecifier)!);
    if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && literal(node.moduleReference.expression)) {
      add(literal(node.moduleReference.expression)!);
    }
    if (
      ts.isCallExpression(node) &&
      literal(node.arguments[0]) &&
      ((ts.isIdentifier(node.expression) && node.expression.text === 'require') || node.expression.kind === ts.SyntaxKind.ImportKeyword)
    )
      add(literal(node.arguments[0])!);
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && literal(node.argument.literal)) add(literal(node.argument.literal)!);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const under = (dir: string) => (p: string) => p === dir || p.startsWith(`${dir}/`);
/** A package import (not a path), by its name: `node:fs`, `zod`, `vscode-languageclient/node`. */
const pkg = (test: (name: string) => boolean) => (i: string) => !i.startsWith('server/') && !i.startsWith('client/') && test(i);
const FILES = [...sources('server/src'), ...sources('client')];

/** [files the rule is about, imports they may not have, why]. */
const RULES: [(f: string) => boolean, (imported: string) => boolean, string][] = [
  [
    under('server/src/core'),
    (i) => ['crawl', 'daemon', 'cli', 'demo', 'protocol', 'exports', 'exit', 'settings'].some((d) => under(`server/src/${d}`)(i)),
    'the core knows nothing of crawling, RPC or editors',
  ],
  [under('server/src/core/sqlite'), under('server/src/core/pg'), 'the engines are siblings: what they share lives in core/'],
  [under('server/src/core/pg'), under('server/src/core/sqlite'), 'the engines are siblings: what they share lives in core/'],
  [under('server/src/crawl'), (i) => under('server/src/daemon')(i) || under('server/src/cli')(i), 'the crawl kind knows the core, not its transports'],
  [under('server/src/daemon'), under('server/src/cli'), 'the daemon never imports its client'],
  [
    under('client'),
    (i) =>
      under('server/src')(i) &&
      !['server/src/protocol', 'server/src/exports', 'server/src/settings', 'server/src/core/failure-reason', 'server/src/times'].includes(i),
    'the extension knows only the contract (and the export formats, the settings, the failure reasons the queue counts by, and how times read)',
  ],
  [(f) => f === 'server/src/times.ts', () => true, 'how times read, bundled into the extension and its webview, imports nothing'],
  [
    (f) => f === 'server/src/exports.ts',
    (i) => !['server/src/protocol', 'node:stream', 'csv-stringify/sync'].includes(i),
    'the export formats, bundled into the extension, keep to the contract',
  ],
  [
    (f) => f === 'server/src/settings.ts',
    (i) => !['server/src/protocol', 'server/src/core/config'].includes(i),
    "the settings, bundled into the extension, keep to the contract and the core's config",
  ],
  [(f) => f === 'server/src/core/config.ts', () => true, "the core's config, bundled into the extension with the settings, imports nothing"],
  [(f) => f === 'server/src/core/failure-reason.ts', () => true, 'the failure reasons, bundled into the extension with the report, import nothing'],
  [(f) => f === 'server/src/protocol.ts', (i) => i !== 'server/src/core/states', 'the contract imports nothing but the job states it shares with the queue'],
  [(f) => f === 'server/src/core/states.ts', () => true, 'the job states, in the contract and the queue alike, import nothing'],
  [under('server/src/core'), pkg((n) => !n.startsWith('node:') && !['better-sqlite3', 'pg'].includes(n)), 'the core uses only its database drivers and Node'],
  [
    under('client'),
    pkg((n) => /^(zod|pg|better-sqlite3|undici|htmlparser2|vscode-languageserver)/.test(n)),
    "the extension bundles none of the daemon's packages",
  ],
  [under('server/src'), under('client'), 'the daemon, crawlctl and the core know nothing of the extension'],
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
  assert.ok(importsOf('server/src/cli/commands.ts').includes('server/src/daemon/seeds/file'), 'a require() in a function');
  assert.ok(importsOf('server/src/core/sqlite/engine.ts').includes('server/src/core/rows'));
});

test("every worker thread the daemon starts is bundled beside it and shipped in the extension's package", () => {
  const bundle = fs.readFileSync(path.join(ROOT, 'scripts', 'bundle.mjs'), 'utf8');
  const shipped = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split(/\r?\n/);
  const started = sources('server/src').flatMap((file) =>
    [...fs.readFileSync(path.join(ROOT, file), 'utf8').matchAll(/new Worker\(path\.join\(__dirname, '([\w-]+)\.js'\)/g)].map((m) => ({ file, name: m[1] })),
  );
  assert.ok(started.length >= 4, `the parse, handler, WARC and checkpoint threads are found (${started.map((s) => s.name).join(', ')})`);
  for (const { file, name } of started) {
    // The bundled daemon is dist/server/daemon.js: __dirname is dist/server there.
    assert.ok(bundle.includes(`outfile: 'dist/server/${name}.js'`), `${file} starts ${name}.js: scripts/bundle.mjs must build dist/server/${name}.js`);
    assert.ok(shipped.includes(`!dist/server/${name}.js`), `${file} starts ${name}.js: .vscodeignore must ship dist/server/${name}.js`);
  }
});
