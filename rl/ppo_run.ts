/**
 * A PPO training run with its bookkeeping (what `rl ppo` and `rl train --neural` do): a run folder under
 * `.dspy/rl/runs/`, the checkpoints and `metrics.jsonl` in it by default, training in a Worker
 * (`trainInWorker`), `summary.json` at the end, and the `rl.ppo.*` / `rl.neural.*` events (start, a summary
 * metric at most every 2 s, finished). A run that never trained (bad `--resume`, bad settings, or a resumed
 * checkpoint that already reaches `--steps`) leaves no
 * folder behind; one that failed part-way gets a summary with `status: "failed"` and the error.
 *
 * @module
 */

import { join } from "node:path";
import { emitAction, emitMetric } from "../core/events.ts";
import { newRunId, roundOrNull, runDirOf, writeRunSummary } from "./runs.ts";
import { runMetricsFile, type TrainLogEntry } from "./train.ts";
import { trainInWorker, type WorkerTrainOptions, type WorkerTrainResult } from "./train_host.ts";

/** Where and how a {@link trainPpoRun} is recorded. */
export interface PpoRunOptions {
  /** `.dspy/rl` of the workspace. */
  rlDir: string;
  /** `ppo` (`rl ppo`, also emits `rl.ppo.*`) or `neural` (`rl train --neural`). Also the run id's prefix. */
  kind: "ppo" | "neural";
  /** Called for every training log entry (after the events). */
  onLog?: (entry: TrainLogEntry) => void;
  signal?: AbortSignal;
}

/** The `summary.json` of a PPO run. */
export interface PpoRunSummary {
  run_id: string;
  kind: "ppo" | "neural";
  env: string;
  env_steps: number;
  wall_s: number | null;
  steps_per_s: number;
  mean_return_last100: number | null;
  solved_at_step: number | null;
  episodes: number;
  best_avg: number | null;
  stopped_early: boolean;
  stop_reason: string;
  updates: number;
  seed: number;
  checkpoint: string | null;
  run_dir: string;
  metrics_file: string;
  config: WorkerTrainResult["config"];
  finished_at: string;
}

/** What {@link trainPpoRun} returns. */
export interface PpoRunResult {
  summary: PpoRunSummary;
  /** The trainer's result, unrounded. */
  result: WorkerTrainResult;
  /** The options the run used (with the run folder's defaults filled in). */
  options: WorkerTrainOptions & { metricsFile: string };
  /**
   * True when a resumed checkpoint already had `options.steps` env steps, so nothing was trained (`--steps`
   * counts the checkpoint's steps too).
   */
  nothingTrained: boolean;
}

/**
 * Trains PPO in a Worker as a recorded run. `checkpointDir` defaults to the run folder's `checkpoints/`
 * and `metricsFile` is always the run folder's `metrics.jsonl`.
 */
export async function trainPpoRun(options: WorkerTrainOptions, run: PpoRunOptions): Promise<PpoRunResult> {
  const { kind } = run;
  const runId = newRunId(kind);
  const runDir = runDirOf(run.rlDir, runId);
  const opts = {
    ...options,
    checkpointDir: options.checkpointDir ?? join(runDir, "checkpoints"),
    metricsFile: runMetricsFile(run.rlDir, runId),
  };
  const envName = typeof opts.env === "string" ? opts.env : "custom";
  const nEnvs = opts.nEnvs ?? 8;
  if (kind === "ppo") {
    emitAction("rl.ppo.start", { n_envs: nEnvs, total_steps: opts.steps, env: envName, run_id: runId });
  }
  emitAction("rl.neural.start", { steps: opts.steps, n_envs: nEnvs, env: envName, run_id: runId });
  await Deno.mkdir(runDir, { recursive: true });
  let lastSummary = 0;
  const onLog = (e: TrainLogEntry) => {
    const now = performance.now();
    if (now - lastSummary > 2000) {
      lastSummary = now;
      emitMetric("rl.neural.summary", {
        steps: e.step,
        avg_reward: e.avg_reward,
        update: e.update,
        entropy: roundOrNull(e.entropy, 4),
        steps_per_s: Math.round(e.steps_per_s),
        run_id: runId,
      });
    }
    run.onLog?.(e);
  };
  const trained = () => Deno.stat(opts.metricsFile).then(() => true, () => false);
  let result: WorkerTrainResult;
  try {
    result = await trainInWorker(opts, { onLog, signal: run.signal });
  } catch (err) {
    if (!(await trained())) await Deno.remove(runDir, { recursive: true }).catch(() => {});
    else {
      await writeRunSummary(runDir, {
        run_id: runId,
        kind,
        env: envName,
        status: "failed",
        error: err instanceof Error ? err.message : String(err),
        finished_at: new Date().toISOString(),
      }).catch(() => {});
    }
    throw err;
  }
  const nothingTrained = !!opts.resume && !(await trained());
  const summary: PpoRunSummary = {
    run_id: runId,
    kind,
    env: envName,
    env_steps: result.steps,
    wall_s: roundOrNull(result.wallS, 3),
    steps_per_s: Math.round(result.stepsPerS),
    mean_return_last100: roundOrNull(result.meanReturnLast100, 3),
    solved_at_step: result.solvedAtStep,
    episodes: result.episodes,
    best_avg: roundOrNull(result.bestAvg, 3),
    stopped_early: result.stoppedEarly,
    stop_reason: result.stopReason,
    updates: result.updates,
    seed: result.seed,
    checkpoint: result.checkpoint,
    run_dir: runDir,
    metrics_file: opts.metricsFile,
    config: result.config,
    finished_at: new Date().toISOString(),
  };
  if (nothingTrained) {
    // Nothing new to record: no run folder, and the checkpoint to use is still the resumed one.
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    return {
      summary: { ...summary, checkpoint: opts.resume ?? null },
      result: { ...result, checkpoint: opts.resume ?? null },
      options: opts,
      nothingTrained,
    };
  }
  await writeRunSummary(runDir, summary);
  emitMetric("rl.neural.summary", {
    steps: result.steps,
    avg_reward: result.meanReturnLast100,
    run_id: runId,
  });
  const finished = {
    steps: result.steps,
    avg_reward: result.meanReturnLast100,
    episodes: result.episodes,
    solved_at_step: result.solvedAtStep,
    steps_per_s: Math.round(result.stepsPerS),
    stop_reason: result.stopReason,
    run_id: runId,
  };
  emitAction("rl.neural.finished", finished);
  if (kind === "ppo") emitAction("rl.ppo.finished", { n_envs: nEnvs, total_steps: opts.steps, ...finished });
  return { summary, result, options: opts, nothingTrained };
}
