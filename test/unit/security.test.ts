/**
 * Security, each rule a test: the socket 0600 in a 0700 folder; no TCP or UDP port, ever; only
 * http and https fetched; stored bodies named by their hash alone; nothing from a request in SQL
 * but as a bound parameter (by a request that tries, and by reading the source); and an
 * untrusted workspace starts nothing.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { ErrorCodes, STATE_FILES, type Method } from '../../server/src/protocol';
import { Params } from '../../server/src/daemon/params';
import { ensurePrivateDir } from '../../server/src/daemon/process/paths';
import { MAIN_JS, QUICK, REPO, RawClient, fileMode, scratch, startDaemon, type DaemonProc } from './helpers/daemon-proc';
import { SQL_INJECTION } from './helpers/fuzz';
import { startSite, type Site } from './helpers/sites';
import { eventually } from './helpers/tmp';

// ---------------------------------------------------------------------------------------------
// Listening sockets, from /proc

/** Inodes of the sockets a process holds open. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]);
    } catch {
      // Closed while we looked.
    }
  }
  return out;
}

/** The process's inet sockets that listen (TCP in LISTEN) or are bound for datagrams (any UDP). */
function listening(pid: number): string[] {
  const mine = socketInodes(pid);
  const found: string[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const rows = fs.readFileSync(`/proc/net/${table}`, 'utf8').trim().split('\n').slice(1);
    for (const row of rows) {
      const f = row.trim().split(/\s+/);
      const [local, state, inode] = [f[1], f[3], f[9]];
      const listens = table.startsWith('udp') || state === '0A';
      if (listens && mine.has(inode)) found.push(`${table} ${local}`);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// A daemon with a small site to crawl

let daemon: DaemonProc;
let c: RawClient;
let site: Site;
const served = new Map<string, number>();
/** Every request line the site saw. */
const requests: string[] = [];

before(async () => {
  site = await startSite((req, res) => {
    requests.push(req.url ?? '');
    const u = req.url ?? '/';
    if (u.startsWith('/redirect/')) {
      res.writeHead(302, { location: decodeURIComponent(u.slice('/redirect/'.length)) });
      return res.end();
    }
    if (u === '/robots.txt') {
      res.writeHead(404);
      return res.end();
    }
    served.set(u, (served.get(u) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<html><title>${u.replace(/[<>&]/g, '')}</title><body>page at ${u.replace(/[<>&]/g, '')}</body></html>`);
  }, '127.0.0.2');
  daemon = await startDaemon({ stateDir: path.join(scratch('crawld-sec-'), 'state') });
  c = await RawClient.connect(daemon.socket);
});

after(async () => {
  c?.close();
  await daemon?.stop();
  await site?.close();
});

async function finished(crawlId: string) {
  return eventually(
    `crawl ${crawlId} to finish`,
    async () => {
      const { crawl } = await c.request('crawl/get', { crawlId });
      return crawl.state === 'finished' ? crawl : null;
    },
    20_000,
  );
}

describe('permissions', () => {
  test('the state folder is 0700, the socket and the database 0600', async () => {
    assert.equal(fileMode(daemon.stateDir), 0o700);
    assert.ok(fs.statSync(daemon.socket).isSocket());
    assert.equal(fileMode(daemon.socket), 0o600);
    for (const f of [STATE_FILES.db, `${STATE_FILES.db}-wal`]) assert.equal(fileMode(path.join(daemon.stateDir, f)), 0o600, f);
  });

  test('a state folder left open to others is closed again at start', async () => {
    const dir = path.join(scratch('crawld-sec-open-'), 'state');
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o777);
    const d = await startDaemon({ stateDir: dir });
    try {
      assert.equal(fileMode(dir), 0o700);
      assert.equal(fileMode(d.socket), 0o600);
    } finally {
      await d.stop();
    }
    // Closing to others adds nothing for the owner: a folder the owner made read-only stays so.
    fs.chmodSync(dir, 0o555);
    ensurePrivateDir(dir, 'the state folder');
    assert.equal(fileMode(dir), 0o500);
    fs.chmodSync(dir, 0o700);
  });

  test('a database given with --db outside the state folder is created 0600 all the same', async () => {
    const elsewhere = scratch('crawld-sec-db-');
    fs.chmodSync(elsewhere, 0o755);
    const db = path.join(elsewhere, 'q.db');
    const d = await startDaemon({ args: ['--db', db] });
    try {
      for (const f of [db, `${db}-wal`]) assert.equal(fileMode(f), 0o600, f);
    } finally {
      await d.stop();
    }
  });

  test('a socket moved out of a state folder with a long path sits in a private folder', async () => {
    const deep = path.join(scratch('crawld-sec-long-'), 'x'.repeat(60), 'y'.repeat(40), 'state');
    const d = await startDaemon({ stateDir: deep });
    try {
      assert.notEqual(path.dirname(d.socket), deep);
      assert.equal(fileMode(path.dirname(d.socket)), 0o700);
      assert.equal(fileMode(d.socket), 0o600);
    } finally {
      await d.stop();
    }
  });
});

describe('no network port', () => {
  test('the check sees a listening port when there is one (this test process, with the site)', () => {
    assert.ok(
      listening(process.pid).some((l) => l.startsWith('tcp ')),
      'the site listens in this process',
    );
  });

  test('the headless daemon listens on no TCP or UDP port, idle or crawling', async () => {
    const pid = daemon.child.pid!;
    assert.deepEqual(listening(pid), []);
    const { crawlId } = await c.request('crawl/start', { seeds: [site.url('/port-check')], maxDepth: 0 });
    await finished(crawlId);
    assert.deepEqual(listening(pid), []);
  });

  test('the daemon as the editor starts it (LSP on stdio) listens on none either', async () => {
    const child = spawn(process.execPath, [MAIN_JS, '--stdio', '--state-dir', scratch('crawld-sec-lsp-'), ...QUICK], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let log = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        log += d;
      });
      await eventually('the LSP daemon to start', () => /started: /.test(log));
      assert.deepEqual(listening(child.pid!), []);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('only http and https', () => {
  const OTHER = [
    'file:///etc/passwd',
    'ftp://127.0.0.2/x',
    'data:text/plain,hello',
    'javascript:alert(1)',
    'gopher://127.0.0.2/1',
    'ws://127.0.0.2/',
    'FILE:///etc/hostname',
    ' file:///etc/passwd',
  ];

  test('crawl/start and jobs/enqueue refuse every other scheme with the reason, and enqueue nothing', async () => {
    const before = await c.request('queue/stats');
    const e = (await c.call('crawl/start', { seeds: OTHER })).error;
    assert.equal(e.code, ErrorCodes.InvalidParams);
    assert.match(e.message, /no valid seed URL/);
    const r = await c.request('jobs/enqueue', { urls: OTHER });
    assert.equal(r.enqueued, 0);
    assert.equal(r.rejected.length, OTHER.length);
    for (const x of r.rejected) assert.match(x.reason, /is not http\(s\)|not a URL/, x.url);
    const seeds = await c.request('seeds/parse', { text: OTHER.join('\n') });
    assert.equal(seeds.start, null, 'a seed file of such URLs starts nothing');
    assert.equal((await c.request('queue/stats')).total, before.total);
  });

  test('a redirect to another scheme ends the page in error and is not followed', async () => {
    const targets = ['file:///etc/passwd', 'javascript:alert(1)', 'ftp://127.0.0.2/', 'data:text/html,x'];
    const { crawlId } = await c.request('crawl/start', { seeds: targets.map((t) => site.url(`/redirect/${encodeURIComponent(t)}`)), maxDepth: 3 });
    await finished(crawlId);
    const { jobs } = await c.request('jobs/list', { crawlId });
    assert.equal(jobs.length, targets.length, 'no job for any redirect target');
    for (const j of jobs) {
      assert.match(j.url, /^http:\/\/127\.0\.0\.2:/);
      assert.notEqual(j.state, 'done', `${j.url}: ${j.lastError}`);
      assert.match(j.lastError ?? '', /scheme|http\(s\)/, j.url);
    }
  });
});

describe('stored bodies', () => {
  test('named by the hash of their content, under the bodies folder only, whatever the URL holds', async () => {
    const paths = [
      '/../../escape',
      '/a/..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/x',
      '/name with spaces?q=../../y',
      '/<script>x',
      '/\u00e9t\u00e9/..\\..\\win',
      '/bodies/00/' + 'f'.repeat(64),
      '/' + 'n'.repeat(300),
    ];
    const parent = path.dirname(daemon.stateDir);
    const { crawlId } = await c.request('crawl/start', { seeds: paths.map((p) => `${site.origin}${p}`), storeBodies: true, maxDepth: 0 });
    const crawl = await finished(crawlId);
    assert.ok(crawl.counts.done >= 4, JSON.stringify(crawl.counts));

    assert.deepEqual(fs.readdirSync(parent), [path.basename(daemon.stateDir)], 'nothing written beside the state folder');
    const bodies = path.join(daemon.stateDir, STATE_FILES.bodies);
    const stored: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else stored.push(path.relative(bodies, p));
      }
    };
    walk(bodies);
    assert.ok(stored.length >= crawl.counts.done - 1, `${stored.length} bodies for ${crawl.counts.done} pages`);
    for (const rel of stored) {
      assert.match(rel, /^[0-9a-f]{2}\/[0-9a-f]{64}$/, rel);
      const [prefix, name] = rel.split('/') as [string, string];
      assert.equal(name.slice(0, 2), prefix);
      assert.equal(
        createHash('sha256')
          .update(fs.readFileSync(path.join(bodies, rel)))
          .digest('hex'),
        name,
        'the name is the hash of what is stored',
      );
      assert.equal(fileMode(path.join(bodies, rel)), 0o600);
    }
    // The state folder's own entries: the known files and folders only.
    const known = new Set<string>([...Object.values(STATE_FILES), `${STATE_FILES.db}-wal`, `${STATE_FILES.db}-shm`, `${STATE_FILES.socket}.lock`]);
    for (const name of fs.readdirSync(daemon.stateDir)) assert.ok(known.has(name), `unexpected ${name} in the state folder`);
  });
});

// ---------------------------------------------------------------------------------------------
// SQL

/** Every table's rows, the schema and the integrity check, read beside the daemon. */
function dbFacts(file: string) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const schema = db.prepare(`SELECT type, name, sql FROM sqlite_schema ORDER BY name`).all() as { type: string; name: string }[];
    const counts: Record<string, number> = {};
    // Table names come from sqlite_schema itself, quoted as identifiers.
    for (const t of schema.filter((s) => s.type === 'table'))
      counts[t.name] = db
        .prepare(`SELECT count(*) FROM "${t.name.replace(/"/g, '""')}"`)
        .pluck()
        .get() as number;
    return { schema, counts, integrity: db.pragma('integrity_check', { simple: true }) as string };
  } finally {
    db.close();
  }
}

describe('nothing from a request becomes SQL', () => {
  test('injection strings in every string field of every method: schema, rows and integrity as they were', async () => {
    await c.request('scheduler/pause');
    try {
      const { ids } = await c.request('jobs/enqueue', { urls: [site.url('/sql/a'), site.url('/sql/b')] });
      await c.request('jobs/cancel', { ids });
      const dbFile = path.join(daemon.stateDir, STATE_FILES.db);
      const before = dbFacts(dbFile);
      let writes = 0;
      for (const method of Object.keys(Params) as Method[]) {
        if (method === 'daemon/shutdown' || method === 'scheduler/resume') continue;
        const shape = Params[method].shape as Record<string, unknown>;
        for (const field of Object.keys(shape)) {
          for (const evil of SQL_INJECTION) {
            for (const value of [evil, [evil]]) {
              const r = await c.call(method, { [field]: value });
              assert.ok(r.result !== undefined || (r.error && r.error.code !== ErrorCodes.InternalError), `${method} ${field}: ${JSON.stringify(r.error)}`);
              if (r.result && method !== 'seeds/parse') writes++;
            }
          }
        }
      }
      // Filters that would match everything if pasted into a WHERE clause match nothing.
      for (const evil of SQL_INJECTION) {
        assert.deepEqual((await c.request('jobs/list', { host: evil })).jobs, []);
        assert.deepEqual(await c.request('jobs/requeue', { host: evil, state: 'skipped' }), { requeued: 0 });
      }
      assert.equal((await c.request('jobs/get', { id: ids[0] })).job.state, 'skipped', 'the cancelled jobs stay cancelled');
      // Stored as text, read back as sent.
      const named = await c.request('crawl/start', { seeds: [site.url('/sql/c')], name: SQL_INJECTION[0] });
      assert.equal((await c.request('crawl/get', { crawlId: named.crawlId })).crawl.name, SQL_INJECTION[0]);
      const after = dbFacts(dbFile);
      assert.equal(after.integrity, 'ok');
      assert.deepEqual(after.schema, before.schema, 'no table dropped, altered or added');
      assert.ok(writes > 0, 'some calls were valid and ran');
      for (const [table, n] of Object.entries(before.counts)) assert.ok(after.counts[table] >= n, `${table}: ${n} rows before, ${after.counts[table]} after`);
      assert.equal(after.counts.crawls, before.counts.crawls + 1, 'one crawl more: the named one');
    } finally {
      await c.request('scheduler/resume');
    }
  });

  test('the source builds no SQL from values: every interpolation is a constant or on the allow-list', () => {
    const found = sqlInterpolations(path.join(REPO, 'server', 'src'));
    const unexpected = found.filter((f) => !ALLOWED.some((a) => f.file.endsWith(a.file) && f.expr === a.expr));
    assert.deepEqual(unexpected, [], 'SQL built from a value; bind it as a parameter, or add it to ALLOWED saying why it is safe');
    const unused = ALLOWED.filter((a) => !found.some((f) => f.file.endsWith(a.file) && f.expr === a.expr));
    assert.deepEqual(unused, [], 'allow-list entries that no longer match anything');
  });

  test('the scan finds SQL pasted together from a value', () => {
    const src =
      'db.prepare(`SELECT * FROM jobs WHERE key = \'${key}\'`);\nconst q = "DELETE FROM jobs WHERE id = " + id;\nconst ok = `SELECT ${COLUMNS} FROM jobs`;';
    assert.deepEqual(
      scanSource('x.ts', src).map((f) => f.expr),
      ['key', 'id'],
    );
  });
});

/**
 * Interpolations into SQL that are not constants, each checked by hand: the values come from the
 * daemon itself, never from a request.
 */
const ALLOWED: { file: string; expr: string; why: string }[] = [
  {
    file: 'core/sqlite/open.ts',
    expr: 'Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))',
    why: "a PRAGMA takes no parameters; a number from the daemon's own options, floored",
  },
  { file: 'core/sqlite/sql.ts', expr: "where.join(' AND ')", why: 'listSql joins constant fragments chosen by booleans; the values are named parameters' },
  {
    file: 'core/sqlite/sql.ts',
    expr: 'walked(filter)',
    why: 'the jobs table with one of three constant INDEXED BY clauses, or NOT INDEXED, chosen by which filters are set',
  },
  { file: 'core/sqlite/sql.ts', expr: 'from', why: "listSql's table: walked(filter) for a search, else the constant 'jobs'" },
  { file: 'core/pg/sql.ts', expr: "where.join(' AND ')", why: 'pgListSql joins constant fragments chosen by booleans; the values are $n parameters' },
  { file: 'core/pg/sql.ts', expr: 'n', why: 'the number of the next $n placeholder, counted in pgListSql' },
  { file: 'core/pg/sql.ts', expr: 'order', why: "insertJobs' ORDER BY, typed as one of two constant column lists" },
  { file: 'daemon/process/storage.ts', expr: 'cap', why: 'a test-only environment variable, checked to be digits before use; a PRAGMA takes no parameters' },
  { file: 'core/sqlite/sql.ts', expr: "filter.newestFirst ? ' DESC' : ''", why: 'one of two constants, chosen by a boolean' },
  { file: 'core/pg/sql.ts', expr: "filter.newestFirst ? ' DESC' : ''", why: 'one of two constants, chosen by a boolean' },
  {
    file: 'core/sqlite/sql.ts',
    expr: "ofReason ? ' AND reason = :reason' : ''",
    why: 'one of two constants, chosen by a boolean; the reason is a named parameter',
  },
  {
    file: 'core/sqlite/sql.ts',
    expr: 'requeued(ofReason)',
    why: "a requeue's constant WHERE, with or without a reason's condition; the values are named parameters",
  },
  {
    file: 'crawl/pg-pages.ts',
    expr: "RECORD_COLUMNS.replace(/(\\w+)/g, 'excluded.$1')",
    why: "record_pages' constant column list, each name prefixed with excluded., once at load",
  },
  { file: 'crawl/pg-pages.ts', expr: "[...HTML_TYPES].map((t) => `'${t}'`).join(', ')", why: 'the constant set of HTML content types, quoted, once at load' },
  {
    file: 'crawl/pg-pages.ts',
    expr: "where.join(' AND ')",
    why: 'the pages query joins constant fragments chosen by which filters are set; the values are $n parameters',
  },
  { file: 'crawl/pg-pages.ts', expr: 'order', why: 'one of two constant ORDER BY lists' },
  {
    file: 'crawl/sqlite-pages.ts',
    expr: "where.join(' AND ')",
    why: 'the pages query joins constant fragments chosen by which filters are set; the values are named parameters',
  },
  { file: 'crawl/sqlite-pages.ts', expr: 'order', why: 'one of two constant ORDER BY lists' },
];

const SQL_WORDS = /\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|PRAGMA|CREATE (TABLE|INDEX)|DROP|ALTER TABLE|WHERE)\b/;
/** Calls whose first argument is SQL whatever its words (`db.pragma(\`busy_timeout = ...\`)`). */
const SQL_CALLS = new Set(['prepare', 'exec', 'pragma']);

/** A constant: a number, an UPPER_CASE name (module constants), or arithmetic of those. */
function constant(e: ts.Expression): boolean {
  if (ts.isNumericLiteral(e) || ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return true;
  if (ts.isIdentifier(e)) return /^[A-Z][A-Z0-9_]*$/.test(e.text);
  if (ts.isPropertyAccessExpression(e)) return /^[A-Z][A-Z0-9_]*$/.test(e.name.text) && constant(e.expression);
  if (ts.isParenthesizedExpression(e)) return constant(e.expression);
  if (ts.isBinaryExpression(e)) return constant(e.left) && constant(e.right);
  return false;
}

function scanSource(file: string, text: string): { file: string; line: number; expr: string }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: { file: string; line: number; expr: string }[] = [];
  const report = (e: ts.Expression) => out.push({ file, line: sf.getLineAndCharacterOfPosition(e.getStart()).line + 1, expr: e.getText() });
  const visit = (node: ts.Node) => {
    if (ts.isTemplateExpression(node)) {
      const literal = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
      const call = node.parent;
      const argOfSqlCall =
        ts.isCallExpression(call) && call.arguments[0] === node && ts.isPropertyAccessExpression(call.expression) && SQL_CALLS.has(call.expression.name.text);
      if (argOfSqlCall || SQL_WORDS.test(literal)) for (const span of node.templateSpans) if (!constant(span.expression)) report(span.expression);
    } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const sides = [node.left, node.right];
      const sql = sides.some((s) => (ts.isStringLiteral(s) || ts.isNoSubstitutionTemplateLiteral(s)) && SQL_WORDS.test(s.text));
      if (sql) for (const s of sides) if (!constant(s) && !ts.isBinaryExpression(s)) report(s);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function sqlInterpolations(dir: string): { file: string; line: number; expr: string }[] {
  const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();
  return files.flatMap((f) => scanSource(path.join(dir, f).split(path.sep).join('/'), fs.readFileSync(path.join(dir, f), 'utf8')));
}
