/**
 * A bandit training run on the coding-tool env with its bookkeeping (what `rl train` does without
 * `--neural`): the bandit persists in `.dspy/rl/toolchain_bandit.json` (continued unless `fresh`), the run
 * gets a folder under `.dspy/rl/runs/train-…/` with one `metrics.jsonl` line per step (written even when
 * the run is interrupted) and `summary.json`, and the `rl.train.*` events are emitted.
 *
 * @module
 */

import { join } from "node:path";
import { emitAction, emitMetric } from "../core/events.ts";
import { type BanditTrainOptions, trainBandit } from "./bandit_train.ts";
import { runMetricsFile } from "./train.ts";
import { newRunId, roundOrNull, runDirOf, writeRunSummary } from "./runs.ts";
import { ToolEnv, type ToolEnvOptions } from "./tool_env.ts";

/** Options for {@link trainToolBanditRun}. */
export interface ToolBanditRunOptions {
  /** `.dspy/rl` of the workspace. */
  rlDir: string;
  /** The tool env's options (see `toolEnvOptionsFrom`). */
  env: ToolEnvOptions;
  steps: number;
  /** Normalised policy name. */
  policy: string;
  epsilon?: number;
  ucbC?: number;
  seed?: number;
  /** Start the bandit afresh instead of continuing the saved one. */
  fresh?: boolean;
  /** Called after every step (after the metrics line is queued). */
  onStep?: BanditTrainOptions["onStep"];
  signal?: AbortSignal;
}

/** The `summary.json` of a bandit run. */
export interface ToolBanditRunSummary {
  run_id: string;
  kind: "train";
  policy: string;
  steps: number;
  avg_reward: number | null;
  best_tool: string | null;
  /** Tools by learnt value, best first. */
  ranking: { tool: string; value: number; count: number }[];
  wall_s: number | null;
  state_file: string;
  metrics_file: string;
  finished_at: string;
}

/** What {@link trainToolBanditRun} returns. */
export interface ToolBanditRunResult {
  summary: ToolBanditRunSummary;
  /** Unrounded average reward and wall time (the summary rounds them). */
  avgReward: number | null;
  wallS: number;
}

/** Trains the tool bandit as a recorded run. */
export async function trainToolBanditRun(options: ToolBanditRunOptions): Promise<ToolBanditRunResult> {
  const { rlDir, steps, policy } = options;
  const env = new ToolEnv(options.env);
  emitAction("rl.train.start", { policy, steps, n_envs: 1 });
  emitMetric("rl.train.env_ready", { actions: [...env.actionNames], puffer: false });
  const statePath = join(rlDir, "toolchain_bandit.json");
  const runId = newRunId("train");
  const runDir = runDirOf(rlDir, runId);
  const metricsFile = runMetricsFile(rlDir, runId);
  await Deno.mkdir(runDir, { recursive: true });
  const started = performance.now();
  const lines: string[] = [];
  let result;
  try {
    result = await trainBandit({
      env,
      steps,
      policy,
      epsilon: options.epsilon,
      ucbC: options.ucbC,
      seed: options.seed,
      statePath,
      fresh: options.fresh,
      signal: options.signal,
      onStep: (s) => {
        lines.push(JSON.stringify({
          ts: Date.now() / 1000,
          step: s.step,
          tool: s.action,
          reward: s.reward,
          verifier_scores: s.info.verifier_scores,
        }));
        options.onStep?.(s);
      },
    });
  } finally {
    if (lines.length) await Deno.writeTextFile(metricsFile, lines.join("\n") + "\n", { append: true });
  }
  const ranking = result.bandit.ranking();
  const wallS = (performance.now() - started) / 1000;
  const summary: ToolBanditRunSummary = {
    run_id: runId,
    kind: "train",
    policy,
    steps: result.steps,
    avg_reward: roundOrNull(result.avgReward, 4),
    best_tool: ranking[0]?.tool ?? null,
    ranking,
    wall_s: roundOrNull(wallS, 3),
    state_file: statePath,
    metrics_file: metricsFile,
    finished_at: new Date().toISOString(),
  };
  await writeRunSummary(runDir, summary);
  emitAction("rl.train.finished", {
    policy,
    steps: result.steps,
    avg_reward: result.avgReward,
    best_tool: summary.best_tool,
  });
  return { summary, avgReward: result.avgReward, wallS };
}
