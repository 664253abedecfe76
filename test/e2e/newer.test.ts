// The Jobs view's Done group while a crawl runs (issue 16: a row under the pointer stays put): its
// loaded rows, listed newest first, do not move as jobs finish; a row above them counts the newer
// ones ("N newer — show newest") and its click shows them; the group's count stays live; a row
// requeued leaves, and comes back in its place once done again. A site of its own (one host, pages answered after 30 ms) and crawls
// started with crawlctl on the extension's own daemon. Screenshots go to test/e2e/artifacts/newer-*.png.
//
// Run: npm run test:e2e (tsc -b, npm run package, node --test out/test/e2e).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { listen } from '../../server/src/demo/site';
import { crawlctl, crawlOf } from './crawlctl';
import { packagedVsix, start, type CodeServerSession } from './harness';
import { story } from './story';
import { expandRow, sleep, treeRows, until, viewPane, type Row } from './workbench';

const EXTENSION_ID = 'crawl-orchestrator.crawl-orchestrator';
const STATUS_ITEM_ID = `${EXTENSION_ID}.crawlOrchestrator.status`;
/** Not the other suites' addresses, so that none meets another in logs. */
const HOST = '127.0.0.41';
const FIRST = 150;
const SECOND = 400;
const NEWER = /^([\d,]+) newer — show newest$/;

describe('the Done group while a crawl runs, in code-server', { timeout: 5 * 60_000 }, () => {
  let server: http.Server;
  let origin: string;
  let workspace: string;
  let stateDir: string;
  let vscode: CodeServerSession | undefined;
  let page: Page;
  let jobs: Locator;
  /** The Done rows shown before the second crawl, top to bottom. */
  let before2: string[] = [];

  const steps = story('newer', 150_000, () => vscode);
  const { step } = steps;

  /** The Done group's row and the rows under it, as rendered (the top of the list is in view). */
  async function done(): Promise<{ group: Row | undefined; rows: Row[] }> {
    const rows = await treeRows(jobs);
    const at = rows.findIndex((r) => r.level === 1 && r.label === 'Done');
    if (at < 0) return { group: undefined, rows: [] };
    const under: Row[] = [];
    for (const r of rows.slice(at + 1)) {
      if (r.level === 1) break;
      under.push(r);
    }
    return { group: rows[at], rows: under };
  }
  const jobLabels = (rows: Row[]) => rows.filter((r) => !NEWER.test(r.label) && r.label !== 'Load more').map((r) => r.label);

  before(async () => {
    const vsix = packagedVsix();
    assert.ok(fs.existsSync(vsix), `${vsix} is missing: run \`npm run package\` first`);
    server = http.createServer((req, res) => {
      setTimeout(() => {
        if (req.url === '/robots.txt') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>${req.url}</title><p>${req.url}</p>`);
      }, 30);
    });
    origin = await listen(server, HOST);
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-newer-ws-'));
    stateDir = path.join(workspace, '.crawl');
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify({ 'crawlOrchestrator.maxWorkers': 2, 'crawlOrchestrator.perHostLimit': 2, 'crawlOrchestrator.defaultAddresses': 'private' }, null, 2),
    );
    seedFile('first.crawl', 0, FIRST);
    seedFile('second.crawl', FIRST, SECOND);
    vscode = await start({ workspace, extensions: [vsix] });
    page = vscode.page;
    jobs = viewPane(page, 'Jobs');
  });

  after(async () => {
    const failed = await steps.end(workspace);
    await new Promise((resolve) => server?.close(resolve));
    if (workspace && !failed) fs.rmSync(workspace, { recursive: true, force: true });
  });

  function seedFile(name: string, from: number, n: number): void {
    const urls = Array.from({ length: n }, (_, i) => `${origin}/p/${from + i}`);
    fs.writeFileSync(path.join(workspace, name), ['max-depth: 0', 'scope: host', 'addresses: private', '', ...urls, ''].join('\n'));
  }

  step('1. a first crawl fills Done; expanded, it lists its newest jobs first', async () => {
    await vscode!.waitForActivation(EXTENSION_ID, { timeout: 60_000 });
    await until(async () => /running/.test((await vscode!.statusBarText({ id: STATUS_ITEM_ID })) ?? ''), { timeout: 60_000, message: 'the daemon to run' });
    const { crawlId } = (await crawlctl(stateDir, 'crawl', path.join(workspace, 'first.crawl'))) as { crawlId: string };
    await until(async () => crawlOf(await crawlctl(stateDir, 'crawls'), crawlId)?.state === 'finished', {
      timeout: 60_000,
      message: 'the first crawl to finish',
    });
    await vscode!.openView('Jobs');
    await until(async () => (await done()).group !== undefined, { timeout: 20_000, message: 'the Done group' });
    await expandRow(jobs, 'Done');
    const shown = await until(
      async () => {
        const d = await done();
        return d.group?.description === String(FIRST) && jobLabels(d.rows).length >= 10 ? d : undefined;
      },
      { timeout: 20_000, message: `Done with ${FIRST} jobs and its rows` },
      () => done(),
    );
    before2 = jobLabels(shown.rows).slice(0, 10);
    assert.equal(before2[0], `/p/${FIRST - 1}`, 'the newest first');
    assert.ok(!shown.rows.some((r) => NEWER.test(r.label)), 'nothing is newer yet');
  });

  step('2. while a second crawl runs, the rows stay put under the pointer, the count moves and a row counts the newer jobs', async () => {
    // The pointer rests on a row, as a user reading it would.
    await jobs
      .locator('.monaco-list-row[role="treeitem"]')
      .filter({ has: page.locator('.label-name').filter({ hasText: before2[2] }) })
      .first()
      .hover();
    const { crawlId: secondId } = (await crawlctl(stateDir, 'crawl', path.join(workspace, 'second.crawl'))) as { crawlId: string };
    const counts = new Set<string>();
    const newer = new Set<number>();
    let photographed = false;
    let samples = 0;
    for (;;) {
      const finished = crawlOf(await crawlctl(stateDir, 'crawls'), secondId)?.state === 'finished';
      const d = await done();
      assert.deepEqual(jobLabels(d.rows).slice(0, 10), before2, `the rows loaded stay as they were (sample ${samples})`);
      if (d.group) counts.add(d.group.description);
      const n = d.rows.map((r) => NEWER.exec(r.label)).find((m) => m !== null);
      if (n) {
        assert.equal(d.rows[0].label, n[0], 'the count of newer jobs heads the rows');
        newer.add(Number(n[1].replace(/,/g, '')));
        if (!photographed && newer.size > 2) {
          await vscode!.screenshot('newer-1-crawl-running');
          photographed = true;
        }
      }
      samples++;
      if (finished) break;
      await sleep(250);
    }
    assert.ok(counts.size > 2, `the Done count moved while the crawl ran: ${[...counts].join(', ')}`);
    assert.ok(newer.size > 2, `the newer count moved while the crawl ran: ${[...newer].join(', ')}`);
    // Caught up: the count and the newer row agree with the queue.
    await until(
      async () => {
        const d = await done();
        return d.group?.description === String(FIRST + SECOND) && d.rows[0]?.label === `${SECOND} newer — show newest`;
      },
      { timeout: 15_000, message: 'the Done count and the newer row to catch up' },
      () => done(),
    );
    await vscode!.screenshot('newer-2-crawl-finished');
  });

  step('3. "show newest" lists the newest jobs first, with nothing newer', async () => {
    await vscode!.clickTreeItem(NEWER, { view: 'Jobs' });
    const shown = await until(
      async () => {
        const d = await done();
        return jobLabels(d.rows)[0] === `/p/${FIRST + SECOND - 1}` ? d : undefined;
      },
      { timeout: 15_000, message: 'the newest Done rows' },
      () => done(),
    );
    assert.ok(!shown.rows.some((r) => NEWER.test(r.label)), 'nothing is newer');
    await vscode!.screenshot('newer-3-newest-shown');
  });

  step('4. a requeued row leaves Done, the others staying put; done again, it is back in its place', async () => {
    // The scheduler paused, the requeued job waits in Queued, where its row is seen to go.
    await crawlctl(stateDir, 'pause');
    const rows = jobLabels((await done()).rows).slice(0, 6);
    const target = rows[1];
    await vscode!.contextMenu(target, 'Requeue Job', { view: 'Jobs' });
    await until(
      async () => {
        const d = await done();
        return d.group?.description === String(FIRST + SECOND - 1) && !jobLabels(d.rows).includes(target);
      },
      { timeout: 15_000, message: `${target} to leave Done` },
      () => done(),
    );
    assert.deepEqual(
      jobLabels((await done()).rows).slice(0, 5),
      rows.filter((r) => r !== target),
    );
    await crawlctl(stateDir, 'resume');
    // Requeued from the view, it is followed: done again, it is listed in its place, not counted as newer.
    await until(
      async () => {
        const d = await done();
        return d.group?.description === String(FIRST + SECOND) && JSON.stringify(jobLabels(d.rows).slice(0, 6)) === JSON.stringify(rows);
      },
      { timeout: 15_000, message: 'the requeued job done again, back in its place' },
      () => done(),
    );
    assert.ok(!(await done()).rows.some((r) => NEWER.test(r.label)), 'nothing counted as newer');
    await vscode!.screenshot('newer-4-requeued');
  });
});
