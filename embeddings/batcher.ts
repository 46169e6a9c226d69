/**
 * Dynamic batching for an embedding model: requests that arrive together are merged into one model call
 * (up to `maxBatch` texts, waiting at most `maxWaitMs` for companions when the model is idle, or less once
 * as many requests wait as went into the previous call), and the vectors are split back per request — the
 * scheme text-embeddings-inference and Triton use. A call starts at the end of the event loop's turn, so it
 * takes every request that turn read. While a call runs, new requests queue up and go in the next call as
 * soon as it ends (they have already waited). The queue is bounded in texts: past `maxQueue` a submit fails
 * at once with {@link QueueFullError} (the server answers 503 + `Retry-After`), so memory never grows
 * without bound. With `batching: false` every request is its own model call (in slices of `maxBatch`), one
 * at a time: the baseline the benchmark compares with.
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** The queue is full: retry after `retryAfterSec`. */
export class QueueFullError extends Error {
  /** Suggested wait before retrying, in whole seconds. */
  readonly retryAfterSec: number;
  constructor(message: string, retryAfterSec: number) {
    super(message);
    this.name = "QueueFullError";
    this.retryAfterSec = retryAfterSec;
  }
}

/** Options for {@link createBatcher}. */
export interface BatcherOptions {
  /** Texts per model call (default 64). */
  maxBatch?: number;
  /** How long an idle model waits for more requests before running a partial batch (default 5 ms). */
  maxWaitMs?: number;
  /** Texts that may wait in the queue (default 4096). */
  maxQueue?: number;
  /** Merge requests (default true). */
  batching?: boolean;
  /** Model calls in flight at once (default 1: a local model already uses every core). */
  concurrency?: number;
  /** Called after each model call with its size and duration. */
  onBatch?: (size: number, ms: number, ok: boolean) => void;
}

/** A batching front of one model. */
export interface Batcher {
  /** Embeds `texts` (in order); rejects with {@link QueueFullError} when the queue is full. */
  submit(texts: string[]): Promise<Float32Array[]>;
  /** Texts waiting (not yet in a model call). */
  readonly depth: number;
  /** Model calls running. */
  readonly running: number;
  /** Rejects everything queued and stops taking requests. */
  close(): void;
}

interface Item {
  texts: string[];
  /** Next text index not yet handed to a model call. */
  next: number;
  /** Texts whose vectors arrived. */
  done: number;
  out: Float32Array[];
  failed: boolean;
  resolve(v: Float32Array[]): void;
  reject(err: unknown): void;
}

/**
 * Creates a batcher around `embed` (one model call for the texts given).
 *
 * @example
 * ```ts
 * const b = createBatcher((texts) => embedder.embed(texts), { maxBatch: 64, maxWaitMs: 5 });
 * const [v] = await b.submit(["hello"]);
 * ```
 */
export function createBatcher(
  embed: (texts: string[]) => Promise<Float32Array[]>,
  options: BatcherOptions = {},
): Batcher {
  const maxBatch = Math.max(1, options.maxBatch ?? 64);
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 5);
  const maxQueue = Math.max(1, options.maxQueue ?? 4096);
  const batching = options.batching ?? true;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const queue: Item[] = [];
  let depth = 0;
  let running = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * When a partial batch that is waiting for companions must run (`performance.now()` ms; 0: none waits).
   * A batch that fills up runs at once and only clears this: the timer is left to lapse instead of being
   * cleared and set again for every call (setTimeout and clearTimeout cost more than a one-text call of a
   * small model, and a busy server waits and stops waiting hundreds of times a second).
   */
  let waitUntil = 0;
  /** A call starts at the end of this turn of the event loop ({@link startSoon}). */
  let starting = false;
  let closed = false;
  /** Mean milliseconds per text of recent calls (for Retry-After). */
  let msPerText = 1;
  /** Requests in the last model call: how many clients are likely to come back together. */
  let lastRequests = 0;

  const take = (): { item: Item; from: number; to: number }[] => {
    const parts: { item: Item; from: number; to: number }[] = [];
    let room = maxBatch;
    while (queue.length > 0 && room > 0) {
      const item = queue[0];
      const n = Math.min(room, item.texts.length - item.next);
      parts.push({ item, from: item.next, to: item.next + n });
      item.next += n;
      room -= n;
      depth -= n;
      if (item.next === item.texts.length) queue.shift();
      if (!batching) break; // one request per call
    }
    return parts;
  };

  const onTimer = () => {
    timer = null;
    if (waitUntil === 0 || closed) return; // the batch it was set for has run
    const left = waitUntil - performance.now();
    if (left > 0) {
      timer = setTimeout(onTimer, left); // set for an earlier wait: this one has time left
      return;
    }
    run();
    schedule(false);
  };

  const run = () => {
    waitUntil = 0;
    const parts = take();
    if (parts.length === 0) return;
    const texts: string[] = [];
    for (const p of parts) for (let i = p.from; i < p.to; i++) texts.push(p.item.texts[i]);
    lastRequests = parts.length;
    running++;
    const started = performance.now();
    let call: Promise<Float32Array[]>;
    try {
      call = embed(texts);
    } catch (err) {
      call = Promise.reject(err);
    }
    call.then((vectors) => {
      if (vectors.length !== texts.length) {
        throw new Error(`the model returned ${vectors.length} vectors for ${texts.length} texts`);
      }
      const ms = performance.now() - started;
      msPerText = 0.8 * msPerText + 0.2 * (ms / texts.length);
      options.onBatch?.(texts.length, ms, true);
      let k = 0;
      for (const p of parts) {
        for (let i = p.from; i < p.to; i++) p.item.out[i] = vectors[k++];
        p.item.done += p.to - p.from;
        if (!p.item.failed && p.item.done === p.item.texts.length) p.item.resolve(p.item.out);
      }
    }).catch((err) => {
      options.onBatch?.(texts.length, performance.now() - started, false);
      for (const p of parts) {
        if (p.item.failed) continue;
        p.item.failed = true;
        // Drop the rest of a failed request that is still queued.
        const at = queue.indexOf(p.item);
        if (at >= 0) {
          depth -= p.item.texts.length - p.item.next;
          queue.splice(at, 1);
        }
        p.item.reject(err);
      }
    }).finally(() => {
      running--;
      schedule(true);
    });
  };

  /** Starts calls while there is capacity; `afterCall`: queued requests already waited, run them now. */
  const schedule = (afterCall = false) => {
    if (starting) return; // the call about to start takes what is queued
    while (running < concurrency && queue.length > 0) {
      if (batching && !afterCall && depth < maxBatch && running === 0 && queue.length < lastRequests) {
        // Idle model, partial batch: give companions maxWaitMs to arrive — unless as many requests are
        // waiting as went into the last call (closed-loop clients are all back, or a lone client).
        if (waitUntil === 0) {
          waitUntil = performance.now() + maxWaitMs;
          timer ??= setTimeout(onTimer, maxWaitMs);
        }
        return;
      }
      if (batching && running > 0 && depth < maxBatch && !afterCall) return; // the next call takes them
      if (batching) {
        startSoon();
        return;
      }
      run();
    }
  };

  /**
   * Starts a call once the current turn of the event loop has dispatched every request it read: the call
   * then takes all of them. Run at once, a call took only the requests parsed so far, and under 64
   * closed-loop clients the server settled into two or three groups of 20–30 requests taking turns, each
   * paying a call's fixed cost (measured: 27 texts a call; with this, 64, and about a sixth less CPU a
   * request).
   */
  const startSoon = () => {
    if (starting) return;
    starting = true;
    setImmediate(() => {
      starting = false;
      if (closed) return;
      if (running < concurrency && queue.length > 0) run();
      schedule(false);
    });
  };

  return {
    submit(texts) {
      if (closed) return Promise.reject(new Error("the embedding server is shutting down"));
      if (texts.length === 0) return Promise.resolve([]);
      if (depth + texts.length > maxQueue) {
        const waitSec = Math.max(1, Math.ceil(((depth + texts.length) * msPerText) / 1000));
        return Promise.reject(
          new QueueFullError(
            `the embedding queue is full (${depth} texts waiting, limit ${maxQueue}); retry in ${waitSec} s`,
            waitSec,
          ),
        );
      }
      return new Promise<Float32Array[]>((resolve, reject) => {
        queue.push({ texts, next: 0, done: 0, out: new Array(texts.length), failed: false, resolve, reject });
        depth += texts.length;
        schedule(false);
      });
    },
    get depth() {
      return depth;
    },
    get running() {
      return running;
    },
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      waitUntil = 0;
      for (const item of queue.splice(0)) {
        item.failed = true;
        item.reject(new Error("the embedding server is shutting down"));
      }
      depth = 0;
    },
  };
}
