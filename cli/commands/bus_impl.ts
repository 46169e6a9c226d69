/**
 * The `bus` and `dlq` commands: `bus publish|consume|stats|bench` and `dlq list|show|replay|purge`. They
 * parse arguments, call `bus/mod.ts` and print. Loaded lazily by `cli/commands/bus.ts`.
 *
 * @module
 */

import { resolve } from "node:path";
import {
  assertTopic,
  type Bus,
  type BusMessage,
  dlqSummary,
  durableStatus,
  getDeadLetter,
  groupLeaseActive,
  type GroupMember,
  isPattern,
  listDeadLetters,
  purgeDeadLetters,
  readMetricsSnapshot,
  replayDeadLetters,
  runBusBench,
  startBus,
} from "../../bus/mod.ts";
import { UsageError, UserError } from "../../core/errors.ts";
import type { CommandContext, CommandResult } from "../command.ts";
import { intOption, parseCommandArgs } from "../command.ts";
import { formatTs } from "../time_format.ts";

const BUS_SUBCOMMANDS = ["publish", "consume", "stats", "bench"];
const DLQ_SUBCOMMANDS = ["list", "show", "replay", "purge"];

/** `bus SUBCOMMAND ...`. */
export function runBus(args: string[], ctx: CommandContext): Promise<CommandResult | void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "publish":
      return busPublish(rest, ctx);
    case "consume":
      return busConsume(rest, ctx);
    case "stats":
      return busStats(rest, ctx);
    case "bench":
      return busBench(rest, ctx);
    default:
      throw new UsageError(
        sub === undefined
          ? `bus: missing subcommand (${BUS_SUBCOMMANDS.join(", ")}). See 'dspy-code bus --help'.`
          : `bus: unknown subcommand '${sub}' (use ${
            BUS_SUBCOMMANDS.join(", ")
          }). See 'dspy-code bus --help'.`,
      );
  }
}

/** `dlq SUBCOMMAND ...`. */
export function runDlq(args: string[], ctx: CommandContext): Promise<CommandResult | void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "list":
      return dlqList(rest, ctx);
    case "show":
      return dlqShow(rest, ctx);
    case "replay":
      return dlqReplay(rest, ctx);
    case "purge":
      return dlqPurge(rest, ctx);
    default:
      throw new UsageError(
        sub === undefined
          ? `dlq: missing subcommand (${DLQ_SUBCOMMANDS.join(", ")}). See 'dspy-code dlq --help'.`
          : `dlq: unknown subcommand '${sub}' (use ${
            DLQ_SUBCOMMANDS.join(", ")
          }). See 'dspy-code dlq --help'.`,
      );
  }
}

function parseHeaders(cmd: string, list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf("=");
    if (i <= 0) throw new UsageError(`${cmd}: --header takes NAME=VALUE, got '${h}'`);
    out[h.slice(0, i)] = h.slice(i + 1);
  }
  return out;
}

async function readInput(path: string): Promise<string> {
  if (path === "-") {
    const chunks: Uint8Array[] = [];
    for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
    return new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  }
  try {
    return await Deno.readTextFile(resolve(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UserError(`bus publish: file ${path} does not exist`);
    throw new UserError(`bus publish: cannot read ${path}: ${err instanceof Error ? err.message : err}`);
  }
}

function parseJsonLines(text: string, source: string): unknown[] {
  const out: unknown[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    try {
      out.push(JSON.parse(line));
    } catch (err) {
      throw new UserError(
        `bus publish: ${source} line ${i + 1} is not JSON (${err instanceof Error ? err.message : err}); ` +
          `put one JSON value per line`,
      );
    }
  }
  return out;
}

/**
 * Runs `fn` with a bus on the workspace. Short commands write no metrics snapshot; `snapshots` (the
 * long-running `bus consume`) writes one every `BUS_METRICS_INTERVAL` seconds, as docs/bus.md says.
 */
async function withBus<T>(
  ctx: CommandContext,
  fn: (bus: Bus) => Promise<T>,
  { snapshots = false }: { snapshots?: boolean } = {},
): Promise<T> {
  const bus = await startBus({ workspace: ctx.workspace, ...(snapshots ? {} : { metricsIntervalSec: 0 }) });
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

async function busPublish(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("bus publish", args, {
    durable: { type: "boolean" },
    key: { type: "string" },
    header: { type: "string", multiple: true },
    file: { type: "string" },
    json: { type: "boolean" },
  }, { min: 1, max: 2, names: "TOPIC [MESSAGE_JSON]" });
  const topic = positionals[0];
  assertTopic(topic);
  let messages: unknown[];
  if (values.file !== undefined) {
    if (positionals.length > 1) {
      throw new UsageError("bus publish: give either MESSAGE_JSON or --file, not both");
    }
    messages = parseJsonLines(await readInput(values.file), values.file === "-" ? "stdin" : values.file);
  } else if (positionals.length > 1) {
    messages = parseJsonLines(positionals[1], "MESSAGE_JSON");
    if (messages.length !== 1) throw new UsageError("bus publish: MESSAGE_JSON must be one JSON value");
  } else {
    throw new UsageError(
      "bus publish: nothing to publish; pass a JSON value (bus publish T '{\"a\":1}') or --file FILE.jsonl (- for stdin)",
    );
  }
  const headers = parseHeaders("bus publish", values.header);
  const result = await withBus(ctx, async (bus) => {
    if (values.durable) await bus.configureTopic(topic, { durable: true });
    const durable = bus.isDurable(topic);
    if (!durable) {
      ctx.out.warn(
        `topic '${topic}' is not durable: only subscribers inside this process could receive these messages; ` +
          `pass --durable so consumers in other processes (bus consume, the server) get them`,
      );
    }
    let last: void | Promise<void> = undefined;
    for (let i = 0; i < messages.length; i++) {
      last = bus.publish(topic, messages[i], { key: values.key, headers });
      if (i % 1000 === 999) await last;
    }
    await last;
    await bus.flush();
    return { topic, published: messages.length, durable, backend: bus.backend };
  });
  if (ctx.out.json || values.json) ctx.out.printJson(result);
  else ctx.out.print(`published ${result.published} message${result.published === 1 ? "" : "s"} to ${topic}`);
  return { ok: true, data: result };
}

async function busConsume(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("bus consume", args, {
    group: { type: "string" },
    durable: { type: "boolean" },
    max: { type: "string" },
    from: { type: "string" },
    maxsize: { type: "string" },
    json: { type: "boolean" },
  }, { min: 1, max: 1, names: "TOPIC" });
  const topic = positionals[0];
  if (values.group !== undefined || !isPattern(topic)) assertTopic(topic);
  const max = values.max !== undefined ? intOption("bus consume", "max", values.max, 0) : Infinity;
  if (values.from !== undefined && values.from !== "earliest" && values.from !== "latest") {
    throw new UsageError(`bus consume: --from takes earliest or latest, got '${values.from}'`);
  }
  const maxsize = Math.max(1, Math.min(intOption("bus consume", "maxsize", values.maxsize, 100), max));
  let printed = 0;
  await withBus(ctx, async (bus) => {
    if (values.durable) await bus.configureTopic(topic, { durable: true });
    if (!isPattern(topic) && !bus.isDurable(topic)) {
      ctx.out.warn(
        `topic '${topic}' is not durable, so only messages published inside this process can arrive; ` +
          `use --durable (and publish with --durable) to consume across processes`,
      );
    }
    if (max === 0) return;
    const group: GroupMember | null = values.group !== undefined
      ? bus.subscribeGroup(topic, values.group, {
        maxsize,
        ack: "manual",
        from: (values.from as "earliest" | "latest" | undefined) ?? "earliest",
      })
      : null;
    const source = group ?? bus.subscribe(topic, { maxsize, overflow: "block" });
    ctx.out.info(
      values.group !== undefined
        ? `consuming ${topic} as group ${values.group} (Ctrl-C to stop)`
        : `waiting for messages on ${topic} (Ctrl-C to stop)`,
    );
    if (values.group !== undefined && bus.backend !== "kafka" && bus.isDurable(topic)) {
      if (await groupLeaseActive(ctx.workspace, topic, values.group)) {
        ctx.out.info(
          `another process is reading group ${values.group} on ${topic}; waiting until it stops ` +
            `(a crashed reader's lease expires within 3 s)`,
        );
      }
    }
    const stop = () => source.interrupt();
    ctx.signal.addEventListener("abort", stop, { once: true });
    try {
      while (printed < max && !ctx.signal.aborted) {
        const batch: BusMessage[] = await source.nextBatch(Math.min(100, max - printed));
        if (batch.length === 0) break;
        for (const m of batch) {
          if (printed >= max) break;
          // Written synchronously: the line is out before the message is acknowledged.
          ctx.out.printJson({ id: m.id, topic: m.topic, key: m.key, ts: m.ts, value: m.value });
          group?.ack(m);
          printed++;
        }
        // Commit before taking more, so a crash can only redeliver what was in flight.
        if (group !== null) await group.commit();
      }
    } finally {
      ctx.signal.removeEventListener("abort", stop);
      source.close();
    }
  }, { snapshots: true });
  return { ok: true, data: { consumed: printed } };
}

async function busStats(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("bus stats", args, { json: { type: "boolean" } }, { max: 0 });
  const [durable, dlq, snapshot] = await Promise.all([
    durableStatus(ctx.workspace),
    dlqSummary(ctx.workspace),
    readMetricsSnapshot(ctx.workspace),
  ]);
  const data = { durable, dlq, snapshot };
  if (ctx.out.json || args.includes("--json")) {
    ctx.out.printJson(data);
    return { ok: true, data };
  }
  ctx.out.print(ctx.out.c.bold("Durable topics (KV log)"));
  const rows: (string | number)[][] = [];
  for (const t of durable) {
    const groups = Object.entries(t.groups);
    if (groups.length === 0) rows.push([t.topic, t.first, t.head, "-", "-", "-"]);
    for (const [g, s] of groups) rows.push([t.topic, t.first, t.head, g, s.committed, s.lag]);
  }
  ctx.out.table(["topic", "first", "head", "group", "committed", "lag"], rows);
  ctx.out.print("");
  ctx.out.print(ctx.out.c.bold("Dead letters"));
  ctx.out.print(
    `total ${dlq.total}` +
      (dlq.last_ts !== null ? `, newest ${new Date(dlq.last_ts * 1000).toISOString()}` : ""),
  );
  const byTopic = Object.entries(dlq.by_topic);
  if (byTopic.length > 0) ctx.out.table(["topic", "dead letters"], byTopic.map(([t, n]) => [t, n]));
  ctx.out.print("");
  if (snapshot) {
    const age = Math.round(Date.now() / 1000 - snapshot.ts);
    const by = snapshot.pid ? `, written by pid ${snapshot.pid}` : "";
    ctx.out.print(
      ctx.out.c.bold(`Live bus (snapshot from .dspy_reports/bus_metrics.json, ${age}s old${by})`),
    );
    const live: (string | number)[][] = [];
    for (const [t, s] of Object.entries(snapshot.topics)) {
      const q = s.subscribers.reduce((a, x) => a + x.qsize, 0);
      const dropped = s.subscribers.reduce((a, x) => a + x.dropped, 0);
      live.push([t, s.published, s.subscribers.length, q, dropped]);
    }
    ctx.out.table(["topic", "published", "subscribers", "queued", "dropped"], live);
  } else {
    ctx.out.print(
      ctx.out.c.dim(
        "No live bus snapshot yet (a long-running bus, e.g. the server, writes one every BUS_METRICS_INTERVAL seconds).",
      ),
    );
  }
  return { ok: true, data };
}

async function busBench(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("bus bench", args, {
    json: { type: "boolean" },
    messages: { type: "string" },
    quick: { type: "boolean" },
  }, { max: 0 });
  const quick = values.quick ?? false;
  const n = intOption("bus bench", "messages", values.messages, quick ? 200_000 : 2_000_000);
  const r = await runBusBench({
    messages: n,
    workerMessages: quick ? 50_000 : 500_000,
    durableMessages: quick ? 10_000 : 100_000,
    memoryMessages: quick ? 100_000 : 1_000_000,
    log: (line) => ctx.out.info(line),
  });
  if (ctx.out.json || values.json) {
    ctx.out.printJson(r);
    return { ok: true, data: r };
  }
  const fmt = (x: number) => x.toLocaleString("en-US");
  ctx.out.table(["case", "rate", "unit", "goal"], [
    [
      "ceiling: array push/shift, 4 readers",
      fmt(r.ceiling_array_queue.deliveries_per_s),
      "deliveries/s",
      "-",
    ],
    ["fan-out: 1 -> 4 subscribers", fmt(r.fanout.deliveries_per_s), "deliveries/s", "≥ 3,000,000"],
    ["group: 4 in-process members", fmt(r.group.msgs_per_s), "msgs/s", "≥ 2,000,000"],
    ["worker group: 4 Deno Workers", fmt(r.worker_group.msgs_per_s), "msgs/s", "-"],
    ["durable: KV log + committing group", fmt(r.durable.msgs_per_s), "msgs/s", "≥ 50,000"],
  ]);
  const m = r.slow_consumer_memory;
  ctx.out.print(
    `slow consumer (maxsize ${m.maxsize}, ${fmt(m.messages)} messages): RSS ${m.rss_start_mb} MB at start, ` +
      `peak ${m.rss_peak_mb} MB, ${m.rss_end_mb} MB at end (heap peak ${m.heap_peak_mb} MB)`,
  );
  ctx.out.print(`fan-out is ${r.fanout.ratio_to_ceiling}× the array-queue ceiling; ${r.machine.cores} cores`);
  return { ok: true, data: r };
}

async function dlqList(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("dlq list", args, {
    topic: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
  }, { max: 0 });
  const limit = intOption("dlq list", "limit", values.limit, 100);
  // Newest `limit` records, printed oldest first.
  const records = (await listDeadLetters(ctx.workspace, { topic: values.topic, limit, reverse: true }))
    .reverse();
  if (ctx.out.json || values.json) {
    for (const r of records) ctx.out.printJson(r);
    return { ok: true, data: records };
  }
  if (records.length === 0) {
    ctx.out.print(values.topic ? `no dead letters for topic ${values.topic}` : "no dead letters");
    return { ok: true, data: records };
  }
  ctx.out.table(
    ["id", "time", "topic", "group", "reason", "attempts", "error"],
    records.map((r) => [
      r.id,
      formatTs(r.ts),
      r.topic,
      r.group ?? "-",
      r.reason,
      r.attempts,
      (r.error ?? "").slice(0, 60),
    ]),
  );
  return { ok: true, data: records };
}

async function dlqShow(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("dlq show", args, { json: { type: "boolean" } }, {
    min: 1,
    max: 1,
    names: "ID",
  });
  const record = await getDeadLetter(ctx.workspace, positionals[0]);
  if (record === null) {
    throw new UserError(
      `dlq show: no dead letter with id ${positionals[0]}; 'dspy-code dlq list' shows the ids`,
    );
  }
  if (ctx.out.json || args.includes("--json")) ctx.out.printJson(record);
  else ctx.out.print(JSON.stringify(record, null, 2));
  return { ok: true, data: record };
}

function selection(cmd: string, values: { topic?: string; all?: boolean }, ids: string[]) {
  if (ids.length === 0 && values.topic === undefined && !values.all) {
    throw new UsageError(`${cmd}: say which records: IDs, --topic T, or --all. See 'dspy-code dlq --help'.`);
  }
  return { ids: ids.length > 0 ? ids : undefined, topic: values.topic };
}

async function dlqReplay(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("dlq replay", args, {
    topic: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  }, { names: "ID" });
  const selector = selection("dlq replay", values, positionals);
  const result = await withBus(ctx, async (bus) => {
    if (bus.backend !== "kafka") {
      // A replay from this short-lived process reaches only durable topics' consumers.
      const candidates = selector.ids
        ? (await Promise.all(selector.ids.map((id) => getDeadLetter(ctx.workspace, id)))).filter((r) =>
          r !== null
        )
        : await listDeadLetters(ctx.workspace, { topic: selector.topic, limit: Number.MAX_SAFE_INTEGER });
      if (selector.ids && candidates.length < selector.ids.length) {
        const found = new Set(candidates.map((r) => r!.id));
        const missing = selector.ids.filter((id) => !found.has(id));
        throw new UserError(
          `dlq replay: no dead letter with id ${missing.join(", ")}; 'dspy-code dlq list' shows the ids`,
        );
      }
      const notDurable = [...new Set(candidates.map((r) => r!.topic))].filter((t) => !bus.isDurable(t));
      if (notDurable.length > 0) {
        throw new UserError(
          `dlq replay: topic ${
            notDurable.join(", ")
          } is not durable, so a replay from this command would reach ` +
            `no consumer (and the records would be lost); replay through the process that runs the consumers ` +
            `(the server: POST /api/dlq/replay) or make the topic durable (bus publish --durable) first`,
        );
      }
    }
    return await replayDeadLetters(bus, selector);
  });
  if (ctx.out.json || values.json) ctx.out.printJson(result);
  else {
    ctx.out.print(`replayed ${result.replayed.length} dead letter${result.replayed.length === 1 ? "" : "s"}`);
    for (const f of result.failed) ctx.out.warn(`${f.id}: ${f.error}`);
  }
  return { ok: result.failed.length === 0, data: result };
}

async function dlqPurge(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("dlq purge", args, {
    topic: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  }, { names: "ID" });
  const selector = selection("dlq purge", values, positionals);
  const removed = await purgeDeadLetters(ctx.workspace, selector);
  if (ctx.out.json || values.json) ctx.out.printJson({ purged: removed });
  else {ctx.out.print(
      `purged ${removed} dead letter${removed === 1 ? "" : "s"} (.dspy_reports/dlq.jsonl keeps the history)`,
    );}
  return { ok: true, data: { purged: removed } };
}
