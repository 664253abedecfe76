// crawlctl as the end-to-end suites run it against the extension's own daemon: JSON out, parsed.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './harness';

const CRAWLCTL = path.join(REPO_ROOT, 'bin', 'crawlctl.js');
const execFileP = promisify(execFile);

/** `node bin/crawlctl.js <args> --json --state-dir <stateDir>`, its output parsed. */
export async function crawlctl(stateDir: string, ...args: string[]): Promise<unknown> {
  try {
    const { stdout } = await execFileP(process.execPath, [CRAWLCTL, ...args, '--json', '--state-dir', stateDir], { timeout: 30_000 });
    return JSON.parse(stdout);
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string; message: string };
    throw new Error(`crawlctl ${args.join(' ')} failed (exit ${String(e.code)}): ${e.stderr || e.stdout || e.message}`);
  }
}

/** A crawl of `crawlctl crawls`, by id. */
export function crawlOf(list: unknown, id: string): { crawlId: string; state: string } | undefined {
  return (list as { crawls: { crawlId: string; state: string }[] }).crawls.find((c) => c.crawlId === id);
}
