/**
 * The CLI's public face: {@link runCli} runs one `dspy-code` invocation (global flags, one subcommand or the
 * interactive session) and returns the exit code. `main.ts` is its only importer.
 *
 * @module
 */

export { runCli } from "./main.ts";
