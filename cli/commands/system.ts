/**
 * System commands: `doctor`.
 *
 * @module
 */

import { type CommandSpec, intOption, parseCommandArgs } from "../command.ts";
import { lazyImport } from "../lazy.ts";

/** System commands. */
export const systemCommands: CommandSpec[] = [
  {
    name: "doctor",
    group: "system",
    summary: "Check Deno, workspace, KV, git, Ollama, disk and the status port",
    usage: "doctor [--port N] [--repair] [--json]",
    examples: ["doctor", "doctor --json", "doctor --repair"],
    details: `  --port N   the status server port to check (default 8765)
  --repair   move a damaged .dspy/state.kv aside to .dspy/state.kv.corrupt-<timestamp> and start an
             empty one (stop other dspy-code processes on the workspace first)`,
    async run(args, ctx) {
      const { values } = parseCommandArgs("doctor", args, {
        port: { type: "string" },
        repair: { type: "boolean" },
      }, { max: 0 });
      const { runDoctor } = await lazyImport<typeof import("../doctor.ts")>(
        new URL("../doctor.ts", import.meta.url),
      );
      const checks = await runDoctor(ctx.workspace, {
        port: intOption("doctor", "port", values.port, 8765),
        repair: Boolean(values.repair),
        ollamaUrl: ctx.options.ollama ? ctx.options.baseUrl : undefined,
      });
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
