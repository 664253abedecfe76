/**
 * Runs synchronous work in a worker thread, so that a test can give up on it: a test's own
 * timeout cannot stop work that blocks the test's thread, it fires only once the work is done.
 */
import { Worker } from 'node:worker_threads';

/**
 * Resolves with what `fn(data)` returns in a worker thread, or rejects if it has not returned
 * within `ms`; the worker is terminated either way (even in the middle of a loop). `fn` is sent
 * as source: it may use only `data` (structured-cloneable) and `require`, with absolute paths
 * (require.resolve gives them).
 */
export async function answersWithin<D, R>(ms: number, fn: (data: D) => R, data: D): Promise<R> {
  const worker = new Worker(`const { parentPort, workerData } = require('node:worker_threads'); parentPort.postMessage((${fn.toString()})(workerData));`, {
    eval: true,
    workerData: data,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<R>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)));
    });
  } finally {
    clearTimeout(timer);
    await worker.terminate();
  }
}
