/**
 * Mirrors the events of ordinary commands to Kafka when Kafka is configured (`DSPY_BUS=kafka|mirror` or
 * `KAFKA_BOOTSTRAP_SERVERS`). A short command runs a bus in mirror mode: the local KV streams stay the primary
 * store, so `tail` and the server read every event, and each envelope is also produced to Kafka; a message the
 * broker does not take is dead-lettered locally, never lost. Commands that run a bus of their own (`up`,
 * `quickstart`, `bus`, `dlq`) are left alone.
 *
 * @module
 */

import { lazyImport } from "./lazy.ts";

/** Commands that start and configure a bus themselves. */
const OWN_BUS_COMMANDS = new Set(["up", "quickstart", "bus", "dlq"]);

/** True when the environment asks for Kafka. */
export function kafkaConfigured(): boolean {
  const backend = (Deno.env.get("DSPY_BUS") ?? "").trim().toLowerCase();
  if (backend === "local") return false;
  return backend === "kafka" || backend === "mirror" || Boolean(Deno.env.get("KAFKA_BOOTSTRAP_SERVERS"));
}

/** Starts the mirror for `command` when Kafka is configured; returns a closer (or undefined when not needed). */
export async function startEventMirror(
  command: string,
  workspace: string,
): Promise<(() => Promise<void>) | undefined> {
  if (OWN_BUS_COMMANDS.has(command) || !kafkaConfigured()) return undefined;
  const { startBus } = await lazyImport<typeof import("../bus/mod.ts")>(
    new URL("../bus/mod.ts", import.meta.url),
  );
  const bus = await startBus({ workspace, backend: "mirror", metricsIntervalSec: 0 });
  return () => bus.close();
}
