/**
 * Fan-out of KV streams to many live readers. One poll loop per stream (started by the first subscriber,
 * stopped with the last) reads new entries with `readStream` and hands each to every subscriber, so 200
 * open SSE clients cost one KV read per poll instead of 200.
 *
 * @module
 */

import { readStream, type StreamEntry, streamHead } from "../core/streams.ts";
import { sleep } from "../core/sleep.ts";

type Listener = (entry: StreamEntry) => void;

interface Loop {
  listeners: Set<Listener>;
  stop: AbortController;
  /** Resolves once the loop knows the stream head it starts after. */
  ready: Promise<void>;
  markReady: () => void;
}

/** A subscription to a {@link StreamHub}. */
export interface HubSubscription {
  /** Stops delivery. */
  unsubscribe(): void;
  /**
   * Resolves once the poll loop has read the stream head: every entry appended after that point is
   * delivered, so a reader that catches up from KV after `ready` misses nothing.
   */
  ready: Promise<void>;
}

/** Polls KV streams on behalf of many subscribers. */
export class StreamHub {
  #kv: () => Promise<Deno.Kv>;
  #pollMs: number;
  #loops = new Map<string, Loop>();
  #running = new Set<Promise<void>>();
  #closed = new AbortController();

  /** `kv` returns the handle to read (it may change when the active workspace changes). */
  constructor(kv: () => Promise<Deno.Kv>, options: { pollMs?: number } = {}) {
    this.#kv = kv;
    this.#pollMs = options.pollMs ?? 250;
  }

  /** Subscribes to entries appended from now on (see {@link HubSubscription.ready}). */
  subscribe(stream: string, listener: Listener): HubSubscription {
    let loop = this.#loops.get(stream);
    if (!loop) {
      let markReady!: () => void;
      const ready = new Promise<void>((r) => markReady = r);
      loop = { listeners: new Set(), stop: new AbortController(), ready, markReady };
      this.#loops.set(stream, loop);
      const running = this.#poll(stream, loop).finally(() => this.#running.delete(running));
      this.#running.add(running);
    }
    loop.listeners.add(listener);
    const current = loop;
    return {
      ready: current.ready,
      unsubscribe: () => {
        current.listeners.delete(listener);
        if (current.listeners.size === 0) {
          current.stop.abort();
          current.markReady();
          if (this.#loops.get(stream) === current) this.#loops.delete(stream);
        }
      },
    };
  }

  /** Aborted when the hub closes (the server switched workspaces or stops). */
  get closed(): AbortSignal {
    return this.#closed.signal;
  }

  /** Number of subscribers on a stream. */
  subscribers(stream: string): number {
    return this.#loops.get(stream)?.listeners.size ?? 0;
  }

  async #poll(stream: string, loop: Loop): Promise<void> {
    const signal = loop.stop.signal;
    try {
      let after: number;
      try {
        after = await streamHead(await this.#kv(), stream);
      } finally {
        loop.markReady();
      }
      while (!signal.aborted) {
        const page = await readStream(await this.#kv(), stream, { after, limit: 500 });
        for (const entry of page) {
          after = entry.seq;
          for (const fn of loop.listeners) fn(entry);
        }
        if (page.length < 500) await sleep(this.#pollMs, signal);
      }
    } catch (err) {
      if (!signal.aborted) console.error(`warning: stream ${stream} polling stopped: ${String(err)}`);
    }
  }

  /** Stops every loop and waits for them. */
  async close(): Promise<void> {
    this.#closed.abort();
    for (const loop of this.#loops.values()) loop.stop.abort();
    this.#loops.clear();
    await Promise.all([...this.#running]);
  }
}
