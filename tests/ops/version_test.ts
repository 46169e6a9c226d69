/** `dspy-code version --json`: what a bug report quotes. */
import assert from "node:assert/strict";
import { runDspy } from "../support/cli.ts";
import { VERSION } from "../../core/version.ts";

Deno.test("version --json: version, Deno version, target and compiled-or-source", async () => {
  const run = await runDspy(["version", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  const info = JSON.parse(run.stdout);
  assert.equal(info.version, VERSION);
  assert.equal(info.deno, Deno.version.deno);
  assert.equal(info.target, Deno.build.target);
  assert.equal(info.compiled, false); // the tests run from source
  assert.equal(info.executable, Deno.execPath());
  const plain = await runDspy(["version"]);
  assert.equal(plain.stdout.trim(), `dspy-code ${VERSION}`);
  const extra = await runDspy(["version", "now"]);
  assert.equal(extra.code, 2);
});
