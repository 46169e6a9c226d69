import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { loadServedModels, type ServedModel, startEmbedServer } from "../../embeddings/mod.ts";
import { vectorsJson } from "../../embeddings/embed_server.ts";
import { makeTinyModel } from "../../scripts/make_tiny_model.ts";
import { runDspy, tempWorkspace } from "../support/cli.ts";

const TINY = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));

async function withServer(
  opts: Partial<Parameters<typeof startEmbedServer>[0]> & { models?: ServedModel[] },
  fn: (url: string, server: Awaited<ReturnType<typeof startEmbedServer>>) => Promise<void>,
) {
  const models = opts.models ?? await loadServedModels({ backend: "local", models: [`tiny=${TINY}`] });
  const server = await startEmbedServer({ port: 0, ...opts, models });
  try {
    await fn(server.url, server);
  } finally {
    await server.close();
    await Promise.all(models.map((m) => m.embedder.dispose()));
  }
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

Deno.test("embed server: /health, /embed and /v1/embeddings agree, with the tiny ONNX model", async () => {
  await withServer({ apiKey: "" }, async (url) => {
    const health = await (await fetch(`${url}/health`)).json();
    assert.equal(health.status, "ok");
    assert.equal(health.model, "tiny");
    assert.deepEqual(health.models, ["tiny"]);
    assert.equal(typeof health.ts, "number");

    const res = await post(`${url}/embed`, { inputs: ["retry with backoff", "commit the offset"] });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.model, "tiny");
    assert.equal(body.dim, 16);
    assert.equal(body.vectors.length, 2);
    assert.equal(body.vectors[0].length, 16);
    assert.notDeepEqual(body.vectors[0], body.vectors[1]);

    // The OpenAI SDK as a real client: it asks for base64 by default and decodes it.
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const reply = await client.embeddings.create({ model: "tiny", input: ["retry with backoff", "x"] });
    assert.equal(reply.object, "list");
    assert.equal(reply.data.length, 2);
    assert.equal(reply.data[1].index, 1);
    const viaSdk = reply.data[0].embedding;
    assert.equal(viaSdk.length, 16);
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(viaSdk[i] - body.vectors[0][i]) < 1e-6);
    const floats = await client.embeddings.create({ model: "tiny", input: "x", encoding_format: "float" });
    assert.equal(floats.data[0].embedding.length, 16);
    assert.ok(reply.usage.total_tokens > 0);
    // An unknown model through the SDK: a 400 whose message names the loaded models.
    await assert.rejects(
      client.embeddings.create({ model: "gpt-9", input: "x" }),
      (err: Error & { status?: number }) => err.status === 400 && /has: tiny/.test(err.message),
    );
  });
});

Deno.test("embed server: bad input is a JSON 400 or 413 that says what is wrong", async () => {
  await withServer({ maxInputs: 8, maxTextChars: 50, maxBodyBytes: 2000, apiKey: "" }, async (url) => {
    const cases: [unknown, number, RegExp][] = [
      ["{not json", 400, /not valid JSON/],
      ["", 400, /no body/],
      [[1, 2], 400, /JSON object/],
      [{ inputs: "hello" }, 400, /list of strings/],
      [{ inputs: [] }, 400, /empty/],
      [{ inputs: ["ok", 3] }, 400, /\[1\] is number/],
      [{ model: 5, inputs: ["a"] }, 400, /"model" must be a string/],
      [{ model: "nope", inputs: ["a"] }, 400, /not loaded; this server has: tiny/],
      [{ inputs: Array(9).fill("a") }, 413, /over the limit of 8/],
      [{ inputs: ["x".repeat(51)] }, 413, /51 characters/],
      [{ inputs: ["x".repeat(40)], pad: "y".repeat(3000) }, 413, /over the limit of 2000 bytes/],
    ];
    for (const [body, status, re] of cases) {
      const res = await post(`${url}/embed`, body);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 80));
      assert.match(res.headers.get("content-type") ?? "", /application\/json/);
      const err = await res.json();
      assert.match(err.error, re);
    }
    const v1 = await post(`${url}/v1/embeddings`, { input: [[1, 2, 3]], model: "tiny" });
    assert.equal(v1.status, 400);
    assert.match((await v1.json()).error.message, /token-id/);
    const get = await fetch(`${url}/embed`);
    assert.equal(get.status, 405);
    await get.body?.cancel();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /infermesh_rejections_total\{reason="too_large"\} 3/);
    assert.match(metrics, /infermesh_rejections_total\{reason="unknown_model"\} 1/);
  });
});

Deno.test("embed server: INFERMESH_API_KEY requires the bearer token (health stays open)", async () => {
  await withServer({ apiKey: "s3cret" }, async (url) => {
    const none = await post(`${url}/embed`, { inputs: ["a"] });
    assert.equal(none.status, 401);
    assert.match((await none.json()).error, /Bearer/);
    const wrong = await post(`${url}/embed`, { inputs: ["a"] }, { authorization: "Bearer nope" });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const ok = await post(`${url}/embed`, { inputs: ["a"] }, { authorization: "Bearer s3cret" });
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const health = await fetch(`${url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "s3cret", maxRetries: 0 });
    assert.equal((await client.embeddings.create({ model: "tiny", input: "a" })).data.length, 1);
  });
});

Deno.test("embed server: a flood past the bounded queue gets 503 + Retry-After, the rest succeed", async () => {
  await withServer({ maxBatch: 4, maxQueue: 8, apiKey: "" }, async (url, server) => {
    const replies = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) => post(`${url}/embed`, { inputs: [`text ${i}`, "retry", "offset"] }),
      ),
    );
    let ok = 0;
    let busy = 0;
    for (const r of replies) {
      if (r.status === 200) {
        ok++;
        assert.equal((await r.json()).vectors.length, 3);
      } else {
        assert.equal(r.status, 503);
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
        assert.match((await r.json()).error, /queue is full/);
        busy++;
      }
    }
    assert.ok(busy > 0, "some requests were refused");
    assert.ok(ok > 0, "some requests were served");
    assert.equal(server.depth("tiny"), 0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, new RegExp(`infermesh_rejections_total\\{reason="queue_full"\\} ${busy}`));
  });
});

Deno.test("embed server: concurrent requests share model calls (dynamic batching), --no-batching does not", async () => {
  for (const batching of [true, false]) {
    await withServer({ batching, maxBatch: 64, maxWaitMs: 20, apiKey: "" }, async (url, server) => {
      const replies = await Promise.all(
        Array.from({ length: 32 }, (_, i) => post(`${url}/embed`, { inputs: [`text number ${i}`] })),
      );
      const vectors = await Promise.all(replies.map(async (r) => (await r.json()).vectors[0]));
      // Split back in order: each reply is its own text's vector (the same as embedding it alone).
      const alone = await (await post(`${url}/embed`, { inputs: ["text number 7"] })).json();
      for (let i = 0; i < 16; i++) assert.ok(Math.abs(vectors[7][i] - alone.vectors[0][i]) < 1e-5);
      const snap = server.metrics.snapshot();
      if (batching) assert.ok(snap.batches <= 8, `32 requests in ${snap.batches} model calls`);
      else assert.equal(snap.batches, 33);
    });
  }
});

Deno.test("embed server: two models at once, each by name, never swapped", async () => {
  const dir = await tempWorkspace();
  try {
    const wide = await makeTinyModel(join(dir, "tiny-24"), { hidden: 24 });
    const models = await loadServedModels({ backend: "local", models: [`small=${TINY}`, `wide=${wide}`] });
    await withServer({ models, apiKey: "" }, async (url) => {
      const health = await (await fetch(`${url}/health`)).json();
      assert.deepEqual(health.models, ["small", "wide"]);
      for (const [model, dim] of [["wide", 24], ["small", 16], [undefined, 16], ["wide", 24]] as const) {
        const r = await (await post(`${url}/embed`, { model, inputs: ["retry with backoff"] })).json();
        assert.equal(r.dim, dim);
        assert.equal(r.vectors[0].length, dim);
        assert.equal(r.model, model ?? "small");
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("emb-index --backend infermesh works unchanged against a live 'embed serve'", async () => {
  const ws = await tempWorkspace();
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(new URL("../../main.ts", import.meta.url)),
      "--workspace",
      ws,
      "embed",
      "serve",
      "--port",
      "0",
      "--model",
      `tiny=${TINY}`,
      "--json",
    ],
    stdout: "piped",
    stderr: "piped",
    env: { INFERMESH_API_KEY: "k3y", NO_COLOR: "1" },
  }).spawn();
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("}")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const { url } = JSON.parse(text);
    await Deno.writeTextFile(join(ws, "a.ts"), "export function retryWithBackoff() {\n  return 1;\n}\n");
    await Deno.writeTextFile(join(ws, "b.py"), "def commit_offset(topic):\n    return topic\n");
    const env = { INFERMESH_URL: url, INFERMESH_MODEL: "tiny", INFERMESH_API_KEY: "k3y" };
    const built = await runDspy(["--workspace", ws, "emb-index", "--backend", "infermesh", "--json"], {
      env,
    });
    assert.equal(built.code, 0, built.stderr);
    const info = JSON.parse(built.stdout);
    assert.equal(info.backend, "infermesh");
    assert.equal(info.model, "tiny");
    assert.equal(info.dim, 16);
    assert.ok(info.chunks >= 2);
    const found = await runDspy(["--workspace", ws, "emb-search", "retry", "--json"], { env });
    assert.equal(found.code, 0, found.stderr);
    assert.ok(JSON.parse(found.stdout).length >= 1);
    // Without the key the server refuses, and emb-index says so.
    const refused = await runDspy(["--workspace", ws, "emb-index", "--backend", "infermesh", "--full"], {
      env: { ...env, INFERMESH_API_KEY: "" },
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /401/);
    reader.releaseLock();
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await server.stderr.cancel();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("embed server: the hand-written vector JSON is JSON.stringify's text, NaN and infinities as null", () => {
  const rows = [
    new Float32Array([0.1, -0.25, 1e-8, 3.4e38, 0, -0]),
    new Float32Array([NaN, Infinity, -Infinity, 1 / 3]),
    new Float32Array(0),
  ];
  const expected = JSON.stringify(rows.map((v) => Array.from(v)));
  assert.equal(vectorsJson(rows), expected);
  assert.equal(vectorsJson([]), "[]");
  assert.deepEqual(JSON.parse(vectorsJson(rows))[1], [null, null, null, Math.fround(1 / 3)]);
});
