/**
 * System commands: `doctor`.
 *
 * @module
 */

import { type CommandContext, type CommandSpec, intOption, parseCommandArgs } from "../command.ts";
import type { DoctorCheck } from "../doctor.ts";
import { lazyImport } from "../lazy.ts";

/** System commands. */
export const systemCommands: CommandSpec[] = [
  {
    name: "doctor",
    group: "system",
    summary:
      "Check Deno, workspace, KV, git, the LLM (Ollama or OpenAI-compatible), disk and the status port",
    usage: "doctor [--port N] [--repair] [--json]",
    examples: ["doctor", "doctor --json", "doctor --repair"],
    details: `  --port N   the status server port to check (default 8765)
  --repair   move a damaged .dspy/state.kv aside to .dspy/state.kv.corrupt-<timestamp> and start an
             empty one (stop other dspy-code processes on the workspace first)
  With --no-ollama, or with OPENAI_API_KEY as Ollama's fallback, it also checks the
  OpenAI-compatible API (GET /models with the key).`,
    async run(args, ctx) {
      const { values } = parseCommandArgs("doctor", args, {
        port: { type: "string" },
        repair: { type: "boolean" },
      }, { max: 0 });
      const { runDoctor } = await lazyImport<typeof import("../doctor.ts")>(
        new URL("../doctor.ts", import.meta.url),
      );
      const { describeEndpoint } = await lazyImport<typeof import("../../agent/mod.ts")>(
        new URL("../../agent/mod.ts", import.meta.url),
      );
      // The Ollama address the agent would use: OPENAI_BASE_URL (which also fills options.baseUrl) is not
      // one, only --base-url or OLLAMA_HOST.
      const o = ctx.options;
      const endpoint = describeEndpoint({
        model: o.model,
        ollama: o.ollama,
        baseUrl: o.baseUrl,
        apiKey: o.apiKey,
      });
      const checks = await runDoctor(ctx.workspace, {
        port: intOption("doctor", "port", values.port, 8765),
        repair: Boolean(values.repair),
        ollamaUrl: endpoint.provider === "ollama" && endpoint.url ? endpoint.url : undefined,
      });
      await addOpenAiCheck(checks, ctx);
      const ok = checks.every((c) => c.status !== "fail");
      if (ctx.out.json) ctx.out.printJson({ ok, checks });
      else {
        const c = ctx.out.c;
        const badge = (s: string) =>
          s === "ok" ? c.green("ok") : s === "warn" ? c.yellow("warn") : c.red("FAIL");
        ctx.out.table(["check", "status", "detail"], checks.map((k) => [k.name, badge(k.status), k.detail]));
      }
      return { ok, code: ok ? 0 : 1, data: checks };
    },
  },
];

/**
 * Adds the OpenAI-compatible check when that API is used (`--no-ollama`) or is Ollama's fallback; with
 * `--no-ollama` the Ollama check says it is not used instead of advising to set `OPENAI_BASE_URL`.
 */
async function addOpenAiCheck(checks: DoctorCheck[], ctx: CommandContext): Promise<void> {
  const { resolveLlmConfig } = await lazyImport<typeof import("../../agent/mod.ts")>(
    new URL("../../agent/mod.ts", import.meta.url),
  );
  const { checkOpenAiCompatible } = await lazyImport<typeof import("../doctor.ts")>(
    new URL("../doctor.ts", import.meta.url),
  );
  const o = ctx.options;
  const config = resolveLlmConfig({ model: o.model, ollama: o.ollama, baseUrl: o.baseUrl, apiKey: o.apiKey });
  const openai = config?.provider === "openai" ? config : config?.fallback;
  if (!openai) return;
  if (!o.ollama) {
    const i = checks.findIndex((c) => c.name === "ollama");
    if (i >= 0) checks[i] = { name: "ollama", status: "ok", detail: "not used (--no-ollama)" };
  }
  const at = checks.findIndex((c) => c.name === "ollama");
  checks.splice(at + 1, 0, await checkOpenAiCompatible(openai));
}
