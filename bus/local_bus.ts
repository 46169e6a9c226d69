/**
 * LocalBus: the in-process bus. It owns the topics: a publish goes to every fan-out subscriber of the topic
 * and of each matching pattern (`bus/subscriber.ts`), and to every consumer group on it (`bus/group.ts`),
 * each through a bounded queue (`bus/queue.ts`). Full queues follow the subscriber's overflow policy (`dlq`,
 * `block`, `drop-oldest`), and the bus emits rate-limited `agent.backpressure` events; dead letters go to a
 * {@link DeadLetterSink} and are published on `agent.deadletter` without ever blocking. Durable topics are
 * delegated to a {@link DurableStore}; publish taps (the Kafka mirror) see every message.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { DeadLetterSink } from "./dlq.ts";
import type { DurableStore } from "./durable.ts";
import { Group, Member } from "./group.ts";
import { assertJsonValue } from "./json_check.ts";
import { Msg } from "./message.ts";
import { assertTopic, isPattern } from "./pattern.ts";
import { checkOptions, DEFAULT_MAXSIZE, type QueueHost } from "./queue.ts";
import { FanoutSub } from "./subscriber.ts";
import { startConsumer } from "./consume.ts";
import { startWorkerGroup } from "./workers.ts";
import type {
  BackpressureEvent,
  Bus,
  BusMetrics,
  ConsumeOptions,
  Consumer,
  DeadLetterInput,
  GroupMember,
  GroupMetrics,
  GroupOptions,
  OverflowPolicy,
  PublishOptions,
  PublishTap,
  SpawnGroupOptions,
  SubscribeOptions,
  Subscription,
  TopicConfig,
  WorkerGroup,
} from "./types.ts";

/** Topic of backpressure events. */
export const BACKPRESSURE_TOPIC = "agent.backpressure";
/** Topic dead-letter records are published on. */
export const DEADLETTER_TOPIC = "agent.deadletter";
const BACKPRESSURE_INTERVAL_MS = 1000;

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

export interface LocalBusOptions {
  /** Workspace (for durable topics and the DLQ files), or null. */
  workspace: string | null;
  /** Where dead letters go. */
  dlq: DeadLetterSink;
  /** Durable topic storage, when there is a workspace. */
  durable?: DurableStore | null;
}

/** The in-process bus. Normally created by `startBus`. */
export class LocalBus implements Bus, QueueHost {
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
