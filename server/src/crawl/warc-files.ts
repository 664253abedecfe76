/**
 * Where a crawl's WARC files are and what they are called, `<crawlId>-<n>.warc.gz`: read by the
 * daemon (crawl/get) without loading the writer (warc.ts, warcio), which runs on its own thread.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WarcFile } from '../protocol';

/** `n` of a crawl's `<crawlId>-<n>.warc.gz`, or null for any other name. */
export function fileIndex(crawlId: string, name: string): number | null {
  if (!name.startsWith(`${crawlId}-`) || !name.endsWith('.warc.gz')) return null;
  const n = name.slice(crawlId.length + 1, -'.warc.gz'.length);
  return /^\d{5,}$/.test(n) ? Number(n) : null;
}

/** The file names of a crawl among `names`, oldest first. */
export function crawlFiles(names: readonly string[], crawlId: string): string[] {
  return names.filter((n) => fileIndex(crawlId, n) !== null).sort((a, b) => fileIndex(crawlId, a)! - fileIndex(crawlId, b)!);
}

/** The name of a crawl's file after `taken` (the indexes of those there). */
export function nextFileName(crawlId: string, taken: readonly number[]): string {
  return `${crawlId}-${String(Math.max(0, ...taken) + 1).padStart(5, '0')}.warc.gz`;
}

/** A crawl's WARC files, oldest first, with their sizes now. */
export async function warcFiles(dir: string, crawlId: string): Promise<WarcFile[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = await Promise.all(
    crawlFiles(names, crawlId).map(async (name) => {
      const file = path.join(dir, name);
      // One removed meanwhile (by hand) is left out.
      const stat = await fs.promises.stat(file).catch(() => null);
      return stat && { path: file, bytes: stat.size };
    }),
  );
  return files.filter((f) => f !== null);
}
