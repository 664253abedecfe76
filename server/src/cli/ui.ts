import type { Text } from './format';
import { terminalSafeJson } from '../core/text';

/**
 * Where crawlctl writes: results on stdout, messages on stderr, and on a terminal one live
 * progress line that other output is printed above. People get only `Text`, whose remote parts
 * are escaped; scripts get exact JSON.
 */
export class Ui {
  private progressShown = false;
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
   * Progress: redrawn in place on a terminal; elsewhere (a log, a pipe) printed as a plain line
   * when `key` changed, every few seconds at most, so a log file stays readable.
   */
  progress(text: Text, key = `${text}`): void {
    if (this.json) return;
    if (this.isTTY) {
      const cols = this.stderr.columns ?? 100;
      const chars = [...`${text}`];
      const line = chars.length > cols - 1 ? `${chars.slice(0, cols - 2).join('')}…` : chars.join('');
      this.stderr.write(`\r\x1b[K${line}`);
      this.progressShown = true;
      return;
    }
    const now = Date.now();
    if (key === this.lastPlainKey || now - this.lastPlain < 2_000) return;
    this.lastPlain = now;
    this.lastPlainKey = key;
    this.stderr.write(`${text}\n`);
  }

  /** The last progress line, kept on screen (and always printed off a terminal). */
  progressDone(text: Text): void {
    if (this.json) return;
    this.clearProgress();
    this.stderr.write(`${text}\n`);
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.stderr.write('\r\x1b[K');
    this.progressShown = false;
  }
}
