import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BodyStore } from '../../server/src/crawl/bodies';
import { tempDir } from './helpers/tmp';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tmpFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.tmp'));
}

test('a body that cannot be written leaves no partial file, and says why', () => {
  const dir = tempDir();
  // A file size limit stands in for a full disk, for any user: the write fails part way (EFBIG).
  const script = `
    process.on('SIGXFSZ', () => {});
    const { BodyStore } = require(${JSON.stringify(require.resolve('../../server/src/crawl/bodies'))});
    const body = Buffer.alloc(256 * 1024, 7);
    new BodyStore(${JSON.stringify(dir)}).put(body).then(
      () => console.log('stored'), (err) => console.log(err.message));`;
  const out = execFileSync('bash', ['-c', `ulimit -f 64; exec "${process.execPath}" -e "$0"`, script], { encoding: 'utf8' }).trim();
  assert.match(out, /^cannot store the page body: .*[0-9a-f]{64} cannot be written \(larger than this process may write\)$/);
  assert.deepEqual(tmpFiles(dir), [], 'the partial file was removed');
});

test('a folder that cannot be made is named, not a raw mkdir error', async () => {
  const dir = tempDir();
  const blocker = path.join(dir, 'bodies');
  fs.writeFileSync(blocker, 'a file where the folder should be');
  const body = Buffer.from('page');
  await assert.rejects(new BodyStore(blocker).put(body), /^Error: cannot store page bodies: the folder .*bodies\/[0-9a-f]{2} cannot be made \(ENOTDIR/);
});

test("bodies half-written by processes that are gone are swept; a live one's are left", async () => {
  const dir = tempDir();
  const body = Buffer.from('<html>kept</html>');
  const store = new BodyStore(dir);
  const kept = await store.put(body);
  assert.equal(kept.sha256, sha(body), 'named by its SHA-256');
  const folder = path.dirname(kept.file);
  // A pid that is not running: one past the largest the kernel hands out is never a process.
  const maxPid = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  const stale = path.join(folder, `${sha(body)}.${maxPid + 1}.abc.tmp`);
  const recent = path.join(folder, `${sha(body)}.${maxPid + 1}.ghi.tmp`);
  const live = path.join(folder, `${sha(body)}.${process.ppid}.def.tmp`);
  const other = path.join(folder, 'notes.tmp');
  for (const f of [stale, recent, live, other]) fs.writeFileSync(f, '');
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const f of [stale, live, other]) fs.utimesSync(f, hourAgo, hourAgo);
  assert.equal(await store.sweep(), 1);
  assert.deepEqual(
    [stale, recent, live, other, kept.file].map((f) => fs.existsSync(f)),
    [false, true, true, true, true],
    "a recent file may be a live writer's in another pid namespace",
  );
  assert.equal(await new BodyStore(path.join(dir, 'missing')).sweep(), 0, 'no folder yet: nothing to do');
});
