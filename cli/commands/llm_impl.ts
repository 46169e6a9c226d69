/**
 * The LLM commands (loaded lazily by `cli/commands/agent.ts`): `llm` (status and probe), `ollama on|off`
 * and `model NAME` (switch for later calls), the session panel's LLM row, and {@link llmOptions}, the
 * global flags every LLM-using command passes to `findLlm`.
 *
 * @module
 */

import { CONFIGURE_HINT, findLlm, forgetProbes } from "../../agent/mod.ts";
import { UsageError } from "../../core/errors.ts";
import { type CommandContext, type CommandResult, parseCommandArgs } from "../command.ts";

/** The LLM options of the global flags (`--model`, `--ollama`, `--base-url`, `--api-key`). */
export function llmOptions(ctx: CommandContext) {
  return {
    model: ctx.options.model,
    ollama: ctx.options.ollama,
    baseUrl: ctx.options.baseUrl,
    apiKey: ctx.options.apiKey,
  };
}

// ---------------------------------------------------------------------------------------------------------
// LLM status and switching.

/** `llm`: show the LLM configuration and probe it; fails (exit 1) when no LLM answers. */
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
  // Exit 1 when no LLM answers, so a script can test for one (`dspy-code llm --json` still prints the reason).
  return found.client ? { ok: true, data } : { ok: false, code: 1, error: `no LLM: ${found.reason}`, data };
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

/** The session panel's LLM row (short probe). */
export async function llmPanelRow(ctx: CommandContext): Promise<[string, string]> {
  const found = await findLlm(llmOptions(ctx), 800);
  return ["llm", found.label];
}
