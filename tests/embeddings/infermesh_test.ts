import assert from "node:assert/strict";
import { createInferMeshEmbedder, InferMeshError } from "../../embeddings/mod.ts";
import { runDspy } from "../support/cli.ts";

interface Seen {
  auth: string | null;
  model: string;
  inputs: string[];
}

/** A real InferMesh-protocol server on loopback. `plan(n)` decides the reply to the n-th request. */
function startServer(
  plan: (n: number, body: { model: string; inputs: string[] }) => Response | Promise<Response>,
) {
  const seen: Seen[] = [];
  let n = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "GET" && url.pathname === "/health") {
      return Response.json({ status: "ok", ts: Date.now() / 1000 });
    }
    if (req.method !== "POST" || url.pathname !== "/embed") return new Response("not found", { status: 404 });
    const body = await req.json();
    if (!Array.isArray(body.inputs) || !body.inputs.every((x: unknown) => typeof x === "string")) {
      return new Response(JSON.stringify({ detail: "inputs must be a list of strings" }), { status: 400 });
    }
    seen.push({ auth: req.headers.get("authorization"), model: body.model, inputs: body.inputs });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await plan(n++, body);
    } finally {
      inFlight--;
    }
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return { server, url, seen, maxInFlight: () => maxInFlight };
}

const vec = (text: string) => [text.length, 1, 0];

Deno.test("InferMesh client batches, sends the bearer token and keeps order", async () => {
  const s = startServer(async (_n, body) => {
    await new Promise((r) => setTimeout(r, 20));
    return Response.json({ vectors: body.inputs.map(vec) });
  });
  try {
    const e = createInferMeshEmbedder({
      url: s.url + "/",
      model: "m1",
      apiKey: "k3y",
      batchSize: 4,
      concurrency: 2,
    });
    const texts = Array.from({ length: 10 }, (_, i) => "x".repeat(i + 1));
    const out = await e.embed(texts);
    assert.equal(out.length, 10);
    out.forEach((v, i) => assert.deepEqual(Array.from(v), [i + 1, 1, 0]));
    assert.deepEqual(s.seen.map((r) => r.inputs.length), [4, 4, 2]);
    assert.ok(s.seen.every((r) => r.auth === "Bearer k3y" && r.model === "m1"));
    assert.equal(s.maxInFlight(), 2, "two batches in flight at once, never more");
    assert.equal(e.dim, 3);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("InferMesh client accepts the 'embeddings' key and retries 503/429 with backoff", async () => {
  const s = startServer((n, body) => {
    if (n === 0) return new Response("warming up", { status: 503 });
    if (n === 1) return new Response("slow down", { status: 429 });
    return Response.json({ embeddings: body.inputs.map(vec) });
  });
  try {
    const e = createInferMeshEmbedder({ url: s.url, retries: 2, backoffMs: 10 });
    const t = performance.now();
    const out = await e.embed(["ab"]);
    assert.deepEqual(Array.from(out[0]), [2, 1, 0]);
    assert.equal(s.seen.length, 3);
    assert.ok(performance.now() - t >= 30, "backoff 10 ms then 20 ms");
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("InferMesh client fails loudly: status and body after retries, no retry on 400, bad replies", async () => {
  const s = startServer((n, body) => {
    if (body.inputs[0] === "bad-count") return Response.json({ vectors: [[1, 2]] });
    if (body.inputs[0] === "bad-shape") return Response.json({ vectors: [[1, "x"]] });
    if (body.inputs[0] === "no-vectors") return Response.json({ error: "model warming up" });
    if (body.inputs[0] === "client") return new Response('{"detail":"unknown model"}', { status: 400 });
    return new Response(`boom ${n}`, { status: 500 });
  });
  try {
    const e = createInferMeshEmbedder({ url: s.url, retries: 2, backoffMs: 1 });
    await assert.rejects(() => e.embed(["a"]), (err: Error) => {
      assert.ok(err instanceof InferMeshError);
      assert.equal(err.status, 500);
      assert.match(err.message, /HTTP 500: boom 2 .*3 attempts/);
      return true;
    });
    assert.equal(s.seen.length, 3);
    await assert.rejects(
      () => e.embed(["client"]),
      /HTTP 400: \{"detail":"unknown model"\}; this client asked for model 'BAAI\/bge-small-en-v1\.5': choose one the server has with --model NAME or INFERMESH_MODEL/,
    );
    assert.equal(s.seen.length, 4, "a 400 is not retried");
    await assert.rejects(() => e.embed(["bad-count", "y"]), /expected 2 vectors/);
    await assert.rejects(() => e.embed(["bad-shape"]), /not a non-empty list of numbers/);
    // A 200 without vectors names the status and the body, and is not retried (issue #17).
    const before = s.seen.length;
    await assert.rejects(
      () => e.embed(["no-vectors"]),
      /HTTP 200 without the expected 1 vectors .*got none.*model warming up.*1 attempt\)/,
    );
    assert.equal(s.seen.length, before + 1, "a bad 200 reply is not retried");
  } finally {
    await s.server.shutdown();
  }
  // Nothing listening: a network error, reported with the URL.
  const dead = createInferMeshEmbedder({ url: s.url, retries: 1, backoffMs: 1 });
  await assert.rejects(() => dead.embed(["a"]), /POST http:\/\/127\.0\.0\.1:\d+\/embed failed/);
});

Deno.test("InferMesh client times out a hung request and needs a URL", async () => {
  const s = startServer(async () => {
    await new Promise((r) => setTimeout(r, 400));
    return Response.json({ vectors: [[1]] });
  });
  try {
    const e = createInferMeshEmbedder({ url: s.url, retries: 0, timeoutMs: 100 });
    await assert.rejects(() => e.embed(["a"]), /timed out after 100 ms/);
  } finally {
    await s.server.shutdown();
  }
  const saved = Deno.env.get("INFERMESH_URL");
  Deno.env.delete("INFERMESH_URL");
  try {
    assert.throws(() => createInferMeshEmbedder({}), /INFERMESH_URL/);
  } finally {
    if (saved !== undefined) Deno.env.set("INFERMESH_URL", saved);
  }
});

Deno.test("emb-index --backend infermesh and emb-search through the CLI against a loopback server", async () => {
  // Deterministic "model": a 4-dimensional bag of a few words, so the search result is predictable.
  const words = ["retry", "backoff", "config", "parse"];
  const embed = (t: string) => words.map((w) => (t.toLowerCase().includes(w) ? 1 : 0) + 0.01);
  const s = startServer((_n, body) => Response.json({ vectors: body.inputs.map(embed) }));
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-im-" }));
  try {
    await Deno.writeTextFile(`${root}/net.py`, "def retry_with_backoff(fn):\n    return fn()\n");
    await Deno.writeTextFile(`${root}/cfg.py`, "def parse_config(text):\n    return text\n");
    const env = { INFERMESH_URL: s.url, INFERMESH_API_KEY: "secret", EMBED_BATCH_SIZE: "1" };
    const idx = await runDspy(["--workspace", root, "emb-index", "--json", "--jsonl"], { env });
    assert.equal(idx.code, 0, idx.stderr);
    const info = JSON.parse(idx.stdout);
    assert.deepEqual([info.backend, info.dim, info.chunks], ["infermesh", 4, 2]);
    assert.ok(s.seen.length >= 2 && s.seen.every((r) => r.inputs.length === 1 && r.auth === "Bearer secret"));
    const found = await runDspy(
      ["--workspace", root, "emb-search", "parse the config", "--k", "1", "--json"],
      { env },
    );
    assert.equal(found.code, 0, found.stderr);
    assert.equal(JSON.parse(found.stdout)[0].path, "cfg.py");
  } finally {
    await s.server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
  // With the server gone, the index command fails with the URL in the message (exit 1), not empty vectors.
  const root2 = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-im-" }));
  try {
    await Deno.writeTextFile(`${root2}/a.py`, "x = 1\n");
    const r = await runDspy([
      "--workspace",
      root2,
      "emb-index",
      "--backend",
      "infermesh",
      "--infermesh-url",
      s.url,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /infermesh: POST http:\/\/127\.0\.0\.1:\d+\/embed failed/);
  } finally {
    await Deno.remove(root2, { recursive: true });
  }
});
