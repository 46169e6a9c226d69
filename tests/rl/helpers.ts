/**
 * Test support for the RL tests: a small seeded repository (POSIX shell) with one failing test, one lint
 * error, a passing build and a patch that fixes the failing test, so the coding-tool env runs real
 * commands in milliseconds.
 *
 * @module
 */

import { join } from "node:path";

const LIB = `#!/bin/sh
add() { echo $(($1 + $2)); }
mul() { echo $(($1 + $2)); }${" "}
`;

const TESTS = `#!/bin/sh
. ./lib.sh
passed=0
failed=0
check() { if [ "$1" = "$2" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $3"; fi; }
check "$(add 2 3)" 5 add
check "$(mul 2 3)" 6 mul
echo "$failed failed, $passed passed in 0.01s"
[ "$failed" -eq 0 ]
`;

const LINT = `#!/bin/sh
issues=0
for f in lib.sh; do
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    case "$line" in *" ") echo "$f:$n: trailing whitespace"; issues=$((issues + 1));; esac
  done < "$f"
done
[ "$issues" -eq 0 ]
`;

const BUILD = `#!/bin/sh
sh -n lib.sh && echo "syntax ok"
`;

/** Fixes `mul` (one line removed, one added). */
export const FIX_PATCH = `--- a/lib.sh
+++ b/lib.sh
@@ -1,3 +1,3 @@
 #!/bin/sh
 add() { echo $(($1 + $2)); }
-mul() { echo $(($1 + $2)); }${" "}
+mul() { echo $(($1 * $2)); }
`;

/** Creates the seeded repository in a new temp dir and returns its (real) path. */
export async function seededRepo(): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rl_repo_" }));
  await Deno.writeTextFile(join(dir, "lib.sh"), LIB);
  await Deno.writeTextFile(join(dir, "run_tests.sh"), TESTS);
  await Deno.writeTextFile(join(dir, "lint.sh"), LINT);
  await Deno.writeTextFile(join(dir, "build.sh"), BUILD);
  await Deno.writeTextFile(join(dir, "fix.patch"), FIX_PATCH);
  await Deno.mkdir(join(dir, "docs"));
  await Deno.writeTextFile(join(dir, "README.md"), "# seeded repo\n");
  return dir;
}

/** Tool-env options for the seeded repo. */
export function seededToolOptions(dir: string, actions?: string[]) {
  return {
    workspace: dir,
    actions,
    testCmd: ["sh", "run_tests.sh"],
    lintCmd: ["sh", "lint.sh"],
    buildCmd: ["sh", "build.sh"],
    actionArgs: {
      patch: { patchFile: "fix.patch" },
      shell_cat: { path: "README.md" },
      shell_cd: { path: "docs" },
      shell_run: { command: ["sh", "-c", "echo hi"] },
    },
    timeoutSec: 30,
    shellTimeoutSec: 10,
  };
}
