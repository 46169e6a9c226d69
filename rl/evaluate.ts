/**
 * Evaluation: runs a trained policy (or the uniform-random baseline) for whole episodes on one env and
 * reports the returns. Used by `rl eval`, the tool-env comparison and the benchmarks.
 *
 * @module
 */

import type { Env } from "./env.ts";
import { act, type ActorCritic, policyScratch } from "./policy.ts";
import { Rng } from "../learning/mod.ts";

/** Options for {@link evaluatePolicy}. */
export interface EvaluateOptions {
  episodes: number;
  /** Take the most likely action (default true); false samples. */
  greedy?: boolean;
  seed?: number;
  /** Safety cap on steps per episode (default 100000). */
  maxSteps?: number;
}

/** Returns of evaluated episodes. */
export interface EvaluateResult {
  returns: number[];
  meanReturn: number;
  minReturn: number;
  maxReturn: number;
  steps: number;
}

function summarize(returns: number[], steps: number): EvaluateResult {
  return {
    returns,
    meanReturn: returns.reduce((a, b) => a + b, 0) / Math.max(1, returns.length),
    minReturn: Math.min(...returns),
    maxReturn: Math.max(...returns),
    steps,
  };
}

async function runEpisodes(
  env: Env,
  options: EvaluateOptions,
  choose: (obs: Float64Array) => number,
): Promise<EvaluateResult> {
  const returns: number[] = [];
  let steps = 0;
  const maxSteps = options.maxSteps ?? 100_000;
  for (let e = 0; e < options.episodes; e++) {
    const r0 = await env.reset(options.seed === undefined ? undefined : options.seed + e);
    let obs = r0.obs;
    let total = 0;
    for (let t = 0; t < maxSteps; t++) {
      const res = await env.step(choose(obs));
      total += res.reward;
      steps++;
      obs = res.obs;
      if (res.terminated || res.truncated) break;
    }
    returns.push(total);
  }
  return summarize(returns, steps);
}

/** Runs `net` on `env` for whole episodes. */
export function evaluatePolicy(
  net: ActorCritic,
  env: Env,
  options: EvaluateOptions,
): Promise<EvaluateResult> {
  const rng = new Rng(options.seed ?? 0);
  const scratch = policyScratch(net, 1);
  const out = { actions: new Int32Array(1), logp: new Float64Array(1), values: new Float64Array(1) };
  return runEpisodes(env, options, (obs) => {
    act(net, obs, 1, rng, scratch, out, options.greedy !== false);
    return out.actions[0];
  });
}

/** The uniform-random baseline on `env`. */
export function evaluateRandom(env: Env, options: EvaluateOptions): Promise<EvaluateResult> {
  const rng = new Rng(options.seed ?? 0);
  return runEpisodes(env, options, () => rng.int(env.actionCount));
}
