/**
 * `edit TASK [--files F,…] [--apply]` (loaded lazily by `cli/commands/agent.ts`): parses the flags, asks
 * `agent/`'s `runEditTask` for a verified patch (it locates, proposes, verifies, saves and applies), shows
 * the progress, the diff and the verdict, and asks before applying under `--approval manual`.
 *
 * @module
 */

import {
  DEFAULT_CAPS,
  type EditCaps,
  type EditProgress,
  type LlmClient,
  requireLlm,
  runEditTask,
} from "../../agent/mod.ts";
import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { bullets, printDiff, section } from "./agent_format.ts";
import { llmOptions } from "./llm_impl.ts";
import { noteFilesWritten } from "../session_index.ts";

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
  const rounds = intOption("edit", "rounds", values.rounds, 2);
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
  const out = await runEditTask(llm, ctx.workspace, {
    task,
    files: values.files?.split(",").map((f) => f.trim()).filter(Boolean),
    caps,
    rounds,
    context: values.context,
    apply: values.apply,
  }, {
    approve: ctx.options.approval === "manual" ? () => ctx.confirm("Apply this patch?") : undefined,
    onProgress: (p) => showProgress(ctx, p),
    signal: ctx.signal,
  });
  const { proposal } = out;
  const base = {
    task,
    files: out.files,
    patch: proposal.patch,
    added: proposal.added,
    removed: proposal.removed,
    attempts: proposal.attempts,
  };
  if (out.kind === "rejected") {
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
  const { verdict, note, testPlan } = out;
  if (out.applied) noteFilesWritten(ctx);
  const data = {
    ...base,
    verdict: verdict.verdict,
    risk_level: verdict.riskLevel,
    reasons: verdict.reasons,
    applied: out.applied,
    id: out.patchId,
    proposed: out.proposedDisplay,
    test_plan: testPlan,
  };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    ctx.out.print(out.applied ? ctx.out.c.green(note) : ctx.out.c.yellow(note));
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

/** Progress lines, and the proposed diff with its verdict once verified (before any question). */
function showProgress(ctx: CommandContext, p: EditProgress): void {
  if (ctx.out.json) return;
  const { c } = ctx.out;
  switch (p.kind) {
    case "locating":
      ctx.out.info("Locating files…");
      break;
    case "files":
      ctx.out.info(`Files: ${p.files.join(", ")}`);
      break;
    case "round":
      ctx.out.info(`Local checks failed (${p.problems[0]}); critic/reviser round ${p.round}…`);
      break;
    case "verifying":
      ctx.out.info("Verifying…");
      break;
    case "verified": {
      const { proposal, verdict } = p;
      ctx.out.print(
        c.bold(
          c.cyan(`── Proposed Patch (${proposal.files} files, +${proposal.added} -${proposal.removed}) ──`),
        ),
      );
      printDiff(ctx, proposal.patch);
      ctx.out.print("");
      if (proposal.rationale) section(ctx, "Rationale", proposal.rationale);
      section(
        ctx,
        `Verifier: ${
          verdict.verdict === "pass" ? c.green("pass") : c.red("fail")
        } (risk ${verdict.riskLevel})`,
        bullets(verdict.reasons),
      );
      if (verdict.fixSuggestions.length) section(ctx, "Fix suggestions", bullets(verdict.fixSuggestions));
    }
  }
}
