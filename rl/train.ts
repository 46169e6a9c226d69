/**
 * `trainPufferPolicy`: PPO with the seed's stability knobs. It collects `rolloutLength` steps from
 * `nEnvs` envs (in Workers or on this thread), computes GAE(γ, λ) advantages (time-limit truncations are
 * bootstrapped with the critic's value of the final observation), runs `epochs` passes of shuffled
 * minibatches through the clipped-surrogate loss with an entropy bonus and global-norm gradient clipping,
 * then one auxiliary replay step on the critic (see replay.ts). It logs one entry per update, writes
 * checkpoints that resume exactly, stops early when the average return stagnates, and is reproducible
 * for a given seed.
 *
 * @module
 */

import { join } from "node:path";
import { appendJsonLine } from "../core/atomic.ts";
import { UserError } from "../core/errors.ts";
import { type AdamState, adamStep, clipGradNorm, createAdam } from "./adam.ts";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { builtinEnvSpec, type Env, type EnvSpec } from "./env.ts";
import {
  act,
  type ActorCritic,
  createActorCritic,
  policyScratch,
  ppoLossAndGrad,
  type PpoLossOptions,
  type PpoMinibatch,
  valueLossAndGrad,
  values as criticValues,
} from "./policy.ts";
import { createReplay, replayAdd, type ReplayBuffer, replaySample } from "./replay.ts";
import { randomSeed, Rng, type RngState } from "../learning/mod.ts";
import { createInThreadVectorEnv, type VectorEnv } from "./vector_env.ts";
import { createWorkerVectorEnv } from "./worker_env.ts";

/** Hyperparameters (all JSON-serialisable; stored in checkpoints as `config`). */
export interface PpoConfig {
  /** Total env steps to collect (summed over envs). */
  steps: number;
  /** Parallel envs. */
  nEnvs: number;
  /** Workers stepping the envs; 0 steps them on the learner's thread. */
  envWorkers: number;
  /** Adam learning rate. */
  lr: number;
  /** Anneal the learning rate linearly to 0 over `steps`. */
  lrAnneal: boolean;
  /** Entropy bonus weight. */
  entropyCoef: number;
  /** Value-loss weight. */
  vfCoef: number;
  /** Surrogate clip ε. */
  clip: number;
  /** Clip the value update too. */
  clipValue: boolean;
  /** Discount γ. */
  gamma: number;
  /** GAE λ. */
  gaeLambda: number;
  /** Steps per env per update. */
  rolloutLength: number;
  /** Passes over each rollout. */
  epochs: number;
  /** Minibatches per pass. */
  minibatches: number;
  /** Global gradient-norm limit (0 = off). */
  gradClip: number;
  /** Replay ring size (0 = off). */
  replayCapacity: number;
  /** Replay sample size per update (0 = off). */
  replayBatch: number;
  /** Hidden widths of actor and critic. */
  hidden: number[];
  /** Updates between checkpoints (0 = only at the end). */
  checkpointInterval: number;
  /** Updates without improvement of the average return before stopping (0 = never). */
  earlyStopPatience: number;
  /** Episodes in the moving average used for `avg_reward`, early stop and "solved". */
  avgWindow: number;
  /** Average return that counts as solved (e.g. 475 for CartPole-v1); null = none. */
  solveThreshold: number | null;
  /** Stop as soon as the task is solved. */
  stopWhenSolved: boolean;
  /** Generator seed. */
  seed: number;
}

/** The defaults, tuned on CartPole-v1 (see docs/rl.md). */
export const PPO_DEFAULTS: Omit<PpoConfig, "seed"> = {
  steps: 10_000,
  nEnvs: 8,
  envWorkers: 0,
  lr: 3e-3,
  lrAnneal: true,
  entropyCoef: 0.01,
  vfCoef: 0.5,
  clip: 0.2,
  clipValue: false,
  gamma: 0.98,
  gaeLambda: 0.8,
  rolloutLength: 32,
  epochs: 1,
  minibatches: 8,
  gradClip: 1.0,
  replayCapacity: 2048,
  replayBatch: 128,
  hidden: [64, 64],
  checkpointInterval: 0,
  earlyStopPatience: 0,
  avgWindow: 100,
  solveThreshold: null,
  stopWhenSolved: false,
};

/** One line of the training log (also a line of metrics.jsonl). */
export interface TrainLogEntry {
  update: number;
  step: number;
  episodes: number;
  /** Returns of episodes that ended during this update's rollout. */
  episode_returns: number[];
  /** Mean return over the last `avgWindow` episodes (null before the first episode ends). */
  avg_reward: number | null;
  best_avg: number | null;
  policy_loss: number;
  value_loss: number;
  entropy: number;
  approx_kl: number;
  clip_frac: number;
  grad_norm: number;
  replay_loss: number | null;
  lr: number;
  steps_per_s: number;
  wall_s: number;
}

/** Options of {@link trainPufferPolicy}: every {@link PpoConfig} field plus where the env comes from. */
export interface TrainOptions extends Partial<PpoConfig> {
  /** Built-in env name or env spec (required for env workers). */
  env?: string | EnvSpec;
  /** Options for a built-in env named by `env`. */
  envOptions?: Record<string, unknown>;
  /** A factory for envs on this thread (then `envWorkers` must be 0). */
  makeEnv?: () => Env | Promise<Env>;
  /** Checkpoint directory (`latest.{json,bin}`, `best.{json,bin}`). */
  checkpointDir?: string;
  /** Resume from a checkpoint (directory or JSON path). */
  resume?: string;
  /** Append each log entry to this file (metrics.jsonl). */
  metricsFile?: string;
  /** Called after every update. */
  onLog?: (entry: TrainLogEntry) => void;
  /** Stops training at the next update boundary (the result is still returned and checkpointed). */
  signal?: AbortSignal;
}

/** What training returns (the fields of the seed's EpisodeStats plus run facts). */
export interface TrainResult {
  /** Every finished episode's return, in order. */
  rewards: number[];
  /** Finished episodes. */
  episodes: number;
  /** Env steps collected. */
  steps: number;
  /** Best moving-average return seen. */
  bestAvg: number | null;
  /** True when early stopping ended the run. */
  stoppedEarly: boolean;
  /** Latest checkpoint JSON path (null without checkpointDir). */
  checkpoint: string | null;
  /** Mean return over the last `avgWindow` episodes. */
  meanReturnLast100: number | null;
  /** First env step at which the moving average reached `solveThreshold`. */
  solvedAtStep: number | null;
  updates: number;
  wallS: number;
  stepsPerS: number;
  seed: number;
  /** "steps" | "early_stop" | "solved" | "signal". */
  stopReason: string;
  config: PpoConfig;
  /** The trained network (for evaluation in-process). */
  policy: ActorCritic;
}

function resolveConfig(options: TrainOptions, base?: Partial<PpoConfig>): PpoConfig {
  const cfg = { ...PPO_DEFAULTS, ...base } as PpoConfig;
  for (const key of Object.keys(PPO_DEFAULTS) as (keyof PpoConfig)[]) {
    const v = options[key];
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[key] = v;
  }
  cfg.seed = options.seed ?? base?.seed ?? randomSeed();
  if (options.makeEnv && options.envWorkers === undefined) cfg.envWorkers = 0;
  const positiveInts: (keyof PpoConfig)[] = ["nEnvs", "rolloutLength", "epochs", "minibatches", "avgWindow"];
  for (const k of positiveInts) {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new UserError(`${k} must be a whole number ≥ 1, got ${v}`);
  }
  const nonNegInts: (keyof PpoConfig)[] = [
    "steps",
    "envWorkers",
    "replayCapacity",
    "replayBatch",
    "checkpointInterval",
    "earlyStopPatience",
  ];
  for (const k of nonNegInts) {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < 0) throw new UserError(`${k} must be a whole number ≥ 0, got ${v}`);
  }
  if (!(cfg.lr > 0)) throw new UserError(`lr must be > 0, got ${cfg.lr}`);
  if (cfg.gamma < 0 || cfg.gamma > 1) throw new UserError(`gamma must be in [0, 1], got ${cfg.gamma}`);
  if (cfg.gaeLambda < 0 || cfg.gaeLambda > 1) throw new UserError(`gaeLambda must be in [0, 1]`);
  if (cfg.entropyCoef < 0 || cfg.gradClip < 0) throw new UserError("entropyCoef and gradClip must be ≥ 0");
  if (cfg.hidden.length === 0 || cfg.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new UserError(`hidden sizes must be whole numbers ≥ 1, got ${cfg.hidden.join("x")}`);
  }
  if (cfg.replayBatch > cfg.replayCapacity) {
    throw new UserError(
      `replayBatch (${cfg.replayBatch}) cannot exceed replayCapacity (${cfg.replayCapacity})`,
    );
  }
  const batch = cfg.nEnvs * cfg.rolloutLength;
  if (cfg.minibatches > batch) {
    throw new UserError(`minibatches (${cfg.minibatches}) exceeds the batch (${batch})`);
  }
  if (options.makeEnv && cfg.envWorkers > 0) {
    throw new UserError(
      "env workers need an env spec (env: name or {module, export}), not a makeEnv function",
    );
  }
  return cfg;
}

/** Builds the vector env the config asks for. */
export async function createVectorEnv(options: TrainOptions, cfg: PpoConfig): Promise<VectorEnv> {
  if (options.makeEnv) return await createInThreadVectorEnv(options.makeEnv, cfg.nEnvs);
  const spec = typeof options.env === "string" || options.env === undefined
    ? builtinEnvSpec(options.env ?? "cartpole", options.envOptions ?? {})
    : options.env;
  if (cfg.envWorkers > 0) {
    return await createWorkerVectorEnv({ spec, nEnvs: cfg.nEnvs, workers: cfg.envWorkers });
  }
  return await createInThreadVectorEnv(spec, cfg.nEnvs);
}

/** Mean of the last `n` values (null when empty). */
function tailMean(values: number[], n: number): number | null {
  if (values.length === 0) return null;
  const k = Math.min(n, values.length);
  let s = 0;
  for (let i = values.length - k; i < values.length; i++) s += values[i];
  return s / k;
}

function configJson(cfg: PpoConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(cfg));
}

/**
 * Trains a PPO actor-critic. The TypeScript form of the seed's `train_puffer_policy`.
 *
 * @example
 * ```ts
 * const result = await trainPufferPolicy({
 *   env: "cartpole", steps: 150_000, nEnvs: 8, seed: 1, solveThreshold: 475,
 *   entropyCoef: 0.01, replayCapacity: 2048, replayBatch: 128, gradClip: 1.0,
 *   checkpointDir: ".dspy/rl/ckpt", checkpointInterval: 10, earlyStopPatience: 50,
 * });
 * console.log(result.meanReturnLast100, result.solvedAtStep);
 * ```
 */
export async function trainPufferPolicy(options: TrainOptions = {}): Promise<TrainResult> {
  let resumed: Checkpoint | null = null;
  if (options.resume) resumed = await loadCheckpoint(options.resume);
  const base = resumed ? (resumed.meta.config as unknown as Partial<PpoConfig>) : undefined;
  const cfg = resolveConfig(options, base);
  const vec = await createVectorEnv(options, cfg);
  try {
    return await runPpo(vec, cfg, options, resumed);
  } finally {
    await vec.close();
  }
}

interface LearnerState {
  step: number;
  update: number;
  rewards: number[];
  bestAvg: number | null;
  stagnant: number;
  solvedAtStep: number | null;
  bestCheckpointAvg: number | null;
}

async function runPpo(
  vec: VectorEnv,
  cfg: PpoConfig,
  options: TrainOptions,
  resumed: Checkpoint | null,
): Promise<TrainResult> {
  const N = cfg.nEnvs;
  const T = cfg.rolloutLength;
  const D = vec.observationSize;
  const A = vec.actionCount;
  const B = N * T;
  const mbSize = Math.floor(B / cfg.minibatches);
  const rng = new Rng(cfg.seed);
  const net = createActorCritic({ obsSize: D, actionCount: A, hidden: cfg.hidden }, rng);
  const P = net.params.length;
  const adam = createAdam(P, { lr: cfg.lr });
  const replayAdam = createAdam(P, { lr: cfg.lr });
  const replay = createReplay(cfg.replayBatch > 0 ? cfg.replayCapacity : 0, D);
  const grads = new Float64Array(P);
  const scratch = policyScratch(net, Math.max(N, mbSize, cfg.replayBatch, 1));
  const state: LearnerState = {
    step: 0,
    update: 0,
    rewards: [],
    bestAvg: null,
    stagnant: 0,
    solvedAtStep: null,
    bestCheckpointAvg: null,
  };

  // Rollout storage.
  const obsBuf = new Float64Array(B * D);
  const actBuf = new Int32Array(B);
  const logpBuf = new Float64Array(B);
  const valBuf = new Float64Array(B);
  const rewBuf = new Float64Array(B);
  const doneBuf = new Uint8Array(B);
  const advBuf = new Float64Array(B);
  const retBuf = new Float64Array(B);
  const lastValues = new Float64Array(N);
  const finalValue = new Float64Array(1);
  const mb: PpoMinibatch = {
    size: mbSize,
    obs: new Float64Array(mbSize * D),
    actions: new Int32Array(mbSize),
    logpOld: new Float64Array(mbSize),
    advantages: new Float64Array(mbSize),
    returns: new Float64Array(mbSize),
    valuesOld: new Float64Array(mbSize),
  };
  const idx = new Int32Array(B);
  const replayObs = new Float64Array(Math.max(cfg.replayBatch, 1) * D);
  const replayTargets = new Float64Array(Math.max(cfg.replayBatch, 1));
  const replayIdx = new Int32Array(Math.max(replay.capacity, 1));
  const lossOpts: PpoLossOptions = {
    clip: cfg.clip,
    vfCoef: cfg.vfCoef,
    entCoef: cfg.entropyCoef,
    normAdv: true,
    clipValue: cfg.clipValue,
  };

  let obs: Float64Array;
  let rngLive = rng;
  if (resumed) {
    obs = await restoreLearner(resumed, vec, cfg, net, adam, replayAdam, replay, state);
    rngLive = Rng.fromState(resumed.meta.state.rng as RngState);
  } else {
    obs = await vec.reset(cfg.seed);
  }

  const checkpointDir = options.checkpointDir;
  let checkpointPath: string | null = null;
  const started = performance.now();
  const startStep = state.step;
  let stopReason = "steps";
  const actOut = { actions: new Int32Array(N), logp: new Float64Array(N), values: new Float64Array(N) };

  const saveAll = async (name: string, avg: number | null): Promise<string> => {
    const snap = await vec.snapshot();
    return await saveCheckpoint(checkpointDir!, name, {
      step: state.step,
      avg_reward: avg,
      best_avg: state.bestAvg,
      config: configJson(cfg),
      state: {
        update: state.update,
        stagnant: state.stagnant,
        solved_at_step: state.solvedAtStep,
        best_checkpoint_avg: state.bestCheckpointAvg,
        rng: rngLive.state(),
        adam_t: adam.t,
        replay_adam_t: replayAdam.t,
        replay_size: replay.size,
        replay_head: replay.head,
        env_snapshot: snap,
        obs_size: D,
        action_count: A,
        env: envDescriptor(options),
      },
    }, {
      params: net.params,
      adam_m: adam.m,
      adam_v: adam.v,
      replay_adam_m: replayAdam.m,
      replay_adam_v: replayAdam.v,
      replay_obs: replay.obs.subarray(0, replay.size * D),
      replay_targets: replay.targets.subarray(0, replay.size),
      rewards: Float64Array.from(state.rewards),
      obs,
    });
  };

  while (state.step < cfg.steps) {
    if (options.signal?.aborted) {
      stopReason = "signal";
      break;
    }
    const lr = cfg.lrAnneal ? cfg.lr * Math.max(0, 1 - state.step / Math.max(1, cfg.steps)) : cfg.lr;
    adam.lr = lr;
    replayAdam.lr = lr;
    const newReturns: number[] = [];
    // ---- rollout
    for (let t = 0; t < T; t++) {
      const base = t * N;
      act(net, obs, N, rngLive, scratch, actOut, false);
      obsBuf.set(obs, base * D);
      actBuf.set(actOut.actions, base);
      logpBuf.set(actOut.logp, base);
      valBuf.set(actOut.values, base);
      const res = await vec.step(actOut.actions);
      for (let i = 0; i < N; i++) {
        let r = res.rewards[i];
        if (res.truncated[i]) {
          // Time limit: the episode did not really end, so bootstrap from the final observation's value.
          criticValues(net, res.finalObs[i]!, 1, scratch, finalValue);
          r += cfg.gamma * finalValue[0];
        }
        rewBuf[base + i] = r;
        doneBuf[base + i] = res.terminated[i] | res.truncated[i];
      }
      for (const ep of res.episodes) {
        newReturns.push(ep.return);
        state.rewards.push(ep.return);
      }
      obs = res.obs;
    }
    state.step += B;
    // ---- GAE
    criticValues(net, obs, N, scratch, lastValues);
    for (let i = 0; i < N; i++) {
      let gae = 0;
      for (let t = T - 1; t >= 0; t--) {
        const k = t * N + i;
        const nonTerminal = 1 - doneBuf[k];
        const nextV = t === T - 1 ? lastValues[i] : valBuf[k + N];
        const delta = rewBuf[k] + cfg.gamma * nextV * nonTerminal - valBuf[k];
        gae = delta + cfg.gamma * cfg.gaeLambda * nonTerminal * gae;
        advBuf[k] = gae;
        retBuf[k] = gae + valBuf[k];
      }
    }
    // ---- PPO epochs
    let pl = 0, vl = 0, ent = 0, kl = 0, cf = 0, gn = 0, count = 0;
    for (let i = 0; i < B; i++) idx[i] = i;
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      rngLive.shuffle(idx);
      for (let m = 0; m < cfg.minibatches; m++) {
        for (let j = 0; j < mbSize; j++) {
          const k = idx[m * mbSize + j];
          mb.obs.set(obsBuf.subarray(k * D, k * D + D), j * D);
          mb.actions[j] = actBuf[k];
          mb.logpOld[j] = logpBuf[k];
          mb.advantages[j] = advBuf[k];
          mb.returns[j] = retBuf[k];
          mb.valuesOld[j] = valBuf[k];
        }
        grads.fill(0);
        const s = ppoLossAndGrad(net, mb, lossOpts, grads, scratch);
        gn += clipGradNorm(grads, cfg.gradClip);
        adamStep(adam, net.params, grads);
        pl += s.policyLoss;
        vl += s.valueLoss;
        ent += s.entropy;
        kl += s.approxKl;
        cf += s.clipFrac;
        count++;
      }
    }
    // ---- auxiliary replay: one critic step on recent (obs, return) pairs
    let replayLoss: number | null = null;
    if (cfg.replayBatch > 0 && replay.capacity > 0) {
      replayAdd(replay, obsBuf, retBuf, B);
      const n = replaySample(replay, cfg.replayBatch, rngLive, replayObs, replayTargets, replayIdx);
      if (n > 0) {
        grads.fill(0);
        replayLoss = valueLossAndGrad(net, replayObs, replayTargets, n, grads, scratch);
        clipGradNorm(grads, cfg.gradClip, net.critic.start, net.critic.end);
        adamStep(replayAdam, net.params, grads, net.critic.start, net.critic.end);
      }
    }
    state.update++;
    // ---- bookkeeping
    const avg = tailMean(state.rewards, cfg.avgWindow);
    if (avg !== null && (state.bestAvg === null || avg > state.bestAvg + 1e-6)) {
      state.bestAvg = avg;
      state.stagnant = 0;
    } else {
      state.stagnant++;
    }
    if (
      state.solvedAtStep === null && cfg.solveThreshold !== null && avg !== null &&
      state.rewards.length >= cfg.avgWindow && avg >= cfg.solveThreshold
    ) {
      state.solvedAtStep = state.step;
    }
    const wall = (performance.now() - started) / 1000;
    const entry: TrainLogEntry = {
      update: state.update,
      step: state.step,
      episodes: state.rewards.length,
      episode_returns: newReturns,
      avg_reward: avg,
      best_avg: state.bestAvg,
      policy_loss: pl / count,
      value_loss: vl / count,
      entropy: ent / count,
      approx_kl: kl / count,
      clip_frac: cf / count,
      grad_norm: gn / count,
      replay_loss: replayLoss,
      lr,
      steps_per_s: (state.step - startStep) / Math.max(wall, 1e-9),
      wall_s: wall,
    };
    if (options.metricsFile) await appendJsonLine(options.metricsFile, { ts: Date.now() / 1000, ...entry });
    options.onLog?.(entry);
    if (checkpointDir && cfg.checkpointInterval > 0 && state.update % cfg.checkpointInterval === 0) {
      checkpointPath = await saveAll("latest", avg);
      if (avg !== null && (state.bestCheckpointAvg === null || avg > state.bestCheckpointAvg)) {
        state.bestCheckpointAvg = avg;
        await saveAll("best", avg);
      }
    }
    if (cfg.earlyStopPatience > 0 && state.stagnant >= cfg.earlyStopPatience) {
      stopReason = "early_stop";
      break;
    }
    if (cfg.stopWhenSolved && state.solvedAtStep !== null) {
      stopReason = "solved";
      break;
    }
  }
  const wallS = (performance.now() - started) / 1000;
  const avg = tailMean(state.rewards, cfg.avgWindow);
  if (checkpointDir) {
    checkpointPath = await saveAll("latest", avg);
    if (avg !== null && (state.bestCheckpointAvg === null || avg > state.bestCheckpointAvg)) {
      state.bestCheckpointAvg = avg;
      await saveAll("best", avg);
    }
  }
  return {
    rewards: state.rewards,
    episodes: state.rewards.length,
    steps: state.step,
    bestAvg: state.bestAvg,
    stoppedEarly: stopReason === "early_stop",
    checkpoint: checkpointPath,
    meanReturnLast100: avg,
    solvedAtStep: state.solvedAtStep,
    updates: state.update,
    wallS,
    stepsPerS: (state.step - startStep) / Math.max(wallS, 1e-9),
    seed: cfg.seed,
    stopReason,
    config: cfg,
    policy: net,
  };
}

async function restoreLearner(
  ck: Checkpoint,
  vec: VectorEnv,
  cfg: PpoConfig,
  net: ActorCritic,
  adam: AdamState,
  replayAdam: AdamState,
  replay: ReplayBuffer,
  state: LearnerState,
): Promise<Float64Array> {
  const s = ck.meta.state;
  const a = ck.arrays;
  if (s.obs_size !== vec.observationSize || s.action_count !== vec.actionCount) {
    throw new UserError(
      `checkpoint ${ck.path} was trained on observations of size ${s.obs_size} with ${s.action_count} actions; ` +
        `this env has ${vec.observationSize} and ${vec.actionCount}`,
    );
  }
  if (a.params.length !== net.params.length) {
    throw new UserError(
      `checkpoint ${ck.path} has a different network (hidden ${JSON.stringify(ck.meta.config.hidden)}); ` +
        `resume with the same hidden sizes`,
    );
  }
  net.params.set(a.params);
  adam.m.set(a.adam_m);
  adam.v.set(a.adam_v);
  adam.t = s.adam_t as number;
  replayAdam.m.set(a.replay_adam_m);
  replayAdam.v.set(a.replay_adam_v);
  replayAdam.t = s.replay_adam_t as number;
  if (replay.capacity > 0 && a.replay_targets) {
    const size = Math.min(s.replay_size as number, replay.capacity);
    if (size === s.replay_size && replay.capacity === (ck.meta.config.replayCapacity as number)) {
      replay.obs.set(a.replay_obs);
      replay.targets.set(a.replay_targets);
      replay.size = size;
      replay.head = s.replay_head as number;
    } else {
      replayAdd(replay, a.replay_obs, a.replay_targets, size);
    }
  }
  state.step = ck.meta.step;
  state.update = s.update as number;
  state.rewards = Array.from(a.rewards);
  state.bestAvg = ck.meta.best_avg;
  state.stagnant = s.stagnant as number;
  state.solvedAtStep = s.solved_at_step as number | null;
  state.bestCheckpointAvg = s.best_checkpoint_avg as number | null;
  const snap = s.env_snapshot;
  if (snap && cfg.nEnvs === (ck.meta.config.nEnvs as number)) {
    await vec.restore(snap);
    return Float64Array.from(a.obs);
  }
  // Envs without snapshots (or a different env count) start fresh episodes.
  return await vec.reset(cfg.seed + state.step);
}

/** How a checkpoint names its env so `rl eval` can rebuild it (null for a makeEnv function). */
function envDescriptor(options: TrainOptions): Record<string, unknown> | null {
  if (options.makeEnv) return null;
  if (typeof options.env === "string" || options.env === undefined) {
    return { name: options.env ?? "cartpole", options: options.envOptions ?? {} };
  }
  return { spec: options.env };
}

/** Default metrics file of a run: `<rlDir>/runs/<id>/metrics.jsonl`. */
export function runMetricsFile(rlDir: string, runId: string): string {
  return join(rlDir, "runs", runId, "metrics.jsonl");
}
