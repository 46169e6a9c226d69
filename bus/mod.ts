/**
 * The streaming bus: publish/subscribe with fan-out, consumer groups (in-process members or Deno Workers),
 * overflow policies with backpressure events, a dead-letter queue (KV + `.dspy_reports/dlq.jsonl` +
 * `agent.deadletter`), durable KV-backed topics with committed group offsets, and a Kafka backend (primary
 * or mirror). Start one per workspace with {@link startBus}; read dead letters from any process with the DLQ
 * functions.
 *
 * @example
 * ```ts
 * const bus = await startBus({ workspace: "/path/to/project" });
 * const sub = bus.subscribe("logs.ctx.*");
 * await bus.publish("logs.ctx.backend", { ctx: ["error: boom"] });
 * for await (const msg of sub) { console.log(msg.topic, msg.value); break; }
 * await bus.close();
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export {
  DEFAULT_DURABLE_TOPICS,
  type KafkaSettings,
  resolveBackend,
  resolveKafkaSettings,
  startBus,
  type StartBusOptions,
} from "./start.ts";
export {
  type DeadLetterSelector,
  DeadLetterSink,
  dlqSummary,
  getDeadLetter,
  listDeadLetters,
  type ListDeadLettersOptions,
  purgeDeadLetters,
  replayDeadLetters,
  type ReplayResult,
} from "./dlq.ts";
export { BACKPRESSURE_TOPIC, DEADLETTER_TOPIC, LocalBus } from "./local_bus.ts";
export { committedOffset, listDurableTopics } from "./durable.ts";
export { NotJsonError } from "./json_check.ts";
export { assertTopic, compilePattern, isPattern } from "./pattern.ts";
export { type BusBenchOptions, type BusBenchResult, runBusBench } from "./bench.ts";
export { readMetricsSnapshot } from "./metrics_writer.ts";
export { durableStatus, type DurableTopicStatus, groupLeaseActive } from "./status.ts";
export { tailKafka, type TailKafkaOptions } from "./kafka/tail.ts";
export {
  checkDeadLetterId,
  checkGroupName,
  checkTopicName,
  MAX_DLQ_ID_BYTES,
  MAX_GROUP_BYTES,
  MAX_TOPIC_BYTES,
  NameLimitError,
} from "./limits.ts";
