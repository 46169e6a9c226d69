/**
 * Implementation of `embed worker|ingest|search|stats` (loaded lazily through `embed_impl.ts`): reads the
 * old worker's environment variables, starts the bus (local durable topics, or Kafka when configured or
 * with `--kafka`), calls `embeddings/mod.ts`, prints.
 *
 * @module
 */

import { resolve } from "node:path";
import { type Bus, startBus } from "../../bus/mod.ts";
import { UsageError } from "../../core/errors.ts";
import {
  createEmbedder,
  createHashEmbedder,
  createInferMeshEmbedder,
  createLocalEmbedder,
  DEFAULT_LOCAL_MODEL,
  EMBED_DEFAULTS,
  type Embedder,
  ingestPath,
  MODEL_THREAD_BY_DEFAULT,
  resolveLocalModel,
  runEmbedWorker,
  searchStore,
  storeHeader,
  storeStats,
} from "../../embeddings/mod.ts";
import {
  type CommandContext,
  type CommandResult,
  intOption,
  numberOption,
  parseCommandArgs,
} from "../command.ts";

function env(name: string): string | undefined {
  const v = Deno.env.get(name);
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function envNumber(name: string, fallback: number, min = 0): number {
  const v = env(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${name}='${v}' must be a number ≥ ${min}`);
  return n;
}

const truthy = (v: string | undefined) =>
  v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());

async function startPipelineBus(ctx: CommandContext, kafka: boolean | undefined): Promise<Bus> {
  return await startBus({ workspace: ctx.workspace, ...(kafka ? { backend: "kafka" as const } : {}) });
}

/** `embed worker`. */
export async function runWorkerCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("embed worker", args, {
    backend: { type: "string", short: "b" },
    model: { type: "string", short: "m" },
    "model-path": { type: "string" },
    "infermesh-url": { type: "string" },
    dim: { type: "string" },
    topic: { type: "string" },
    "output-topic": { type: "string" },
    group: { type: "string" },
    "batch-size": { type: "string" },
    "max-wait-sec": { type: "string" },
    "exit-when-idle": { type: "string" },
    kafka: { type: "boolean" },
  }, { max: 0 });
  let url = values["infermesh-url"] ?? env("INFERMESH_URL");
  let model = values.model ?? env("EMBED_MODEL") ?? env("MODEL_ID");
  let modelPath = values["model-path"] ? resolve(ctx.workspace, values["model-path"]) : undefined;
  let backend = (values.backend ?? env("EMBED_BACKEND") ?? "auto").toLowerCase();
  if (!["auto", "local", "use", "infermesh", "hash"].includes(backend)) {
    throw new UsageError(
      `embed worker: unknown backend '${backend}': use auto, local, use, infermesh or hash`,
    );
  }
  if (backend === "auto") {
    // The store's own backend first, so a restarted worker keeps writing what the store holds.
    const h = await storeHeader(ctx.workspace);
    if (h && !model && !modelPath && !url) {
      // Keep writing what the store holds: its backend, model, model folder and server.
      backend = h.backend;
      if (h.backend !== "hash") model = h.model;
      modelPath = h.modelPath;
      url = h.url;
    } else if (url) backend = "infermesh";
    else if (modelPath || model || !("searched" in await resolveLocalModel(DEFAULT_LOCAL_MODEL))) {
      backend = "local";
    } else {
      backend = "hash";
      ctx.out.info(
        "embed worker: no INFERMESH_URL and no local model: using the lexical hash backend " +
          "(set EMBED_BACKEND, INFERMESH_URL or --model-path for semantic vectors)",
      );
    }
  }
  const batchSize = values["batch-size"]
    ? intOption("embed worker", "batch-size", values["batch-size"], 64, 1)
    : envNumber("EMBED_BATCH_SIZE", 64, 1);
  const maxWaitSec = values["max-wait-sec"]
    ? numberOption("embed worker", "max-wait-sec", values["max-wait-sec"], 0.5)
    : envNumber("EMBED_MAX_WAIT_SEC", 0.5);
  const exitWhenIdle = values["exit-when-idle"] !== undefined
    ? numberOption("embed worker", "exit-when-idle", values["exit-when-idle"], 0)
    : undefined;
  if (exitWhenIdle !== undefined && exitWhenIdle <= 0) {
    throw new UsageError("embed worker: --exit-when-idle takes a number of seconds > 0");
  }
  let embedder: Embedder;
  let onModelThread = false;
  if (backend === "hash") {
    const h = await storeHeader(ctx.workspace);
    const dim = values.dim
      ? intOption("embed worker", "dim", values.dim, 256, 8)
      : h?.backend === "hash"
      ? h.dim
      : 256;
    embedder = createHashEmbedder({ dim });
  } else if (backend === "infermesh") {
    embedder = createInferMeshEmbedder({
      url,
      model,
      batchSize,
      timeoutMs: envNumber("INFERMESH_TIMEOUT_SEC", 30, 0.001) * 1000,
      retries: envNumber("INFERMESH_RETRIES", 2),
      backoffMs: envNumber("INFERMESH_BACKOFF_SEC", 0.5) * 1000,
    });
  } else if (backend === "use") {
    embedder = await createEmbedder({ backend: "use", model, modelPath, batchSize });
  } else {
    const m = model && /^\.{0,2}\//.test(model) ? resolve(ctx.workspace, model) : model;
    // The model on its own thread, which also caches and stores, so consuming and committing go on while a
    // batch is embedded (onnxruntime-node's run blocks the thread that calls it); EMBED_MODEL_THREAD=0|1 chooses.
    const threadSetting = env("EMBED_MODEL_THREAD");
    const thread = threadSetting ? truthy(threadSetting) : MODEL_THREAD_BY_DEFAULT;
    const local = await createLocalEmbedder({ model: m, modelPath, batchSize, thread });
    onModelThread = local.thread; // false when the model needs the transformers.js pipeline
    embedder = local;
  }
  const bus = await startPipelineBus(ctx, values.kafka);
  const topic = values.topic ?? env("EMBED_INPUT_TOPIC") ?? EMBED_DEFAULTS.input;
  const group = values.group ?? env("EMBED_GROUP") ?? EMBED_DEFAULTS.group;
  try {
    if (!ctx.out.json) {
      ctx.out.info(
        `embed worker: ${topic} (group ${group}, ${bus.backend} bus) -> ${embedder.backend} ${embedder.model} ` +
          (onModelThread ? "on its own thread " : "") +
          `-> store, batches of ${batchSize}` + (exitWhenIdle ? `, exits after ${exitWhenIdle} s idle` : ""),
      );
    }
    const r = await runEmbedWorker({
      bus,
      workspace: ctx.workspace,
      embedder,
      modelPath,
      url: backend === "infermesh" ? url : undefined,
      inputTopic: topic,
      outputTopic: values["output-topic"] ?? env("EMBED_OUTPUT_TOPIC") ?? EMBED_DEFAULTS.output,
      group,
      batchSize,
      maxWaitSec,
      normalize: truthy(env("EMBED_NORMALIZE")),
      cacheMax: envNumber("EMBED_CACHE_MAX", 10_000),
      cacheTtlSec: envNumber("EMBED_CACHE_TTL", 300),
      exitWhenIdleSec: exitWhenIdle,
      signal: ctx.signal,
    });
    const m = r.metrics;
    if (ctx.out.json) ctx.out.printJson({ ...m, reason: r.reason });
    else {
      ctx.out.print(
        `embed worker stopped (${r.reason}): ${m.records_out} of ${m.records_in} records embedded in ` +
          `${m.batches} batches, ${m.cache_hits} cache hits, ${m.dlq_records} dead-lettered.`,
      );
    }
    return { ok: true, data: { ...m, reason: r.reason } };
  } finally {
    await bus.close();
    await embedder.dispose();
  }
}

/** `embed ingest PATH`. */
export async function runIngestCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("embed ingest", args, {
    topic: { type: "string" },
    kafka: { type: "boolean" },
  }, { min: 1, max: 1, names: "PATH" });
  const path = resolve(ctx.workspace, positionals[0]);
  const topic = values.topic ?? env("EMBED_INPUT_TOPIC") ?? EMBED_DEFAULTS.input;
  const bus = await startPipelineBus(ctx, values.kafka);
  let bar: ReturnType<CommandContext["out"]["progress"]> | undefined;
  let last = 0;
  try {
    const r = await ingestPath(path, {
      bus,
      topic,
      signal: ctx.signal,
      onProgress(done, total) {
        bar ??= ctx.out.progress(total ?? 0, `ingest -> ${topic}`);
        bar.tick(done - last);
        last = done;
      },
    });
    bar?.done();
    const data = { topic, backend: bus.backend, ...r };
    if (ctx.out.json) ctx.out.printJson(data);
    else {
      ctx.out.print(`Published ${r.published} records from ${positionals[0]} (${r.kind}) to ${topic}.`);
      if (r.skippedCount > 0) {
        ctx.out.warn(
          `skipped ${r.skippedCount} lines that are not records: ` +
            r.skipped.slice(0, 5).map((s) => `line ${s.line}: ${s.error}`).join("; "),
        );
      }
    }
    return { ok: true, data };
  } finally {
    bar?.done();
    await bus.close();
  }
}

/** `embed search QUERY...`. */
export async function runSearchCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("embed search", args, {
    k: { type: "string", short: "k" },
    "model-path": { type: "string" },
    "infermesh-url": { type: "string" },
  }, { min: 1, names: "QUERY" });
  const query = positionals.join(" ");
  const k = intOption("embed search", "k", values.k, 5, 1);
  const overrides: Record<string, string> = {};
  if (values["model-path"]) overrides.modelPath = resolve(ctx.workspace, values["model-path"]);
  if (values["infermesh-url"]) overrides.url = values["infermesh-url"];
  const r = await searchStore(ctx.workspace, query, { k, overrides });
  if (ctx.out.json) ctx.out.printJson(r.hits);
  else if (r.hits.length === 0) ctx.out.print(`No results for '${query}'.`);
  else {
    for (const h of r.hits) {
      ctx.out.print(
        `${ctx.out.c.magenta(h.doc_id)}  ${ctx.out.c.dim(`cosine=${h.score.toFixed(3)}`)}  ${h.model}`,
        "    " + h.text.replace(/\s+/g, " ").slice(0, 200),
      );
    }
  }
  return { ok: true, data: { query, model: r.model, hits: r.hits } };
}

/** `embed stats`. */
export async function runStatsCommand(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("embed stats", args, {}, { max: 0 });
  const s = await storeStats(ctx.workspace);
  const data = { total: s.total, models: s.models, bytes: s.bytes, rows: s.rows, shards: s.shards };
  if (ctx.out.json) ctx.out.printJson(data);
  else if (s.total === 0) ctx.out.print(`The vector store (${s.dir}) is empty.`);
  else {
    ctx.out.table(
      ["model", "records", "dim"],
      Object.entries(s.models).map(([m, v]) => [m, v.count, v.dim]),
    );
    ctx.out.print(
      `${s.total} records, ${(s.bytes / 1024 / 1024).toFixed(2)} MB in ${s.shards} shards ` +
        `(${s.rows - s.total} superseded rows) under ${s.dir}`,
    );
  }
  return { ok: true, data };
}
