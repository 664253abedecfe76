/** The README's first command: `npm run demo` must end well on a fresh machine. */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO } from './helpers/daemon-proc';

test('the demo crawls its site, shows the broken pages and exits 0', { timeout: 120_000 }, async () => {
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'out', 'server', 'src', 'demo', 'demo.js')], { timeout: 110_000 }, (err, out) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out });
    });
  });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /Failed pages:[\s\S]*HTTP 404/);
  assert.match(stdout, /robots\.txt: Disallow: \/private\//);
  assert.match(stdout, /Daemon stopped\./);
});
