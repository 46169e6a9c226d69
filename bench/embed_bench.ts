/**
 * Embeddings pipeline benchmark (`deno task bench:embed`). Every figure is a ratio against a baseline
 * measured in the same run, the cases interleaved round by round, medians reported:
 *
 * 0. The local embedder (tiny ONNX model) in-process: our path vs the transformers.js pipeline it replaced,
 *    64-text and one-text calls.
 * 1. `embed serve` (a subprocess, tiny ONNX model), 64 concurrent clients sending one text each: requests/s
 *    with dynamic batching vs `--no-batching` (goal ≥ 3×).
 * 2. The same server with 4 clients sending batches of 64 texts: texts/s vs the in-process embedder on
 *    batches of 64 (goal ≥ 0.7×). Both loads also go to the batching server with onnxruntime's idle threads
 *    not spinning (DSPY_EMBED_SPIN=0), the baseline of `embed serve`'s spinning default.
 * 3. The embed worker end to end (records on a durable topic → store): records/s with the hash backend
 *    (goal ≥ 20,000/s) and with the tiny model (on a model thread, the default on 2+ cores, and on the
 *    main thread, EMBED_MODEL_THREAD=0) vs the slower of the embedder's own batch
 *    throughput (its best configuration) and the durable topic's consume throughput: the better worker
 *    set-up against a group member that does nothing else and commits in the background, as the worker
 *    does (goal ≥ 0.8×); beside it, without a verdict, the default set-up against a member that awaits a
 *    commit after every batch (fsync-bound). Also the main thread's CPU per record of each, and both
 *    set-ups with onnxruntime's idle threads spinning (its default, and ours before; DSPY_EMBED_SPIN=1).
 * 4. RSS of a worker process while 200,000 records stream through it after 200,000 records of warm-up
 *    (goal: flat within ±20 MB).
 *
 * Usage: `deno run -A bench/embed_bench.ts [--json] [--quick] [--rounds N] [--only engine,server,worker,rss]
 * [--rss-records N]` (records streamed through the RSS section's worker, default 400,000; `--quick` streams
 * 80,000, too few for the warm-up to end, so its memory figure only shows that the section runs).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { closeAllKv } from "../core/kv.ts";
import {
  createHashEmbedder,
  createLocalEmbedder,
  type Embedder,
  MODEL_THREAD_BY_DEFAULT,
  readWorkerMetrics,
  runEmbedWorker,
  servedModelSpins,
  storeDir,
} from "../embeddings/mod.ts";
import { benchBus, drainGroup, ingestRecords } from "./durable_fixtures.ts";
import { cpuSeconds, mainThreadSeconds } from "./proc_cpu.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    only: { type: "string" },
    "rss-records": { type: "string" },
  },
});
/** `--only engine,server,worker,rss`: run some sections (default all). */
const only = new Set((values.only ?? "engine,server,worker,rss").split(","));
const quick = values.quick;
const rounds = values.rounds ? Number(values.rounds) : quick ? 1 : 3;
const log = values.json ? (_: string) => {} : (line: string) => console.error(line);
const TINY = fileURLToPath(new URL("../tests/fixtures/tiny-bert", import.meta.url));
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const r2 = (x: number) => Math.round(x * 100) / 100;
const words = "retry backoff kafka consumer offset commit topic message batch vector search index embed model"
  .split(
    " ",
  );
const textOf = (i: number) => `${words[i % 14]} ${words[(i * 7) % 14]} record ${i} ${words[(i * 3) % 14]}`;

/**
 * A rate measured both ways, and the main thread's CPU microseconds per item where measured. On a shared,
 * overloaded machine the work done per CPU second is a steadier measure of efficiency than the wall-clock
 * rate, so the bench reports both.
 */
interface Rate {
  wall: number;
  cpu: number;
  mainUs?: number;
}

// ---------------------------------------------------------------------------------------------------------
// 1 + 2: the server.

async function startServe(
  extra: string[],
  env: Record<string, string> = {},
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "embed", "serve", "--port", "0", "--model", `tiny=${TINY}`, "--json", ...extra],
    stdout: "piped",
    stderr: "inherit",
    env: { INFERMESH_API_KEY: "", ...env },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("embed serve exited");
    text += value;
  }
  reader.releaseLock();
  return {
    url: JSON.parse(text).url,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

let wrkDir: string | null = null;
const hasWrk = (() => {
  try {
    return new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync() !==
      null;
  } catch {
    return false;
  }
})();

/**
 * `clients` connections POSTing `perRequest` texts each for `ms`: requests/s and texts/s. Uses wrk (a C load
 * generator: the client must not be the bottleneck on a 2-core machine), else fetch loops in this process.
 */
async function load(server: { url: string; pid: number }, clients: number, perRequest: number, ms: number) {
  const cpu0 = cpuSeconds(server.pid);
  const r = await loadOnly(server.url, clients, perRequest, ms);
  const cpu = Math.max(0.01, cpuSeconds(server.pid) - cpu0);
  return { ...r, rpcs: (r.rps * ms) / 1000 / cpu, tpcs: (r.tps * ms) / 1000 / cpu };
}

async function loadOnly(url: string, clients: number, perRequest: number, ms: number) {
  if (hasWrk) {
    wrkDir ??= await Deno.makeTempDir({ prefix: "dspy-embed-wrk-" });
    const script = join(wrkDir, `post-${perRequest}.lua`);
    const body = JSON.stringify({ inputs: Array.from({ length: perRequest }, (_, i) => textOf(i)) });
    await Deno.writeTextFile(
      script,
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${
        JSON.stringify(body)
      }\n`,
    );
    const out = await new Deno.Command("wrk", {
      args: ["-t1", `-c${clients}`, `-d${Math.max(1, Math.round(ms / 1000))}s`, "-s", script, `${url}/embed`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
    if (!Number.isFinite(rps) || /Non-2xx/.test(text)) throw new Error(`wrk failed: ${text}`);
    return { rps, tps: rps * perRequest };
  }
  const end = performance.now() + ms;
  let requests = 0;
  let failed = 0;
  let n = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      const inputs = Array.from({ length: perRequest }, () => textOf(n++));
      const res = await fetch(`${url}/embed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs }),
      });
      await res.arrayBuffer();
      if (res.ok) requests++;
      else failed++;
    }
  }));
  const sec = (performance.now() - started) / 1000;
  if (failed) throw new Error(`${failed} requests failed during the load`);
  return { rps: requests / sec, tps: (requests * perRequest) / sec };
}

/** Texts and model calls so far, from the server's /metrics (for the mean batch size under load). */
async function modelCalls(url: string): Promise<{ texts: number; batches: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name: string) => {
    let n = 0;
    for (const m of text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "gm"))) n += Number(m[1]);
    return n;
  };
  return { texts: sum("infermesh_texts_total"), batches: sum("infermesh_batches_total") };
}

async function inProcessTexts(embedder: Embedder, batch: number, ms: number): Promise<Rate> {
  const cpu0 = cpuSeconds("self");
  const end = performance.now() + ms;
  const started = performance.now();
  let texts = 0;
  let n = 0;
  while (performance.now() < end) {
    await embedder.embed(Array.from({ length: batch }, () => textOf(n++)));
    texts += batch;
  }
  return { wall: texts / ((performance.now() - started) / 1000), cpu: texts / (cpuSeconds("self") - cpu0) };
}

// ---------------------------------------------------------------------------------------------------------
// 3: the worker.

/**
 * A group member reading the topic. `commitEachBatch`: it awaits a commit after every batch (a plain
 * at-least-once consumer; fsync-bound). Otherwise it only acknowledges and the group commits in the
 * background every 20 ms, as the worker's commits run beside its pipeline: the fair baseline for the worker.
 */
async function consumeBaseline(
  ws: string,
  topic: string,
  n: number,
  group: string,
  commitEachBatch: boolean,
): Promise<Rate> {
  const bus = await benchBus(ws);
  try {
    const started = performance.now();
    const cpu0 = cpuSeconds("self");
    const main0 = mainThreadSeconds();
    await drainGroup(bus, topic, group, n, { maxsize: 1000, commitEachBatch });
    return {
      wall: n / ((performance.now() - started) / 1000),
      cpu: n / (cpuSeconds("self") - cpu0),
      mainUs: ((mainThreadSeconds() - main0) / n) * 1e6,
    };
  } finally {
    await bus.close();
  }
}

async function workerRun(
  ws: string,
  topic: string,
  n: number,
  embedder: Embedder,
  group: string,
): Promise<Rate> {
  await Deno.remove(storeDir(ws), { recursive: true }).catch(() => {});
  const bus = await benchBus(ws);
  const ac = new AbortController();
  let started = 0;
  let finished = 0;
  try {
    const run = runEmbedWorker({
      bus,
      workspace: ws,
      embedder,
      inputTopic: topic,
      group,
      batchSize: 64,
      maxWaitSec: 0.05,
      metricsIntervalSec: 0,
      signal: ac.signal,
      onBatch(m) {
        if (started === 0) started = performance.now();
        if (m.records_out >= n && finished === 0) {
          finished = performance.now();
          ac.abort();
        }
      },
    });
    const t0 = performance.now();
    const cpu0 = cpuSeconds("self");
    const main0 = mainThreadSeconds();
    await run;
    const cpu = cpuSeconds("self") - cpu0;
    // The first batch's own time counts too: measure from the start of the run.
    return {
      wall: n / (((finished || performance.now()) - t0) / 1000),
      cpu: n / cpu,
      mainUs: ((mainThreadSeconds() - main0) / n) * 1e6,
    };
  } finally {
    await bus.close();
    // The store goes at once, so its pages still waiting to be written cannot slow the next measurement (the
    // next consume's KV fsyncs would write them out).
    await Deno.remove(storeDir(ws), { recursive: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------

const result: Record<string, unknown> = { rounds, machine_load: Deno.loadavg() };
const tiny = await createLocalEmbedder({ modelPath: TINY, batchSize: 64 });
await tiny.embed(["warm up"]);

// 0: the embedder itself, our path vs the transformers.js pipeline it replaces (same model, same texts).
if (only.has("engine")) {
  const ms = quick ? 1000 : 2000;
  const pipeline = await createLocalEmbedder({ modelPath: TINY, batchSize: 64, engine: "transformers" });
  await pipeline.embed(["warm up"]);
  type Row = { fast64: Rate; fast1: Rate; pipe64: Rate; pipe1: Rate };
  const rows: Row[] = [];
  for (let r = 0; r < rounds; r++) {
    const row = {
      fast64: await inProcessTexts(tiny, 64, ms),
      pipe64: await inProcessTexts(pipeline, 64, ms),
      fast1: await inProcessTexts(tiny, 1, ms),
      pipe1: await inProcessTexts(pipeline, 1, ms),
    };
    rows.push(row);
    const f = (x: Rate) => `${x.wall.toFixed(0)}/s (${x.cpu.toFixed(0)}/CPU-s)`;
    log(
      `round ${r + 1}: embedder, 64-text calls: ours ${f(row.fast64)}, transformers.js pipeline ` +
        `${f(row.pipe64)}; one-text calls: ours ${f(row.fast1)}, pipeline ${f(row.pipe1)}`,
    );
  }
  await pipeline.dispose();
  const ratio = (a: (x: Row) => Rate, b: (x: Row) => Rate) => ({
    wall: r2(median(rows.map((x) => a(x).wall / b(x).wall))),
    cpu: r2(median(rows.map((x) => a(x).cpu / b(x).cpu))),
  });
  result.engine = {
    texts_per_s_batch64: Math.round(median(rows.map((x) => x.fast64.wall))),
    pipeline_texts_per_s_batch64: Math.round(median(rows.map((x) => x.pipe64.wall))),
    texts_per_s_single: Math.round(median(rows.map((x) => x.fast1.wall))),
    pipeline_texts_per_s_single: Math.round(median(rows.map((x) => x.pipe1.wall))),
    speedup_batch64: ratio((x) => x.fast64, (x) => x.pipe64),
    speedup_single: ratio((x) => x.fast1, (x) => x.pipe1),
  };
}

// 1 + 2
if (only.has("server")) {
  const ms = quick ? 1500 : 3000;
  const batching = await startServe([]);
  const noBatching = await startServe(["--no-batching"]);
  // The batching server with onnxruntime's idle threads asleep, as every other command loads models: what
  // `embed serve`'s spinning default is measured against.
  const quiet = await startServe([], { DSPY_EMBED_SPIN: "0" });
  // The in-process baseline loads the model as `embed serve` does (onnxruntime's idle threads spinning).
  const served = await createLocalEmbedder({
    modelPath: TINY,
    batchSize: 64,
    spin: servedModelSpins(),
  });
  await served.embed(["warm up"]);
  type Row = {
    batched: Rate;
    unbatched: Rate;
    server64: Rate;
    quietBatched: Rate;
    quietServer64: Rate;
    inproc64: Rate;
    inproc1: Rate;
    meanBatch: number;
  };
  const rows: Row[] = [];
  try {
    await load(batching, 8, 1, 300);
    await load(noBatching, 8, 1, 300);
    await load(quiet, 8, 1, 300);
    for (let r = 0; r < rounds; r++) {
      const calls0 = await modelCalls(batching.url);
      const b = await load(batching, 64, 1, ms);
      const calls1 = await modelCalls(batching.url);
      const meanBatch = (calls1.texts - calls0.texts) / Math.max(1, calls1.batches - calls0.batches);
      const u = await load(noBatching, 64, 1, ms);
      const s = await load(batching, 4, 64, ms);
      const qb = await load(quiet, 64, 1, ms);
      const qs = await load(quiet, 4, 64, ms);
      const p = await inProcessTexts(served, 64, ms);
      const p1 = await inProcessTexts(served, 1, ms);
      rows.push({
        meanBatch,
        inproc1: p1,
        batched: { wall: b.rps, cpu: b.rpcs },
        unbatched: { wall: u.rps, cpu: u.rpcs },
        server64: { wall: s.tps, cpu: s.tpcs },
        quietBatched: { wall: qb.rps, cpu: qb.rpcs },
        quietServer64: { wall: qs.tps, cpu: qs.tpcs },
        inproc64: p,
      });
      log(
        `round ${r + 1}: 64 clients x 1 text: batching ${b.rps.toFixed(0)} req/s (${
          b.rpcs.toFixed(0)
        }/CPU-s, ${meanBatch.toFixed(1)} texts a model call), ` +
          `no batching ${u.rps.toFixed(0)} req/s (${u.rpcs.toFixed(0)}/CPU-s); batches of 64: server ` +
          `${s.tps.toFixed(0)} texts/s (${s.tpcs.toFixed(0)}/CPU-s), in-process ${
            p.wall.toFixed(0)
          } texts/s ` +
          `(${p.cpu.toFixed(0)}/CPU-s); not spinning: ${qb.rps.toFixed(0)} req/s, ${
            qs.tps.toFixed(0)
          } texts/s`,
      );
    }
  } finally {
    await batching.stop();
    await noBatching.stop();
    await quiet.stop();
    await served.dispose();
  }
  const both = (f: (x: Row) => [Rate, Rate]) => ({
    wall: r2(median(rows.map((x) => f(x)[0].wall / f(x)[1].wall))),
    cpu: r2(median(rows.map((x) => f(x)[0].cpu / f(x)[1].cpu))),
  });
  result.server = {
    client: hasWrk ? "wrk" : "fetch",
    batching_rps: Math.round(median(rows.map((x) => x.batched.wall))),
    no_batching_rps: Math.round(median(rows.map((x) => x.unbatched.wall))),
    batching_ratio: both((x) => [x.batched, x.unbatched]),
    // Texts per model call of the batching server under the 64 connections (from its /metrics).
    batching_mean_batch: r2(median(rows.map((x) => x.meanBatch))),
    server_texts_per_s_batch64: Math.round(median(rows.map((x) => x.server64.wall))),
    in_process_texts_per_s_batch64: Math.round(median(rows.map((x) => x.inproc64.wall))),
    server_to_in_process_ratio: both((x) => [x.server64, x.inproc64]),
    // embed serve's default (onnxruntime's idle threads spinning) against the same server not spinning.
    not_spinning_batching_rps: Math.round(median(rows.map((x) => x.quietBatched.wall))),
    not_spinning_server_texts_per_s_batch64: Math.round(median(rows.map((x) => x.quietServer64.wall))),
    spinning_to_not_ratio: {
      batching: both((x) => [x.batched, x.quietBatched]),
      batch64: both((x) => [x.server64, x.quietServer64]),
    },
    // The ceiling for batching with this model: one call of 64 texts vs 64 calls of one, in-process.
    model_batch64_vs_single_ratio: both((x) => [x.inproc64, x.inproc1]),
  };
}

// 3
if (only.has("worker")) {
  const n = quick ? 10_000 : 100_000;
  const ws = await Deno.makeTempDir({ prefix: "dspy-embed-bench-" });
  try {
    await ingestRecords(ws, "bench_input", n, textOf);
    // The worker is measured with both set-ups, the model thread (the default on 2+ cores) and the model on
    // the main thread (EMBED_MODEL_THREAD=0); "the default set-up" is the one `embed worker` picks here, and
    // the goal takes the better. The embedder's own throughput is its best configuration in the round.
    const modelThread = MODEL_THREAD_BY_DEFAULT;
    const tinyThread = await createLocalEmbedder({ modelPath: TINY, batchSize: 64, thread: true });
    await tinyThread.embed(["warm up"]);
    // onnxruntime's own default, which we had before: idle intra-op threads spin (DSPY_EMBED_SPIN=1).
    const tinySpin = await createLocalEmbedder({ modelPath: TINY, batchSize: 64, spin: true });
    await tinySpin.embed(["warm up"]);
    const tinyThreadSpin = await createLocalEmbedder({
      modelPath: TINY,
      batchSize: 64,
      thread: true,
      spin: true,
    });
    await tinyThreadSpin.embed(["warm up"]);
    type Row = {
      consume: Rate;
      consumeBackground: Rate;
      embedder: Rate;
      embedderThread: Rate;
      embedderSpin: Rate;
      hash: Rate;
      /** The default set-up and the other one with onnxruntime's idle threads spinning. */
      tinySpinning: Rate;
      otherSpinning: Rate;
      tiny: Rate;
      other: Rate;
    };
    const rows: Row[] = [];
    for (let r = 0; r < rounds; r++) {
      const consume = await consumeBaseline(ws, "bench_input", n, `consume-${r}`, true);
      const consumeBackground = await consumeBaseline(ws, "bench_input", n, `consume-bg-${r}`, false);
      const embedder = await inProcessTexts(tiny, 64, quick ? 1500 : 3000);
      const embedderThread = await inProcessTexts(tinyThread, 64, quick ? 1500 : 3000);
      const embedderSpin = await inProcessTexts(tinySpin, 64, quick ? 1500 : 3000);
      const hash = await workerRun(ws, "bench_input", n, createHashEmbedder(), `hash-${r}`);
      const onMain = await workerRun(ws, "bench_input", n, tiny, `tiny-${r}`);
      const onThread = await workerRun(ws, "bench_input", n, tinyThread, `tiny-thread-${r}`);
      const spinning = await workerRun(ws, "bench_input", n, tinySpin, `tiny-spin-${r}`);
      const threadSpinning = await workerRun(ws, "bench_input", n, tinyThreadSpin, `tiny-thread-spin-${r}`);
      const [t, other] = modelThread ? [onThread, onMain] : [onMain, onThread];
      const [tinySpinning, otherSpinning] = modelThread
        ? [threadSpinning, spinning]
        : [spinning, threadSpinning];
      rows.push({
        consume,
        consumeBackground,
        embedder,
        embedderThread,
        embedderSpin,
        hash,
        tiny: t,
        other,
        tinySpinning,
        otherSpinning,
      });
      const f = (x: Rate) =>
        `${x.wall.toFixed(0)}/s (${x.cpu.toFixed(0)}/CPU-s${
          x.mainUs === undefined ? "" : `, main thread ${x.mainUs.toFixed(1)} µs each`
        })`;
      log(
        `round ${r + 1}: durable consume ${f(consume)} (committing in the background ${
          f(consumeBackground)
        }), tiny embedder ${f(embedder)} (on a model thread ` +
          `${f(embedderThread)}, spinning ${f(embedderSpin)}), worker hash ${f(hash)}, worker tiny ${
            f(onMain)
          } (with a model thread ${f(onThread)}; spinning: ${f(spinning)}, with a model thread ${
            f(threadSpinning)
          })`,
      );
    }
    await tinyThread.dispose();
    await tinySpin.dispose();
    await tinyThreadSpin.dispose();
    const med = (g: (x: Row) => Rate) => ({
      wall: Math.round(median(rows.map((x) => g(x).wall))),
      cpu: Math.round(median(rows.map((x) => g(x).cpu))),
      ...(g(rows[0]).mainUs === undefined ? {} : { main_us: r2(median(rows.map((x) => g(x).mainUs!))) }),
    });
    /** The embedder's best configuration in this round. */
    const best = (x: Row, k: "wall" | "cpu") =>
      Math.max(x.embedder[k], x.embedderThread[k], x.embedderSpin[k]);
    const bottleneck = (x: Row, k: "wall" | "cpu") => x.tiny[k] / Math.min(x.consume[k], best(x, k));
    const fairBottleneck = (x: Row, k: "wall" | "cpu") =>
      Math.max(x.tiny[k], x.other[k]) / Math.min(x.consumeBackground[k], best(x, k));
    result.worker = {
      records: n,
      model_thread: modelThread,
      durable_consume_per_s: med((x) => x.consume),
      durable_consume_background_commits_per_s: med((x) => x.consumeBackground),
      tiny_embedder_texts_per_s: med((x) => x.embedder),
      tiny_embedder_on_model_thread_texts_per_s: med((x) => x.embedderThread),
      tiny_embedder_spinning_texts_per_s: med((x) => x.embedderSpin),
      // The default worker with onnxruntime's idle threads spinning (its default, and ours before) and the ratio.
      tiny_worker_spinning_records_per_s: med((x) => x.tinySpinning),
      tiny_worker_to_spinning_ratio: {
        wall: r2(median(rows.map((x) => x.tiny.wall / x.tinySpinning.wall))),
        cpu: r2(median(rows.map((x) => x.tiny.cpu / x.tinySpinning.cpu))),
      },
      tiny_worker_other_setup_spinning_records_per_s: med((x) => x.otherSpinning),
      tiny_worker_other_setup_to_spinning_ratio: {
        wall: r2(median(rows.map((x) => x.other.wall / x.otherSpinning.wall))),
        cpu: r2(median(rows.map((x) => x.other.cpu / x.otherSpinning.cpu))),
      },
      hash_worker_records_per_s: med((x) => x.hash),
      tiny_worker_records_per_s: med((x) => x.tiny),
      // The other set-up (model thread on two cores, main thread with more), for comparison.
      tiny_worker_other_setup_records_per_s: med((x) => x.other),
      tiny_worker_other_setup_to_bottleneck_ratio: r2(
        median(rows.map((x) => x.other.wall / Math.min(x.consume.wall, best(x, "wall")))),
      ),
      tiny_worker_to_bottleneck_ratio: {
        wall: r2(median(rows.map((x) => bottleneck(x, "wall")))),
        cpu: r2(median(rows.map((x) => bottleneck(x, "cpu")))),
      },
      // The worker's better set-up against a consume whose commits, like the worker's, run in the background.
      best_worker_to_background_commit_bottleneck_ratio: {
        wall: r2(median(rows.map((x) => fairBottleneck(x, "wall")))),
        cpu: r2(median(rows.map((x) => fairBottleneck(x, "cpu")))),
      },
      // By round, to show how far the ratio follows the consume (fsync-bound: it commits every batch).
      tiny_worker_to_bottleneck_by_round: rows.map((x) => r2(bottleneck(x, "wall"))),
      durable_consume_by_round: rows.map((x) => Math.round(x.consume.wall)),
      tiny_worker_by_round: rows.map((x) => Math.round(x.tiny.wall)),
      // CPU per record of the worker vs consuming + embedding it (their costs add up when nothing overlaps).
      tiny_worker_cpu_to_sum_of_parts: r2(
        median(rows.map((x) => x.tiny.cpu * (1 / x.consume.cpu + 1 / best(x, "cpu")))),
      ),
    };
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
}

// 4
if (only.has("rss")) {
  // Judged over the second half: the first fills the caches (see `warm` below).
  const total = values["rss-records"] ? Number(values["rss-records"]) : quick ? 80_000 : 400_000;
  if (!Number.isInteger(total) || total < 20_000) {
    throw new Error(`--rss-records ${values["rss-records"]}: use a whole number of at least 20000`);
  }
  const ws = await Deno.makeTempDir({ prefix: "dspy-embed-rss-" });
  const bus = await benchBus(ws);
  await bus.configureTopic("embedding_input", { durable: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--workspace", ws, "embed", "worker", "--backend", "hash", "--json"],
    stdout: "piped",
    stderr: "null",
    env: { BUS_METRICS_INTERVAL: "0" },
  }).spawn();
  /** VmRSS, and its anonymous part (heap, native allocations) vs file-backed pages (mapped files). */
  const mem = () => {
    try {
      const st = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
      return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
    } catch {
      return { rss: NaN, anon: NaN, file: NaN };
    }
  };
  const samples: { done: number; rss: number; anon: number; file: number; heap: number }[] = [];
  let done = 0;
  const sampler = setInterval(async () => {
    const ms = await readWorkerMetrics(ws);
    done = ms[0]?.records_out ?? 0;
    samples.push({ done, ...mem(), heap: (ms[0]?.heap_used_bytes ?? NaN) / 1024 / 1024 });
  }, 250);
  try {
    // Produce in chunks, keeping the lag under 50,000 (the topic keeps 100,000 messages).
    for (let i = 0; i < total; i += 10_000) {
      while (i - done > 50_000) await new Promise((r) => setTimeout(r, 100));
      const pubs: Promise<void>[] = [];
      for (let j = i; j < i + 10_000; j++) {
        const p = bus.publish("embedding_input", { text: textOf(j), doc_id: `r${j}` });
        if (p) pubs.push(p);
      }
      await Promise.all(pubs);
    }
    while (done < total) await new Promise((r) => setTimeout(r, 100));
  } finally {
    clearInterval(sampler);
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await bus.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
  const valid = samples.filter((s) => Number.isFinite(s.rss));
  // Warm-up: V8 sizes its heap, the vector cache and SQLite's page cache fill, and the input topic grows to
  // its retention (100,000 messages); RSS rose for the first 100,000-200,000 records (docs/embeddings.md,
  // "Memory after warm-up"), so flatness is judged over the second half.
  const warm = valid.filter((s) => s.done >= total * 0.5);
  const base = warm[0]?.rss ?? NaN;
  const after = warm.map((s) => s.rss);
  result.rss = {
    records: total,
    rss_at_half_mb: r2(base),
    rss_max_after_mb: r2(Math.max(...after)),
    rss_min_after_mb: r2(Math.min(...after)),
    rss_end_mb: r2(after.at(-1) ?? NaN),
    spread_mb: r2(Math.max(...after) - Math.min(...after)),
    anon_spread_mb: r2(Math.max(...warm.map((x) => x.anon)) - Math.min(...warm.map((x) => x.anon))),
    heap_at_half_mb: r2(warm[0]?.heap ?? NaN),
    heap_end_mb: r2(warm.at(-1)?.heap ?? NaN),
    by_quarter: [0.25, 0.5, 0.75, 1].map((q) => {
      const s = valid.find((x) => x.done >= total * q) ?? valid.at(-1)!;
      return {
        records: s.done,
        rss_mb: r2(s.rss),
        anon_mb: r2(s.anon),
        file_mb: r2(s.file),
        heap_mb: r2(s.heap),
      };
    }),
  };
}

await tiny.dispose();
if (wrkDir) await Deno.remove(wrkDir, { recursive: true });
if (values.json) console.log(JSON.stringify(result));
else {
  type R = { wall: number; cpu: number };
  const s = result.server as
    | (
      & { batching_rps: number; no_batching_rps: number; batching_ratio: R }
      & Record<
        string,
        // deno-lint-ignore no-explicit-any -- a report object read back for printing
        any
      >
    )
    | undefined;
  const w = result.worker as
    | (Record<string, R> & {
      tiny_worker_cpu_to_sum_of_parts: number;
      model_thread: boolean;
      tiny_worker_other_setup_to_bottleneck_ratio: number;
      tiny_worker_to_bottleneck_by_round: number[];
      tiny_worker_by_round: number[];
      durable_consume_by_round: number[];
    })
    | undefined;
  const m = result.rss as Record<string, number> | undefined;
  const goal = (ok: boolean) => (ok ? "meets" : "BELOW");
  const e = result.engine as Record<string, number & R> | undefined;
  const rr = (x: R, g: number) =>
    `${x.wall}x wall (${goal(x.wall >= g)}), ${x.cpu}x per CPU-s (${goal(x.cpu >= g)})`;
  console.log(
    `load average at start: ${(result.machine_load as number[]).map((x) => x.toFixed(2)).join(" ")}`,
  );
  if (e) {
    console.log(
      `embedder (tiny model, in-process): 64-text calls ${e.texts_per_s_batch64} texts/s vs the transformers.js ` +
        `pipeline ${e.pipeline_texts_per_s_batch64}: ${e.speedup_batch64.wall}x wall, ${e.speedup_batch64.cpu}x ` +
        `per CPU-s; one-text calls ${e.texts_per_s_single} vs ${e.pipeline_texts_per_s_single}: ` +
        `${e.speedup_single.wall}x wall, ${e.speedup_single.cpu}x per CPU-s`,
    );
  }
  if (s) {
    console.log(
      `server, 64 clients x 1 text: batching ${s.batching_rps} req/s vs --no-batching ${s.no_batching_rps} req/s: ` +
        `${
          rr(s.batching_ratio, 3)
        } goal 3x (${s.batching_mean_batch} texts a model call); the model alone, 64-text calls vs one-text calls in-process: ` +
        `${s.model_batch64_vs_single_ratio.wall}x wall, ${s.model_batch64_vs_single_ratio.cpu}x per CPU-s`,
    );
    console.log(
      `server, batches of 64: ${s.server_texts_per_s_batch64} texts/s vs in-process ${s.in_process_texts_per_s_batch64} ` +
        `texts/s: ${rr(s.server_to_in_process_ratio, 0.7)} goal 0.7x`,
    );
    const sp = s.spinning_to_not_ratio;
    console.log(
      `server spinning (its default) vs not: 64 clients x 1 text ${s.batching_rps} vs ${s.not_spinning_batching_rps} ` +
        `req/s (${sp.batching.wall}x wall, ${sp.batching.cpu}x per CPU-s); batches of 64 ` +
        `${s.server_texts_per_s_batch64} vs ${s.not_spinning_server_texts_per_s_batch64} texts/s ` +
        `(${sp.batch64.wall}x wall, ${sp.batch64.cpu}x per CPU-s)`,
    );
  }
  if (w) {
    const mainUs = (x: R & { main_us?: number }) => `${x.main_us} µs`;
    console.log(
      `worker, hash backend: ${w.hash_worker_records_per_s.wall} records/s, ${w.hash_worker_records_per_s.cpu} per ` +
        `CPU-s (goal 20,000/s); durable consume alone ${w.durable_consume_per_s.wall}/s, ` +
        `${w.durable_consume_per_s.cpu} per CPU-s (committing in the background ` +
        `${w.durable_consume_background_commits_per_s.wall}/s, ${w.durable_consume_background_commits_per_s.cpu} ` +
        `per CPU-s)`,
    );
    // The goal's verdict is against the consume whose commits, like the worker's, run in the background; the
    // consume that awaits a commit per batch is fsync-bound and swings round to round, so its ratio is shown
    // without a verdict.
    console.log(
      `worker, tiny model, the better set-up: ${
        Math.max(w.tiny_worker_records_per_s.wall, w.tiny_worker_other_setup_records_per_s.wall)
      } records/s vs min(embedder ${w.tiny_embedder_texts_per_s.wall} (on a model thread ` +
        `${w.tiny_embedder_on_model_thread_texts_per_s.wall}, spinning ${w.tiny_embedder_spinning_texts_per_s.wall}), ` +
        `consume committing in the background ` +
        `${w.durable_consume_background_commits_per_s.wall}): ` +
        `${rr(w.best_worker_to_background_commit_bottleneck_ratio, 0.8)} goal 0.8x`,
    );
    console.log(
      `  the default set-up${w.model_thread ? " (model thread)" : ""}: ${w.tiny_worker_records_per_s.wall} ` +
        `records/s; against the consume awaiting a commit per batch (${w.durable_consume_per_s.wall}/s): ` +
        `${w.tiny_worker_to_bottleneck_ratio.wall}x wall, ${w.tiny_worker_to_bottleneck_ratio.cpu}x per CPU-s; ` +
        `per CPU-s vs consume + embed together: ${w.tiny_worker_cpu_to_sum_of_parts}x`,
    );
    console.log(
      `  onnxruntime's idle threads not spinning (now) vs spinning (its default, ours before), default set-up${
        w.model_thread ? " (model thread)" : ""
      }: ` +
        `${w.tiny_worker_records_per_s.wall} vs ${w.tiny_worker_spinning_records_per_s.wall} records/s, ` +
        `${w.tiny_worker_records_per_s.cpu} vs ${w.tiny_worker_spinning_records_per_s.cpu} per CPU-s: ` +
        `${w.tiny_worker_to_spinning_ratio.wall}x wall, ${w.tiny_worker_to_spinning_ratio.cpu}x per CPU-s; ` +
        `the other set-up (${
          w.model_thread ? "model on the main thread" : "model thread"
        }) ${w.tiny_worker_other_setup_records_per_s.wall} vs ` +
        `${w.tiny_worker_other_setup_spinning_records_per_s.wall} records/s, ` +
        `${w.tiny_worker_other_setup_records_per_s.cpu} vs ${w.tiny_worker_other_setup_spinning_records_per_s.cpu} ` +
        `per CPU-s: ${w.tiny_worker_other_setup_to_spinning_ratio.wall}x wall, ` +
        `${w.tiny_worker_other_setup_to_spinning_ratio.cpu}x per CPU-s`,
    );
    console.log(
      `  by round, against the awaiting consume: ratio ${w.tiny_worker_to_bottleneck_by_round.join(", ")}; ` +
        `worker ${w.tiny_worker_by_round.join(", ")} records/s; consume ${
          w.durable_consume_by_round.join(", ")
        } records/s`,
    );
    console.log(
      `  the other set-up (${w.model_thread ? "model on the main thread" : "model thread"}): ` +
        `${w.tiny_worker_other_setup_records_per_s.wall} records/s, ` +
        `${w.tiny_worker_other_setup_to_bottleneck_ratio}x wall of the awaiting consume's bottleneck`,
    );
    console.log(
      `  main-thread CPU per record: consume ${mainUs(w.durable_consume_per_s)}, worker hash ` +
        `${mainUs(w.hash_worker_records_per_s)}, worker tiny ${mainUs(w.tiny_worker_records_per_s)} (other ` +
        `set-up ${mainUs(w.tiny_worker_other_setup_records_per_s)})`,
    );
  }
  if (m) {
    console.log(
      `worker RSS over ${m.records} records: ${m.rss_at_half_mb} MB at half-way, ${m.rss_min_after_mb}-${m.rss_max_after_mb} MB ` +
        `after, end ${m.rss_end_mb} MB, spread ${m.spread_mb} MB (${goal(m.spread_mb <= 20)} goal ±20 MB); ` +
        `anonymous memory spread ${m.anon_spread_mb} MB; V8 heap ${m.heap_at_half_mb} -> ${m.heap_end_mb} MB`,
    );
    console.log(`  by quarter: ${JSON.stringify((result.rss as { by_quarter: unknown }).by_quarter)}`);
  }
}
Deno.exit(0);
