/**
 * Which workers a daemon may take for its own machine's (issue 18, item 3): only those whose pids
 * mean the same to it, never another machine's or container's under the same host name.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { Reaper } from '../../server/src/core/reaper';
import { SqliteQueue } from '../../server/src/core/sqlite/engine';
import {
  LOST_AFTER_MS,
  SEEN_EVERY_MS,
  THIS_MACHINE,
  deadLocalWorkers,
  localPid,
  makeWorkerId,
  parseWorkerId,
  processSpace,
  readProcessFacts,
  workerState,
  type Machine,
} from '../../server/src/core/worker-id';
import { job } from './helpers/jobs';
import { tempDb } from './helpers/tmp';

/** The pid of a process that has ended (pids are not handed out again soon). */
async function gonePid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const facts = readProcessFacts();
/** The same host name on another machine: another boot. */
const otherMachine: Machine = { host: THIS_MACHINE.host, space: processSpace({ bootId: 'another-boot', pidNamespace: facts.pidNamespace }) };
/** The same host name in another container on this machine: this boot, another pid namespace. */
const otherContainer: Machine = { host: THIS_MACHINE.host, space: processSpace({ bootId: facts.bootId ?? 'this-boot', pidNamespace: 'pid:[1]' }) };

describe('the same machine', () => {
  test('a process space is the boot and the pid namespace; none where no boot id can be read', () => {
    const space = processSpace({ bootId: 'b1', pidNamespace: 'pid:[10]' });
    assert.match(space!, /^[0-9a-f]{12}$/);
    assert.equal(processSpace({ bootId: 'b1', pidNamespace: 'pid:[10]' }), space);
    assert.notEqual(processSpace({ bootId: 'b2', pidNamespace: 'pid:[10]' }), space, 'another boot');
    assert.notEqual(processSpace({ bootId: 'b1', pidNamespace: 'pid:[11]' }), space, 'another pid namespace');
    assert.equal(processSpace({ bootId: null, pidNamespace: 'pid:[10]' }), null);
    const id = makeWorkerId({ host: 'h', space });
    assert.deepEqual(parseWorkerId(id), { host: 'h', pid: process.pid, nonce: id.split(':')[2].split('@')[0], space });
    assert.deepEqual(parseWorkerId('h:12:ab'), { host: 'h', pid: 12, nonce: 'ab', space: null }, 'an id without a space parses as before');
    assert.deepEqual(parseWorkerId('h:1:513109@7b548cd0cba9'), { host: 'h', pid: 1, nonce: '513109', space: '7b548cd0cba9' }, 'a nonce of digits only');
  });

  test('a dead worker with this host name is reclaimed at once only if it ran here, not on another machine or in another container', async () => {
    const gone = await gonePid();
    const here = makeWorkerId(THIS_MACHINE, gone);
    const elsewhere = makeWorkerId(otherMachine, gone);
    const beside = makeWorkerId(otherContainer, gone);
    const queue = new SqliteQueue(tempDb());
    await queue.enqueue([job('a', 1), job('a', 2), job('a', 3)]);
    for (const w of [here, elsewhere, beside]) assert.equal((await queue.lease(w, 1, { ttlMs: 600_000, defaultLimit: 3 })).length, 1);
    let reaped: string[] = [];
    const reaper = new Reaper(
      queue,
      60_000,
      (r) => {
        reaped = r.deadWorkers;
      },
      (err) => assert.fail(String(err)),
      makeWorkerId(),
    );
    await reaper.reapOnce();
    assert.deepEqual(reaped, [here]);
    assert.deepEqual((await queue.leaseHolders()).sort(), [elsewhere, beside].sort(), 'their leases wait out their TTL');

    // Nor are they read as lost before three silent beats, though their pid is not running here.
    const now = 1_800_000_000_000;
    const row = (workerId: string) => ({ workerId, startedAt: now - 60_000, seenAt: now - SEEN_EVERY_MS - 1, stoppedAt: null, leases: 1 });
    assert.equal(workerState(row(here), now, 'me'), 'lost');
    assert.equal(workerState(row(elsewhere), now, 'me'), 'live');
    assert.equal(workerState(row(beside), now, 'me'), 'live');
    assert.equal(workerState({ ...row(elsewhere), seenAt: now - LOST_AFTER_MS - 1 }, now, 'me'), 'lost');
    await queue.close();
  });

  test("where no boot id can be read, the host name alone decides; an id with a space is another machine's there", async () => {
    const gone = await gonePid();
    const plain: Machine = { host: THIS_MACHINE.host, space: null };
    const same = makeWorkerId(plain, gone);
    assert.equal(localPid(same, plain), gone);
    assert.deepEqual(deadLocalWorkers([same, makeWorkerId(otherMachine, gone), makeWorkerId({ host: 'elsewhere', space: null }, gone)], plain), [same]);
    // Seen from a machine that has a space, an id without one (a daemon of an earlier build) is not its own.
    assert.equal(localPid(same, { host: THIS_MACHINE.host, space: '0123456789ab' }), null);
  });

  const unshare = ['--user', '--map-root-user', '--pid', '--fork', '--mount-proc'];
  const canUnshare = spawnSync('unshare', [...unshare, 'true']).status === 0;
  test(
    'a daemon in a container of its own (a pid namespace, this host name) is not taken for one of this machine',
    { skip: !canUnshare && 'unshare cannot make a pid namespace here' },
    async () => {
      const module = require.resolve('../../server/src/core/worker-id');
      const made = spawnSync('unshare', [...unshare, process.execPath, '-e', `process.stdout.write(require(${JSON.stringify(module)}).makeWorkerId())`], {
        encoding: 'utf8',
      });
      assert.equal(made.status, 0, made.stderr);
      const theirs = parseWorkerId(made.stdout)!;
      assert.equal(theirs.host, THIS_MACHINE.host, 'the same host name');
      assert.notEqual(theirs.space, THIS_MACHINE.space);
      // Its pid counts in its own namespace: here it may be any process's, or none's.
      const gone = await gonePid();
      const seenHere = `${theirs.host}:${gone}:${theirs.nonce}${theirs.space === null ? '' : `@${theirs.space}`}`;
      assert.deepEqual(deadLocalWorkers([seenHere]), [], `${seenHere} is not reclaimed`);
      const mine = makeWorkerId(THIS_MACHINE, gone);
      assert.deepEqual(deadLocalWorkers([mine]), [mine], 'one of this machine with that pid would be');
    },
  );
});
