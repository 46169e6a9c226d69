/**
 * Implementation of `experiments ...` and `datasets preview` (loaded lazily by
 * `cli/commands/experiments.ts`): parses arguments, calls `experiments/mod.ts`, prints.
 *
 * @module
 */

import { UsageError } from "../../core/errors.ts";
import {
  addSchedule,
  cancelExperiment,
  compareExperiments,
  confinePath,
  type ExperimentRecord,
  finishedHistory,
  fireSchedule,
  followExperiment,
  isTerminal,
  lastFiring,
  listExperiments,
  listSchedules,
  previewDataset,
  readLogLines,
  removeSchedule,
  requireExperiment,
  scheduleNextFire,
  setSchedulePaused,
  specFromArgs,
  startExperiment,
} from "../../experiments/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";

const SUBS = ["run", "sweep", "status", "list", "history", "compare", "cancel", "logs", "schedule"];

/** `experiments SUBCOMMAND ...`. */
export async function runExperiments(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "run":
    case "sweep":
      return await run(args, ctx);
    case "status":
      return await status(rest, ctx);
    case "list":
      return await list(rest, ctx);
    case "history":
      return await history(rest, ctx);
    case "compare":
      return await compare(rest, ctx);
    case "cancel":
      return await cancel(rest, ctx);
    case "logs":
      return await logs(rest, ctx);
    case "schedule":
      return await schedule(rest, ctx);
    default:
      throw new UsageError(
        sub === undefined
          ? `experiments: missing subcommand (${SUBS.join(", ")}). See 'dspy-code experiments --help'.`
          : `experiments: unknown subcommand '${sub}' (use ${
            SUBS.join(", ")
          }). See 'dspy-code experiments --help'.`,
      );
  }
}

function when(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "-";
}

/** The headline number of a record: texts/s for embed, mean return for rl, best texts/s for a sweep. */
function headline(r: Pick<ExperimentRecord, "kind" | "metrics">): string {
  const m = r.metrics;
  if (!m) return "-";
  if (r.kind === "embed") return `${m.texts_per_s} texts/s`;
  if (r.kind === "rl") return `return ${m.mean_return ?? "-"}`;
  const best = m.best as Record<string, unknown> | undefined;
  return best ? `best ${best.texts_per_s} texts/s (${best.model}, ${best.batch_size})` : "-";
}

async function follow(ctx: CommandContext, id: string, cancelOnAbort: boolean): Promise<ExperimentRecord> {
  const { out } = ctx;
  let bar: ReturnType<typeof out.progress> | null = null;
  let shown = 0;
  let last!: ExperimentRecord;
  let cancelled = false;
  const began = Date.now();
  const onAbort = () => {
    if (!cancelOnAbort || cancelled) return;
    cancelled = true;
    out.info(`cancelling ${id}…`);
    void cancelExperiment(ctx.workspace, id).catch(() => {});
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const r of followExperiment(ctx.workspace, id, { intervalMs: 200 })) {
      last = r;
      if (out.json) continue;
      if (r.status === "queued" && !bar && shown === 0 && Date.now() - began > 1500) {
        out.info(`${id} is queued behind the run in progress`);
        shown = -1;
      }
      if (r.progress && r.progress.total > 0) {
        if (!bar) {
          bar = out.progress(r.progress.total, `${r.kind} ${id}`);
          shown = 0;
        }
        const d = Math.max(0, r.progress.done - shown);
        if (d > 0) {
          bar.tick(d, r.progress.rate ? `${r.kind} ${id} ${Math.round(r.progress.rate)}/s` : undefined);
          shown = r.progress.done;
        }
      }
      if (ctx.signal.aborted && !cancelOnAbort) break;
    }
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    bar?.done();
  }
  return last;
}

function printRecord(ctx: CommandContext, r: ExperimentRecord): void {
  if (ctx.out.json) {
    ctx.out.printJson(r);
    return;
  }
  const rows: [string, string][] = [
    ["kind", r.kind],
    ["status", r.status + (r.cancel_requested && !isTerminal(r.status) ? " (cancel requested)" : "")],
    ["trigger", r.trigger],
    ["created", when(r.created)],
    ["started", when(r.started)],
    ["finished", when(r.finished)],
    ["params", JSON.stringify(r.params)],
  ];
  if (r.progress) rows.push(["progress", `${r.progress.done}/${r.progress.total}`]);
  if (r.metrics) {
    for (const [k, v] of Object.entries(r.metrics)) {
      if (k === "results") continue;
      rows.push([k, typeof v === "object" ? JSON.stringify(v) : String(v)]);
    }
  }
  // "cells" is already the sweep's count (a metric); the ids get their own label.
  if (r.children?.length) rows.push(["cell ids", r.children.join(" ")]);
  if (r.error) rows.push(["error", r.error]);
  rows.push(["log", r.log]);
  ctx.out.panel(`experiment ${r.id}`, rows);
}

async function run(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const detach = args.includes("--detach");
  const spec = specFromArgs(args.filter((a) => a !== "--detach"));
  const rec = await startExperiment(ctx.workspace, spec, { trigger: "cli", kick: !detach, until: true });
  if (detach) {
    if (ctx.out.json) ctx.out.printJson({ ok: true, id: rec.id });
    else {ctx.out.print(
        `queued ${rec.id} (the 'up' process runs it; follow with 'experiments status ${rec.id} --follow')`,
      );}
    return { ok: true, data: { id: rec.id } };
  }
  if (!ctx.out.json) ctx.out.info(`experiment ${rec.id} (${rec.kind}); Ctrl-C cancels it`);
  const end = await follow(ctx, rec.id, true);
  printRecord(ctx, end);
  return { ok: end.status === "done", error: end.error ?? undefined, data: end };
}

async function status(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("experiments status", args, {
    follow: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  }, { min: 1, max: 1, names: "ID" });
  let rec = await requireExperiment(ctx.workspace, positionals[0]);
  if (values.follow && !isTerminal(rec.status)) rec = await follow(ctx, rec.id, false);
  printRecord(ctx, rec);
  return { ok: true, data: rec };
}

async function list(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("experiments list", args, {
    limit: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  }, { max: 0 });
  const limit = intOption("experiments list", "limit", values.limit, 50, 1);
  const recs = await listExperiments(ctx.workspace, { limit, includeChildren: values.all });
  if (ctx.out.json) {
    ctx.out.printJson(recs);
    return { ok: true, data: recs };
  }
  if (recs.length === 0) {
    ctx.out.print("no experiments yet: 'dspy-code experiments run embed --dataset FILE' starts one");
    return { ok: true, data: recs };
  }
  ctx.out.table(
    ["id", "kind", "status", "trigger", "created", "progress", "result"],
    recs.map((r) => [
      r.id,
      r.kind,
      r.status,
      r.trigger,
      when(r.created),
      r.progress ? `${r.progress.done}/${r.progress.total}` : "-",
      headline(r),
    ]),
  );
  return { ok: true, data: recs };
}

async function history(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("experiments history", args, {
    limit: { type: "string" },
    json: { type: "boolean" },
  }, { max: 0 });
  const rows = await finishedHistory(
    ctx.workspace,
    intOption("experiments history", "limit", values.limit, 100, 1),
  );
  if (ctx.out.json) {
    for (const r of rows) ctx.out.printJson(r);
    return { ok: true, data: rows };
  }
  if (rows.length === 0) ctx.out.print("no finished experiments yet");
  else {
    ctx.out.table(
      ["id", "kind", "status", "trigger", "finished", "result"],
      rows.map((r) => [r.id, r.kind, r.status, r.trigger, when(r.finished), headline(r)]),
    );
  }
  return { ok: true, data: rows };
}

async function compare(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("experiments compare", args, { json: { type: "boolean" } }, {
    min: 2,
    names: "two or more experiment IDs",
  });
  const cmp = await compareExperiments(ctx.workspace, positionals);
  if (ctx.out.json) ctx.out.printJson(cmp);
  else {
    ctx.out.table(
      ["metric", ...cmp.ids],
      cmp.rows.map((
        r,
      ) => [r.metric, ...r.values.map((v) => v === null ? "-" : typeof v === "number" ? v : String(v))]),
    );
  }
  return { ok: true, data: cmp };
}

async function cancel(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("experiments cancel", args, { json: { type: "boolean" } }, {
    min: 1,
    max: 1,
    names: "ID",
  });
  const before = await requireExperiment(ctx.workspace, positionals[0]);
  if (isTerminal(before.status)) {
    if (ctx.out.json) ctx.out.printJson({ ok: false, id: before.id, status: before.status });
    else ctx.out.error(`${before.id} already ended (${before.status}); nothing to cancel`);
    return { ok: false, error: `already ${before.status}` };
  }
  let rec = await cancelExperiment(ctx.workspace, before.id);
  if (!isTerminal(rec.status)) {
    // A running one: its runner stops it within a second or two.
    for await (const r of followExperiment(ctx.workspace, rec.id, { intervalMs: 200 })) rec = r;
  }
  if (ctx.out.json) ctx.out.printJson({ ok: true, id: rec.id, status: rec.status });
  else ctx.out.print(`${rec.id}: ${rec.status}`);
  return { ok: true, data: rec };
}

async function logs(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("experiments logs", args, {}, { min: 1, max: 1, names: "ID" });
  const rec = await requireExperiment(ctx.workspace, positionals[0]);
  const { lines } = await readLogLines(ctx.workspace, rec.id);
  ctx.out.print(...lines);
  return { ok: true, data: lines };
}

async function schedule(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const [verb, ...rest] = args;
  const ws = ctx.workspace;
  const out = ctx.out;
  switch (verb) {
    case "add": {
      const dash = rest.indexOf("--");
      if (dash < 0) {
        throw new UsageError(
          `experiments schedule add: put the experiment after '--', e.g. ` +
            `schedule add nightly --cron "0 3 * * *" -- run embed --dataset data/q.jsonl`,
        );
      }
      const { values, positionals } = parseCommandArgs("experiments schedule add", rest.slice(0, dash), {
        cron: { type: "string" },
        replace: { type: "boolean" },
      }, { min: 1, max: 1, names: "NAME" });
      if (!values.cron) {
        throw new UsageError(`experiments schedule add: --cron "EXPR" is required (e.g. --cron "0 3 * * *")`);
      }
      const rec = await addSchedule(ws, {
        name: positionals[0],
        cron: values.cron,
        args: rest.slice(dash + 1),
        replace: values.replace,
      });
      const next = scheduleNextFire(rec);
      if (out.json) out.printJson({ ok: true, ...rec, next_fire: next?.toISOString() ?? null });
      else out.print(`schedule ${rec.name}: "${rec.cron}" (UTC), next ${next?.toISOString() ?? "-"}`);
      return { ok: true, data: rec };
    }
    case "list": {
      const recs = await listSchedules(ws);
      const rows = recs.map((r) => ({ ...r, next_fire: scheduleNextFire(r)?.toISOString() ?? null }));
      if (out.json) out.printJson(rows);
      else if (rows.length === 0) {
        out.print("no schedules: 'experiments schedule add NAME --cron EXPR -- run ...'");
      } else {
        out.table(
          ["name", "cron (UTC)", "state", "next fire", "last outcome", "runs", "skipped", "experiment"],
          rows.map((r) => {
            const f = lastFiring(r);
            return [
              r.name,
              r.cron,
              r.paused ? "paused" : "active",
              r.next_fire ?? "-",
              f ? `${f.outcome} ${when(f.ts)}` : "-",
              r.fired,
              r.skipped,
              r.args.join(" "),
            ];
          }),
        );
      }
      return { ok: true, data: rows };
    }
    case "remove":
    case "pause":
    case "resume":
    case "run": {
      const { positionals } = parseCommandArgs(`experiments schedule ${verb}`, rest, {}, {
        min: 1,
        max: 1,
        names: "NAME",
      });
      const name = positionals[0];
      if (verb === "remove") {
        await removeSchedule(ws, name);
        if (out.json) out.printJson({ ok: true, removed: name });
        else out.print(`removed schedule ${name}`);
        return { ok: true };
      }
      if (verb === "run") {
        const firing = await fireSchedule(ws, name, { until: true });
        if (firing.outcome !== "started") {
          if (out.json) out.printJson({ ok: false, ...firing });
          else out.error(`schedule ${name}: ${firing.outcome}: ${firing.reason}`);
          return { ok: false, error: firing.reason };
        }
        if (!out.json) out.info(`schedule ${name} fired: experiment ${firing.experiment}`);
        const end = await follow(ctx, firing.experiment!, true);
        printRecord(ctx, end);
        return { ok: end.status === "done", data: end };
      }
      const rec = await setSchedulePaused(ws, name, verb === "pause");
      if (out.json) out.printJson({ ok: true, name, paused: rec.paused });
      else {out.print(
          `schedule ${name} ${
            rec.paused ? "paused" : `resumed (next ${scheduleNextFire(rec)?.toISOString()})`
          }`,
        );}
      return { ok: true, data: rec };
    }
    default:
      throw new UsageError(
        `experiments schedule: ${
          verb === undefined ? "missing" : `unknown '${verb}'`
        } action: use add, list, ` +
          `remove, pause, resume or run. See 'dspy-code experiments --help'.`,
      );
  }
}

/** `datasets preview PATH [--n 5]`. */
export async function runDatasets(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const [verb, ...rest] = args;
  if (verb !== "preview") {
    throw new UsageError(`datasets: use 'datasets preview PATH'. See 'dspy-code datasets --help'.`);
  }
  const { values, positionals } = parseCommandArgs("datasets preview", rest, {
    n: { type: "string" },
    json: { type: "boolean" },
  }, { min: 1, max: 1, names: "PATH" });
  const n = intOption("datasets preview", "n", values.n, 5, 1);
  const path = await confinePath(ctx.workspace, positionals[0], { label: "dataset" });
  const texts = await previewDataset(ctx.workspace, path, n);
  if (ctx.out.json) ctx.out.printJson({ path, preview: texts });
  else if (texts.length === 0) ctx.out.print(`${path}: no texts (JSONL needs {"text": ...} a line)`);
  else ctx.out.print(...texts.map((t) => `- ${t.length > 120 ? t.slice(0, 117) + "..." : t}`));
  return { ok: texts.length > 0, data: texts };
}
