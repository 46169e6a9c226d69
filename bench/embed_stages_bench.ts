/**
 * Where the embed worker's time goes (`deno run -A bench/embed_stages_bench.ts`): the stages of the worker
 * run one after another in a plain loop, adding one stage at a time, against the worker itself, on the same
 * durable topic in one process, interleaved round by round, medians:
 *
 * - consume: a group member taking batches of 64 and acknowledging them (the group commits in the
 *   background every 20 ms);
 * - + embed: each batch embedded with the tiny test model on this thread;
 * - + store: each batch also written to the vector store;
 * - the worker (`runEmbedWorker`) on the same records, 1, 2 and 4 batches ahead (1 is its default with a
 *   local model on the main thread);
 * - the embedder alone on the same texts;
 * - with `--thread-ahead 8,32`, the worker with its model on a model thread (`EMBED_MODEL_THREAD=1`) that
 *   many batches ahead (8 is its default there).
 *
 * If the stages add up to the worker's rate, the pipeline costs nothing beyond them; the gap is the worker's
 * own machinery (validation, cache, promises, metrics). Each line gives records/s, the main thread's CPU µs
 * a record and the whole process's (`/proc`).
 *
 * Usage: `deno run -A bench/embed_stages_bench.ts [--records 60000] [--rounds 3] [--thread-ahead 8,32] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Bus } from "../bus/mod.ts";
import { closeAllKv } from "../core/kv.ts";
import { createLocalEmbedder, openStoreWriter, runEmbedWorker, storeDir } from "../embeddings/mod.ts";
import { benchBus, drainGroup, ingestRecords } from "./durable_fixtures.ts";
import { type TimedRate, timedRate } from "./proc_cpu.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    records: { type: "string", default: "60000" },
    rounds: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
    "thread-ahead": { type: "string", default: "" },
  },
});
const n = Math.max(1000, Number(values.records));
const rounds = Math.max(1, Number(values.rounds));
const threadDepths = values["thread-ahead"] ? values["thread-ahead"].split(",").map(Number) : [];
if (threadDepths.some((d) => !Number.isInteger(d) || d < 0)) {
  throw new Error(`--thread-ahead ${values["thread-ahead"]}: use whole numbers, e.g. 8,32`);
}
const TINY = new URL("../tests/fixtures/tiny-bert", import.meta.url).pathname;
const TOPIC = "stages_input";

const words = "retry backoff kafka consumer offset commit topic message batch vector search index embed model"
  .split(" ");
const textOf = (i: number) =>
  Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ") + ` ${i}`;

const ws = await Deno.makeTempDir({ prefix: "dspy-embed-stages-" });
const results = new Map<string, TimedRate[]>();
const note = (name: string, m: TimedRate) => results.set(name, [...(results.get(name) ?? []), m]);
try {
  await ingestRecords(ws, TOPIC, n, textOf);
  const embedder = await createLocalEmbedder({ modelPath: TINY, batchSize: 64 });
  await embedder.embed(["warm up"]);
  const threadEmbedder = threadDepths.length
    ? await createLocalEmbedder({ modelPath: TINY, batchSize: 64, thread: true })
    : null;
  await threadEmbedder?.embed(["warm up"]);

  /** Runs `work` on a fresh bus, then drops the store it may have written. */
  const onBus = (work: (bus: Bus) => Promise<number>) =>
    timedRate(async () => {
      const bus = await benchBus(ws);
      try {
        return await work(bus);
      } finally {
        await bus.close();
        await Deno.remove(storeDir(ws), { recursive: true }).catch(() => {});
      }
    });

  /** The stages in a plain loop: `embed` and `store` add those stages. */
  const loop = (group: string, embed: boolean, store: boolean) =>
    onBus(async (bus) => {
      const writer = store ? await openStoreWriter(ws, { model: embedder.model, backend: "local" }) : null;
      try {
        return await drainGroup(bus, TOPIC, group, n, {
          handle: embed
            ? async (batch) => {
              const vectors = await embedder.embed(batch.map((m) => m.value.text), { kind: "document" });
              await writer?.upsert(batch.map((m, i) => ({
                doc_id: m.value.doc_id,
                text: m.value.text,
                vector: vectors[i],
                topic: TOPIC,
                kafka_ts: m.ts / 1000,
                embedded_ts: Date.now() / 1000,
              })));
            }
            : undefined,
        });
      } finally {
        writer?.close();
      }
    });
  const worker = (group: string, ahead: number, on = embedder) =>
    onBus(async (bus) => {
      const ac = new AbortController();
      let out = 0;
      await runEmbedWorker({
        bus,
        workspace: ws,
        embedder: on,
        inputTopic: TOPIC,
        group,
        batchSize: 64,
        maxWaitSec: 0.05,
        ahead,
        metricsIntervalSec: 0,
        signal: ac.signal,
        onBatch(m) {
          out = m.records_out;
          if (out >= n) ac.abort();
        },
      });
      return out;
    });
  const embedAlone = () =>
    timedRate(async () => {
      for (let i = 0; i < n; i += 64) {
        await embedder.embed(Array.from({ length: Math.min(64, n - i) }, (_, k) => textOf(i + k)), {
          kind: "document",
        });
      }
      return n;
    });

  const cases: [string, (r: number) => Promise<TimedRate>][] = [
    ["consume", (r) => loop(`consume-${r}`, false, false)],
    ["consume + embed", (r) => loop(`embed-${r}`, true, false)],
    ["consume + embed + store", (r) => loop(`store-${r}`, true, true)],
    ...[1, 2, 4].map((ahead): [string, (r: number) => Promise<TimedRate>] => [
      `the worker, ${ahead} ahead`,
      (r) => worker(`worker-${ahead}-${r}`, ahead),
    ]),
    ...threadDepths.map((ahead): [string, (r: number) => Promise<TimedRate>] => [
      `the worker, model thread, ${ahead} ahead`,
      (r) => worker(`worker-thread-${ahead}-${r}`, ahead, threadEmbedder!),
    ]),
    ["the embedder alone (texts built too)", () => embedAlone()],
  ];
  for (let r = 0; r < rounds; r++) {
    // Each round starts with another case, so no case always runs first.
    for (let k = 0; k < cases.length; k++) {
      const [name, run] = cases[(k + r) % cases.length];
      note(name, await run(r));
    }
  }
  await embedder.dispose();
  await threadEmbedder?.dispose();
} finally {
  await closeAllKv();
  await Deno.remove(ws, { recursive: true });
}

const summary = [...results.entries()].map(([name, ms]) => ({
  case: name,
  records_per_s: Math.round(median(ms.map((m) => m.perSec))),
  main_thread_us: Math.round(median(ms.map((m) => m.mainUs)) * 10) / 10,
  process_cpu_us: Math.round(median(ms.map((m) => m.processUs)) * 10) / 10,
}));
if (values.json) {
  console.log(JSON.stringify({ records: n, rounds, load: Deno.loadavg(), cases: summary }));
} else {
  console.log(
    `${n} records, medians of ${rounds} rounds (load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    })`,
  );
  for (const s of summary) {
    console.log(
      `${s.case.padEnd(38)} ${
        String(s.records_per_s).padStart(8)
      } records/s  main thread ${s.main_thread_us} µs` +
        `  process ${s.process_cpu_us} µs`,
    );
  }
}
