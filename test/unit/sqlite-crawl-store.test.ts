/**
 * What the SQLite crawl store's reads and writes cost, kept true. The page store's link log (LINK_LOG_MIGRATION): a page's links are logged and moved into
 * `links` in bulk, the URL row keeps the followed link that first met it, link texts are
 * deduplicated by a cache. What it must keep true: reads see every link written, a page fetched
 * again replaces its links wherever they are, found-on is the first followed link, a transaction
 * that rolls back leaves no id cached, and a database written before it reads the same after.
 */
import * as assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, test } from 'node:test';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import { UrlIdCache, urlKey, writeRecords, type LinkWrite, type PageWrite } from '../../server/src/crawl/pages';
import { CRAWL_COMPONENT, SqliteCrawlStore, SQL as STORE_SQL } from '../../server/src/crawl/store';
import { LINKS_MOVED_AT, PAGES_MOVED_AT, RECENT_MERGED_AT } from '../../server/src/crawl/sqlite-pages';
import { assertRecordsRodeOnAcks } from './helpers/acked-records';
import { tempDb } from './helpers/tmp';

const CRAWL = 'c_log';
const u = (p: string) => `http://127.0.0.9${p}`;

function page(path: string, links: LinkWrite[] | null, extra: Partial<PageWrite> = {}): PageWrite {
  return {
    crawlId: CRAWL,
    url: u(path),
    host: '127.0.0.9',
    jobId: null,
    depth: 1,
    status: 200,
    error: null,
    skipped: false,
    redirectTo: null,
    via: [],
    contentType: 'text/html',
    bytes: 10,
    fetchMs: 5,
    fetchedAt: Date.now(),
    title: path,
    description: null,
    canonical: null,
    robots: null,
    lang: null,
    sha256: null,
    data: null,
    lastmod: null,
    links,
    ...extra,
  };
}
const link = (path: string, text: string, reason: LinkWrite['reason'] = null): LinkWrite => ({ url: u(path), text, reason });

function open(file: string, component = CRAWL_COMPONENT) {
  const queue = new SqliteQueue(file, { components: [component] });
  after(() => queue.close());
  return { queue, store: new SqliteCrawlStore(queue.db) };
}

async function start(store: SqliteCrawlStore): Promise<void> {
  await store.insert({ id: CRAWL, name: null, seeds: [u('/')], options: {} as never, now: Date.now() });
}

/** Records logged with links, not yet in `links` (the index by target). */
const pending = (queue: SqliteQueue) => queue.db.prepare('SELECT count(*) FROM pages_pending WHERE links IS NOT NULL').pluck().get() as number;

test('a URL key is the first 16 bytes of SHA-256 over the crawl id, a newline and the URL, as databases store them', () => {
  // Written into both engines' databases: computed otherwise, keys already stored would no longer be found.
  assert.equal(urlKey('c_1', 'http://example.test/a?b=1#').toString('hex'), '8c57ce6073b85c5bccb07d24ce63d803');
  assert.notEqual(urlKey('c_1', 'http://example.test/a').toString('hex'), urlKey('c_2', 'http://example.test/a').toString('hex'));
});

test('links written are read at once, and moved into links by the read', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  await store.pages.write([page('/', [link('/a', 'A'), link('/b', 'B'), link('/a', 'A twice')], { depth: 0 })]);
  assert.equal(pending(queue), 1);
  const inlinks = await store.pages.inlinks(CRAWL, u('/a'), 10);
  assert.deepEqual(inlinks, { links: [{ url: u('/'), text: 'A' }], count: 1 }, "a page's first link to a URL wins");
  assert.equal(pending(queue), 0);
  const links = await store.pages.links(CRAWL, { after: null, limit: 10, from: u('/') });
  assert.deepEqual(
    links.map((l) => [l.to, l.text]),
    [
      [u('/a'), 'A'],
      [u('/b'), 'B'],
    ],
  );
});

test('the log is moved once it holds LINKS_MOVED_AT links, inside the write', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const many = Array.from({ length: LINKS_MOVED_AT }, (_, i) => link(`/t/${i}`, `T${i % 7}`));
  await store.pages.write([page('/', many.slice(0, 10), { depth: 0 })]);
  assert.equal(pending(queue), 1);
  await store.pages.write([page('/hub', many)]);
  assert.equal(pending(queue), 0);
  assert.equal(queue.db.prepare('SELECT count(*) FROM links').pluck().get(), LINKS_MOVED_AT + 10);
  // Texts repeat: each stored once while the cache holds it.
  assert.equal(queue.db.prepare('SELECT count(*) FROM link_texts').pluck().get(), 7);
});

test('links by target are merged from the recent part into the big one a slice a write, and read the same throughout', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const hubs = Math.ceil(RECENT_MERGED_AT / LINKS_MOVED_AT) + 1;
  // Every hub links every target: each target has one inlink from each hub.
  const targets = Array.from({ length: LINKS_MOVED_AT }, (_, i) => link(`/t/${i}`, ''));
  for (let h = 0; h < hubs; h++) await store.pages.write([page(`/hub/${h}`, targets)]);
  const count = (table: string) => queue.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  assert.deepEqual([count('links_recent'), count('links_merged')], [hubs * LINKS_MOVED_AT, 0]);
  let writes = 0;
  while (count('links_recent') > 0 && writes < 100) {
    await store.pages.write([page(`/leaf/${writes++}`, null)]);
    assert.equal(count('links'), hubs * LINKS_MOVED_AT);
    assert.equal((await store.pages.inlinks(CRAWL, u('/t/1234'), 1000)).count, hubs);
  }
  assert.deepEqual([count('links_recent'), count('links_merged')], [0, hubs * LINKS_MOVED_AT]);
  assert.ok(writes > 3, `merged in slices, not at once (${writes} writes)`);
  // A hub fetched again drops its links from whichever part holds them.
  await store.pages.write([page('/hub/0', [link('/t/1234', 'again')])]);
  assert.equal((await store.pages.inlinks(CRAWL, u('/t/1234'), 1000)).count, hubs);
  assert.equal((await store.pages.inlinks(CRAWL, u('/t/1233'), 1000)).count, hubs - 1);
});

test('a page fetched again replaces its links, whether they were moved or still logged', async () => {
  const { store } = open(tempDb());
  await start(store);
  await store.pages.write([page('/', [link('/x', 'X'), link('/y', 'Y')], { depth: 0 })]);
  // Again in the same batch as a page after it, its first links still in the log.
  await store.pages.write([page('/', [link('/z', 'Z')], { depth: 0 }), page('/other', [link('/x', 'X from other')])]);
  const from = await store.pages.links(CRAWL, { after: null, limit: 10, from: u('/') });
  assert.deepEqual(
    from.map((l) => l.to),
    [u('/z')],
  );
  assert.deepEqual((await store.pages.inlinks(CRAWL, u('/x'), 10)).links, [{ url: u('/other'), text: 'X from other' }]);
  // And once more, its links now in `links`.
  await store.pages.write([page('/', [link('/y', 'Y again')], { depth: 0 })]);
  assert.deepEqual(
    (await store.pages.links(CRAWL, { after: null, limit: 10, from: u('/') })).map((l) => [l.to, l.text]),
    [[u('/y'), 'Y again']],
  );
  assert.equal((await store.pages.page(CRAWL, u('/')))?.outlinks, 1);
});

test('a page fetched again after a restart replaces the links the run before left in the log', async () => {
  const file = tempDb();
  const first = open(file);
  await start(first.store);
  await first.store.pages.write([page('/', [link('/x', 'X'), link('/y', 'Y')], { depth: 0 })]);
  assert.equal(pending(first.queue), 1);
  // Another store on the file (the daemon started again) logs nothing before it writes the page again.
  const again = new SqliteCrawlStore(first.queue.db);
  await again.pages.write([page('/', [link('/z', 'Z')], { depth: 0 })]);
  assert.deepEqual(
    (await again.pages.links(CRAWL, { after: null, limit: 10, from: u('/') })).map((l) => l.to),
    [u('/z')],
  );
  assert.deepEqual(await again.pages.inlinks(CRAWL, u('/x'), 10), { links: [], count: 0 });
});

test('reads go on while another process holds the write lock, without the records and links logged last', async () => {
  const file = tempDb();
  const { queue, store } = open(file);
  await start(store);
  await store.pages.write([page('/', null, { depth: 0 })]);
  assert.equal((await store.pages.page(CRAWL, u('/')))?.title, '/', 'read, and so moved');
  await store.pages.write([page('/b', [link('/a', 'A')])]);
  const other = new Database(file);
  after(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  try {
    // After waiting out the lock as a write does (busy.ts).
    assert.equal(await store.pages.page(CRAWL, u('/b')), null);
    assert.equal(pending(queue), 1);
    // A paged read (an export) would skip what comes in behind its cursor: it fails instead.
    await assert.rejects(
      store.pages.pages(CRAWL, { after: { status: 0, urlId: 0 }, limit: 10 }),
      /logged last could not be moved in to be read: the queue database is locked/,
    );
  } finally {
    other.exec('ROLLBACK');
  }
  assert.equal((await store.pages.inlinks(CRAWL, u('/a'), 10)).count, 1);
  assert.equal((await store.pages.page(CRAWL, u('/b')))?.title, '/b');
  assert.equal(pending(queue), 0);
});

test("the records' log has the columns of pages, in their order, and the same constraints: a record the log takes, the move takes", () => {
  const { queue } = open(tempDb());
  // Pages' url id is its rowid, never null, which the table's info does not say.
  const columns = (table: string) =>
    queue.db.prepare(`SELECT name, type, "notnull" OR name = 'url_id' AS "notnull", dflt_value FROM pragma_table_info(?)`).all(table);
  assert.deepEqual(columns('pages_pending'), columns('pages'));
  // The log's url id is unique by an index where pages' is its key.
  const unique = queue.db
    .prepare(`SELECT i.name FROM pragma_index_list('pages_pending') i, pragma_index_info(i.name) c WHERE i."unique" AND c.name = 'url_id'`)
    .all();
  assert.equal(unique.length, 1);
});

test('a record is read at once, and read again as written last, whether it was moved or is still logged', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const logged = () => queue.db.prepare('SELECT count(*) FROM pages_pending').pluck().get() as number;
  await store.pages.write([page('/', null, { depth: 0, status: 503, error: 'HTTP 503' })]);
  await store.pages.write([page('/', null, { depth: 0, status: 200 })]);
  assert.equal(logged(), 1, 'the last record of a URL replaces the one before it in the log');
  const report = async () => Object.fromEntries((await store.pages.reportCounts(CRAWL)).groups.map((g) => [g.status, g.pages]));
  assert.deepEqual(await report(), { 200: 1 }, 'the record replaced is counted out');
  assert.equal(logged(), 0, 'a read moves the log');
  await store.pages.write([page('/', null, { depth: 0, status: 404, error: 'HTTP 404' })]);
  assert.equal((await store.pages.page(CRAWL, u('/')))?.status, 404);
  assert.deepEqual(await report(), { 404: 1 });
  assert.equal(queue.db.prepare('SELECT count(*) FROM pages').pluck().get(), 1);
});

test('a crawl that finishes has its records and links moved in with it', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  await store.pages.write([page('/', [link('/a', 'A')], { depth: 0 })]);
  const count = (table: string) => queue.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  assert.deepEqual([count('pages_pending'), pending(queue), count('links')], [1, 1, 0]);
  assert.equal(await store.finish(CRAWL, Date.now()), true);
  assert.deepEqual([count('pages_pending'), count('pages'), count('links')], [0, 1, 1]);
});

test('records are moved once PAGES_MOVED_AT are logged, inside the write', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const batch = Array.from({ length: PAGES_MOVED_AT - 1 }, (_, i) => page(`/p/${i}`, null));
  await store.pages.write(batch);
  const count = (table: string) => queue.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  assert.deepEqual([count('pages_pending'), count('pages')], [PAGES_MOVED_AT - 1, 0]);
  await store.pages.write([page('/last', null)]);
  assert.deepEqual([count('pages_pending'), count('pages')], [0, PAGES_MOVED_AT]);
});

test('URL ids are kept for the crawls written last', () => {
  const cache = new UrlIdCache();
  for (const c of ['c1', 'c2', 'c3', 'c4']) cache.set(c, 'http://x/', 1);
  // c1 used again: c2 goes when a fifth crawl comes.
  assert.equal(cache.get('c1', 'http://x/'), 1);
  cache.set('c5', 'http://x/', 5);
  assert.deepEqual(
    ['c1', 'c2', 'c3', 'c4', 'c5'].map((c) => cache.get(c, 'http://x/')),
    [1, undefined, 1, 1, 5],
  );
});

test('found on: the first page whose followed link met the URL, not one that did not follow it', async () => {
  const { store } = open(tempDb());
  await start(store);
  await store.pages.write([page('/', [link('/n', 'nofollowed', 'nofollow'), link('/r', 'R'), link('/', 'Home')], { depth: 0 })]);
  await store.pages.write([page('/other', [link('/n', 'Followed here'), link('/r', 'R again')])]);
  await store.pages.write([page('/n', [link('/n', 'Itself')]), page('/r', null)]);
  const n = await store.pages.page(CRAWL, u('/n'));
  assert.deepEqual([n?.foundOn, n?.linkText], [u('/other'), 'Followed here']);
  const r = await store.pages.page(CRAWL, u('/r'));
  assert.deepEqual([r?.foundOn, r?.linkText], [u('/'), 'R']);
  // A seed is found on nothing, though a page links to it.
  const seed = await store.pages.page(CRAWL, u('/'));
  assert.deepEqual([seed?.foundOn, seed?.linkText], [null, null]);
});

test('a batch rolled back for one record leaves no id cached: the others are written whole', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  // A record the database refuses for its data, in the middle of a batch that made new URLs before it.
  queue.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON pages_pending WHEN NEW.fetch_ms = 666 BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  const logged: string[] = [];
  await writeRecords(
    store.pages,
    [
      page('/', [link('/new', 'New'), link('/also', 'Also')], { depth: 0 }),
      page('/bad', [link('/new', 'From bad')], { fetchMs: 666 }),
      page('/after', [link('/also', 'Also after')]),
    ],
    false,
    (_level, msg) => logged.push(msg),
  );
  assert.equal(logged.length, 1);
  assert.match(logged[0], /^the record of http:\/\/127\.0\.0\.9\/bad could not be stored/);
  assert.deepEqual(await store.pages.inlinks(CRAWL, u('/new'), 10), { links: [{ url: u('/'), text: 'New' }], count: 1 });
  assert.deepEqual((await store.pages.inlinks(CRAWL, u('/also'), 10)).links.map((l) => l.text).sort(), ['Also', 'Also after']);
  await store.pages.write([page('/new', null)]);
  assert.equal((await store.pages.page(CRAWL, u('/new')))?.foundOn, u('/'));
  // Every link names a URL that exists.
  assert.equal(queue.db.prepare('SELECT count(*) FROM links l LEFT JOIN crawl_urls c ON c.id = l.to_id WHERE c.id IS NULL').pluck().get(), 0);
});

/** Leases a job for each path, for `worker`. */
async function leased(queue: SqliteQueue, worker: string, paths: string[]) {
  await queue.enqueue(paths.map((p) => ({ kind: 'crawl', url: u(p), key: '127.0.0.9', dedupeKey: u(p), crawlId: CRAWL })));
  const jobs = await queue.lease(worker, paths.length, { ttlMs: 60_000, defaultLimit: paths.length });
  return new Map(jobs.map((j) => [j.url, j]));
}

test('records are written with the acknowledgements that count: none for a lease lost, and one refused for its data alone', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const logged: string[] = [];
  queue.setAckHook(store.pages.ackHook((_level, msg) => logged.push(msg)));
  queue.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON pages_pending WHEN NEW.fetch_ms = 666 BEGIN SELECT RAISE(ABORT, 'refused'); END`);
  const jobs = await leased(queue, 'w', ['/', '/bad', '/odd', '/next', '/later']);
  const ack = (path: string, w: PageWrite, type: 'done' | 'defer' = 'done') => ({
    id: jobs.get(u(path))!.id,
    token: jobs.get(u(path))!.leaseToken,
    outcome: type === 'done' ? { type, attached: w } : { type, reason: 'Retry-After', delayMs: 1000, attached: w },
  });
  const results = await queue.ack('w', [
    ack('/', page('/', [link('/next', 'Next')], { depth: 0 })),
    ack('/bad', page('/bad', [link('/next', 'From bad')], { fetchMs: 666 })),
    // A record that makes the writer itself throw, not the database.
    ack('/odd', page('/odd', null, { via: null as never })),
    ack('/next', page('/next', [link('/', 'Home')])),
    ack('/later', page('/later', null), 'defer'),
  ]);
  await assertRecordsRodeOnAcks(results, store.pages, CRAWL, logged);
  const lost = (await leased(queue, 'gone', ['/lost'])).get(u('/lost'))!;
  await queue.reclaimWorkers(['gone'], 'worker gone');
  assert.deepEqual(await queue.ack('gone', [{ id: lost.id, token: lost.leaseToken, outcome: { type: 'done', attached: page('/lost', null) } }]), [
    { id: lost.id, ok: false },
  ]);
  assert.equal(await store.pages.page(CRAWL, u('/lost')), null, 'an attempt whose lease was lost leaves no record');
});

test('an acknowledgement rolled back after its records were written leaves no id cached', async () => {
  const { queue, store } = open(tempDb());
  await start(store);
  const hook = store.pages.ackHook(() => assert.fail('nothing is refused'));
  let full = true;
  queue.setAckHook({
    write: (attached) => {
      hook.write(attached);
      if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    },
    rolledBack: () => hook.rolledBack(),
  });
  const job = (await leased(queue, 'w', ['/'])).get(u('/'))!;
  const acks = [{ id: job.id, token: job.leaseToken, outcome: { type: 'done' as const, attached: page('/', [link('/new', 'New')], { depth: 0 }) } }];
  await assert.rejects(queue.ack('w', acks), /disk is full/);
  full = false;
  assert.equal((await queue.ack('w', acks))[0].ok, true, 'the lease is still held: the first try changed nothing');
  await store.pages.write([page('/new', null)]);
  assert.equal((await store.pages.page(CRAWL, u('/new')))?.foundOn, u('/'));
  assert.equal(queue.db.prepare('SELECT count(*) FROM links l LEFT JOIN crawl_urls c ON c.id = l.to_id WHERE c.id IS NULL').pluck().get(), 0);
});

test('a database written before the link log reads the same after it, and takes new records', async () => {
  const file = tempDb();
  {
    // The crawl component as it was at migration 2, its rows written as that version wrote them.
    const old = new SqliteQueue(file, { components: [{ ...CRAWL_COMPONENT, migrations: CRAWL_COMPONENT.migrations.slice(0, 2) }] });
    old.db.prepare(`INSERT INTO crawls (id, seeds, options, state, created_at) VALUES (?, '[]', '{}', 'running', 0)`).run(CRAWL);
    const url = old.db.prepare('INSERT INTO crawl_urls (id, crawl_id, url, key) VALUES (?, ?, ?, ?)');
    url.run(1, CRAWL, u('/'), urlKey(CRAWL, u('/')));
    url.run(2, CRAWL, u('/a'), urlKey(CRAWL, u('/a')));
    // Queued, no record yet: its found-on comes from the links when its record is written.
    url.run(3, CRAWL, u('/queued'), urlKey(CRAWL, u('/queued')));
    old.db.exec(`
      INSERT INTO link_texts (id, text) VALUES (1, 'Page A');
      INSERT INTO pages (url_id, crawl_id, host, status, depth, outlinks) VALUES (1, '${CRAWL}', '127.0.0.9', 200, 0, 1);
      INSERT INTO pages (url_id, crawl_id, host, status, depth, found_on, link_text, outlinks) VALUES (2, '${CRAWL}', '127.0.0.9', 200, 1, 1, 1, 0);
      INSERT INTO links (from_id, to_id, text_id, reason) VALUES (1, 2, 1, NULL), (1, 3, NULL, NULL);
    `);
    await old.close();
  }
  const { store } = open(file);
  assert.deepEqual(
    (await store.pages.links(CRAWL, { after: null, limit: 10 })).map((l) => [l.from, l.to, l.text]),
    [
      [u('/'), u('/a'), 'Page A'],
      [u('/'), u('/queued'), ''],
    ],
  );
  const rows = await store.pages.pages(CRAWL, { after: { status: 0, urlId: 0 }, limit: 10 });
  assert.deepEqual(
    rows.map((r) => [r.url, r.foundOn, r.linkText, r.inlinks]),
    [
      [u('/'), null, null, 0],
      [u('/a'), u('/'), 'Page A', 1],
    ],
  );
  await store.pages.write([page('/b', [link('/a', 'Page A'), link('/queued', 'Queued from b')]), page('/queued', null)]);
  assert.equal((await store.pages.page(CRAWL, u('/queued')))?.foundOn, u('/'));
  assert.deepEqual(
    (await store.pages.inlinks(CRAWL, u('/a'), 10)).links.map((l) => [l.url, l.text]),
    [
      [u('/'), 'Page A'],
      [u('/b'), 'Page A'],
    ],
  );
});

test('a database written with the links log (migration 6) reads the same after its links move into the records', async () => {
  const file = tempDb();
  {
    const old = new SqliteQueue(file, { components: [{ ...CRAWL_COMPONENT, migrations: CRAWL_COMPONENT.migrations.slice(0, 6) }] });
    old.db.prepare(`INSERT INTO crawls (id, seeds, options, state, created_at) VALUES (?, '[]', '{}', 'running', 0)`).run(CRAWL);
    const url = old.db.prepare('INSERT INTO crawl_urls (id, crawl_id, url, key) VALUES (?, ?, ?, ?)');
    ['/', '/a', '/b', '/c'].forEach((path, i) => url.run(i + 1, CRAWL, u(path), urlKey(CRAWL, u(path))));
    // '/' moved with its links; '/a' still logged, its links too (the second to '/b' is not kept: the first link wins).
    old.db.exec(`
      INSERT INTO link_texts (id, text) VALUES (1, 'A'), (2, 'B'), (3, 'B again');
      INSERT INTO pages (url_id, crawl_id, host, status, depth, outlinks) VALUES (1, '${CRAWL}', '127.0.0.9', 200, 0, 1);
      INSERT INTO links (from_id, to_id, text_id, reason) VALUES (1, 2, 1, NULL);
      INSERT INTO pages_pending (url_id, crawl_id, host, status, depth, found_on, link_text, outlinks) VALUES (2, '${CRAWL}', '127.0.0.9', 200, 1, 1, 1, 3);
      INSERT INTO links_pending (from_id, links) VALUES (2, '[[4, null, 0], [3, 2, null], [3, 3, null]]');
      -- Both counted as the store counted them when it wrote them.
      INSERT INTO page_groups (crawl_id, host, content_type, status, pages, failed, fetch_ms_sum, fetch_ms_count, missing_titles)
      VALUES ('${CRAWL}', '127.0.0.9', '', '200', 2, 0, 0, 0, 0);
    `);
    await old.close();
  }
  const { store } = open(file);
  assert.deepEqual(
    (await store.pages.links(CRAWL, { after: null, limit: 10 })).map((l) => [l.from, l.to, l.text, l.reason]),
    [
      [u('/'), u('/a'), 'A', null],
      [u('/a'), u('/b'), 'B', null],
      [u('/a'), u('/c'), '', 'nofollow'],
    ],
  );
  assert.deepEqual(await store.pages.inlinks(CRAWL, u('/b'), 10), { links: [{ url: u('/a'), text: 'B' }], count: 1 });
  const counted = async () => (await store.pages.reportCounts(CRAWL)).groups.map((g) => [g.status, g.pages]);
  assert.deepEqual(await counted(), [['200', 2]], 'the record logged at the upgrade is not counted again');
  // Fetched again: the links it had are gone from both directions.
  await store.pages.write([page('/a', [link('/', 'Home')], { depth: 1 })]);
  assert.deepEqual(await store.pages.inlinks(CRAWL, u('/b'), 10), { links: [], count: 0 });
  assert.deepEqual(
    (await store.pages.links(CRAWL, { after: null, limit: 10, from: u('/a') })).map((l) => [l.to, l.text]),
    [[u('/'), 'Home']],
  );
  // Counted out of its old group (its host as written then), into its new one.
  assert.deepEqual((await counted()).map(([, n]) => n).sort(), [1, 1]);
});

test("a crawl's state, read before every page, is read from an index and not from the row that holds the seeds", async () => {
  const { queue, store } = open(tempDb());
  const seeds = Array.from({ length: 5_000 }, (_, i) => u(`/seed/${i}`));
  await store.insert({ id: CRAWL, name: null, seeds, options: {} as never, now: Date.now() });
  assert.equal(await store.state(CRAWL), 'running');
  const plan = queue.db.prepare(`EXPLAIN QUERY PLAN ${STORE_SQL.state}`).all(CRAWL) as { detail: string }[];
  assert.match(plan.map((p) => p.detail).join(), /COVERING INDEX crawls_state/);
});
