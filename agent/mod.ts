/**
 * The agent's public face: tool-learning bandits (shared with the RL trainer), the toolchain runner, the
 * patch applier, LLM providers, DSPy-style modules, the edit workflow (`runEditTask`), code-search
 * references, routing and tool scoring. Other folders import only this file.
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
export {
  breakerStatus,
  type ChatMessage,
  type ClientOptions,
  type Completion,
  type CompletionOptions,
  createLlmClient,
  type LlmClient,
  LlmError,
  type LlmErrorKind,
  modelMatches,
  probeLlm,
  type ProbeResult,
  resetBreakers,
} from "./llm/client.ts";
export {
  DEFAULT_OLLAMA_URL,
  DEFAULT_OPENAI_URL,
  describeConfig,
  type LlmConfig,
  type LlmOptions,
  localMode,
  normalizeOllamaUrl,
  normalizeOpenAiUrl,
  type ProviderKind,
  resolveLlmConfig,
} from "./llm/config.ts";
export { CONFIGURE_HINT, findLlm, forgetProbes, type LlmAvailability, requireLlm } from "./llm/resolve.ts";
export {
  chainOfThought,
  type Demo,
  type Field,
  type FieldType,
  type Outputs,
  parseOutputs,
  predict,
  type Prediction,
  type PredictOptions,
  predictWithEscalation,
  renderMessages,
  type Signature,
} from "./modules/predict.ts";
export * as signatures from "./modules/signatures.ts";
export {
  buildContext,
  cleanPatch,
  codeContext,
  DEFAULT_CAPS,
  type EditCaps,
  type EditProposal,
  type FileCandidate,
  localPatchChecks,
  locateFiles,
  orchestrate,
  planTask,
  planTests,
  proposeEdit,
  type Reference,
  type Verdict,
  verifyPatch,
} from "./modules/programs.ts";
export {
  extractKeyEvents,
  findLogFiles,
  heuristicKeyPoints,
  loadLogEvents,
  type LogEvents,
} from "./context/logs.ts";
export { buildCodeSnapshot, type CodeSnapshot } from "./context/snapshot.ts";
export {
  LEARNABLE_TOOLS,
  rewardOf,
  type ScoredOutcome,
  scoreOutcome,
  type ToolScore,
} from "./learning/scoring.ts";
export {
  learnFromTool,
  loadToolBandit,
  readSessionSummary,
  SESSION_SUMMARY_KEY,
  type SessionSummary,
  updateSessionSummary,
} from "./learning/tool_learning.ts";
export {
  argsFor,
  keywords,
  offlineCandidates,
  orderCandidates,
  quoteArg,
  routeArgv,
  type RouteCandidate,
  type RouteHost,
  routeRequest,
  type RouteStep,
} from "./routing/router.ts";
export { searchReferences } from "./context/references.ts";
export {
  type EditOutcome,
  type EditProgress,
  type EditRejected,
  type EditTaskHooks,
  type EditTaskInput,
  type EditVerified,
  runEditTask,
} from "./modules/edit_task.ts";
