/**
 * WARC archives: a crawl with `warc` keeps every response it fetched (a page, a gzip-encoded one,
 * a redirect, a 404, an image) with its request, read back with warcio itself: each page found
 * with the body its server sent, digests and links between records as the standard says, files
 * begun anew past their size. And a daemon killed with SIGKILL mid-crawl leaves files that read
 * back up to their last whole record, its successor writing on in a file of its own.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import * as zlib from 'node:zlib';
import { WARCParser, type WARCRecord } from 'warcio';
import { WarcArchive } from '../../server/src/crawl/archive';
import { crawler } from './helpers/crawler';
import { crawlctl, startDaemon } from './helpers/daemon-proc';
import { startHost, status, type Route, type TestHost } from './helpers/testsite';
import { eventually, tempDir } from './helpers/tmp';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));

const HTML = (links: string[], filler = '') => `<!doctype html><html><body>${links.map((l) => `<a href="${l}">${l}</a>`).join('')}${filler}</body></html>`;
const serve =
  (type: string, body: Buffer | string, gzipped = false): Route =>
  (_req, res) => {
    res.setHeader('content-type', type);
    if (gzipped) res.setHeader('content-encoding', 'gzip');
    res.end(gzipped ? zlib.gzipSync(body) : body);
  };

interface Read {
  file: string;
  type: string;
  id: string;
  uri: string | null;
  concurrentTo: string | null;
  status: number | null;
  headers: Record<string, string>;
  payload: Buffer;
  payloadDigest: string | null;
}

/** Every whole record of a file, read with warcio; a cut record at the end stops the reading. */
async function readWarc(file: string): Promise<{ records: Read[]; error: Error | null }> {
  const records: Read[] = [];
  try {
    for await (const r of WARCParser.iterRecords([fs.readFileSync(file)]) as AsyncIterable<WARCRecord>) {
      const h = r.warcHeaders.headers;
      const payload = Buffer.from(await r.readFully(true));
      records.push({
        file,
        type: r.warcType,
        id: h.get('WARC-Record-ID') as string,
        uri: r.warcTargetURI ?? null,
        concurrentTo: h.get('WARC-Concurrent-To') ?? null,
        status: r.httpHeaders ? Number(r.httpHeaders.statusCode) : null,
        headers: r.httpHeaders ? Object.fromEntries([...r.httpHeaders.headers].map(([k, v]) => [k.toLowerCase(), v])) : {},
        payload,
        payloadDigest: h.get('WARC-Payload-Digest') ?? null,
      });
    }
    return { records, error: null };
  } catch (err) {
    return { records, error: err as Error };
  }
}

test('a crawl with warc keeps every response with its request, as warcio reads them back', async () => {
  const png = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256));
  const big = 'x'.repeat(3000);
  const host = await startHost('127.0.0.46', {
    '/': serve('text/html; charset=utf-8', HTML(['/zipped', '/old', '/missing', '/img.png', '/p1', '/p2'])),
    '/zipped': serve('text/html', HTML([], `<p>compressed ${big}</p>`), true),
    '/old': status(301, { location: '/p1' }),
    '/p1': serve('text/html', HTML([], `<p>one ${big}</p>`)),
    '/p2': serve('text/html', HTML([], `<p>two ${big}</p>`)),
    '/img.png': serve('image/png', png),
  });
  hosts.push(host);
  const sent: Record<string, Buffer> = {
    '/': Buffer.from(HTML(['/zipped', '/old', '/missing', '/img.png', '/p1', '/p2'])),
    '/zipped': Buffer.from(HTML([], `<p>compressed ${big}</p>`)),
    '/p1': Buffer.from(HTML([], `<p>one ${big}</p>`)),
    '/p2': Buffer.from(HTML([], `<p>two ${big}</p>`)),
    '/img.png': png,
  };
  // Files of 2 KB: the crawl's records fill several.
  const c = crawler({ settings: { warcFileBytes: 2 * 1024 } });
  const crawl = await c.run({ seeds: [host.url('/')], warc: true });
  assert.equal(crawl.options.warc, true);

  const files = await c.crawls.warcFiles(crawl);
  assert.ok(files.length >= 3, `several files: ${JSON.stringify(files)}`);
  assert.deepEqual(
    files.map((f) => path.basename(f.path)),
    files.map((_, i) => `${crawl.id}-${String(i + 1).padStart(5, '0')}.warc.gz`),
  );
  for (const f of files) assert.equal(f.bytes, fs.statSync(f.path).size);

  const all: Read[] = [];
  for (const f of files) {
    const { records, error } = await readWarc(f.path);
    assert.equal(error, null, `${f.path} reads whole`);
    assert.equal(records[0].type, 'warcinfo', 'each file starts with its warcinfo');
    assert.match(records[0].payload.toString(), new RegExp(`isPartOf: ${crawl.id}`));
    all.push(...records.slice(1));
  }
  const responses = new Map(all.filter((r) => r.type === 'response').map((r) => [new URL(r.uri!).pathname, r]));
  assert.equal(all.filter((r) => r.type === 'response').length, responses.size, 'no response twice');
  assert.deepEqual(
    [...responses.keys()].sort(),
    ['/', '/img.png', '/missing', '/old', '/p1', '/p2', '/zipped'],
    'every response once, redirect and 404 included',
  );
  for (const [p, body] of Object.entries(sent)) {
    const r = responses.get(p)!;
    assert.equal(r.status, 200, p);
    assert.deepEqual(r.payload, body, `${p}: the body the server sent`);
    assert.equal(r.payloadDigest, `sha256:${createHash('sha256').update(body).digest('hex')}`, `${p}: its payload digest`);
    assert.equal(r.headers['content-length'], String(body.byteLength), `${p}: the length stored`);
    assert.equal(r.headers['content-encoding'], undefined, `${p}: stored decoded, so no coding claimed`);
  }
  assert.equal(responses.get('/old')!.status, 301);
  assert.equal(responses.get('/old')!.headers.location, '/p1');
  assert.equal(responses.get('/missing')!.status, 404);
  assert.equal(responses.get('/img.png')!.headers['content-type'], 'image/png');
  const requests = all.filter((r) => r.type === 'request');
  assert.equal(requests.length, responses.size, 'a request for each response');
  for (const req of requests) {
    const resp = all.find((r) => r.id === req.concurrentTo);
    assert.ok(resp && resp.type === 'response' && resp.uri === req.uri, `${req.uri}: its request names its response`);
    assert.match(req.headers['user-agent'] ?? '', /CrawlOrchestrator|crawl/i);
    assert.equal(req.headers.host, new URL(host.url('/')).host);
  }
});

test('the writer thread: one that dies fails what it owed and the next record begins a new file; closed, it refuses', async () => {
  const dir = path.join(tempDir(), 'warc');
  const archive = new WarcArchive(dir, { userAgent: 'test', robots: true }, 1024 * 1024);
  const exchange = (p: string) => ({
    url: `http://127.0.0.48${p}`,
    date: Date.now(),
    requestHeaders: {},
    status: 200,
    responseHeaders: {},
    body: Buffer.from(p),
  });
  await archive.add('c_w', exchange('/1'));
  // Killed under writes it owes: each settles, those not written failed with the reason.
  const owed = Array.from({ length: 20 }, (_, i) => archive.add('c_w', exchange(`/owed/${i}`)));
  await (archive as unknown as { worker: { thread: { terminate(): Promise<number> } } }).worker.thread.terminate();
  const settled = await Promise.allSettled(owed);
  const failed = settled.filter((s) => s.status === 'rejected');
  assert.ok(failed.length > 0, 'the writes still owed failed');
  for (const f of failed) assert.match(String(f.reason), /the WARC writer stopped/);
  await archive.add('c_w', exchange('/3'));
  const files = await archive.files('c_w');
  assert.deepEqual(
    files.map((f) => path.basename(f.path)),
    ['c_w-00001.warc.gz', 'c_w-00002.warc.gz'],
    'the new writer wrote a file of its own',
  );
  const uris = [];
  for (const f of files) uris.push(...(await readWarc(f.path)).records.filter((r) => r.type === 'response').map((r) => new URL(r.uri!).pathname));
  assert.ok(uris.includes('/1') && uris.includes('/3'), uris.join());
  await archive.close();
  await assert.rejects(archive.add('c_w', exchange('/4')), /the WARC writer is closed/);
  assert.deepEqual((await archive.files('c_w')).length, 2, 'nothing written after the close');
});

test('a daemon killed with SIGKILL mid-crawl: its files read back up to their last whole record; the next daemon writes on in a file of its own', async () => {
  // Pages answer after 40 ms each, one at a time: the crawl is under way when the daemon is killed.
  const routes: Record<string, Route> = {};
  const PAGES = 60;
  for (let i = 0; i < PAGES; i++) {
    const body = HTML(i + 1 < PAGES ? [`/p/${i + 1}`] : [], `<p>page ${i} ${'y'.repeat(2000)}</p>`);
    routes[`/p/${i}`] = (req, res, hit) => {
      setTimeout(() => void serve('text/html', body)(req, res, hit), 40);
    };
  }
  const host = await startHost('127.0.0.47', routes);
  hosts.push(host);
  const first = await startDaemon({ args: ['--per-host', '1'] });
  const started = await crawlctl(['crawl', host.url('/p/0'), '--warc', '--json', '--state-dir', first.stateDir]);
  assert.equal(started.code, 0, started.stderr);
  const crawlId = JSON.parse(started.stdout).crawlId as string;
  const warcDir = path.join(first.stateDir, 'warc');
  await eventually('a few pages archived', () => fs.existsSync(warcDir) && fs.readdirSync(warcDir).length > 0 && host.hits.size >= 10);
  await first.stop('SIGKILL');

  const [killedFile] = fs.readdirSync(warcDir);
  assert.equal(killedFile, `${crawlId}-00001.warc.gz`);
  const killedSize = fs.statSync(path.join(warcDir, killedFile)).size;
  const killed = await readWarc(path.join(warcDir, killedFile));
  assert.ok(killed.records.length >= 3, `whole records before the kill: ${killed.records.length}`);
  for (const r of killed.records.filter((x) => x.type === 'response')) {
    const i = Number(new URL(r.uri!).pathname.split('/').pop());
    assert.match(r.payload.toString(), new RegExp(`<p>page ${i} `), `${r.uri}: a whole page`);
  }

  const second = await startDaemon({ stateDir: first.stateDir, args: ['--per-host', '1'] });
  after(() => second.stop());
  const waited = await crawlctl(['watch', crawlId, '--json', '--state-dir', second.stateDir], { timeoutMs: 120_000 });
  assert.equal(waited.code, 0, waited.stderr);
  const names = fs.readdirSync(warcDir).sort();
  // The crawl's end lists its files, as crawl/get does.
  assert.deepEqual(
    (JSON.parse(waited.stdout).warc as { path: string }[]).map((w) => path.basename(w.path)),
    names,
  );
  assert.equal(names[0], killedFile);
  assert.ok(names.length >= 2, `the next daemon began a file of its own: ${names.join(', ')}`);
  assert.equal(fs.statSync(path.join(warcDir, killedFile)).size, killedSize, "the killed daemon's file is not written into again");
  const archived = new Set<string>();
  for (const name of names) {
    const { records, error } = await readWarc(path.join(warcDir, name));
    if (name !== killedFile) assert.equal(error, null, `${name} reads whole`);
    for (const r of records) if (r.type === 'response') archived.add(new URL(r.uri!).pathname);
  }
  assert.equal(archived.size, PAGES, 'every page archived, once or (fetched again after the kill) twice');
});
