import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBus } from "../../bus/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import { cosine, createLocalEmbedder, loadStore, runEmbedWorker } from "../../embeddings/mod.ts";
import { openStoreSink } from "../../embeddings/store_sink.ts";
import { makeTinyModel } from "../../scripts/make_tiny_model.ts";
import { runDspy } from "../support/cli.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));

Deno.test("the committed tiny model is exactly what scripts/make_tiny_model.ts generates", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dspy-tiny-" });
  try {
    await makeTinyModel(dir);
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) {
      assert.deepEqual(await Deno.readFile(join(dir, f)), await Deno.readFile(join(FIXTURE, f)), f);
    }
    const size = (await Deno.stat(join(dir, "onnx/model.onnx"))).size;
    assert.ok(size < 16_000, `model is small (${size} bytes)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "local backend runs the generated ONNX model with transformers.js + onnxruntime-node",
  // onnxruntime-node keeps a native thread pool alive for the process; it is not a leak of this test.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const e = await createLocalEmbedder({ modelPath: FIXTURE });
    try {
      const texts = ["retry with backoff", "consumer commit offset", "retry with backoff", "the cat"];
      const vs = await e.embed(texts);
      assert.equal(vs.length, 4);
      assert.equal(e.dim, 16);
      for (const v of vs) {
        assert.equal(v.length, 16);
        const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        assert.ok(Math.abs(norm - 1) < 1e-4, `normalised (${norm})`);
      }
      assert.ok(cosine(vs[0], vs[2]) > 0.9999, "deterministic");
      assert.ok(cosine(vs[0], vs[1]) < 0.999, "different texts, different vectors");
      // Batching does not change results.
      const [single] = await e.embed(["consumer commit offset"]);
      assert.ok(cosine(single, vs[1]) > 0.9999);
    } finally {
      await e.dispose();
    }
  },
});

Deno.test("local backend without the model says which model is missing and how to provide it", async () => {
  await assert.rejects(
    () => createLocalEmbedder({ model: "Xenova/all-MiniLM-L6-v2", modelPath: "/nonexistent/models" }),
    /model 'Xenova\/all-MiniLM-L6-v2' is not available offline .*--model-path DIR/,
  );
});

Deno.test("emb-index --backend local and emb-search through the CLI", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-emb-" }));
  try {
    await Deno.writeTextFile(join(root, "retry.py"), "def retry_with_backoff(fn):\n    return fn()\n");
    await Deno.writeTextFile(join(root, "cat.md"), "the cat sat on the mat\n");
    const idx = await runDspy([
      "--workspace",
      root,
      "emb-index",
      "--backend",
      "local",
      "--model-path",
      FIXTURE,
      "--json",
    ]);
    assert.equal(idx.code, 0, idx.stderr);
    const info = JSON.parse(idx.stdout);
    assert.deepEqual([info.backend, info.dim, info.chunks, info.embedded], ["local", 16, 2, 2]);
    const again = await runDspy(["--workspace", root, "emb-index", "--model-path", FIXTURE, "--json"]);
    assert.deepEqual([JSON.parse(again.stdout).embedded, JSON.parse(again.stdout).reused], [0, 2]);
    const s = await runDspy(["--workspace", root, "emb-search", "retry backoff", "--k", "2", "--json"]);
    assert.equal(s.code, 0, s.stderr);
    const hits = JSON.parse(s.stdout);
    assert.ok(hits.length >= 1 && hits.length <= 2);
    assert.ok(hits.every((h: { score: number }) => h.score > 0 && h.score <= 1.0001));
    const missing = await runDspy([
      "--workspace",
      root,
      "emb-index",
      "--backend",
      "local",
      "--model",
      "nope/nothing",
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /model 'nope\/nothing' is not available offline/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "embed worker --backend local: the model thread (and EMBED_MODEL_THREAD=0) store the embedder's vectors",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const texts = Array.from({ length: 300 }, (_, i) => `retry backoff record ${i} kafka consumer`);
    const e = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 64 });
    const want = new Map((await e.embed(texts)).map((v, i) => [`doc-${i}`, v]));
    await e.dispose();
    for (const thread of ["1", "0"]) {
      const ws = await Deno.makeTempDir({ prefix: "dspy-local-worker-" });
      try {
        await Deno.writeTextFile(
          join(ws, "in.jsonl"),
          texts.map((text, i) => JSON.stringify({ text, doc_id: `doc-${i}` })).join("\n") + "\n",
        );
        const env = { BUS_METRICS_INTERVAL: "0", EMBED_MODEL_THREAD: thread };
        assert.equal((await runDspy(["--workspace", ws, "embed", "ingest", "in.jsonl"], { env })).code, 0);
        const args = ["--workspace", ws, "embed", "worker", "--backend", "local", "--model-path", FIXTURE];
        const w = await runDspy([...args, "--exit-when-idle", "1", "--json"], { env });
        assert.equal(w.code, 0, w.stderr);
        assert.deepEqual([JSON.parse(w.stdout).records_out, JSON.parse(w.stdout).reason], [300, "idle"]);
        const store = (await loadStore(ws))!;
        assert.equal(store.records.length, 300);
        assert.equal(store.header.dim, 16);
        store.records.forEach((r, i) => {
          const v = store.vectors.subarray(i * 16, (i + 1) * 16);
          assert.deepEqual(Array.from(v), Array.from(want.get(r.doc_id)!), `thread=${thread} ${r.doc_id}`);
        });
      } finally {
        await Deno.remove(ws, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "embed worker with a model thread: the thread's cache, store writes and output records",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ws = await Deno.makeTempDir({ prefix: "dspy-sink-" });
    const bus = await startBus({
      workspace: ws,
      backend: "local",
      metricsIntervalSec: 0,
      routeEvents: false,
    });
    const e = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 64, thread: true });
    const reference = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 64 });
    const out = bus.subscribe("embeddings");
    const ac = new AbortController();
    const batches: number[] = [];
    try {
      assert.ok(e.openStoreSink, "a model thread offers the worker a store sink");
      await bus.configureTopic("embedding_input", { durable: true });
      const run = runEmbedWorker({
        bus,
        workspace: ws,
        embedder: e,
        batchSize: 64,
        maxWaitSec: 0.2,
        signal: ac.signal,
        metricsIntervalSec: 0,
        onBatch: (m) => batches.push(m.records_in),
      });
      const texts = ["retry with backoff", "consumer commit offset", "x ".repeat(200)]; // the last is hashed
      for (const round of [0, 1]) {
        await Promise.all(
          texts.map((text, i) => bus.publish("embedding_input", { text, id: `r${round}-${i}` })),
        );
        while (batches.length < round + 1) await new Promise((r) => setTimeout(r, 10));
      }
      ac.abort();
      const { metrics } = await run;
      assert.deepEqual([metrics.records_out, metrics.cache_hits, metrics.failures], [6, 3, 0]);
      const want = await reference.embed(texts);
      const store = (await loadStore(ws))!;
      assert.equal(store.records.length, 6);
      store.records.forEach((r, i) => {
        const v = Array.from(store.vectors.subarray(i * 16, (i + 1) * 16));
        assert.deepEqual(v, Array.from(want[Number(r.doc_id.slice(-1))]), r.doc_id);
      });
      while (out.size < 6) await new Promise((r) => setTimeout(r, 10));
      for (const m of await out.nextBatch(10)) {
        const o = m.value as { doc_id: string; vector: number[]; dim: number; model: string };
        assert.equal(o.dim, 16);
        assert.deepEqual(o.vector, Array.from(want[Number(o.doc_id.slice(-1))]));
      }
    } finally {
      out.close();
      await bus.close();
      await e.dispose();
      await reference.dispose();
      await closeAllKv();
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test("store sink: a failed model call stores the cached records and names the others", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy-sink-fail-" });
  let fail = false;
  const sink = await openStoreSink(
    {
      workspace: ws,
      model: "m",
      backend: "local",
      normalized: true,
      normalize: false,
      cacheMax: 100,
      cacheTtlSec: 0,
    },
    (texts) =>
      fail
        ? Promise.reject(new Error("model crashed"))
        : Promise.resolve(texts.map((t) => new Float32Array([t.length, 1]))),
  );
  try {
    const batch = (texts: string[]) => ({
      texts,
      docIds: texts.map((t) => `id-${t}`),
      topics: texts.map(() => "in"),
      kafkaTs: texts.map(() => 1),
      wantVectors: true,
    });
    const first = await sink.process(batch(["aa", "bbb"]));
    assert.deepEqual([first.hits, first.failed, first.error, first.dim], [0, [], null, 2]);
    assert.deepEqual(Array.from(first.vectors!), [2, 1, 3, 1]);
    fail = true;
    const second = await sink.process(batch(["bbb", "cccc", "aa", "dd"]));
    assert.deepEqual([second.hits, second.failed, second.error], [2, [1, 3], "model crashed"]);
    assert.deepEqual(Array.from(second.vectors!), [3, 1, 0, 0, 2, 1, 0, 0], "failed rows are zero");
    const store = (await loadStore(ws))!;
    assert.deepEqual(store.records.map((r) => r.doc_id).sort(), ["id-aa", "id-bbb"]);
    assert.equal(store.rows, 4, "the cached records were stored again; the failed ones not at all");
  } finally {
    sink.close();
    await Deno.remove(ws, { recursive: true });
  }
});
