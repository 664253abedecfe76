/**
 * Which seed file last started which crawl, so a file's hints follow its crawl across daemon
 * restarts. A small JSON file in the state folder; file URIs are only keys, never opened.
 */
import * as fs from 'node:fs';
import type { Logger } from '../../core/scheduler';
import { writeFileAtomic } from '../process/paths';

/** Seed files remembered; the least recently started are forgotten first. */
const MAX_ENTRIES = 1000;

export class SeedMap {
  private entries: Map<string, string> | null = null;
  private readonly listeners = new Set<(uri: string) => void>();

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  get(uri: string): string | null {
    return this.load().get(uri) ?? null;
  }

  set(uri: string, crawlId: string): void {
    const entries = this.load();
    entries.delete(uri);
    entries.set(uri, crawlId);
    while (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
    try {
      writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(entries), null, 1));
    } catch (err) {
      this.log('warn', `could not remember seed file crawls in ${this.file}: ${(err as Error).message}`);
    }
    for (const l of this.listeners) l(uri);
  }

  onChange(listener: (uri: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private load(): Map<string, string> {
    if (this.entries) return this.entries;
    this.entries = new Map();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return this.entries; // Never written yet.
    }
    try {
      const obj = JSON.parse(text) as unknown;
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        for (const [uri, id] of Object.entries(obj)) if (typeof id === 'string') this.entries.set(uri, id);
      }
    } catch {
      this.log('warn', `${this.file} is not valid JSON; starting a new one`);
    }
    return this.entries;
  }
}
