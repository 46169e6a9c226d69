import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { durableStatus, type GroupOptions, listDeadLetters, startBus } from "../../bus/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import {
  createHashEmbedder,
  type Embedder,
  ingestPath,
  loadStore,
  openStoreWriter,
  runEmbedWorker,
  StoreMismatchError,
  VectorCache,
} from "../../embeddings/mod.ts";
import { keyHash } from "../../embeddings/lru_cache.ts";
import { MAIN_TS, runDspy, tempWorkspace } from "../support/cli.ts";
import { getJson, parsePrometheus, withServer } from "../server/helpers.ts";

const TEST_ENV = { BUS_METRICS_INTERVAL: "0" };

function spawnDspy(args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...TEST_ENV, ...env },
  }).spawn();
}

/** Physical rows in the store (complete metadata lines minus headers), read cheaply while a worker writes. */
async function storeRows(ws: string): Promise<number> {
  let rows = 0;
  try {
    for await (const e of Deno.readDir(join(ws, ".dspy_index", "embed_store"))) {
      if (!e.name.endsWith(".jsonl")) continue;
      const text = await Deno.readTextFile(join(ws, ".dspy_index", "embed_store", e.name));
      rows += Math.max(0, text.split("\n").length - 2);
    }
  } catch { /* not there yet */ }
  return rows;
}

async function writeJsonl(path: string, n: number, text = (i: number) => `record ${i} retry backoff offset`) {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ text: text(i), doc_id: `doc-${i}` }));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

/**
 * 5,000 records through a durable topic; the worker (`backend` args) is SIGKILLed once it has stored 1,000
 * and restarted: the store must hold every doc_id once, and the restart may redo only the batches (of 10)
 * stored past the last finished commit at the kill, at most `maxRedoneBatches`.
 */
async function killMidwayAndRestart(backend: string[], dim: number, maxRedoneBatches: number) {
  const ws = await tempWorkspace();
  try {
    await writeJsonl(join(ws, "in.jsonl"), 5000);
    const ingest = await runDspy(["--workspace", ws, "embed", "ingest", "in.jsonl", "--json"], {
      env: TEST_ENV,
    });
    assert.equal(ingest.code, 0, ingest.stderr);
    assert.equal(JSON.parse(ingest.stdout).published, 5000);

    const first = spawnDspy(["--workspace", ws, "embed", "worker", ...backend, "--batch-size", "10"]);
    const deadline = Date.now() + 30_000;
    while ((await storeRows(ws)) < 1000) {
      assert.ok(Date.now() < deadline, "the worker stored nothing in 30 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    first.kill("SIGKILL");
    const status = await first.status;
    assert.equal(status.signal, "SIGKILL");
    await first.stdout.cancel();
    await first.stderr.cancel();
    const atKill = await storeRows(ws);
    assert.ok(atKill < 5000, `killed midway (${atKill} rows stored)`);

    const second = await runDspy(
      ["--workspace", ws, "embed", "worker", ...backend, "--exit-when-idle", "1", "--json"],
      { env: TEST_ENV },
    );
    assert.equal(second.code, 0, second.stderr);
    const m = JSON.parse(second.stdout);
    assert.equal(m.reason, "idle");

    const store = (await loadStore(ws))!;
    const ids = store.records.map((r) => r.doc_id);
    assert.equal(ids.length, 5000);
    assert.equal(new Set(ids).size, 5000);
    const idSet = new Set(ids);
    for (let i = 0; i < 5000; i++) assert.ok(idSet.has(`doc-${i}`), `doc-${i}`);
    // Offsets moved only after store writes: the restart redid only batches stored past the last finished
    // commit at the kill, never the whole topic.
    assert.ok(store.rows - 5000 <= maxRedoneBatches * 10, `${store.rows - 5000} rows written twice`);
    assert.equal(m.records_out + atKill - (store.rows - 5000), 5000);

    const stats = await runDspy(["--workspace", ws, "embed", "stats", "--json"], { env: TEST_ENV });
    assert.equal(stats.code, 0, stats.stderr);
    const s = JSON.parse(stats.stdout);
    assert.equal(s.total, 5000);
    assert.deepEqual(Object.values(s.models), [{ count: 5000, dim }]);
    assert.ok(s.bytes > 5000 * dim * 4);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
}

Deno.test("embed worker: 5,000 records, SIGKILL midway, restart: every doc_id stored exactly once", async () => {
  // At most 17 acknowledged batches are uncommitted (see the slow-commit test).
  await killMidwayAndRestart(["--backend", "hash"], 256, 17);
});

Deno.test({
  name: "embed worker, local model on its thread: SIGKILL midway, restart: every doc_id stored exactly once",
  // onnxruntime-node's thread pool and the model thread outlive a test's own bookkeeping.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The model thread stores up to 33 batches before the worker acknowledges them, on top of the 17
    // acknowledged but uncommitted ones (embeddings/worker.ts).
    const tiny = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));
    await killMidwayAndRestart(["--backend", "local", "--model-path", tiny], 16, 17 + 33);
  },
});

Deno.test("embed worker: a failing InferMesh sends records to the DLQ; dlq replay after recovery stores all", async () => {
  const ws = await tempWorkspace();
  let healthy = false;
  let calls = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    calls++;
    const body = await req.json();
    if (!healthy) return new Response(JSON.stringify({ error: "model crashed" }), { status: 500 });
    return Response.json({ vectors: body.inputs.map((t: string) => [t.length, 1, 0.5]) });
  });
  const env = {
    ...TEST_ENV,
    INFERMESH_URL: `http://127.0.0.1:${server.addr.port}`,
    INFERMESH_RETRIES: "1",
    INFERMESH_BACKOFF_SEC: "0.01",
    EMBED_MODEL: "m1",
  };
  try {
    await writeJsonl(join(ws, "in.jsonl"), 40);
    await Deno.writeTextFile(join(ws, "in.jsonl"), `{"no_text": 1}\n`, { append: true });
    const ingest = await runDspy(["--workspace", ws, "embed", "ingest", "in.jsonl", "--json"], { env });
    assert.equal(ingest.code, 0, ingest.stderr);
    assert.equal(JSON.parse(ingest.stdout).skippedCount, 1);
    const failing = await runDspy(
      ["--workspace", ws, "embed", "worker", "--exit-when-idle", "1", "--batch-size", "16", "--json"],
      { env },
    );
    assert.equal(failing.code, 0, failing.stderr);
    const m1 = JSON.parse(failing.stdout);
    assert.equal(m1.backend, "infermesh");
    assert.equal(m1.records_out, 0);
    assert.equal(m1.dlq_records, 40);
    assert.ok(m1.failures >= 3);
    assert.ok(calls >= 6, "each batch was retried");
    const dead = await listDeadLetters(ws, { topic: "embedding_input", limit: 1000 });
    await closeAllKv();
    assert.equal(dead.length, 40);
    assert.ok(dead.every((d) => d.reason === "embedding_failed" && /HTTP 500/.test(d.error ?? "")));
    assert.equal(await loadStore(ws), null, "nothing half-written");

    healthy = true;
    const replay = await runDspy(["--workspace", ws, "dlq", "replay", "--topic", "embedding_input"], { env });
    assert.equal(replay.code, 0, replay.stderr + replay.stdout);
    const recovered = await runDspy(
      ["--workspace", ws, "embed", "worker", "--exit-when-idle", "1", "--json"],
      { env },
    );
    assert.equal(recovered.code, 0, recovered.stderr);
    assert.equal(JSON.parse(recovered.stdout).records_out, 40);
    const store = (await loadStore(ws))!;
    assert.equal(store.records.length, 40);
    assert.equal(store.header.model, "m1");
    assert.equal(store.header.dim, 3);
    assert.equal((await listDeadLetters(ws, { topic: "embedding_input" })).length, 0);
  } finally {
    await closeAllKv();
    await server.shutdown();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("embed worker in-process: a timer flushes a partial batch; cached texts skip the model; failures are not cached", async () => {
  const ws = await tempWorkspace();
  const bus = await startBus({ workspace: ws, backend: "local", metricsIntervalSec: 0, routeEvents: false });
  const hash = createHashEmbedder({ dim: 32 });
  let embedded = 0;
  let failNext = 1;
  const embedder: Embedder = {
    ...hash,
    backend: "hash",
    model: hash.model,
    dim: 32,
    lexical: true,
    embed(texts) {
      if (failNext > 0) {
        failNext--;
        return Promise.reject(new Error("transient failure"));
      }
      embedded += texts.length;
      return hash.embed(texts);
    },
    dispose: () => Promise.resolve(),
  };
  const ac = new AbortController();
  const outputs: unknown[] = [];
  const out = bus.subscribe("embeddings");
  const batches: number[] = [];
  try {
    await bus.configureTopic("embedding_input", { durable: true });
    const run = runEmbedWorker({
      bus,
      workspace: ws,
      embedder,
      batchSize: 64,
      maxWaitSec: 0.3,
      signal: ac.signal,
      metricsIntervalSec: 0,
      onBatch: (m) => batches.push(m.records_in),
    });
    // Three records and then silence: the timer flushes them (the first call fails -> DLQ, not cached).
    // Published together (one KV commit), so they are delivered together and form one batch.
    await Promise.all(
      ["alpha beta", "gamma", "alpha beta"].map((t) => bus.publish("embedding_input", { text: t })),
    );
    const t0 = Date.now();
    while (batches.length < 1) await new Promise((r) => setTimeout(r, 10));
    assert.ok(Date.now() - t0 < 2000, "the tail was flushed by the timer");
    // The same texts again: embedded now (the failure was not cached), then served from the cache.
    await Promise.all(
      ["alpha beta", "gamma", 42, "gamma"].map((t) => bus.publish("embedding_input", t as unknown)),
    );
    while (batches.length < 2) await new Promise((r) => setTimeout(r, 10));
    await bus.publish("embedding_input", { text: "gamma", id: 7 });
    while (batches.length < 3) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    const { metrics } = await run;
    assert.equal(metrics.records_in, 8);
    assert.equal(metrics.failures, 1);
    assert.equal(metrics.dlq_records, 4); // three failed + the number that is not a record
    assert.equal(metrics.records_out, 4);
    assert.equal(embedded, 3); // "alpha beta", "gamma", "gamma" (same batch); then the cache
    assert.equal(metrics.cache_hits, 1);
    while (out.size < 4) await new Promise((r) => setTimeout(r, 10));
    outputs.push(...(await out.nextBatch(10)).map((m) => m.value));
    const o = outputs[0] as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(o).sort(),
      ["topic", "text", "doc_id", "vector", "kafka_ts", "embedded_ts", "model", "dim", "normalized"].sort(),
    );
    assert.equal(o.model, "hash-32");
    assert.equal(o.dim, 32);
    assert.equal(o.topic, "embedding_input");
    assert.equal((o.vector as number[]).length, 32);
    const store = (await loadStore(ws))!;
    // No id: the doc_id is sha256(text).
    const sha = (t: string) => createHash("sha256").update(t).digest("hex");
    assert.deepEqual(
      store.records.map((r) => r.doc_id).sort(),
      ["7", sha("alpha beta"), sha("gamma")].sort(),
    );
    await bus.flush();
    const dead = await listDeadLetters(ws, { topic: "embedding_input" });
    assert.deepEqual(dead.map((d) => d.reason).sort(), [
      "embedding_failed",
      "embedding_failed",
      "embedding_failed",
      "invalid_record",
    ]);
  } finally {
    out.close();
    await bus.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("embed worker: a slow commit does not hold up the batches; at most 17 are stored past the last commit", async () => {
  const ws = await tempWorkspace();
  const bus = await startBus({ workspace: ws, backend: "local", metricsIntervalSec: 0, routeEvents: false });
  // The real bus and group member; only the member's commit waits for a gate we open, and is counted.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let commits = 0;
  const slowCommits = new Proxy(bus, {
    get(target, prop) {
      if (prop === "subscribeGroup") {
        return (topic: string, group: string, options?: GroupOptions) => {
          const member = target.subscribeGroup(topic, group, options);
          return new Proxy(member, {
            get(m, p) {
              if (p === "commit") {
                return () => {
                  commits++;
                  return gate.then(() => m.commit());
                };
              }
              const v = Reflect.get(m, p);
              return typeof v === "function" ? v.bind(m) : v;
            },
          });
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const ac = new AbortController();
  try {
    await bus.configureTopic("embedding_input", { durable: true });
    await Promise.all(
      Array.from(
        { length: 400 },
        (_, i) => bus.publish("embedding_input", { text: `t${i}`, doc_id: `d${i}` }),
      ),
    );
    let out = 0;
    const run = runEmbedWorker({
      bus: slowCommits,
      workspace: ws,
      embedder: createHashEmbedder({ dim: 8 }),
      batchSize: 10,
      maxWaitSec: 0.05,
      signal: ac.signal,
      metricsIntervalSec: 0,
      onBatch: (m) => {
        out = m.records_out;
        if (out >= 400) ac.abort();
      },
    });
    // The first commit hangs: the worker stores on until 17 batches are past the last finished commit
    // (the old worker waited for each batch's commit before finishing the next, so it stopped at 2 batches).
    const deadline = Date.now() + 10_000;
    while ((await storeRows(ws)) < 170) {
      assert.ok(Date.now() < deadline, `stalled at ${await storeRows(ws)} rows while a commit hung`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await storeRows(ws), 170, "no more than 17 batches stored past the last finished commit");
    assert.equal(commits, 1, "one commit at a time");
    open();
    const { metrics } = await run;
    assert.equal(metrics.records_out, 400);
    assert.equal(out, 400);
    // Commits covered several batches each, and the last one covers everything.
    assert.ok(commits < metrics.batches, `${commits} commits for ${metrics.batches} batches`);
    const status = (await durableStatus(ws)).find((t) => t.topic === "embedding_input")!;
    assert.equal(status.groups["embed-worker"].lag, 0);
    const store = (await loadStore(ws))!;
    assert.equal(store.records.length, 400);
    assert.equal(store.rows, 400);
  } finally {
    open();
    await bus.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("vector cache: LRU bound, TTL, never an empty vector", async () => {
  const c = new VectorCache(2, 0.05);
  c.set("m", "a", new Float32Array([1]));
  c.set("m", "b", new Float32Array([2]));
  assert.ok(c.get("m", "a")); // a is now most recent
  c.set("m", "c", new Float32Array([3])); // evicts b
  assert.equal(c.get("m", "b"), undefined);
  assert.ok(c.get("m", "a"));
  assert.equal(c.get("other", "a"), undefined, "keyed by model too");
  c.set("m", "e", new Float32Array(0));
  assert.equal(c.get("m", "e"), undefined);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(c.get("m", "a"), undefined, "expired");
});

Deno.test("vector cache: copies in and out, one bound over models, a new dimension starts a model over", () => {
  const c = new VectorCache(3);
  const v = new Float32Array([1, 2]);
  c.set("m", "a", v);
  v[0] = 99; // the caller's array is not the cached one
  const got = c.get("m", "a")!;
  assert.deepEqual(Array.from(got), [1, 2]);
  got[1] = 42; // nor is the returned one
  assert.deepEqual(Array.from(c.get("m", "a")!), [1, 2]);
  // Past the bound a new entry evicts its own model's least recently used entry, or the fullest other one's.
  c.set("m", "b", new Float32Array([3, 4]));
  c.set("m", "c", new Float32Array([5, 6]));
  c.set("other", "x", new Float32Array([7])); // "other" has nothing to evict: m's oldest (a) goes
  assert.equal(c.size, 3);
  assert.equal(c.get("m", "a"), undefined);
  assert.deepEqual(Array.from(c.get("other", "x")!), [7]);
  c.set("other", "y", new Float32Array([8])); // now other's own oldest (x) goes
  assert.equal(c.get("other", "x"), undefined);
  assert.deepEqual(Array.from(c.get("m", "b")!), [3, 4]);
  // Many entries through a small cache: slots are reused, vectors never mixed up.
  const big = new VectorCache(50);
  for (let i = 0; i < 2000; i++) {
    big.set("m", `k${i}`, new Float32Array([i, i + 0.5]));
    const back = big.get("m", `k${i - 20}`);
    if (i >= 20) assert.deepEqual(Array.from(back!), [i - 20, i - 19.5]);
    assert.ok(big.size <= 50);
  }
  assert.equal(big.get("m", "k1000"), undefined);
  // Another dimension under the same model name replaces that model's entries.
  big.set("m", "new", new Float32Array([1, 2, 3]));
  assert.equal(big.get("m", "k1999"), undefined);
  assert.deepEqual(Array.from(big.get("m", "new")!), [1, 2, 3]);
  assert.equal(big.size, 1);
});

Deno.test("vector cache: two keys with the same hash never get each other's vector", () => {
  // Keys are found by a 30-bit hash; find two texts that share one.
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  for (let i = 0; pair === null; i++) {
    const k = `text ${i}`;
    const other = seen.get(keyHash(k));
    if (other !== undefined) pair = [other, k];
    else seen.set(keyHash(k), k);
  }
  const [a, b] = pair;
  const c = new VectorCache(10);
  c.set("m", a, new Float32Array([1]));
  assert.equal(c.get("m", b), undefined, "a colliding key is a miss");
  assert.deepEqual(Array.from(c.get("m", a)!), [1]);
  c.set("m", b, new Float32Array([2])); // takes the slot
  assert.deepEqual(Array.from(c.get("m", b)!), [2]);
  assert.equal(c.get("m", a), undefined);
  assert.equal(c.size, 1);
});

Deno.test("embed worker: long texts are cached by their SHA-256, short ones by their text", async () => {
  const ws = await tempWorkspace();
  const bus = await startBus({ workspace: ws, backend: "local", metricsIntervalSec: 0, routeEvents: false });
  const hash = createHashEmbedder({ dim: 16 });
  const seen: string[] = [];
  const embedder: Embedder = {
    ...hash,
    backend: "hash",
    model: hash.model,
    dim: 16,
    lexical: true,
    embed(texts) {
      seen.push(...texts);
      return hash.embed(texts);
    },
    dispose: () => Promise.resolve(),
  };
  const long = "retry with backoff ".repeat(40); // 760 characters
  const longHash = createHash("sha256").update(long).digest("hex");
  const ac = new AbortController();
  const batches: number[] = [];
  try {
    await bus.configureTopic("embedding_input", { durable: true });
    const run = runEmbedWorker({
      bus,
      workspace: ws,
      embedder,
      batchSize: 64,
      maxWaitSec: 0.2,
      signal: ac.signal,
      metricsIntervalSec: 0,
      onBatch: (m) => batches.push(m.records_in),
    });
    for (const round of [[long, "short text"], [long, "short text", longHash]]) {
      await Promise.all(
        round.map((t, i) => bus.publish("embedding_input", { text: t, id: `${batches.length}-${i}` })),
      );
      const want = batches.length + 1;
      while (batches.length < want) await new Promise((r) => setTimeout(r, 10));
    }
    ac.abort();
    const { metrics } = await run;
    assert.equal(metrics.records_out, 5);
    assert.equal(metrics.cache_hits, 2, "the long text and the short text, the second time");
    // A short text that happens to equal the long text's SHA-256 is its own entry, never the long text's.
    assert.deepEqual(seen, [long, "short text", longHash]);
  } finally {
    await bus.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("vector store: another model or dimension is a clear error, never a mix", async () => {
  const ws = await tempWorkspace();
  try {
    const w = await openStoreWriter(ws, { model: "hash-8", backend: "hash" });
    await w.upsert([{ doc_id: "a", text: "x", vector: new Float32Array(8).fill(1) }]);
    await w.upsert([{ doc_id: "a", text: "y", vector: new Float32Array(8).fill(2) }]);
    w.close();
    await assert.rejects(openStoreWriter(ws, { model: "other", backend: "local" }), StoreMismatchError);
    const w2 = await openStoreWriter(ws, { model: "hash-8", backend: "hash" });
    await assert.rejects(
      w2.upsert([{ doc_id: "b", text: "z", vector: new Float32Array(16) }]),
      /holds model 'hash-8' \(8 dimensions\)/,
    );
    w2.close();
    const s = (await loadStore(ws))!;
    assert.equal(s.records.length, 1);
    assert.equal(s.records[0].text, "y", "upsert keeps the newest");
    assert.equal(s.rows, 2);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("status server: embed worker metrics from another process in /metrics; /api/knn/query; embed search", async () => {
  await withServer({}, async (s) => {
    const ws = s.workspace;
    await writeJsonl(
      join(ws, "in.jsonl"),
      200,
      (i) => i % 2 ? `kafka consumer offset ${i}` : `retry backoff ${i}`,
    );
    assert.equal(
      (await runDspy(["--workspace", ws, "embed", "ingest", "in.jsonl"], { env: TEST_ENV })).code,
      0,
    );
    const w = await runDspy([
      "--workspace",
      ws,
      "embed",
      "worker",
      "--backend",
      "hash",
      "--exit-when-idle",
      "1",
    ], {
      env: TEST_ENV,
    });
    assert.equal(w.code, 0, w.stderr);
    const prom = await (await fetch(`${s.url}/metrics`)).text();
    const { samples } = parsePrometheus(prom);
    const out = samples.find((x) => x.name === "dspy_embed_worker_records_out_total");
    assert.ok(out, prom.slice(0, 500));
    assert.equal(out.value, 200);
    assert.equal(out.labels.group, "embed-worker");
    const json = await getJson(`${s.url}/metrics?format=json`);
    assert.equal(json.body.embed_workers[0].records_in, 200);
    assert.equal(json.body.embed_workers[0].stopped, true);

    const knn = await getJson(`${s.url}/api/knn/query?q=${encodeURIComponent("retry backoff")}&k=3`);
    assert.equal(knn.status, 200);
    assert.equal(knn.body.model, "hash-256");
    assert.equal(knn.body.hits.length, 3);
    assert.match(knn.body.hits[0].text, /retry backoff/);
    assert.ok(knn.body.hits[0].score >= knn.body.hits[2].score);
    assert.deepEqual(Object.keys(knn.body.hits[0]).sort(), ["doc_id", "model", "score", "text", "topic"]);
    assert.equal((await getJson(`${s.url}/api/knn/query`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/knn/query?q=x&k=0`)).status, 400);

    // A worker started without --backend keeps writing with the store's own backend and model.
    await Deno.writeTextFile(join(ws, "more.txt"), "one more line\nand another\n");
    assert.equal(
      (await runDspy(["--workspace", ws, "embed", "ingest", "more.txt"], { env: TEST_ENV })).code,
      0,
    );
    const again = await runDspy(["--workspace", ws, "embed", "worker", "--exit-when-idle", "1", "--json"], {
      env: TEST_ENV,
      unsetEnv: ["INFERMESH_URL", "EMBED_BACKEND", "EMBED_MODEL"],
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).model, "hash-256");
    assert.equal(JSON.parse(again.stdout).records_out, 2);
    assert.equal((await loadStore(ws))!.records.length, 202);

    const cli = await runDspy([
      "--workspace",
      ws,
      "embed",
      "search",
      "kafka",
      "consumer",
      "--k",
      "2",
      "--json",
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const hits = JSON.parse(cli.stdout);
    assert.equal(hits.length, 2);
    assert.match(hits[0].text, /kafka consumer/);
  });
  const empty = await tempWorkspace();
  try {
    await withServer({ workspace: empty }, async (s) => {
      assert.equal((await getJson(`${s.url}/api/knn/query?q=x`)).status, 404);
    });
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("embed ingest: a code folder becomes one record per index chunk; JSONL lines without text are counted", async () => {
  const ws = await tempWorkspace();
  const bus = await startBus({ workspace: ws, backend: "local", metricsIntervalSec: 0, routeEvents: false });
  try {
    await Deno.mkdir(join(ws, "src"));
    await Deno.writeTextFile(join(ws, "src", "a.ts"), "export function one() {\n  return 1;\n}\n");
    await Deno.writeTextFile(join(ws, "src", "b.py"), "def two():\n    return 2\n");
    const r = await ingestPath(join(ws, "src"), { bus, topic: "folder_in" });
    // The topic is durable now: a group reads the published records from its log.
    const seen = bus.subscribeGroup<Record<string, unknown>>("folder_in", "g");
    assert.equal(r.kind, "folder");
    assert.equal(r.published, 2);
    const got = await seen.nextBatch(10);
    const ids = got.map((m) => m.value.doc_id).sort();
    assert.deepEqual(ids, ["a.ts:1-3", "b.py:1-2"]);
    assert.match(
      String(got.find((m) => m.value.path === "a.ts")!.value.text),
      /^a\.ts one\nexport function one/,
    );
    seen.close();

    await Deno.writeTextFile(join(ws, "x.jsonl"), `{"text":"ok"}\nnot json\n{"no":"text"}\n"a string"\n`);
    const j = await ingestPath(join(ws, "x.jsonl"), { bus, topic: "folder_in" });
    assert.equal(j.published, 2);
    assert.equal(j.skippedCount, 2);
    assert.deepEqual(j.skipped.map((s) => s.line), [2, 3]);
    await assert.rejects(ingestPath(join(ws, "missing.jsonl"), { bus }), /does not exist/);
  } finally {
    await bus.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
