/**
 * What a process loaded from files, kept while those files are unchanged: the search indexes a session
 * searches again and again. A build writes new files and renames them into place, so a new inode, size or
 * modification time means "load again". A few keys at most (least recently used first out), so memory stays
 * bounded.
 *
 * @module
 */

/** Loaded values by key, each with the identity of the files it was loaded from. */
export class LoadedWhileUnchanged<T> {
  readonly #entries = new Map<string, { stamp: string; value: T }>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /**
   * The value loaded for `key` while none of `files` changed since, else `load()`'s (kept for next time when
   * not null). When a file cannot be stat'ed (none yet, or being replaced) `load()` answers and nothing is kept.
   */
  async get(key: string, files: readonly string[], load: () => Promise<T | null>): Promise<T | null> {
    let stamp: string;
    try {
      const infos = await Promise.all(files.map((f) => Deno.stat(f)));
      stamp = infos.map((i) => `${i.ino}:${i.size}:${i.mtime?.getTime()}`).join("|");
    } catch {
      this.#entries.delete(key);
      return load();
    }
    const hit = this.#entries.get(key);
    if (hit && hit.stamp === stamp) {
      this.#entries.delete(key); // most recently used last
      this.#entries.set(key, hit);
      return hit.value;
    }
    const value = await load();
    this.#entries.delete(key);
    if (value !== null) {
      this.#entries.set(key, { stamp, value });
      if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
    }
    return value;
  }

  /** Forgets what was loaded for `key` (found unreadable after it was kept). */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}
