/**
 * `dspy-code`: a local, CLI-first coding agent. This entry only dispatches to `cli/`; see
 * `dspy-code --help`.
 *
 * @module
 */

import { runCli } from "./cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
