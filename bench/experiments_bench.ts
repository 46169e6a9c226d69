/**
 * Experiments benchmark (`deno task bench:experiments [--rounds N] [--texts N] [--json]`): the overhead of
 * running an `embed` experiment (queue, Worker, progress to KV, logs) against the embedder's own
 * throughput, with the tiny ONNX model at batch 64 on the same texts, in the same process, interleaved
 * (baseline, experiment, baseline, ...), medians over the rounds. Reported:
 *
 * - `embedder texts/s`: `createLocalEmbedder` called directly in a loop of 64-text batches (model loaded
 *   once, load time excluded);
 * - `experiment texts/s`: the experiment's own `texts_per_s` (its embedding loop in the Worker, load
 *   excluded) and the ratio to the baseline (the bar: ≥ 0.90);
 * - `experiment end-to-end texts/s`: texts over the record's started → finished time, which adds the
 *   Worker start and the model load (a fixed cost per run, shown for honesty).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { closeAllKv } from "../core/kv.ts";
import { createLocalEmbedder } from "../embeddings/mod.ts";
import { followExperiment, startExperiment, stopAllRunners } from "../experiments/mod.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string" }, texts: { type: "string" }, json: { type: "boolean" } },
});
const rounds = Number(values.rounds ?? 5);
const nTexts = Number(values.texts ?? 4000);
const BATCH = 64;
const TINY = fileURLToPath(new URL("../tests/fixtures/tiny-bert", import.meta.url));

const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_exp_bench_" }));
const words = ["retry", "backoff", "kafka", "offset", "vector", "index", "patch", "test", "router", "bandit"];
const texts = Array.from(
  { length: nTexts },
  (_, i) => `line ${i}: ${words[i % 10]} ${words[(i * 7) % 10]} ${words[(i * 3) % 10]} in module ${i % 17}`,
);
await Deno.writeTextFile(`${ws}/d.jsonl`, texts.map((text) => JSON.stringify({ text })).join("\n") + "\n");
await Deno.mkdir(`${ws}/tiny/onnx`, { recursive: true });
for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) {
  await Deno.copyFile(`${TINY}/${f}`, `${ws}/tiny/${f}`);
}

const embedder = await createLocalEmbedder({ modelPath: `${ws}/tiny`, batchSize: BATCH });
await embedder.embed(texts.slice(0, BATCH)); // warm-up

async function baseline(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += BATCH) await embedder.embed(texts.slice(i, i + BATCH));
  return texts.length / ((performance.now() - t0) / 1000);
}

async function experiment(): Promise<{ loop: number; e2e: number }> {
  const rec = await startExperiment(ws, {
    kind: "embed",
    params: {
      dataset_path: "d.jsonl",
      backend: "local",
      model_path: "tiny",
      batch_size: BATCH,
      max_count: 0,
      normalize: false,
      store: false,
    },
  }, { trigger: "cli", until: true });
  let last = rec;
  for await (const r of followExperiment(ws, rec.id, { intervalMs: 50 })) last = r;
  if (last.status !== "done") throw new Error(`experiment ${rec.id} ended ${last.status}: ${last.error}`);
  return {
    loop: Number(last.metrics!.texts_per_s),
    e2e: texts.length / ((last.finished! - last.started!) / 1000),
  };
}

await experiment(); // warm-up (module graph of the Worker)
const base: number[] = [];
const loop: number[] = [];
const e2e: number[] = [];
for (let r = 0; r < rounds; r++) {
  base.push(await baseline());
  const e = await experiment();
  loop.push(e.loop);
  e2e.push(e.e2e);
}
await embedder.dispose();
await stopAllRunners();
await closeAllKv();
await Deno.remove(ws, { recursive: true });

const result = {
  texts: nTexts,
  batch_size: BATCH,
  rounds,
  embedder_texts_per_s: Math.round(median(base)),
  experiment_texts_per_s: Math.round(median(loop)),
  experiment_end_to_end_texts_per_s: Math.round(median(e2e)),
  ratio: Math.round((median(loop) / median(base)) * 1000) / 1000,
  ratio_end_to_end: Math.round((median(e2e) / median(base)) * 1000) / 1000,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `embed experiment vs the embedder, tiny ONNX model, batch ${BATCH}, ${nTexts} texts, ${rounds} rounds`,
  );
  console.log(`  embedder texts/s (median)                 ${result.embedder_texts_per_s}`);
  console.log(
    `  experiment texts/s (median)               ${result.experiment_texts_per_s}  ratio ${result.ratio}`,
  );
  console.log(
    `  experiment end-to-end texts/s (median)    ${result.experiment_end_to_end_texts_per_s}  ratio ${result.ratio_end_to_end}`,
  );
}
