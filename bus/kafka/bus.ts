/**
 * The bus API with Kafka as the primary store ({@link startKafkaBus}, `DSPY_BUS=kafka`). Values are JSON
 * with keys and headers; a fan-out subscriber is a consumer with its own group; a consumer group maps to a
 * Kafka group; offsets are committed only after the messages were acknowledged; dead letters are kept
 * locally (KV and dlq.jsonl) and produced to `agent.deadletter`. An unreachable broker at start is an error.
 * Subscribers and group members are the LocalBus's queues, fed by kafkajs instead of a local topic. A group
 * member's consumer (rebalances, heartbeats while its queue is full, crash recovery) is in group_consumer.ts.
 *
 * @module
 */

import type { Consumer as KafkaConsumer, Kafka, Producer } from "kafkajs";
import { UserError } from "../../core/errors.ts";
import { startConsumer } from "../consume.ts";
import { DeadLetterSink } from "../dlq.ts";
import type { Group, Member } from "../group.ts";
import { assertJsonValue } from "../json_check.ts";
import { DEADLETTER_TOPIC, LocalBus } from "../local_bus.ts";
import { assertTopic, isPattern, patternRegExp } from "../pattern.ts";
import type { KafkaSettings } from "../start.ts";
import type {
  Bus,
  BusMetrics,
  ConsumeOptions,
  Consumer,
  DeadLetterInput,
  GroupMember,
  GroupMetrics,
  GroupOptions,
  PublishOptions,
  SpawnGroupOptions,
  SubscribeOptions,
  SubscriberMetrics,
  Subscription,
  TopicConfig,
  WorkerGroup,
} from "../types.ts";
import { startWorkerGroup } from "../workers.ts";
import { CONSUMER_TIMING, kafkaClient, unreachable } from "./client.ts";
import { startGroupConsumer } from "./group_consumer.ts";
import { KafkaMsg } from "./kafka_msg.ts";
import { toWire, type WireMessage } from "./wire.ts";

/** Options for {@link startKafkaBus}. */
export interface KafkaBusOptions {
  workspace: string | null;
  kafka: KafkaSettings;
}

/** Starts the Kafka-primary bus; throws a UserError when the broker cannot be reached. */
export async function startKafkaBus(options: KafkaBusOptions): Promise<KafkaBus> {
  const bus = new KafkaBus(options);
  await bus.connect();
  return bus;
}

interface PendingSend {
  topic: string;
  wire: WireMessage;
  value: unknown;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The bus API over Kafka. */
export class KafkaBus implements Bus {
  readonly backend = "kafka" as const;
  readonly workspace: string | null;
  readonly settings: KafkaSettings;
  readonly #inner: LocalBus;
  #kafka: Kafka | null = null;
  #producer: Producer | null = null;
  /** Kafka consumers (fan-out subscribers) and group consumers, disconnected at close. */
  #consumers = new Set<{ disconnect(): Promise<void> }>();
  #joins: Promise<void>[] = [];
  #published = new Map<string, number>();
  #subs: { topic: string; sub: Subscription; metrics: () => SubscriberMetrics }[] = [];
  #groups: { topic: string; group: Group }[] = [];
  #pending: PendingSend[] = [];
  #sending: Promise<void> | null = null;
  #scheduled = false;
  #closed = false;
  #tasks = new Set<Promise<unknown>>();
  #closers: (() => Promise<void> | void)[] = [];

  constructor(options: KafkaBusOptions) {
    this.workspace = options.workspace;
    this.settings = options.kafka;
    let self: KafkaBus | null = null;
    const dlq = new DeadLetterSink({
      workspace: options.workspace,
      onRecord: (r) => self !== null && self.#produceDeadLetter(r),
    });
    this.#inner = new LocalBus({ workspace: options.workspace, dlq });
    self = this;
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p)).catch(() => {});
    return p;
  }

  /** Connects the producer; a UserError says what to do when the broker is unreachable. */
  async connect(): Promise<void> {
    await this.#inner.dlq.loadSummary();
    this.#kafka = await kafkaClient(this.settings, 1);
    const producer = this.#kafka.producer({ allowAutoTopicCreation: true });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => {});
      throw new UserError(
        `${unreachable(this.settings, err)}. Start the broker or fix KAFKA_BOOTSTRAP_SERVERS; ` +
          `DSPY_BUS=local runs without Kafka and DSPY_BUS=mirror keeps working locally while retrying Kafka`,
      );
    }
    this.#producer = producer;
  }

  #name(topic: string): string {
    return this.settings.prefix + topic;
  }

  #unprefix(topic: string): string {
    return topic.startsWith(this.settings.prefix) ? topic.slice(this.settings.prefix.length) : topic;
  }

  #produceDeadLetter(record: unknown): void {
    if (this.#closed || this.#producer === null) return;
    const p = this.#producer.send({
      topic: this.#name(DEADLETTER_TOPIC),
      messages: [{ key: null, value: JSON.stringify(record) }],
    }).catch((err) =>
      console.error(`warning: could not produce a dead letter to Kafka: ${err?.message ?? err}`)
    );
    this.#track(p);
  }

  /** Resolves when every consumer started so far has joined its group (tests use it). */
  async whenReady(): Promise<void> {
    await Promise.all(this.#joins);
  }

  publish(topic: string, message: unknown, options?: PublishOptions): Promise<void> {
    if (this.#closed) throw new UserError(`cannot publish on '${topic}': the bus is closed`);
    assertTopic(topic);
    assertJsonValue(topic, message);
    this.#published.set(topic, (this.#published.get(topic) ?? 0) + 1);
    const wire = toWire(message, options?.key ?? null, options?.headers ?? null);
    const done = new Promise<void>((resolve, reject) =>
      this.#pending.push({ topic, wire, value: message, resolve, reject })
    );
    this.#schedule();
    return done;
  }

  #schedule(): void {
    if (this.#scheduled || this.#sending !== null) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#startSend();
    }, 0);
  }

  #startSend(): void {
    if (this.#sending !== null || this.#pending.length === 0) return;
    this.#sending = this.#sendAll().finally(() => {
      this.#sending = null;
      if (this.#pending.length > 0) this.#schedule();
    });
  }

  async #sendAll(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, 1000);
      const byTopic = new Map<string, WireMessage[]>();
      for (const p of batch) {
        const name = this.#name(p.topic);
        if (!byTopic.has(name)) byTopic.set(name, []);
        byTopic.get(name)!.push(p.wire);
      }
      try {
        await this.#producer!.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        for (const p of batch) p.resolve();
      } catch (err) {
        const reason = `kafka_error: ${err instanceof Error ? err.message : err}`;
        for (const p of batch) {
          this.#inner.deadLetterRecord({
            topic: p.topic,
            group: null,
            reason,
            message: p.value,
            message_id: null,
            key: p.wire.key,
            attempts: 1,
            error: err instanceof Error ? err.message : String(err),
          });
          p.reject(
            new UserError(`could not produce to Kafka topic '${p.topic}' (dead-lettered locally): ${reason}`),
          );
        }
      }
    }
  }

  #consumer(groupId: string): KafkaConsumer {
    const c = this.#kafka!.consumer({
      groupId,
      ...CONSUMER_TIMING,
    });
    this.#consumers.add(c);
    this.#joins.push(
      new Promise<void>((resolve) => {
        const off = c.on(c.events.GROUP_JOIN, () => {
          off();
          resolve();
        });
        const off2 = c.on(c.events.CRASH, () => {
          off2();
          resolve();
        });
      }),
    );
    return c;
  }

  /** What a consumer subscribes to: the prefixed topic, or the RegExp of exactly what a pattern matches. */
  #topics(topic: string): (string | RegExp)[] {
    return [isPattern(topic) ? patternRegExp(topic, this.settings.prefix) : this.#name(topic)];
  }

  subscribe<T = unknown>(topic: string, options: SubscribeOptions = {}): Subscription<T> {
    const topics = this.#topics(topic); // validates a pattern (and the prefix it is matched with)
    if (!isPattern(topic)) assertTopic(topic);
    const sub = this.#inner.detachedSubscriber<T>(topic, options.maxsize ?? 1000);
    const consumer = this.#consumer(`${this.settings.clientId}-sub-${crypto.randomUUID()}`);
    this.#subs.push({ topic, sub, metrics: () => sub.metrics() });
    const run = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: false });
      await consumer.run({
        eachMessage: async ({ topic: name, partition, message }) => {
          if (sub.isClosed) return;
          const w = sub.offer(KafkaMsg.from(this.#unprefix(name), partition, message), false);
          if (w !== undefined) await w;
        },
      });
    })();
    this.#track(
      run.catch((err) =>
        console.error(`warning: Kafka subscriber for '${topic}' failed: ${err?.message ?? err}`)
      ),
    );
    const close = sub.close.bind(sub);
    sub.close = () => {
      close();
      this.#consumers.delete(consumer);
      this.#track(consumer.disconnect().catch(() => {}));
    };
    return sub;
  }

  subscribeGroup<T = unknown>(topic: string, group: string, options: GroupOptions = {}): GroupMember<T> {
    if (isPattern(topic)) {
      throw new UserError(`consumer groups need a concrete topic, not the pattern '${topic}'`);
    }
    assertTopic(topic);
    const { group: g, member } = this.#inner.detachedMember<T>(topic, group, options);
    this.#groups.push({ topic, group: g });
    const feed = startGroupConsumer({
      kafka: this.#kafka!,
      groupId: group,
      kafkaTopic: this.#name(topic),
      topic,
      group: g,
      member: member as Member<unknown>,
      fromBeginning: (options.from ?? "earliest") === "earliest",
      track: (p) => void this.#track(p),
      warn: (message) => console.error(`warning: ${message}`),
    });
    const handle = { disconnect: () => feed.stop() };
    this.#consumers.add(handle);
    this.#joins.push(feed.ready);
    g.onEmpty = () => {
      this.#consumers.delete(handle);
      this.#track(feed.stop());
    };
    return member;
  }

  /** Internal: dead letters go to the local sink (and from there to Kafka's `agent.deadletter`). */
  deadLetterRecord(input: DeadLetterInput): void {
    this.#inner.deadLetterRecord(input);
  }

  consume<T = unknown>(options: ConsumeOptions<T>): Consumer {
    return startConsumer(this, options);
  }

  spawnGroup(topic: string, group: string, url: string | URL, options?: SpawnGroupOptions): WorkerGroup {
    return startWorkerGroup(this, topic, group, url, options);
  }

  /** Kafka topics are always stored by the broker. */
  isDurable(_topic: string): boolean {
    return true;
  }

  configureTopic(topic: string, config: TopicConfig): Promise<void> {
    assertTopic(topic);
    if (config.durable) {
      // Kafka topics are durable by nature; retention is the broker's topic configuration.
      return Promise.resolve();
    }
    return Promise.resolve();
  }

  metrics(): BusMetrics {
    const out: BusMetrics = { topics: {}, groups: {}, dlq: { total: 0, by_topic: {}, last_ts: null } };
    const topic = (t: string) =>
      out.topics[t] ??= { published: this.#published.get(t) ?? 0, durable: true, subscribers: [] };
    for (const t of this.#published.keys()) topic(t);
    for (const s of this.#subs) if (!s.sub.closed) topic(s.topic).subscribers.push(s.metrics());
    for (const { topic: t, group } of this.#groups) {
      if (group.members.length === 0) continue;
      const gs = out.groups[t] ??= {};
      const m = group.metrics();
      const prev: GroupMetrics | undefined = gs[group.name];
      gs[group.name] = prev
        ? {
          members: prev.members + m.members,
          lag: prev.lag + m.lag,
          delivered: prev.delivered + m.delivered,
          acked: prev.acked + m.acked,
          redelivered: prev.redelivered + m.redelivered,
          dropped: prev.dropped + m.dropped,
        }
        : m;
    }
    this.#inner.dlq.maybeRefresh();
    const { unwritten: _u, ...dlq } = this.#inner.dlq.summary();
    out.dlq = dlq;
    return out;
  }

  async flush(): Promise<void> {
    while (this.#pending.length > 0 || this.#sending !== null || this.#scheduled) {
      if (this.#sending !== null) await this.#sending;
      else this.#startSend();
      if (this.#sending === null) await new Promise((r) => setTimeout(r, 1));
    }
    await this.#inner.dlq.flush();
    await Promise.allSettled([...this.#tasks].filter((t) => t !== undefined));
  }

  /** Runs `fn` first when the bus closes (metrics writer, event routing). */
  onClose(fn: () => Promise<void> | void): void {
    this.#closers.push(fn);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const fn of this.#closers.splice(0)) await fn();
    await this.flush();
    this.#closed = true;
    for (const s of this.#subs) s.sub.close();
    for (const { group } of this.#groups) for (const m of [...group.members]) m.close();
    await Promise.allSettled([...this.#consumers].map((c) => c.disconnect()));
    this.#consumers.clear();
    await this.#producer?.disconnect().catch(() => {});
    await Promise.allSettled([...this.#tasks]);
    await this.#inner.close();
  }
}
