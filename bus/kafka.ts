/**
 * The Kafka backend over `kafkajs` (imported lazily, only when Kafka is configured):
 * - {@link startKafkaBus}: the bus API with Kafka as the primary store. Values are JSON with keys and
 *   headers; a fan-out subscriber is a consumer with its own group; a consumer group maps to a Kafka group;
 *   offsets are committed only after the messages were acknowledged; dead letters are kept locally (KV and
 *   dlq.jsonl) and produced to `agent.deadletter`. An unreachable broker at start is an error.
 * - {@link startKafkaMirror}: a tap on the LocalBus that also produces every message to Kafka. An unreachable
 *   broker is retried in the background; messages wait in a bounded buffer, and what cannot be delivered is
 *   dead-lettered locally.
 * - {@link tailKafka}: follows one topic (for `dspy-code tail STREAM --kafka`).
 *
 * @module
 */

import type { Consumer as KafkaConsumer, Kafka, Producer } from "kafkajs";
import process from "node:process";
import { UserError } from "../core/errors.ts";
import { startConsumer } from "./consume.ts";
import { type DeadLetterInput, DeadLetterSink } from "./dlq.ts";
import { assertJsonValue } from "./json_check.ts";
import { DEADLETTER_TOPIC, type Group, LocalBus, type PublishTap } from "./local_bus.ts";
import { Msg } from "./message.ts";
import { assertTopic, compilePattern, isPattern } from "./pattern.ts";
import { Ring } from "./ring.ts";
import type { KafkaSettings } from "./start.ts";
import type {
  Bus,
  BusMetrics,
  ConsumeOptions,
  Consumer,
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
} from "./types.ts";
import { startWorkerGroup } from "./workers.ts";

/** A message read from Kafka: its id includes the partition. */
class KafkaMsg<T = unknown> extends Msg<T> {
  readonly partition: number;
  constructor(
    topic: string,
    partition: number,
    offset: number,
    key: string | null,
    headers: Record<string, string> | null,
    ts: number,
    value: T,
    attempt: number,
  ) {
    super(topic, offset, key, headers, ts, value, attempt);
    this.partition = partition;
  }
  override get id(): string {
    return `${this.topic}:${this.partition}:${this.seq}`;
  }
  override retry(): Msg<T> {
    return new KafkaMsg(
      this.topic,
      this.partition,
      this.seq,
      this.key,
      this.headers,
      this.ts,
      this.value,
      this.attempt + 1,
    );
  }
}

let timerWarningQuieted = false;

/**
 * kafkajs 2.2.4 schedules a timer with a negative delay on every connection (kafkajs issue #1751), so each
 * Kafka command printed a `TimeoutNegativeWarning` on stderr. The delay is clamped to 1 ms anyway; drop that
 * one warning and pass every other warning to the listeners that were there.
 */
function quietKafkajsTimerWarning(): void {
  if (timerWarningQuieted) return;
  timerWarningQuieted = true;
  const previous = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error) => {
    if (warning?.name === "TimeoutNegativeWarning") return;
    for (const listener of previous) listener.call(process, warning);
  });
}

/** Creates a kafkajs client (lazy import). */
async function kafkaClient(settings: KafkaSettings, retries = 3): Promise<Kafka> {
  quietKafkajsTimerWarning();
  const { Kafka, logLevel } = await import("kafkajs");
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.bootstrap.split(",").map((s) => s.trim()).filter((s) => s),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

function unreachable(settings: KafkaSettings, err: unknown): string {
  return `cannot reach Kafka at ${settings.bootstrap}: ${err instanceof Error ? err.message : err}`;
}

interface WireMessage {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

function toWire(value: unknown, key: string | null, headers: Record<string, string> | null): WireMessage {
  const m: WireMessage = { key, value: JSON.stringify(value) };
  if (headers) m.headers = headers;
  return m;
}

function decodeValue(buf: Uint8Array | Buffer | null): unknown {
  if (buf === null) return null;
  const text = new TextDecoder().decode(buf);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function decodeHeaders(h: Record<string, unknown> | undefined): Record<string, string> | null {
  if (!h) return null;
  const out: Record<string, string> = {};
  let any = false;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v)
      ? String(v[0])
      : typeof v === "string"
      ? v
      : new TextDecoder().decode(v as Uint8Array);
    any = true;
  }
  return any ? out : null;
}

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
  #consumers = new Set<KafkaConsumer>();
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
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 1000,
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

  #topics(topic: string): (string | RegExp)[] {
    if (!isPattern(topic)) return [this.#name(topic)];
    // A RegExp that over-approximates the pattern (`#` → `.*`); messages are filtered exactly on arrival.
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const body = topic.split(".").map((
      seg,
    ) => (seg === "*" ? "[^.]+" : seg === "#" || seg === "**" ? ".*" : esc(seg)))
      .join("\\.");
    // `#` may match no segment at all: make the dot next to it optional.
    const loose = body.replaceAll("\\..*", "(\\..*)?").replaceAll(".*\\.", "(.*\\.)?");
    return [new RegExp(`^${esc(this.settings.prefix)}${loose}$`)];
  }

  subscribe<T = unknown>(topic: string, options: SubscribeOptions = {}): Subscription<T> {
    if (!isPattern(topic)) assertTopic(topic);
    else compilePattern(topic);
    const sub = this.#inner.detachedSubscriber<T>(topic, options.maxsize ?? 1000);
    const matcher = isPattern(topic) ? compilePattern(topic) : null;
    const consumer = this.#consumer(`${this.settings.clientId}-sub-${crypto.randomUUID()}`);
    this.#subs.push({ topic, sub, metrics: () => sub.metrics() });
    const run = (async () => {
      await consumer.connect();
      await consumer.subscribe({ topics: this.#topics(topic), fromBeginning: false });
      await consumer.run({
        eachMessage: async ({ topic: name, partition, message }) => {
          if (sub.isClosed || (matcher !== null && !matcher(this.#unprefix(name)))) return;
          const msg = new KafkaMsg(
            this.#unprefix(name),
            partition,
            Number(message.offset),
            message.key ? new TextDecoder().decode(message.key) : null,
            decodeHeaders(message.headers as Record<string, unknown> | undefined),
            Number(message.timestamp),
            decodeValue(message.value),
            1,
          );
          const w = sub.offer(msg, false);
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
    // Per partition: offsets handed out in order, and those acknowledged; the committable offset is the end
    // of the acknowledged prefix. eachBatch never waits for acks (only for room), so a consumer may hold many.
    const parts = new Map<number, { outstanding: Ring<number>; acked: Set<number>; committed: number }>();
    const dirty = new Set<number>();
    let commitTimer: ReturnType<typeof setTimeout> | null = null;
    const name = this.#name(topic);
    const consumer = this.#consumer(group);
    const commit = async () => {
      commitTimer = null;
      const offsets = [...dirty].map((p) => ({
        topic: name,
        partition: p,
        offset: String(parts.get(p)!.committed + 1),
      }));
      dirty.clear();
      if (offsets.length === 0) return;
      try {
        await consumer.commitOffsets(offsets);
      } catch { /* rebalanced or disconnected: the next commit (or a redelivery) covers it */ }
    };
    g.onAck = (msgs) => {
      for (const m of msgs) {
        const km = m as KafkaMsg;
        const part = parts.get(km.partition);
        if (part === undefined) continue;
        part.acked.add(km.seq);
        let head = part.outstanding.peek();
        while (head !== undefined && part.acked.has(head)) {
          part.acked.delete(head);
          part.outstanding.shift();
          part.committed = head;
          dirty.add(km.partition);
          head = part.outstanding.peek();
        }
      }
      if (dirty.size > 0 && commitTimer === null) {
        commitTimer = setTimeout(() => void this.#track(commit()), 20);
      }
    };
    g.onCommit = async () => {
      if (commitTimer !== null) clearTimeout(commitTimer);
      await commit();
    };
    g.onEmpty = () => {
      this.#consumers.delete(consumer);
      const stop = (async () => {
        if (commitTimer !== null) {
          clearTimeout(commitTimer);
          await commit();
        }
        await consumer.disconnect().catch(() => {});
      })();
      this.#track(stop);
    };
    const run = (async () => {
      await consumer.connect();
      await consumer.subscribe({
        topics: [name],
        fromBeginning: (options.from ?? "earliest") === "earliest",
      });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          let part = parts.get(batch.partition);
          if (part === undefined) {
            part = {
              outstanding: new Ring<number>(),
              acked: new Set(),
              committed: Number(batch.firstOffset()) - 1,
            };
            parts.set(batch.partition, part);
          }
          for (const message of batch.messages) {
            if (!isRunning() || isStale() || member.closed) break;
            const msg = new KafkaMsg(
              topic,
              batch.partition,
              Number(message.offset),
              message.key ? new TextDecoder().decode(message.key) : null,
              decodeHeaders(message.headers as Record<string, unknown> | undefined),
              Number(message.timestamp),
              decodeValue(message.value),
              1,
            );
            part.outstanding.push(msg.seq);
            const w = g.offer(msg, false);
            if (w !== undefined) await w;
            resolveOffset(message.offset);
          }
          await heartbeat();
        },
      });
    })();
    this.#track(
      run.catch((err) =>
        console.error(`warning: Kafka group '${group}' on '${topic}' failed: ${err?.message ?? err}`)
      ),
    );
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

/** Messages the mirror keeps while Kafka is unreachable; past this the oldest are dead-lettered locally. */
export const MIRROR_BUFFER = 10_000;

/** Attempts at producing one mirrored batch to a reachable broker before it is dead-lettered locally. */
const MIRROR_SEND_ATTEMPTS = 3;

/** Starts mirroring a LocalBus to Kafka. Never throws for an unreachable broker: it retries in the background. */
export async function startKafkaMirror(local: LocalBus, settings: KafkaSettings): Promise<PublishTap> {
  const kafka = await kafkaClient(settings, 0);
  let producer = null as Producer | null;
  let buffer: {
    topic: string;
    value: unknown;
    key: string | null;
    headers: Record<string, string> | null;
  }[] = [];
  let lastError = "not connected yet";
  let closed = false;
  let wake: (() => void) | null = null;
  let lostInternal = 0;
  let warned = false;

  const deadLetter = (m: (typeof buffer)[number], reason: string) => {
    if (m.topic === DEADLETTER_TOPIC) {
      lostInternal++; // already in the local DLQ; mirroring it again could loop
      return;
    }
    local.deadLetterRecord({
      topic: m.topic,
      group: null,
      reason: `kafka_error: ${reason}`,
      message: m.value,
      message_id: null,
      key: m.key,
      attempts: 1,
      error: lastError,
    });
  };

  const connect = async (): Promise<boolean> => {
    const p = kafka.producer({ allowAutoTopicCreation: true });
    try {
      await p.connect();
      producer = p;
      if (warned) console.error(`info: Kafka at ${settings.bootstrap} is reachable again; mirroring resumed`);
      warned = false;
      return true;
    } catch (err) {
      await p.disconnect().catch(() => {});
      lastError = err instanceof Error ? err.message : String(err);
      if (!warned) {
        warned = true;
        console.error(
          `warning: ${
            unreachable(settings, err)
          }; the local bus keeps working and mirroring retries in the ` +
            `background (up to ${MIRROR_BUFFER} messages wait; older ones are dead-lettered locally)`,
        );
      }
      return false;
    }
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wake = null;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = null;
        resolve();
      };
    });

  let backoff = 500;
  let sendFailures = 0;
  const loop = (async () => {
    while (!closed || buffer.length > 0) {
      if (producer === null) {
        if (closed) break;
        if (!(await connect())) {
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 10_000);
          continue;
        }
        backoff = 500;
      }
      if (buffer.length === 0) {
        if (closed) break;
        await sleep(1000);
        continue;
      }
      const batch = buffer.splice(0, 1000);
      const byTopic = new Map<string, WireMessage[]>();
      for (const m of batch) {
        const name = settings.prefix + m.topic;
        if (!byTopic.has(name)) byTopic.set(name, []);
        byTopic.get(name)!.push(toWire(m.value, m.key, m.headers));
      }
      const current = producer as Producer;
      try {
        await current.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        sendFailures = 0;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        if (++sendFailures >= MIRROR_SEND_ATTEMPTS) {
          // The broker is reachable but keeps refusing this batch (e.g. a message too large): do not let it
          // block everything behind it.
          sendFailures = 0;
          for (const m of batch) deadLetter(m, lastError);
        } else {
          buffer = [...batch, ...buffer];
        }
        producer = null;
        await current.disconnect().catch(() => {});
        if (closed) break;
        await sleep(backoff);
      }
    }
  })();

  await Promise.race([loop, new Promise((r) => setTimeout(r, 0))]);

  return {
    send(topic, value, key, headers) {
      if (closed) return;
      if (buffer.length >= MIRROR_BUFFER) {
        if (topic === DEADLETTER_TOPIC) {
          lostInternal++;
          return;
        }
        deadLetter(buffer.shift()!, `broker unreachable, mirror buffer full (${MIRROR_BUFFER})`);
      }
      buffer.push({ topic, value, key, headers });
      if (buffer.length === 1 || buffer.length >= 1000) wake?.();
    },
    async flush() {
      const deadline = Date.now() + 5000;
      while (buffer.length > 0 && producer !== null && Date.now() < deadline) {
        wake?.();
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      // Give a reachable broker a few seconds to take what is buffered, then dead-letter the rest.
      const deadline = Date.now() + 5000;
      while (buffer.length > 0 && producer !== null && Date.now() < deadline) {
        wake?.();
        await new Promise((r) => setTimeout(r, 10));
      }
      closed = true;
      const rest = buffer;
      buffer = [];
      for (const m of rest) deadLetter(m, "not mirrored before shutdown");
      wake?.();
      await loop;
      const p = producer as Producer | null;
      await p?.disconnect().catch(() => {});
      if (lostInternal > 0) {
        console.error(
          `warning: ${lostInternal} agent.deadletter records were not mirrored to Kafka (they are in the local DLQ)`,
        );
      }
    },
  };
}

/** Options for {@link tailKafka}. */
export interface TailKafkaOptions {
  /** Topic (stream) to follow, without the prefix. */
  stream: string;
  /** Brokers (`host:port[,host:port]`). */
  bootstrap: string;
  /** Called for each message with its decoded JSON value. */
  onMessage: (
    value: unknown,
    meta: { topic: string; partition: number; offset: string; key: string | null },
  ) => void | Promise<void>;
  /** Stops when aborted. */
  signal?: AbortSignal;
  /** Start from the oldest retained message instead of new ones (default false, as the old tail). */
  fromBeginning?: boolean;
  /** Consumer group (default `dspy-tail`). */
  group?: string;
  /** Topic prefix (default `KAFKA_TOPIC_PREFIX`). */
  prefix?: string;
  /** Client id (default `KAFKA_CLIENT_ID` or `dspy-code`). */
  clientId?: string;
}

/**
 * Follows one Kafka topic until the signal aborts (for `dspy-code tail STREAM --kafka --bootstrap B`).
 * Throws a UserError when the broker cannot be reached.
 */
export async function tailKafka(options: TailKafkaOptions): Promise<void> {
  const settings: KafkaSettings = {
    bootstrap: options.bootstrap,
    prefix: options.prefix ?? Deno.env.get("KAFKA_TOPIC_PREFIX") ?? "",
    clientId: options.clientId ?? Deno.env.get("KAFKA_CLIENT_ID") ?? "dspy-code",
  };
  const kafka = await kafkaClient(settings, 1);
  const consumer = kafka.consumer({
    groupId: options.group ?? "dspy-tail",
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 1000,
  });
  try {
    await consumer.connect();
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw new UserError(
      `${unreachable(settings, err)}: start the broker or pass the right --bootstrap host:port`,
    );
  }
  try {
    await consumer.subscribe({
      topics: [settings.prefix + options.stream],
      fromBeginning: options.fromBeginning ?? false,
    });
    const stopped = new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        await options.onMessage(decodeValue(message.value), {
          topic: topic.slice(settings.prefix.length),
          partition,
          offset: message.offset,
          key: message.key ? new TextDecoder().decode(message.key) : null,
        });
      },
    });
    await stopped;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}
