/**
 * Starting the bus for a workspace: picks the backend from the environment (`DSPY_BUS`,
 * `KAFKA_BOOTSTRAP_SERVERS`), loads durable topic settings from KV, starts the metrics writer and routes
 * agent events (`agent.metrics`, `agent.actions`, both durable) through the bus.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";
import {
  ACTIONS_STREAM,
  configureEvents,
  eventsWorkspace,
  METRICS_STREAM,
  setEventPublisher,
} from "../core/events.ts";
import { DeadLetterSink } from "./dlq.ts";
import { DurableStore } from "./durable.ts";
import { LocalBus } from "./local_bus.ts";
import { metricsIntervalFromEnv, startMetricsWriter } from "./metrics_writer.ts";
import type { Bus } from "./types.ts";

/** Kafka connection settings. */
export interface KafkaSettings {
  /** Comma-separated `host:port` list (`KAFKA_BOOTSTRAP_SERVERS`). */
  bootstrap: string;
  /** Prefix added to every topic name (`KAFKA_TOPIC_PREFIX`, default empty). */
  prefix: string;
  /** Client id (`KAFKA_CLIENT_ID`, default `dspy-code`). */
  clientId: string;
}

/** Options for {@link startBus}. */
export interface StartBusOptions {
  /** Workspace root (absolute). Null for a bus without files or KV (tests, benchmarks). */
  workspace: string | null;
  /**
   * Backend; default from `DSPY_BUS` (`local`, `kafka`, `mirror`), else `kafka` when
   * `KAFKA_BOOTSTRAP_SERVERS` is set, else `local`.
   */
  backend?: "local" | "kafka" | "mirror";
  /** Kafka settings; default from `KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_TOPIC_PREFIX`, `KAFKA_CLIENT_ID`. */
  kafka?: Partial<KafkaSettings>;
  /** Seconds between metrics snapshots (default `BUS_METRICS_INTERVAL` or 30; ≤ 0 disables). */
  metricsIntervalSec?: number;
  /** Route `emitMetric`/`emitAction` through this bus (default true when a workspace is given). */
  routeEvents?: boolean;
  /**
   * Topics (or patterns) to treat as durable, besides `agent.metrics`, `agent.actions`, those recorded in KV
   * and those in `DSPY_BUS_DURABLE_TOPICS` (comma-separated).
   */
  durableTopics?: string[];
}

/** Topics that are always durable when the bus has a workspace. */
export const DEFAULT_DURABLE_TOPICS = [METRICS_STREAM, ACTIONS_STREAM];

/** Resolves the backend from options and environment. */
export function resolveBackend(options: Pick<StartBusOptions, "backend">): "local" | "kafka" | "mirror" {
  if (options.backend) return options.backend;
  const raw = (Deno.env.get("DSPY_BUS") ?? "").trim().toLowerCase();
  if (raw === "") return Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ? "kafka" : "local";
  if (raw === "local" || raw === "kafka" || raw === "mirror") return raw;
  throw new UsageError(`DSPY_BUS='${raw}' is not a bus backend: use local, kafka or mirror`);
}

/** Kafka settings from options and environment. */
export function resolveKafkaSettings(partial: Partial<KafkaSettings> = {}): KafkaSettings {
  const bootstrap = partial.bootstrap ?? Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ??
    Deno.env.get("KAFKA_BOOTSTRAP") ??
    "";
  if (bootstrap.trim() === "") {
    throw new UsageError(
      "the Kafka bus needs brokers: set KAFKA_BOOTSTRAP_SERVERS=host:port (or use DSPY_BUS=local)",
    );
  }
  return {
    bootstrap,
    prefix: partial.prefix ?? Deno.env.get("KAFKA_TOPIC_PREFIX") ?? "",
    clientId: partial.clientId ?? Deno.env.get("KAFKA_CLIENT_ID") ?? "dspy-code",
  };
}

/**
 * Starts a bus. With a workspace it keeps dead letters in KV and `.dspy_reports/dlq.jsonl`, stores durable
 * topics in KV, writes metrics snapshots and (by default) routes agent events through itself. Close it with
 * `bus.close()`.
 *
 * @example
 * ```ts
 * const bus = await startBus({ workspace: "/work/project" });
 * console.log(bus.metrics().dlq.total);
 * await bus.close();
 * ```
 */
export async function startBus(options: StartBusOptions): Promise<Bus> {
  const backend = resolveBackend(options);
  const workspace = options.workspace;
  if (backend === "kafka") {
    const { startKafkaBus } = await import("./kafka/bus.ts");
    const kafkaBus = await startKafkaBus({ workspace, kafka: resolveKafkaSettings(options.kafka) });
    if (workspace) {
      const writer = startMetricsWriter(
        workspace,
        () => kafkaBus.metrics(),
        options.metricsIntervalSec ?? metricsIntervalFromEnv(),
      );
      kafkaBus.onClose(() => writer.stop());
      if (options.routeEvents ?? true) {
        // Agent events go to Kafka and, so `tail` and the server keep reading them, to the KV streams too.
        const store = await DurableStore.open(workspace);
        if (!eventsWorkspace()) configureEvents({ workspace });
        const previous = setEventPublisher((stream, envelope) =>
          Promise.all([
            store.append(stream, envelope, null, null),
            Promise.resolve(kafkaBus.publish(stream, envelope)).catch(() => {}), // dead-lettered locally on failure
          ]).then(() => {})
        );
        kafkaBus.onClose(async () => {
          setEventPublisher(previous);
          await store.close();
        });
      }
    }
    return kafkaBus;
  }
  const envDurable = (Deno.env.get("DSPY_BUS_DURABLE_TOPICS") ?? "").split(",").map((s) => s.trim()).filter((
    s,
  ) => s);
  let bus: LocalBus | null = null;
  const dlq = new DeadLetterSink({ workspace, onRecord: (r) => bus?.onDeadLetter(r) });
  await dlq.loadSummary();
  const durable = workspace
    ? await DurableStore.open(workspace, [
      ...DEFAULT_DURABLE_TOPICS,
      ...(options.durableTopics ?? []),
      ...envDurable,
    ])
    : null;
  bus = new LocalBus({ workspace, dlq, durable });
  durable?.bind(bus);
  const local = bus;
  if (backend === "mirror") {
    const { startKafkaMirror } = await import("./kafka/mirror.ts");
    const tap = await startKafkaMirror(local, resolveKafkaSettings(options.kafka));
    local.addTap(tap);
    local.backend = "mirror";
  }
  if (workspace) {
    const writer = startMetricsWriter(
      workspace,
      () => local.metrics(),
      options.metricsIntervalSec ?? metricsIntervalFromEnv(),
    );
    local.onClose(() => writer.stop());
    if (options.routeEvents ?? true) {
      if (!eventsWorkspace()) configureEvents({ workspace });
      const previous = setEventPublisher((stream, envelope) => {
        if (local.closed) return;
        return local.publish(stream, envelope);
      });
      local.onClose(() => void setEventPublisher(previous));
    }
  }
  return local;
}
