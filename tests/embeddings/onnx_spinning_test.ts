// onnxruntime's idle intra-op threads spin by default, each taking a whole core while the caller does other
// work between model calls. Our local embedder turns that off unless asked (`spin`, DSPY_EMBED_SPIN): these
// tests read each thread's CPU time from /proc while a caller alternates model calls with work of its own.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { UserError } from "../../core/errors.ts";
import { createLocalEmbedder, parseEmbedSpin } from "../../embeddings/local_embedder.ts";
import { threadSeconds } from "../../bench/proc_cpu.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));
// onnxruntime-node keeps a native thread pool alive for the process.
const NATIVE = { sanitizeResources: false, sanitizeOps: false };

/**
 * Cores' worth of CPU the busiest thread that loading the model started (onnxruntime's pool) used while the
 * caller alternated a 64-text model call with 2 ms of its own work for about a second.
 */
async function busiestPoolThreadWhileCallerWorks(spin: boolean): Promise<number> {
  const existing = new Set(threadSeconds().keys());
  const embedder = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 64, spin });
  try {
    const texts = Array.from({ length: 64 }, (_, i) => `record ${i} about consumer offsets and brokers`);
    await embedder.embed(texts);
    const before = threadSeconds();
    const started = performance.now();
    while (performance.now() - started < 1000) {
      await embedder.embed(texts);
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // the caller's own work: parsing, storing, committing in the embed worker
      }
    }
    const elapsedSec = (performance.now() - started) / 1000;
    let busiest = 0;
    for (const [tid, t] of threadSeconds()) {
      if (!existing.has(tid)) busiest = Math.max(busiest, t - (before.get(tid) ?? 0));
    }
    return busiest / elapsedSec;
  } finally {
    await embedder.dispose();
  }
}

const canMeasure = Deno.build.os === "linux" && navigator.hardwareConcurrency >= 2;

Deno.test({
  name: "local embedder: onnxruntime's idle threads do not spin while the caller works between calls",
  ignore: !canMeasure,
  ...NATIVE,
  fn: async () => {
    const quiet = await busiestPoolThreadWhileCallerWorks(false);
    const spinning = await busiestPoolThreadWhileCallerWorks(true);
    // Spinning, onnxruntime's pool thread runs flat out through the caller's 2 ms gaps (about a core on a
    // quiet machine, half of one with two busy processes beside it); not spinning, it wakes only for the
    // model's parallel sections (under 0.05 cores with the tiny model).
    assert.ok(spinning > 0.2, `with spin: true the pool thread should spin (${spinning.toFixed(2)} cores)`);
    assert.ok(quiet < 0.1, `the pool thread used ${quiet.toFixed(2)} cores without spinning`);
  },
});

Deno.test("DSPY_EMBED_SPIN: 1 or 0 override, unset leaves the default, anything else says what to use", () => {
  // The parser, not the variable: test files run in parallel in one process, whose environment they share.
  assert.equal(parseEmbedSpin(undefined), undefined);
  assert.equal(parseEmbedSpin(""), undefined);
  assert.equal(parseEmbedSpin("1"), true);
  assert.equal(parseEmbedSpin("0"), false);
  assert.throws(
    () => parseEmbedSpin("yes"),
    (err: unknown) => err instanceof UserError && /use 1/.test(err.message),
  );
});
