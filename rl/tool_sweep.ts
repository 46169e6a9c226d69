/**
 * The hyperparameter sweep of the bandit trainer on the coding-tool env (what `rl sweep` runs): each trial
 * trains a fresh bandit with the suggested `epsilon`, `ucb_c`, `timeout_sec`, `trainer.steps` and reward
 * `weights.*`, and is scored with the base reward (not the swept weights), so trials stay comparable. The
 * state persists through `runSweep` (`sweep_state.json`, `best.json` whose config a later `rl train`
 * uses), and the `rl.sweep.*` events are emitted.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../core/errors.ts";
import { emitAction, emitMetric } from "../core/events.ts";
import { trainBandit } from "./bandit_train.ts";
import { readJsonFile } from "./config.ts";
import { aggregateReward, DEFAULT_VERIFIERS } from "./reward.ts";
import { runSweep, type SearchSpace, type SweepState, type TrialSummary, validateSpace } from "./sweep.ts";
import { ToolEnv, type ToolEnvOptions } from "./tool_env.ts";

/** Reads and validates a search-space file; `shown` is how the user named it (for messages). */
export async function loadSweepSpace(path: string, shown = path): Promise<SearchSpace> {
  const parsed = await readJsonFile(path);
  if (!parsed) throw new UserError(`rl sweep: cannot read the space file ${shown}`);
  if (Array.isArray(parsed) || Object.keys(parsed).length === 0) {
    throw new UserError(`rl sweep: ${shown} must be a JSON object {name: {distribution, min, max, mean}}`);
  }
  const space = parsed as unknown as SearchSpace;
  validateSpace(space);
  return space;
}

/** Options for {@link sweepToolBandit}. */
export interface ToolSweepOptions {
  /** `.dspy/rl` of the workspace. */
  rlDir: string;
  method: "pareto" | "random";
  iterations: number;
  space: SearchSpace;
  /** Normalised bandit policy every trial uses. */
  policy: string;
  /** Trial `i` uses `seed + i`; absent: unseeded. */
  seed?: number;
  /** Ignore the saved sweep state. */
  fresh?: boolean;
  /** Steps per trial, overriding the swept `trainer.steps` (default 100 when neither is set). */
  trainerSteps?: number;
  /** The tool env every trial starts from (its reward is the scoring reward). */
  baseEnv: ToolEnvOptions;
  /** Called after each trial with the best so far. */
  onTrial?: (trial: TrialSummary, best: TrialSummary) => void;
  signal?: AbortSignal;
}

/** What {@link sweepToolBandit} returns. */
export interface ToolSweepResult {
  state: SweepState;
  stateFile: string;
  bestFile: string;
}

/** Runs the sweep of the tool bandit. */
export async function sweepToolBandit(options: ToolSweepOptions): Promise<ToolSweepResult> {
  const { method, iterations, space, policy, seed, baseEnv, trainerSteps } = options;
  emitAction("rl.sweep.start", { method, iterations, policy, params: Object.keys(space) });
  const state = await runSweep({
    rlDir: options.rlDir,
    method,
    iterations,
    space,
    seed,
    fresh: options.fresh,
    signal: options.signal,
    objective: async (params, iteration) => {
      const weights: Record<string, number> = {};
      for (const [k, v] of Object.entries(params)) if (k.startsWith("weights.")) weights[k.slice(8)] = v;
      const env = new ToolEnv({
        ...baseEnv,
        timeoutSec: params.timeout_sec ?? baseEnv.timeoutSec,
        reward: { ...baseEnv.reward, weights: { ...baseEnv.reward!.weights, ...weights } },
      });
      const steps = trainerSteps ?? Math.round(params["trainer.steps"] ?? 100);
      const r = await trainBandit({
        env,
        steps,
        policy,
        epsilon: params.epsilon,
        ucbC: params.ucb_c,
        seed: seed === undefined ? undefined : seed + iteration,
      });
      // Score every trial with the same (base) reward so different swept weights stay comparable.
      const base = r.infos.map((info) =>
        aggregateReward((info.metrics ?? {}) as Record<string, number>, DEFAULT_VERIFIERS, baseEnv.reward!)
          .reward
      );
      const scores = r.infos.map((info) => (info.verifier_scores ?? {}) as Record<string, number>);
      const mean = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
      return {
        metric: mean(base),
        info: {
          steps,
          avg_reward: r.avgReward,
          avg_pass_rate: mean(scores.map((s) => s.pass_rate ?? 0)),
          avg_blast_radius: mean(scores.map((s) => s.blast_radius ?? 0)),
          best_tool: r.bandit.ranking()[0]?.tool,
        },
      };
    },
    toConfig: (params) => {
      const weights: Record<string, number> = {};
      const config: Record<string, unknown> = { policy };
      for (const [k, v] of Object.entries(params)) {
        if (k.startsWith("weights.")) weights[k.slice(8)] = v;
        else if (k === "trainer.steps") config.trainer = { steps: v };
        else config[k] = v;
      }
      config.weights = weights;
      return config;
    },
    onTrial: (trial, best) => {
      emitMetric("rl.sweep.trial", {
        iteration: trial.iteration,
        params: trial.params,
        metric: trial.metric,
        cost: trial.cost,
        best_metric: best.metric,
      });
      options.onTrial?.(trial, best);
    },
  });
  const best = state.best;
  emitAction("rl.sweep.finished", {
    method,
    trials: state.history.length,
    best_metric: best?.metric ?? null,
    best_params: best?.params ?? null,
  });
  return {
    state,
    stateFile: join(options.rlDir, "sweep_state.json"),
    bestFile: join(options.rlDir, "best.json"),
  };
}
