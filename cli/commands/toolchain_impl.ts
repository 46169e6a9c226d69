/**
 * `run-tests`, `lint` and `build` (loaded lazily by `cli/commands/agent.ts`): run the project's detected
 * toolchain through `runToolchain`, stream or hide its output, and print the counts. The result's data is
 * what the tool scorer reads (`passed` is the pass count for tests, success otherwise).
 *
 * @module
 */

import { runToolchain, type ToolchainAction } from "../../agent/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";

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
    // 124 on timeout, as timeout(1) and docs/agent.md say; 130 when Ctrl-C stopped it.
    code: r.timedOut ? 124 : r.aborted ? 130 : 1,
    error: r.timedOut ? `timed out after ${timeoutSec}s` : `${name} failed (exit ${r.exitCode})`,
    data: scoreData,
  };
}
