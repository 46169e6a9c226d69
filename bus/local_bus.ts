/**
 * LocalBus: the in-process bus. Fan-out subscribers each get every message through a bounded queue;
 * consumer groups hand each message to exactly one live member (the one with the most free room,
 * round-robin among ties), track what members hold unacknowledged, and give it to the others when a member
 * leaves. Full queues follow the subscriber's overflow policy (`dlq`, `block`, `drop-oldest`), emitting
 * rate-limited `agent.backpressure` events; dead letters go to a {@link DeadLetterSink} and are published on
 * `agent.deadletter` without ever blocking. Durable topics are delegated to a {@link DurableStore}.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { DeadLetterInput, DeadLetterSink } from "./dlq.ts";
import type { DurableStore } from "./durable.ts";
import { assertJsonValue } from "./json_check.ts";
import { Msg } from "./message.ts";
import { assertTopic, compilePattern, isPattern } from "./pattern.ts";
import { Ring } from "./ring.ts";
import { startConsumer } from "./consume.ts";
import { startWorkerGroup } from "./workers.ts";
import type {
  BackpressureEvent,
  Bus,
  BusMessage,
  BusMetrics,
  ConsumeOptions,
  Consumer,
  GroupMember,
  GroupMetrics,
  GroupOptions,
  OverflowPolicy,
  PublishOptions,
  SpawnGroupOptions,
  SubscribeOptions,
  SubscriberMetrics,
  Subscription,
  TopicConfig,
  WorkerGroup,
} from "./types.ts";

/** Topic of backpressure events. */
export const BACKPRESSURE_TOPIC = "agent.backpressure";
/** Topic dead-letter records are published on. */
export const DEADLETTER_TOPIC = "agent.deadletter";
/** Default queue bound. */
export const DEFAULT_MAXSIZE = 1000;
/** Redeliveries of one message within a group (nack or member crash) before it is dead-lettered. */
export const MAX_REDELIVERIES = 10;
const BACKPRESSURE_INTERVAL_MS = 1000;

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ["dlq", "block", "drop-oldest"];

/** What consumers and worker groups need from a bus (the LocalBus and the Kafka backend). */
export interface BusHost {
  subscribe<T = unknown>(topic: string, options?: SubscribeOptions): Subscription<T>;
  subscribeGroup<T = unknown>(topic: string, group: string, options?: GroupOptions): GroupMember<T>;
  deadLetterRecord(input: DeadLetterInput): void;
  metrics(): BusMetrics;
}

/** Something that receives every published message (mirror to Kafka). */
export interface PublishTap {
  /** Called for every message published on this bus (never blocks; failures are dead-lettered by the tap). */
  send(topic: string, value: unknown, key: string | null, headers: Record<string, string> | null): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface Blocked {
  msg: Msg;
  resolve: () => void;
}

function checkOptions(maxsize: number, overflow: string): void {
  if (!Number.isInteger(maxsize) || maxsize < 1) {
    throw new UserError(`maxsize must be a whole number ≥ 1, got ${maxsize}`);
  }
  if (!OVERFLOW_POLICIES.includes(overflow as OverflowPolicy)) {
    throw new UserError(`unknown overflow policy '${overflow}': use ${OVERFLOW_POLICIES.join(", ")}`);
  }
}

/** Shared queue logic of fan-out subscribers and group members. */
abstract class QueueBase<T> {
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

  /** Internal: makes a pending (or the next) `nextBatch` return `[]` without closing. */
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
    return out as unknown as BusMessage<T>[];
  }

  next(): Promise<IteratorResult<BusMessage<T>>> {
    this.beforeTake();
    if (this.q.length > 0) {
      const msg = this.q.shift()!;
      this.delivered++;
      this.afterTake([msg]);
      return Promise.resolve({ done: false, value: msg as unknown as BusMessage<T> });
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

/** A fan-out subscriber. */
class FanoutSub<T> extends QueueBase<T> implements Subscription<T> {
  readonly #bus: LocalBus;
  readonly matcher: ((t: string) => boolean) | null;
  /** Internal: publishes waiting for room (`block`). */
  blocked: Blocked[] = [];

  readonly #detached: boolean;

  constructor(bus: LocalBus, topic: string, maxsize: number, policy: OverflowPolicy, detached = false) {
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

/** A member of a consumer group. */
class Member<T> extends QueueBase<T> implements GroupMember<T> {
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

  ack(messages: BusMessage<T> | BusMessage<T>[]): void {
    const list = (Array.isArray(messages) ? messages : [messages]) as unknown as Msg[];
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
    const m = message as unknown as Msg;
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

/** A consumer group on one topic. */
export class Group {
  readonly topic: string;
  readonly name: string;
  readonly policy: OverflowPolicy;
  readonly bus: LocalBus;
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

  constructor(bus: LocalBus, topic: string, name: string, policy: OverflowPolicy, detached = false) {
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

/** Per-topic state. */
interface TopicState {
  name: string;
  published: number;
  seq: number;
  durable: boolean;
  /** Exact-topic fan-out subscribers. */
  subs: FanoutSub<unknown>[];
  /** Exact plus matching pattern subscribers; null when it must be recomputed. */
  receivers: FanoutSub<unknown>[] | null;
  groups: Map<string, Group>;
  groupList: Group[];
}

/** Options for {@link LocalBus}. */
export interface LocalBusOptions {
  /** Workspace (for durable topics and the DLQ files), or null. */
  workspace: string | null;
  /** Where dead letters go. */
  dlq: DeadLetterSink;
  /** Durable topic storage, when there is a workspace. */
  durable?: DurableStore | null;
}

/** The in-process bus. Normally created by `startBus`. */
export class LocalBus implements Bus {
  /** `local`, or `mirror` when a Kafka mirror tap is attached. */
  backend: "local" | "mirror" = "local";
  readonly workspace: string | null;
  readonly dlq: DeadLetterSink;
  readonly durableStore: DurableStore | null;
  #topics = new Map<string, TopicState>();
  #patternSubs: FanoutSub<unknown>[] = [];
  #bpState = new Map<string, { last: number; suppressed: number }>();
  #taps: PublishTap[] = [];
  #closed = false;
  #closers: (() => Promise<void> | void)[] = [];

  constructor(options: LocalBusOptions) {
    this.workspace = options.workspace;
    this.dlq = options.dlq;
    this.durableStore = options.durable ?? null;
  }

  /** Adds a tap that sees every published message (the Kafka mirror). */
  addTap(tap: PublishTap): void {
    this.#taps.push(tap);
  }

  #topic(name: string): TopicState {
    let t = this.#topics.get(name);
    if (t === undefined) {
      assertTopic(name);
      t = {
        name,
        published: 0,
        seq: 0,
        durable: this.durableStore?.isDurable(name) ?? false,
        subs: [],
        receivers: null,
        groups: new Map(),
        groupList: [],
      };
      this.#topics.set(name, t);
    }
    return t;
  }

  #receivers(t: TopicState): FanoutSub<unknown>[] {
    const r = [...t.subs];
    for (const p of this.#patternSubs) if (p.matcher!(t.name)) r.push(p);
    t.receivers = r;
    return r;
  }

  /** True when the topic is durable. */
  isDurable(topic: string): boolean {
    // Asking must not create the topic (it would show in metrics with nothing published).
    const t = this.#topics.get(topic);
    return t !== undefined ? t.durable : (this.durableStore?.isDurable(topic) ?? false);
  }

  /** See {@link Bus.hasReceivers}. */
  hasReceivers(topic: string): boolean {
    const t = this.#topics.get(topic);
    if (t !== undefined && (t.subs.length > 0 || t.groupList.length > 0)) return true;
    return this.#patternSubs.some((p) => p.matcher!(topic));
  }

  /** Marks a topic durable (or not) in this process. */
  setDurable(topic: string, durable: boolean): void {
    this.#topic(topic).durable = durable;
  }

  /** See {@link Bus.publish}. */
  publish(topic: string, message: unknown, options?: PublishOptions): void | Promise<void> {
    if (this.#closed) throw new UserError(`cannot publish on '${topic}': the bus is closed`);
    const t = this.#topic(topic);
    assertJsonValue(topic, message);
    const key = options?.key ?? null;
    const headers = options?.headers ?? null;
    t.published++;
    for (const tap of this.#taps) tap.send(topic, message, key, headers);
    if (t.durable && this.durableStore !== null) {
      return this.durableStore.append(topic, message, key, headers);
    }
    return this.#dispatch(t, new Msg(topic, ++t.seq, key, headers, Date.now(), message, 1), false);
  }

  #dispatch(t: TopicState, msg: Msg, internal: boolean): void | Promise<void> {
    let waits: Promise<void>[] | null = null;
    const subs = t.receivers ?? this.#receivers(t);
    for (let i = 0; i < subs.length; i++) {
      const w = subs[i].offer(msg, internal);
      if (w !== undefined) (waits ??= []).push(w);
    }
    const groups = t.groupList;
    for (let i = 0; i < groups.length; i++) {
      const w = groups[i].offer(msg, internal);
      if (w !== undefined) (waits ??= []).push(w);
    }
    if (waits === null) return;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => {});
  }

  /**
   * Internal: delivers a committed durable message to in-process pattern subscribers (exact subscribers and
   * groups of durable topics read the log).
   */
  deliverDurableToPatterns(msg: Msg): void {
    for (const p of this.#patternSubs) {
      if (!p.isClosed && p.matcher!(msg.topic)) p.offer(msg, false);
    }
  }

  /** Publishes on an internal topic: never blocks, never dead-letters (a full subscriber just drops). */
  #publishInternal(topic: string, value: unknown): void {
    const t = this.#topic(topic);
    t.published++;
    for (const tap of this.#taps) tap.send(topic, value, null, null);
    this.#dispatch(t, new Msg(topic, ++t.seq, null, null, Date.now(), value, 1), true);
  }

  /** Internal: dead-letters a message (never blocks). */
  deadLetter(msg: Msg, group: string | null, reason: string, attempts: number, error: string | null): void {
    this.deadLetterRecord({
      topic: msg.topic,
      group,
      reason,
      message: msg.value,
      message_id: msg.id,
      key: msg.key,
      attempts,
      error,
    });
  }

  /** Internal: records a dead letter from a raw input (also used by consumers and the Kafka mirror). */
  deadLetterRecord(input: DeadLetterInput): void {
    this.dlq.add(input);
  }

  /** Internal: called by the DLQ sink for each record. */
  onDeadLetter(record: unknown): void {
    if (this.#closed) return;
    this.#publishInternal(DEADLETTER_TOPIC, record);
  }

  /** Internal: emits a rate-limited backpressure event. */
  backpressure(
    topic: string,
    group: string | null,
    qsize: number,
    maxsize: number,
    policy: OverflowPolicy,
  ): void {
    if (topic === BACKPRESSURE_TOPIC || topic === DEADLETTER_TOPIC) return;
    const k = group === null ? topic : `${topic}\0${group}`;
    let s = this.#bpState.get(k);
    if (s === undefined) {
      s = { last: 0, suppressed: 0 };
      this.#bpState.set(k, s);
    }
    const now = Date.now();
    if (now - s.last < BACKPRESSURE_INTERVAL_MS) {
      s.suppressed++;
      return;
    }
    const event: BackpressureEvent = {
      ts: now / 1000,
      topic,
      group,
      qsize,
      maxsize,
      policy,
      suppressed: s.suppressed,
    };
    s.last = now;
    s.suppressed = 0;
    this.#publishInternal(BACKPRESSURE_TOPIC, event);
  }

  /** See {@link Bus.subscribe}. */
  subscribe<T = unknown>(topic: string, options: SubscribeOptions = {}): Subscription<T> {
    const maxsize = options.maxsize ?? DEFAULT_MAXSIZE;
    const policy = options.overflow ?? "dlq";
    checkOptions(maxsize, policy);
    const sub = new FanoutSub<T>(this, topic, maxsize, policy);
    if (sub.matcher !== null) {
      this.#patternSubs.push(sub as FanoutSub<unknown>);
      for (const t of this.#topics.values()) t.receivers = null;
      return sub;
    }
    const t = this.#topic(topic);
    if (t.durable && this.durableStore !== null) {
      this.durableStore.attachSubscriber(sub as FanoutSub<unknown>);
      return sub;
    }
    t.subs.push(sub as FanoutSub<unknown>);
    t.receivers = null;
    return sub;
  }

  /** Internal: a fan-out subscriber fed by the durable log (counted in metrics). */
  trackDurableSubscriber(sub: FanoutSub<unknown>): void {
    const t = this.#topic(sub.topic);
    t.subs.push(sub);
    t.receivers = null;
  }

  /** Internal. */
  removeSubscriber(sub: FanoutSub<unknown>): void {
    if (sub.matcher !== null) {
      this.#patternSubs = this.#patternSubs.filter((s) => s !== sub);
      for (const t of this.#topics.values()) t.receivers = null;
      return;
    }
    const t = this.#topics.get(sub.topic);
    if (t === undefined) return;
    t.subs = t.subs.filter((s) => s !== sub);
    t.receivers = null;
  }

  /** See {@link Bus.subscribeGroup}. */
  subscribeGroup<T = unknown>(topic: string, group: string, options: GroupOptions = {}): GroupMember<T> {
    if (isPattern(topic)) {
      throw new UserError(`consumer groups need a concrete topic, not the pattern '${topic}'`);
    }
    if (typeof group !== "string" || group.length === 0) throw new UserError("a consumer group needs a name");
    const maxsize = options.maxsize ?? DEFAULT_MAXSIZE;
    const policy = options.overflow ?? "dlq";
    checkOptions(maxsize, policy);
    const t = this.#topic(topic);
    let g = t.groups.get(group);
    if (g === undefined) {
      g = new Group(this, topic, group, policy);
      t.groups.set(group, g);
      if (t.durable && this.durableStore !== null) {
        this.durableStore.attachGroup(g, options.from ?? "earliest");
      } else {
        t.groupList.push(g);
      }
    }
    const m = new Member<T>(g, maxsize, options.ack === "manual");
    g.addMember(m as Member<unknown>);
    return m;
  }

  /**
   * Internal (Kafka backend): a subscriber that no topic feeds; the caller offers messages to it. Blocks
   * instead of dead-lettering when full (the broker keeps the backlog).
   */
  detachedSubscriber<T>(topic: string, maxsize: number): FanoutSub<T> {
    checkOptions(maxsize, "block");
    return new FanoutSub<T>(this, `${topic}`, maxsize, "block", true);
  }

  /** Internal (Kafka backend): a one-member group that no topic feeds. */
  detachedMember<T>(
    topic: string,
    group: string,
    options: GroupOptions,
  ): { group: Group; member: Member<T> } {
    const maxsize = options.maxsize ?? DEFAULT_MAXSIZE;
    checkOptions(maxsize, "block");
    const g = new Group(this, topic, group, "block", true);
    const m = new Member<T>(g, maxsize, options.ack === "manual");
    g.addMember(m as Member<unknown>);
    return { group: g, member: m };
  }

  /** Internal. */
  removeGroup(g: Group): void {
    const t = this.#topics.get(g.topic);
    if (t === undefined) return;
    t.groups.delete(g.name);
    t.groupList = t.groupList.filter((x) => x !== g);
  }

  /** See {@link Bus.consume}. */
  consume<T = unknown>(options: ConsumeOptions<T>): Consumer {
    return startConsumer(this, options);
  }

  /** See {@link Bus.spawnGroup}. */
  spawnGroup(topic: string, group: string, url: string | URL, options: SpawnGroupOptions = {}): WorkerGroup {
    return startWorkerGroup(this, topic, group, url, options);
  }

  /** See {@link Bus.configureTopic}. */
  async configureTopic(topic: string, config: TopicConfig): Promise<void> {
    assertTopic(topic);
    if (config.durable) {
      if (this.durableStore === null) {
        throw new UserError(`topic '${topic}' cannot be durable: the bus was started without a workspace`);
      }
      await this.durableStore.declare(topic, config);
      this.setDurable(topic, true);
    } else if (config.durable === false) {
      this.setDurable(topic, false);
      await this.durableStore?.undeclare(topic);
    }
  }

  /** The metrics snapshot. */
  metrics(): BusMetrics {
    const out: BusMetrics = { topics: {}, groups: {}, dlq: { total: 0, by_topic: {}, last_ts: null } };
    for (const t of this.#topics.values()) {
      out.topics[t.name] = {
        published: t.published,
        durable: t.durable,
        subscribers: (t.receivers ?? this.#receivers(t)).map((s) => s.metrics()),
      };
      if (t.groups.size > 0) {
        const gs: Record<string, GroupMetrics> = {};
        for (const g of t.groups.values()) gs[g.name] = g.metrics();
        out.groups[t.name] = gs;
      }
    }
    this.dlq.maybeRefresh();
    const { unwritten: _unwritten, ...summary } = this.dlq.summary();
    out.dlq = summary;
    return out;
  }

  /** Waits for durable writes, dead letters and taps. */
  async flush(): Promise<void> {
    await this.durableStore?.flush();
    for (const tap of this.#taps) await tap.flush();
    await this.dlq.flush();
  }

  /** Runs `fn` first when the bus closes (metrics writer, event routing). */
  onClose(fn: () => Promise<void> | void): void {
    this.#closers.push(fn);
  }

  /** Closes every subscription and group, flushes, stops durable readers and taps. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const fn of this.#closers.splice(0)) await fn();
    await this.flush();
    for (const t of this.#topics.values()) {
      for (const s of [...t.subs]) s.close();
      for (const g of [...t.groups.values()]) for (const m of [...g.members]) m.close();
    }
    for (const p of [...this.#patternSubs]) p.close();
    this.#closed = true;
    await this.durableStore?.close();
    for (const tap of this.#taps) await tap.close();
    await this.dlq.flush();
  }

  /** True after close. */
  get closed(): boolean {
    return this.#closed;
  }
}

export type { FanoutSub, Member };
