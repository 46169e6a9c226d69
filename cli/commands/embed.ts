/**
 * Command spec for the embeddings pipeline: `embed serve|worker|ingest|search|stats`. Keep this file light:
 * the implementation loads inside `run` from `cli/commands/embed_impl.ts`.
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const impl = () => lazyImport<typeof import("./embed_impl.ts")>(new URL("./embed_impl.ts", import.meta.url));

/** The `embed` command, registered in `cli/registry.ts`. */
export const embedCommands: CommandSpec[] = [
  {
    name: "embed",
    group: "embeddings",
    summary: "Embeddings pipeline: InferMesh-compatible server, stream worker, ingest, vector store search",
    usage: "embed serve|worker|ingest|search|stats ...",
    examples: [
      "embed serve --model-path tests/fixtures/tiny-bert --port 19000",
      "embed ingest notes.jsonl",
      "embed worker --backend hash --exit-when-idle 5",
      `embed search "retry with backoff" --k 5`,
      "embed stats --json",
    ],
    details: [
      "embed serve [--host 127.0.0.1] [--port 19000] [--backend local|use|hash|infermesh] [--model-path DIR]",
      "            [--model [NAME=]SOURCE]... [--max-batch 64] [--max-wait-ms 5] [--no-batching]",
      "            [--max-queue 4096] [--max-inputs 2048] [--max-text-chars 32768] [--max-body-bytes N]",
      "    InferMesh-compatible server: GET /health, POST /embed, POST /v1/embeddings (OpenAI), GET /metrics.",
      "    Several --model values load several models, each served by NAME. INFERMESH_API_KEY requires",
      "    'Authorization: Bearer KEY'. Requests arriving together share one model call (dynamic batching).",
      "embed worker [--backend auto|local|use|infermesh|hash] [--model M] [--model-path DIR] [--infermesh-url U]",
      "             [--topic embedding_input] [--output-topic embeddings] [--group embed-worker]",
      "             [--batch-size 64] [--max-wait-sec 0.5] [--exit-when-idle SEC] [--kafka] [--json]",
      "    Consumes input records {text, doc_id?}, embeds them in batches, upserts them into the vector store",
      "    (.dspy_index/embed_store/) and publishes {topic,text,doc_id,vector,kafka_ts,embedded_ts,model,dim,",
      "    normalized} to the output topic. Offsets are committed after the store write. Failures after",
      "    retries go to the DLQ (reason embedding_failed); 'dlq replay --topic embedding_input' resends them.",
      "embed ingest PATH [--topic embedding_input] [--kafka] [--json]",
      '    Publishes a .jsonl file ({"text",...} a line), a text file (a text a line) or a code folder (its',
      "    index chunks) as input records, with a progress bar.",
      "embed search QUERY... [--k 5] [--json]      cosine top-k over the vector store, with the store's model",
      "embed stats [--json]                         records per model, dimensions, store size",
      "Environment: EMBED_INPUT_TOPIC, EMBED_OUTPUT_TOPIC, EMBED_GROUP, EMBED_BACKEND, EMBED_MODEL,",
      "EMBED_BATCH_SIZE, EMBED_MAX_WAIT_SEC, EMBED_NORMALIZE, EMBED_CACHE_MAX, INFERMESH_URL, INFERMESH_API_KEY,",
      "INFERMESH_TIMEOUT_SEC, INFERMESH_RETRIES, INFERMESH_BACKOFF_SEC, DSPY_BUS, KAFKA_BOOTSTRAP_SERVERS.",
      "See docs/embeddings.md.",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runEmbed(args, ctx),
  },
];
