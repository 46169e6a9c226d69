/**
 * The InferMesh-compatible embedding server behind `dspy-code embed serve`. Routes:
 *
 * - `GET /health` → `{"status":"ok","model","models":[...],"ts"}` (no auth: for health checks);
 * - `POST /embed` `{"model"?, "inputs": [str]}` → `{"vectors": [[float]], "model", "dim"}` — the InferMesh
 *   contract our client and the old tool's clients speak;
 * - `POST /v1/embeddings` `{"input": str|[str], "model"?, "encoding_format"?: "float"|"base64"}` → the
 *   OpenAI embeddings reply, so any OpenAI SDK can use the server; `GET /v1/models` lists the models;
 * - `GET /metrics`: Prometheus text (requests, rejections, texts, batches, batch sizes, queue depth, latency).
 *
 * Every model is loaded at start and served by name through its own {@link createBatcher} (dynamic
 * batching, bounded queue). Errors are JSON: 400 for bad input or an unknown model (naming the loaded
 * ones), 401 without the bearer token when `apiKey` (`INFERMESH_API_KEY`) is set, 413 for a body, a text or
 * a request over its limit, 503 + `Retry-After` when the queue is full, 500 when the model fails.
 *
 * @module
 */

import { urlPath } from "../core/url_path.ts";
import { type Batcher, createBatcher, QueueFullError } from "./batcher.ts";
import type { ServedModel } from "./served_models.ts";
import { EmbedServerMetrics } from "./server_metrics.ts";

/** Options for {@link startEmbedServer}. */
export interface EmbedServerOptions {
  /** Loaded models; the first is the default. */
  models: ServedModel[];
  /** Host to bind (default 127.0.0.1). */
  hostname?: string;
  /** Port (default 19000; 0 picks a free one). */
  port?: number;
  /** Texts per model call (default 64). */
  maxBatch?: number;
  /** Wait for companions when idle, in ms (default 5). */
  maxWaitMs?: number;
  /** Merge concurrent requests (default true). */
  batching?: boolean;
  /** Texts that may wait per model (default 4096). */
  maxQueue?: number;
  /** Texts per request (default 2048, at most `maxQueue`). */
  maxInputs?: number;
  /** Characters per text (default 32768). */
  maxTextChars?: number;
  /** Bytes per request body (default 8 MiB). */
  maxBodyBytes?: number;
  /** Bearer token required on the embedding routes (default env `INFERMESH_API_KEY`; "" for none). */
  apiKey?: string;
  /** Called once listening. */
  onListen?: (url: string) => void;
}

/** A running server. */
export interface EmbedServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly metrics: EmbedServerMetrics;
  /** Live queue depth of a model. */
  depth(model: string): number;
  /** Stops listening, fails queued requests, disposes nothing (the caller owns the models). */
  close(): Promise<void>;
  /** Resolves when the server stopped. */
  readonly finished: Promise<void>;
}

class HttpFail extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const JSON_HEADERS = { "content-type": "application/json" };

async function readBody(req: Request, limit: number): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpFail(
      413,
      `request body of ${declared} bytes is over the limit of ${limit} bytes`,
      "too_large",
    );
  }
  const noBody = () => new HttpFail(400, "the request has no body: send a JSON object", "bad_request");
  if (Number.isFinite(declared)) {
    // A declared length within the limit: read and parse it in one go (the fast path every client takes).
    // `req.body` is not touched here: reading it makes Deno build a ReadableStream for the body and then
    // read it through the stream, which cost about as much CPU as the rest of a one-text request.
    if (declared === 0) throw noBody();
    try {
      return await req.json();
    } catch (err) {
      throw new HttpFail(
        400,
        `the body is not valid JSON (${err instanceof Error ? err.message : err})`,
        "bad_request",
      );
    }
  }
  if (!req.body) throw noBody();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new HttpFail(413, `request body is over the limit of ${limit} bytes`, "too_large");
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new HttpFail(
      400,
      `the body is not valid JSON (${err instanceof Error ? err.message : err})`,
      "bad_request",
    );
  }
}

/**
 * `[[v, ...], ...]` as JSON, written by hand: the same text as `JSON.stringify(vectors.map(Array.from))`
 * (a float32 widened to a double prints the same either way; NaN and ±Infinity become `null`) without
 * building a JS array per vector first. On a one-text request this is a large share of the JavaScript.
 */
export function vectorsJson(vectors: Float32Array[]): string {
  let s = "[";
  for (let k = 0; k < vectors.length; k++) {
    const v = vectors[k];
    s += k === 0 ? "[" : ",[";
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      // x - x is 0 only for finite numbers.
      s += (i === 0 ? "" : ",") + (x - x === 0 ? x : "null");
    }
    s += "]";
  }
  return s + "]";
}

const ROUTES = new Set(["/embed", "/v1/embeddings", "/health", "/metrics", "/v1/models"]);

/** The route path: the raw path when it names a route (the hot path), else the URL's normalised path. */
function pathOf(url: string): string {
  const raw = urlPath(url);
  if (ROUTES.has(raw)) return raw;
  return new URL(url).pathname.replace(/\/+$/, "") || "/";
}

function float32Base64(v: Float32Array): string {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Starts the server.
 *
 * @example
 * ```ts
 * const models = await loadServedModels({ backend: "hash", models: ["hash-256"] });
 * const server = await startEmbedServer({ models, port: 0 });
 * await fetch(`${server.url}/embed`, { method: "POST", body: JSON.stringify({ inputs: ["hi"] }) });
 * await server.close();
 * ```
 */
export function startEmbedServer(options: EmbedServerOptions): Promise<EmbedServer> {
  if (options.models.length === 0) throw new Error("startEmbedServer: no models");
  const maxBatch = options.maxBatch ?? 64;
  const maxQueue = options.maxQueue ?? 4096;
  const maxInputs = Math.min(options.maxInputs ?? 2048, maxQueue);
  const maxTextChars = options.maxTextChars ?? 32_768;
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const apiKey = options.apiKey ?? Deno.env.get("INFERMESH_API_KEY") ?? "";
  const metrics = new EmbedServerMetrics();
  const names = options.models.map((m) => m.name);
  /** A served model, its batcher, and its name as a JSON string (written into every reply). */
  type Entry = { model: ServedModel; batcher: Batcher; nameJson: string };
  const byName = new Map<string, Entry>();
  for (const m of options.models) {
    byName.set(m.name, {
      model: m,
      nameJson: JSON.stringify(m.name),
      batcher: createBatcher((texts) => m.embedder.embed(texts, { kind: "document" }), {
        maxBatch,
        maxWaitMs: options.maxWaitMs ?? 5,
        maxQueue,
        batching: options.batching ?? true,
        concurrency: m.embedder.backend === "infermesh" ? 2 : 1,
        onBatch: (size, _ms, ok) => metrics.batch(m.name, size, ok),
      }),
    });
  }

  const checkAuth = (req: Request) => {
    if (!apiKey) return;
    const got = req.headers.get("authorization") ?? "";
    if (got !== `Bearer ${apiKey}`) {
      throw new HttpFail(
        401,
        got ? "the bearer token is wrong" : "this server needs 'Authorization: Bearer <INFERMESH_API_KEY>'",
        "unauthorized",
        { "www-authenticate": 'Bearer realm="infermesh"' },
      );
    }
  };

  const pickModel = (name: unknown) => {
    if (name === undefined || name === null || name === "") return byName.get(names[0])!;
    if (typeof name !== "string") throw new HttpFail(400, `"model" must be a string`, "bad_request");
    const found = byName.get(name);
    if (!found) {
      throw new HttpFail(
        400,
        `model '${name.slice(0, 200)}' is not loaded; this server has: ${names.join(", ")}`,
        "unknown_model",
      );
    }
    return found;
  };

  const checkTexts = (inputs: unknown, field: string): string[] => {
    if (!Array.isArray(inputs)) {
      throw new HttpFail(400, `"${field}" must be a list of strings`, "bad_request");
    }
    if (inputs.length === 0) {
      throw new HttpFail(400, `"${field}" is empty: send at least one text`, "bad_request");
    }
    if (inputs.length > maxInputs) {
      throw new HttpFail(
        413,
        `${inputs.length} texts in one request is over the limit of ${maxInputs}: split the request`,
        "too_large",
      );
    }
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i];
      if (typeof t !== "string") {
        throw new HttpFail(
          400,
          `"${field}"[${i}] is ${t === null ? "null" : typeof t}, not a string`,
          "bad_request",
        );
      }
      if (t.length > maxTextChars) {
        throw new HttpFail(
          413,
          `"${field}"[${i}] has ${t.length} characters, over the limit of ${maxTextChars}: shorten or chunk it`,
          "too_large",
        );
      }
    }
    return inputs as string[];
  };

  const embed = async (entry: Entry, texts: string[]) => {
    let vectors: Float32Array[];
    try {
      vectors = await entry.batcher.submit(texts);
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new HttpFail(503, err.message, "queue_full", { "retry-after": String(err.retryAfterSec) });
      }
      throw new HttpFail(
        500,
        `model '${entry.model.name}' failed: ${err instanceof Error ? err.message : err}`,
        "model_error",
      );
    }
    const dim = vectors[0]?.length ?? 0;
    return { vectors, dim };
  };

  const routeOf = (path: string) =>
    path === "/embed" || path === "/v1/embeddings" || path === "/health" || path === "/metrics" ||
      path === "/v1/models"
      ? path
      : "unmatched";

  const handle = async (req: Request, path: string): Promise<Response> => {
    const method = req.method;
    if (path === "/health") {
      if (method !== "GET" && method !== "HEAD") throw new HttpFail(405, "use GET /health", "bad_request");
      return Response.json({ status: "ok", model: names[0], models: names, ts: Date.now() / 1000 });
    }
    if (path === "/metrics") {
      if (method !== "GET") throw new HttpFail(405, "use GET /metrics", "bad_request");
      return new Response(metrics.render(names, (m) => byName.get(m)?.batcher.depth ?? 0), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/v1/models") {
      if (method !== "GET") throw new HttpFail(405, "use GET /v1/models", "bad_request");
      checkAuth(req);
      const created = Math.floor(metrics.startedAt / 1000);
      return Response.json({
        object: "list",
        data: names.map((id) => ({ id, object: "model", created, owned_by: "dspy-code" })),
      });
    }
    if (path === "/embed") {
      if (method !== "POST") throw new HttpFail(405, "use POST /embed", "bad_request");
      checkAuth(req);
      const body = await readBody(req, maxBodyBytes);
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpFail(400, `the body must be a JSON object {"model"?, "inputs": [str]}`, "bad_request");
      }
      const b = body as Record<string, unknown>;
      const entry = pickModel(b.model);
      const texts = checkTexts(b.inputs, "inputs");
      const { vectors, dim } = await embed(entry, texts);
      return new Response(`{"vectors":${vectorsJson(vectors)},"model":${entry.nameJson},"dim":${dim}}`, {
        headers: JSON_HEADERS,
      });
    }
    if (path === "/v1/embeddings") {
      if (method !== "POST") throw new HttpFail(405, "use POST /v1/embeddings", "bad_request");
      checkAuth(req);
      const body = await readBody(req, maxBodyBytes);
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new HttpFail(400, `the body must be a JSON object {"input", "model"}`, "bad_request");
      }
      const b = body as Record<string, unknown>;
      const entry = pickModel(b.model);
      const format = b.encoding_format ?? "float";
      if (format !== "float" && format !== "base64") {
        throw new HttpFail(400, `"encoding_format" must be "float" or "base64"`, "bad_request");
      }
      const input = typeof b.input === "string" ? [b.input] : b.input;
      if (
        Array.isArray(input) && input.length > 0 &&
        (typeof input[0] === "number" || (Array.isArray(input[0]) && typeof input[0][0] === "number"))
      ) {
        throw new HttpFail(400, `token-id input is not supported: send text`, "bad_request");
      }
      const texts = checkTexts(input, "input");
      const { vectors, dim } = await embed(entry, texts);
      if (b.dimensions !== undefined && b.dimensions !== dim) {
        throw new HttpFail(
          400,
          `model '${entry.model.name}' makes ${dim}-dimensional vectors; "dimensions" ${b.dimensions} is not supported`,
          "bad_request",
        );
      }
      let tokens = 0;
      for (const t of texts) tokens += Math.ceil(t.length / 4);
      return Response.json({
        object: "list",
        data: vectors.map((v, index) => ({
          object: "embedding",
          index,
          embedding: format === "base64" ? float32Base64(v) : Array.from(v),
        })),
        model: entry.model.name,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    }
    throw new HttpFail(
      404,
      `no route for ${method} ${
        path.slice(0, 200)
      }: use POST /embed, POST /v1/embeddings, GET /health or GET /metrics`,
      "not_found",
    );
  };

  const handler = async (req: Request): Promise<Response> => {
    const started = performance.now();
    const path = pathOf(req.url);
    let res: Response;
    try {
      res = await handle(req, path);
    } catch (err) {
      const fail = err instanceof HttpFail
        ? err
        : new HttpFail(500, `internal error: ${err instanceof Error ? err.message : err}`, "internal");
      if (fail.status !== 404 && fail.status !== 405 && fail.status !== 500) metrics.reject(fail.reason);
      // OpenAI-style error object on /v1 (the SDKs read error.message); a flat one elsewhere.
      const body = path.startsWith("/v1/")
        ? { error: { message: fail.message, type: fail.reason, code: fail.status } }
        : { error: fail.message, detail: fail.message, status: fail.status };
      res = new Response(JSON.stringify(body), {
        status: fail.status,
        headers: { ...JSON_HEADERS, ...fail.headers },
      });
    }
    metrics.request(routeOf(path), res.status, (performance.now() - started) / 1000);
    return res;
  };

  return new Promise((resolveStart, rejectStart) => {
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = Deno.serve({
        hostname: options.hostname ?? "127.0.0.1",
        port: options.port ?? 19000,
        onListen: () => {},
      }, handler);
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        rejectStart(
          new Error(
            `port ${options.port ?? 19000} is in use: pick another with --port N (0 picks a free one)`,
          ),
        );
        return;
      }
      rejectStart(err);
      return;
    }
    const addr = server.addr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    const url = `http://${host}:${addr.port}`;
    options.onListen?.(url);
    resolveStart({
      url,
      port: addr.port,
      metrics,
      depth: (m) => byName.get(m)?.batcher.depth ?? 0,
      async close() {
        for (const { batcher } of byName.values()) batcher.close();
        await server.shutdown();
      },
      finished: server.finished,
    });
  });
}
