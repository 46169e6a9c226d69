/**
 * The product version, kept in one place so `--version`, `/health` and compiled binaries agree.
 *
 * @module
 */

/** The dspy-code version string (semver). Keep in step with `deno.json`. */
export const VERSION = "0.1.0";
