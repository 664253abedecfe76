// Reading and driving VS Code's workbench in Chromium, beyond what harness.ts
// offers: the quick input's multi-step flows, a view's tree rows, and the
// text an editor renders (inlay hints included), read in full by scrolling.
import type { Locator, Page } from 'playwright-core';
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
      await box.fill(`>${title}`);
      await row.first().waitFor({ state: 'visible', timeout: 10_000 });
      await row.first().click();
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

/**
 * The whole text of the active editor, inlay hints included. It renders only the lines in view,
 * so this pages through it with the keyboard (wheel events scroll a few lines each): the editor
 * gets the focus and its cursor ends at the top. The cursor's line at Ctrl+End says how many
 * lines there are.
 */
export async function readEditorText(page: Page): Promise<string> {
  const editor = activeEditor(page);
  // The cursor's line, as the margin highlights it once rendered.
  const cursorLine = () =>
    editor.evaluate((el) => {
      const active = Array.from(el.querySelectorAll('.margin-view-overlays .active-line-number')).find((n) => n.closest('.sticky-widget') === null);
      return active ? Number((active as HTMLElement).innerText.trim()) : 0;
    });
  const lastVisible = async () => Math.max(0, ...(await visibleLines(page)).keys());
  // A click on a line number focuses the editor without touching the text (it selects that line).
  await editor.locator('.margin-view-overlays .line-numbers').first().click();
  await page.keyboard.press('Control+Home');
  await until(async () => (await cursorLine()) === 1, { timeout: 5_000, interval: 50, message: 'the cursor on line 1' });
  // At Ctrl+End the last line is in view with the cursor on it (a one-line text never moves).
  await page.keyboard.press('Control+End');
  const count = await until(
    async () => {
      const line = await cursorLine();
      return line > 1 && line === (await lastVisible()) ? line : undefined;
    },
    { timeout: 3_000, interval: 50, message: 'the cursor on the last line' },
  ).catch(async (err: Error) => {
    if ((await cursorLine()) === 1 && (await lastVisible()) === 1) return 1;
    throw err;
  });
  await page.keyboard.press('Control+Home');
  const all = new Map<number, string>();
  const read = async () => {
    for (const [n, text] of await visibleLines(page)) all.set(n, text);
    return Math.max(0, ...all.keys());
  };
  await until(async () => (await visibleLines(page)).has(1), { timeout: 5_000, interval: 50, message: 'the first line' });
  while ((await read()) < count) {
    const before = Math.max(0, ...all.keys());
    await page.keyboard.press('PageDown');
    await until(async () => Math.max(0, ...(await visibleLines(page)).keys()) > before, {
      timeout: 5_000,
      interval: 50,
      message: `lines after ${before} of ${count} to show`,
    });
  }
  await page.keyboard.press('Control+Home');
  const numbers = [...all.keys()].sort((a, b) => a - b);
  if (numbers[0] !== 1 || numbers.length !== count || numbers[numbers.length - 1] !== count) {
    throw new Error(`lines missing while reading the editor (read ${JSON.stringify(numbers)} of ${count})`);
  }
  return numbers.map((n) => all.get(n)!).join('\n');
}

/** Waits until the active editor's visible text (inlay hints included) passes `ok`. */
export async function waitForEditorText(page: Page, ok: (text: string) => boolean, what: string, timeout = 15_000): Promise<void> {
  let last = '';
  await until(
    async () => {
      last = [...(await visibleLines(page)).entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([, t]) => t)
        .join('\n');
      return ok(last);
    },
    { timeout, interval: 250, message: what },
    () => ({ shown: last.slice(0, 400) }),
  );
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

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
