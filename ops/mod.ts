/**
 * Operations: the compose `environment:` list → mapping rewrite, the health probe the container images use,
 * version and build information.
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
export { type ProbeResult, probeUrl } from "./probe.ts";
export { type VersionInfo, versionInfo } from "./version_info.ts";
