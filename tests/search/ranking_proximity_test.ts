import assert from "node:assert/strict";
import { makeTree, removeTree } from "./helpers.ts";
import { buildIndex, DEFAULT_RANKING, loadIndex, rankChunks } from "./deps.ts";

// Two ranking steps on by default (docs/search.md, chosen on the tune half): term proximity and file
// diversification of the listed chunks. Each test fails when its knob is turned off.

const filler = Array.from({ length: 12 }, (_, i) => `const unrelated${i} = ${i}`).join("\n");

Deno.test("proximity (on by default) ranks the chunk whose query words sit together above one that scatters them", async () => {
  // The same words, as often, in chunks of the same length: BM25F cannot tell them apart.
  const root = await makeTree({
    "a_scattered.js": `function alpha() {\n  heartbeat()\n${filler}\n  interval()\n${filler}\n  send()\n}\n`,
    "z_together.js": `function alpha() {\n  send(heartbeat, interval)\n${filler}\n\n${filler}\n\n}\n`,
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const q = "send a heartbeat on an interval";
    const off = rankChunks(index, q, 5, { ...DEFAULT_RANKING, proximity: 0 });
    assert.equal(off[0].score, off[1].score, `without proximity the two tie: ${JSON.stringify(off)}`);
    const on = rankChunks(index, q, 5);
    assert.equal(on[0].path, "z_together.js", `${JSON.stringify(on)}`);
    // 3 query terms together: cover 1, score × (1 + proximity); the scattered chunk has one per line.
    assert.ok(Math.abs(on[0].score / off[0].score - (1 + DEFAULT_RANKING.proximity!)) < 0.01);
    assert.equal(on[1].score, off[1].score, "one term per 3-line window: no boost");
    // Identifier lookups are left alone.
    const ident = rankChunks(index, "sendHeartbeat", 5);
    const identOff = rankChunks(index, "sendHeartbeat", 5, { ...DEFAULT_RANKING, proximity: 0 });
    assert.deepEqual(ident, identOff);
    // A file that can no longer be read keeps its score instead of failing the search.
    await Deno.remove(`${root}/z_together.js`);
    const gone = rankChunks(index, q, 5);
    assert.equal(gone.find((h) => h.path === "z_together.js")!.score, off[0].score);
  } finally {
    await removeTree(root);
  }
});

Deno.test("diversification (on by default) lists other files' best chunks before a file's further chunks", async () => {
  // Four chunks of one file answer best (the function names say it too); another file answers a little less.
  const big = Array.from(
    { length: 4 },
    (_, i) => `function retryRequest${i}(request) {\n  retry(request)\n}\n`,
  )
    .join("\n");
  const root = await makeTree({
    "src/retries.js": big,
    "src/other.js": "function other(request) {\n  retry(request)\n}\n",
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const q = "retry the request";
    // Proximity off in both (it would lift every chunk here alike): retries.js ~0.28 per chunk, other.js ~0.23.
    const base = { ...DEFAULT_RANKING, proximity: 0 };
    const off = rankChunks(index, q, 2, { ...base, diversify: 1 });
    assert.deepEqual(
      off.slice(0, 2).map((h) => h.path),
      ["src/retries.js", "src/retries.js"],
      `without diversification one file fills the list: ${JSON.stringify(off)}`,
    );
    const on = rankChunks(index, q, 2, base);
    assert.deepEqual(on.map((h) => h.path), ["src/retries.js", "src/other.js"]);
    // The order of files is the same either way (the first chunk of each keeps its score).
    const files = (hits: { path: string }[]) => [...new Set(hits.map((h) => h.path))];
    const all = { ...DEFAULT_RANKING, diversify: 1 };
    assert.deepEqual(files(rankChunks(index, q, 50)), files(rankChunks(index, q, 50, all)));
  } finally {
    await removeTree(root);
  }
});
