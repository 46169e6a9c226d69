/**
 * A bounded LRU cache of vectors keyed by `(model, sha256(text))`, with an optional time to live. Only
 * successful embeddings go in: a failure is never cached (the old worker cached empty vectors for the TTL).
 *
 * @module
 */

/** The cache. */
export class VectorCache {
  #map = new Map<string, { v: Float32Array; at: number }>();
  #max: number;
  #ttlMs: number;
  hits = 0;
  misses = 0;

  /** `max` entries (0 disables), `ttlSec` seconds (0 = no expiry). */
  constructor(max: number, ttlSec = 0) {
    this.#max = Math.max(0, max);
    this.#ttlMs = Math.max(0, ttlSec) * 1000;
  }

  /** Entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The vector for `(model, hash)`, refreshed as most recent; undefined on a miss or when expired. */
  get(model: string, hash: string): Float32Array | undefined {
    if (this.#max === 0) return undefined;
    const key = model + "\u0000" + hash;
    const e = this.#map.get(key);
    if (!e || (this.#ttlMs > 0 && Date.now() - e.at > this.#ttlMs)) {
      if (e) this.#map.delete(key);
      this.misses++;
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, e);
    this.hits++;
    return e.v;
  }

  /** Stores a successful vector; evicts the least recently used entry past the bound. */
  set(model: string, hash: string, v: Float32Array): void {
    if (this.#max === 0 || v.length === 0) return;
    const key = model + "\u0000" + hash;
    this.#map.delete(key);
    this.#map.set(key, { v, at: Date.now() });
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }
}
