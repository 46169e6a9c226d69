/**
 * The bus's public types: messages, subscription and consumer options, overflow policies, dead-letter
 * records and the metrics snapshot. Both backends (the in-process LocalBus and Kafka) implement {@link Bus},
 * so callers never depend on which one runs.
 *
 * @module
 */

/** Any JSON value: what a message carries. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One message as a subscriber sees it. */
export interface BusMessage<T = unknown> {
  /**
   * Stable id: the same on every redelivery, so a consumer can drop duplicates. For durable topics it is
   * `TOPIC:SEQ` (SEQ = position in the KV log) and stays the same across process restarts.
   */
  readonly id: string;
  /** Topic it was published on (the concrete topic, also when subscribed by pattern). */
  readonly topic: string;
  /** Position within its topic (KV log sequence for durable topics, a per-process counter otherwise). */
  readonly seq: number;
  /** Optional partitioning/ordering key given at publish. */
  readonly key: string | null;
  /** Optional string headers given at publish. */
  readonly headers: Record<string, string> | null;
  /** Milliseconds since the epoch when it was published. */
  readonly ts: number;
  /** The JSON value. */
  readonly value: T;
  /** Delivery attempt within a group (1 on first delivery, more after redelivery or retry). */
  readonly attempt: number;
}

/** Options for {@link Bus.publish}. */
export interface PublishOptions {
  /** Ordering/partitioning key (Kafka message key). */
  key?: string;
  /** String headers carried with the message. */
  headers?: Record<string, string>;
}

/**
 * What happens when a subscriber's queue (or every member of a group) is full:
 * - `dlq` (default): the message is dead-lettered for that subscriber and a backpressure event is emitted;
 * - `block`: `publish` returns a promise that resolves when there is room (await it);
 * - `drop-oldest`: the oldest queued message is dead-lettered (reason `dropped_oldest`) to make room.
 */
export type OverflowPolicy = "dlq" | "block" | "drop-oldest";

/** Options for {@link Bus.subscribe}. */
export interface SubscribeOptions {
  /** Queue bound (default 1000). */
  maxsize?: number;
  /** Overflow policy (default `dlq`). */
  overflow?: OverflowPolicy;
}

/** Options for {@link Bus.subscribeGroup}. */
export interface GroupOptions extends SubscribeOptions {
  /**
   * `auto` (default): a message is acknowledged when the consumer asks for the next one (the body of a
   * `for await` loop finished). `manual`: call {@link GroupMember.ack} (or `nack`) yourself.
   */
  ack?: "auto" | "manual";
  /** Durable topics only: where a group without a committed offset starts (default `earliest`). */
  from?: "earliest" | "latest";
}

/** A fan-out subscription: an async iterable of every message on the topic (or pattern). */
export interface Subscription<T = unknown> extends AsyncIterable<BusMessage<T>> {
  /** Topic or pattern subscribed to. */
  readonly topic: string;
  /** Waits for at least one message and returns up to `max` queued ones; `[]` once closed and drained. */
  nextBatch(max?: number): Promise<BusMessage<T>[]>;
  /** Messages waiting in the queue. */
  readonly size: number;
  /**
   * Makes a pending `nextBatch` (or the next one, when none is waiting) return `[]` without closing, so a
   * loop blocked on messages can stop (on a signal, say) and still acknowledge, commit and close in order.
   */
  interrupt(): void;
  /** Stops the subscription; queued messages are discarded, iteration ends. */
  close(): void;
  /** True after close. */
  readonly closed: boolean;
}

/** A member of a consumer group: each message reaches exactly one live member of each group. */
export interface GroupMember<T = unknown> extends Subscription<T> {
  /** The group's name. */
  readonly group: string;
  /** Acknowledges processed messages (manual mode; in auto mode it acknowledges early, e.g. before close). */
  ack(messages: BusMessage<T> | BusMessage<T>[]): void;
  /** Gives a message back: it is redelivered to a member (possibly this one) with `attempt + 1`. */
  nack(message: BusMessage<T>): void;
  /**
   * Commits the group's offset now, up to the acknowledged prefix (durable topics and Kafka; resolves at once
   * otherwise). Offsets are also committed in the background within ~20 ms of an acknowledgement; calling
   * this after each batch bounds what a crash can redeliver to the unacknowledged messages.
   */
  commit(): Promise<void>;
  /**
   * Leaves the group; delivered-but-unacknowledged and queued messages go to the other members (durable
   * topics: they are re-read from the log on restart).
   */
  close(): void;
}

/** A message handler for {@link Bus.consume}. Throw (or reject) to signal failure. */
export type MessageHandler<T = unknown> = (message: BusMessage<T>) => void | Promise<void>;

/** Options for {@link Bus.consume}. */
export interface ConsumeOptions<T = unknown> {
  /** Topic (or pattern without a group). */
  topic: string;
  /** Consumer group; without one every consumer sees every message (and failures are not retried). */
  group?: string;
  /** Called per message; acknowledged when it returns (or resolves). */
  handler: MessageHandler<T>;
  /** Messages handled at once (default 1). */
  concurrency?: number;
  /** Retries after the first failure before dead-lettering (default 3). */
  maxRetries?: number;
  /** Delay before retry `n` (1-based) in ms; a number is the base of an exponential backoff (default 100). */
  backoff?: number | ((attempt: number) => number);
  /** Queue bound of the underlying member (default 1000). */
  maxsize?: number;
  /** Stops consuming when aborted. */
  signal?: AbortSignal;
}

/** A running {@link Bus.consume}. */
export interface Consumer {
  /** Stops taking messages, waits for in-flight handlers, leaves the group. */
  close(): Promise<void>;
  /** Resolves when the consumer has stopped. */
  readonly done: Promise<void>;
  /** Counters. */
  readonly stats: { handled: number; failed: number; retried: number; deadLettered: number };
}

/** Options for {@link Bus.spawnGroup}. */
export interface SpawnGroupOptions {
  /** Worker count (default 2). */
  count?: number;
  /** Per-worker queue bound (default 1000). */
  maxsize?: number;
  /** Overflow policy of the group when every worker's queue is full (default `dlq`). */
  overflow?: OverflowPolicy;
  /** Messages sent to a worker per post (default 256). */
  batch?: number;
  /** Retries of a message whose handler threw, before dead-lettering (default 3). */
  maxRetries?: number;
  /** A worker that does not answer a batch within this many ms is treated as crashed (default 30000). */
  timeoutMs?: number;
}

/** A group whose members run in Deno Workers. */
export interface WorkerGroup {
  /** Resolves once every worker loaded the module; rejects (UserError) when the module cannot be used. */
  readonly ready: Promise<void>;
  /** Live workers. */
  readonly size: number;
  /** Counters: handled (acked), failed attempts, redelivered after a crash, restarts. */
  readonly stats: { handled: number; failed: number; redelivered: number; crashed: number };
  /** Waits until every queued and in-flight message is handled, then terminates the workers. */
  close(): Promise<void>;
}

/** Per-topic settings. */
export interface TopicConfig {
  /** Keep messages in the KV log and commit group offsets (default false). */
  durable?: boolean;
  /** Durable topics: keep at most this many messages (default 100000). */
  retentionCount?: number;
  /** Durable topics: drop messages older than this many ms (default 7 days). */
  retentionMs?: number;
}

/** A dead-letter record, as stored in KV and appended to `.dspy_reports/dlq.jsonl`. */
export interface DeadLetterRecord {
  /** Record id (sortable by time), used by `dlq show/replay`. */
  id: string;
  /** Seconds since the epoch (float), as the old tool wrote it. */
  ts: number;
  /** Topic the message was published on. */
  topic: string;
  /** Group that could not take it, or null for a fan-out subscriber / the publisher itself. */
  group: string | null;
  /**
   * Why: `backpressure_full:subscriber`, `backpressure_full:group`, `dropped_oldest`, `handler_failed`,
   * `worker_failed`, `kafka_error: ...`, `group_closed_unacked`.
   */
  reason: string;
  /** The message value. */
  message: unknown;
  /** Message id, key and headers, when known. */
  message_id: string | null;
  key: string | null;
  /** Delivery attempts made (0 when it never reached a consumer). */
  attempts: number;
  /** Last error message, or null. */
  error: string | null;
}

/** A dead letter to record: a {@link DeadLetterRecord} without its id (and the time, unless given). */
export type DeadLetterInput = Omit<DeadLetterRecord, "id" | "ts"> & { ts?: number };

/** A backpressure event on `agent.backpressure`. */
export interface BackpressureEvent {
  ts: number;
  topic: string;
  group: string | null;
  qsize: number;
  maxsize: number;
  policy: OverflowPolicy;
  /** Events suppressed by the rate limit since the last one for this topic and group. */
  suppressed: number;
}

/** One fan-out subscriber in {@link BusMetrics}. */
export interface SubscriberMetrics {
  qsize: number;
  maxsize: number;
  delivered: number;
  dropped: number;
}

/** One consumer group in {@link BusMetrics}. */
export interface GroupMetrics {
  members: number;
  /** Messages published to the group but not yet acknowledged (durable: log head − committed offset). */
  lag: number;
  delivered: number;
  acked: number;
  redelivered: number;
  dropped: number;
}

/** Dead-letter summary, as the old `/metrics` `dlq` key. */
export interface DlqSummary {
  total: number;
  by_topic: Record<string, number>;
  /** Seconds since the epoch of the newest record, or null. */
  last_ts: number | null;
}

/** `bus.metrics()`: the snapshot `/metrics`, `bus stats` and `bus_metrics.json` show. */
export interface BusMetrics {
  topics: Record<string, { published: number; durable: boolean; subscribers: SubscriberMetrics[] }>;
  groups: Record<string, Record<string, GroupMetrics>>;
  dlq: DlqSummary;
}

/** The bus API, implemented by the LocalBus and the Kafka backend. */
export interface Bus {
  /** `local`, `kafka` or `mirror` (local primary, every message also produced to Kafka). */
  readonly backend: "local" | "kafka" | "mirror";
  /** Workspace whose `.dspy_reports/` and KV the bus writes, if any. */
  readonly workspace: string | null;
  /**
   * Publishes a JSON value. Throws a `UserError` if the value is not JSON-serialisable. Returns a promise
   * when the caller must wait (durable topic being committed, or a `block` subscriber full); awaiting the
   * result is always correct.
   */
  publish(topic: string, message: unknown, options?: PublishOptions): void | Promise<void>;
  /** Fan-out subscription to a topic or a pattern (`logs.ctx.*`, `agent.#`). */
  subscribe<T = unknown>(topic: string, options?: SubscribeOptions): Subscription<T>;
  /** Joins a consumer group. */
  subscribeGroup<T = unknown>(topic: string, group: string, options?: GroupOptions): GroupMember<T>;
  /** Runs a handler over a topic with acks, retries with backoff, then dead-lettering. */
  consume<T = unknown>(options: ConsumeOptions<T>): Consumer;
  /** Runs group members in Deno Workers; the module exports `handle(message)` (may be async). */
  spawnGroup(
    topic: string,
    group: string,
    workerModuleUrl: string | URL,
    options?: SpawnGroupOptions,
  ): WorkerGroup;
  /** True when messages on `topic` are stored (a durable KV topic, or any topic on the Kafka backend). */
  isDurable(topic: string): boolean;
  /**
   * True when a message published on `topic` now would reach a subscriber (exact or pattern) or a consumer
   * group of this process (the LocalBus; other backends leave it out).
   */
  hasReceivers?(topic: string): boolean;
  /** Sets per-topic options (e.g. durability); durable settings are recorded in KV for other processes. */
  configureTopic(topic: string, config: TopicConfig): Promise<void>;
  /**
   * Records a dead letter (never blocks): for stages that give up on a message themselves, such as the
   * embed worker after its retries. It lands where `dlq list` and `dlq replay` find it.
   */
  deadLetterRecord(input: DeadLetterInput): void;
  /** The metrics snapshot. */
  metrics(): BusMetrics;
  /** Waits until pending durable writes, dead letters and mirrored messages are written. */
  flush(): Promise<void>;
  /** Flushes, stops background work (metrics writer, pollers, Kafka clients) and closes subscriptions. */
  close(): Promise<void>;
}

/**
 * What `consume` and worker groups need from a bus: the LocalBus and the Kafka backend both provide it
 * (`bus/consume.ts`, `bus/workers.ts`).
 */
export interface BusHost {
  subscribe<T = unknown>(topic: string, options?: SubscribeOptions): Subscription<T>;
  subscribeGroup<T = unknown>(topic: string, group: string, options?: GroupOptions): GroupMember<T>;
  /** Records a dead letter (never blocks). */
  deadLetterRecord(input: DeadLetterInput): void;
  metrics(): BusMetrics;
}

/** Something that receives every message a LocalBus publishes (the Kafka mirror, `bus/kafka/mirror.ts`). */
export interface PublishTap {
  /** Called for every message published on the bus (never blocks; failures are dead-lettered by the tap). */
  send(topic: string, value: unknown, key: string | null, headers: Record<string, string> | null): void;
  /** Waits (bounded) until what was sent so far is delivered. */
  flush(): Promise<void>;
  /** Delivers or dead-letters what is left and stops. */
  close(): Promise<void>;
}
