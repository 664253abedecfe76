/**
 * The WARC writer's thread (archive.ts starts it): records built, digested, gzipped and appended
 * here, one message at a time, in the order they came.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { IDLE_CLOSE_MS, WarcWriter, type Exchange } from './warc';

export type ToWriter =
  { type: 'add'; id: number; crawlId: string; exchange: Exchange } | { type: 'finish'; id: number; crawlId: string } | { type: 'close'; id: number };

export type FromWriter = { id: number; error: string | null };

export interface WriterData {
  dir: string;
  userAgent: string;
  robots: boolean;
  maxFileBytes: number;
}

const data = workerData as WriterData;
const writer = new WarcWriter(data.dir, { userAgent: data.userAgent, robots: data.robots }, data.maxFileBytes);
setInterval(() => {
  // A close that fails (a disk gone) must not stop the turns that follow.
  turn = turn.then(() => writer.closeIdle()).catch(() => undefined);
}, IDLE_CLOSE_MS / 2).unref();
const port = parentPort!;
let turn: Promise<unknown> = Promise.resolve();

port.on('message', (m: ToWriter) => {
  turn = turn.then(async () => {
    let error: string | null = null;
    try {
      if (m.type === 'add') await writer.add(m.crawlId, m.exchange);
      else if (m.type === 'finish') writer.finish(m.crawlId);
      else writer.close();
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    port.postMessage({ id: m.id, error } satisfies FromWriter);
  });
});
