import assert from "node:assert/strict";
import { closeAllKv } from "../../core/kv.ts";
import {
  type ExperimentRecord,
  isTerminal,
  readExperiment,
  readHistory,
  requireExperiment,
  specFromArgs,
  startExperiment,
  stopAllRunners,
} from "../../experiments/mod.ts";
import { experimentWorkspace } from "./helpers.ts";

/** A workspace with a small dataset for hash-backend embed runs (fast: no model), removed after `body`. */
async function withRunWorkspace(body: (ws: string) => Promise<void>): Promise<void> {
  const ws = await experimentWorkspace(50);
  try {
    await body(ws);
  } finally {
    await stopAllRunners();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
}

/** Queues a hash-backend embed run that this process runs. */
function startHashRun(ws: string) {
  const spec = specFromArgs(["run", "embed", "--dataset", "data/d.jsonl", "--backend", "hash"]);
  return startExperiment(ws, spec, { trigger: "test", until: true });
}

/** Polls `read` every millisecond until the record it returns has ended; fails after `seconds`. */
async function pollUntilEnded(
  read: () => Promise<ExperimentRecord>,
  seconds: number,
  what: string,
): Promise<ExperimentRecord> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    assert.ok(Date.now() < deadline, `${what} did not end within ${seconds} s`);
    const r = await read();
    if (isTerminal(r.status)) return r;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("a run reads as ended only once its history line is written", async () => {
  await withRunWorkspace(async (ws) => {
    for (let run = 0; run < 3; run++) {
      const rec = await startHashRun(ws);
      // Polled as fast as the event loop allows: the history line is appended just after the terminal
      // status is committed, so a reader of the bare record could see the end before the line (it did).
      const r = await pollUntilEnded(() => readExperiment(ws, rec.id), 60, `run ${run}`);
      assert.equal(r.status, "done", r.error ?? "");
      const history = await readHistory(ws);
      assert.ok(history.some((h) => h.id === rec.id), `run ${run}: ended without its history line`);
    }
  });
});

Deno.test("a run queued while the runner is finishing the previous one still runs", async () => {
  await withRunWorkspace(async (ws) => {
    for (let run = 0; run < 5; run++) {
      const rec = await startHashRun(ws);
      // The bare record, polled fast: the next run is queued the moment this one reads as ended, while
      // the runner's loop is still deciding whether to stop (a kick then used to be lost: the run stayed
      // queued with no runner).
      await pollUntilEnded(() => requireExperiment(ws, rec.id), 30, `run ${run} (never run?)`);
    }
  });
});
