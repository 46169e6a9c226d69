/**
 * The context commands (loaded lazily by `cli/commands/agent.ts`): `ctx` (key events from the workspace
 * logs + an LLM summary), `codectx` (code snapshot, offline analysis + an LLM summary) and `plan` (logs and
 * code search → TaskAgent plan). The logic lives in `agent/`; this file parses arguments and prints.
 *
 * @module
 */

import { join, resolve } from "node:path";
import {
  buildCodeSnapshot,
  buildContext,
  codeContext,
  findLlm,
  heuristicKeyPoints,
  loadLogEvents,
  planTask,
  searchReferences,
} from "../../agent/mod.ts";
import { hasIndex } from "../../agent/search/mod.ts";
import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { type CommandContext, type CommandResult, parseCommandArgs } from "../command.ts";
import { bullets, section } from "./agent_format.ts";
import { llmOptions } from "./llm_impl.ts";

/** `ctx`: key events from the workspace logs (+ an LLM summary when available). */
export async function runCtx(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("ctx", args, {
    "no-llm": { type: "boolean" },
    task: { type: "string" },
    logs: { type: "string" },
  }, { max: 0 });
  const logsDir = values.logs ? resolve(ctx.workspace, values.logs) : undefined;
  if (logsDir && !(await Deno.stat(logsDir).catch(() => null))) {
    throw new UserError(`ctx: ${values.logs} does not exist; pass a log file or folder with --logs`);
  }
  const events = await loadLogEvents(ctx.workspace, logsDir);
  const eventCount = events.files.reduce((n, f) => n + f.events.length, 0);
  const data: Record<string, unknown> = {
    files: events.files.length,
    events: eventCount,
    errors: events.errorLines,
    logs: events.files,
  };
  if (events.files.length === 0) {
    if (ctx.out.json) ctx.out.printJson(data);
    else {ctx.out.print(
        `No logs found under ${logsDir ?? join(ctx.workspace, "logs")} (or *.log in the workspace).`,
      );}
    return { ok: true, data };
  }
  let summary: Awaited<ReturnType<typeof buildContext>> | undefined;
  let llmNote = "";
  if (!values["no-llm"]) {
    const found = await findLlm(llmOptions(ctx));
    if (found.client) {
      try {
        summary = await buildContext(
          found.client,
          values.task ?? "Summarize logs for debugging",
          events.bundle,
          { workspace: ctx.workspace, signal: ctx.signal },
        );
      } catch (err) {
        llmNote = `LLM summary failed: ${errorMessage(err)}`;
      }
    } else llmNote = `LLM summary unavailable: ${found.label}`;
  }
  if (summary) {
    Object.assign(data, {
      summary: summary.context,
      key_points: summary.keyPoints,
      next_steps: summary.nextSteps,
    });
  } else data.key_points_heuristic = heuristicKeyPoints(events);
  if (ctx.out.json) {
    ctx.out.printJson(data);
    return { ok: true, data };
  }
  for (const f of events.files) section(ctx, `Extracted Events: ${f.path}`, f.events.join("\n"));
  if (summary) {
    section(ctx, `Context (by ${summary.prediction.model})`, summary.context);
    section(ctx, "Key Points", bullets(summary.keyPoints));
    if (summary.nextSteps.length) section(ctx, "Next Steps", bullets(summary.nextSteps));
  } else {
    section(ctx, "Error lines (found in the logs, no LLM)", bullets(heuristicKeyPoints(events)));
    if (llmNote) ctx.out.info(llmNote);
  }
  return { ok: true, data };
}

/** `codectx [PATH]`: snapshot, offline analysis, and an LLM summary when available. */
export async function runCodectx(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("codectx", args, {
    "no-llm": { type: "boolean" },
    ask: { type: "string" },
    snapshot: { type: "boolean" },
  }, { max: 1, names: "PATH" });
  const snap = await buildCodeSnapshot(ctx.workspace, positionals[0] ?? ".");
  const data: Record<string, unknown> = {
    target: snap.target,
    kind: snap.kind,
    files: snap.files,
    lines: snap.lines,
    languages: snap.languages,
    entry_points: snap.entryPoints,
    risk_areas: snap.riskAreas,
    snapshot_len: snap.text.length,
  };
  let llmNote = "";
  if (!values["no-llm"]) {
    const found = await findLlm(llmOptions(ctx));
    if (found.client) {
      const ask = values.ask ?? `Summarize ${snap.target} for a developer new to it`;
      const refs = (await hasIndex(ctx.workspace).catch(() => false))
        ? await searchReferences(ctx.workspace, ask)
        : [];
      try {
        const r = await codeContext(found.client, snap.text, ask, refs, {
          workspace: ctx.workspace,
          signal: ctx.signal,
        });
        Object.assign(data, {
          summary: r.summary,
          bullets: r.bullets,
          llm_entry_points: r.entryPoints,
          llm_risk_areas: r.riskAreas,
          citations: r.citations,
          model: r.prediction.model,
        });
      } catch (err) {
        llmNote = `LLM summary failed: ${errorMessage(err)}`;
      }
    } else llmNote = `LLM summary unavailable: ${found.label}`;
  }
  if (ctx.out.json) {
    ctx.out.printJson(values.snapshot ? { ...data, snapshot: snap.text } : data);
    return { ok: true, data };
  }
  if (values.snapshot) section(ctx, "Snapshot", snap.text);
  ctx.out.panel(`Code context: ${snap.target}`, [
    ["files", String(snap.files)],
    ["lines", String(snap.lines)],
    [
      "languages",
      Object.entries(snap.languages).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
  ]);
  section(ctx, "Entry points (by file names and main functions)", bullets(snap.entryPoints));
  section(ctx, "Risk areas (large files, TODO/FIXME)", bullets(snap.riskAreas));
  if (data.summary) {
    section(ctx, `Summary (by ${data.model})`, String(data.summary));
    section(ctx, "Components", bullets(data.bullets as string[]));
    if ((data.llm_entry_points as string[]).length) {
      section(ctx, "Entry points (LLM)", bullets(data.llm_entry_points as string[]));
    }
    if ((data.llm_risk_areas as string[]).length) {
      section(ctx, "Risk areas (LLM)", bullets(data.llm_risk_areas as string[]));
    }
    if ((data.citations as string[]).length) section(ctx, "Citations", bullets(data.citations as string[]));
  } else if (llmNote) ctx.out.info(llmNote);
  return { ok: true, data };
}

/** `plan TASK`. */
export async function runPlan(args: string[], ctx: CommandContext): Promise<CommandResult> {
  // The task is free text and plan has no options of its own: a flag it names ("add a --limit flag to
  // grep") is part of the task, not an unknown option. (`--help` and the global flags are taken before.)
  const task = (args[0] === "--" ? args.slice(1) : args).join(" ").trim();
  if (!task) throw new UsageError('plan: say what to plan, e.g. plan "fix failing tests"');
  const events = await loadLogEvents(ctx.workspace);
  const refs = await searchReferences(ctx.workspace, task);
  const found = await findLlm(llmOptions(ctx));
  if (!found.client) {
    if (!ctx.out.json) {
      section(
        ctx,
        "Context gathered (search hits, no LLM)",
        bullets(refs.map((r) => `${r.path}:${r.start}-${r.end}`)),
      );
      if (events.files.length) section(ctx, "Log error lines (no LLM)", bullets(heuristicKeyPoints(events)));
    }
    throw new UserError(
      `plan needs an LLM to write the plan and none is available: ${found.reason}.`,
    );
  }
  const llm = found.client;
  let context = refs.map((r) => `# ${r.path}:${r.start}-${r.end}\n${r.snippet}`).join("\n\n");
  let keyPoints: string[] = [];
  if (events.files.length) {
    const built = await buildContext(llm, task, events.bundle, {
      workspace: ctx.workspace,
      signal: ctx.signal,
    });
    keyPoints = built.keyPoints;
    context = `${built.context}\nKey points:\n${bullets(built.keyPoints)}\n\nCode:\n${context}`;
  }
  const r = await planTask(llm, task, context || "(no logs or code hits)", {
    workspace: ctx.workspace,
    signal: ctx.signal,
  });
  const data = {
    task,
    plan: r.plan,
    commands: r.commands,
    assumptions: r.assumptions,
    risks: r.risks,
    key_points: keyPoints,
    files: refs.map((x) => x.path),
    model: r.prediction.model,
  };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    section(ctx, "Task", task);
    if (refs.length) {
      section(
        ctx,
        "Context (code search)",
        bullets(refs.map((x) => `${x.path}:${x.start}-${x.end}`)),
      );
    }
    if (keyPoints.length) section(ctx, "Key Points", bullets(keyPoints));
    section(
      ctx,
      `Proposed Plan (by ${r.prediction.model})`,
      r.plan.map((s, i) => `${i + 1}. ${s.replace(/^\d+[.)]\s*/, "")}`).join("\n") || "(empty)",
    );
    section(ctx, "Suggested Commands", r.commands.length ? r.commands.join("\n") : "(no commands)");
    if (r.assumptions.length) section(ctx, "Assumptions", bullets(r.assumptions));
    if (r.risks.length) section(ctx, "Risks", bullets(r.risks));
  }
  return { ok: true, data };
}
