/**
 * `chat TASK` and the session's natural-language handler (loaded lazily by
 * `cli/commands/agent.ts`). Routing (LLM orchestrator, else offline rules + bandit) lives in
 * `agent/routing/`; this file wires it to the session (run a line, print, confirm) and prints the steps.
 *
 * @module
 */

import { findLlm, loadLogEvents, routeRequest } from "../../agent/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { llmOptions } from "./llm_impl.ts";
import { refreshBeforeFirstSearch } from "../session_index.ts";

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
  // `chat` from a shell is a new process each time: its searches start from the files as they are now (the
  // session keeps its index fresh itself).
  if (!ctx.session.interactive) refreshBeforeFirstSearch(ctx);
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
