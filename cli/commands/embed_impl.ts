/**
 * Implementation of `embed serve|worker|ingest|search|stats` (loaded lazily by `cli/commands/embed.ts`):
 * parses arguments, calls `embeddings/mod.ts` and the bus, prints.
 *
 * @module
 */

import { UsageError } from "../../core/errors.ts";
import { type EmbedderBackend, loadServedModels, startEmbedServer } from "../../embeddings/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";

const SUBCOMMANDS = ["serve", "worker", "ingest", "search", "stats"];

/** `embed SUBCOMMAND ...`. */
export async function runEmbed(args: string[], ctx: CommandContext): Promise<CommandResult | void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "serve":
      return await serve(rest, ctx);
    case "worker":
      return await (await pipeline()).runWorkerCommand(rest, ctx);
    case "ingest":
      return await (await pipeline()).runIngestCommand(rest, ctx);
    case "search":
      return await (await pipeline()).runSearchCommand(rest, ctx);
    case "stats":
      return await (await pipeline()).runStatsCommand(rest, ctx);
    default:
      throw new UsageError(
        sub === undefined
          ? `embed: missing subcommand (${SUBCOMMANDS.join(", ")}). See 'dspy-code embed --help'.`
          : `embed: unknown subcommand '${sub}' (use ${
            SUBCOMMANDS.join(", ")
          }). See 'dspy-code embed --help'.`,
      );
  }
}

const pipeline = () => import("./embed_pipeline_impl.ts");

async function serve(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("embed serve", args, {
    host: { type: "string" },
    port: { type: "string" },
    backend: { type: "string", short: "b" },
    "model-path": { type: "string" },
    model: { type: "string", short: "m", multiple: true },
    "infermesh-url": { type: "string" },
    "max-batch": { type: "string" },
    "max-wait-ms": { type: "string" },
    "no-batching": { type: "boolean" },
    "max-queue": { type: "string" },
    "max-inputs": { type: "string" },
    "max-text-chars": { type: "string" },
    "max-body-bytes": { type: "string" },
  }, { max: 0 });
  const port = intOption("embed serve", "port", values.port, 19000);
  if (port > 65535) throw new UsageError(`embed serve: --port must be 0..65535, got ${port}`);
  const backend = (values.backend ?? "local") as EmbedderBackend;
  if (!["local", "use", "hash", "infermesh"].includes(backend)) {
    throw new UsageError(`embed serve: unknown backend '${backend}': use local, use, hash or infermesh`);
  }
  const maxBatch = intOption("embed serve", "max-batch", values["max-batch"], 64, 1);
  const maxQueue = intOption("embed serve", "max-queue", values["max-queue"], 4096, 1);
  const models = await loadServedModels({
    backend,
    models: values.model ?? [],
    modelPath: values["model-path"],
    url: values["infermesh-url"],
    batchSize: maxBatch,
    cwd: ctx.workspace,
  });
  try {
    const server = await startEmbedServer({
      models,
      hostname: values.host ?? "127.0.0.1",
      port,
      maxBatch,
      maxWaitMs: intOption("embed serve", "max-wait-ms", values["max-wait-ms"], 5),
      batching: !values["no-batching"],
      maxQueue,
      maxInputs: intOption("embed serve", "max-inputs", values["max-inputs"], Math.min(2048, maxQueue), 1),
      maxTextChars: intOption("embed serve", "max-text-chars", values["max-text-chars"], 32_768, 1),
      maxBodyBytes: intOption("embed serve", "max-body-bytes", values["max-body-bytes"], 8 * 1024 * 1024, 1),
    });
    const info = {
      url: server.url,
      backend,
      models: models.map((m) => m.name),
      batching: !values["no-batching"],
      max_batch: maxBatch,
    };
    if (ctx.out.json) ctx.out.printJson(info);
    else {
      ctx.out.print(
        `embed serve listening on ${server.url} (${backend}: ${info.models.join(", ")}; ` +
          `${info.batching ? `dynamic batching up to ${maxBatch}` : "no batching"}). Ctrl-C stops it.`,
      );
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) return resolve();
      ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await server.close();
    return { ok: true, data: info };
  } finally {
    await Promise.all(models.map((m) => m.embedder.dispose()));
  }
}
