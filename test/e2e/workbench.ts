// Reading and driving VS Code's workbench in Chromium, beyond what harness.ts
// offers: the quick input's multi-step flows, a view's tree rows, the lines an
// editor renders (inlay hints included), and a job's details page (a webview).
import type { Frame, Locator, Page } from 'playwright-core';
import { waitFor, type WaitOptions } from './harness';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** waitFor, typed for predicates that answer undefined until ready, and saying on a timeout what was there instead. */
export async function until<T>(
  predicate: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions,
  context?: () => unknown,
): Promise<T> {
  try {
    return (await waitFor(predicate, opts)) as T;
  } catch (err) {
    if (!context) throw err;
    const seen = await Promise.resolve()
      .then(context)
      .then((c) => JSON.stringify(c))
      .catch((e: Error) => `(${e.message})`);
    throw new Error(`${(err as Error).message}; instead: ${seen}`);
  }
}

// --- the quick input ----------------------------------------------------------------------

export function quickInputBox(page: Page): Locator {
  return page.locator('.quick-input-widget .quick-input-box input');
}

export function quickInputRow(page: Page, label: string): Locator {
  return page.locator('.quick-input-widget .monaco-list-row').filter({
    has: page.locator('.label-name').filter({ hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }),
  });
}

export async function quickInputTitled(page: Page, title: string): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-title').filter({ hasText: title }).waitFor({ state: 'visible', timeout: 15_000 });
}

export async function quickInputMessage(page: Page, message: RegExp): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-message').filter({ hasText: message }).waitFor({ state: 'visible', timeout: 10_000 });
}

/**
 * Runs a palette command that goes on to ask questions in the quick input
 * (the harness's runCommand waits for the quick input to close, which these never do).
 */
export async function paletteCommand(page: Page, title: string): Promise<void> {
  const box = quickInputBox(page);
  const row = quickInputRow(page, title);
  for (let attempt = 0; ; attempt++) {
    try {
      if (await page.locator('.quick-input-widget').isVisible()) await page.keyboard.press('Escape');
      await page.keyboard.press(attempt % 2 === 0 ? 'F1' : 'Control+Shift+P');
      await box.waitFor({ state: 'visible', timeout: 3_000 });
      // Bounded, as the harness's pick: a box that will not take the text is closed and opened again.
      await box.fill(`>${title}`, { timeout: 5_000 });
      await row.first().waitFor({ state: 'visible', timeout: 10_000 });
      await row.first().click({ timeout: 5_000 });
      return;
    } catch (err) {
      if (attempt >= 2) throw new Error(`palette command "${title}": ${(err as Error).message.split('\n')[0]}`);
    }
  }
}

// --- views ---------------------------------------------------------------------------------

/** A view's pane in the side bar, by its title ("Jobs"); found even when its header is merged into the container's. */
export function viewPane(page: Page, title: string): Locator {
  return page.locator('.pane').filter({ has: page.locator(`.pane-header[aria-label=${JSON.stringify(`${title} Section`)}]`) });
}

export interface Row {
  index: number;
  level: number;
  label: string;
  description: string;
  aria: string;
  expanded: string | null;
}

/** A view's tree rows as rendered, top to bottom (the list renders what is in view). */
export async function treeRows(pane: Locator): Promise<Row[]> {
  const rows = await pane.locator('.monaco-list-row[role="treeitem"]').evaluateAll((els) =>
    els.map((el) => ({
      index: Number(el.getAttribute('data-index')),
      level: Number(el.getAttribute('aria-level')),
      label: el.querySelector<HTMLElement>('.label-name')?.innerText.trim() ?? '',
      description: el.querySelector<HTMLElement>('.label-description')?.innerText.trim() ?? '',
      aria: el.getAttribute('aria-label') ?? '',
      expanded: el.getAttribute('aria-expanded'),
    })),
  );
  return rows.sort((a, b) => a.index - b.index);
}

/** Expands a top-level row of a view's tree (a click toggles it; clicked until it is open). */
export async function expandRow(pane: Locator, label: string): Promise<void> {
  const row = pane.locator('.monaco-list-row[role="treeitem"][aria-level="1"]').filter({
    has: pane
      .page()
      .locator('.label-name')
      .filter({ hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }),
  });
  await waitFor(
    async () => {
      if ((await row.first().getAttribute('aria-expanded')) === 'true') return true;
      await row.first().click({ timeout: 2_000 });
      return false;
    },
    { timeout: 10_000, interval: 500, message: `the ${label} row to expand` },
  );
}

/** The number on a view container's activity bar badge (`title`: its name, as the icon's label begins), if any. */
export async function activityBadge(page: Page, title: string): Promise<string | undefined> {
  const badge = page
    .locator('.activitybar .action-item')
    .filter({ has: page.locator(`[aria-label^=${JSON.stringify(title)}]`) })
    .locator('.badge-content');
  if ((await badge.count()) === 0 || !(await badge.first().isVisible())) return undefined;
  return (await badge.first().innerText()).trim() || undefined;
}

// --- the editor -----------------------------------------------------------------------------

export function activeEditor(page: Page): Locator {
  return page.locator('.part.editor .editor-group-container.active .monaco-editor').first();
}

export function codeLens(page: Page, title: RegExp): Locator {
  return activeEditor(page).locator('.codelens-decoration a').filter({ hasText: title });
}

/**
 * The lines the active editor renders now, inlay hints included, by line number (a line's
 * `top` in the lines layer matches its number's in the margin; tops alone repeat as it scrolls).
 */
export async function visibleLines(page: Page): Promise<Map<number, string>> {
  const lines = await activeEditor(page).evaluate((editor) => {
    const numbers = new Map<string, number>();
    // Sticky scroll repeats headings above the lines, numbers included: not those.
    const real = (el: Element) => el.closest('.sticky-widget') === null;
    for (const el of Array.from(editor.querySelectorAll('.margin-view-overlays .line-numbers')).filter(real)) {
      const row = el.parentElement as HTMLElement;
      numbers.set(row.style.top, Number((el as HTMLElement).innerText.trim()));
    }
    const out: [number, string][] = [];
    for (const el of Array.from(editor.querySelectorAll('.view-lines .view-line')).filter(real)) {
      const n = numbers.get((el as HTMLElement).style.top);
      if (n !== undefined && Number.isInteger(n) && n > 0) out.push([n, (el as HTMLElement).innerText]);
    }
    return out;
  });
  // Spaces are rendered as no-break spaces (and a hint's padding may be another kind of space).
  return new Map(lines.map(([n, text]) => [n, text.replace(/[^\S ]/g, ' ')]));
}

export async function waitForEditorLines(page: Page, ok: (lines: string[]) => boolean, what: string, timeout = 15_000): Promise<string[]> {
  let last: string[] = [];
  return until(
    async () => {
      last = [...(await visibleLines(page)).entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
      return ok(last) ? last : undefined;
    },
    { timeout, interval: 250, message: what },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; lines shown: ${JSON.stringify(last)}`);
  });
}

// --- a job's details (a webview) ---------------------------------------------------------

/** A job's details page as shown: its frame, and its text as rendered (a table's cells apart by tabs). */
export interface JobPage {
  frame: Frame;
  text: string;
}

/**
 * Waits for the job details page (Show Job Details' webview, the `main#job` of an inner frame)
 * to say what `ok` wants, and returns it.
 */
export async function waitForJobPage(page: Page, ok: (text: string) => boolean, what: string, timeout = 15_000): Promise<JobPage> {
  let last = '';
  return until(
    async () => {
      for (const frame of page.frames()) {
        const text = await frame
          .locator('main#job')
          .innerText({ timeout: 200 })
          .catch(() => undefined);
        if (text === undefined) continue;
        last = text;
        if (ok(text)) return { frame, text };
      }
      return undefined;
    },
    { timeout, interval: 250, message: what },
    () => ({ shown: last.slice(0, 400) }),
  );
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
