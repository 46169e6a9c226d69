/**
 * Evaluates a saved PPO checkpoint (what `rl eval` runs): rebuilds the env the checkpoint names (built-in
 * name and options, or a spec), loads the network, and plays `episodes` greedily (or sampling) next to a
 * uniform random policy on the same seeds; emits the `rl.eval` metric with the report.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import { emitMetric } from "../core/events.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { builtinEnvSpec, type EnvSpec, makeEnvFromSpec } from "./env.ts";
import { evaluatePolicy, evaluateRandom, type EvaluateResult } from "./evaluate.ts";
import { createActorCritic } from "./policy.ts";
import { Rng } from "../learning/mod.ts";
import { roundOrNull } from "./runs.ts";

/** Options for {@link evaluateCheckpoint}. */
export interface CheckpointEvalOptions {
  /** Episodes per policy (default 10). */
  episodes?: number;
  /** Sample actions instead of taking the most likely one. */
  sample?: boolean;
  /** Seed of the episodes (default 12345). */
  seed?: number;
}

/** The `rl.eval` report (snake_case, rounded to 4 digits). */
export interface CheckpointEvalReport {
  checkpoint: string;
  env: string;
  trained_steps: number;
  episodes: number;
  mode: "greedy" | "sample";
  mean_return: number | null;
  min_return: number | null;
  max_return: number | null;
  random_mean_return: number | null;
}

/** What {@link evaluateCheckpoint} returns: the report and the unrounded results. */
export interface CheckpointEvalResult {
  report: CheckpointEvalReport;
  policy: EvaluateResult;
  random: EvaluateResult;
}

/**
 * Evaluates the checkpoint at `path` (a checkpoint folder or its `.json`). Throws a `UserError` when the
 * checkpoint does not name its env or does not fit the env's shape.
 */
export async function evaluateCheckpoint(
  path: string,
  options: CheckpointEvalOptions = {},
): Promise<CheckpointEvalResult> {
  const ck = await loadCheckpoint(path);
  const episodes = options.episodes ?? 10;
  const seed = options.seed ?? 12345;
  const desc = ck.meta.state.env as
    | { name?: string; options?: Record<string, unknown>; spec?: EnvSpec }
    | null;
  if (!desc) throw new UserError(`${ck.path} does not name its env (it was trained with a makeEnv function)`);
  const spec = desc.spec ?? builtinEnvSpec(desc.name!, desc.options ?? {});
  const env = await makeEnvFromSpec(spec);
  try {
    const hidden = ck.meta.config.hidden as number[];
    const net = createActorCritic(
      { obsSize: env.observationSize, actionCount: env.actionCount, hidden },
      new Rng(0),
    );
    if (net.params.length !== ck.arrays.params.length) {
      throw new UserError(`${ck.path} does not match the env's shape: was it trained on another env?`);
    }
    net.params.set(ck.arrays.params);
    const policy = await evaluatePolicy(net, env, { episodes, greedy: !options.sample, seed });
    const random = await evaluateRandom(env, { episodes, seed });
    const report: CheckpointEvalReport = {
      checkpoint: ck.path,
      env: desc.name ?? spec.module,
      trained_steps: ck.meta.step,
      episodes,
      mode: options.sample ? "sample" : "greedy",
      mean_return: roundOrNull(policy.meanReturn, 4),
      min_return: roundOrNull(policy.minReturn, 4),
      max_return: roundOrNull(policy.maxReturn, 4),
      random_mean_return: roundOrNull(random.meanReturn, 4),
    };
    emitMetric("rl.eval", { ...report });
    return { report, policy, random };
  } finally {
    await env.close?.();
  }
}
