/**
 * Event commands: `tail` (print or follow a stream), `stats` (per-tool statistics, the lite dashboard as a
 * table) and `dashboard-lite` (the same table refreshed in place).
 *
 * @module
 */

import { UsageError } from "../../core/errors.ts";
import { type CommandSpec, intOption, numberOption, parseCommandArgs } from "../command.ts";
import { lazyImport } from "../lazy.ts";
import { formatTs } from "../time_format.ts";

/** Rows of the terminal (a generous default when it cannot be read). */
function terminalRows(): number {
  try {
    return Deno.consoleSize().rows;
  } catch {
    return 60;
  }
}

/** Event commands. */
export const eventCommands: CommandSpec[] = [
  {
    name: "tail",
    group: "events",
    summary: "Print (and follow) an event stream such as agent.metrics or agent.actions",
    usage: "tail [STREAM] [--follow] [--since TS] [--limit N] [--json]",
    examples: [
      "tail",
      "tail agent.actions --follow",
      "tail agent.metrics --since 2026-11-25T10:00:00Z --json",
    ],
    details: [
      "  STREAM        agent.metrics (default), agent.actions, or a durable bus topic",
      "  -f, --follow  keep printing new events (Ctrl-C to stop); works across processes",
      "  --since TS    only events at or after TS (epoch seconds or ISO date)",
      "  --limit N     without --follow, the newest N events (default 50), also with --since",
      "  --json        one JSON object per line: {seq, ...envelope}",
      "  --kafka       follow the Kafka topic instead of the KV stream (group dspy-tail, new messages;",
      "                prefix from KAFKA_TOPIC_PREFIX); Ctrl-C to stop",
      "  --bootstrap B brokers host:port[,host:port] (default KAFKA_BOOTSTRAP_SERVERS, else localhost:9092)",
      "  --from-beginning  with --kafka, start at the oldest retained message",
    ].join("\n"),
    recordEvents: false,
    async run(args, ctx) {
      const { values, positionals } = parseCommandArgs("tail", args, {
        follow: { type: "boolean", short: "f" },
        since: { type: "string" },
        limit: { type: "string" },
        kafka: { type: "boolean" },
        bootstrap: { type: "string" },
        "from-beginning": { type: "boolean" },
      }, { max: 1, names: "STREAM" });
      const stream = positionals[0] ?? "agent.metrics";
      if (values.kafka) {
        const { tailKafka } = await lazyImport<typeof import("../../bus/mod.ts")>(
          new URL("../../bus/mod.ts", import.meta.url),
        );
        const bootstrap = values.bootstrap ?? Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "localhost:9092";
        if (!ctx.out.json) ctx.out.info(`following Kafka topic ${stream} at ${bootstrap} (Ctrl-C to stop)`);
        await tailKafka({
          stream,
          bootstrap,
          signal: ctx.signal,
          fromBeginning: values["from-beginning"] ?? false,
          onMessage: (value, meta) => {
            if (ctx.out.json) ctx.out.printJson(value);
            else {ctx.out.print(
                `${ctx.out.c.dim(`${meta.partition}:${meta.offset}`)} ${JSON.stringify(value)}`,
              );}
          },
        });
        return;
      }
      if (values.bootstrap !== undefined || values["from-beginning"]) {
        throw new UsageError("tail: --bootstrap and --from-beginning go with --kafka");
      }
      const { parseSince, describeEntry } = await lazyImport<typeof import("../events_view.ts")>(
        new URL("../events_view.ts", import.meta.url),
      );
      const since = values.since !== undefined ? parseSince(values.since) : undefined;
      if (values.since !== undefined && since === undefined) {
        throw new UsageError(`tail: --since takes epoch seconds or an ISO date, got '${values.since}'`);
      }
      const limit = intOption("tail", "limit", values.limit, 50);
      const { openWorkspaceKv } = await import("../../core/kv.ts");
      const { readStream, streamHead, followStream } = await import("../../core/streams.ts");
      const kv = await openWorkspaceKv(ctx.workspace);
      const keep = (value: unknown) =>
        since === undefined || Number((value as { ts?: number })?.ts ?? Infinity) >= since;
      const print = (seq: number, value: unknown) => {
        if (!keep(value)) return;
        if (ctx.out.json) ctx.out.printJson({ seq, ...(value as object) });
        else ctx.out.print(describeEntry(seq, value, ctx.out));
      };
      const head = await streamHead(kv, stream);
      // Without --since start from the newest `limit` entries; with it, scan from the start.
      const after = since !== undefined ? 0 : Math.max(0, head - limit);
      if (!values.follow) {
        // With --since the whole stream is scanned; only the newest `limit` events at or after it are kept.
        let cursor = after;
        const newest: { seq: number; value: unknown }[] = [];
        while (true) {
          const page = await readStream(kv, stream, { after: cursor, limit: 500 });
          for (const e of page) {
            if (!keep(e.value)) continue;
            newest.push(e);
            if (newest.length > limit) newest.shift();
          }
          if (page.length < 500) break;
          cursor = page[page.length - 1].seq;
        }
        for (const e of newest) print(e.seq, e.value);
        if (head === 0 && !ctx.out.json) ctx.out.info(`(stream ${stream} is empty)`);
        return;
      }
      for await (const entry of followStream(kv, stream, { after, signal: ctx.signal })) {
        print(entry.seq, entry.value);
      }
    },
  },
  {
    name: "stats",
    group: "events",
    summary: "Per-tool count, success rate, average score and duration; session summary; bandit",
    usage: "stats [--window N] [--json]",
    examples: ["stats", "stats --json"],
    details: "  --window N   read the newest N metric events (default 5000)",
    recordEvents: false,
    async run(args, ctx) {
      const { values } = parseCommandArgs("stats", args, { window: { type: "string" } }, { max: 0 });
      const { openWorkspaceKv } = await import("../../core/kv.ts");
      const { workspacePaths } = await import("../../core/workspace.ts");
      const { computeToolStats } = await lazyImport<typeof import("../../core/tool_stats.ts")>(
        new URL("../../core/tool_stats.ts", import.meta.url),
      );
      const { printToolStats, readBanditView } = await lazyImport<typeof import("../events_view.ts")>(
        new URL("../events_view.ts", import.meta.url),
      );
      const kv = await openWorkspaceKv(ctx.workspace);
      const stats = await computeToolStats(kv, { window: intOption("stats", "window", values.window, 5000) });
      const bandit = await readBanditView(workspacePaths(ctx.workspace).rlStateFile);
      if (ctx.out.json) ctx.out.printJson({ ...stats, bandit });
      else printToolStats(stats, ctx.out, bandit);
      return { ok: true, data: stats };
    },
  },
  {
    name: "dashboard-lite",
    group: "events",
    summary: "The stats table, refreshed in place until Ctrl-C",
    usage: "dashboard-lite [--interval S] [--count N]",
    examples: ["dashboard-lite", "dashboard-lite --interval 5"],
    details:
      "  --interval S   seconds between refreshes (default 1)\n  --count N      stop after N refreshes",
    recordEvents: false,
    async run(args, ctx) {
      const { values } = parseCommandArgs("dashboard-lite", args, {
        interval: { type: "string" },
        count: { type: "string" },
      }, { max: 0 });
      const interval = numberOption("dashboard-lite", "interval", values.interval, 1);
      if (interval <= 0) throw new UsageError("dashboard-lite: --interval must be > 0");
      const count = values.count !== undefined
        ? intOption("dashboard-lite", "count", values.count, 0)
        : Infinity;
      const { openWorkspaceKv } = await import("../../core/kv.ts");
      const { workspacePaths } = await import("../../core/workspace.ts");
      const { computeToolStats } = await lazyImport<typeof import("../../core/tool_stats.ts")>(
        new URL("../../core/tool_stats.ts", import.meta.url),
      );
      const { printToolStats, readBanditView } = await lazyImport<
        typeof import("../events_view.ts")
      >(new URL("../events_view.ts", import.meta.url));
      const kv = await openWorkspaceKv(ctx.workspace);
      for (let i = 0; i < count && !ctx.signal.aborted; i++) {
        const stats = await computeToolStats(kv);
        const bandit = await readBanditView(workspacePaths(ctx.workspace).rlStateFile);
        if (!ctx.out.plain) {
          // Refresh in place: show only as many recent events as fit, so the screen never scrolls.
          const tried = bandit ? bandit.counts.filter((n) => Number(n) > 0).length : 0;
          const fixedRows = 1 + (stats.tools.length + 3) + 3 + 3 + (bandit ? tried + 5 : 0);
          stats.recent = stats.recent.slice(0, Math.max(3, terminalRows() - fixedRows - 1));
          ctx.out.write("\x1b[H\x1b[2J");
        }
        ctx.out.print(
          ctx.out.c.bold(`dspy-code dashboard-lite — ${ctx.workspace} — ${formatTs(Date.now() / 1000)}`),
        );
        printToolStats(stats, ctx.out, bandit);
        if (i + 1 < count) {
          // One abort listener per wait, removed when the wait ends (a session's signal lives for the line).
          await new Promise<void>((resolve) => {
            const onAbort = () => {
              clearTimeout(t);
              resolve();
            };
            const t = setTimeout(() => {
              ctx.signal.removeEventListener("abort", onAbort);
              resolve();
            }, interval * 1000);
            ctx.signal.addEventListener("abort", onAbort, { once: true });
          });
        }
      }
    },
  },
];
