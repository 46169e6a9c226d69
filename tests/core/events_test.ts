import assert from "node:assert/strict";
import { configureEvents, emitMetric, flushEvents, METRICS_STREAM } from "../../core/events.ts";
import { closeAllKv, openWorkspaceKv } from "../../core/kv.ts";
import { readStream } from "../../core/streams.ts";

Deno.test("events of one process are stored in emit order, even when their batches commit concurrently", async () => {
  const ws = await Deno.makeTempDir();
  try {
    configureEvents({ workspace: ws });
    // One event per tick: each is its own batch, and the batches' commits overlap.
    for (let i = 0; i < 40; i++) {
      emitMetric("order.check", { i });
      await new Promise((r) => setTimeout(r, 0));
    }
    await flushEvents();
    const kv = await openWorkspaceKv(ws);
    const entries = await readStream<{ data: { i: number } }>(kv, METRICS_STREAM, { limit: 100 });
    assert.deepEqual(entries.map((e) => e.value.data.i), Array.from({ length: 40 }, (_, i) => i));
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
