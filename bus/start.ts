/**
 * Starting the bus for a workspace: picks the backend from the environment (`DSPY_BUS`,
 * `KAFKA_BOOTSTRAP_SERVERS`), loads durable topic settings from KV, starts the metrics writer and routes
 * agent events (`agent.metrics`, `agent.actions`) through the bus.
 *
 * @module
 */

import type { Bus } from "./types.ts";

/** Options for {@link startBus}. */
export interface StartBusOptions {
  /** Workspace root (absolute). Null for a bus without files or KV (tests, benchmarks). */
  workspace: string | null;
  /** Backend; default from `DSPY_BUS` (`local`, `kafka`, `mirror`), else `kafka` when `KAFKA_BOOTSTRAP_SERVERS` is set, else `local`. */
  backend?: "local" | "kafka" | "mirror";
  /** Kafka settings; default from `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC_PREFIX`, `KAFKA_CLIENT_ID`. */
  kafka?: { bootstrap?: string; prefix?: string; clientId?: string };
  /** Seconds between metrics snapshots (default `BUS_METRICS_INTERVAL` or 30; ≤ 0 disables). */
  metricsIntervalSec?: number;
  /** Route `emitMetric`/`emitAction` through this bus (default true when a workspace is given). */
  routeEvents?: boolean;
  /** Extra topics (or patterns) to treat as durable, besides `agent.metrics` and `agent.actions`. */
  durableTopics?: string[];
}

/** Starts a bus for a workspace. Close it with `bus.close()`. */
export function startBus(_options: StartBusOptions): Promise<Bus> {
  return Promise.reject(new Error("startBus: implementation landing shortly"));
}
