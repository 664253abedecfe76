/**
 * A map that holds at most about `max` entries, forgetting the least recently written first, in
 * two generations: new entries go to the young one; when it is full it becomes the old one and
 * the old one is dropped. Deleting a Map's first key to make room instead (`keys().next()`) walks
 * the holes earlier deletions left until V8 rehashes: past a 200,000-entry bound, 50,000 inserts
 * took 0.8 s, then up to 8.4 s.
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(key: K): V | undefined {
    return this.young.get(key) ?? this.old.get(key);
  }

  has(key: K): boolean {
    return this.young.has(key) || this.old.has(key);
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }
}

/**
 * A copy of `s` that keeps nothing else alive: V8 makes a slice of a string (a line of a document,
 * a page's text) a view that keeps the whole, so a key kept long is copied first. Prepending
 * flattens into a new string; the slice of it keeps that one.
 */
export function ownString(s: string): string {
  return ` ${s}`.slice(1);
}
