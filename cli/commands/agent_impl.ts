/**
 * Implementations of the agent commands (loaded lazily by `cli/commands/agent.ts`): plan, ctx, codectx,
 * edit, patch, gstatus/gadd/gcommit, run-tests/lint/build, chat, llm/ollama/model, and the hooks for
 * routing, tool scoring, learning and the session panel's LLM row. The logic lives in `agent/`; this file
 * parses arguments and prints.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { atomicWriteFile } from "../../core/atomic.ts";
import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { displayPath, resolveInside, workspacePaths } from "../../core/workspace.ts";
import {
  applyPatchText,
  buildCodeSnapshot,
  buildContext,
  codeContext,
  CONFIGURE_HINT,
  DEFAULT_CAPS,
  type EditCaps,
  findLlm,
  forgetProbes,
  heuristicKeyPoints,
  learnFromTool,
  listPatches,
  type LlmClient,
  loadLogEvents,
  locateFiles,
  planTask,
  planTests,
  proposeEdit,
  recordPatchAttempt,
  type Reference,
  requireLlm,
  revertPatch,
  routeRequest,
  runToolchain,
  scoreOutcome,
  type ToolchainAction,
  verifyPatch,
} from "../../agent/mod.ts";
import { hasIndex, searchIndex, walkFiles } from "../../agent/search/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import type { ToolOutcome } from "../hooks.ts";

// ---------------------------------------------------------------------------------------------------------
// Helpers.

function bullets(items: string[], empty = "(none)"): string {
  return items.length ? items.map((i) => `- ${i}`).join("\n") : empty;
}

function section(ctx: CommandContext, title: string, body: string): void {
  const { c } = ctx.out;
  ctx.out.print(c.bold(c.cyan(`── ${title} ──`)), body, "");
}

/** Prints a unified diff with colours. */
export function printDiff(ctx: CommandContext, patch: string): void {
  const { c } = ctx.out;
  ctx.out.print(
    ...patch.replace(/\n$/, "").split("\n").map((l) =>
      l.startsWith("+++") || l.startsWith("---")
        ? c.bold(l)
        : l.startsWith("@@")
        ? c.cyan(l)
        : l.startsWith("+")
        ? c.green(l)
        : l.startsWith("-")
        ? c.red(l)
        : l
    ),
  );
}

async function searchContext(root: string, query: string, k = 5): Promise<Reference[]> {
  try {
    const hits = await searchIndex(root, query, { k, context: 6 });
    return hits.map((h) => ({
      path: h.path,
      start: h.start_line,
      end: h.end_line,
      score: h.score,
      snippet: h.snippet,
    }));
  } catch {
    return [];
  }
}

function llmOptions(ctx: CommandContext) {
  return {
    model: ctx.options.model,
    ollama: ctx.options.ollama,
    baseUrl: ctx.options.baseUrl,
    apiKey: ctx.options.apiKey,
  };
}

// ---------------------------------------------------------------------------------------------------------
// LLM status and switching.

/** `llm`: show the LLM configuration and probe it. */
export async function runLlm(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("llm", args, {}, { max: 0 });
  forgetProbes();
  const found = await findLlm(llmOptions(ctx), 3000);
  const data = {
    ready: !!found.client,
    label: found.label,
    reason: found.reason ?? null,
    provider: found.config?.provider ?? null,
    model: found.config?.model ?? ctx.options.model,
  };
  if (ctx.out.json) ctx.out.printJson(data);
  else if (found.client) ctx.out.print(`LLM: ${ctx.out.c.green(found.label)}`);
  else {
    ctx.out.print(`LLM: ${ctx.out.c.yellow("not available")} — ${found.reason}`);
    ctx.out.print(`To enable it: ${CONFIGURE_HINT}.`);
    ctx.out.print(
      "Without an LLM, grep, esearch, index, ctx, codectx, patch, git, run-tests, lint and build keep working.",
    );
  }
  return { ok: true, data };
}

/** `ollama on|off`. */
export async function runOllama(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("ollama", args, {}, { min: 1, max: 1, names: "on|off" });
  const v = positionals[0].toLowerCase();
  if (v !== "on" && v !== "off") throw new UsageError(`ollama: say 'on' or 'off', got '${positionals[0]}'`);
  ctx.options.ollama = v === "on";
  forgetProbes();
  const found = await findLlm(llmOptions(ctx));
  ctx.out.print(
    `Provider: ${ctx.options.ollama ? "Ollama" : "OpenAI-compatible API"}; LLM: ${
      found.client ? found.label : `not available (${found.reason})`
    }` + (found.fallbackReason ? ` (fallback: ${found.fallbackReason})` : ""),
  );
  return { ok: true, data: { ollama: ctx.options.ollama, ready: !!found.client } };
}

/** `model NAME`. */
export async function runModel(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("model", args, {}, { max: 1, names: "NAME" });
  if (positionals.length === 0) {
    ctx.out.print(`model: ${ctx.options.model}`);
    return { ok: true, data: { model: ctx.options.model } };
  }
  ctx.options.model = positionals[0];
  forgetProbes();
  const found = await findLlm(llmOptions(ctx));
  ctx.out.print(
    `Model set to ${ctx.options.model}; LLM: ${
      found.client ? found.label : `not available (${found.reason})`
    }`,
  );
  return { ok: true, data: { model: ctx.options.model, ready: !!found.client } };
}

// ---------------------------------------------------------------------------------------------------------
// ctx / codectx / plan.

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
    section(ctx, `Context (${found_label(summary.prediction.model)})`, summary.context);
    section(ctx, "Key Points", bullets(summary.keyPoints));
    if (summary.nextSteps.length) section(ctx, "Next Steps", bullets(summary.nextSteps));
  } else {
    section(ctx, "Error lines (found in the logs, no LLM)", bullets(heuristicKeyPoints(events)));
    if (llmNote) ctx.out.info(llmNote);
  }
  return { ok: true, data };
}

function found_label(model: string): string {
  return `by ${model}`;
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
        ? await searchContext(ctx.workspace, ask)
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
  const { positionals } = parseCommandArgs("plan", args, {}, { min: 1, names: "TASK" });
  const task = positionals.join(" ").trim();
  if (!task) throw new UsageError('plan: say what to plan, e.g. plan "fix failing tests"');
  const events = await loadLogEvents(ctx.workspace);
  const refs = await searchContext(ctx.workspace, task);
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

// ---------------------------------------------------------------------------------------------------------
// edit.

async function fileContext(root: string, files: string[], maxChars = 14000): Promise<string> {
  const parts: string[] = [];
  let used = 0;
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(resolveInside(root, f));
    } catch {
      continue;
    }
    const budget = Math.max(1000, Math.floor((maxChars - used) / Math.max(1, files.length - parts.length)));
    const body = text.length > budget ? text.slice(0, budget) + "\n... [file truncated] ..." : text;
    parts.push(`=== ${f} ===\n${body}`);
    used += body.length;
  }
  return parts.join("\n\n");
}

/** `edit TASK [--files F,…] [--apply]`. */
export async function runEdit(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("edit", args, {
    files: { type: "string" },
    apply: { type: "boolean", short: "y" },
    "max-files": { type: "string" },
    "max-lines": { type: "string" },
    rounds: { type: "string" },
    context: { type: "string" },
  }, { min: 1, names: "TASK" });
  const task = positionals.join(" ").trim();
  if (!task) throw new UsageError('edit: say what to change, e.g. edit "rename foo to bar in src/app.ts"');
  const caps: EditCaps = {
    maxFiles: intOption("edit", "max-files", values["max-files"], DEFAULT_CAPS.maxFiles),
    maxLines: intOption("edit", "max-lines", values["max-lines"], DEFAULT_CAPS.maxLines),
  };
  const root = ctx.workspace;
  let llm: LlmClient;
  try {
    llm = await requireLlm(llmOptions(ctx), "edit");
  } catch (err) {
    throw new UserError(
      `${
        errorMessage(err)
      } Without an LLM: isolate the target files with grep/esearch, write a unified diff, and apply it with 'patch FILE'.`,
    );
  }
  const opts = { workspace: root, signal: ctx.signal };
  const say = (line: string) => !ctx.out.json && ctx.out.info(line);

  // 1. Files: given, or FileLocator over search hits and the file list.
  let files: string[] = [];
  const refs = await searchContext(root, task, 8);
  if (values.files) {
    files = values.files.split(",").map((f) => f.trim()).filter(Boolean);
    for (const f of files) {
      const abs = resolveInside(root, f);
      const info = await Deno.stat(abs).catch(() => null);
      if (info && !info.isFile) throw new UserError(`edit: ${f} is not a file`);
    }
  } else {
    const walked = await walkFiles(root, { maxFileBytes: 512 * 1024 });
    const known = new Set(walked.map((w) => w.rel));
    const listing = walked.slice(0, 300).map((w) => w.rel).join("\n");
    const hits = refs.map((r) => `# ${r.path}:${r.start}-${r.end}\n${r.snippet}`).join("\n\n");
    say("Locating files…");
    const located = await locateFiles(llm, task, `Search hits:\n${hits}\n\nFiles:\n${listing}`, known, opts);
    files = located.candidates.slice(0, caps.maxFiles).map((c) => c.path);
    if (files.length === 0) {
      files = [...new Set(refs.map((r) => r.path))].slice(0, Math.min(2, caps.maxFiles));
    }
    if (files.length === 0) {
      throw new UserError(`edit: could not find files for "${task}"; name them with --files F1,F2`);
    }
  }
  say(`Files: ${files.join(", ")}`);

  // 2. CodeEdit with critic/reviser rounds and local checks.
  const context = (values.context ? `${values.context}\n\n` : "") + await fileContext(root, files);
  const proposal = await proposeEdit(llm, root, { task, context, fileHints: files }, caps, {
    ...opts,
    rounds: intOption("edit", "rounds", values.rounds, 2),
    onRound: (round, problems) => say(`Local checks failed (${problems[0]}); critic/reviser round ${round}…`),
  });
  const base = {
    task,
    files,
    patch: proposal.patch,
    added: proposal.added,
    removed: proposal.removed,
    attempts: proposal.attempts,
  };
  if (!proposal.ok) {
    await recordPatchAttempt(root, {
      task,
      patch_preview: proposal.patch.slice(0, 2000),
      result: "failure",
      metrics: {
        tool: "edit",
        applied: false,
        verdict: "fail",
        blast_radius: proposal.added + proposal.removed,
      },
      info: { error: proposal.problems.join("; "), critique: proposal.critique },
      file_candidates: files,
      runtime_sec: 0,
    });
    if (ctx.out.json) ctx.out.printJson({ ...base, ok: false, problems: proposal.problems, applied: false });
    else {
      if (proposal.patch.trim()) printDiff(ctx, proposal.patch);
      section(ctx, "Patch failed local checks", bullets(proposal.problems));
    }
    return {
      ok: false,
      code: 1,
      error: `the proposed patch failed local checks: ${proposal.problems[0]}`,
      data: { ...base, patch: proposal.patch.trim() ? proposal.patch : "", verdict: "fail", applied: false },
    };
  }

  // 3. PatchVerifier.
  say("Verifying…");
  const verdict = await verifyPatch(llm, root, { task, context, patch: proposal.patch }, caps, opts);
  // 4. Show.
  if (!ctx.out.json) {
    ctx.out.print(
      ctx.out.c.bold(
        ctx.out.c.cyan(
          `── Proposed Patch (${proposal.files} files, +${proposal.added} -${proposal.removed}) ──`,
        ),
      ),
    );
    printDiff(ctx, proposal.patch);
    ctx.out.print("");
    if (proposal.rationale) section(ctx, "Rationale", proposal.rationale);
    section(
      ctx,
      `Verifier: ${
        verdict.verdict === "pass" ? ctx.out.c.green("pass") : ctx.out.c.red("fail")
      } (risk ${verdict.riskLevel})`,
      bullets(verdict.reasons),
    );
    if (verdict.fixSuggestions.length) section(ctx, "Fix suggestions", bullets(verdict.fixSuggestions));
  }
  // Keep the proposal so the user can apply it later with `patch`.
  const proposedPath = join(
    workspacePaths(root).patchesDir,
    "proposed",
    `${new Date().toISOString().replace(/[:.]/g, "-")}.diff`,
  );
  await atomicWriteFile(proposedPath, proposal.patch);
  const proposedRel = displayPath(root, proposedPath);

  let applied = false;
  let id: string | undefined;
  let note: string;
  if (verdict.verdict !== "pass") {
    note = "Refusing to apply: the verifier did not pass.";
  } else if (!values.apply) {
    note = `Not applied. Re-run with --apply, or apply the saved diff with 'patch ${proposedRel}'.`;
  } else if (ctx.options.approval === "manual" && !(await ctx.confirm("Apply this patch?"))) {
    note = "Not applied (declined).";
  } else {
    const res = await applyPatchText(root, proposal.patch, {
      source: "edit",
      task,
      limits: { maxFiles: caps.maxFiles, maxChangedLines: caps.maxLines },
      metrics: { verdict: verdict.verdict, risk_level: verdict.riskLevel },
      info: { reasons: verdict.reasons, suggestions: verdict.fixSuggestions },
    });
    applied = true;
    id = res.id;
    note =
      `Applied patch ${res.id}: ${res.files.length} file(s), +${res.added} -${res.removed}. Undo with 'patch --revert ${res.id}'.`;
  }
  if (!applied) {
    await recordPatchAttempt(root, {
      task,
      patch_preview: proposal.patch.slice(0, 2000),
      result: verdict.verdict === "pass" ? "skipped" : "failure",
      metrics: {
        tool: "edit",
        applied: false,
        verdict: verdict.verdict,
        risk_level: verdict.riskLevel,
        blast_radius: proposal.added + proposal.removed,
      },
      info: { note, reasons: verdict.reasons, proposed: proposedRel },
      file_candidates: files,
      runtime_sec: 0,
    });
  }
  let testPlan: { testsToRun: string[]; commands: string[] } | undefined;
  if (applied) {
    try {
      testPlan = await planTests(llm, task, proposal.patch, `files=${files.join(",")}`, opts);
    } catch { /* the test plan is advice only */ }
  }
  const data = {
    ...base,
    verdict: verdict.verdict,
    risk_level: verdict.riskLevel,
    reasons: verdict.reasons,
    applied,
    id,
    proposed: proposedRel,
    test_plan: testPlan,
  };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    ctx.out.print(applied ? ctx.out.c.green(note) : ctx.out.c.yellow(note));
    if (testPlan?.commands.length) {
      section(
        ctx,
        "Test Plan (not run)",
        bullets([...testPlan.testsToRun, ...testPlan.commands.map((c) => `$ ${c}`)]),
      );
    }
  }
  return {
    ok: verdict.verdict === "pass",
    code: verdict.verdict === "pass" ? 0 : 1,
    error: verdict.verdict === "pass" ? undefined : note,
    data,
  };
}

// ---------------------------------------------------------------------------------------------------------
// patch.

/** `patch FILE | --revert [ID] | --list`. */
export async function runPatch(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("patch", args, {
    file: { type: "string" },
    revert: { type: "boolean" },
    list: { type: "boolean" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    "max-files": { type: "string" },
    "max-lines": { type: "string" },
  }, { max: 1, names: "FILE" });
  const root = ctx.workspace;
  if (values.list) {
    const list = await listPatches(root, { limit: 50 });
    if (ctx.out.json) ctx.out.printJson(list);
    else if (!list.length) ctx.out.print("No patches applied yet.");
    else {
      ctx.out.table(
        ["id", "when", "files", "+", "-", "state", "task"],
        list.map((p) => [
          p.id,
          p.created_at.replace("T", " ").slice(0, 19),
          p.files.join(", ").slice(0, 50),
          p.added,
          p.removed,
          p.reverted ? "reverted" : "applied",
          (p.task ?? p.source ?? "").slice(0, 40),
        ]),
      );
    }
    return { ok: true, data: { list: true, count: list.length } };
  }
  if (values.revert) {
    const r = await revertPatch(root, positionals[0], { force: values.force });
    if (ctx.out.json) ctx.out.printJson(r);
    else ctx.out.print(`Reverted patch ${r.id}: restored ${r.files.join(", ")}`);
    return { ok: true, data: { reverted: true, ...r } };
  }
  const file = values.file ?? positionals[0];
  if (!file) throw new UsageError("patch: give the diff file (patch FILE), or use --list / --revert [ID]");
  let text: string;
  try {
    text = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(resolveInside(root, file));
  } catch (err) {
    if (err instanceof UserError) {
      // A diff file outside the workspace is fine to read; only targets are confined.
      try {
        text = await Deno.readTextFile(file);
      } catch {
        throw new UserError(`patch: cannot read ${file}`);
      }
    } else throw new UserError(`patch: cannot read ${file}: ${errorMessage(err)}`);
  }
  const patchOptions = {
    source: "patch",
    limits: {
      maxFiles: values["max-files"] ? intOption("patch", "max-files", values["max-files"], 0) : undefined,
      maxChangedLines: values["max-lines"]
        ? intOption("patch", "max-lines", values["max-lines"], 0)
        : undefined,
    },
  };
  const printChanges = (
    changes: { kind: string; oldPath?: string; path: string; added: number; removed: number }[],
  ) => {
    for (const ch of changes) {
      ctx.out.print(
        `  ${ch.kind.padEnd(6)} ${
          ch.oldPath ? `${ch.oldPath} → ` : ""
        }${ch.path}  +${ch.added} -${ch.removed}`,
      );
    }
  };
  let previewed = false;
  if (ctx.options.approval === "manual" && !values["dry-run"]) {
    // Manual approval: show what the patch would change and ask first. A patch that does not apply is not
    // asked about: the real attempt below fails the same way and is recorded in the history.
    const preview = await applyPatchText(root, text, { ...patchOptions, dryRun: true }).catch(() =>
      undefined
    );
    if (preview) {
      if (!ctx.out.json) printChanges(preview.changes);
      previewed = true;
      if (!(await ctx.confirm("Apply this patch?"))) {
        if (ctx.out.json) ctx.out.printJson({ applied: false, declined: true, files: preview.files });
        else ctx.out.print("Not applied (declined).");
        return { ok: true, data: { files: preview.files.length, declined: true } };
      }
    }
  }
  const res = await applyPatchText(root, text, { ...patchOptions, dryRun: values["dry-run"] });
  if (ctx.out.json) ctx.out.printJson(res);
  else {
    if (!previewed) printChanges(res.changes);
    ctx.out.print(
      res.dryRun
        ? `Dry run: the patch applies cleanly (files: ${res.files.length}  +lines: ${res.added}  -lines: ${res.removed}); nothing written.`
        : `Applied patch ${res.id}: files: ${res.files.length}  +lines: ${res.added}  -lines: ${res.removed}. Undo with 'patch --revert ${res.id}'.`,
    );
  }
  return {
    ok: true,
    data: {
      id: res.id,
      files: res.files.length,
      added: res.added,
      removed: res.removed,
      dry_run: res.dryRun,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// git.

async function git(root: string) {
  const { simpleGit } = await import("simple-git");
  const g = simpleGit({ baseDir: root, binary: "git", maxConcurrentProcesses: 1 });
  if (!(await g.checkIsRepo().catch(() => false))) {
    throw new UserError(`${root} is not a git repository: run 'git init' there first`);
  }
  return g;
}

/** `gstatus`. */
export async function runGstatus(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("gstatus", args, {}, { max: 0 });
  const st = await (await git(ctx.workspace)).status();
  const files = st.files.map((f) => ({ path: f.path, index: f.index, working_dir: f.working_dir }));
  const data = { branch: st.current, ahead: st.ahead, behind: st.behind, clean: st.isClean(), files };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    ctx.out.print(ctx.out.c.dim(`On branch ${st.current ?? "(detached)"}`));
    if (files.length === 0) ctx.out.print("(clean)");
    for (const f of files) ctx.out.print(`${(f.index + f.working_dir).padEnd(2)} ${f.path}`);
  }
  return { ok: true, data };
}

/** `gadd PATHS…`. */
export async function runGadd(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("gadd", args, {}, { min: 1, names: "PATHS" });
  for (const p of positionals) {
    resolveInside(ctx.workspace, p);
    if (/^(\.\/)?\.dspy/.test(p)) {
      throw new UserError(
        `gadd: ${p} is dspy-code's own state (index, patches, KV), not project code; not staged`,
      );
    }
  }
  const g = await git(ctx.workspace);
  // dspy-code's state folders and files (.dspy/, .dspy_patches/ with backups of your files, .dspy_index/,
  // .dspy_rl_state.json ...) are never staged by 'gadd .'.
  await g.add([...positionals, ":(exclude).dspy*"]);
  ctx.out.print(`Staged: ${positionals.join(" ")}`);
  return { ok: true, data: { added: positionals } };
}

/** `gcommit -m MSG`. */
export async function runGcommit(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("gcommit", args, { message: { type: "string", short: "m" } }, {
    max: 0,
  });
  if (!values.message?.trim()) throw new UsageError('gcommit: give a message with -m "MESSAGE"');
  const g = await git(ctx.workspace);
  const st = await g.status();
  if (
    st.staged.length === 0 && st.created.filter((f) => st.staged.includes(f)).length === 0 &&
    st.files.every((f) => f.index === " " || f.index === "?")
  ) {
    throw new UserError("gcommit: nothing is staged; stage files with 'gadd PATHS' first");
  }
  try {
    const r = await g.commit(values.message);
    ctx.out.print(`Committed ${r.commit || "(no id)"} on ${r.branch}: ${r.summary.changes} file(s) changed`);
    return { ok: true, data: { commit: r.commit, branch: r.branch } };
  } catch (err) {
    throw new UserError(
      `gcommit failed: ${
        errorMessage(err).split("\n")[0]
      } (set user.name/user.email with git config if git asks who you are)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// run-tests / lint / build.

/** `run-tests`, `lint`, `build`. */
export async function runToolchainCommand(
  action: ToolchainAction,
  name: string,
  args: string[],
  ctx: CommandContext,
): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs(name, args, {
    timeout: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  }, { names: "ARGS" });
  const timeoutSec = intOption(name, "timeout", values.timeout, 600);
  const live = !ctx.out.json && !values.quiet;
  const r = await runToolchain(ctx.workspace, action, {
    timeoutMs: timeoutSec * 1000,
    signal: ctx.signal,
    extraArgs: positionals,
    onOutput: live ? (t) => ctx.out.write(t) : undefined,
  });
  const data = {
    ran: true,
    toolchain: r.toolchain,
    command: r.command.join(" "),
    exit_code: r.exitCode,
    passed: r.ok,
    timed_out: r.timedOut,
    duration_sec: Number(r.durationSec.toFixed(3)),
    total: r.counts?.total ?? 0,
    tests_passed: r.counts?.passed,
    failed: r.counts?.failed ?? 0,
    skipped: r.counts?.skipped ?? 0,
    pass_rate: r.passRate,
    issues: r.issues,
  };
  if (ctx.out.json) ctx.out.printJson({ ...data, output: values.quiet ? undefined : r.output.slice(-4000) });
  else {
    const c = ctx.out.c;
    const counts = r.counts
      ? `  ${r.counts.passed} passed, ${r.counts.failed} failed${
        r.counts.skipped ? `, ${r.counts.skipped} skipped` : ""
      }`
      : "";
    const issues = r.issues !== undefined && action === "lint" ? `  ${r.issues} issue(s)` : "";
    const status = r.timedOut
      ? c.red(`timed out after ${timeoutSec}s`)
      : r.ok
      ? c.green("ok")
      : c.red(`failed (exit ${r.exitCode})`);
    ctx.out.print(
      `${name}: ${status}${counts}${issues}  [${r.command.join(" ")}, ${r.durationSec.toFixed(1)}s]`,
    );
    if (!r.ok && !r.timedOut && !live) {
      // The output was hidden (--quiet): show why it failed.
      const lastLines = r.output.trimEnd().split("\n").slice(-15).join("\n");
      if (lastLines) ctx.out.info(`last lines of output:\n${lastLines}`);
    }
    if (r.exitCode === 127) {
      ctx.out.warn(
        `exit 127 means a command was not found: install the project's dependencies or tools (e.g. 'npm install') ` +
          `or fix the project's ${action} command`,
      );
    }
  }
  // For scoring, `passed` in data means the command succeeded; `tests_passed` is the count.
  const scoreData = { ...data, passed: action === "test" ? (r.counts?.passed ?? 0) : r.ok };
  return r.ok ? { ok: true, data: scoreData } : {
    ok: false,
    code: 1,
    error: r.timedOut ? `timed out after ${timeoutSec}s` : `${name} failed (exit ${r.exitCode})`,
    data: scoreData,
  };
}

// ---------------------------------------------------------------------------------------------------------
// chat and routing.

const NO_LLM_NOTED = "agent.noLlmNoted";

async function routeWith(query: string, ctx: CommandContext, maxSteps: number): Promise<CommandResult> {
  const found = await findLlm(llmOptions(ctx), 1000);
  if (!found.client && !ctx.out.json) {
    if (!ctx.session.state.get(NO_LLM_NOTED)) {
      ctx.out.info(`No LLM: ${found.reason}. Routing with the offline rules.`);
      ctx.session.state.set(NO_LLM_NOTED, true);
    } else ctx.out.info("(no LLM: offline rules)");
  }
  const hasLogs = (await loadLogEvents(ctx.workspace).catch(() => ({ files: [] }))).files.length > 0;
  const { steps, best } = await routeRequest(query, {
    workspace: ctx.workspace,
    runLine: (line) => ctx.runLine(line),
    print: (...l) => ctx.out.info(l.join("\n")),
    warn: (m) => ctx.out.warn(m),
    approve: ctx.options.approval === "manual"
      ? (tool, args) => ctx.confirm(`Approve tool '${tool}' with args ${JSON.stringify(args)}?`)
      : undefined,
    llm: found.client,
    signal: ctx.signal,
  }, { maxSteps, state: { hasLogs } });
  const data = {
    steps: steps.map((s) => ({
      step: s.step,
      mode: s.mode,
      tool: s.tool,
      args: s.args,
      ok: s.ok,
      score: s.score,
      evidence: s.evidence,
    })),
    best: best?.tool,
  };
  if (!ctx.out.json) {
    ctx.out.info(
      steps.length
        ? `Done after ${steps.length} step(s); best: ${best?.tool} (score ${
          best?.score.toFixed(2)
        }, ${best?.evidence})`
        : "No action taken.",
    );
  }
  return { ok: steps.some((s) => s.ok), score: best?.score ?? 0, data };
}

/** `chat TASK [--steps N]`. */
export async function runChat(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("chat", args, { steps: { type: "string" } }, {
    min: 1,
    names: "TASK",
  });
  const steps = intOption("chat", "steps", values.steps, 4, 1);
  return await routeWith(positionals.join(" "), ctx, steps);
}

/** The session's natural-language handler. */
export function routeLine(line: string, ctx: CommandContext): Promise<CommandResult> {
  const steps = Number(Deno.env.get("DSPY_ROUTE_STEPS") ?? 4);
  return routeWith(line, ctx, Number.isInteger(steps) && steps > 0 ? steps : 4);
}

// ---------------------------------------------------------------------------------------------------------
// Hooks: scoring, learning, panel.

/** The tool scorer installed with `setToolScorer`. */
export function scoreTool(o: ToolOutcome): number | undefined {
  return scoreOutcome({ tool: o.tool, args: o.args, ok: o.result.ok, data: o.result.data })?.score;
}

/** The tool-end listener: bandit update, events line, session summary. */
export async function learnTool(o: ToolOutcome & { score: number }, ctx: CommandContext): Promise<void> {
  if (o.args.includes("--help")) return;
  await learnFromTool(ctx.workspace, ctx.session.id, o.tool, o.score);
}

/** The session panel's LLM row (short probe). */
export async function llmPanelRow(ctx: CommandContext): Promise<[string, string]> {
  const found = await findLlm(llmOptions(ctx), 800);
  return ["llm", found.client ? found.label : found.label];
}
