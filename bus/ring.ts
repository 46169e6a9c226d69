/**
 * A growable ring buffer: O(1) push, shift and bulk take, without the O(n) `Array.prototype.shift`.
 *
 * @module
 */

/** FIFO queue over a power-of-two circular array. */
export class Ring<T> {
  #buf: (T | undefined)[];
  #head = 0;
  #len = 0;
  #mask: number;

  constructor(initial = 16) {
    let cap = 16;
    while (cap < initial) cap *= 2;
    this.#buf = new Array(cap);
    this.#mask = cap - 1;
  }

  /** Items queued. */
  get length(): number {
    return this.#len;
  }

  /** Appends an item. */
  push(item: T): void {
    if (this.#len > this.#mask) this.#grow();
    this.#buf[(this.#head + this.#len) & this.#mask] = item;
    this.#len++;
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.#len === 0 ? undefined : this.#buf[this.#head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#len === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#len--;
    return item;
  }

  /** Removes up to `max` oldest items into `out`. */
  takeInto(out: T[], max: number): void {
    const n = Math.min(max, this.#len);
    for (let i = 0; i < n; i++) {
      out.push(this.#buf[this.#head] as T);
      this.#buf[this.#head] = undefined;
      this.#head = (this.#head + 1) & this.#mask;
    }
    this.#len -= n;
  }

  /** Removes everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    this.takeInto(out, this.#len);
    return out;
  }

  #grow(): void {
    const old = this.#buf;
    const cap = old.length * 2;
    const buf: (T | undefined)[] = new Array(cap);
    for (let i = 0; i < this.#len; i++) buf[i] = old[(this.#head + i) & this.#mask];
    this.#buf = buf;
    this.#head = 0;
    this.#mask = cap - 1;
  }
}
