/**
 * Run bookkeeping under `.dspy/rl/`: every training run gets a folder `runs/<kind>-<UTC time>-<hex>/` with
 * its `metrics.jsonl` and, when it ends, `summary.json` (a run without a summary is still running or was
 * interrupted); `readRlStatus` lists the runs newest first next to the tool bandit
 * (`toolchain_bandit.json`), the best sweep config (`best.json`) and the sweep's trial count
 * (`sweep_state.json`), which is what `rl status` and the dashboard show.
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteJson } from "../core/atomic.ts";
import type { BanditState } from "../learning/mod.ts";
import { readJsonFile } from "./config.ts";
import { TOOL_ACTIONS } from "./tool_env.ts";

/** A new run id: `<kind>-<YYYYMMDDTHHMMSS>-<6 hex>` (UTC), so ids sort by start time within a kind. */
export function newRunId(kind: string): string {
  const d = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "");
  return `${kind}-${d}-${crypto.randomUUID().slice(0, 6)}`;
}

/** The folder of run `runId`: `<rlDir>/runs/<runId>`. */
export function runDirOf(rlDir: string, runId: string): string {
  return join(rlDir, "runs", runId);
}

/** Writes `summary.json` of a run (atomically). */
export function writeRunSummary(runDir: string, summary: object): Promise<void> {
  return atomicWriteJson(join(runDir, "summary.json"), summary);
}

/** `x` rounded to `digits`, or `null` when it is missing or not finite (summaries are JSON). */
export function roundOrNull(x: number | null | undefined, digits = 3): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));
}

/** What `rl status` shows (snake_case: it is printed as JSON as is). */
export interface RlStatus {
  rl_dir: string;
  /** Run summaries, newest first; a run without a summary is `{run_id, kind, status}`. */
  runs: Record<string, unknown>[];
  /** The persisted tool bandit, if any. */
  bandit: BanditState | null;
  /** The best sweep config, if a sweep ran. */
  best_config: unknown;
  sweep_trials: number;
  /** The tool env's actions. */
  actions: string[];
}

/** Lists the runs under `rlDir` (the `limit` newest) and the bandit and sweep state next to them. */
export async function readRlStatus(rlDir: string, options: { limit?: number } = {}): Promise<RlStatus> {
  const runs: Record<string, unknown>[] = [];
  try {
    for await (const e of Deno.readDir(join(rlDir, "runs"))) {
      if (!e.isDirectory) continue;
      const summary = await readJsonFile(join(rlDir, "runs", e.name, "summary.json")).catch(() => null);
      runs.push(summary ?? { run_id: e.name, kind: e.name.split("-")[0], status: "running or interrupted" });
    }
  } catch { /* no runs yet */ }
  runs.sort((a, b) => String(b.run_id).localeCompare(String(a.run_id)));
  const bandit = (await readJsonFile(join(rlDir, "toolchain_bandit.json")).catch(() => null)) as
    | BanditState
    | null;
  const best = await readJsonFile(join(rlDir, "best.json")).catch(() => null);
  const sweep = await readJsonFile(join(rlDir, "sweep_state.json")).catch(() => null);
  return {
    rl_dir: rlDir,
    runs: runs.slice(0, options.limit ?? 10),
    bandit,
    best_config: best?.config ?? null,
    sweep_trials: Array.isArray(sweep?.history) ? (sweep!.history as unknown[]).length : 0,
    actions: [...TOOL_ACTIONS],
  };
}
