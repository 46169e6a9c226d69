/**
 * The models an embedding server holds, each under the name clients ask for. `--model` values are
 * `NAME=SOURCE` (serve SOURCE as NAME) or just `SOURCE` (its own name): for the local backend SOURCE is a
 * model folder or a Hugging Face id found offline (see `local_embedder.ts`); for the hash backend it is
 * `hash-<dim>`; for the use backend it is `universal-sentence-encoder-lite` (the installed package's files or
 * `--model-path DIR`) or a folder holding that model's files; for the infermesh backend (a proxy in front of another InferMesh server) it is the upstream
 * model name. Every model is loaded at start-up, so a missing one fails before the server listens, and a
 * request for a model that is not loaded is refused — never silently answered by another model.
 *
 * @module
 */

import { resolve } from "node:path";
import { UsageError } from "../core/errors.ts";
import type { Embedder, EmbedderBackend } from "./embedder.ts";
import { createHashEmbedder } from "./hash_embedder.ts";
import { createInferMeshEmbedder, DEFAULT_INFERMESH_MODEL } from "./infermesh_client.ts";
import { createLocalEmbedder, servedModelSpins } from "./local_embedder.ts";
import { createUseEmbedder, USE_LITE_MODEL, useTextModeOf } from "./use_embedder.ts";

/** One `--model` value, parsed. */
export interface ModelSpec {
  /** Name clients use. */
  name: string;
  /** Folder, id, `hash-<dim>` or upstream name. */
  source: string;
}

/** A loaded model. */
export interface ServedModel {
  name: string;
  embedder: Embedder;
}

/** Parses `NAME=SOURCE` or `SOURCE`. */
export function parseModelSpec(value: string): ModelSpec {
  const eq = value.indexOf("=");
  if (eq === 0 || eq === value.length - 1) {
    throw new UsageError(
      `--model '${value}': write NAME=SOURCE (e.g. minilm=~/models/all-MiniLM-L6-v2) or SOURCE`,
    );
  }
  if (eq > 0) return { name: value.slice(0, eq), source: value.slice(eq + 1) };
  return { name: value, source: value };
}

/** Dimension of a `hash-<dim>` model name; undefined for other names. */
export function hashDim(name: string): number | undefined {
  const m = /^hash-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Options for {@link loadServedModels}. */
export interface LoadModelsOptions {
  backend: EmbedderBackend;
  /** `--model` values (empty: one default model). */
  models: string[];
  /** Local model folder (`--model-path`): the model itself, or a folder of models. */
  modelPath?: string;
  /** Upstream URL for the infermesh backend. */
  url?: string;
  /** Texts per forward pass of a local model (the server's max batch). */
  batchSize?: number;
  /** Base folder for relative model paths (the workspace). */
  cwd?: string;
}

/**
 * Loads every model; throws a usage error for duplicate names and a clear error for a model that cannot
 * load. Dispose the embedders when done.
 */
export async function loadServedModels(options: LoadModelsOptions): Promise<ServedModel[]> {
  const specs = options.models.map(parseModelSpec);
  if (specs.length === 0) {
    if (options.backend === "hash") specs.push({ name: "hash-256", source: "hash-256" });
    else if (options.backend === "use") specs.push({ name: USE_LITE_MODEL, source: USE_LITE_MODEL });
    else if (options.backend === "infermesh") {
      const name = Deno.env.get("INFERMESH_MODEL") ?? DEFAULT_INFERMESH_MODEL;
      specs.push({ name, source: name });
    } else if (options.modelPath) {
      const dir = resolve(options.cwd ?? ".", options.modelPath);
      specs.push({ name: dir.split("/").filter(Boolean).pop() ?? dir, source: dir });
    } else {
      throw new UsageError(
        "embed serve: say which model to serve: --model-path DIR (a model folder) or --model NAME=SOURCE; " +
          "or use --backend hash",
      );
    }
  }
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new UsageError(`embed serve: the model name '${s.name}' is given twice`);
    seen.add(s.name);
  }
  const out: ServedModel[] = [];
  try {
    for (const s of specs) {
      let embedder: Embedder;
      if (options.backend === "hash") {
        const dim = hashDim(s.source);
        if (dim === undefined) {
          throw new UsageError(
            `embed serve: the hash backend serves models named hash-<dim>, not '${s.source}'`,
          );
        }
        embedder = createHashEmbedder({ dim });
      } else if (options.backend === "use") {
        // SOURCE is the model's name (its files from --model-path or the installed package) or a folder.
        const textMode = useTextModeOf(s.source);
        const modelPath = textMode
          ? (options.modelPath ? resolve(options.cwd ?? ".", options.modelPath) : undefined)
          : resolve(options.cwd ?? ".", s.source.replace(/^~(?=\/)/, Deno.env.get("HOME") ?? "~"));
        embedder = await createUseEmbedder({ modelPath, textMode, batchSize: options.batchSize });
      } else if (options.backend === "infermesh") {
        embedder = createInferMeshEmbedder({
          url: options.url,
          model: s.source,
          batchSize: options.batchSize,
        });
      } else {
        const local = /^\.{0,2}\//.test(s.source) || s.source.startsWith("~")
          ? resolve(options.cwd ?? ".", s.source.replace(/^~(?=\/)/, Deno.env.get("HOME") ?? "~"))
          : s.source;
        const modelPath = options.modelPath ? resolve(options.cwd ?? ".", options.modelPath) : undefined;
        // A server's work is the model: its onnxruntime threads keep spinning between calls, onnxruntime's
        // default (measured in docs/embeddings.md, "Spinning").
        const spin = servedModelSpins();
        embedder = await createLocalEmbedder({ model: local, modelPath, batchSize: options.batchSize, spin });
      }
      out.push({ name: s.name, embedder });
    }
  } catch (err) {
    await Promise.all(out.map((m) => m.embedder.dispose()));
    throw err;
  }
  return out;
}
