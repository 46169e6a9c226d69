/**
 * A wrong command line exits 2 everywhere (issue #16 item 9), says what to pass instead, never writes
 * state into the current folder, and never prints a stack trace.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDspy } from "../support/cli.ts";

Deno.test("usage errors exit 2 with a message and no state: backends, policies, chunk sizes, empty workspace", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_exit_" });
  const cwd = await Deno.makeTempDir({ prefix: "dspy_exit_cwd_" });
  try {
    const cases: [string[], RegExp][] = [
      [["--workspace", ws, "emb-index", "--backend", "quantum"], /unknown backend 'quantum': use local/],
      [["--workspace", ws, "rl", "train", "--policy", "éé"], /unknown bandit policy 'éé'/],
      [["--workspace", ws, "emb-index", "--chunk-lines", "0"], /--chunk-lines takes a whole number ≥ 5/],
      [["--workspace", ws, "index", "--chunk-lines", "0"], /--chunk-lines takes a whole number ≥ 5/],
      [["--workspace", ws, "rl", "ppo", "--env", "mars"], /mars/],
      [["--workspace", "", "stats"], /--workspace is empty/],
      [["stats", "--workspace="], /--workspace is empty/],
      [["--workspace", "   ", "index"], /--workspace is empty/],
      [["--workspace", join(ws, "missing"), "stats"], /does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = await runDspy(args, { cwd });
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(" ")}: stack trace`);
    }
    const leftovers = [];
    for await (const e of Deno.readDir(cwd)) leftovers.push(e.name);
    // The empty workspace must not fall back to the current folder (commands that failed in `ws` may
    // still record the failure in its event log; that is the workspace the user named).
    assert.deepEqual(leftovers, [], "a refused command wrote state into the current folder");
  } finally {
    await Deno.remove(ws, { recursive: true }).catch(() => {});
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
});
