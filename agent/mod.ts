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
export {
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_PATCH_BYTES,
  type FileChange,
  PatchError,
  type PatchLimits,
  type PatchRefusal,
  type PreparedPatch,
  preparePatch,
  recountHunks,
  summarizePatch,
} from "./patch/prepare.ts";
export {
  type ApplyPatchOptions,
  type ApplyPatchResult,
  applyPatchText,
  type BackupManifest,
  listPatches,
  type PatchHistoryRecord,
  type PatchListEntry,
  readPatchHistory,
  recordPatchAttempt,
  type RevertOptions,
  revertPatch,
} from "./patch/apply.ts";
export {
  detectToolchain,
  parseLintIssues,
  parseTestCounts,
  runCommand,
  runToolchain,
  type RunToolchainOptions,
  type TestCounts,
  type Toolchain,
  type ToolchainAction,
  toolchainCommand,
  type ToolchainKind,
  type ToolchainResult,
  which,
} from "./tools/toolchain.ts";
