/**
 * `searchReferences` (the code context plan, edit and codectx give the model) reads the files as they are
 * now, not as the index last saw them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { searchReferences } from "../../agent/mod.ts";
import { closeAllKv } from "../../core/kv.ts";

Deno.test("references for the model come from the files as they are now", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_refs_" }));
  try {
    await Deno.writeTextFile(join(ws, "app.py"), "def load_config(path):\n    return open(path).read()\n");
    await Deno.writeTextFile(join(ws, "other.py"), "x = 1\n");
    const first = await searchReferences(ws, "load config", 1);
    assert.equal(first[0].path, "app.py", "built when missing");
    // A file written after the index was built: the model must see it.
    await Deno.writeTextFile(join(ws, "settings.py"), "def read_settings(path):\n    return {}\n");
    const refs = await searchReferences(ws, "read_settings", 1);
    assert.equal(refs[0]?.path, "settings.py");
    assert.match(refs[0].snippet, /def read_settings/);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
