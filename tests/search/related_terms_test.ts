import assert from "node:assert/strict";
import { join } from "node:path";
import { boundedEditDistance } from "../../agent/search/related_terms.ts";
import { buildIndex, loadIndex, relatedTerms } from "./deps.ts";
import { runDspy } from "../support/cli.ts";
import { makeTree, removeTree } from "./helpers.ts";

Deno.test("boundedEditDistance: Levenshtein up to the bound, bound + 1 beyond it", () => {
  assert.equal(boundedEditDistance("processor", "procesor", 2), 1);
  assert.equal(boundedEditDistance("kitten", "sitting", 3), 3);
  assert.equal(boundedEditDistance("kitten", "sitting", 2), 3);
  assert.equal(boundedEditDistance("abc", "abc", 0), 0);
  assert.equal(boundedEditDistance("abc", "abcdef", 1), 2);
});

Deno.test("relatedTerms: the index's words that look like query words it lacks", async () => {
  const root = await makeTree({
    "calc.py": "def sub(a, b):\n    return a - b\n",
    "cpu.py": "class Processor:\n    def configure(self):\n        pass\n",
  });
  try {
    await buildIndex(root);
    const meta = (await loadIndex(root))!.meta;
    // A word the query's word begins with; a typing slip; a word that begins with the query's word.
    assert.deepEqual(relatedTerms(meta, "subtract two numbers"), [{ word: "subtract", related: ["sub"] }]);
    assert.deepEqual(relatedTerms(meta, "procesor"), [{ word: "procesor", related: ["processor"] }]);
    assert.deepEqual(relatedTerms(meta, "config"), [{ word: "config", related: ["configur"] }]);
    // Words the index has, and words nothing resembles, ask for nothing.
    assert.deepEqual(relatedTerms(meta, "sub processor"), []);
    assert.deepEqual(relatedTerms(meta, "zebra quilt"), []);
  } finally {
    await removeTree(root);
  }
});

Deno.test("esearch with no word of the query in the code searches look-alike words and says so", async () => {
  const root = await makeTree({
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
  });
  try {
    const r = await runDspy(["--workspace", root, "esearch", "subtract", "two", "numbers", "--k", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /No code uses a word of 'subtract two numbers': .*\(sub for 'subtract'\)/);
    assert.match(r.stdout, /^calc\.py +score=[\d.]+ +lines 5-6 +sub$/m);
    const logged = JSON.parse(await Deno.readTextFile(join(root, ".dspy_agentic/retrieval.jsonl")));
    assert.deepEqual([logged.query, logged.hits[0].source], ["subtract two numbers", "bm25-related"]);
    // Nothing alike: the plain answer.
    const none = await runDspy(["--workspace", root, "esearch", "zebra"]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /No results for 'zebra'\./);
  } finally {
    await removeTree(root);
  }
});
