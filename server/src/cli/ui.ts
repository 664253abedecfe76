import type { Text } from './format';
import { terminalSafeJson } from '../core/text';

/**
 * Where crawlctl writes: results on stdout, messages on stderr, and on a terminal one live
 * progress line that other output is printed above. People get only `Text`, whose remote parts
 * are escaped; scripts get exact JSON.
 */
export class Ui {
  /** Lines of live progress on the terminal now, the cursor at the end of the last. */
  private progressLines = 0;
  private lastPlain = 0;
  private lastPlainKey = '';

  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
  ) {}

  get isTTY(): boolean {
    return this.stderr.isTTY === true;
  }

  /** Terminal width for tables, when stdout is a terminal. */
  get columns(): number | undefined {
    return this.stdout.isTTY ? this.stdout.columns : undefined;
  }

  out(text: Text): void {
    this.clearProgress();
    this.stdout.write(`${text}\n`);
  }

  err(text: Text): void {
    this.clearProgress();
    this.stderr.write(`${text}\n`);
  }

  /** The machine-readable result of a command. */
  result(value: unknown): void {
    this.clearProgress();
    this.stdout.write(`${terminalSafeJson(JSON.stringify(value, null, 2))}\n`);
  }

  /**
   * Progress: a line and the notes under it, redrawn in place on a terminal (each line cut to its
   * width, so none wraps and the redraw knows how many to go back over); elsewhere (a log, a pipe)
   * printed as plain lines when `key` changed, every few seconds at most, so a log stays readable.
   */
  progress(shown: readonly Text[], key = shown.join('\n')): void {
    if (this.json) return;
    if (this.isTTY) {
      const cols = this.stderr.columns ?? 100;
      const fit = (t: Text) => {
        const chars = [...`${t}`];
        return chars.length > cols - 1 ? `${chars.slice(0, cols - 2).join('')}…` : chars.join('');
      };
      // One write, so the screen never shows the lines cleared and not yet redrawn.
      this.stderr.write(`${this.clearSequence()}${shown.map(fit).join('\n\x1b[K')}`);
      this.progressLines = shown.length;
      return;
    }
    const now = Date.now();
    if (key === this.lastPlainKey || now - this.lastPlain < 2_000) return;
    this.lastPlain = now;
    this.lastPlainKey = key;
    this.stderr.write(`${shown.join('\n')}\n`);
  }

  /** The last progress line, kept on screen (and always printed off a terminal). */
  progressDone(text: Text): void {
    if (this.json) return;
    this.clearProgress();
    this.stderr.write(`${text}\n`);
  }

  clearProgress(): void {
    if (this.progressLines === 0) return;
    this.stderr.write(this.clearSequence());
  }

  /** Back over the progress lines, clearing each: the cursor ends where the first began. */
  private clearSequence(): string {
    const up = this.progressLines > 1 ? '\x1b[1A\x1b[K'.repeat(this.progressLines - 1) : '';
    this.progressLines = 0;
    return `\r\x1b[K${up}`;
  }
}
