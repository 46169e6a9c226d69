/**
 * Learning primitives shared by the agent and the RL trainer, with no dependency on either: the seeded
 * random generator (checkpointable sfc32 plus Normal / Gamma / Beta samplers) and the tool-learning
 * multi-armed bandits (ε-greedy, UCB1, Thompson) with their `.dspy_rl_state.json` persistence. It sits just
 * above `core/` in the layers, so `rl train` loads neither the patch code nor npm `diff`. Other folders
 * import only this file.
 *
 * @example
 * ```ts
 * import { createBandit } from "../learning/mod.ts";
 * const bandit = createBandit({ policy: "thompson", tools: ["grep", "esearch"], seed: 1 });
 * bandit.update(bandit.select(), 1);
 * ```
 *
 * @module
 */

export {
  type Bandit,
  type BanditOptions,
  type BanditPolicy,
  type BanditState,
  createBandit,
  loadBanditFile,
  normalizePolicy,
  POLICY_NAMES,
  readBanditState,
  readBanditStateFile,
  restoreBandit,
  saveBanditFile,
  serializeBandit,
  setAsideDamagedState,
  validateBanditState,
} from "./bandits.ts";
export {
  createRng,
  randomSeed,
  Rng,
  type RngState,
  sampleBeta,
  sampleGamma,
  sampleNormal,
  type Uniform,
} from "./rng.ts";
