/**
 * Command specs for the bus subsystem: `bus publish|consume|stats|bench` and `dlq list|show|replay|purge`.
 * Keep this file light: the implementations load inside `run` from `./bus_impl.ts`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const impl = () => lazyImport<typeof import("./bus_impl.ts")>(new URL("./bus_impl.ts", import.meta.url));

/** The bus commands, registered in `cli/registry.ts`. */
export const busCommands: CommandSpec[] = [
  {
    name: "bus",
    group: "bus",
    summary: "Publish to and consume from the streaming bus; bus statistics and benchmark",
    usage: "bus publish|consume|stats|bench ...",
    examples: [
      `bus publish jobs --durable '{"task":"lint"}'`,
      "bus publish jobs --durable --file jobs.jsonl",
      "bus consume jobs --group workers --max 10",
      "bus stats",
      "bus bench --json",
    ],
    details: [
      "bus publish TOPIC [MESSAGE_JSON] [--file JSONL|-] [--durable] [--key K] [--header NAME=VALUE]...",
      "    Publishes one JSON value, or one per line of a file (- reads stdin); prints the count.",
      "    --durable records the topic as durable (KV log), so consumers in other processes receive it.",
      "bus consume TOPIC [--group G] [--durable] [--max N] [--from earliest|latest] [--maxsize N]",
      "    Prints each message as one JSON line {id, topic, key, ts, value} and acknowledges it after the line",
      "    is written. With --group, each message goes to one member and the group's offset is committed;",
      "    a restarted group resumes after its committed offset (at-least-once: ids are stable).",
      "    Without --group, prints messages published from now on. --max N exits after N messages.",
      "bus stats [--json]",
      "    Durable topics (log range, group offsets and lag), dead letters, and the last live snapshot.",
      "bus bench [--json] [--quick] [--messages N]",
      "    Fan-out, group, worker group, durable and slow-consumer memory against an array-queue ceiling.",
      "Environment: DSPY_BUS=local|kafka|mirror, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC_PREFIX, KAFKA_CLIENT_ID,",
      "DSPY_BUS_DURABLE_TOPICS (comma-separated topics or patterns), BUS_METRICS_INTERVAL (seconds).",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runBus(args, ctx),
  },
  {
    name: "dlq",
    group: "bus",
    summary: "List, show, replay or purge dead letters (KV; history in .dspy_reports/dlq.jsonl)",
    usage: "dlq list|show|replay|purge ...",
    examples: [
      "dlq list",
      "dlq list --topic jobs --json",
      "dlq show d0mfq3k2x0001ab12cd",
      "dlq replay --topic jobs",
    ],
    details: [
      "dlq list [--topic T] [--limit N] [--json]   newest N records (default 100), oldest first",
      "dlq show ID [--json]                         one record",
      "dlq replay (ID... | --topic T | --all)       republish on the original topic, then remove from the DLQ",
      "                                             (from the CLI only for durable topics or DSPY_BUS=kafka)",
      "dlq purge (ID... | --topic T | --all)        remove records from KV (dlq.jsonl keeps the history)",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runDlq(args, ctx),
  },
];
