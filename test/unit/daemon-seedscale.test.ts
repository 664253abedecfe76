/**
 * A long seed file beside a crawl costs what changes, not what the file holds: a change batch
 * re-reads only the file's jobs that changed, an edit looks up only the URLs it adds, and hints
 * are made for the lines the editor asks for. The language server runs in process (helpers/seed-lsp.ts),
 * on a real queue file whose reads are counted.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { DidChangeTextDocumentNotification } from 'vscode-languageserver-protocol/node';
import { CRAWL_KIND } from '../../server/src/crawl/crawls';
import { openSeedFile } from './helpers/seed-lsp';
import { eventually } from './helpers/tmp';

const URLS = 3_000;
const url = (i: number) => `http://127.0.0.9/page/${i}`;

/** A queue file of URLS standalone jobs, the seed-file features over it in process, and an LSP client with the file open. */
async function openBigFile(sweepMs: number) {
  // The queue as the features see it, with the URLs they look up and the states they read counted.
  let looked = 0;
  let statesRead = 0;
  let readById = 0;
  let readsById = 0;
  const lines = Array.from({ length: URLS }, (_, i) => url(i));
  const f = await openSeedFile({
    text: lines.join('\n'),
    sweepMs,
    before: (q) => q.enqueue(lines.map((u) => ({ kind: CRAWL_KIND, url: u, key: '127.0.0.9', dedupeKey: u }))),
    wrap: {
      findByDedupeKeys: (real) => (crawlId, keys) => {
        looked += keys.length;
        return real(crawlId, keys);
      },
      jobsByIds: (real) => (ids) => {
        readById += ids.length;
        readsById++;
        return real(ids);
      },
      jobStates: (real) => (ids) => {
        statesRead += ids.length;
        return real(ids);
      },
    },
  });
  return {
    ...f,
    lines,
    looked: () => looked,
    /** Jobs read by id, and in how many queries. */
    readById: () => ({ jobs: readById, queries: readsById }),
    resetLooked: () => {
      looked = 0;
      readById = 0;
      readsById = 0;
    },
    statesRead: () => statesRead,
  };
}

const hintsFor = (f: Awaited<ReturnType<typeof openBigFile>>, from: number, to: number) => f.hints(from, to);

test('a 3,000-URL seed file: changes re-read only the jobs that changed, edits only new URLs, hints only the lines asked, redraws only for them', async () => {
  const f = await openBigFile(3_600_000);
  const { real, features, client, uri, lines } = f;
  assert.equal(f.looked(), URLS, 'opened: every URL looked up once');

  const visible = await hintsFor(f, 100, 140);
  assert.deepEqual(
    visible.map((h) => h.position.line),
    Array.from({ length: 41 }, (_, i) => 100 + i),
  );
  assert.equal(String(visible[0].label), '⏳ queued');

  // Five jobs finish (lines 0-4, out of sight): the batch names them, only they are read again (by
  // id, in one query), and the editor is not asked to redraw the lines it shows, which did not change.
  const finish = async () => {
    const leased = await real.lease('w', 5, { ttlMs: 60_000, defaultLimit: 5 });
    await real.ack(
      'w',
      leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
    );
    f.resetLooked();
    features.jobsChanged(leased.map((j) => j.id));
    return leased;
  };
  const before = f.redraws();
  const unseen = await finish();
  await eventually('the batch read', () => f.readById().jobs === 5);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(f.readById(), { jobs: 5, queries: 1 }, 'a batch of 5 changes reads 5 jobs, not the file');
  assert.equal(f.looked(), 0, 'no URL looked up: the jobs are known');
  assert.equal(f.redraws(), before, 'no redraw for lines out of sight');
  const line = lines.indexOf(unseen[0].url);
  assert.match(String((await hintsFor(f, line, line))[0].label), /^✓ done · 200/);
  // Shown now (the editor asked for lines 0-40): the next five (lines 5-9) are redrawn.
  await hintsFor(f, 0, 40);
  await finish();
  await eventually('the hints redrawn', () => f.redraws() > before);

  // A batch of other crawls' jobs: nothing read, nothing redrawn.
  f.resetLooked();
  const redrawn = f.redraws();
  features.jobsChanged([987_654]);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(f.looked(), 0);
  assert.deepEqual(f.readById(), { jobs: 0, queries: 0 });
  assert.equal(f.redraws(), redrawn);

  // An edit adds one URL: only it is looked up.
  f.resetLooked();
  const diagnosedBefore = f.diagnosed();
  await client.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'http://127.0.0.9/new\n' }],
  });
  await eventually('the edit looked at', () => f.diagnosed() > diagnosedBefore);
  assert.equal(f.looked(), 1, 'an edit looks up only the URL it added');
  assert.equal(String((await hintsFor(f, 0, 0))[0].label), 'not crawled yet');

  // Another edit: the URL without a job is not looked up again, nor any other.
  f.resetLooked();
  const diagnosedThen = f.diagnosed();
  await client.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 3 },
    contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# a comment\n' }],
  });
  await eventually('the second edit looked at', () => f.diagnosed() > diagnosedThen);
  assert.equal(f.looked(), 0, 'an edit adding no URL looks nothing up, not even the URLs without a job');
  assert.equal(String((await hintsFor(f, 1, 1))[0].label), 'not crawled yet');
});

test('jobs that changed unnamed (the feed could not say which) are found by the sweep of unfinished jobs, read whole only when their lines are drawn', async () => {
  const f = await openBigFile(50);
  const { real, features, lines } = f;
  // The editor shows lines 1,000-1,040; the jobs that move are on lines 0-2.
  await hintsFor(f, 1_000, 1_040);
  const leased = await real.lease('w', 3, { ttlMs: 60_000, defaultLimit: 3 });
  await real.ack(
    'w',
    leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
  );
  const shownLines = leased.map((j) => lines.indexOf(j.url));
  assert.deepEqual(shownLines, [0, 1, 2]);
  // Jobs moved, but the batch names none of this file's.
  features.jobsChanged([987_654]);
  await eventually('the sweep', () => f.statesRead() >= URLS);
  await new Promise((r) => setTimeout(r, 300));
  // Swept once for that batch: the unfinished jobs' states read, none whole (none is in sight).
  assert.equal(f.statesRead(), URLS, 'the states of every unfinished job, once');
  assert.deepEqual(f.readById(), { jobs: 0, queries: 0 }, 'jobs out of sight are not read whole');
  // Drawn (scrolled to): the three read whole, in one query, with what their hints show.
  const drawn = await hintsFor(f, 0, 40);
  assert.deepEqual(f.readById(), { jobs: 3, queries: 1 });
  for (const line of shownLines) assert.match(String(drawn[line].label), /^✓ done · 200/);
  assert.equal(String(drawn[3].label), '⏳ queued');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(f.looked(), URLS, 'the open looked every URL up, and nothing since');
  assert.deepEqual(f.readById(), { jobs: 3, queries: 1 }, 'nothing again without another batch');
});

test('a job that fails out of sight is read whole by the sweep: its failure is a diagnostic and its lens count at once', async () => {
  const f = await openBigFile(50);
  const { real, features, lines } = f;
  await hintsFor(f, 1_000, 1_040);
  const [job] = await real.lease('w', 1, { ttlMs: 60_000, defaultLimit: 1 });
  await real.ack('w', [{ id: job.id, token: job.leaseToken, outcome: { type: 'fail', error: 'HTTP 404', retryable: false } }]);
  features.jobsChanged([987_654]);
  await eventually('the failure diagnosed', () => f.diagnostics().some((d) => d.message === 'HTTP 404' && d.range.start.line === lines.indexOf(job.url)));
  assert.deepEqual(f.readById(), { jobs: 1, queries: 1 });
});

test('a batch too big to name its jobs reads again at once only the jobs of the lines shown, not the file', async () => {
  const f = await openBigFile(3_600_000);
  const { real, features } = f;
  await hintsFor(f, 0, 40);
  const leased = await real.lease('w', 5, { ttlMs: 60_000, defaultLimit: 5 });
  await real.ack(
    'w',
    leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
  );
  f.resetLooked();
  const before = f.redraws();
  features.jobsChanged(null);
  await eventually('the lines shown read again', () => f.readById().jobs > 0);
  await eventually('their hints redrawn', () => f.redraws() > before);
  assert.deepEqual(f.readById(), { jobs: 41, queries: 1 }, 'the 41 lines shown, by id, in one query');
  assert.equal(f.looked(), 0, 'no URL looked up: not the 3,000 of the file');
  for (const job of leased) assert.match(String((await hintsFor(f, f.lines.indexOf(job.url), f.lines.indexOf(job.url)))[0].label), /^✓ done/);
});

test('after a batch too big to name its jobs, the sweep reads the state of every job of the file, finished ones too, and looks up the URLs without one', async () => {
  const f = await openBigFile(50);
  const { real, features, lines } = f;
  // Out of sight (lines 2,000-2,040 are shown): two jobs finish, named; then one is requeued and a new URL gets a job, unnamed.
  await hintsFor(f, 2_000, 2_040);
  const leased = await real.lease('w', 2, { ttlMs: 60_000, defaultLimit: 2 });
  await real.ack(
    'w',
    leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
  );
  features.jobsChanged(leased.map((j) => j.id));
  const label = async (line: number) => String((await hintsFor(f, line, line))[0]?.label);
  const [first, second] = leased.map((j) => lines.indexOf(j.url));
  await eventually('both done', async () => /^✓ done/.test(await label(first)) && /^✓ done/.test(await label(second)));
  await hintsFor(f, 2_000, 2_040);

  assert.equal(await real.requeue({ ids: [leased[0].id] }), 1);
  const added = 'http://127.0.0.9/added';
  await f.client.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri: f.uri, version: 2 },
    contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: `${added}\n` }],
  });
  await eventually('the new URL looked up', async () => (await label(0)) === 'not crawled yet');
  await real.enqueue([{ kind: CRAWL_KIND, url: added, key: '127.0.0.9', dedupeKey: added }]);
  const states = f.statesRead();
  features.jobsChanged(null);
  // The URL without a job is not among the lines shown with a job: only the sweep finds it.
  await eventually('the new URL found with its job', async () => /^⏳ queued/.test(await label(0)));
  assert.equal(f.statesRead() - states, URLS, 'the state of every job the file had, finished ones too, once');
  assert.match(await label(first + 1), /^⏳ queued/, 'the requeued job');
  assert.match(await label(second + 1), /^✓ done/);
});

/** A file of two URLs, both done as standalone jobs, its crawl `c_file`; sweeps every `sweepMs`. */
async function standaloneDone(sweepMs: number) {
  const lines = [url(1), url(2)];
  const f = await openSeedFile({
    text: lines.join('\n'),
    sweepMs,
    crawlId: 'c_file',
    before: async (q) => {
      await q.enqueue(lines.map((u) => ({ kind: CRAWL_KIND, url: u, key: '127.0.0.9', dedupeKey: u })));
      const leased = await q.lease('w', 2, { ttlMs: 60_000, defaultLimit: 2 });
      await q.ack(
        'w',
        leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
      );
    },
  });
  const label = async (line: number) => String((await f.hints(line, line))[0]?.label);
  assert.match(await label(0), /^✓ done/);
  const {
    ids: [id],
  } = await f.real.enqueue([{ kind: CRAWL_KIND, url: url(1), key: '127.0.0.9', dedupeKey: url(1), crawlId: 'c_file' }]);
  return { ...f, id: id!, label };
}

test("a URL shown with its standalone job shows its crawl's job once that one comes", async () => {
  const f = await standaloneDone(60_000);
  f.features.jobsChanged([f.id]);
  await eventually("the crawl's job shown", async () => !/^✓ done/.test(await f.label(0)));
  assert.match(await f.label(1), /^✓ done/, 'the other URL keeps its standalone job');
});

test("after a batch too big to name its jobs, a URL shown with its standalone job shows its crawl's job (the sweep looks it up)", async () => {
  const f = await standaloneDone(50);
  f.features.jobsChanged(null);
  await eventually("the crawl's job shown", async () => /^⏳ queued/.test(await f.label(0)));
  assert.match(await f.label(1), /^✓ done/, 'the other URL keeps its standalone job');
});

test('a running job out of sight ticks no redraw each second; in sight, its lease clock is redrawn', async () => {
  const f = await openBigFile(3_600_000);
  const { real, features } = f;
  await hintsFor(f, 2_000, 2_040);
  // Job 1 (line 0) runs: the jobs of the file are read every second for its lease clock.
  const [running] = await real.lease('w', 1, { ttlMs: 60_000, defaultLimit: 1 });
  assert.equal(running.url, f.lines[0]);
  const before = f.redraws();
  features.jobsChanged([running.id]);
  await new Promise((r) => setTimeout(r, 2_500));
  assert.equal(f.redraws(), before, 'its line is out of sight: no redraw, neither for the change nor each second');
  await hintsFor(f, 0, 40);
  await eventually('its lease clock redrawn', () => f.redraws() > before, 3_000);
});

test("a file in two editors: a change in either one's lines is redrawn", async () => {
  const f = await openBigFile(3_600_000);
  const { real, features } = f;
  // Editor one shows lines 0-40, editor two (asked after it) lines 2,000-2,040.
  await hintsFor(f, 0, 40);
  await hintsFor(f, 2_000, 2_040);
  const before = f.redraws();
  const leased = await real.lease('w', 2, { ttlMs: 60_000, defaultLimit: 2 });
  await real.ack(
    'w',
    leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
  );
  features.jobsChanged(leased.map((j) => j.id));
  await eventually("editor one's lines redrawn", () => f.redraws() > before);
});

test('an edit is answered with diagnostics, and asks no redraw: the editor asks for the hints of an edited file itself', async () => {
  const f = await openBigFile(3_600_000);
  const { client, uri } = f;
  await hintsFor(f, 0, 40);
  const [redraws, diagnosed] = [f.redraws(), f.diagnosed()];
  await client.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# a comment\n' }],
  });
  await eventually('the edit diagnosed', () => f.diagnosed() > diagnosed);
  // Past a redraw's throttle (HINT_REDRAW_MS), one asked would have come.
  await new Promise((r) => setTimeout(r, 1_300));
  assert.equal(f.redraws(), redraws);
  // What the editor then asks for is the edited file's: line 1 is the first URL now.
  assert.deepEqual(
    (await hintsFor(f, 0, 1)).map((h) => h.position.line),
    [1],
  );
});

test('lines whose editor does not ask again after a redraw (hidden, closed) count as shown no more', async () => {
  const f = await openBigFile(3_600_000);
  const { real, features } = f;
  const finish = async (n: number) => {
    const leased = await real.lease('w', n, { ttlMs: 60_000, defaultLimit: n });
    await real.ack(
      'w',
      leased.map((j) => ({ id: j.id, token: j.leaseToken, outcome: { type: 'done', result: { status: 200 } } })),
    );
    features.jobsChanged(leased.map((j) => j.id));
  };
  await hintsFor(f, 0, 40);
  let before = f.redraws();
  await finish(2);
  await eventually('lines 0-1 redrawn', () => f.redraws() > before);
  // No editor asks for lines 0-40 again (the file went to a background tab): past the time to
  // answer a redraw, its changes there ask for none.
  await new Promise((r) => setTimeout(r, 2_500));
  before = f.redraws();
  await finish(2);
  await new Promise((r) => setTimeout(r, 1_300));
  assert.equal(f.redraws(), before);
  // Shown again (the editor asks for what it shows): redrawn again.
  await hintsFor(f, 0, 40);
  await finish(2);
  await eventually('lines 4-5 redrawn', () => f.redraws() > before);
});
