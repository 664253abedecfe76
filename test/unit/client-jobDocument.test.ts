// Show Details: the job document's history, split attempt by attempt, from a real daemon's jobs/get.
import './helpers/vscode';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { attempts, renderJobDocument } from '../../client/src/jobDocument';
import { TestDaemon } from './helpers/client-daemon';

test('each lease starts an attempt; the record, result and every event are there', async () => {
  const d = await TestDaemon.start();
  after(() => d.stop());
  const { ids } = await d.request('jobs/enqueue', { urls: ['https://a.test/page'], maxAttempts: 2 });
  await d.fail(1, 'HTTP 500');
  await d.request('jobs/requeue', { ids });
  await d.finish(1);
  const { job, events } = await d.request('jobs/get', { id: ids[0]! });

  const sections = attempts(events);
  assert.deepEqual(sections.map((s) => s.title), [
    'Before the first lease',
    'Lease 1: attempt 1/2, worker w-test',
    'Lease 2: attempt 1/2, worker w-test',
  ]);
  assert.deepEqual(sections.map((s) => s.events.map((e) => e.type)), [['enqueued'], ['leased', 'failed', 'requeued'], ['leased', 'done']]);

  const text = renderJobDocument(job, events, Date.now());
  assert.match(text, new RegExp(`^# Job ${ids[0]}: Done\\n\\n<https://a\\.test/page>`));
  assert.match(text, /\| attempts \| 1 of 2 \|/);
  assert.match(text, /\| last error \| — \|/);
  assert.match(text, /- status: 200\n- content type: text\/html\n- size: 2\.0 KiB \(2048 bytes\)\n- duration: 35ms/);
  assert.match(text, /## History \(6 events\)/);
  assert.match(text, /\| \d{4}-\d\d-\d\dT[\d:.]+Z \| \+\d+ms \| failed \| w-test \| HTTP 500 \(attempt 1\/2\) \|/);
  assert.match(text, /## Lease\n\nNot leased\./);
});
