/**
 * `POST /api/system/workspace` (issue #16 item 5): the path is resolved by the file system before any
 * normalisation, the root and missing paths are refused, and switching creates no state in the new folder.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getJson, withServer } from "../server/helpers.ts";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test("workspace switch: root and missing paths are 400, nothing is created, real dirs switch cleanly", async () => {
  const rootStateBefore = await exists("/.dspy");
  await withServer({}, async (s) => {
    const post = (path: unknown) =>
      getJson(`${s.url}/api/system/workspace`, { method: "POST", body: JSON.stringify({ path }) });
    const other = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_ws_other_" }));
    try {
      await Deno.mkdir(join(other, "sub"));
      await Deno.writeTextFile(join(other, "file.txt"), "x");
      for (
        const bad of [
          "/nonexistent/../../",
          "/",
          "//",
          "/tmp/..",
          `${other}/missing/..`,
          `${other}/file.txt`,
          `${other}/missing`,
          "",
          "   ",
          42,
          "a\0b",
        ]
      ) {
        const r = await post(bad);
        assert.equal(r.status, 400, `${JSON.stringify(bad)} → ${JSON.stringify(r.body)}`);
        assert.equal(s.state.workspace, s.workspace, `${JSON.stringify(bad)} switched the workspace`);
      }
      assert.equal(await exists("/.dspy"), rootStateBefore, "state was created at /");
      const ok = await post(`${other}/sub/..`);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.path, other);
      assert.equal(await exists(join(other, ".dspy")), false, "switching must not create state");
      // Relative to the active workspace.
      const rel = await post("sub");
      assert.equal(rel.body.path, join(other, "sub"));
      assert.equal(await exists(join(other, "sub", ".dspy")), false);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  });
});
