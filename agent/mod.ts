/**
 * The agent's public face: the toolchain runner, the patch applier, LLM providers, DSPy-style modules, the
 * edit workflow (`runEditTask`), code-search references, routing, tool scoring and tool learning (the bandits
 * themselves live in `learning/`, shared with the RL trainer). Other folders import only this file.
 *
 * @module
 */

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
export { type LoggedCommit, openRepo, recentCommits, uncommittedChanges } from "./tools/git.ts";
export * from "./llm/mod.ts";
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
  looksLikeIdentifier,
  offlineCandidates,
  orderCandidates,
  quoteArg,
  routeArgv,
  type RouteCandidate,
  type RouteHost,
  routeRequest,
  type RouteStep,
  searchSubject,
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
