/**
 * The tool-env flags shared by `rl train`, `rl ppo --env tool` and `rl sweep` (`--actions`, `--test-cmd`,
 * …, `--episode-len`), and their parsing into `rl/`'s `ToolEnvFlags` with usage errors naming the flag.
 *
 * @module
 */

import type { ToolEnvFlags } from "../../rl/mod.ts";
import { intOption } from "../command.ts";

/** The tool-env flags, for `parseCommandArgs`. */
export const TOOL_ENV_FLAGS = {
  actions: { type: "string" },
  "test-cmd": { type: "string" },
  "lint-cmd": { type: "string" },
  "build-cmd": { type: "string" },
  "patch-file": { type: "string" },
  "shell-cmd": { type: "string" },
  "cat-path": { type: "string" },
  "cd-path": { type: "string" },
  "timeout-sec": { type: "string" },
  "shell-timeout-sec": { type: "string" },
  "episode-len": { type: "string" },
} as const;

/** The parsed tool-env flags of command `cmd` (absent flags stay undefined, so the RL config applies). */
export function toolEnvFlags(cmd: string, values: Record<string, unknown>): ToolEnvFlags {
  const str = (k: string) => values[k] as string | undefined;
  const int = (k: string) => str(k) === undefined ? undefined : intOption(cmd, k, str(k), 0);
  return {
    actions: str("actions")?.split(",").map((a) => a.trim()).filter(Boolean),
    testCmd: str("test-cmd"),
    lintCmd: str("lint-cmd"),
    buildCmd: str("build-cmd"),
    patchFile: str("patch-file"),
    shellCmd: str("shell-cmd"),
    catPath: str("cat-path"),
    cdPath: str("cd-path"),
    timeoutSec: int("timeout-sec"),
    shellTimeoutSec: int("shell-timeout-sec"),
    episodeLen: int("episode-len"),
  };
}
