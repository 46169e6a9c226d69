import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cosine,
  createEmbedder,
  createUseEmbedder,
  type Embedder,
  loadServedModels,
  loadVectorIndex,
  resolveUseModel,
  sparseBatch,
  startEmbedServer,
  toDigest,
  toWords,
  USE_LITE_MAX_PIECES,
  USE_LITE_MODEL,
} from "../../embeddings/mod.ts";
import { runDspy } from "../support/cli.ts";

// TensorFlow.js keeps its WebAssembly module (and the shared model, until the last embedder is disposed) for
// the life of the process; that is not a leak of one test.
const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("toWords rewrites code as lower-case words", () => {
  assert.equal(
    toWords("const correlationId = this.nextCorrelationId();"),
    "const correlation id this next correlation id",
  );
  assert.equal(
    toWords("src/consumer/findLeaderForPartition.js"),
    "src consumer find leader for partition js",
  );
  assert.equal(toWords("HTTPServer parse_url(x) => v2Api"), "http server parse url x v2 api");
  assert.equal(toWords("How old are you?"), "how old are you?");
  assert.equal(toWords("  {}  "), "");
});

Deno.test("toDigest keeps path, symbol, comments and each identifier word once", () => {
  assert.equal(
    toDigest(
      "src/net.ts retryWithBackoff\n// wait longer after each failure\n" +
        "export function retryWithBackoff(fn) {\n  sleep(backoffMs); sleep(backoffMs);\n  return fn(); // then try\n}",
    ),
    // path and symbol. comments (a trailing `// then try` too). each word once, keywords (export, function,
    // with, return, try) dropped.
    "src net ts retry with backoff. wait longer after each failure then try. " +
      "wait longer after each failure retry backoff fn sleep ms then",
  );
  assert.equal(
    toDigest(
      'util/retry.py Retry.sleep\ndef sleep(self):\n    """Sleep between\n    retry attempts."""\n    time.sleep(1)',
    ),
    "util retry py retry sleep. sleep between retry attempts.. sleep between retry attempts time",
  );
});

Deno.test("sparseBatch lays out (row, position) indices and piece ids", () => {
  const { indices, values } = sparseBatch([[7, 8], [9], [4, 5, 6]]);
  assert.deepEqual(Array.from(values), [7, 8, 9, 4, 5, 6]);
  assert.deepEqual(Array.from(indices), [0, 0, 0, 1, 1, 0, 2, 0, 2, 1, 2, 2]);
});

Deno.test({
  name: "USE lite: semantically close sentences score far higher cosine than unrelated ones",
  ...opts,
  fn: async () => {
    const e = await createUseEmbedder();
    try {
      // [anchor, paraphrase, unrelated]
      const triples = [
        ["How old are you?", "What is your age?", "The stock market fell sharply today."],
        [
          "The cat sat on the mat.",
          "A kitten was sitting on the rug.",
          "How do I install Python on Windows?",
        ],
        [
          "I would like to book a flight to Paris.",
          "Please reserve a plane ticket to France.",
          "My dog loves chasing tennis balls.",
        ],
        [
          "The weather is lovely and sunny today.",
          "It is a beautiful bright day outside.",
          "Compile the kernel with debug symbols.",
        ],
        [
          "which broker leads the partition",
          "findLeaderForPartition(topic, partition)",
          "decompress the gzip body",
        ],
      ];
      const close: number[] = [];
      const far: number[] = [];
      for (const [a, b, c] of triples) {
        const [va, vb, vc] = await e.embed([a, b, c]);
        const s1 = cosine(va, vb);
        const s2 = cosine(va, vc);
        close.push(s1);
        far.push(s2);
        assert.ok(s1 > s2 + 0.2, `'${a}': paraphrase ${s1.toFixed(3)} vs unrelated ${s2.toFixed(3)}`);
      }
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      assert.ok(mean(close) > 0.6, `mean paraphrase cosine ${mean(close)}`);
      assert.ok(mean(far) < 0.3, `mean unrelated cosine ${mean(far)}`);
    } finally {
      await e.dispose();
    }
  },
});

Deno.test({
  name: "USE lite: 512-d unit vectors, deterministic, order kept across batches of mixed lengths",
  ...opts,
  fn: async () => {
    const e = await createUseEmbedder({ batchSize: 2 });
    try {
      assert.equal(e.backend, "use");
      assert.equal(e.model, USE_LITE_MODEL);
      assert.equal(e.lexical, false);
      const long = "retry the request with exponential backoff ".repeat(40); // over 128 pieces
      const texts = [long, "hi", "", "commit the consumer offsets after each batch", "a b c d e f g"];
      const first = await e.embed(texts);
      const again = await e.embed(texts);
      assert.equal(first.length, texts.length);
      for (let i = 0; i < texts.length; i++) {
        assert.equal(first[i].length, 512);
        const norm = Math.sqrt(first[i].reduce((s, x) => s + x * x, 0));
        assert.ok(Math.abs(norm - 1) < 1e-3, `text ${i} norm ${norm}`);
        assert.deepEqual(first[i], again[i], `text ${i} is deterministic`);
        // Alone, the same text gives the same vector (batch-mates only change float rounding).
        const [alone] = await e.embed([texts[i]]);
        assert.ok(
          cosine(alone, first[i]) > 0.9999,
          `text ${i} alone vs in a batch: ${cosine(alone, first[i])}`,
        );
      }
      // Past 128 pieces the graph sees nothing more, so more of the same text changes nothing.
      const [longer] = await e.embed([long + "completely different words about cooking pasta"]);
      assert.ok(cosine(longer, first[0]) > 0.9999);
      assert.ok(USE_LITE_MAX_PIECES === 128);
      // Different texts differ.
      assert.ok(cosine(first[1], first[3]) < 0.9);
    } finally {
      await e.dispose();
    }
  },
});

Deno.test({
  name:
    "USE lite: createEmbedder selects it; a wrong model name or a folder without the files is a clear error",
  ...opts,
  fn: async () => {
    const e: Embedder = await createEmbedder({ backend: "use" });
    try {
      const [v] = await e.embed(["hello"]);
      assert.equal(v.length, 512);
    } finally {
      await e.dispose();
    }
    const raw = await createEmbedder({ backend: "use", model: `${USE_LITE_MODEL}:raw` });
    assert.equal(raw.model, `${USE_LITE_MODEL}:raw`);
    await raw.dispose();
    await assert.rejects(createEmbedder({ backend: "use", model: "bert" }), /runs one model/);
    const empty = await Deno.makeTempDir({ prefix: "dspy-use-" });
    try {
      assert.ok("searched" in await resolveUseModel(empty));
      await assert.rejects(createUseEmbedder({ modelPath: empty }), /are not in .*npm pack/);
      // model.json and vocab.json present, a weight shard missing: the error names the shard.
      const found = await resolveUseModel();
      assert.ok("dir" in found);
      await Deno.copyFile(join(found.dir, "model.json"), join(empty, "model.json"));
      await Deno.copyFile(join(found.dir, "vocab.json"), join(empty, "vocab.json"));
      await assert.rejects(
        createUseEmbedder({ modelPath: empty }),
        /weight shard .*group1-shard1of7 is missing/,
      );
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  },
});

Deno.test({
  name: "embed serve --backend use serves 512-d vectors over the InferMesh protocol",
  ...opts,
  fn: async () => {
    const models = await loadServedModels({ backend: "use", models: [] });
    assert.deepEqual(models.map((m) => m.name), [USE_LITE_MODEL]);
    const server = await startEmbedServer({ port: 0, models });
    try {
      const res = await fetch(`${server.url}/embed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: ["How old are you?", "What is your age?", "Stocks fell today."] }),
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.model, USE_LITE_MODEL);
      assert.equal(body.dim, 512);
      const [a, b, c] = body.vectors as number[][];
      assert.ok(cosine(a, b) > cosine(a, c) + 0.3);
    } finally {
      await server.close();
      await Promise.all(models.map((m) => m.embedder.dispose()));
    }
  },
});

Deno.test({
  name: "emb-index --backend use, then emb-search and esearch --hybrid use it (real CLI)",
  ...opts,
  fn: async () => {
    const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-use-cli-" }));
    try {
      await Deno.mkdir(join(root, "src"));
      await Deno.writeTextFile(
        join(root, "src/weather.ts"),
        "// Report whether it is sunny or raining outside today.\n" +
          "export function forecastToday(city: string) {\n  return city;\n}\n",
      );
      await Deno.writeTextFile(
        join(root, "src/billing.ts"),
        "// Charge the customer's credit card for the monthly invoice.\n" +
          "export function chargeInvoice(amount: number) {\n  return amount;\n}\n",
      );
      const idx = await runDspy(["--workspace", root, "emb-index", "--backend", "use", "--json"]);
      assert.equal(idx.code, 0, idx.stderr);
      const r = JSON.parse(idx.stdout);
      assert.equal(r.backend, "use");
      assert.equal(r.model, USE_LITE_MODEL);
      assert.equal(r.dim, 512);
      assert.equal(r.embedded, 2);
      assert.equal((await loadVectorIndex(root))!.meta.backend, "use");
      // No word of the query is in the code: only meaning connects them.
      const s = await runDspy(["--workspace", root, "emb-search", "will it rain tomorrow", "--json"]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(JSON.parse(s.stdout)[0].path, "src/weather.ts");
      const h = await runDspy(["--workspace", root, "esearch", "pay a bill", "--hybrid", "--json"]);
      assert.equal(h.code, 0, h.stderr);
      assert.ok(!/BM25 only|no embedding index/.test(h.stderr), h.stderr);
      assert.equal(JSON.parse(h.stdout)[0].path, "src/billing.ts");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
