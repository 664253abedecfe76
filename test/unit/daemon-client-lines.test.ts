/**
 * crawlctl's client reads the daemon's lines from bytes as they come: a line cut anywhere, even
 * inside a character, and several lines in one chunk, each read whole and once.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { DaemonClient } from '../../server/src/daemon/transport/client';

test('answers cut into single bytes, and an answer and a notification in one chunk, arrive whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-lines-'));
  const socketPath = path.join(dir, 's.sock');
  // Text whose UTF-8 has two-, three- and four-byte characters: cut byte by byte, each is split.
  const title = 'Café – 日本語 🕷️ "quoted"\u2028';
  const server = net.createServer((conn) => {
    let got = '';
    const answerLines = async (chunk: Buffer) => {
      got += chunk.toString();
      for (let nl = got.indexOf('\n'); nl >= 0; nl = got.indexOf('\n')) {
        const { id, method } = JSON.parse(got.slice(0, nl)) as { id: number; method: string };
        got = got.slice(nl + 1);
        const answer = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', id, result: { crawlId: 'c_1', title, method } })}\n`);
        if (method === 'crawl/get') {
          for (const byte of answer) {
            conn.write(Buffer.of(byte));
            await new Promise((resolve) => setImmediate(resolve));
          }
        } else {
          const note = Buffer.from(`${JSON.stringify({ jsonrpc: '2.0', method: 'queue/changed', params: { title } })}\n`);
          conn.write(Buffer.concat([note, answer]));
        }
      }
    };
    // The client asks one thing at a time: a chunk is answered before the next arrives.
    conn.on('data', (chunk: Buffer) => void answerLines(chunk));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const client = await DaemonClient.connect(socketPath);
  try {
    const heard: unknown[] = [];
    client.onNotification((_method, params) => heard.push(params));
    const cut = (await client.request('crawl/get', { crawlId: 'c_1' })) as unknown as { title: string; method: string };
    assert.deepEqual({ title: cut.title, method: cut.method }, { title, method: 'crawl/get' });
    const together = (await client.request('crawl/list', {})) as unknown as { title: string; method: string };
    assert.deepEqual({ title: together.title, method: together.method }, { title, method: 'crawl/list' });
    assert.deepEqual(heard, [{ title }], 'the notification before the answer, in the same chunk, heard once');
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
