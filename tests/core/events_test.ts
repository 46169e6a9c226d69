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

Deno.test("events emitted while a commit is in flight wait for it and then commit together (group commit)", async () => {
  const ws = await Deno.makeTempDir();
  try {
    configureEvents({ workspace: ws });
    emitMetric("group.check", { i: 0 });
    // A few microtask turns: the first batch closes and starts its commit, which needs the disk, so it cannot
    // finish before the events below are emitted.
    for (let t = 0; t < 5; t++) await Promise.resolve();
    for (let i = 1; i <= 50; i++) {
      emitMetric("group.check", { i });
      await Promise.resolve();
    }
    await flushEvents();
    const kv = await openWorkspaceKv(ws);
    const entries = await readStream<{ data: { i: number } }>(kv, METRICS_STREAM, { limit: 100 });
    assert.deepEqual(entries.map((e) => e.value.data.i), Array.from({ length: 51 }, (_, i) => i));
    // One commit for the first event, one for the 50 that waited: each commit stores its entries as blocks.
    const blocks = [];
    for await (const b of kv.list({ prefix: ["stream", METRICS_STREAM, "b"] })) blocks.push(b.key[3]);
    assert.deepEqual(blocks, [1, 2]);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
