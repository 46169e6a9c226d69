import assert from "node:assert/strict";
import { makeTree, removeTree } from "./helpers.ts";
import {
  buildIndex,
  chunkFile,
  DEFAULT_RANKING,
  fileKind,
  isIdentifierQuery,
  loadIndex,
  rankChunks,
  reciprocalRankFusion,
  stem,
} from "./deps.ts";

// A small library: the implementation, a type declaration file that documents (and names) everything,
// a test that exercises it, and a changelog that mentions it.
const IMPL = [
  "const sleep = require('./sleep')",
  "",
  "// Runs fn again after a failure, waiting longer each time (exponential backoff with random jitter).",
  "module.exports = ({ retries = 5, initialDelay = 300 } = {}) => async fn => {",
  "  let delay = initialDelay",
  "  for (let attempt = 0; ; attempt++) {",
  "    try {",
  "      return await fn(attempt)",
  "    } catch (e) {",
  "      if (attempt >= retries) throw e",
  "      await sleep(delay * (0.8 + Math.random() * 0.4))",
  "      delay *= 2",
  "    }",
  "  }",
  "}",
].join("\n");
const DTS = [
  "/**",
  " * Retry an operation with exponential backoff: the delay doubles after each failed attempt,",
  " * with random jitter, until the number of retries is used up. Retry settings: retries, delay.",
  " */",
  "export type RetryOptions = { retries?: number; initialDelay?: number }",
  "/** Creates a retrier that retries an operation with exponential backoff and jitter. */",
  "export declare function createRetry(options?: RetryOptions): <T>(fn: (attempt: number) => Promise<T>) => Promise<T>",
  "/** Connects a consumer. */",
  "export declare function connect(): Promise<void>",
].join("\n");
const TEST = [
  "const createRetry = require('../src/retry')",
  "test('retries an operation with exponential backoff until retries run out', async () => {",
  "  const retry = createRetry({ retries: 2, initialDelay: 1 })",
  "  await expect(retry(async () => { throw new Error('retry backoff') })).rejects.toThrow('retry')",
  "})",
].join("\n");

Deno.test("a .d.ts file, a test and a changelog do not outrank the implementation on a behavioural query", async () => {
  const root = await makeTree({
    "src/retry.js": IMPL,
    "src/sleep.js": "module.exports = ms => new Promise(resolve => setTimeout(resolve, ms))\n",
    "types/index.d.ts": DTS,
    "tests/retry.test.js": TEST,
    "CHANGELOG.md": "## 1.2.0\n- retry: exponential backoff with jitter for every retried operation\n",
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    const query = "retry an operation with exponential backoff and random jitter";
    const files = (
      ranking = DEFAULT_RANKING,
    ) => [...new Set(rankChunks(index, query, 20, ranking).map((h) => h.path))];
    assert.equal(files()[0], "src/retry.js", files().join(", "));
    // The test can fail: without the file-kind priors the declarations win on this corpus.
    const flat = {
      ...DEFAULT_RANKING,
      prior: { ...DEFAULT_RANKING.prior, declaration: 1, test: 1, changelog: 1 },
    };
    assert.notEqual(files(flat)[0], "src/retry.js", "the corpus no longer exercises the prior");
  } finally {
    await removeTree(root);
  }
});

Deno.test("an identifier lookup ranks the file that declares the name above files that use it", async () => {
  const user = Array.from({ length: 6 }, (_, i) => `  await commitOffsetsIfNecessary(batch${i})`).join("\n");
  const root = await makeTree({
    "src/offsets.py": [
      "class OffsetManager:",
      "    def commit_if_necessary(self):",
      "        return self.commit()",
      "",
      "    def commit(self):",
      "        pass",
    ].join("\n"),
    "src/runner.js": `async function run(batch) {\n${user}\n}\n`,
    "src/offsetManager.js": [
      "class Offsets {",
      "  async commitOffsetsIfNecessary() {",
      "    if (Date.now() - this.last > this.interval) await this.commit()",
      "  }",
      "}",
    ].join("\n"),
  });
  try {
    await buildIndex(root, { full: true });
    const index = (await loadIndex(root))!;
    assert.equal(rankChunks(index, "commitOffsetsIfNecessary", 5)[0].path, "src/offsetManager.js");
    assert.equal(rankChunks(index, "commit_if_necessary", 5)[0].path, "src/offsets.py");
    // Without the declaration boost the caller that repeats the name wins.
    const flat = { ...DEFAULT_RANKING, defBoost: 1 };
    assert.equal(rankChunks(index, "commitOffsetsIfNecessary", 5, flat)[0].path, "src/runner.js");
  } finally {
    await removeTree(root);
  }
});

Deno.test("a comment block above a function joins the function's chunk, which lists what it declares", () => {
  const text = [
    "import os", // 1
    "", // 2
    "# ----------------------------------------------", // 3
    "# Connection pooling: keep sockets to reuse them", // 4
    "# ----------------------------------------------", // 5
    "", // 6
    "def get_conn(pool):", // 7
    "    return pool.pop()", // 8
  ].join("\n");
  const chunks = chunkFile("pool.py", text);
  assert.deepEqual(chunks.map((c) => [c.startLine, c.endLine, c.symbol ?? null]), [[1, 2, null], [
    3,
    8,
    "get_conn",
  ]]);
  assert.deepEqual(chunks[1].defines, ["get_conn"]);
  const js = "const a = 1\n\n// Sends the request\n// and waits.\nfunction send() {\n  return a\n}\n";
  assert.deepEqual(chunkFile("x.js", js).map((c) => [c.startLine, c.endLine]), [[1, 2], [3, 7]]);
});

Deno.test("fileKind and isIdentifierQuery classify paths and queries", () => {
  const kinds: [string, string][] = [
    ["src/retry/index.js", "code"],
    ["types/index.d.ts", "declaration"],
    ["pkg/mod.pyi", "declaration"],
    ["CHANGELOG.md", "changelog"],
    ["docs/guide.md", "doc"],
    ["README.rst", "doc"],
    ["context_test.go", "test"],
    ["src/retry/index.test.js", "test"],
    ["tests/test_pool.py", "test"],
    ["testdata/protoexample/test.pb.go", "generated"],
    ["testdata/fixtures.go", "test"],
    ["api/v1/service.pb.go", "generated"],
    ["examples/basic/main.go", "example"],
  ];
  for (const [p, k] of kinds) assert.equal(fileKind(p), k, p);
  for (const q of ["commitOffsets", "RequestQueue", "parse_url", "Retry.get_backoff_time", "HTMLDebug"]) {
    assert.ok(isIdentifierQuery(q), q);
  }
  for (const q of ["heartbeat", "retry with backoff", "send a periodic heartbeat"]) {
    assert.ok(!isIdentifierQuery(q), q);
  }
});

Deno.test("the Porter stemmer folds the forms descriptions and names use", () => {
  const same = [
    ["decoder", "decoding", "decode", "decoded"],
    ["assigned", "assignment", "assign"],
    ["partitioner", "partitions", "partition"],
    ["committing", "commits", "commit"],
    ["offsets", "offset"],
  ];
  for (const group of same) assert.equal(new Set(group.map(stem)).size, 1, group.join(" "));
  assert.equal(stem("offsets"), "offset");
  assert.notEqual(stem("heartbeat"), stem("heart"));
});

Deno.test("weighted reciprocal rank fusion lets a weak list only break near-ties", () => {
  const lex = [{ key: "a", item: 1 }, { key: "b", item: 2 }];
  const vec = [{ key: "b", item: 2 }, { key: "a", item: 1 }];
  assert.deepEqual(reciprocalRankFusion([lex, vec], 60, [1, 0.1]).map((f) => f.key), ["a", "b"]);
  assert.deepEqual(reciprocalRankFusion([lex, vec], 60, [0.1, 1]).map((f) => f.key), ["b", "a"]);
});
