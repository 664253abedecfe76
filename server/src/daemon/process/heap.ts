import * as v8 from 'node:v8';

/**
 * The daemon's V8 heap growth. By default V8 let the old generation grow to about 2.6 times what
 * survived the last full collection before it collected again (measured here). A crawl promotes a steady few MB/s
 * of short-lived objects (fetch and lease state), so a daemon with ~17 MB live let its old space
 * reach ~45 MB between collections: 155–160 MB peak RSS on the local-site benchmark. Growing by
 * 30% keeps the peak near 140 MB, at no cost in pages/s that the benchmark can see
 * (`node out/bench/run.js crawl`). --optimize-for-size went lower (120 MB) but cost 6–8% CPU.
 *
 * Set at start, before the daemon allocates much: V8 reads the flag at each collection.
 */
export const HEAP_FLAGS: readonly string[] = ['--heap-growing-percent=30'];

export function tuneHeap(): void {
  for (const flag of HEAP_FLAGS) v8.setFlagsFromString(flag);
}
