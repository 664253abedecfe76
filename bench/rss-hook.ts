/**
 * Preloaded (`node --require`) into a command the benchmark runs as it is, such as `crawlctl
 * export`: writes the process's peak RSS to $BENCH_RSS_FILE as it exits. The kernel's high-water
 * mark, so no peak between samples is missed, and the command itself is not changed.
 */
import * as fs from 'node:fs';
import { highWaterKb } from './measure';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => {
    fs.writeFileSync(file, JSON.stringify({ maxRssKb: highWaterKb() }));
  });
}
