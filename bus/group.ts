/**
 * Consumer groups: a {@link Group} hands each message to exactly one live {@link Member} (the one with the
 * most free room, round-robin among ties), tracks what members hold unacknowledged, gives it to the others
 * when a member leaves or nacks, and dead-letters a message after {@link MAX_REDELIVERIES}. Durable topics
 * and the Kafka backend hook in through `onAck`, `onRoom`, `onEmpty` and `onCommit`.
 *
 * @module
 */

import type { Msg } from "./message.ts";
import { type Blocked, QueueBase, type QueueHost } from "./queue.ts";
import type { BusMessage, GroupMember, GroupMetrics, OverflowPolicy } from "./types.ts";

/** Redeliveries of one message within a group (nack or member crash) before it is dead-lettered. */
export const MAX_REDELIVERIES = 10;

export class Member<T> extends QueueBase<T> implements GroupMember<T> {
  readonly group: string;
  readonly #owner: Group;
  readonly #manual: boolean;
  /** Internal: auto mode, the last batch handed out (acked on the next take). */
  last: Msg[] = [];
  /** Internal: manual mode, handed out and not acknowledged. */
  inflight = new Set<Msg>();

  constructor(owner: Group, maxsize: number, manual: boolean) {
    super(owner.topic, maxsize, owner.policy);
    this.group = owner.name;
    this.#owner = owner;
    this.#manual = manual;
  }

  /** Internal: free room (queue plus unacknowledged). */
  get free(): number {
    return this.maxsize - this.q.length - (this.#manual ? this.inflight.size : this.last.length);
  }

  /** Internal: everything this member holds (unacked first, then queued). */
  holding(): Msg[] {
    const held = this.#manual ? [...this.inflight] : this.last;
    return [...held, ...this.q.drain()];
  }

  protected override beforeTake(): void {
    if (!this.#manual && this.last.length > 0) {
      const acked = this.last;
      this.last = [];
      this.#owner.acked(acked);
    }
  }

  protected override afterTake(batch: Msg[]): void {
    this.#owner.delivered += batch.length;
    if (this.#manual) { for (const m of batch) this.inflight.add(m); }
    else this.last = batch;
  }

  /** Internal: enqueue (room already checked by the group, or a redelivery). */
  push(msg: Msg): void {
    this.q.push(msg);
    this.wake();
  }

  /** Internal: drops the queued messages `which` selects (never what is handed out); how many. */
  dropQueued(which: (msg: Msg) => boolean): number {
    const all = this.q.drain();
    for (const m of all) if (!which(m)) this.q.push(m);
    return all.length - this.q.length;
  }

  ack(messages: BusMessage<T> | BusMessage<T>[]): void {
    const list = (Array.isArray(messages) ? messages : [messages]) as Msg[];
    const done: Msg[] = [];
    if (this.#manual) {
      for (const m of list) if (this.inflight.delete(m)) done.push(m);
    } else if (this.last.length > 0) {
      const set = new Set(list);
      this.last = this.last.filter((m) => (set.has(m) ? (done.push(m), false) : true));
    }
    if (done.length > 0) this.#owner.acked(done);
  }

  nack(message: BusMessage<T>): void {
    const m = message as Msg;
    if (this.#manual) {
      if (!this.inflight.delete(m)) return;
    } else {
      const i = this.last.indexOf(m);
      if (i < 0) return;
      this.last.splice(i, 1);
    }
    this.#owner.redeliver([m]);
  }

  commit(): Promise<void> {
    return this.#owner.onCommit?.() ?? Promise.resolve();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const held = this.holding();
    this.inflight.clear();
    this.last = [];
    this.#owner.removeMember(this, held);
    this.wake();
  }
}

export class Group {
  readonly topic: string;
  readonly name: string;
  readonly policy: OverflowPolicy;
  readonly bus: QueueHost;
  members: Member<unknown>[] = [];
  #rr = 0;
  blocked: Blocked[] = [];
  delivered = 0;
  ackedCount = 0;
  redelivered = 0;
  dropped = 0;
  /** Set for groups on durable topics: told about acks, and refilled from the log. */
  onAck: ((msgs: Msg[]) => void) | null = null;
  onRoom: (() => void) | null = null;
  onEmpty: (() => void) | null = null;
  onCommit: (() => Promise<void>) | null = null;
  lagOverride: (() => number) | null = null;

  readonly detached: boolean;

  constructor(bus: QueueHost, topic: string, name: string, policy: OverflowPolicy, detached = false) {
    this.bus = bus;
    this.topic = topic;
    this.name = name;
    this.policy = policy;
    this.detached = detached;
  }

  /** Free room summed over members. */
  get free(): number {
    let f = 0;
    for (const m of this.members) f += Math.max(0, m.free);
    return f;
  }

  #pick(): Member<unknown> | null {
    const ms = this.members;
    const n = ms.length;
    let best: Member<unknown> | null = null;
    let bestFree = 0;
    let bestIdx = 0;
    for (let i = 0; i < n; i++) {
      const idx = (this.#rr + i) % n;
      const m = ms[idx];
      const free = m.free;
      if (free > bestFree) {
        best = m;
        bestFree = free;
        bestIdx = idx;
      }
    }
    if (best !== null) this.#rr = (bestIdx + 1) % n;
    return best;
  }

  /** Offers a published message; returns a promise only when blocking. */
  offer(msg: Msg, internal: boolean): Promise<void> | undefined {
    if (this.blocked.length > 0 && !internal) return this.#block(msg);
    const m = this.#pick();
    if (m !== null) {
      m.push(msg);
      return;
    }
    if (internal) {
      this.dropped++;
      return;
    }
    const qsize = this.members.reduce((s, x) => s + x.maxsize - x.free, 0);
    const maxsize = this.members.reduce((s, x) => s + x.maxsize, 0);
    switch (this.policy) {
      case "block":
        this.bus.backpressure(msg.topic, this.name, qsize, maxsize, this.policy);
        return this.#block(msg);
      case "drop-oldest": {
        const victim = this.members.find((x) => x.q.length > 0);
        if (victim) {
          const old = victim.q.shift()!;
          this.dropped++;
          this.bus.deadLetter(old, this.name, "dropped_oldest", old.attempt - 1, null);
          this.bus.backpressure(msg.topic, this.name, qsize, maxsize, this.policy);
          victim.push(msg);
          return;
        }
        // Everything is in flight: nothing to drop, so the new message is the one dead-lettered.
        this.dropped++;
        this.bus.deadLetter(msg, this.name, "backpressure_full:group", 0, null);
        this.bus.backpressure(msg.topic, this.name, qsize, maxsize, this.policy);
        return;
      }
      default:
        this.dropped++;
        this.bus.deadLetter(msg, this.name, "backpressure_full:group", 0, null);
        this.bus.backpressure(msg.topic, this.name, qsize, maxsize, this.policy);
        return;
    }
  }

  /**
   * Internal (Kafka backend): hands `msg` to the member with the most room, or does nothing and returns
   * false when no member has room (or publishes are already waiting for it). Never blocks, never drops.
   */
  tryOffer(msg: Msg): boolean {
    if (this.blocked.length > 0) return false;
    const m = this.#pick();
    if (m === null) return false;
    m.push(msg);
    return true;
  }

  /**
   * Internal (Kafka backend): forgets the messages `which` selects among those queued and not yet handed out
   * (their partition went to another member at a rebalance); what members hold unacknowledged stays.
   * Returns how many were dropped.
   */
  dropQueued(which: (msg: Msg) => boolean): number {
    let n = 0;
    for (const m of this.members) n += m.dropQueued(which);
    if (n > 0) this.#refill();
    return n;
  }

  #block(msg: Msg): Promise<void> {
    return new Promise<void>((resolve) => this.blocked.push({ msg, resolve }));
  }

  /** Internal: members acknowledged these. */
  acked(msgs: Msg[]): void {
    this.ackedCount += msgs.length;
    this.onAck?.(msgs);
    this.#refill();
  }

  #refill(): void {
    while (this.blocked.length > 0) {
      const m = this.#pick();
      if (m === null) break;
      const b = this.blocked.shift()!;
      m.push(b.msg);
      b.resolve();
    }
    if (this.onRoom !== null && this.blocked.length === 0) this.onRoom();
  }

  /** Internal: gives messages back to the group (nack, member gone). */
  redeliver(msgs: Msg[]): void {
    for (const old of msgs) {
      if (old.attempt > MAX_REDELIVERIES) {
        this.dropped++;
        this.bus.deadLetter(old, this.name, "redelivery_limit", old.attempt, null);
        this.acked([old]); // settled: durable groups move their offset past it
        continue;
      }
      const msg = old.retry();
      this.redelivered++;
      if (this.members.length === 0) {
        this.#orphan(msg);
        continue;
      }
      // Prefer room; a redelivery may exceed maxsize (bounded by what the leaving member held).
      const m = this.#pick() ?? this.members[this.redelivered % this.members.length];
      m.push(msg);
    }
  }

  #orphan(msg: Msg): void {
    if (this.onAck !== null) return; // durable: still in the log past the committed offset
    this.dropped++;
    this.bus.deadLetter(msg, this.name, "group_closed_unacked", msg.attempt - 1, null);
  }

  addMember(m: Member<unknown>): void {
    this.members.push(m);
    this.#refill();
  }

  removeMember(m: Member<unknown>, held: Msg[]): void {
    this.members = this.members.filter((x) => x !== m);
    if (this.members.length === 0) {
      for (const b of this.blocked) {
        this.dropped++;
        this.bus.deadLetter(b.msg, this.name, "group_closed_unacked", 0, null);
        b.resolve();
      }
      this.blocked = [];
    }
    if (held.length > 0) this.redeliver(held);
    else this.#refill();
    if (this.members.length === 0) {
      if (!this.detached) this.bus.removeGroup(this);
      this.onEmpty?.();
    }
  }

  metrics(): GroupMetrics {
    let held = this.blocked.length;
    for (const m of this.members) held += m.maxsize - m.free;
    return {
      members: this.members.length,
      lag: this.lagOverride !== null ? this.lagOverride() : held,
      delivered: this.delivered,
      acked: this.ackedCount,
      redelivered: this.redelivered,
      dropped: this.dropped,
    };
  }
}
