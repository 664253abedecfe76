/**
 * Starts a worker process (helpers/worker-child.ts); resolves with it and its worker id once it is
 * running. Every worker is killed when the test file ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';

const CHILD = path.join(__dirname, 'worker-child.js');
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill('SIGKILL')));

export function worker(config: Record<string, unknown>, onLine: (line: string) => void = () => {}): Promise<{ child: ChildProcess; workerId: string }> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^ready (.+)$/.exec(line);
      if (m) resolve({ child, workerId: m[1] });
      onLine(line);
    });
  });
}
