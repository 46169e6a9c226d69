/**
 * The Kafka mirror (`DSPY_BUS=mirror`): a {@link PublishTap} on the LocalBus that also produces every
 * published message to Kafka. An unreachable broker is retried in the background with backoff; messages
 * wait in a bounded buffer ({@link MIRROR_BUFFER}), and what cannot be delivered is dead-lettered locally.
 *
 * @module
 */

import type { Producer } from "kafkajs";
import { DEADLETTER_TOPIC, type LocalBus } from "../local_bus.ts";
import type { KafkaSettings } from "../start.ts";
import type { PublishTap } from "../types.ts";
import { kafkaClient, unreachable } from "./client.ts";
import { toWire, type WireMessage } from "./wire.ts";

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
