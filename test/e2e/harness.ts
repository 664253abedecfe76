// End-to-end harness: runs the extension in a real VS Code (code-server,
// provisioned by scripts/provision-e2e.sh) and drives it with Debian's
// headless Chromium through playwright-core: a session and its page helpers.
// code-server's processes are processes.ts's. Linux only.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { codeServerEnv, launchServer, removeOnExit, type ServerProcess } from './processes';

export const CHROMIUM_PATH = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// A test profile that opens straight into the workspace, never asks about
// trust, shows no welcome page or tips and never reaches for the network.
export const DEFAULT_SETTINGS: Readonly<Record<string, unknown>> = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.reduceMotion': 'on',
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'npm.fetchOnlinePackageInfo': false,
  'json.schemaDownload.enable': false,
  'typescript.disableAutomaticTypeAcquisition': true,
  'git.openRepositoryInParentFolders': 'never',
  // Headless Chromium exposes an accessibility tree, which would otherwise
  // raise the "screen reader optimized?" notification.
  'editor.accessibilitySupport': 'off',
};

export const REPO_ROOT = findRepoRoot(__dirname);
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test', 'e2e', 'artifacts');

/** E2E_VSIX, else the .vsix `npm run package` made for this machine, named in dist/target.json. */
export function packagedVsix(): string {
  if (process.env.E2E_VSIX) return path.resolve(process.env.E2E_VSIX);
  const info = path.join(REPO_ROOT, 'dist', 'target.json');
  if (!fs.existsSync(info)) throw new Error(`${info} is missing: run \`npm run package\` first`);
  return path.join(REPO_ROOT, (JSON.parse(fs.readFileSync(info, 'utf8')) as { vsix: string }).vsix);
}

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'provision-e2e.sh'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

/** Path of the provisioned code-server binary; throws with the fix when it is missing. */
export function locateCodeServer(): string {
  const home = process.env.E2E_HOME ?? path.join(REPO_ROOT, '.e2e');
  const bin = path.join(home, 'code-server', 'node_modules', '.bin', 'code-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`code-server is not provisioned (looked for ${bin}). ` + `Run \`bash scripts/provision-e2e.sh\` as root first.`);
  }
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing. Run \`bash scripts/provision-e2e.sh\` as root first.`);
  }
  return bin;
}

export interface WaitOptions {
  timeout?: number;
  interval?: number;
  /** Said in the timeout error, to tell what was awaited. */
  message?: string;
}

/** Polls `predicate` until it returns a truthy value, which is returned; a throw counts as not yet. */
export async function waitFor<T>(predicate: () => T | Promise<T>, { timeout = 10_000, interval = 100, message = 'condition' }: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${cause}`);
    }
    await sleep(interval);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Installs a .vsix with code-server's own installer into `extensionsDir`
 * (when omitted, a fresh temp folder, removed when the process exits) and
 * returns that folder, to pass to start() as `extensionsDir`.
 */
export async function installExtension(vsixPath: string, extensionsDir?: string): Promise<string> {
  const bin = locateCodeServer();
  let dir = extensionsDir;
  if (dir === undefined) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-ext-'));
    removeOnExit(dir);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-install-'));
  try {
    const args = ['--config', '/dev/null', '--user-data-dir', scratch, '--extensions-dir', dir, '--install-extension', path.resolve(vsixPath), '--force'];
    await promisify(execFile)(bin, args, { env: codeServerEnv(), timeout: 120_000 }).catch((err: { code?: unknown; stdout?: string; stderr?: string }) => {
      throw new Error(`installing ${vsixPath} failed (exit ${String(err.code)}):\n${err.stdout}${err.stderr}`);
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}

export interface StartOptions {
  /** Folder opened in the workbench. */
  workspace: string;
  /** Merged over DEFAULT_SETTINGS into the fresh profile's User/settings.json. */
  settings?: Record<string, unknown>;
  /** Added to code-server's environment, which the extension host inherits; undefined removes a variable. */
  env?: Record<string, string | undefined>;
  /** .vsix files installed into the fresh extensions dir before start. */
  extensions?: string[];
  /** Use this extensions dir (e.g. from installExtension) instead of a fresh one. */
  extensionsDir?: string;
  /** For code-server to answer, the workbench to render and the extension host to start; default 120 s. */
  timeout?: number;
  viewport?: { width: number; height: number };
}

export type StatusBarMatch = { id: string } | { ariaLabel: string | RegExp } | { text: string | RegExp } | { selector: string };

export interface TreeItemOptions {
  /** Title of the view holding the item, as shown in its header. */
  view?: string;
  timeout?: number;
}

export interface StopOptions {
  /** Keep the temp folder (profile, logs) for a post-mortem. Also set by E2E_KEEP_TEMP=1. */
  keepTemp?: boolean;
}

/** Milliseconds from start() until each stage was reached. */
export interface Timings {
  /** code-server answered on its port. */
  serverReadyMs: number;
  /** The workbench rendered in Chromium. */
  workbenchReadyMs: number;
  /** The extension host had activated its eager ("*") extensions. */
  extensionHostReadyMs: number;
}

export interface CodeServerSession {
  readonly page: Page;
  readonly browser: Browser;
  readonly url: string;
  readonly port: number;
  /** code-server's stdout and stderr. */
  readonly logPath: string;
  /** Holds the profile; VS Code's own logs (extension host included) are under logs/. */
  readonly userDataDir: string;
  readonly extensionsDir: string;
  readonly tempDir: string;
  readonly timings: Timings;
  /** Runs a command by its palette title, e.g. "Crawl: Start Daemon" (category included). */
  runCommand(title: string, opts?: { timeout?: number }): Promise<void>;
  /** Opens a workspace file through quick open, by its path relative to the workspace. */
  openFile(relativePath: string, opts?: { timeout?: number }): Promise<void>;
  /** Focuses a view by its title through the "view " quick access. */
  openView(title: string, opts?: { timeout?: number }): Promise<void>;
  statusBarItem(match: StatusBarMatch): Locator;
  /** Text of the first matching status bar item, or undefined when none is shown. */
  statusBarText(match: StatusBarMatch): Promise<string | undefined>;
  treeItem(label: string | RegExp, opts?: TreeItemOptions): Locator;
  clickTreeItem(label: string | RegExp, opts?: TreeItemOptions): Promise<void>;
  /** Right-clicks a tree item and picks `entry` from its context menu. */
  contextMenu(label: string | RegExp, entry: string | RegExp, opts?: TreeItemOptions): Promise<void>;
  /** The extension host's log so far (activations, and their errors). */
  extensionHostLog(): string;
  /**
   * Waits until the extension host begins activating `extensionId`
   * ("publisher.name"), then `settle` ms more (default 1000); throws if the
   * host logged that the activation failed by then. A later failure (a slow
   * async activate) shows only in extensionHostLog().
   */
  waitForActivation(extensionId: string, opts?: { timeout?: number; settle?: number }): Promise<void>;
  /** Messages of the notification toasts now shown. */
  notifications(): Promise<string[]>;
  /** Saves a PNG of the page into test/e2e/artifacts/ and returns its path. */
  screenshot(name: string): Promise<string>;
  waitFor<T>(predicate: () => T | Promise<T>, opts?: WaitOptions): Promise<T>;
  /** Closes the browser, kills code-server with all its descendants, removes the temp folder. */
  stop(opts?: StopOptions): Promise<void>;
}

export async function start(opts: StartOptions): Promise<CodeServerSession> {
  const begun = Date.now();
  const timeout = opts.timeout ?? 120_000;
  const bin = locateCodeServer();
  const workspace = path.resolve(opts.workspace);
  if (!fs.statSync(workspace).isDirectory()) throw new Error(`${workspace} is not a folder`);

  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-code-server-'));
  const userDataDir = path.join(tempDir, 'user-data');
  const extensionsDir = opts.extensionsDir ?? path.join(tempDir, 'extensions');
  const logPath = path.join(tempDir, 'code-server.log');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...DEFAULT_SETTINGS, ...opts.settings }, null, 2));

  let server: ServerProcess | undefined;
  let browser: Browser | undefined;
  try {
    for (const vsix of opts.extensions ?? []) await installExtension(vsix, extensionsDir);

    server = await launchServer(bin, { userDataDir, extensionsDir, logPath, env: opts.env, timeout });
    const serverReadyMs = Date.now() - begun;

    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1600, height: 1000 } });
    const page = await context.newPage();
    const url = `http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(workspace)}`;
    await page.goto(url, { timeout });
    await waitForWorkbench(page, timeout);
    const workbenchReadyMs = Date.now() - begun;
    // Much (quick open's file search, "*" and onStartupFinished activations)
    // waits for the extension host, which starts seconds after the workbench shows.
    await waitFor(() => /Eager extensions activated/.test(readExtensionHostLog(userDataDir)), {
      timeout: Math.max(1, begun + timeout - Date.now()),
      interval: 200,
      message: 'the extension host',
    });
    const extensionHostReadyMs = Date.now() - begun;

    return makeSession({
      page,
      browser,
      server,
      url,
      logPath,
      userDataDir,
      extensionsDir,
      tempDir,
      timings: { serverReadyMs, workbenchReadyMs, extensionHostReadyMs },
    });
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await server?.kill();
    const log = fs.existsSync(logPath) ? tail(fs.readFileSync(logPath, 'utf8'), 40) : '';
    throw new Error(`starting code-server failed: ${err instanceof Error ? err.message : String(err)}\n` + `code-server log (${logPath}), last lines:\n${log}`);
  }
}

function readExtensionHostLog(userDataDir: string): string {
  const logs = path.join(userDataDir, 'logs');
  if (!fs.existsSync(logs)) return '';
  return fs
    .readdirSync(logs, { recursive: true, encoding: 'utf8' })
    .filter((f) => /exthost\d*[/\\]remoteexthost\.log$/.test(f))
    .sort()
    .map((f) => fs.readFileSync(path.join(logs, f), 'utf8'))
    .join('');
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

async function waitForWorkbench(page: Page, timeout: number): Promise<void> {
  const workbench = page.locator('.monaco-workbench');
  await workbench.locator('.part.statusbar').waitFor({ state: 'visible', timeout });
  await workbench.locator('.part.activitybar').waitFor({ state: 'visible', timeout });
}

function exactText(text: string | RegExp): RegExp {
  return typeof text === 'string' ? new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) : text;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function makeSession(s: {
  page: Page;
  browser: Browser;
  server: ServerProcess;
  url: string;
  logPath: string;
  userDataDir: string;
  extensionsDir: string;
  tempDir: string;
  timings: Timings;
}): CodeServerSession {
  const { page } = s;
  const quickInput = page.locator('.quick-input-widget');
  const quickInputBox = quickInput.locator('.quick-input-box input');

  function quickInputRow(label: string | RegExp): Locator {
    return quickInput.locator('.monaco-list-row').filter({
      has: page.locator('.label-name').filter({ hasText: exactText(label) }),
    });
  }

  // Opens the quick input (F1, or Ctrl+Shift+P should a focused element such
  // as a terminal swallow F1), types `value`, waits until `row` is listed,
  // picks it with Enter (or a click when another row has the focus) and waits
  // for the quick input to close.
  async function pick(value: string, row: Locator, timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    const left = () => Math.max(1, deadline - Date.now());
    for (let attempt = 0; ; attempt++) {
      try {
        if (await quickInput.isVisible()) await page.keyboard.press('Escape');
        await page.keyboard.press(attempt % 2 === 0 ? 'F1' : 'Control+Shift+P');
        await quickInputBox.waitFor({ state: 'visible', timeout: Math.min(3_000, left()) });
        // Bounded like each step: once in CI the box stayed unfillable for fill's default 30 s after a
        // theme switch, while a fresh palette would have taken the text at once.
        await quickInputBox.fill(value, { timeout: Math.min(5_000, left()) });
        await row.first().waitFor({ state: 'visible', timeout: left() });
        if ((await row.first().getAttribute('class'))?.split(' ').includes('focused')) {
          await quickInputBox.press('Enter');
        } else {
          await row.first().click({ timeout: left() });
        }
        await quickInput.waitFor({ state: 'hidden', timeout: Math.min(5_000, left()) });
        return;
      } catch (err) {
        if (Date.now() >= deadline || attempt >= 3) {
          const listed = await quickInput
            .locator('.monaco-list-row')
            .allInnerTexts()
            .catch(() => []);
          await page.keyboard.press('Escape').catch(() => undefined);
          throw new Error(`quick input "${value}": ${(err as Error).message.split('\n')[0]}; ` + `rows listed: ${JSON.stringify(listed.slice(0, 10))}`);
        }
      }
    }
  }

  const extensionHostLog = () => readExtensionHostLog(s.userDataDir);

  function statusBarItem(match: StatusBarMatch): Locator {
    const items = page.locator('.part.statusbar .statusbar-item');
    if ('id' in match) return items.and(page.locator(`[id=${JSON.stringify(match.id)}]`));
    if ('ariaLabel' in match) return items.and(page.getByLabel(match.ariaLabel, { exact: true }));
    if ('text' in match) return items.filter({ hasText: exactText(match.text) });
    return page.locator(match.selector);
  }

  function view(title: string): Locator {
    return page.locator('.pane').filter({
      has: page.locator('.pane-header h3.title').filter({ hasText: exactText(title) }),
    });
  }

  // A view collapsed in its container lists nothing: expand it first. The only view of its
  // container has its header merged into the container's title (hidden) and cannot collapse.
  async function expandView(title: string | undefined, timeout: number): Promise<void> {
    if (title === undefined) return;
    const header = view(title).locator('.pane-header').first();
    await header.waitFor({ state: 'attached', timeout });
    if ((await header.getAttribute('aria-expanded')) === 'false' && (await header.isVisible())) await header.click({ timeout });
  }

  function treeItem(label: string | RegExp, opts: TreeItemOptions = {}): Locator {
    const scope = opts.view ? view(opts.view) : page.locator('.monaco-workbench');
    return scope.locator('.monaco-list-row[role="treeitem"]').filter({
      has: page.locator('.label-name').filter({ hasText: exactText(label) }),
    });
  }

  return {
    page,
    browser: s.browser,
    url: s.url,
    port: s.server.port,
    logPath: s.logPath,
    userDataDir: s.userDataDir,
    extensionsDir: s.extensionsDir,
    tempDir: s.tempDir,
    timings: s.timings,

    runCommand: (title, opts = {}) => pick(`>${title}`, quickInputRow(title), opts.timeout ?? 15_000),

    async openFile(relativePath, opts = {}) {
      const timeout = opts.timeout ?? 15_000;
      const base = path.posix.basename(relativePath);
      const dir = path.posix.dirname(relativePath);
      // Quick open lists a file by its name, with its folder as the description.
      const description = page.locator('.label-description');
      const row = quickInputRow(base).filter(
        dir === '.' ? { hasNot: description.filter({ hasText: /\S/ }) } : { has: description.filter({ hasText: exactText(dir) }) },
      );
      await pick(relativePath, row, timeout);
      await page
        .locator('.tabs-container .tab.active .label-name')
        .filter({ hasText: exactText(base) })
        .waitFor({ state: 'visible', timeout });
    },

    openView: (title, opts = {}) => pick(`view ${title}`, quickInputRow(title), opts.timeout ?? 15_000),

    statusBarItem,

    async statusBarText(match) {
      const item = statusBarItem(match).first();
      if ((await item.count()) === 0) return undefined;
      return (await item.innerText()).trim();
    },

    treeItem,

    async clickTreeItem(label, opts = {}) {
      const timeout = opts.timeout ?? 10_000;
      await expandView(opts.view, timeout);
      await treeItem(label, opts).first().click({ timeout });
    },

    async contextMenu(label, entry, opts = {}) {
      const timeout = opts.timeout ?? 10_000;
      await expandView(opts.view, timeout);
      await treeItem(label, opts).first().click({ button: 'right', timeout });
      const menu = page.locator('.context-view .monaco-menu').filter({ visible: true });
      const action = menu.locator('.action-item').filter({
        has: page.locator('.action-label').filter({ hasText: exactText(entry) }),
      });
      await action
        .first()
        .waitFor({ state: 'visible', timeout })
        .catch(async (err: Error) => {
          const entries = await menu.locator('.action-label').allInnerTexts();
          throw new Error(`no context menu entry ${String(entry)} on ${String(label)} (entries: ${JSON.stringify(entries)}): ${err.message.split('\n')[0]}`);
        });
      // A click that lands in the first moments after the menu opened is
      // ignored by VS Code (it guards against the right-click's own release),
      // so click until the menu closes.
      await waitFor(
        async () => {
          if ((await menu.count()) > 0) {
            await action.first().click({ timeout: 1_000 });
            await menu.first().waitFor({ state: 'hidden', timeout: 300 });
          }
          return true;
        },
        { timeout, interval: 50, message: `context menu entry ${String(entry)} on ${String(label)}` },
      );
    },

    extensionHostLog,

    async waitForActivation(extensionId, opts = {}) {
      const id = escapeRegExp(extensionId);
      const failed = new RegExp(`Activating extension '?${id}'? failed.*(?:\n.*)?`, 'i');
      const begun = new RegExp(`_doActivateExtension ${id},`, 'i');
      const failure = () => failed.exec(extensionHostLog())?.[0];
      await waitFor(() => failure() !== undefined || begun.test(extensionHostLog()), {
        timeout: opts.timeout ?? 60_000,
        interval: 250,
        message: `activation of ${extensionId}`,
      });
      // The host logs no success, only a failure, a little after activate() throws.
      const settleUntil = Date.now() + (opts.settle ?? 1_000);
      for (;;) {
        const message = failure();
        if (message !== undefined) throw new Error(`${extensionId} failed to activate: ${message}`);
        if (Date.now() >= settleUntil) return;
        await sleep(100);
      }
    },

    async notifications() {
      return page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
    },

    async screenshot(name) {
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const file = path.join(ARTIFACTS_DIR, `${name.replace(/[^\w.-]+/g, '_')}.png`);
      await page.screenshot({ path: file });
      return file;
    },

    waitFor,

    async stop(opts = {}) {
      await s.browser.close().catch(() => undefined);
      await s.server.kill();
      if (!(opts.keepTemp || process.env.E2E_KEEP_TEMP === '1')) {
        fs.rmSync(s.tempDir, { recursive: true, force: true });
      }
    },
  };
}
