/**
 * `embed worker` as users start it (`deno run -A bench/embed_worker_cli_ab.ts`): a new process for every run,
 * startup and model load counted, on records published once with `embed ingest`. Each pair runs the worker
 * with its model on its own thread (`EMBED_MODEL_THREAD=1`, the default on 2+ cores) and on the main thread
 * (`EMBED_MODEL_THREAD=0`), alternating which goes first, each run a new consumer group reading every record;
 * beside them, the model alone in this process on the same texts in calls of 64 (the slower stage with a model
 * of real size). Records/s of a run are its records over its wall time less the `--exit-when-idle` wait.
 *
 * Usage: `deno run -A bench/embed_worker_cli_ab.ts [--records 100000] [--pairs 3] [--model-path DIR]`
 * (default model: the tiny test model; `bench/make_bert_shaped_model.py` makes one of all-MiniLM-L6-v2's size,
 * for which `--records 3000` is enough).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { parseArgv } from "../core/args.ts";
import { createLocalEmbedder } from "../embeddings/mod.ts";
import { median } from "./stats.ts";

const { values } = parseArgv(Deno.args, {
  records: { type: "string" },
  pairs: { type: "string" },
  "model-path": { type: "string" },
});
const option = (name: string) => values[name] as string | undefined; // every option here takes a value
const records = Number(option("records") ?? 100_000);
const pairs = Number(option("pairs") ?? 3);
if (!Number.isInteger(records) || records < 64 || !Number.isInteger(pairs) || pairs < 1) {
  throw new Error("--records takes a whole number >= 64 and --pairs one >= 1");
}
const modelPath = option("model-path") ??
  fileURLToPath(new URL("../tests/fixtures/tiny-bert", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const IDLE_SEC = 0.5;

const words = "retry backoff kafka consumer offset commit topic message batch vector search index embed model"
  .split(" ");
const textOf = (i: number) =>
  Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ") + ` ${i}`;

async function dspy(ws: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--workspace", ws, ...args],
    env: { BUS_METRICS_INTERVAL: "0", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`${args[0]} ${args[1]} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const ws = await Deno.makeTempDir({ prefix: "dspy-worker-ab-" });
try {
  const lines = Array.from(
    { length: records },
    (_, i) => JSON.stringify({ text: textOf(i), doc_id: `r${i}` }),
  );
  await Deno.writeTextFile(join(ws, "records.jsonl"), lines.join("\n") + "\n");
  await dspy(ws, ["embed", "ingest", "records.jsonl", "--json"]);

  /** One `embed worker` process over every record, as a new group; its records/s. */
  const worker = async (thread: "0" | "1", group: string) => {
    await Deno.remove(join(ws, ".dspy_index", "embed_store"), { recursive: true }).catch(() => {});
    const started = performance.now();
    const out = await dspy(ws, [
      "embed",
      "worker",
      "--backend",
      "local",
      "--model-path",
      modelPath,
      "--group",
      group,
      "--exit-when-idle",
      String(IDLE_SEC),
      "--json",
    ], { EMBED_MODEL_THREAD: thread });
    const seconds = (performance.now() - started) / 1000 - IDLE_SEC;
    const done = JSON.parse(out).records_out as number;
    if (done !== records) throw new Error(`the worker embedded ${done} of ${records} records`);
    return done / seconds;
  };
  const embedder = await createLocalEmbedder({ modelPath, batchSize: 64 });
  const texts = Array.from({ length: Math.min(records, 64 * 200) }, (_, i) => textOf(i));
  /** The model alone on the same texts in calls of 64; texts/s. */
  const modelAlone = async () => {
    const started = performance.now();
    for (let i = 0; i < texts.length; i += 64) await embedder.embed(texts.slice(i, i + 64));
    return texts.length / ((performance.now() - started) / 1000);
  };
  await modelAlone(); // warm-up
  const rows: { thread: number; main: number; model: number }[] = [];
  for (let p = 0; p < pairs; p++) {
    const row = { thread: 0, main: 0, model: 0 };
    for (const setup of p % 2 ? ["main", "thread"] as const : ["thread", "main"] as const) {
      row[setup] = await worker(setup === "thread" ? "1" : "0", `ab-${setup}-${p}`);
    }
    row.model = await modelAlone();
    rows.push(row);
    console.error(
      `pair ${p + 1}: model thread ${row.thread.toFixed(0)}, main thread ${row.main.toFixed(0)} records/s; ` +
        `the model alone ${row.model.toFixed(0)} texts/s`,
    );
  }
  await embedder.dispose();
  const med = (f: (r: (typeof rows)[number]) => number) => median(rows.map(f));
  console.log(
    `${modelPath}, ${records} records, medians of ${pairs} pairs (load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }):\n` +
      `  embed worker, model thread: ${med((r) => r.thread).toFixed(0)} records/s; main thread: ` +
      `${med((r) => r.main).toFixed(0)} records/s (thread ÷ main ${
        med((r) => r.thread / r.main).toFixed(2)
      }×)\n` +
      `  the model alone: ${med((r) => r.model).toFixed(0)} texts/s (worker on its thread ÷ model ` +
      `${med((r) => r.thread / r.model).toFixed(2)}×)`,
  );
} finally {
  await Deno.remove(ws, { recursive: true });
}
Deno.exit(0); // onnxruntime-node's thread pool keeps the process alive otherwise
