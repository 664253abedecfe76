/**
 * What every section shares: a row of the results table, timing helpers and number formatting.
 * Figures only; nothing here asserts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Figure {
  section: string;
  name: string;
  value: number | null;
  unit: string;
  /** What the figure is compared with, when it is. */
  baseline?: { name: string; value: number | null; unit: string };
  /** value / baseline (or baseline / value where lower is better; `ratioLabel` says which). */
  ratio?: number | null;
  ratioLabel?: string;
  /** The target in words, and whether it was met (null: no target, or not measurable). */
  target?: string;
  met?: boolean | null;
  note?: string;
}

/** A fresh folder for one section's database files; run.ts removes the parent at the end. */
export function tempDir(root: string, name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function makeRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'crawl-bench-'));
}

export function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function now(): bigint {
  return process.hrtime.bigint();
}

/** Nearest-rank percentile of a sample (p in 0..100). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export function fmt(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

export function fmtRatio(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(3)}×`;
}

/**
 * This process's peak RSS in KB, as the kernel keeps it: VmHWM, the high-water mark of its own
 * memory. Not getrusage's maxrss, which Linux carries across fork and exec: a child spawned by a
 * parent of 295 MB reported 295 MB although it never used more than 111.
 */
export function highWaterKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // Not Linux: getrusage is what there is.
  }
  return process.resourceUsage().maxRSS;
}

/** Samples RSS at an interval and keeps the peak, together with the kernel's own high-water mark. */
export class PeakRss {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(intervalMs = 25) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }
  /** The larger of the sampled peak and the kernel's high-water mark (which also sees peaks between samples). */
  stop(): { sampledMb: number; maxRssMb: number } {
    clearInterval(this.timer);
    this.sample();
    return { sampledMb: this.peak / (1024 * 1024), maxRssMb: highWaterKb() / 1024 };
  }
}

/** BENCH_CPU_PROF=<dir>: node's arguments that profile a child process (--cpu-prof) into that directory, to see where its time goes. */
export function cpuProfileArgs(): string[] {
  return process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
