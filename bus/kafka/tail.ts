/**
 * {@link tailKafka}: follows one Kafka topic and hands each decoded value to a callback, for
 * `dspy-code tail STREAM --kafka`.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";
import type { KafkaSettings } from "../start.ts";
import { CONSUMER_TIMING, kafkaClient, unreachable } from "./client.ts";
import { decodeMessage } from "./wire.ts";

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
    ...CONSUMER_TIMING,
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
        const { value, key } = decodeMessage(message);
        await options.onMessage(value, {
          topic: topic.slice(settings.prefix.length),
          partition,
          offset: message.offset,
          key,
        });
      },
    });
    await stopped;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}
