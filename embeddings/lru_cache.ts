/**
 * A bounded LRU cache of vectors keyed by `(model, key)`, with an optional time to live. Only successful
 * embeddings go in: a failure is never cached (the old worker cached empty vectors for the TTL). The embed
 * worker's key is the text itself when it is short, or its SHA-256 ({@link cacheSlot}).
 *
 * Layout, chosen for the garbage collector: each model has a map from key to a slot number and one
 * Float32Array holding every slot's vector (plus one Float64Array of insertion times), so a full cache is
 * a few large arrays instead of ten thousand small vectors and entry objects that every major collection
 * has to mark. `set` copies the vector in; `get` returns a copy (a slot is reused after an eviction).
 * A lookup hashes the key alone (no `model + key` string to build and hash), with {@link keyHash} in
 * JavaScript rather than by using the string as a Map key: V8's first hash of a fresh string (and every
 * text from the bus or a thread's message is one) cost 0.3–2.5 µs here, FNV-1a and a lookup by number
 * 0.2 µs. Each slot keeps its key, so a colliding key is a miss (and `set` gives it the slot), never a wrong
 * vector.
 *
 * The bound is on all entries together; a new entry evicts the least recently used entry of its own model
 * (of the fullest other model when its own has none).
 *
 * @module
 */

import { sha256Hex } from "./records.ts";

/** Texts up to this many characters are their own cache key; longer ones are keyed by their SHA-256. */
export const TEXT_KEY_CHARS = 256;

/**
 * Where a text's vector is cached for `model`: `[namespace, key]`. The key is the text itself when it is
 * short (exact, and a Map hashes a short string faster than SHA-256 runs: 2.6 µs a record), else its SHA-256
 * in a namespace of its own (bounded memory per entry, and a short text can never match a long one's hash).
 */
export function cacheSlot(model: string, text: string): [string, string] {
  return text.length > TEXT_KEY_CHARS ? [`${model}\u0000sha256`, sha256Hex(text)] : [model, text];
}

/**
 * FNV-1a over the UTF-16 units of `key`, cut to 30 bits (a small integer for V8, so a Map keyed by it
 * neither allocates nor hashes a string).
 */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 2;
}

interface Space {
  dim: number;
  /** keyHash(key) -> slot, least recently used first. */
  slots: Map<number, number>;
  /** slot -> its key (a colliding key is told apart here). */
  keys: string[];
  vectors: Float32Array;
  at: Float64Array;
  /** Slots handed out so far (the arrays hold `capacity` slots). */
  used: number;
  capacity: number;
  free: number[];
  /**
   * Walks the keys oldest first for eviction. One iterator per map: a fresh `keys()` per eviction starts at
   * the front of the table and steps over every slot deleted since the table was last compacted, which made
   * each eviction cost thousands of steps once the cache was full.
   */
  oldest: Iterator<number> | null;
}

/** The cache. */
export class VectorCache {
  #spaces = new Map<string, Space>();
  #size = 0;
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
    return this.#size;
  }

  /** A copy of the vector for `(model, key)`, refreshed as most recent; undefined on a miss or when expired. */
  get(model: string, key: string): Float32Array | undefined {
    const s = this.#max === 0 ? undefined : this.#spaces.get(model);
    if (s === undefined) {
      this.misses++;
      return undefined;
    }
    const h = keyHash(key);
    const slot = s.slots.get(h);
    if (slot === undefined || s.keys[slot] !== key) {
      this.misses++;
      return undefined;
    }
    if (this.#ttlMs > 0 && Date.now() - s.at[slot] > this.#ttlMs) {
      this.#drop(s, h, slot);
      this.misses++;
      return undefined;
    }
    s.slots.delete(h);
    s.slots.set(h, slot);
    this.hits++;
    return s.vectors.slice(slot * s.dim, (slot + 1) * s.dim);
  }

  /** Stores (a copy of) a successful vector; evicts the least recently used entry past the bound. */
  set(model: string, key: string, v: Float32Array): void {
    if (this.#max === 0 || v.length === 0) return;
    let s = this.#spaces.get(model);
    if (s && s.dim !== v.length) {
      // Another dimension under the same name (a model swapped in place): start this model over.
      this.#size -= s.slots.size;
      s = undefined;
    }
    if (!s) {
      s = this.#space(v.length);
      this.#spaces.set(model, s);
    }
    const h = keyHash(key);
    let slot = s.slots.get(h);
    if (slot !== undefined) s.slots.delete(h); // the same key, or one that collides: it takes the slot
    else {
      if (this.#size >= this.#max) this.#evict(s);
      slot = this.#slot(s);
      this.#size++;
    }
    s.slots.set(h, slot);
    s.keys[slot] = key;
    s.vectors.set(v, slot * s.dim);
    s.at[slot] = Date.now();
  }

  #space(dim: number): Space {
    const capacity = Math.min(this.#max, 64);
    return {
      dim,
      slots: new Map(),
      keys: [],
      vectors: new Float32Array(capacity * dim),
      at: new Float64Array(capacity),
      used: 0,
      capacity,
      free: [],
      oldest: null,
    };
  }

  /** A free slot of `s`, growing its arrays (doubling, up to the bound) when all are in use. */
  #slot(s: Space): number {
    const reused = s.free.pop();
    if (reused !== undefined) return reused;
    if (s.used === s.capacity) {
      const capacity = Math.min(this.#max, s.capacity * 2);
      const vectors = new Float32Array(capacity * s.dim);
      vectors.set(s.vectors);
      const at = new Float64Array(capacity);
      at.set(s.at);
      Object.assign(s, { vectors, at, capacity });
    }
    return s.used++;
  }

  #drop(s: Space, h: number, slot: number): void {
    s.slots.delete(h);
    s.keys[slot] = "";
    s.free.push(slot);
    this.#size--;
  }

  /** Makes room for one entry of `own`: its least recently used entry, or the fullest other model's. */
  #evict(own: Space): void {
    let from = own;
    if (own.slots.size === 0) {
      let best = 0;
      for (const other of this.#spaces.values()) {
        if (other.slots.size > best) {
          best = other.slots.size;
          from = other;
        }
      }
    }
    for (;;) {
      from.oldest ??= from.slots.keys();
      const next = from.oldest.next();
      if (next.done) {
        from.oldest = null; // walked to the end: start again from the (new) front
        continue;
      }
      this.#drop(from, next.value, from.slots.get(next.value)!);
      return;
    }
  }
}
