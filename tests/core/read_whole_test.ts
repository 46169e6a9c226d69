/**
 * readWholeFile: the exact bytes of large, empty and size-less (/proc) files; a missing file is NotFound.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readWholeFile, readWholeTextFile } from "../../core/read_whole.ts";

Deno.test("readWholeFile returns exactly the file's bytes, large or empty", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dspy_read_whole_" });
  try {
    const big = new Uint8Array(3 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    await Deno.writeFile(join(dir, "big.bin"), big);
    const read = await readWholeFile(join(dir, "big.bin"));
    assert.equal(read.byteLength, big.byteLength);
    assert.equal(read.byteOffset, 0);
    assert.deepEqual(read, big);
    await Deno.writeFile(join(dir, "empty"), new Uint8Array(0));
    assert.equal((await readWholeFile(join(dir, "empty"))).byteLength, 0);
    await Deno.writeTextFile(join(dir, "t.json"), '{"é": 1}');
    assert.deepEqual(JSON.parse(await readWholeTextFile(join(dir, "t.json"))), { "é": 1 });
    await assert.rejects(() => readWholeFile(join(dir, "missing")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readWholeFile reads past the size a file reports (files under /proc report 0)", async () => {
  const text = await readWholeTextFile("/proc/self/status");
  assert.match(text, /^Name:/);
  assert.match(text, /VmRSS:/, "read to the end although its size is 0");
});
