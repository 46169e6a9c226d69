/**
 * The RL trainer's public face: the env API and built-in envs (CartPole-v1, k-armed bandit, the
 * coding-tool env), vectorised envs (in-thread or in Workers), the MLP actor-critic and PPO
 * (`trainPufferPolicy`), checkpoints, evaluation, the bandit trainer (the bandits and the seeded RNG come
 * from `learning/`), sweeps and the rewards/verifiers; and the recorded runs behind the `rl` commands: the
 * workspace's RL config, run folders and status, PPO and tool-bandit runs, the tool-bandit sweep and
 * checkpoint evaluation. Other folders import only this file.
 *
 * @module
 */

export {
  BUILTIN_ENVS,
  builtinEnvSpec,
  checkEnv,
  type Env,
  type EnvFactory,
  type EnvSpec,
  makeEnvFromSpec,
  type ResetResult,
  type StepResult,
} from "./env.ts";
export { CartPole, type CartPoleOptions, makeCartPole, THETA_THRESHOLD, X_THRESHOLD } from "./cartpole.ts";
export { BanditEnv, type BanditEnvOptions, makeBanditEnv } from "./bandit_env.ts";
export {
  makeToolEnv,
  TOOL_ACTIONS,
  toolActionFromAny,
  type ToolActionName,
  ToolEnv,
  type ToolEnvOptions,
} from "./tool_env.ts";
export {
  type ActionMetrics,
  aggregateReward,
  DEFAULT_REWARD,
  DEFAULT_VERIFIERS,
  type RewardBreakdown,
  type RewardConfig,
  type Verifier,
} from "./reward.ts";
export {
  createInThreadVectorEnv,
  EnvGroup,
  type EpisodeEnd,
  InThreadVectorEnv,
  type VectorEnv,
  type VectorStep,
} from "./vector_env.ts";
export { createWorkerVectorEnv, EnvWorkerError, type WorkerVectorEnvOptions } from "./worker_env.ts";
export {
  initMlp,
  type MlpBackend,
  mlpBackend,
  mlpBackward,
  mlpBuffers,
  mlpForward,
  type MlpLayout,
  mlpLayout,
  setMlpBackend,
} from "./mlp.ts";
export { type AdamState, adamStep, clipGradNorm, createAdam, gradNorm } from "./adam.ts";
export {
  act,
  actionProbs,
  type ActorCritic,
  createActorCritic,
  policyScratch,
  ppoLossAndGrad,
  type PpoLossOptions,
  type PpoMinibatch,
  valueLossAndGrad,
} from "./policy.ts";
export { createReplay, replayAdd, type ReplayBuffer, replaySample } from "./replay.ts";
export {
  type Checkpoint,
  CHECKPOINT_FORMAT,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
export {
  createVectorEnv,
  PPO_DEFAULTS,
  type PpoConfig,
  runMetricsFile,
  type TrainLogEntry,
  type TrainOptions,
  trainPufferPolicy,
  type TrainResult,
} from "./train.ts";
export { trainInWorker, type WorkerTrainOptions, type WorkerTrainResult } from "./train_host.ts";
export { type EvaluateOptions, evaluatePolicy, evaluateRandom, type EvaluateResult } from "./evaluate.ts";
export { type BanditTrainOptions, type BanditTrainResult, trainBandit } from "./bandit_train.ts";
export {
  DEFAULT_SWEEP_SPACE,
  denormalize,
  type Distribution,
  nestParams,
  normalize,
  type ParamSpec,
  paretoFront,
  readSweepState,
  runSweep,
  type SearchSpace,
  suggest,
  type SweepOptions,
  type SweepState,
  type TrialSummary,
  validateSpace,
} from "./sweep.ts";
export {
  type BestSweepConfig,
  loadBestConfig,
  loadRlConfig,
  type RlFileConfig,
  type ToolEnvFlags,
  toolEnvOptionsFrom,
} from "./config.ts";
export { newRunId, readRlStatus, type RlStatus, runDirOf, writeRunSummary } from "./runs.ts";
export { type PpoRunOptions, type PpoRunResult, type PpoRunSummary, trainPpoRun } from "./ppo_run.ts";
export {
  type ToolBanditRunOptions,
  type ToolBanditRunResult,
  type ToolBanditRunSummary,
  trainToolBanditRun,
} from "./bandit_run.ts";
export {
  loadSweepSpace,
  sweepToolBandit,
  type ToolSweepOptions,
  type ToolSweepResult,
} from "./tool_sweep.ts";
export {
  type CheckpointEvalOptions,
  type CheckpointEvalReport,
  type CheckpointEvalResult,
  evaluateCheckpoint,
} from "./checkpoint_eval.ts";
// The seeded RNG and the bandits live in learning/ (shared with the agent); re-exported here so rl callers
// keep one import.
export { randomSeed, Rng, type RngState } from "../learning/mod.ts";
export {
  type Bandit,
  type BanditOptions,
  type BanditPolicy,
  type BanditState,
  createBandit,
  loadBanditFile,
  normalizePolicy,
  restoreBandit,
  saveBanditFile,
} from "../learning/mod.ts";
