import assert from "node:assert/strict";
import { join } from "node:path";
import { reciprocalRankFusion } from "../../agent/search/mod.ts";
import {
  buildEmbeddingIndex,
  createHashEmbedder,
  type EmbedOptions,
  hybridSearch,
  loadVectorIndex,
  loadVectorIndexForSearch,
  searchEmbeddings,
  vectorsCurrent,
} from "../../embeddings/mod.ts";
import { pipedSession, runDspy } from "../support/cli.ts";

Deno.test("reciprocal rank fusion rewards items ranked well by both lists", () => {
  const a = [{ key: "x", item: 1 }, { key: "y", item: 2 }, { key: "z", item: 3 }];
  const b = [{ key: "z", item: 3 }, { key: "y", item: 2 }];
  const fused = reciprocalRankFusion([a, b], 60);
  // z: 1/63 + 1/61 edges out y: 1/62 + 1/62; x is ranked by one list only.
  assert.deepEqual(fused.map((f) => f.key), ["z", "y", "x"]);
  assert.deepEqual(fused[0].ranks, [3, 1]);
  assert.ok(Math.abs(fused[1].score - 2 / 62) < 1e-12);
  assert.deepEqual(fused[2].ranks, [1, undefined]);
});

Deno.test("hash embedder is deterministic, normalised and lexical", async () => {
  const e = createHashEmbedder({ dim: 64 });
  const [a, b, c] = await e.embed(["commitOffsets consumer", "commit offsets of the consumer", "zebra"]);
  assert.equal(a.length, 64);
  assert.ok(Math.abs(a.reduce((s, x) => s + x * x, 0) - 1) < 1e-5);
  const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  assert.ok(dot(a, b) > dot(a, c));
  assert.equal(e.lexical, true);
  assert.throws(() => createHashEmbedder({ dim: 3 }), /dim must be/);
});

async function tree(): Promise<string> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-hybrid-" }));
  await Deno.mkdir(join(root, "src"));
  await Deno.writeTextFile(
    join(root, "src/net.ts"),
    "export function retryWithBackoff(fn: () => void) {\n  // exponential backoff between attempts\n  fn();\n}\n",
  );
  await Deno.writeTextFile(
    join(root, "src/cfg.ts"),
    "export function parseConfig(t: string) {\n  return t;\n}\n",
  );
  await Deno.writeTextFile(join(root, "README.md"), "# Project\nUses retries.\n");
  return root;
}

Deno.test("embedding index is incremental, stores Float32 vectors, exports JSONL; hybrid fuses", async () => {
  const root = await tree();
  try {
    const e = createHashEmbedder();
    const first = await buildEmbeddingIndex(root, e, { jsonl: true });
    assert.deepEqual([first.files, first.embedded, first.reused, first.dim], [3, 3, 0, 256]);
    const stat = await Deno.stat(join(root, ".dspy_index/emb_vectors.f32"));
    assert.equal(stat.size, 3 * 256 * 4);
    const jsonl = (await Deno.readTextFile(join(root, ".dspy_index/emb_index.jsonl"))).trim().split("\n").map(
      (l) => JSON.parse(l),
    );
    assert.deepEqual(Object.keys(jsonl[0]).sort(), ["end_line", "path", "start_line", "vector"]);
    assert.equal(jsonl[0].vector.length, 256);
    await Deno.writeTextFile(
      join(root, "src/cfg.ts"),
      "export function parseConfig(t: string) {\n  return t.trim();\n}\n",
    );
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/cfg.ts"), future, future);
    const second = await buildEmbeddingIndex(root, e);
    assert.deepEqual([second.embedded, second.reused], [1, 2]);
    assert.equal((await loadVectorIndex(root))!.meta.chunks.length, 3);

    const { hits } = await searchEmbeddings(root, "retry backoff", { k: 2 });
    assert.equal(hits[0].path, "src/net.ts");
    const hybrid = await hybridSearch(root, "exponential backoff retry", { k: 3 });
    assert.equal(hybrid.fused, true);
    assert.equal(hybrid.hits[0].path, "src/net.ts");
    assert.equal(hybrid.hits[0].symbol, "retryWithBackoff");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("hybrid: an identifier lookup is ranked lexically; a described query gets the vector vote", async () => {
  const root = await tree();
  try {
    await buildEmbeddingIndex(root, createHashEmbedder());
    let calls = 0;
    const base = createHashEmbedder();
    const counting = { ...base, embed: (t: string[], o?: EmbedOptions) => (calls++, base.embed(t, o)) };
    const ident = await hybridSearch(root, "retryWithBackoff", { k: 3, embedder: counting });
    assert.equal(ident.fused, false);
    assert.match(ident.note ?? "", /identifier lookup: ranked by BM25F alone/);
    assert.equal(ident.hits[0].symbol, "retryWithBackoff");
    assert.equal(calls, 0, "the query is not embedded");
    // The fused score of a lexical-only list: the top hit scores 1/61.
    assert.ok(Math.abs(ident.hits[0].score - 1 / 61) < 1e-5);
    const described = await hybridSearch(root, "exponential backoff retry", { k: 3, embedder: counting });
    assert.equal(described.fused, true);
    assert.equal(calls, 1);
    // Asked for, identifier lookups can get a vector vote too.
    const voted = await hybridSearch(root, "retryWithBackoff", {
      k: 3,
      embedder: counting,
      identifierVectorWeight: 1,
    });
    assert.equal(voted.fused, true);
    assert.ok(voted.hits[0].score > 1 / 61);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("vectors of files changed or deleted since emb-index are left out and named, not shown at old lines", async () => {
  const root = await tree();
  try {
    await buildEmbeddingIndex(root, createHashEmbedder());
    // net.ts is rewritten (its retry code moves down past new lines) and cfg.ts deleted after emb-index.
    await Deno.writeTextFile(
      join(root, "src/net.ts"),
      "// moved\n".repeat(30) + "export function retryWithBackoff(fn: () => void) {\n  fn();\n}\n",
    );
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/net.ts"), future, future);
    await Deno.remove(join(root, "src/cfg.ts"));

    const found = await searchEmbeddings(root, "retry backoff parse config", { k: 3 });
    assert.deepEqual(found.hits.map((h) => h.path), ["README.md"]);
    assert.match(found.note ?? "", /src\/(net|cfg)\.ts, src\/(net|cfg)\.ts changed since 'emb-index' ran/);

    const fused = await hybridSearch(root, "exponential backoff retry", { k: 3, vectorWeight: 1 });
    assert.match(fused.note ?? "", /src\/net\.ts changed since 'emb-index' ran/);
    // The lexical side sees net.ts as it is now; no hit points into cfg.ts, which is gone.
    assert.ok(fused.hits.every((h) => h.path !== "src/cfg.ts"), JSON.stringify(fused.hits));
    // net.ts is found as it is now (one chunk, lines 1-33), not also at the vectors' old lines 1-4.
    const net = fused.hits.filter((h) => h.path === "src/net.ts").map((h) => [h.start_line, h.end_line]);
    assert.deepEqual(net, [[1, 33]], JSON.stringify(fused.hits));

    const cli = await runDspy(["--workspace", root, "emb-search", "retry", "backoff"]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /changed since 'emb-index' ran: their vectors are left out/);
    await buildEmbeddingIndex(root, createHashEmbedder());
    const again = await searchEmbeddings(root, "retry backoff", { k: 1 });
    assert.deepEqual([again.hits[0].path, again.note], ["src/net.ts", undefined]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a hybrid search asked to refresh re-embeds only changed files, within the index's scope", async () => {
  const root = await tree();
  try {
    const e = createHashEmbedder();
    await buildEmbeddingIndex(root, e, { globs: ["*.ts"] });
    // net.ts's retry code moves down, a new .ts file and a new .md file (outside the scope) appear.
    await Deno.writeTextFile(
      join(root, "src/net.ts"),
      "// moved\n".repeat(30) + "export function retryWithBackoff(fn: () => void) {\n  fn();\n}\n",
    );
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/net.ts"), future, future);
    await Deno.writeTextFile(
      join(root, "src/jitter.ts"),
      "export function jitter() { return Math.random(); }\n",
    );
    await Deno.writeTextFile(join(root, "notes.md"), "backoff notes\n");
    const embedded: string[] = [];
    const watching = { ...e, embed: (t: string[], o?: EmbedOptions) => (embedded.push(...t), e.embed(t, o)) };
    const r = await hybridSearch(root, "exponential backoff retry", {
      k: 3,
      vectorWeight: 1,
      embedder: watching,
      refreshVectors: true,
    });
    assert.equal(r.note, undefined, "no vectors left out: they were made again");
    // The two changed files' chunks, then the query: cfg.ts kept its vector, notes.md is outside *.ts.
    assert.deepEqual(embedded.map((t) => t.split("\n")[0]), [
      "src/jitter.ts jitter",
      "src/net.ts retryWithBackoff",
      "exponential backoff retry",
    ]);
    const meta = (await loadVectorIndex(root))!.meta;
    assert.deepEqual(Object.keys(meta.files).sort(), ["src/cfg.ts", "src/jitter.ts", "src/net.ts"]);
    assert.deepEqual(meta.scope, { globs: ["*.ts"] });
    const net = r.hits.filter((h) => h.path === "src/net.ts").map((h) => [h.start_line, h.end_line]);
    assert.deepEqual(net, [[1, 33]], JSON.stringify(r.hits));
    // Nothing changed since: no chunk is embedded again and the index is not rewritten.
    const written = (await Deno.stat(join(root, ".dspy_index/emb_meta.json"))).mtime!.getTime();
    embedded.length = 0;
    await hybridSearch(root, "exponential backoff retry", {
      vectorWeight: 1,
      embedder: watching,
      refreshVectors: true,
    });
    assert.deepEqual(embedded, ["exponential backoff retry"]);
    assert.equal((await Deno.stat(join(root, ".dspy_index/emb_meta.json"))).mtime!.getTime(), written);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the session's esearch --hybrid and emb-search follow files another program edited", async () => {
  const root = await tree();
  const session = pipedSession(root);
  try {
    await session.send("emb-index --backend hash\n");
    await session.waitFor("Embedded 3 chunks");
    await session.send("esearch exponential backoff retry --hybrid --k 1\n");
    await session.waitFor("lines 1-4  retryWithBackoff");
    // An editor moves the function down while the session waits at its prompt.
    await Deno.writeTextFile(
      join(root, "src/net.ts"),
      "// moved\n".repeat(30) +
        "export function retryWithBackoff(fn: () => void) {\n  // exponential backoff\n}\n",
    );
    await new Promise((r) => setTimeout(r, 300));
    // A plain esearch first refreshes the lexical index, and a hybrid identifier lookup does not use the
    // vectors: they still follow at the next hybrid search that uses them.
    await session.send("esearch exponential backoff retry --k 1\n");
    await session.waitFor("lines 1-33  retryWithBackoff");
    await session.send("esearch retryWithBackoff --hybrid --k 1\n");
    await session.waitFor("is an identifier lookup");
    await session.send("esearch exponential backoff retry --hybrid --k 1\n");
    await session.waitFor("esearch exponential backoff retry --hybrid --k 1\nsrc/net.ts");
    // emb-search follows an edit too.
    await Deno.writeTextFile(join(root, "src/cfg.ts"), "\n".repeat(9) + "export function parseConfig() {}\n");
    await new Promise((r) => setTimeout(r, 300));
    await session.send("emb-search parse config --k 1\n");
    await session.waitFor("lines 10-10  parseConfig");
    await session.send("exit\n");
    await session.close();
    assert.equal((await session.child.status).code, 0);
    const text = await session.output();
    assert.doesNotMatch(text, /changed since 'emb-index' ran/);
    const chunks = (await loadVectorIndex(root))!.meta.chunks;
    assert.equal(chunks.find((c) => c.path === "src/net.ts")?.end_line, 33);
    assert.equal(chunks.find((c) => c.path === "src/cfg.ts")?.end_line, 10);
  } finally {
    await session.close();
    await session.output();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("esearch --hybrid and emb-search commands log retrieval events", async () => {
  const root = await tree();
  try {
    const noEmb = await runDspy(["--workspace", root, "esearch", "retry", "--hybrid", "--json"]);
    assert.equal(noEmb.code, 0, noEmb.stderr);
    assert.match(noEmb.stderr, /no embedding index/);
    const idx = await runDspy(["--workspace", root, "emb-index", "--backend", "hash", "--jsonl"]);
    assert.equal(idx.code, 0, idx.stderr);
    assert.match(idx.stderr, /lexical/);
    const h = await runDspy(["--workspace", root, "esearch", "retry backoff", "--hybrid", "--json"]);
    assert.equal(h.code, 0, h.stderr);
    assert.equal(JSON.parse(h.stdout)[0].path, "src/net.ts");
    const s = await runDspy(["--workspace", root, "emb-search", "parse", "config", "--json"]);
    assert.equal(JSON.parse(s.stdout)[0].path, "src/cfg.ts");
    const log = (await Deno.readTextFile(join(root, ".dspy_agentic/retrieval.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(log.map((e) => e.hits[0]?.source), ["bm25", "hybrid", "emb:hash"]);
    const none = await runDspy(["--workspace", await Deno.makeTempDir(), "emb-search", "x"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /Run 'emb-index' first/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("vectors an emb-index renamed into place before its meta are waited for, not called damaged", async () => {
  const root = await tree();
  try {
    const e = createHashEmbedder();
    await buildEmbeddingIndex(root, e);
    const meta = join(root, ".dspy_index/emb_meta.json");
    const older = await Deno.readFile(meta);
    await Deno.writeTextFile(join(root, "src/extra.ts"), "export function extra() { return 1; }\n");
    await buildEmbeddingIndex(root, e);
    const newer = await Deno.readFile(meta);
    // The moment between the two renames of an emb-index in another process: new vectors, old meta.
    await Deno.writeFile(meta, older);
    const follows = new Promise((resolve) => setTimeout(() => resolve(Deno.writeFile(meta, newer)), 60));
    const index = await loadVectorIndex(root);
    await follows;
    assert.equal(index?.meta.chunks.length, 4, "the newer index, once its meta followed");
    // A mismatch that lasts is still damage.
    await Deno.writeFile(meta, older);
    await assert.rejects(() => loadVectorIndex(root), /is damaged .*emb-index --full/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("vector searches reuse the loaded embedding index until a build replaces it", async () => {
  const root = await tree();
  try {
    const e = createHashEmbedder();
    await buildEmbeddingIndex(root, e);
    const first = await loadVectorIndexForSearch(root);
    assert.ok(first);
    assert.equal(await loadVectorIndexForSearch(root), first, "the same object: not read again");
    // A build with nothing changed writes nothing, so the loaded index stays.
    assert.equal((await buildEmbeddingIndex(root, e)).changed, false);
    assert.equal(await loadVectorIndexForSearch(root), first);
    await Deno.writeTextFile(join(root, "src/extra.ts"), "export function extra() { return 1; }\n");
    await buildEmbeddingIndex(root, e);
    const after = await loadVectorIndexForSearch(root);
    assert.notEqual(after, first);
    assert.equal(after!.meta.chunks.length, 4);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("vectorsCurrent: whether any file of the index's scope changed, came or went (no embedding)", async () => {
  const root = await tree();
  try {
    const e = createHashEmbedder();
    await buildEmbeddingIndex(root, e, { globs: ["*.ts"] });
    const current = async () => vectorsCurrent(root, (await loadVectorIndex(root))!);
    assert.equal(await current(), true);
    await Deno.writeTextFile(join(root, "notes.md"), "outside the scope\n");
    assert.equal(await current(), true, "a file outside *.ts does not count");
    await Deno.writeTextFile(join(root, "src/new.ts"), "export const n = 1;\n");
    assert.equal(await current(), false, "a new file in the scope");
    await buildEmbeddingIndex(root, e, { globs: ["*.ts"] });
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/cfg.ts"), future, future);
    assert.equal(await current(), false, "a changed file");
    await buildEmbeddingIndex(root, e, { globs: ["*.ts"] });
    await Deno.remove(join(root, "src/cfg.ts"));
    assert.equal(await current(), false, "a file gone");
    // An index from before scopes were recorded cannot tell.
    const meta = join(root, ".dspy_index/emb_meta.json");
    await buildEmbeddingIndex(root, e, { globs: ["*.ts"] });
    const saved = JSON.parse(await Deno.readTextFile(meta));
    delete saved.scope;
    assert.equal(await vectorsCurrent(root, { meta: saved, vectors: new Float32Array() }), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a session started after an edit re-embeds it at its first hybrid search, whatever the pre-warm saw", async () => {
  const root = await tree();
  await buildEmbeddingIndex(root, createHashEmbedder());
  await runDspy(["--workspace", root, "index"]);
  // Edited between sessions.
  await Deno.writeTextFile(
    join(root, "src/net.ts"),
    "// moved\n".repeat(30) +
      "export function retryWithBackoff(fn: () => void) {\n  // exponential backoff\n}\n",
  );
  const session = pipedSession(root);
  try {
    await session.waitFor("Type 'help'");
    await new Promise((r) => setTimeout(r, 1000)); // the pre-warm runs meanwhile
    await session.send("esearch exponential backoff retry --hybrid --k 1\n");
    await session.waitFor("lines 1-33  retryWithBackoff");
    await session.send("exit\n");
    await session.close();
    assert.equal((await session.child.status).code, 0);
    assert.doesNotMatch(await session.output(), /changed since 'emb-index' ran/);
    assert.equal(
      (await loadVectorIndex(root))!.meta.chunks.find((c) => c.path === "src/net.ts")?.end_line,
      33,
    );
  } finally {
    await session.close();
    await session.output();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a vector refresh that fails says so, and lets the caller ask again next time", async () => {
  const root = await tree();
  try {
    const base = createHashEmbedder();
    await buildEmbeddingIndex(root, base);
    await Deno.writeTextFile(
      join(root, "src/cfg.ts"),
      "export function parseConfig(t: string) {\n  return 1;\n}\n",
    );
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/cfg.ts"), future, future);
    // The model fails on code (a server gone, say) but not on the query.
    const failing = {
      ...base,
      embed: (t: string[], o?: EmbedOptions) =>
        o?.kind === "code" ? Promise.reject(new Error("model unavailable")) : base.embed(t, o),
    };
    let failures = 0;
    const r = await hybridSearch(root, "parse config", {
      embedder: failing,
      vectorWeight: 1,
      refreshVectors: () => true,
      onRefreshFailed: () => failures++,
    });
    assert.equal(failures, 1);
    assert.match(r.note ?? "", /embedding search unavailable \(model unavailable\)/);
    assert.equal(r.fused, false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
