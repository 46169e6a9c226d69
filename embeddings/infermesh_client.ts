/**
 * HTTP client for InferMesh-compatible embedding servers: `POST {url}/embed` with `{"model", "inputs"}`,
 * reply `{"vectors": [[...]]}` or `{"embeddings": [[...]]}`, optional `Authorization: Bearer`. Texts are
 * sent in batches (`EMBED_BATCH_SIZE`, default 64) with bounded concurrency, a per-request timeout, and
 * retries with exponential backoff for network errors, timeouts, 408, 429 and 5xx. A batch that still
 * fails — or a reply with the wrong number or shape of vectors — is an error naming the HTTP status and
 * body; it never turns into silent empty vectors.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import type { Embedder, EmbedOptions } from "./embedder.ts";

/** Options for {@link createInferMeshEmbedder}. */
export interface InferMeshOptions {
  /** Base URL (default env `INFERMESH_URL`). */
  url?: string;
  /** Model name sent with each request (default env `INFERMESH_MODEL`, else `BAAI/bge-small-en-v1.5`). */
  model?: string;
  /** Bearer token (default env `INFERMESH_API_KEY`). */
  apiKey?: string;
  /** Texts per request (default env `EMBED_BATCH_SIZE`, else 64). */
  batchSize?: number;
  /** Requests in flight at once (default 2). */
  concurrency?: number;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2). */
  retries?: number;
  /** First backoff in ms; doubles each retry (default 500). */
  backoffMs?: number;
}

/** A batch failed after its retries. */
export class InferMeshError extends UserError {
  /** HTTP status of the last attempt (0 for network errors and timeouts). */
  readonly status: number;
  /** Response body of the last attempt (truncated). */
  readonly body: string;
  constructor(message: string, status: number, body: string) {
    super(message);
    this.name = "InferMeshError";
    this.status = status;
    this.body = body;
  }
}

/** Default model when neither the option nor `INFERMESH_MODEL` is set. */
export const DEFAULT_INFERMESH_MODEL = "BAAI/bge-small-en-v1.5";

function envNumber(name: string): number | undefined {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    throw new UserError(`${name} must be a positive whole number, got '${v}'`);
  }
  return n;
}

const RETRYABLE = (status: number) => status === 0 || status === 408 || status === 429 || status >= 500;

/**
 * Creates an InferMesh client.
 *
 * @example
 * ```ts
 * const e = createInferMeshEmbedder({ url: "http://127.0.0.1:19000", model: "BAAI/bge-small-en-v1.5" });
 * const vectors = await e.embed(["hello", "world"]);
 * ```
 */
export function createInferMeshEmbedder(options: InferMeshOptions = {}): Embedder {
  const url = (options.url ?? Deno.env.get("INFERMESH_URL") ?? "").replace(/\/+$/, "");
  if (!url) {
    throw new UserError(
      "infermesh: no server URL: pass --infermesh-url URL or set INFERMESH_URL (e.g. http://127.0.0.1:19000)",
    );
  }
  try {
    new URL(url);
  } catch {
    throw new UserError(`infermesh: '${url}' is not a URL: give one like http://127.0.0.1:19000`);
  }
  const model = options.model ?? Deno.env.get("INFERMESH_MODEL") ?? DEFAULT_INFERMESH_MODEL;
  const apiKey = options.apiKey ?? Deno.env.get("INFERMESH_API_KEY");
  const batchSize = options.batchSize ?? envNumber("EMBED_BATCH_SIZE") ?? 64;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = Math.max(0, options.retries ?? 2);
  const backoffMs = options.backoffMs ?? 500;
  let dim: number | undefined;

  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;

  async function attempt(inputs: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      res = await fetch(`${url}/embed`, {
        method: "POST",
        headers,
        body: JSON.stringify({ model, inputs }),
        signal: combined,
      });
    } catch (err) {
      if (signal?.aborted) throw new UserError("infermesh: cancelled");
      const why = timeout.aborted
        ? `timed out after ${timeoutMs} ms`
        : (err instanceof Error ? err.message : String(err));
      throw new InferMeshError(`infermesh: POST ${url}/embed failed: ${why}`, 0, "");
    }
    const body = await res.text();
    if (!res.ok) {
      // A 400 about the model (e.g. embed serve's "model 'X' is not loaded; this server has: Y") is usually the
      // default INFERMESH_MODEL meeting a server with other models: say how to pick one.
      const modelHint = res.status === 400 && /model/i.test(body)
        ? `; this client asked for model '${model}': choose one the server has with --model NAME or INFERMESH_MODEL`
        : "";
      throw new InferMeshError(
        `infermesh: POST ${url}/embed returned HTTP ${res.status}: ${body.slice(0, 300)}${modelHint}`,
        res.status,
        body.slice(0, 2000),
      );
    }
    let parsed: { vectors?: unknown; embeddings?: unknown };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new InferMeshError(
        `infermesh: reply is not JSON: ${body.slice(0, 200)}`,
        res.status,
        body.slice(0, 2000),
      );
    }
    const list = parsed?.vectors ?? parsed?.embeddings;
    if (!Array.isArray(list) || list.length !== inputs.length) {
      throw new InferMeshError(
        `infermesh: POST ${url}/embed returned HTTP ${res.status} without the expected ${inputs.length} ` +
          `vectors in "vectors" or "embeddings" (got ${Array.isArray(list) ? list.length : "none"}): ` +
          body.slice(0, 300),
        res.status,
        body.slice(0, 2000),
      );
    }
    return list.map((v, i) => {
      if (
        !Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "number" && Number.isFinite(x))
      ) {
        throw new InferMeshError(
          `infermesh: HTTP ${res.status} reply: vector ${i} is not a non-empty list of numbers: ${
            body.slice(0, 300)
          }`,
          res.status,
          body.slice(0, 2000),
        );
      }
      if (dim === undefined) dim = v.length;
      else if (v.length !== dim) {
        throw new InferMeshError(
          `infermesh: vector ${i} has ${v.length} dimensions, expected ${dim}`,
          res.status,
          "",
        );
      }
      return Float32Array.from(v as number[]);
    });
  }

  async function embedBatch(inputs: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    let last: unknown;
    let attempts = 0;
    for (let a = 0; a <= retries; a++) {
      try {
        attempts++;
        return await attempt(inputs, signal);
      } catch (err) {
        last = err;
        // Only network errors, timeouts, 408, 429 and 5xx are retried; a bad 2xx reply is not.
        if (!(err instanceof InferMeshError) || !RETRYABLE(err.status) || a === retries) break;
        await new Promise((r) => setTimeout(r, backoffMs * 2 ** a));
      }
    }
    if (last instanceof InferMeshError) {
      throw new InferMeshError(
        `${last.message} (batch of ${inputs.length}, ${attempts} attempt${attempts === 1 ? "" : "s"})`,
        last.status,
        last.body,
      );
    }
    throw last;
  }

  return {
    backend: "infermesh",
    model,
    get dim() {
      return dim;
    },
    lexical: false,
    async embed(texts: string[], opts: EmbedOptions = {}): Promise<Float32Array[]> {
      const batches: string[][] = [];
      for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize));
      const results: Float32Array[][] = new Array(batches.length);
      let next = 0;
      let failed: unknown;
      const lane = async () => {
        while (failed === undefined && next < batches.length) {
          const b = next++;
          try {
            results[b] = await embedBatch(batches[b], opts.signal);
          } catch (err) {
            failed ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, lane));
      if (failed !== undefined) throw failed;
      return results.flat();
    },
    dispose: () => Promise.resolve(),
  };
}
