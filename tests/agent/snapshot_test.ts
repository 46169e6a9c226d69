/**
 * `buildCodeSnapshot` (codectx's offline analysis) counts lines as `wc -l` does: a file's trailing newline
 * does not add a line, and a last line without one still counts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { buildCodeSnapshot } from "../../agent/mod.ts";

Deno.test("codectx counts a file's lines like wc -l (the trailing newline is not an extra line)", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_snapshot_" });
  try {
    await Deno.mkdir(join(ws, "src"));
    await Deno.writeTextFile(join(ws, "src", "a.py"), "def a():\n    return 1\n\ndef b():\n    return 2\n");
    await Deno.writeTextFile(join(ws, "src", "b.py"), "x = 1\ny = 2"); // no newline at the end
    await Deno.writeTextFile(join(ws, "src", "empty.py"), "");
    assert.equal((await buildCodeSnapshot(ws, "src/a.py")).lines, 5);
    assert.equal((await buildCodeSnapshot(ws, "src/b.py")).lines, 2);
    const folder = await buildCodeSnapshot(ws, "src");
    assert.equal(folder.files, 3);
    assert.equal(folder.lines, 7);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});
