import assert from "node:assert/strict";
import { makeTree, removeTree } from "./helpers.ts";
import {
  buildIndex,
  DEFAULT_RANKING,
  expansionTerms,
  fileCentrality,
  loadIndex,
  pageRank,
  rankChunks,
  referenceGraph,
  synonymTerms,
} from "./deps.ts";

// Ranking knobs measured on the tune half and left off by default (docs/search.md): the PageRank prior over
// the reference graph, co-occurrence expansion and file-level coordination. These tests pin what each does
// when turned on, so a later measurement runs the code described there.

Deno.test("pageRank ranks the file every other file points to highest and scales the top to 1", () => {
  // 0 -> 2, 1 -> 2, 2 -> 3, 3 (dangling)
  const edges = [new Map([[2, 1]]), new Map([[2, 1]]), new Map([[3, 1]]), new Map<number, number>()];
  const r = pageRank(edges);
  assert.equal(Math.max(...r), 1);
  assert.ok(r[2] > r[0] && r[2] > r[1], `${[...r]}`);
  assert.ok(r[3] > r[0], "rank flows on along the chain");
  assert.equal(r[0], r[1]);
});

Deno.test("the reference graph links users of a declared name to its file; graph > 0 lifts central files", async () => {
  const root = await makeTree({
    "a_leaf.js": "// parse the retry header and wait\nfunction trimPayload(p) { return String(p) }\n",
    "z_core.js": "// parse the retry header and wait\nfunction formatPayload(p) { return String(p) }\n",
    "users/one.js": "const x = formatPayload(1)\n",
    "users/two.js": "const y = formatPayload(2)\n",
    "users/three.js": "const z = formatPayload(3)\n",
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const core = index.meta.paths.all().indexOf("z_core.js");
    const leaf = index.meta.paths.all().indexOf("a_leaf.js");
    const edges = referenceGraph(index);
    assert.ok(
      edges[index.meta.paths.all().indexOf("users/one.js")].has(core),
      "a user links to the declaring file",
    );
    const central = fileCentrality(index);
    assert.ok(central[core] > central[leaf], `core ${central[core]} vs leaf ${central[leaf]}`);
    const q = "wait for the retry header";
    const plain = rankChunks(index, q, 5).map((h) => h.path);
    const withGraph = rankChunks(index, q, 5, { ...DEFAULT_RANKING, graph: 1 }).map((h) => h.path);
    assert.equal(plain[0], "a_leaf.js", `off by default: ${plain}`);
    assert.equal(withGraph[0], "z_core.js", `${withGraph}`);
  } finally {
    await removeTree(root);
  }
});

Deno.test("co-occurrence expansion adds the identifier parts that keep company with a query word", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 4; i++) {
    files[`broker${i}.js`] =
      `// the broker that leads partition ${i}\nconst leaderNode${i} = pickLeader(${i})\n`;
  }
  // Enough other chunks that "lead" is a rare (content) word: expansion skips words in over 5% of chunks.
  for (let i = 0; i < 90; i++) {
    files[`other${i}.js`] = `// compress the record batch ${i}\nconst codec${i} = gzip()\n`;
  }
  files["answer.js"] =
    "// find which node is the leader\nfunction leaderFor(topic) { return topic.leader }\n";
  const root = await makeTree(files);
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const lead = index.meta.terms.find("lead");
    assert.ok(lead >= 0, "the stem of 'leads' is indexed");
    const extra = expansionTerms(index, [lead], { maxDfShare: 1 }).map((t) => index.meta.terms.at(t));
    assert.ok(extra.includes("leader"), `expansion: ${extra}`);
    assert.ok(!extra.includes("codec") && !extra.includes("lead"), `${extra}`);
    const q = "which broker leads";
    const off = rankChunks(index, q, 30).map((h) => h.path);
    assert.ok(!off.includes("answer.js"), "without expansion the answer shares no word with the query");
    const on = rankChunks(index, q, 30, { ...DEFAULT_RANKING, expand: 0.5 }).map((h) => h.path);
    assert.ok(on.includes("answer.js"), `${on}`);
  } finally {
    await removeTree(root);
  }
});

Deno.test("file coordination demotes a chunk whose file holds few of the query's words", async () => {
  const filler = Array.from({ length: 70 }, (_, i) => `const pad${i} = ${i}`).join("\n");
  const root = await makeTree({
    // One file mentions every query word, spread over two chunks; the other repeats one word in one chunk.
    "a_once.js": "// heartbeat heartbeat heartbeat heartbeat\nfunction beat() {}\n",
    "z_spread.js":
      `// send the heartbeat\nfunction sendHeartbeat() {}\n${filler}\n// on an interval timer\nconst every = 1\n`,
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const q = "send heartbeat interval";
    const on = rankChunks(index, q, 5, { ...DEFAULT_RANKING, fileCoord: 2 });
    const once = on.find((h) => h.path === "a_once.js")!;
    const plain = rankChunks(index, q, 5).find((h) => h.path === "a_once.js")!;
    assert.ok(once.score < plain.score / 2, `coordinated ${once.score} vs plain ${plain.score}`);
    assert.equal(on[0].path, "z_spread.js");
  } finally {
    await removeTree(root);
  }
});

Deno.test("the thesaurus maps behaviour words and two-word phrases to code words, without the query's own terms", () => {
  const terms = synonymTerms("give up when the answer takes too long", ["answer"]);
  for (const t of ["timeout", "abort", "respon"]) assert.ok(terms.includes(t), `${t} in ${terms}`);
  assert.ok(!terms.includes("answer"), "a query term is not added again");
  assert.deepEqual(synonymTerms("frobnicate the quux"), []);
});

Deno.test("synonyms (on by default) let a behaviour question find the file that says it in code words", async () => {
  const root = await makeTree({
    "src/request_timer.js":
      "// requests\nfunction armRequestTimeout(request, ms) { return setTimeout(() => abort(request), ms) }\n",
    "src/request_log.js": "// requests\nfunction logRequest(request) { console.log(request) }\n",
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const q = "give up on a request";
    const off = rankChunks(index, q, 5, { ...DEFAULT_RANKING, synonyms: 0 }).map((h) => h.path);
    const on = rankChunks(index, q, 5).map((h) => h.path);
    assert.equal(on[0], "src/request_timer.js", `with synonyms: ${on}`);
    assert.notEqual(
      off[0],
      "src/request_timer.js",
      `without synonyms the request words tie or favour the log: ${off}`,
    );
  } finally {
    await removeTree(root);
  }
});
