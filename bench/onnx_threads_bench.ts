/**
 * onnxruntime's threads on a local model (`deno run -A bench/onnx_threads_bench.ts`): the same 64-text calls
 * with the session as we load it (idle intra-op threads sleep), as onnxruntime loads it by default (they
 * spin) and with one intra-op thread, interleaved round by round, medians. Each is timed twice: calls back to
 * back (the model alone), and with the caller busy for `--gap-ms` between calls (as the embed worker is,
 * consuming, storing and committing), where spinning threads burn a core the caller could use. Reports texts/s
 * and texts per CPU-second of the whole process, and the cores' worth of CPU onnxruntime's pool thread used. Each measurement runs in a new process holding one session.
 *
 * Usage: `deno run -A bench/onnx_threads_bench.ts [--model-path DIR] [--calls 1000] [--rounds 3] [--gap-ms 2]`
 * (default model: the tiny test model; `bench/make_bert_shaped_model.py` makes one of all-MiniLM-L6-v2's size).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { parseArgv } from "../core/args.ts";
import { createLocalEmbedder, type LocalEmbedder } from "../embeddings/mod.ts";
import { threadSeconds, type TimedRate, timedRate } from "./proc_cpu.ts";
import { median } from "./stats.ts";

const { values } = parseArgv(Deno.args, {
  "model-path": { type: "string" },
  calls: { type: "string" },
  rounds: { type: "string" },
  "gap-ms": { type: "string" },
  child: { type: "string" },
});
const option = (name: string) => values[name] as string | undefined; // every option here takes a value
const modelPath = option("model-path") ??
  fileURLToPath(new URL("../tests/fixtures/tiny-bert", import.meta.url));
const calls = Number(option("calls") ?? 1000);
const rounds = Number(option("rounds") ?? 3);
const gapMs = Number(option("gap-ms") ?? 2);
for (const [name, v] of [["calls", calls], ["rounds", rounds], ["gap-ms", gapMs]] as const) {
  if (!Number.isFinite(v) || v < 0 || (name !== "gap-ms" && v < 1)) {
    throw new Error(`--${name} ${v}: use a positive number`);
  }
}

const words = "retry backoff kafka consumer offset commit topic message batch vector search index embed model"
  .split(" ");
const texts = Array.from(
  { length: 64 },
  (_, i) => Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(" ") + ` ${i}`,
);

/** A measurement, with the cores' worth of CPU onnxruntime's pool thread used meanwhile. */
type Measured = TimedRate & { poolCores: number };

/** The set-ups, each measured in a process of its own (one onnxruntime session, so no other pool's threads). */
const setups: Record<string, { spin?: boolean; threads?: number }> = {
  "not spinning (ours)": { spin: false },
  "spinning (onnxruntime's default)": { spin: true },
  "one intra-op thread": { threads: 1 },
};

const child = option("child");
if (child !== undefined) {
  // One measurement: `calls` model calls, each followed by `gap` ms of the caller's own work (a busy loop).
  const [name, gap] = JSON.parse(child) as [string, number];
  const existing = new Set(threadSeconds().keys());
  const e: LocalEmbedder = await createLocalEmbedder({ modelPath, batchSize: 64, ...setups[name] });
  for (let i = 0; i < 3; i++) await e.embed(texts);
  const before = threadSeconds();
  const started = performance.now();
  const m = await timedRate(async () => {
    for (let i = 0; i < calls; i++) {
      await e.embed(texts);
      const until = performance.now() + gap;
      while (performance.now() < until) { /* the caller's own work */ }
    }
    return calls * texts.length;
  });
  // The busiest thread the model load started: onnxruntime's intra-op pool (none with one thread).
  let poolSeconds = 0;
  for (const [tid, t] of threadSeconds()) {
    if (!existing.has(tid)) poolSeconds = Math.max(poolSeconds, t - (before.get(tid) ?? 0));
  }
  const measured: Measured = { ...m, poolCores: poolSeconds / ((performance.now() - started) / 1000) };
  console.log(JSON.stringify(measured));
  Deno.exit(0); // onnxruntime-node's thread pool keeps the process alive otherwise
}

async function measure(name: string, gap: number): Promise<Measured> {
  const args = [
    "run",
    "-A",
    fileURLToPath(import.meta.url),
    "--model-path",
    modelPath,
    "--calls",
    String(calls),
  ];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--child", JSON.stringify([name, gap])],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the measurement of '${name}' failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const names = Object.keys(setups);
const results = new Map<string, Measured[]>();
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length]; // each round starts with another set-up
    for (const gap of [0, gapMs]) {
      const key = `${name}|${gap}`;
      results.set(key, [...(results.get(key) ?? []), await measure(name, gap)]);
    }
  }
}

console.log(
  `${modelPath}: ${calls} calls of 64 texts, medians of ${rounds} rounds (load average ${
    Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  })`,
);
for (const gap of [0, gapMs]) {
  console.log(gap === 0 ? "calls back to back:" : `the caller busy ${gapMs} ms between calls:`);
  for (const name of names) {
    const ms = results.get(`${name}|${gap}`)!;
    const perSec = median(ms.map((m) => m.perSec));
    const perCpu = median(ms.map((m) => 1e6 / m.processUs));
    const pool = median(ms.map((m) => m.poolCores));
    console.log(
      `  ${name.padEnd(34)} ${perSec.toFixed(0).padStart(8)} texts/s  ${
        perCpu.toFixed(0).padStart(8)
      } per CPU-s  pool thread ${pool.toFixed(2)} cores`,
    );
  }
}
