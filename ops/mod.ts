/**
 * Operations: the one-button dev cycle (CLI and a background runner for the status server), the compose
 * `environment:` list → mapping rewrite, running the compose stack (quickstart, dev cycle), the health probe the container images use, version and build information.
 * Commands in `cli/commands/ops.ts` and the status server's dev-cycle routes use this face.
 *
 * @module
 */

export {
  ComposeEnvError,
  type EnvRewriteResult,
  fixComposeEnvFile,
  type FixEnvOptions,
  mappedComposePath,
  rewriteComposeEnv,
} from "./compose_env.ts";
export {
  composeArgv,
  type ComposeCli,
  type ComposeStackOptions,
  engineAnswers,
  findComposeCli,
  type OpsOutput,
  prepareStackFiles,
  publishedUrl,
  repositoryComposeFile,
  runCompose,
  type StackFiles,
  startComposeStack,
  waitHealthy,
} from "./compose_stack.ts";
export {
  devCycleLogFile,
  type DevCycleOptions,
  type DevCycleResult,
  ENGINE_STAGES,
  parseStageList,
  runDevCycle,
  STAGE_NAMES,
  type StageName,
  type StageReport,
  type StageState,
} from "./dev_cycle.ts";
export {
  DevCycleBusyError,
  type DevCycleEvent,
  DevCycleRunner,
  type DevCycleStatus,
  type RunnerStartOptions,
} from "./dev_cycle_runner.ts";
export { type ProbeResult, probeUrl } from "./probe.ts";
export { type VersionInfo, versionInfo } from "./version_info.ts";
