// The extension end to end, as a user meets it: the packaged .vsix installed
// into code-server, driven in headless Chromium, crawling a test site on
// loopback addresses. One code-server session runs the steps in order; each
// step saves a screenshot under test/e2e/artifacts/ and a failed step skips
// the ones after it (they build on it), keeps the session's logs and prints
// where they are.
//
// Run: npm run test:e2e (tsc -b, npm run package, node --test out/test/e2e).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { promisify } from 'node:util';
import type { Locator, Page } from 'playwright-core';
import { packagedVsix, REPO_ROOT, start, type CodeServerSession } from './harness';
import { EXPECTED_FIRST_CRAWL, startTestSite, type TestSite } from './site';
import {
  activityBadge,
  codeLens,
  expandRow,
  paletteCommand,
  quickInputBox,
  quickInputMessage,
  quickInputRow,
  quickInputTitled,
  escapeRegExp,
  sleep,
  treeRows,
  until,
  viewPane,
  waitForEditorLines,
  waitForJobPage,
} from './workbench';

/** What `npm run package` made (E2E_VSIX: another build), found when the suite starts. */
let VSIX = '';
const CRAWLCTL = path.join(REPO_ROOT, 'bin', 'crawlctl.js');
const EXTENSION_ID = 'crawl-orchestrator.crawl-orchestrator';
/** `<publisher>.<name>.<id given to createStatusBarItem>` (client/src/statusBar.ts). */
const STATUS_ITEM_ID = `${EXTENSION_ID}.crawlOrchestrator.status`;
const LEASE_TTL_SECONDS = 4;
const USER_AGENT = 'crawl-orchestrator-e2e/1.0';

const STATE_GROUPS = { Queued: 'queued', 'In progress': 'in_progress', Done: 'done', Skipped: 'skipped', Error: 'error' } as const;
type Counts = Record<(typeof STATE_GROUPS)[keyof typeof STATE_GROUPS], number>;

const execFileP = promisify(execFile);

describe('Crawl Orchestrator in a real VS Code (code-server)', { timeout: 5 * 60_000 }, () => {
  let site: TestSite;
  let workspace: string;
  let stateDir: string;
  let vscode: CodeServerSession | undefined;
  let page: Page;
  /** The step that failed or did not finish: later steps build on it and are skipped. */
  let broken: string | undefined;
  let sessionUp = false;
  const begun = Date.now();
  let recorder: StatusRecorder;
  let crawlId: string;
  let failedJobId: number;

  // --- steps ------------------------------------------------------------------------------

  /**
   * A step of the walk-through. Each builds on the one before, so after a failure the rest are
   * skipped; `standalone` steps need only a running session (step 1).
   */
  function step(name: string, fn: () => Promise<void>, opts: { timeout?: number; standalone?: boolean } = {}): void {
    it(name, { timeout: opts.timeout ?? 120_000 }, async (t) => {
      if (opts.standalone ? !sessionUp : broken !== undefined) return t.skip(`"${broken ?? 'step 1'}" failed`);
      const t0 = Date.now();
      const previous = broken;
      broken = name;
      try {
        await fn();
      } catch (err) {
        await vscode?.screenshot(`failed-${name.slice(0, 1)}`).catch(() => undefined);
        throw err;
      }
      broken = previous;
      t.diagnostic(`${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }

  before(async () => {
    VSIX = packagedVsix();
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run \`npm run package\` first`);
    recorder = new StatusRecorder();
    site = await startTestSite();
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-crawl-ws-'));
    stateDir = path.join(workspace, '.crawl');
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify(
        {
          'crawlOrchestrator.maxWorkers': 2,
          'crawlOrchestrator.perHostLimit': 2,
          // Shorter than /slow takes: only heartbeats keep its lease.
          'crawlOrchestrator.leaseTtlSeconds': LEASE_TTL_SECONDS,
          'crawlOrchestrator.heartbeatSeconds': 1,
          'crawlOrchestrator.defaultMaxDepth': 2,
          // Not the built-in default: seed files must get it from the daemon's flags (step 8).
          'crawlOrchestrator.defaultScope': 'domain',
          'crawlOrchestrator.userAgent': USER_AGENT,
        },
        null,
        2,
      ),
    );
    fs.writeFileSync(path.join(workspace, 'scrape.mjs'), 'export default (page) => ({ data: { path: new URL(page.url).pathname } });\n');
    // Also what activates the extension (workspaceContains:**/*.crawl).
    fs.writeFileSync(
      path.join(workspace, 'seeds.crawl'),
      [
        '# Seeds for the end-to-end test',
        'name: e2e-seeds',
        'max-depth: 0',
        'extract.heading: h1',
        'extract.links[]: li a @href',
        // Run by the daemon the extension started, on its handler threads (the .vsix ships them).
        'handler: ./scrape.mjs',
        '',
        `${site.a}/a`,
        `${site.a}/gone`,
        'not-a-url',
        `${site.b}/b1`,
        // Slow: the crawl runs long enough for its lens to be seen, paused and resumed.
        `${site.a}/slow`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await recorder?.stop();
    const failed = broken !== undefined;
    if (vscode) {
      if (failed) report(vscode, workspace);
      await vscode.stop({ keepTemp: failed });
    }
    await site?.close();
    if (workspace && !failed) fs.rmSync(workspace, { recursive: true, force: true });
    console.log(
      `e2e suite: ${((Date.now() - begun) / 1000).toFixed(1)} s in all${vscode ? `; code-server ready in ${(vscode.timings.extensionHostReadyMs / 1000).toFixed(1)} s` : ''}`,
    );
  });

  step('1. installs the .vsix, activates on the workspace and starts the daemon', async () => {
    vscode = await start({ workspace, extensions: [VSIX] });
    page = vscode.page;
    await vscode.waitForActivation(EXTENSION_ID, { timeout: 60_000 });

    // Running, on an empty queue: the status bar says so ...
    const text = await until(
      async () => {
        const t = await vscode!.statusBarText({ id: STATUS_ITEM_ID });
        return t !== undefined && /running/.test(t) ? t : undefined;
      },
      { timeout: 60_000, message: 'the status bar item to show the running daemon' },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; status bar item: ${JSON.stringify(await vscode!.statusBarText({ id: STATUS_ITEM_ID }))}`);
    });
    assert.equal(text, '0 running · 0 queued · 0 failed');
    assert.equal(
      await vscode.statusBarItem({ id: STATUS_ITEM_ID }).first().getAttribute('aria-label'),
      'Crawl Orchestrator status: 0 running, 0 queued, 0 failed',
    );
    // ... the Jobs view welcomes with Start Crawl ...
    await vscode.openView('Jobs');
    const welcome = jobsPane(page).locator('.welcome-view-content');
    await welcome.filter({ hasText: 'The queue is empty.' }).waitFor({ state: 'visible', timeout: 20_000 });
    await welcome
      .locator('.monaco-button')
      .filter({ hasText: /^Start Crawl$/ })
      .waitFor({ state: 'visible' });
    // ... and crawlctl reaches the very daemon the extension started.
    assert.ok(fs.existsSync(path.join(stateDir, 'crawld.sock')), `no socket in ${stateDir}`);
    assert.deepEqual(countsOf(await crawlctl(stateDir, 'stats')), { queued: 0, in_progress: 0, done: 0, skipped: 0, error: 0 });
    await vscode.screenshot('1-activated');
    sessionUp = true;
  });

  step('2. Start Crawl from the command palette asks for seeds, scope and depth', async () => {
    await recorder.start(vscode!);
    await paletteCommand(page, 'Crawl Orchestrator: Start Crawl');
    await quickInputTitled(page, 'Start Crawl (1/3): seed URLs');
    const box = quickInputBox(page);
    // Validated as typed: a bad URL is refused, a good one counted.
    await box.fill('example.com/no-scheme');
    await quickInputMessage(page, /not an absolute URL/);
    await box.fill(site.seed);
    await quickInputMessage(page, /^1 URL$/);
    await vscode!.screenshot('2-start-crawl-seed-input');
    await box.press('Enter');

    await quickInputTitled(page, 'Start Crawl (2/3): scope');
    // Each row's first .label-name is its label (the detail line has one too).
    const rows = await page
      .locator('.quick-input-widget .monaco-list-row')
      .evaluateAll((els) => els.map((el) => el.querySelector<HTMLElement>('.label-name')?.innerText.trim()));
    assert.deepEqual(rows, ['domain', 'host', 'any'], 'scope choices, crawlOrchestrator.defaultScope (domain) first');
    await box.fill('any');
    await quickInputRow(page, 'any').and(page.locator('.focused')).waitFor({ state: 'visible', timeout: 10_000 });
    await box.press('Enter');

    await quickInputTitled(page, 'Start Crawl (3/3): max depth');
    assert.equal(await box.inputValue(), '2', 'the suggested depth is crawlOrchestrator.defaultMaxDepth from the workspace settings');
    await box.fill('2');
    await box.press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });

    const note = await until(async () => (await vscode!.notifications()).find((n) => /^Crawl c_\w+ started/.test(n)), {
      timeout: 20_000,
      message: 'the "Crawl ... started" notification',
    });
    assert.match(note, /^Crawl (c_\w+) started: 1 of 1 seed enqueued\.$/);
    crawlId = /^Crawl (c_\w+)/.exec(note)![1]!;
    // The view leaves its welcome for the state groups.
    await until(async () => (await treeRows(jobsPane(page))).some((r) => r.level === 1), {
      timeout: 10_000,
      message: 'the Jobs view to list the state groups',
    });
    await vscode!.screenshot('2-crawl-started');
  });

  step("3. the status bar counts move, and the Jobs view shows the slow page's lease", async () => {
    // The slow page holds a worker for seconds: the item spins and counts it.
    await until(
      () => recorder.samples.some((s) => s.running >= 1 && s.spinning),
      {
        timeout: 30_000,
        message: 'the status bar to count a running job, spinning',
      },
      () => ({ seen: recorder.samples }),
    );
    // The view, open since step 1, fills as the crawl runs; the slow page's row carries its lease.
    const slow = jobRow(page, `${site.a}/slow`);
    const description = await until(
      async () => {
        const row = (await jobRows(page)).find((r) => r.url === `${site.a}/slow` && r.state === 'In progress');
        return row && /lease \d+ s left/.test(row.description) ? row.description : undefined;
      },
      { timeout: site.slowMs, message: "the running /slow job's row with its lease" },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; rows: ${JSON.stringify(await jobRows(page).catch(() => []))}`);
    });
    const leaseLeft = Number(/lease (\d+) s left/.exec(description)![1]);
    assert.ok(leaseLeft <= LEASE_TTL_SECONDS, `the lease follows crawlOrchestrator.leaseTtlSeconds (${LEASE_TTL_SECONDS}): "${description}"`);
    assert.match(description, /^127\.0\.0\.21 · attempt 1 of 3 · lease \d+ s left$/);
    // Its tooltip, resolved when hovered, tells the lease: worker, token age, expiry, heartbeat.
    // Hovered once the rest of the crawl is done: a hover starts on the pointer's arrival, and a
    // refresh of the view (it follows the daemon's notifications) may drop it before it shows,
    // as for a user, who then moves the mouse again: so does this.
    await until(
      () => recorder.last()?.text === '1 running · 0 queued · 1 failed',
      {
        timeout: site.slowMs,
        message: 'every page but /slow to be done',
      },
      () => ({ seen: recorder.texts() }),
    );
    const tooltip = page
      .locator('.monaco-hover, .workbench-hover')
      .filter({ hasText: /Lease:/ })
      .first();
    // Read while it shows: the row's "lease N s left" is redrawn each second, which can drop the
    // hover between its showing and its reading (2 runs in 10 waited 30 s for it here).
    const tip = (
      await until(
        async () => {
          await page.mouse.move(800, 500);
          await slow.first().hover({ timeout: 2_000 });
          const shown = await tooltip.waitFor({ state: 'visible', timeout: 2_500 }).then(
            () => true,
            () => false,
          );
          return shown ? tooltip.innerText({ timeout: 1_000 }).catch(() => undefined) : undefined;
        },
        { timeout: site.slowMs, interval: 0, message: "the running job's tooltip" },
      )
    ).replace(/\s+/g, ' ');
    assert.match(tip, /In progress · job \d+ · attempt 1 of 3 · crawl c_\w+ · depth 1/, tip);
    assert.match(tip, /Lease: worker \S+ · token age \d+ s · expires in \d+ s \(\d\d:\d\d:\d\d\) · last heartbeat (now|\d+ s ago)/, tip);
    assert.match(tip, /Recent events \(2 of 2, newest first\)/, tip);
    await vscode!.screenshot('3-running-with-lease');

    // Clicks on the row while it is redrawn each second (its lease): each opens the job, none fails
    // with "Actual command not found" (issue 16 bug 1: VS Code dropped a redrawn row's command
    // arguments; the rows' command now has none).
    let clicks = 0;
    for (let i = 0; i < 12 && /^1 running/.test(recorder.last()?.text ?? ''); i++) {
      if (
        await slow
          .first()
          .click({ timeout: 1_000 })
          .then(
            () => true,
            () => false,
          )
      )
        clicks++;
      await sleep(150 + 70 * i);
    }
    assert.ok(clicks >= 3, `the running row was clicked while redrawn (${clicks} clicks)`);
    await waitForJobPage(page, (t) => t.includes(`${site.a}/slow`), "/slow's job page, opened by those clicks");
    const lost = (await vscode!.notifications()).filter((n) => /command not found/i.test(n));
    assert.deepEqual(lost, [], 'no click lost its command');
    await vscode!.runCommand('View: Close All Editors');
    await page.mouse.move(0, 0);

    // The crawl ends with one failure: counts settle, the item turns to a warning.
    const final = '0 running · 0 queued · 1 failed';
    await until(
      () => recorder.last()?.text === final,
      {
        timeout: 60_000,
        message: `the status bar to read "${final}"`,
      },
      async () => ({ seen: recorder.texts(), crawlctl: await crawlctl(stateDir, 'stats') }),
    );
    await recorder.stop();
    const texts = recorder.texts();
    assert.equal(texts[0], '0 running · 0 queued · 0 failed', `the counts started from an empty queue: ${JSON.stringify(texts)}`);
    assert.ok(texts.length >= 3, `the counts moved through several values: ${JSON.stringify(texts)}`);
    assert.ok(!recorder.last()!.spinning, 'no spinning icon once nothing runs');
    assert.ok(recorder.last()!.warning, `a warning background once a job failed (classes: ${recorder.last()!.classes})`);
    assert.ok(
      recorder.samples.filter((s) => s.failed === 0).every((s) => !s.warning),
      'no warning background before any job failed',
    );
    assert.equal(
      await vscode!.statusBarItem({ id: STATUS_ITEM_ID }).first().getAttribute('aria-label'),
      'Crawl Orchestrator status: 0 running, 0 queued, 1 failed',
    );
    await vscode!.screenshot('3-status-bar-finished');
  });

  step("4. the Jobs view's groups match `crawlctl stats --json` on the same state folder", async () => {
    const stats = countsOf(await crawlctl(stateDir, 'stats'));
    assert.deepEqual(stats, EXPECTED_FIRST_CRAWL, 'the test site crawled to depth 2: 6 pages done, robots.txt skipped 1, the 404 failed');
    // The view refreshes from the daemon's notifications (debounced): wait until it caught up.
    const groups = await until(
      async () => {
        const g = await groupCounts(page);
        return JSON.stringify(g) === JSON.stringify(stats) ? g : undefined;
      },
      { timeout: 15_000, message: `the view's groups to equal crawlctl's ${JSON.stringify(stats)}` },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; the view shows ${JSON.stringify(await groupCounts(page).catch((e: Error) => e.message))}`);
    });
    assert.deepEqual(groups, stats);
    assert.equal(await activityBadge(page, 'Crawl Orchestrator'), '1', "the Jobs view's badge counts the failed job");

    // Every page is listed in its group: expand Done and Skipped.
    await expandRow(jobsPane(page), 'Done');
    await expandRow(jobsPane(page), 'Skipped');
    const rows = await until(
      async () => {
        const r = await jobRows(page);
        return r.filter((x) => x.state === 'Done').length === stats.done ? r : undefined;
      },
      { timeout: 15_000, message: "the Done group's rows" },
    );
    const byState = (state: string) =>
      rows
        .filter((r) => r.state === state)
        .map((r) => r.url)
        .sort();
    assert.deepEqual(byState('Done'), [`${site.a}/`, `${site.a}/a`, `${site.a}/b`, `${site.a}/slow`, `${site.b}/`, `${site.b}/b1`].sort());
    assert.deepEqual(byState('Skipped'), [`${site.a}/private/report`]);
    assert.deepEqual(byState('Error'), [`${site.a}/missing`]);
    for (const r of rows) assert.equal(r.group, r.state, `job ${r.id} (${r.url}) is listed under its own state's group`);
    const failed = rows.find((r) => r.state === 'Error')!;
    failedJobId = failed.id;
    assert.equal(failed.label, '/missing');

    // The slow page took longer than the lease TTL: heartbeats kept its one lease.
    const slowJob = rows.find((r) => r.url === `${site.a}/slow`)!;
    const { job, events } = (await crawlctl(stateDir, 'job', String(slowJob.id))) as { job: { state: string; attempts: number }; events: { type: string }[] };
    assert.equal(job.state, 'done');
    assert.equal(job.attempts, 1, `/slow (${site.slowMs} ms, lease TTL ${LEASE_TTL_SECONDS} s) was fetched once`);
    assert.deepEqual(
      events.map((e) => e.type),
      ['enqueued', 'leased', 'done'],
    );
    // crawlOrchestrator.userAgent reached the daemon: every request, robots.txt included, carried it.
    assert.deepEqual(site.userAgents(), [USER_AGENT]);
    await vscode!.screenshot('4-jobs-view');
  });

  step("5. Show Job Details opens the failed job's details, rendered", async () => {
    await vscode!.contextMenu('/missing', 'Show Job Details', { view: 'Jobs', timeout: 15_000 });
    const title = `Job ${failedJobId}`;
    await page.locator('.tabs-container .tab.active .label-name').filter({ hasText: title }).waitFor({ state: 'visible', timeout: 15_000 });
    const { frame, text } = await waitForJobPage(page, (t) => t.startsWith(`Job ${failedJobId}: Error`), 'the job page');
    await vscode!.screenshot('5-job-details');

    // Rendered: headings, tables and lists, not Markdown's pipes and dashes.
    assert.equal((await frame.locator('h1').innerText()).trim(), `Job ${failedJobId}: Error`);
    assert.doesNotMatch(text, /^(#|\||- )/m, `no Markdown source in:\n${text}`);
    assert.ok(text.split('\n').includes(`${site.a}/missing`), text);
    assert.match(text, /^state\terror$/m);
    assert.match(text, /^last error\tHTTP 404$/m);
    assert.match(text, /^status: 404$/m);
    assert.match(text, /^History \(3 events\)$/m);
    assert.match(text, /^[^\t\n]+\t\+[^\t\n]+\tenqueued\t*$/m);
    assert.match(text, /^Lease 1: attempt 1 of 3, worker \S+$/m);
    assert.match(text, /^[^\t\n]+\t\+[^\t\n]+\tleased\t\S+\tattempt 1\/3$/m);
    assert.match(text, /^[^\t\n]+\t\+[^\t\n]+\tfailed\t\S+\tHTTP 404 \(attempt 1\/3\)$/m);
  });

  step(
    "6. Show Crawl Report: broken links with the pages they were found on, the hosts and their limits, a count's jobs; a link opens its page's job",
    async () => {
      await vscode!.runCommand('Notifications: Clear All Notifications');
      await paletteCommand(page, 'Crawl Orchestrator: Show Crawl Report');
      await quickInputTitled(page, 'Show Crawl Report');
      await quickInputBox(page).fill(crawlId);
      await quickInputRow(page, crawlId).and(page.locator('.focused')).waitFor({ state: 'visible', timeout: 10_000 });
      await quickInputBox(page).press('Enter');
      // The page is a webview: an iframe in an iframe, under its own Content Security Policy.
      const report = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
      await report.locator('h1').filter({ hasText: crawlId }).waitFor({ state: 'visible', timeout: 20_000 });
      // It ended before the report opened: the chart draws its rate from its records (crawl/rates),
      // not a flat average, and says it in words (the chart is in the Tab order with them).
      const chart = report.locator('.chart[role="img"][tabindex="0"][aria-label^="Pages and failures per second. From "]');
      await chart.locator('canvas').first().waitFor({ state: 'attached', timeout: 10_000 });
      const summary = await report
        .locator('#rates ~ p.quiet')
        .filter({ hasText: /^From / })
        .innerText({ timeout: 10_000 });
      assert.match(summary, /at most \d+\.\d pages per second \(at \d\d:\d\d:\d\d\)/, summary);
      assert.equal(
        await report
          .locator('#rates ~ p.quiet')
          .filter({ hasText: /^Averaged/ })
          .count(),
        0,
        'no average stands in for the history',
      );
      const missing = report.locator('#broken ~ table tr').filter({ hasText: `${site.a}/missing` });
      await missing.first().waitFor({ state: 'visible', timeout: 10_000 });
      assert.match(await missing.first().innerText(), /HTTP 404/);
      const foundOn = missing
        .first()
        .locator('button.link')
        .filter({ hasText: new RegExp(`^${escapeRegExp(`${site.a}/`)}$`) });
      assert.equal(await foundOn.count(), 1, `the broken link names the page it was found on: ${await missing.first().innerText()}`);
      const hostRow = await report
        .locator('#hosts ~ table tr')
        .filter({ hasText: new URL(site.a).hostname })
        .first()
        .innerText();
      assert.match(hostRow, /ready|busy|delayed|backoff|blocked/, `a host row with its state: ${hostRow}`);
      // The host's limit is changed from its row, with the keyboard: Set Host Limit asks for the number, and the row shows it.
      const hostCells = report
        .locator('#hosts ~ table tr')
        .filter({ hasText: new URL(site.a).hostname })
        .first();
      const setLimit = hostCells.locator('button.link').filter({ hasText: 'Set limit…' });
      await setLimit.focus();
      await setLimit.press('Enter');
      await quickInputTitled(page, 'Set Host Limit');
      await quickInputBox(page).fill('3');
      await quickInputBox(page).press('Enter');
      await hostCells.filter({ hasText: /\/3\s*Set limit/ }).waitFor({ state: 'visible', timeout: 10_000 });
      const { hosts } = (await crawlctl(stateDir, 'hosts')) as { hosts: { host: string; limit: number }[] };
      assert.deepEqual(
        hosts.filter((h) => h.host.startsWith(new URL(site.a).hostname)).map((h) => h.limit),
        [3],
        JSON.stringify(hosts),
      );
      await vscode!.screenshot('6-crawl-report');
      // A count is a click away from its pages' jobs: HTTP 404 among the failures lists /missing's alone.
      await report.locator('#failures ~ table button.link').filter({ hasText: 'HTTP 404' }).click();
      await jobsPane(page)
        .locator('.message')
        .filter({ hasText: `Only 1 job with HTTP 404 in ${crawlId}` })
        .waitFor({ state: 'visible', timeout: 10_000 });
      // Jobs picked by id are listed flat, without groups.
      await until(
        async () => {
          const rows = await treeRows(jobsPane(page));
          return rows.length === 1 && rows[0].aria.startsWith(`Job ${failedJobId}, Error, ${site.a}/missing,`) ? rows : undefined;
        },
        { timeout: 10_000, message: 'the Jobs view to list /missing alone' },
        () => treeRows(jobsPane(page)),
      );
      await vscode!.screenshot('6-report-404-jobs');
      await vscode!.runCommand('Crawl Orchestrator: Clear Filter');
      // The found-on page's link, reached with the keyboard, opens that page's job.
      await foundOn.focus();
      await foundOn.press('Enter');
      await waitForJobPage(page, (t) => new RegExp(`^Job \\d+: Done\n+${escapeRegExp(`${site.a}/`)}\n`).test(t), "the found-on page's job page");
      // Back as step 5 left it: the failed job's page the only one open, for step 7 to watch.
      await vscode!.runCommand('View: Close All Editors');
      await vscode!.contextMenu('/missing', 'Show Job Details', { view: 'Jobs', timeout: 15_000 });
      await waitForJobPage(page, (text) => text.startsWith(`Job ${failedJobId}: Error`), "the failed job's page again");
    },
  );

  step("7. Requeue Job from the failed row's context menu runs it again, and it succeeds", async () => {
    assert.equal(site.hits(`${site.a}/missing`), 1);
    await vscode!.contextMenu('/missing', 'Requeue Job', { view: 'Jobs', timeout: 15_000 });
    await until(async () => (await vscode!.notifications()).includes('Requeued 1 job.'), {
      timeout: 15_000,
      message: 'the "Requeued 1 job." notification',
    });
    const final = '0 running · 0 queued · 0 failed';
    await until(async () => (await vscode!.statusBarText({ id: STATUS_ITEM_ID })) === final, {
      timeout: 30_000,
      message: `the status bar to read "${final}"`,
    });
    assert.equal(site.hits(`${site.a}/missing`), 2, 'the requeued job fetched the page again');
    const { job } = (await crawlctl(stateDir, 'job', String(failedJobId))) as { job: { state: string; result: { status: number } } };
    assert.equal(job.state, 'done');
    assert.equal(job.result.status, 200);

    const stats = countsOf(await crawlctl(stateDir, 'stats'));
    assert.deepEqual(stats, { queued: 0, in_progress: 0, done: 7, skipped: 1, error: 0 });
    await until(async () => JSON.stringify(await groupCounts(page)) === JSON.stringify(stats), {
      timeout: 15_000,
      message: `the view's groups to equal crawlctl's ${JSON.stringify(stats)}`,
    });
    await until(async () => (await jobRows(page)).some((r) => r.id === failedJobId && r.state === 'Done' && r.group === 'Done'), {
      timeout: 15_000,
      message: `job ${failedJobId} listed under Done`,
    });
    assert.equal(await activityBadge(page, 'Crawl Orchestrator'), undefined, 'no badge once nothing failed');
    // The open job page follows the job.
    const { text } = await waitForJobPage(page, (t) => t.startsWith(`Job ${failedJobId}: Done`), 'the job page to show the job done');
    await vscode!.screenshot('7-requeued-done');
    assert.match(text, /^[^\t\n]+\t\+[^\t\n]+\trequeued\t+was error$/m);
    assert.match(text, /^status: 200$/m);
    assert.match(text, /^title: Found on the second try$/m);
  });

  step('8. a .crawl seed file shows inline hints and diagnostics, and starts its crawl', async () => {
    await vscode!.runCommand('Notifications: Clear All Notifications');
    await vscode!.openFile('seeds.crawl');
    const urls = { a: `${site.a}/a`, gone: `${site.a}/gone`, b1: `${site.b}/b1`, slow: `${site.a}/slow` };
    // Not started from this file yet: each URL's hint says so; the bad line has none.
    const lines = await waitForEditorLines(
      page,
      (l) => [urls.a, urls.gone, urls.b1, urls.slow].every((u) => l.includes(`${u} not crawled yet`)),
      "the seed file's hints",
    );
    assert.ok(lines.includes('not-a-url'), `the invalid line has no hint: ${JSON.stringify(lines)}`);
    await codeLens(page, /^▶ Start crawl \(4 URLs\)$/).waitFor({ state: 'visible', timeout: 15_000 });
    await page.locator('.part.editor .monaco-editor .squiggly-error').first().waitFor({ state: 'attached', timeout: 15_000 });

    await vscode!.openView('Problems');
    const problem = page.locator('.markers-panel .monaco-list-row').filter({ hasText: 'not-a-url: not a URL' });
    await problem.first().waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await problem.first().innerText(), /crawl/, 'the diagnostic comes from the crawl language server');
    await vscode!.screenshot('8-seed-file-hints');

    // Start Crawl with the seed file active takes its URLs and options (max-depth 0), no questions.
    await paletteCommand(page, 'Crawl Orchestrator: Start Crawl');
    const note = await until(async () => (await vscode!.notifications()).find((n) => /^Crawl e2e-seeds \(c_\w+\) started/.test(n)), {
      timeout: 20_000,
      message: 'the "Crawl ... started" notification',
    });
    assert.match(note, /^Crawl e2e-seeds \(c_\w+\) started: 4 of 4 seeds enqueued\. seeds\.crawl: 1 line with an error was left out\.$/);
    const seedCrawlId = /^Crawl e2e-seeds \((c_\w+)\)/.exec(note)![1];
    assert.notEqual(seedCrawlId, crawlId);
    // The file sets max-depth but no scope: the scope is crawlOrchestrator.defaultScope, passed to the daemon.
    const { crawls } = (await crawlctl(stateDir, 'crawls')) as { crawls: { crawlId: string; options: { maxDepth: number; scope: string } }[] };
    const seedCrawl = crawls.find((c) => c.crawlId === seedCrawlId);
    assert.deepEqual(seedCrawl && { maxDepth: seedCrawl.options.maxDepth, scope: seedCrawl.options.scope }, { maxDepth: 0, scope: 'domain' });

    // While it runs (the slow page holds it), the file's lens is the crawl's: its progress, pause and cancel.
    const running = codeLens(page, new RegExp(`^⟳ e2e-seeds \\(${seedCrawlId}\\): running · \\d+/4`));
    await running.waitFor({ state: 'visible', timeout: 15_000 });
    await codeLens(page, /^\s*Cancel$/).waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await codeLens(page, /^▶ Start crawl/).count(), 0, 'no second crawl offered while this one runs');
    await vscode!.screenshot('8-seed-file-running');
    await codeLens(page, /^\s*Pause$/).click();
    await codeLens(page, new RegExp(`^\\s*e2e-seeds \\(${seedCrawlId}\\): paused · `)).waitFor({ state: 'visible', timeout: 15_000 });
    const stateOf = async () =>
      ((await crawlctl(stateDir, 'crawls')) as { crawls: { crawlId: string; state: string }[] }).crawls.find((c) => c.crawlId === seedCrawlId)?.state;
    assert.equal(await stateOf(), 'paused');
    await codeLens(page, /^▶ Resume$/).waitFor({ state: 'visible', timeout: 5_000 });
    // Resumed from the palette this time: its picker offers the paused crawls, by "name (id)".
    await paletteCommand(page, 'Crawl Orchestrator: Resume Crawl');
    await quickInputTitled(page, 'Resume Crawl');
    await quickInputRow(page, `e2e-seeds (${seedCrawlId})`).waitFor({ state: 'visible', timeout: 10_000 });
    await quickInputBox(page).press('Enter');
    // Running again, or finished already if the slow page answered meanwhile.
    await until(
      async () => {
        const st = await stateOf();
        return st !== 'paused' ? st : undefined;
      },
      { timeout: 15_000, message: 'the crawl resumed' },
    );

    // Its report, from the lens, while the slow page holds it: read every two seconds, the chart draws its points.
    await codeLens(page, /^\s*Report$/).click();
    const report = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    await report
      .locator('h1')
      .filter({ hasText: `e2e-seeds (${seedCrawlId})` })
      .waitFor({ state: 'visible', timeout: 20_000 });
    await report.locator('.chart[aria-label^="Pages and failures per second."] canvas').first().waitFor({ state: 'attached', timeout: 20_000 });
    const gone = await report.locator('#broken ~ table tr').filter({ hasText: urls.gone }).first().innerText();
    assert.match(gone, /HTTP 410/);
    // Every worker of the database is listed with its state: this daemon's own, live.
    const mine = report.locator('#workers ~ table tr').filter({ hasText: '(this daemon)' }).first();
    assert.match(await mine.innerText(), /\blive\b/);
    await vscode!.screenshot('8-seed-crawl-report');
    await mine.scrollIntoViewIfNeeded();
    await vscode!.screenshot('8-seed-crawl-report-workers');
    // A theme switch redraws the chart in the new theme's colours (uPlot draws its axes once, on a canvas).
    await report
      .locator('.chart .uplot')
      .first()
      .evaluate((e) => e.setAttribute('data-theme-was', document.body.className));
    await paletteCommand(page, 'Preferences: Color Theme');
    await quickInputBox(page).fill('Dark Modern');
    await quickInputRow(page, 'Dark Modern').and(page.locator('.focused')).waitFor({ state: 'visible', timeout: 10_000 });
    await quickInputBox(page).press('Enter');
    await report.locator('.chart .uplot:not([data-theme-was])').first().waitFor({ state: 'attached', timeout: 10_000 });
    assert.match((await report.locator('body').getAttribute('class')) ?? '', /vscode-dark/);
    await vscode!.screenshot('8-seed-crawl-report-dark');
    await vscode!.runCommand('View: Close Editor');

    await waitForEditorLines(
      page,
      (l) =>
        l.some((x) => x.startsWith(`${urls.slow} ✓ done · 200 · `)) &&
        l.some((x) => x.startsWith(`${urls.a} ✓ done · 200 · `)) &&
        l.some((x) => x.startsWith(`${urls.b1} ✓ done · 200 · `)) &&
        l.includes(`${urls.gone} ✗ error · HTTP 410`),
      "the hints to show the crawl's outcome",
      30_000,
    );
    await page.locator('.markers-panel .monaco-list-row').filter({ hasText: 'HTTP 410' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    await codeLens(page, /^↻ Requeue failed \(1\)$/).waitFor({ state: 'visible', timeout: 15_000 });
    // The crawl's end goes out with its last job's change (daemon-notify.test.ts), but the editor
    // redraws lenses after a debounce of its own, longer than its hints': with the hints final the
    // lens still said "running · 3/4 · 1 failed", and was redrawn 332 ms later. The screenshot waits.
    await codeLens(page, /: running · /).waitFor({ state: 'detached', timeout: 15_000 });
    await vscode!.screenshot('8-seed-file-crawled');

    // A crawled URL's hover has its page's data: the file's extract fields.
    const lineA = page
      .locator('.part.editor .view-line')
      .filter({ hasText: `${urls.a} ✓ done` })
      .first();
    const dataHover = page.locator('.monaco-hover').filter({ hasText: 'Data:' }).first();
    const hovered = await until(
      async () => {
        await lineA.locator('span span').first().hover({ timeout: 2_000 });
        return (await dataHover.isVisible()) ? dataHover.innerText() : undefined;
      },
      { timeout: 20_000, message: 'the hover of a crawled URL with its data' },
    );
    assert.match(hovered, /heading\s+Page A/, hovered);
    assert.match(hovered, /links\s+\/ · \/b/, hovered);
    assert.match(hovered, /path\s+\/a/, "the handler's data beside the fields'");
    await vscode!.screenshot('8-seed-file-data-hover');
    await page.keyboard.press('Escape');

    // And its job document, opened from the crawl's report: a Data section.
    await codeLens(page, /^\s*Report$/).click();
    const again = page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
    const pageA = again
      .locator('#slowest ~ table button.link')
      .filter({ hasText: new RegExp(`^${escapeRegExp(urls.a)}$`) })
      .first();
    await pageA.waitFor({ state: 'visible', timeout: 20_000 });
    await pageA.click();
    const { frame, text: doc } = await waitForJobPage(page, (t) => t.split('\n').includes(urls.a) && /^Data$/m.test(t), 'the job page of /a');
    assert.match(doc, /^heading: “Page A”$/m);
    assert.match(doc, /^links \(2 matches\):\n“\/”\n“\/b”$/m);
    assert.match(doc, /^path: “\/a”$/m);
    // The screenshot shows the section.
    await frame
      .locator('h2')
      .filter({ hasText: /^Data$/ })
      .scrollIntoViewIfNeeded();
    await vscode!.screenshot('8-seed-page-data');
    await vscode!.runCommand('View: Close Editor');
    await vscode!.runCommand('View: Close Editor');
  });

  step('9. the daemon killed with SIGKILL: the client restarts it, and the status bar and Jobs view recover', async () => {
    const [before] = daemonProcesses(stateDir);
    assert.ok(before, `a daemon on ${stateDir}`);
    const stats = countsOf(await crawlctl(stateDir, 'stats'));
    const counts = `${stats.in_progress} running · ${stats.queued} queued · ${stats.error} failed`;
    await until(async () => (await vscode!.statusBarText({ id: STATUS_ITEM_ID })) === counts, {
      timeout: 15_000,
      message: `the status bar to read "${counts}"`,
    });
    const seenBefore = recorder.samples.length;
    await recorder.start(vscode!);

    process.kill(before.pid, 'SIGKILL');
    const after = await until(() => daemonProcesses(stateDir).find((p) => p.pid !== before.pid), {
      timeout: 30_000,
      interval: 250,
      message: 'the client to start a new daemon',
    });
    assert.equal(after.ppid, before.ppid, 'restarted by the same extension host');
    // The status bar said so meanwhile, then shows the counts again, read from the new daemon.
    await until(async () => (await vscode!.statusBarText({ id: STATUS_ITEM_ID })) === counts, {
      timeout: 30_000,
      message: `the status bar to read "${counts}" again`,
    });
    await recorder.stop();
    const meanwhile = recorder.samples.slice(seenBefore).map((x) => x.text);
    assert.ok(
      meanwhile.some((t) => /Crawl: (starting|connecting)/.test(t)),
      `the status bar showed the restart: ${JSON.stringify(meanwhile)}`,
    );
    // The daemon's log tells the restart in words, with no stray line (the client's flag, "false").
    const log = await until(
      () => {
        const text = daemonLog(vscode!);
        return /Server will restart\./.test(text) ? text : undefined;
      },
      { timeout: 15_000, message: 'the daemon log to tell the restart' },
    );
    assert.deepEqual(
      log.split('\n').filter((line) => /^(true|false)$/.test(line.trim())),
      [],
      log.split('\n').slice(-30).join('\n'),
    );
    // The view re-reads the new daemon (its rows are gone while the daemon starts).
    await until(async () => JSON.stringify(await groupCounts(page).catch(() => undefined)) === JSON.stringify(stats), {
      timeout: 15_000,
      message: `the Jobs view's groups to read ${JSON.stringify(stats)} again`,
    });

    // Live again: a crawl started now shows in the view by the new daemon's notifications alone.
    const { crawlId: again } = (await crawlctl(stateDir, 'crawl', `${site.b}/`, '--max-depth', '0')) as { crawlId: string };
    assert.ok(again);
    const expected = { ...stats, done: stats.done + 1 };
    await until(async () => JSON.stringify(await groupCounts(page).catch(() => undefined)) === JSON.stringify(expected), {
      timeout: 30_000,
      message: `the view's groups to reach ${JSON.stringify(expected)}`,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}; the view shows ${JSON.stringify(await groupCounts(page).catch((e: Error) => e.message))}`);
    });
    assert.deepEqual(countsOf(await crawlctl(stateDir, 'stats')), expected);
    await vscode!.screenshot('9-daemon-restarted');
  });

  step(
    '10. the daemon does not outlive its extension host',
    async () => {
      const daemons = daemonProcesses(stateDir);
      assert.equal(daemons.length, 1, `one daemon on ${stateDir}: ${JSON.stringify(daemons)}`);
      const daemon = daemons[0];
      const host = readProc(daemon.ppid);
      assert.match(host?.args ?? '', /--type=extensionHost/, `the daemon's parent is the extension host: ${JSON.stringify(host)}`);
      // The extension host crashes. The daemon watches it (--clientProcessId, polled every 3 s) and
      // should stop on its own, handing back its leases (it gets 1.5 s for running jobs).
      process.kill(daemon.ppid, 'SIGKILL');
      const cpuAtKill = daemon.cpuSeconds;
      try {
        await until(
          () => !isAlive(daemon.pid),
          { timeout: 15_000, interval: 250, message: `daemon ${daemon.pid} to exit after its extension host ${daemon.ppid} died` },
          () => {
            const now = readProc(daemon.pid);
            return now && { pid: now.pid, ppid: now.ppid, state: now.state, cpuSecondsSinceHostDied: +(now.cpuSeconds - cpuAtKill).toFixed(2) };
          },
        );
      } finally {
        // Ours to clean up: it was started by this test's code-server, and may be spinning.
        if (isAlive(daemon.pid)) process.kill(daemon.pid, 'SIGKILL');
      }
    },
    { standalone: true },
  );
});

// --- the status bar -----------------------------------------------------------------------

interface StatusSample {
  at: number;
  text: string;
  running: number;
  queued: number;
  failed: number;
  spinning: boolean;
  warning: boolean;
  classes: string;
}

/**
 * Records every rendering of the status bar item: an observer in the page notes each change to the
 * status bar as it happens (a restart's "starting" may last less than a poll), and the recorder
 * collects what it noted every 100 ms.
 */
class StatusRecorder {
  readonly samples: StatusSample[] = [];
  private running = false;
  private session: CodeServerSession | null = null;

  async start(session: CodeServerSession): Promise<void> {
    if (this.running) return;
    this.running = true;
    await session.page.evaluate((id) => {
      type Noted = { at: number; text: string; spinning: boolean; classes: string };
      const w = window as unknown as { __crawlStatus?: { noted: Noted[]; observer: MutationObserver } };
      w.__crawlStatus?.observer.disconnect();
      const noted: Noted[] = [];
      const note = () => {
        const el = document.querySelector<HTMLElement>(`.part.statusbar .statusbar-item[id=${JSON.stringify(id)}]`);
        if (!el) return;
        const s = { at: Date.now(), text: el.innerText.trim(), spinning: el.querySelector('.codicon-modifier-spin') !== null, classes: el.className };
        const last = noted[noted.length - 1];
        if (!last || last.text !== s.text || last.spinning !== s.spinning || last.classes !== s.classes) noted.push(s);
      };
      const observer = new MutationObserver(note);
      observer.observe(document.querySelector('.part.statusbar') ?? document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      note();
      w.__crawlStatus = { noted, observer };
    }, STATUS_ITEM_ID);
    this.session = session;
    void (async () => {
      while (this.running) {
        await this.collect();
        await sleep(100);
      }
    })();
  }

  /** What the page noted since the last collection. */
  private async collect(): Promise<void> {
    const noted = await this.session!.page.evaluate(
      () =>
        (window as unknown as { __crawlStatus?: { noted: { at: number; text: string; spinning: boolean; classes: string }[] } }).__crawlStatus?.noted.splice(
          0,
        ) ?? [],
    ).catch(() => []);
    for (const s of noted) this.add(s);
  }

  private add(s: { at: number; text: string; spinning: boolean; classes: string }): void {
    const m = /^(\d+) running · (\d+) queued · (\d+) failed$/.exec(s.text);
    const sample: StatusSample = {
      ...s,
      running: Number(m?.[1] ?? NaN),
      queued: Number(m?.[2] ?? NaN),
      failed: Number(m?.[3] ?? NaN),
      warning: /\bwarning-kind\b/.test(s.classes),
    };
    const last = this.last();
    if (!last || last.text !== sample.text || last.spinning !== sample.spinning || last.warning !== sample.warning) this.samples.push(sample);
  }

  /** Stops, with what the page noted up to now collected. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.session) await this.collect();
  }

  last(): StatusSample | undefined {
    return this.samples[this.samples.length - 1];
  }

  /** Distinct texts in the order seen. */
  texts(): string[] {
    return this.samples.map((s) => s.text).filter((t, i, all) => i === 0 || all[i - 1] !== t);
  }
}

// --- the Jobs view --------------------------------------------------------------------------

function jobsPane(page: Page): Locator {
  return viewPane(page, 'Jobs');
}

interface JobRow {
  id: number;
  /** The state the row says. */
  state: string;
  url: string;
  label: string;
  description: string;
  /** The group it is listed under. */
  group: string | undefined;
}

/** Counts by state as the view's groups show them (their descriptions). */
async function groupCounts(page: Page): Promise<Counts> {
  const rows = (await treeRows(jobsPane(page))).filter((r) => r.level === 1);
  const counts: Partial<Counts> = {};
  for (const r of rows) {
    const state = STATE_GROUPS[r.label as keyof typeof STATE_GROUPS];
    if (!state) throw new Error(`unexpected group row ${JSON.stringify(r)}`);
    counts[state] = Number(r.description.replace(/,/g, ''));
  }
  return { queued: counts.queued!, in_progress: counts.in_progress!, done: counts.done!, skipped: counts.skipped!, error: counts.error! };
}

/** Job rows, each with its group; the aria label reads "Job <id>, <State>, <url>, <description>". */
async function jobRows(page: Page): Promise<JobRow[]> {
  let group: string | undefined;
  const out: JobRow[] = [];
  for (const r of await treeRows(jobsPane(page))) {
    if (r.level === 1) {
      group = r.label;
      continue;
    }
    const m = /^Job (\d+), ([^,]+), (\S+), /.exec(r.aria);
    if (m) out.push({ id: Number(m[1]), state: m[2], url: m[3], label: r.label, description: r.description, group });
  }
  return out;
}

function jobRow(page: Page, url: string): Locator {
  return jobsPane(page).locator(`.monaco-list-row[role="treeitem"][aria-label*=${JSON.stringify(`, ${url}, `)}]`);
}

// --- crawlctl and diagnostics ---------------------------------------------------------------

/** `node bin/crawlctl.js <args> --json --state-dir <stateDir>`, its output parsed. */
async function crawlctl(stateDir: string, ...args: string[]): Promise<unknown> {
  const argv = [CRAWLCTL, ...args, '--json', '--state-dir', stateDir];
  try {
    const { stdout } = await execFileP(process.execPath, argv, { timeout: 30_000 });
    return JSON.parse(stdout);
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    throw new Error(`crawlctl ${args.join(' ')} failed (exit ${String(e.code)}): ${e.stderr || e.stdout || e.message}`);
  }
}

function countsOf(stats: unknown): Counts {
  const s = stats as Counts;
  return { queued: s.queued, in_progress: s.in_progress, done: s.done, skipped: s.skipped, error: s.error };
}

interface Proc {
  pid: number;
  ppid: number;
  state: string;
  cpuSeconds: number;
  args: string;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    // utime and stime, in clock ticks (100 a second on Linux).
    return { pid, ppid: Number(f[1]), state: f[0], cpuSeconds: (Number(f[11]) + Number(f[12])) / 100, args };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== undefined && p.state !== 'Z';
}

/** Daemons (the extension's bundled dist/server/daemon.js) running on `stateDir`. */
function daemonProcesses(stateDir: string): Proc[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map((e) => readProc(Number(e)))
    .filter((p): p is Proc => p !== undefined && p.state !== 'Z' && /dist\/server\/daemon\.js /.test(p.args) && p.args.includes(`--state-dir ${stateDir} `));
}

/** The Crawl Orchestrator output channel (the daemon's log) as VS Code wrote it to disk. */
function daemonLogFile(session: CodeServerSession): string | undefined {
  const logs = path.join(session.userDataDir, 'logs');
  const files = fs.existsSync(logs) ? fs.readdirSync(logs, { recursive: true, encoding: 'utf8' }) : [];
  const file = files.find((f) => f.endsWith('Crawl Orchestrator.log'));
  return file && path.join(logs, file);
}

function daemonLog(session: CodeServerSession): string {
  const file = daemonLogFile(session);
  return file ? fs.readFileSync(file, 'utf8') : '';
}

/** Says where to look after a failure: the logs are kept, and their tails printed. */
function report(session: CodeServerSession, workspace: string): void {
  const daemonLog = daemonLogFile(session);
  const tail = (file: string, n = 40) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n') : '(missing)');
  console.log(
    [
      `e2e: kept ${session.tempDir} and ${workspace}`,
      `--- code-server log (${session.logPath}):`,
      tail(session.logPath, 20),
      '--- extension host log:',
      session.extensionHostLog().split('\n').slice(-30).join('\n'),
      `--- daemon log (Crawl Orchestrator output channel${daemonLog ? `, ${daemonLog}` : ''}):`,
      daemonLog ? tail(daemonLog, 60) : '(none written)',
    ].join('\n'),
  );
}
