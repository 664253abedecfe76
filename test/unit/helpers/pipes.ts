/**
 * crawlctl through a shell pipe, as a user's `crawlctl … | jq` runs: the exit code and stderr of
 * crawlctl, and what the reader on the other end kept. `SLOWLY` is a reader that waits before its
 * first read and between reads, so the pipe fills and crawlctl must wait for it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CRAWLCTL_JS } from './daemon-proc';

const SLOW_READER = `
const fs = require('node:fs');
const chunks = [];
process.stdin.pause();
const later = (ms) => setTimeout(() => process.stdin.resume(), ms);
process.stdin.on('data', (c) => { chunks.push(c); process.stdin.pause(); later(10); });
process.stdin.on('end', () => fs.writeFileSync(process.argv[2], Buffer.concat(chunks)));
later(250);
`;

/** The slow reader, as a pipe's right-hand side: it writes what it read to "$OUT". */
export const SLOWLY = '"$NODE" "$READER" "$OUT"';

/** Pipes for crawlctl on the daemon of `stateDir`, their scratch files in `dir`. */
export function pipes(dir: string, stateDir: () => string) {
  const reader = path.join(dir, 'reader.js');
  fs.writeFileSync(reader, SLOW_READER);
  /** Runs `crawlctl <args> | <rhs>` in bash; the right-hand side writes what it keeps to "$OUT". */
  return (args: string[], rhs: string): Promise<{ code: number; stderr: string; got: Buffer }> => {
    const out = path.join(dir, `got-${Math.random().toString(36).slice(2)}`);
    const err = `${out}.err`;
    const script = `"$0" "$@" --state-dir "$STATE" 2>"$ERR" | ${rhs}; exit "\${PIPESTATUS[0]}"`;
    const child = spawn('bash', ['-c', script, process.execPath, CRAWLCTL_JS, ...args], {
      stdio: 'ignore',
      env: { ...process.env, STATE: stateDir(), ERR: err, OUT: out, NODE: process.execPath, READER: reader },
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`crawlctl ${args.join(' ')} | ${rhs} did not finish`));
      }, 120_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stderr: fs.readFileSync(err, 'utf8'), got: fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0) });
      });
    });
  };
}
