import assert from "node:assert/strict";
import { join } from "node:path";
import { readJsonlTail } from "../../core/mod.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readJsonlTail: missing file → [], n ≤ 0 → []", async () => {
  await withDir(async (dir) => {
    assert.deepEqual(await readJsonlTail(join(dir, "nope.jsonl"), 5), []);
    const path = join(dir, "a.jsonl");
    await Deno.writeTextFile(path, '{"i":1}\n');
    assert.deepEqual(await readJsonlTail(path, 0), []);
  });
});

Deno.test("readJsonlTail: the last n records, oldest first, across many 64 KiB chunks", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "h.jsonl");
    // ~1 MB with lines of varied length (some longer than a chunk, some multi-byte) so lines straddle
    // chunk boundaries in every way.
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) {
      const pad = i % 97 === 0 ? "é".repeat(40_000) : "x".repeat((i * 37) % 3000);
      lines.push(JSON.stringify({ i, pad }));
    }
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    for (const n of [1, 7, 150, 399, 400, 1000]) {
      const got = await readJsonlTail<{ i: number; pad: string }>(path, n);
      const want = lines.slice(-n).map((l) => JSON.parse(l));
      assert.deepEqual(got.map((r) => r.i), want.map((r) => r.i), `n=${n}`);
      assert.deepEqual(got, want, `n=${n}`);
    }
  });
});

Deno.test("readJsonlTail: blank, torn and foreign lines are skipped and do not count", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "t.jsonl");
    await Deno.writeTextFile(path, '{"i":1}\n\nnot json\n{"i":2}\n  \n{"i":3}\n{"i":4, "torn');
    assert.deepEqual(await readJsonlTail(path, 2), [{ i: 2 }, { i: 3 }]);
    assert.deepEqual(await readJsonlTail(path, 10), [{ i: 1 }, { i: 2 }, { i: 3 }]);
  });
});
