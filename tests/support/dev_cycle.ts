/**
 * Test support for the dev cycle: a temp copy of the small Deno project in tests/fixtures/dev_cycle_project.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const FIXTURE = fileURLToPath(new URL("../fixtures/dev_cycle_project", import.meta.url));

/** Copies the fixture project into a new temp folder and returns its path. */
export async function fixtureCopy(): Promise<string> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devcycle_" }));
  const cp = await new Deno.Command("cp", { args: ["-R", `${FIXTURE}/.`, dir] }).output();
  if (!cp.success) throw new Error(`cp -R ${FIXTURE} failed: ${new TextDecoder().decode(cp.stderr)}`);
  return dir;
}
