/**
 * The bounded queue behind every fan-out subscriber and group member ({@link QueueBase}): a ring buffer
 * with one waiting reader, batch and iterator reads, and `interrupt()`. Also the queue options check and
 * {@link QueueHost}, what subscribers and groups call back on the bus that feeds them.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { Group } from "./group.ts";
import type { Msg } from "./message.ts";
import { Ring } from "./ring.ts";
import type { FanoutSub } from "./subscriber.ts";
import type { BusMessage, OverflowPolicy } from "./types.ts";

/** Default queue bound. */
export const DEFAULT_MAXSIZE = 1000;

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ["dlq", "block", "drop-oldest"];

/** What subscribers and groups call back on the bus that feeds them (the LocalBus). */
export interface QueueHost {
  /** Emits a rate-limited backpressure event. */
  backpressure(
    topic: string,
    group: string | null,
    qsize: number,
    maxsize: number,
    policy: OverflowPolicy,
  ): void;
  /** Dead-letters a message (never blocks). */
  deadLetter(msg: Msg, group: string | null, reason: string, attempts: number, error: string | null): void;
  /** A subscriber closed. */
  removeSubscriber(sub: FanoutSub<unknown>): void;
  /** A group lost its last member. */
  removeGroup(group: Group): void;
}

/** A publish waiting for room (`block` policy). */
export interface Blocked {
  msg: Msg;
  resolve: () => void;
}

/** Throws a UserError for a bad queue bound or overflow policy. */
export function checkOptions(maxsize: number, overflow: string): void {
  if (!Number.isInteger(maxsize) || maxsize < 1) {
    throw new UserError(`maxsize must be a whole number ≥ 1, got ${maxsize}`);
  }
  if (!OVERFLOW_POLICIES.includes(overflow as OverflowPolicy)) {
    throw new UserError(`unknown overflow policy '${overflow}': use ${OVERFLOW_POLICIES.join(", ")}`);
  }
}

export abstract class QueueBase<T> {
  readonly topic: string;
  readonly maxsize: number;
  readonly policy: OverflowPolicy;
  /** Internal: the queue. */
  q = new Ring<Msg>();
  /** Internal: handed to the consumer. */
  delivered = 0;
  /** Internal: dead-lettered or dropped. */
  dropped = 0;
  /** Internal: closed flag. */
  isClosed = false;
  #waiter: (() => void) | null = null;
  #interrupted = false;

  constructor(topic: string, maxsize: number, policy: OverflowPolicy) {
    this.topic = topic;
    this.maxsize = maxsize;
    this.policy = policy;
  }

  get size(): number {
    return this.q.length;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Internal: wakes a waiting consumer. */
  wake(): void {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w();
    }
  }

  /** `Subscription.interrupt` (bus/types.ts): a pending (or the next) `nextBatch` returns `[]`; nothing closes. */
  interrupt(): void {
    this.#interrupted = true;
    this.wake();
  }

  /** Internal: hook before taking (auto-ack in groups). */
  protected beforeTake(): void {}
  /** Internal: hook after taking (move to in-flight, refill blocked). */
  protected abstract afterTake(batch: Msg[]): void;

  async nextBatch(max = 1000): Promise<BusMessage<T>[]> {
    this.beforeTake();
    while (this.q.length === 0) {
      if (this.isClosed || this.#interrupted) {
        this.#interrupted = false;
        return [];
      }
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
    const out: Msg[] = [];
    this.q.takeInto(out, Math.max(1, max));
    this.delivered += out.length;
    this.afterTake(out);
    return out as BusMessage<T>[];
  }

  next(): Promise<IteratorResult<BusMessage<T>>> {
    this.beforeTake();
    if (this.q.length > 0) {
      const msg = this.q.shift()!;
      this.delivered++;
      this.afterTake([msg]);
      return Promise.resolve({ done: false, value: msg as BusMessage<T> });
    }
    if (this.isClosed) return Promise.resolve({ done: true, value: undefined });
    return new Promise<void>((resolve) => (this.#waiter = resolve)).then(() => this.next());
  }

  return(): Promise<IteratorResult<BusMessage<T>>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterator<BusMessage<T>> {
    return this;
  }

  abstract close(): void;
}
