/**
 * The agent's public face: tool-learning bandits (shared with the RL trainer), the toolchain runner, the
 * patch applier, LLM providers, DSPy-style modules, routing and tool scoring. Other folders import only
 * this file.
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
  validateBanditState,
} from "./learning/bandits.ts";
export { createRng, type Rng, sampleBeta, sampleGamma, sampleNormal } from "./learning/rng.ts";
