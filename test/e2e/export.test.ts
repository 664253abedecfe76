// Export Crawl Results and the job document's page section, end to end: a crawl of the test site
// (started with crawlctl on the extension's own daemon), exported as CSV from the palette through
// its quick picks and code-server's save dialog (a quick input holding the path), its links as JSON
// Lines from the crawl's row in the Jobs view, then a page's job document: its "Found on" line, whose
// link opens the job of the page it was found on. Screenshots go to test/e2e/artifacts/export-*.png.
//
// Run: npm run test:e2e (tsc -b, npm run package, node --test out/test/e2e).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { crawlctl, crawlOf } from './crawlctl';
import { packagedVsix, start, type CodeServerSession } from './harness';
import { story } from './story';
import { startTestSite, type TestSite } from './site';
import { escapeRegExp, paletteCommand, quickInputBox, quickInputRow, quickInputTitled, sleep, until, waitForJobPage } from './workbench';

/** What `npm run package` made (E2E_VSIX: another build), found when the suite starts. */
let VSIX = '';
const EXTENSION_ID = 'crawl-orchestrator.crawl-orchestrator';
const STATUS_ITEM_ID = `${EXTENSION_ID}.crawlOrchestrator.status`;
const CRAWL_NAME = 'e2e-export';
const EXPORT_TITLE = 'Crawl Orchestrator: Export Crawl Results...';

describe("Export Crawl Results and the job document's page, in code-server", { timeout: 5 * 60_000 }, () => {
  let site: TestSite;
  let workspace: string;
  let stateDir: string;
  let vscode: CodeServerSession | undefined;
  let page: Page;
  let crawlId: string;

  const steps = story('export', 120_000, () => vscode);
  const { step } = steps;

  before(async () => {
    VSIX = packagedVsix();
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run \`npm run package\` first`);
    // Not crawl.test.ts's addresses, so the two never meet in logs.
    site = await startTestSite({ addresses: ['127.0.0.31', '127.0.0.32'], slowMs: 300 });
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-export-ws-'));
    stateDir = path.join(workspace, '.crawl');
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(path.join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'crawlOrchestrator.maxWorkers': 2 }, null, 2));
    // What activates the extension (workspaceContains:**/*.crawl).
    fs.writeFileSync(path.join(workspace, 'seeds.crawl'), `# activates the extension\n${site.a}/a\n`);
  });

  after(async () => {
    const failed = await steps.end(workspace);
    await site?.close();
    if (workspace && !failed) fs.rmSync(workspace, { recursive: true, force: true });
  });

  step("1. a crawl of the test site, run by the extension's daemon", async () => {
    vscode = await start({ workspace, extensions: [VSIX], settings: { 'files.simpleDialog.enable': true } });
    page = vscode.page;
    await vscode.waitForActivation(EXTENSION_ID, { timeout: 60_000 });
    await until(async () => /running/.test((await vscode!.statusBarText({ id: STATUS_ITEM_ID })) ?? ''), { timeout: 60_000, message: 'the daemon to run' });
    const started = (await crawlctl(stateDir, 'crawl', site.seed, '--name', CRAWL_NAME, '--max-depth', '2', '--scope', 'any')) as { crawlId: string };
    crawlId = started.crawlId;
    await until(async () => crawlOf(await crawlctl(stateDir, 'crawls'), crawlId)?.state === 'finished', { timeout: 60_000, message: 'the crawl to finish' });
  });

  step('2. Export Crawl Results from the palette: which crawl, Pages, CSV, the save dialog; the file has a row per page', async () => {
    await paletteCommand(page, EXPORT_TITLE);
    await quickInputTitled(page, 'Export Crawl Results');
    const crawlRow = quickInputRow(page, `${CRAWL_NAME} (${crawlId})`);
    await crawlRow.first().waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await crawlRow.first().innerText(), /finished · \d+\/\d+ finished/);
    await crawlRow.first().click();

    await quickInputTitled(page, `Export Crawl Results (1/3): ${CRAWL_NAME} (${crawlId})`);
    await quickInputRow(page, 'Pages').first().click();
    await quickInputTitled(page, 'Export Crawl Results (2/3)');
    await quickInputRow(page, 'CSV').first().click();

    // code-server's save dialog: a quick input with the path, in the workspace folder.
    const file = path.join(workspace, `${CRAWL_NAME}-pages.csv`);
    const box = quickInputBox(page);
    await until(
      async () => (await box.inputValue().catch(() => '')).endsWith(`${CRAWL_NAME}-pages.csv`),
      { timeout: 15_000, message: 'the save dialog with the default file name' },
      async () => ({ value: await box.inputValue().catch(() => '') }),
    );
    assert.equal(path.resolve(await box.inputValue()), file);
    await vscode!.screenshot('export-1-save-dialog');
    await box.press('Enter');

    const note = await until(async () => (await vscode!.notifications()).find((n) => /^Exported /.test(n)), {
      timeout: 30_000,
      message: 'the "Exported ..." notification',
    });
    const rows = parseCsv(fs.readFileSync(file, 'utf8'));
    // Every URL the crawl met: fetched, failed (the 404) or skipped (robots.txt).
    const expected = ['/', '/a', '/b', '/slow', '/missing', '/private/report'].map((p) => `${site.a}${p}`).concat(`${site.b}/`, `${site.b}/b1`);
    assert.equal(note, `Exported ${expected.length} pages to ${CRAWL_NAME}-pages.csv`);
    assert.deepEqual(
      rows
        .slice(1)
        .map((r) => r[0])
        .sort(),
      expected.sort(),
      'a row per page',
    );
    const header = rows[0];
    assert.deepEqual(header.slice(0, 7), ['url', 'jobId', 'finalUrl', 'redirects', 'status', 'error', 'skipped']);
    const byUrl = new Map(rows.slice(1).map((r) => [r[0], Object.fromEntries(header.map((h, i) => [h, r[i]]))]));
    assert.equal(byUrl.get(`${site.a}/`)?.title, 'Site A');
    assert.equal(byUrl.get(`${site.a}/`)?.status, '200');
    assert.equal(byUrl.get(`${site.a}/`)?.foundOn, '');
    assert.equal(byUrl.get(`${site.a}/a`)?.foundOn, `${site.a}/`);
    assert.equal(byUrl.get(`${site.a}/missing`)?.status, '404');
    assert.equal(byUrl.get(`${site.b}/b1`)?.depth, '2');
    assert.equal(byUrl.get(`${site.a}/private/report`)?.skipped, 'true');
    assert.ok(!fs.existsSync(`${file}.part`), 'no partial file is left');
    await vscode!.screenshot('export-2-exported');
    await vscode!.runCommand('Notifications: Clear All Notifications');
  });

  step("3. Export Crawl Results from the crawl's row in the Jobs view: Links as JSON Lines", async () => {
    await vscode!.openView('Jobs');
    await paletteCommand(page, 'Crawl Orchestrator: Group By...');
    await quickInputTitled(page, 'Group Jobs By');
    await quickInputRow(page, 'Crawl').first().click();
    await vscode!.treeItem(CRAWL_NAME, { view: 'Jobs' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    // A row clicked while the view reads its rows again reaches the command without its element
    // (VS Code resolves it by handle), which then asks which crawl: let the view settle, and try
    // once more should it have been read again at that very moment.
    await sleep(1_500);
    const first = `Export Crawl Results (1/3): ${CRAWL_NAME} (${crawlId})`;
    for (let attempt = 1; ; attempt++) {
      await vscode!.contextMenu(CRAWL_NAME, 'Export Crawl Results...', { view: 'Jobs', timeout: 20_000 });
      const title = page.locator('.quick-input-widget .quick-input-title');
      const shown = await until(
        async () => {
          const t = (await title.innerText().catch(() => '')).trim();
          return t.startsWith('Export Crawl Results') ? t : undefined;
        },
        { timeout: 15_000, message: "the export's first question" },
      );
      if (shown === first) break;
      assert.ok(attempt < 2, `the crawl row's menu asked "${shown}" twice instead of starting at "${first}"`);
      await page.keyboard.press('Escape');
      await sleep(1_500);
    }
    await quickInputRow(page, 'Links').first().click();
    await quickInputTitled(page, 'Export Crawl Results (2/3)');
    await quickInputRow(page, 'JSON Lines').first().click();
    const file = path.join(workspace, `${CRAWL_NAME}-links.jsonl`);
    const box = quickInputBox(page);
    await until(async () => (await box.inputValue().catch(() => '')).endsWith(`${CRAWL_NAME}-links.jsonl`), { timeout: 15_000, message: 'the save dialog' });
    await box.press('Enter');
    const note = await until(async () => (await vscode!.notifications()).find((n) => /^Exported /.test(n)), {
      timeout: 30_000,
      message: 'the "Exported ..." notification',
    });
    const links = fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { from: string; to: string; text: string; followed: boolean; reason: string | null });
    assert.equal(note, `Exported ${links.length} links to ${CRAWL_NAME}-links.jsonl`);
    assert.deepEqual(
      links
        .filter((l) => l.from === `${site.a}/`)
        .map((l) => l.to)
        .sort(),
      ['/a', '/b', '/slow', '/missing', '/private/report']
        .map((p) => `${site.a}${p}`)
        .concat(`${site.b}/`)
        .sort(),
    );
    for (const l of links) assert.equal(l.followed, l.reason === null, JSON.stringify(l));
    await vscode!.runCommand('Notifications: Clear All Notifications');
  });

  step('4. a page\'s job document: its page section, and "found on" opens the job of the page it was found on', async () => {
    const jobs = ((await crawlctl(stateDir, 'jobs', '--crawl', crawlId, '--all')) as { jobs: { id: number; url: string }[] }).jobs;
    const jobA = jobs.find((j) => j.url === `${site.a}/a`)!;
    const home = jobs.find((j) => j.url === `${site.a}/`)!;
    await paletteCommand(page, 'Crawl Orchestrator: Show Job Details');
    await quickInputBox(page).fill(String(jobA.id));
    await quickInputRow(page, `Job ${jobA.id}`)
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 })
      .catch(() => undefined);
    await quickInputBox(page).press('Enter');
    await page
      .locator('.tabs-container .tab.active .label-name')
      .filter({ hasText: `Job ${jobA.id}` })
      .waitFor({ state: 'visible', timeout: 15_000 });
    // Rendered, not Markdown source: a heading, tables and lists, no pipes or hashes.
    const shown = await waitForJobPage(page, (t) => t.startsWith(`Job ${jobA.id}: Done`), 'the job page');
    const { frame, text } = shown;
    assert.equal((await frame.locator('h1').innerText()).trim(), `Job ${jobA.id}: Done`);
    assert.ok((await frame.locator('table').count()) > 0, 'its record is a table');
    assert.doesNotMatch(text, /^(#|\|)/m, `no Markdown source in:\n${text}`);
    assert.match(text, new RegExp(`^found on: ${escapeRegExp(`${site.a}/`)} \\(job ${home.id}\\), link text “/a”$`, 'm'));
    assert.match(text, /^Page$/m);
    assert.match(text, /^title: Page A$/m);
    assert.match(text, /^depth: 1$/m);
    assert.match(text, /^Links to this page \(\d+\)$/m);
    assert.ok(text.split('\n').includes(`${site.a}/ “/a”`), text);
    assert.match(text, /^Links on this page \(2: 2 followed\)$/m);

    // The page section in view, for the screenshot.
    const link = frame
      .locator('a')
      .filter({ hasText: new RegExp(`^${escapeRegExp(`${site.a}/`)}$`) })
      .and(frame.locator('a[href^="command:"]'));
    assert.equal(await link.count(), 1, 'the found-on page is a link to its job');
    await link.scrollIntoViewIfNeeded();
    await vscode!.screenshot('export-3-job-document-page');

    // A click on the link opens the job of the page it was found on, in the same panel.
    await link.click();
    await page
      .locator('.tabs-container .tab.active .label-name')
      .filter({ hasText: `Job ${home.id}` })
      .waitFor({ state: 'visible', timeout: 15_000 });
    const homePage = await waitForJobPage(page, (t) => t.startsWith(`Job ${home.id}: Done`), "the found-on page's job page");
    assert.match(homePage.text, /^found on: — \(a seed\)$/m);
    await vscode!.screenshot('export-4-found-on-opened');
  });
  step('5. Group By Failure Reason: the 404 listed under its reason with its count, and the reason opens onto its job', async () => {
    await vscode!.openView('Jobs');
    await paletteCommand(page, 'Crawl Orchestrator: Group By...');
    await quickInputTitled(page, 'Group Jobs By');
    await quickInputRow(page, 'Failure Reason').first().click();
    const reason = vscode!.treeItem('HTTP 404', { view: 'Jobs' }).first();
    await reason.waitFor({ state: 'visible', timeout: 15_000 });
    assert.equal((await reason.locator('.label-description').innerText()).trim(), '1', 'one job failed with it');
    await reason.click();
    const missing = vscode!.treeItem('/missing', { view: 'Jobs' }).first();
    await missing.waitFor({ state: 'visible', timeout: 15_000 });
    // Its row opens its job's details, rendered beside the view.
    await missing.click();
    const failed = await waitForJobPage(page, (t) => /^Job \d+: Error\n/.test(t) && t.includes(`${site.a}/missing`), "the 404's job page");
    assert.ok((await failed.frame.locator('table').count()) > 0, 'rendered: its record is a table');
    assert.match(failed.text, /^last error\tHTTP 404$/m);
    await vscode!.screenshot('export-5-jobs-by-reason');
  });
});

/** An RFC 4180 reader (CRLF rows, quoted fields with doubled quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}
