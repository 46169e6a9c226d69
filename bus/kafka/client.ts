/**
 * The kafkajs client shared by the Kafka bus, the mirror and the tail: `kafkajs` is imported here, lazily,
 * the first time a client is made, so nothing loads it unless Kafka is configured. Also the consumer timing
 * all three use and the message for an unreachable broker.
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import process from "node:process";
import type { KafkaSettings } from "../start.ts";

/** Consumer timing: a dead member is noticed within seconds, and an idle fetch returns within one. */
export const CONSUMER_TIMING = { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 1000 };

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

/** Creates a kafkajs client (imports kafkajs on first use); `retries` bounds each connection attempt. */
export async function kafkaClient(settings: KafkaSettings, retries = 3): Promise<Kafka> {
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

/** `cannot reach Kafka at HOST:PORT: REASON`, the start of every unreachable-broker message. */
export function unreachable(settings: KafkaSettings, err: unknown): string {
  return `cannot reach Kafka at ${settings.bootstrap}: ${err instanceof Error ? err.message : err}`;
}
