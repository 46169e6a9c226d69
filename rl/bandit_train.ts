/**
 * The bandit trainer behind `rl train`: a shared bandit (ε-greedy, UCB1 or Thompson, from the agent) picks
 * one of the env's actions each step, the env runs it for real, and the reward updates the bandit. The
 * bandit's state is persisted after every step, so an interrupted run keeps what it learnt and the next
 * run continues from it.
 *
 * @module
 */

import { type Bandit, createBandit, loadBanditFile, saveBanditFile } from "../learning/mod.ts";
import type { Env } from "./env.ts";

/** Options for {@link trainBandit}. */
export interface BanditTrainOptions {
  /** The env (single; steps run one after another). */
  env: Env;
  /** Steps to run. */
  steps: number;
  /** Policy name or alias (default epsilon-greedy). */
  policy?: string;
  epsilon?: number;
  ucbC?: number;
  seed?: number;
  /** Persist the bandit here (and continue from it when it exists). */
  statePath?: string;
  /** Ignore a saved state and start afresh. */
  fresh?: boolean;
  /** Called after every step. */
  onStep?: (step: { step: number; action: string; reward: number; info: Record<string, unknown> }) => void;
  signal?: AbortSignal;
}

/** What {@link trainBandit} returns (the reference's EpisodeStats plus the bandit). */
export interface BanditTrainResult {
  rewards: number[];
  actions: string[];
  infos: Record<string, unknown>[];
  avgReward: number | null;
  steps: number;
  bandit: Bandit;
}

/** Runs the bandit loop. */
export async function trainBandit(options: BanditTrainOptions): Promise<BanditTrainResult> {
  const env = options.env;
  const tools = env.actionNames
    ? [...env.actionNames]
    : Array.from({ length: env.actionCount }, (_, i) => `a${i}`);
  const banditOptions = {
    policy: options.policy ?? "epsilon-greedy",
    tools,
    epsilon: options.epsilon,
    ucbC: options.ucbC,
    seed: options.seed,
  };
  const bandit = options.statePath && !options.fresh
    ? await loadBanditFile(options.statePath, banditOptions)
    : createBandit(banditOptions);
  const rewards: number[] = [];
  const actions: string[] = [];
  const infos: Record<string, unknown>[] = [];
  await env.reset(options.seed);
  for (let step = 0; step < options.steps; step++) {
    if (options.signal?.aborted) break;
    // The env's actions are the bandit's first arms (a restored state may append arms the env lacks).
    let actionIndex = bandit.selectIndex();
    if (actionIndex >= tools.length) actionIndex = step % tools.length;
    const arm = actionIndex;
    const res = await env.step(actionIndex);
    bandit.update(arm, res.reward);
    rewards.push(res.reward);
    actions.push(tools[actionIndex]);
    infos.push(res.info);
    if (options.statePath) await saveBanditFile(options.statePath, bandit);
    options.onStep?.({ step: step + 1, action: tools[actionIndex], reward: res.reward, info: res.info });
    if (res.terminated || res.truncated) await env.reset();
  }
  return {
    rewards,
    actions,
    infos,
    avgReward: rewards.length ? rewards.reduce((a, b) => a + b, 0) / rewards.length : null,
    steps: rewards.length,
    bandit,
  };
}
