/**
 * What `dspy-code version --json` reports: the product version, the Deno runtime, the target triple, and
 * whether this process runs as a `deno compile` executable or from source. Bug reports quote it, and the
 * release checks compare it with the asset name a user downloaded.
 *
 * @module
 */

import { VERSION } from "../core/version.ts";

/** The running build. */
export interface VersionInfo {
  /** dspy-code's version (semver). */
  version: string;
  /** The Deno runtime's version. */
  deno: string;
  /** V8 and TypeScript versions of that runtime. */
  v8: string;
  typescript: string;
  /** Target triple, e.g. `x86_64-unknown-linux-gnu` (the release asset's suffix). */
  target: string;
  /** True in an executable built with `deno compile`; false when running from source. */
  compiled: boolean;
  /** The executable: the compiled binary, or the Deno binary that runs the source. */
  executable: string;
}

/** Describes the running build. */
export function versionInfo(): VersionInfo {
  return {
    version: VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
    compiled: Deno.build.standalone === true,
    executable: Deno.execPath(),
  };
}
