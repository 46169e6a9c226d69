import assert from "node:assert/strict";
import { closeAllKv } from "../../core/kv.ts";
import {
  isTerminal,
  readExperiment,
  readHistory,
  requireExperiment,
  specFromArgs,
  startExperiment,
  stopAllRunners,
} from "../../experiments/mod.ts";
import { experimentWorkspace } from "./helpers.ts";

Deno.test("a run reads as ended only once its history line is written", async () => {
  const ws = await experimentWorkspace(50);
  try {
    for (let run = 0; run < 3; run++) {
      const spec = specFromArgs(["run", "embed", "--dataset", "data/d.jsonl", "--backend", "hash"]);
      const rec = await startExperiment(ws, spec, { trigger: "test", until: true });
      // Polled as fast as the event loop allows: the history line is appended just after the terminal
      // status is committed, so a reader of the bare record could see the end before the line (it did).
      const deadline = Date.now() + 60_000;
      for (;;) {
        assert.ok(Date.now() < deadline, `run ${run} did not end within 60 s`);
        const r = await readExperiment(ws, rec.id);
        if (isTerminal(r.status)) {
          assert.equal(r.status, "done", r.error ?? "");
          const history = await readHistory(ws);
          assert.ok(history.some((h) => h.id === rec.id), `run ${run}: ended without its history line`);
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  } finally {
    await stopAllRunners();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("a run queued while the runner is finishing the previous one still runs", async () => {
  const ws = await experimentWorkspace(50);
  try {
    for (let run = 0; run < 5; run++) {
      const spec = specFromArgs(["run", "embed", "--dataset", "data/d.jsonl", "--backend", "hash"]);
      const rec = await startExperiment(ws, spec, { trigger: "test", until: true });
      // The bare record, polled fast: the next run is queued the moment this one reads as ended, while
      // the runner's loop is still deciding whether to stop (a kick then used to be lost: the run stayed
      // queued with no runner).
      const deadline = Date.now() + 30_000;
      while (!isTerminal((await requireExperiment(ws, rec.id)).status)) {
        assert.ok(Date.now() < deadline, `run ${run} was never run`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  } finally {
    await stopAllRunners();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
