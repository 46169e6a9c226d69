/**
 * Runs one command from the table: handles `--help`, emits `tool.start`/`tool.end`, turns thrown errors into
 * messages and exit codes, asks the installed scorer for a score and tells the tool-end listeners. Both the
 * subcommand entry and the interactive session go through {@link runCommand}, so every command behaves the
 * same way in both.
 *
 * @module
 */

import { errorMessage, UserError } from "../core/errors.ts";
import { explainKvError } from "../core/kv_health.ts";
import { emitMetric } from "../core/events.ts";
import type { CommandContext, CommandResult, CommandSpec } from "./command.ts";
import { commandHelp } from "./help.ts";
import { getToolEndListeners, getToolScorer, getToolStartHooks, type ToolOutcome } from "./hooks.ts";

/** Redacts values of flags that look secret before they are recorded in events. */
function recordableArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (/^--(api-key|token|password|admin-key)(=|$)/i.test(a)) {
      out.push(a.includes("=") ? a.replace(/=.*/, "=***") : a);
      if (!a.includes("=") && i + 1 < args.length) {
        out.push("***");
        i++;
      }
    } else out.push(a);
  }
  return out;
}

/**
 * Runs a command spec with its arguments. Never throws for command failures: the result says what happened
 * and the error has already been printed.
 */
export async function runCommand(
  spec: CommandSpec,
  args: string[],
  ctx: CommandContext,
): Promise<CommandResult> {
  if (args.includes("--help") || (args.length === 1 && args[0] === "-h")) {
    ctx.out.print(commandHelp(spec, ctx.out.c));
    return { ok: true };
  }
  const record = spec.recordEvents !== false;
  const step = record ? ctx.session.step++ : ctx.session.step;
  const eventArgs = { argv: recordableArgs(args) };
  if (record) {
    emitMetric("tool.start", { tool: spec.name, args: eventArgs, step, session: ctx.session.id });
    for (const hook of getToolStartHooks()) {
      try {
        Promise.resolve(hook(spec.name, ctx)).catch(() => {});
      } catch { /* a hook is only a head start; the listener reports its own failures */ }
    }
  }
  const started = performance.now();
  let result: CommandResult;
  try {
    result = (await spec.run(args, ctx)) ?? { ok: true };
  } catch (caught) {
    // SQLite corruption met after the KV opened (a damaged page): name the file and the repair.
    const err = explainKvError(caught, ctx.workspace);
    const message = errorMessage(err);
    ctx.out.error(message);
    if (!(err instanceof UserError) && Deno.env.get("DSPY_DEBUG")) console.error(err);
    result = { ok: false, code: err instanceof UserError ? err.exitCode : 1, error: message };
  }
  const durationSec = (performance.now() - started) / 1000;
  if (!record) return result;
  const outcome: ToolOutcome = { tool: spec.name, args, result, durationSec };
  let score = result.score ?? (result.ok ? 1 : 0);
  try {
    score = (await getToolScorer()?.(outcome, ctx)) ?? score;
  } catch (err) {
    ctx.out.warn(`tool scorer failed: ${errorMessage(err)}`);
  }
  emitMetric("tool.end", {
    tool: spec.name,
    args: eventArgs,
    step,
    session: ctx.session.id,
    success: result.ok,
    score,
    duration_sec: Number(durationSec.toFixed(4)),
    ...(result.ok ? {} : { error: result.error ?? "failed" }),
  });
  for (const listener of getToolEndListeners()) {
    try {
      await listener({ ...outcome, score }, ctx);
    } catch (err) {
      ctx.out.warn(`tool listener failed: ${errorMessage(err)}`);
    }
  }
  return result;
}
