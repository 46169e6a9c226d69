/**
 * Implementations of `emb-index` and `emb-search` (loaded lazily by `cli/commands/embeddings.ts`).
 *
 * @module
 */

import { resolve } from "node:path";
import { logRetrieval } from "../../agent/search/mod.ts";
import { emitAction } from "../../core/events.ts";
import { UsageError } from "../../core/errors.ts";
import {
  buildEmbeddingIndex,
  createEmbedder,
  DEFAULT_LOCAL_MODEL,
  type EmbedderBackend,
  resolveLocalModel,
  searchEmbeddings,
} from "../../embeddings/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { guard } from "../../core/guard.ts";
import { progressReporter } from "../progress_reporter.ts";
import { sessionIndexWatch } from "../session_index.ts";

const BACKENDS = ["local", "use", "infermesh", "hash"];

/** `emb-index`. */
export async function runEmbIndex(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("emb-index", args, {
    backend: { type: "string", short: "b" },
    model: { type: "string", short: "m" },
    "model-path": { type: "string" },
    "infermesh-url": { type: "string" },
    dim: { type: "string" },
    glob: { type: "string", short: "g", multiple: true },
    exclude: { type: "string", short: "x", multiple: true },
    "chunk-lines": { type: "string" },
    full: { type: "boolean" },
    jsonl: { type: "boolean" },
  }, { max: 0 });
  // Flag values first, so a bad one is reported before any notice about the backend.
  const chunkLines = values["chunk-lines"] !== undefined
    ? intOption("emb-index", "chunk-lines", values["chunk-lines"], 60, 5)
    : undefined;
  const dim = values.dim ? intOption("emb-index", "dim", values.dim, 256) : undefined;
  const url = values["infermesh-url"] ?? Deno.env.get("INFERMESH_URL");
  let backend = values.backend as EmbedderBackend | undefined;
  if (!backend) {
    // Explicit choices first; then a local default model if one is on disk; else the lexical hash backend.
    if (values["model-path"]) backend = "local";
    else if (url) backend = "infermesh";
    else if (values.model) backend = "local";
    else if (!("searched" in await resolveLocalModel(DEFAULT_LOCAL_MODEL))) backend = "local";
    else {
      backend = "hash";
      ctx.out.info(
        `No local model (${DEFAULT_LOCAL_MODEL}) and no INFERMESH_URL: using the lexical hash backend. ` +
          `Pass --model-path DIR or --infermesh-url URL for semantic vectors.`,
      );
    }
  }
  if (!BACKENDS.includes(backend)) {
    throw new UsageError(`emb-index: unknown backend '${backend}': use ${BACKENDS.join(", ")}`);
  }
  await guard(ctx.workspace, { operation: "emb-index" });
  const modelPath = values["model-path"] ? resolve(ctx.workspace, values["model-path"]) : undefined;
  // A model given as a path is relative to the workspace, like every other path argument.
  const model = values.model && /^\.{0,2}\//.test(values.model)
    ? resolve(ctx.workspace, values.model)
    : values.model;
  const embedder = await createEmbedder({
    backend,
    model,
    modelPath,
    url,
    dim,
  });
  emitAction("embeddings.index.start", { backend, model: embedder.model });
  const bar = progressReporter(ctx, `embedding (${backend})`);
  try {
    const r = await buildEmbeddingIndex(ctx.workspace, embedder, {
      globs: values.glob,
      excludes: values.exclude,
      chunkLines,
      full: values.full,
      jsonl: values.jsonl,
      modelPath,
      url: backend === "infermesh" ? url : undefined,
      signal: ctx.signal,
      onProgress: bar.onProgress,
    });
    bar.done();
    emitAction("embeddings.index.finished", {
      count: r.chunks,
      embedded: r.embedded,
      backend,
      model: r.model,
    });
    const data = {
      backend: r.backend,
      model: r.model,
      dim: r.dim,
      files: r.files,
      chunks: r.chunks,
      embedded: r.embedded,
      reused: r.reused,
      seconds: Math.round(r.seconds * 1000) / 1000,
      ...(r.jsonl ? { jsonl: r.jsonl } : {}),
    };
    if (ctx.out.json) ctx.out.printJson(data);
    else {
      ctx.out.print(
        `Embedded ${r.embedded} chunks (${r.reused} unchanged) from ${r.files} files with ${backend} ` +
          `${r.model} (dim ${r.dim}) in ${r.seconds.toFixed(2)} s.` + (r.jsonl ? ` Exported ${r.jsonl}` : ""),
      );
      if (embedder.lexical) {
        ctx.out.info(
          "note: the hash backend is lexical (feature hashing), not semantic; use --backend local or infermesh for meaning.",
        );
      }
    }
    return { ok: true, data };
  } finally {
    bar.done();
    await embedder.dispose();
  }
}

/** `emb-search`. */
export async function runEmbSearch(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("emb-search", args, {
    k: { type: "string", short: "k" },
    context: { type: "string", short: "c" },
    "model-path": { type: "string" },
    "infermesh-url": { type: "string" },
  }, { min: 1, names: "QUERY" });
  const query = positionals.join(" ");
  const k = intOption("emb-search", "k", values.k, 5) || 5;
  const overrides: Record<string, string> = {};
  if (values["model-path"]) overrides.modelPath = resolve(ctx.workspace, values["model-path"]);
  if (values["infermesh-url"]) overrides.url = values["infermesh-url"];
  // In the session, the vectors of files changed since the last vector search are embedded again first.
  const embedBar = progressReporter(ctx, "embedding changed files", { onlyWithWork: true });
  const { hits, meta, note } = await searchEmbeddings(ctx.workspace, query, {
    k,
    context: intOption("emb-search", "context", values.context, 4),
    overrides,
    refreshVectors: () => sessionIndexWatch(ctx)?.takeVectorsStale() ?? false,
    onRefreshFailed: () => sessionIndexWatch(ctx)?.vectorsRefreshFailed(),
    onEmbedProgress: embedBar.onProgress,
    signal: ctx.signal,
  });
  embedBar.done();
  const source = `emb:${meta.backend}`;
  await logRetrieval(ctx.workspace, query, hits.map((h) => ({ path: h.path, score: h.score, source })), {
    action: "embeddings.search",
    backend: meta.backend,
    k,
  });
  const { out } = ctx;
  if (note) out.warn(note);
  if (out.json) out.printJson(hits);
  else if (hits.length === 0) out.print(`No results for '${query}'.`);
  else {
    for (const h of hits) {
      out.print(
        `${out.c.magenta(h.path)}  ${
          out.c.dim(`cosine=${h.score.toFixed(3)}`)
        }  lines ${h.start_line}-${h.end_line}` +
          (h.symbol ? `  ${out.c.cyan(h.symbol)}` : ""),
      );
      if (h.snippet) out.print(...h.snippet.split("\n").map((l) => "    " + l), "");
    }
  }
  return { ok: true, data: { query, backend: meta.backend, hits: hits.map(({ snippet: _s, ...h }) => h) } };
}
