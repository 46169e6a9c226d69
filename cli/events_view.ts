/**
 * Rendering of agent events for `tail`, `stats` and `dashboard-lite`: one-line event summaries and the
 * per-tool statistics tables (the seed's lite dashboard).
 *
 * @module
 */

import type { AgentEnvelope } from "../core/events.ts";
import type { ToolStats } from "../core/tool_stats.ts";
import { errorMessage } from "../core/errors.ts";
import { lazyImport } from "./lazy.ts";
import type { Output } from "./output.ts";
import { formatTs } from "./time_format.ts";

/** One human line for a stored stream entry. */
export function describeEntry(seq: number, value: unknown, out: Output): string {
  const env = value as Partial<AgentEnvelope> & Record<string, unknown>;
  if (env && typeof env === "object" && ("metric" in env || "action" in env)) {
    const name = String(env.metric ?? env.action);
    const body = (env.metric !== undefined ? env.data : env.payload) as Record<string, unknown> | undefined;
    return `${out.c.dim(`#${seq}`)} ${formatTs(Number(env.ts))} ${out.c.cyan(name)} ${
      JSON.stringify(body ?? {})
    }`;
  }
  return `${out.c.dim(`#${seq}`)} ${JSON.stringify(value)}`;
}

/** Parses `--since`: seconds since the epoch, or an ISO date/time. Returns seconds. */
export function parseSince(value: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** Prints the per-tool table, recent tool.end events and the session summary. */
export function printToolStats(stats: ToolStats, out: Output, bandit?: BanditView | null): void {
  const c = out.c;
  out.print(c.bold("Per-Tool Stats"));
  if (stats.tools.length === 0) out.print(c.dim("(no tool.end events yet: run a few commands)"));
  else {
    out.table(
      ["tool", "count", "success", "rate", "avg_score", "avg_dur_s"],
      stats.tools.map((t) => [
        t.tool,
        t.count,
        t.success,
        `${(t.success_rate * 100).toFixed(0)}%`,
        t.avg_score === null ? "-" : t.avg_score.toFixed(3),
        t.avg_duration_sec === null ? "-" : t.avg_duration_sec.toFixed(2),
      ]),
    );
  }
  out.print("", c.bold("Recent tool.end"));
  if (stats.recent.length === 0) out.print(c.dim("(none)"));
  else {
    out.table(
      ["time", "tool", "score", "dur_s", "ok", "session"],
      stats.recent.map((e) => [
        formatTs(e.ts),
        e.tool,
        Number(e.score).toFixed(2),
        Number(e.duration_sec).toFixed(2),
        e.success ? c.green("yes") : c.red("no"),
        String(e.session ?? ""),
      ]),
    );
  }
  out.print("", c.bold("Session"));
  const s = stats.session_summary;
  if (!s) out.print(c.dim("(no session summary yet)"));
  else {
    out.print(
      `  session_id ${s.session_id ?? "-"}  steps ${s.steps ?? 0}  last_tool ${s.last_tool ?? "-"}  ` +
        `avg_score ${typeof s.avg_score === "number" ? s.avg_score.toFixed(3) : "-"}`,
    );
  }
  if (bandit && bandit.tools.length > 0) {
    out.print("", c.bold(`Tool bandit (${bandit.policy})`));
    const arms = bandit.tools.map((tool, i) => ({
      tool,
      value: Number(bandit.values[i] ?? 0),
      count: Number(bandit.counts[i] ?? 0),
    }));
    const tried = arms.filter((a) => a.count > 0);
    if (tried.length > 0) {
      out.table(["tool", "value", "count"], tried.map((a) => [a.tool, a.value.toFixed(3), a.count]));
    }
    const untried = arms.filter((a) => a.count === 0).map((a) => a.tool);
    if (untried.length > 0) out.print(c.dim(`not tried yet: ${untried.join(", ")}`));
  }
}

/** The persisted bandit as `stats` shows it (`.dspy_rl_state.json`). */
export interface BanditView {
  policy: string;
  tools: string[];
  values: number[];
  counts: number[];
}

/** Reads `.dspy_rl_state.json` if present and well-formed. */
export async function readBanditView(file: string): Promise<BanditView | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return null; // no bandit yet
  }
  try {
    const raw = JSON.parse(text);
    if (Array.isArray(raw?.tools) && Array.isArray(raw?.values) && Array.isArray(raw?.counts)) {
      return { policy: String(raw.policy ?? "?"), tools: raw.tools, values: raw.values, counts: raw.counts };
    }
  } catch { /* damaged: below */ }
  // Damaged: keep it aside (the next learning command would overwrite it) and say so, once.
  const agent = await lazyImport<typeof import("../agent/mod.ts")>(
    new URL("../agent/mod.ts", import.meta.url),
  );
  try {
    await agent.readBanditStateFile(file);
  } catch (err) {
    await agent.setAsideDamagedState(file, errorMessage(err)).catch(() => {});
  }
  return null;
}
