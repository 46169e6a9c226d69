import assert from "node:assert/strict";
import { closeAllKv } from "../../core/kv.ts";
import { appendHistory, historyFile, readHistory } from "../../experiments/logs.ts";
import {
  createExperiment,
  finishedHistory,
  flushPendingHistory,
  updateExperiment,
} from "../../experiments/store.ts";
import { specFromArgs } from "../../experiments/params.ts";
import type { ExperimentRecord } from "../../experiments/types.ts";

async function withWorkspace(body: (ws: string) => Promise<void>): Promise<void> {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_hist_" }));
  await Deno.mkdir(`${ws}/data`);
  await Deno.writeTextFile(`${ws}/data/d.jsonl`, '{"text":"a"}\n');
  try {
    await body(ws);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
}

/** A queued record, then running: ready to end. */
async function runningRecord(ws: string): Promise<ExperimentRecord> {
  const spec = specFromArgs(["run", "embed", "--dataset", "data/d.jsonl", "--backend", "hash"]);
  const rec = await createExperiment(ws, spec, { trigger: "test" });
  const running = await updateExperiment(ws, rec.id, { status: "running", started: Date.now() });
  assert.ok(running);
  return running;
}

Deno.test("a run whose history append failed after its end was committed still reaches the history", async () => {
  await withWorkspace(async (ws) => {
    const rec = await runningRecord(ws);
    // history.jsonl as a directory: the append fails after the terminal status is committed, as it
    // would for a process killed between the two or a full disk.
    await Deno.mkdir(historyFile(ws), { recursive: true });
    await assert.rejects(() => updateExperiment(ws, rec.id, { status: "done", finished: Date.now() }));
    await Deno.remove(historyFile(ws));
    assert.deepEqual(await readHistory(ws), [], "the bare file does not have it yet");

    const rows = await finishedHistory(ws);
    assert.deepEqual(rows.map((r) => [r.id, r.status]), [[rec.id, "done"]]);
    assert.equal(await flushPendingHistory(ws), 0, "the outbox is empty once the row is in the file");
    assert.equal((await finishedHistory(ws)).length, 1);
  });
});

Deno.test("a run's end reaches the history once, even when readers move it at the same time", async () => {
  await withWorkspace(async (ws) => {
    const recs = await Promise.all([runningRecord(ws), runningRecord(ws), runningRecord(ws)]);
    // Each run ends while two readers flush the outbox: some rows may be appended twice to the file,
    // none may be missing, and the history shows each run once.
    await Promise.all([
      ...recs.map((r) => updateExperiment(ws, r.id, { status: "failed", finished: Date.now(), error: "x" })),
      flushPendingHistory(ws),
      finishedHistory(ws),
    ]);
    const rows = await finishedHistory(ws);
    assert.deepEqual(rows.map((r) => r.id).sort(), recs.map((r) => r.id).sort());
    assert.ok(rows.every((r) => r.status === "failed"));
  });
});

Deno.test("readHistory keeps the newest row of an id, skips torn and foreign lines, and honours limit", async () => {
  await withWorkspace(async (ws) => {
    const a = await runningRecord(ws);
    const b = await runningRecord(ws);
    await appendHistory(ws, { ...a, status: "done" });
    await appendHistory(ws, { ...b, status: "done" });
    await appendHistory(ws, { ...a, status: "done", error: "second copy" });
    await Deno.writeTextFile(historyFile(ws), '42\n{"no":"id"}\n{"id":"torn', { append: true });
    const rows = await readHistory(ws);
    assert.deepEqual(rows.map((r) => [r.id, r.error ?? null]), [[b.id, null], [a.id, "second copy"]]);
    assert.deepEqual((await readHistory(ws, 1)).map((r) => r.id), [a.id]);
  });
});
