import assert from "node:assert/strict";
import { byScore, topEntries } from "../../agent/search/top_n.ts";
import { createRng } from "../../learning/rng.ts";

Deno.test("topEntries keeps exactly what a full sort would, ties and all", () => {
  const next = createRng(7); // seeded, so a failure can be replayed
  for (let round = 0; round < 200; round++) {
    const size = Math.floor(next() * 3000);
    const distinct = 1 + Math.floor(next() * 50); // few distinct scores: many ties
    const scores = new Map<number, number>();
    for (let i = 0; i < size; i++) {
      const id = Math.floor(next() * 100_000);
      scores.set(id, round % 2 ? Math.floor(next() * distinct) / 7 : next() * 10);
    }
    for (const n of [0, 1, 5, 30, 200, size, size + 3]) {
      const expected = [...scores.entries()].sort(byScore).slice(0, Math.max(0, n));
      assert.deepEqual(topEntries(scores, n), expected, `round ${round}, ${scores.size} scores, n ${n}`);
    }
  }
});
