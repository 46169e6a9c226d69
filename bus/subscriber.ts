/**
 * A fan-out subscriber ({@link FanoutSub}): its own bounded queue of every message on a topic (or every
 * topic a pattern matches); a full queue follows the subscriber's overflow policy (`dlq`, `block`,
 * `drop-oldest`).
 *
 * @module
 */

import type { Msg } from "./message.ts";
import { compilePattern, isPattern } from "./pattern.ts";
import { type Blocked, QueueBase, type QueueHost } from "./queue.ts";
import { Ring } from "./ring.ts";
import type { OverflowPolicy, SubscriberMetrics, Subscription } from "./types.ts";

export class FanoutSub<T> extends QueueBase<T> implements Subscription<T> {
  readonly #bus: QueueHost;
  readonly matcher: ((t: string) => boolean) | null;
  /** Internal: publishes waiting for room (`block`). */
  blocked: Blocked[] = [];

  readonly #detached: boolean;

  constructor(bus: QueueHost, topic: string, maxsize: number, policy: OverflowPolicy, detached = false) {
    super(topic, maxsize, policy);
    this.#bus = bus;
    this.#detached = detached;
    this.matcher = !detached && isPattern(topic) ? compilePattern(topic) : null;
  }

  /** Internal: offers a message; returns a promise only when blocking. */
  offer(msg: Msg, internal: boolean): Promise<void> | undefined {
    if (this.isClosed) return;
    if (this.blocked.length > 0 && !internal) return this.#block(msg);
    if (this.q.length < this.maxsize) {
      this.q.push(msg);
      this.wake();
      return;
    }
    if (internal) {
      this.dropped++;
      return;
    }
    switch (this.policy) {
      case "block":
        this.#bus.backpressure(msg.topic, null, this.q.length, this.maxsize, this.policy);
        return this.#block(msg);
      case "drop-oldest": {
        const old = this.q.shift()!;
        this.dropped++;
        this.#bus.deadLetter(old, null, "dropped_oldest", 0, null);
        this.#bus.backpressure(msg.topic, null, this.maxsize, this.maxsize, this.policy);
        this.q.push(msg);
        this.wake();
        return;
      }
      default:
        this.dropped++;
        this.#bus.deadLetter(msg, null, "backpressure_full:subscriber", 0, null);
        this.#bus.backpressure(msg.topic, null, this.q.length, this.maxsize, this.policy);
        return;
    }
  }

  #block(msg: Msg): Promise<void> {
    return new Promise<void>((resolve) => this.blocked.push({ msg, resolve }));
  }

  protected override afterTake(): void {
    while (this.blocked.length > 0 && this.q.length < this.maxsize) {
      const b = this.blocked.shift()!;
      this.q.push(b.msg);
      b.resolve();
    }
  }

  metrics(): SubscriberMetrics {
    return { qsize: this.q.length, maxsize: this.maxsize, delivered: this.delivered, dropped: this.dropped };
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const b of this.blocked) b.resolve();
    this.blocked = [];
    this.q = new Ring<Msg>();
    if (!this.#detached) this.#bus.removeSubscriber(this);
    this.wake();
  }
}
