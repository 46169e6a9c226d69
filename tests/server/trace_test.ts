/**
 * The trace writer on its own: batched live delivery with pre-encoded frames, the live rate cap (the file
 * still gets every record), tail reads and clear.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type TraceBatch, TraceLog } from "../../server/trace.ts";

Deno.test("live listeners get capped batches with a skipped count; the file keeps every record", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dspy_trace_" });
  const trace = new TraceLog({ dir, batchMs: 20, maxBatch: 5 });
  try {
    const batches: TraceBatch[] = [];
    const stop = trace.listen((b) => batches.push(b));
    for (let i = 0; i < 30; i++) trace.record({ ts: i, method: "GET", path: `/p${i}`, status: 200, ms: 0.1 });
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(batches.length, 1);
    const [batch] = batches;
    assert.deepEqual(batch.records.map((r) => r.path), ["/p25", "/p26", "/p27", "/p28", "/p29"]);
    assert.equal(batch.skipped, 25);
    const text = new TextDecoder().decode(batch.frames);
    assert.match(text, /^event: skipped\ndata: \{"count":25\}\n\n/);
    assert.equal(text.match(/^event: trace$/gm)?.length, 5);
    assert.match(
      text,
      /id: [0-9a-z]+-30\ndata: \{"ts":29,"method":"GET","path":"\/p29","status":200,"ms":0.1\}/,
    );
    stop();
    const tail = await trace.tail(100);
    assert.equal(tail.length, 30);
    assert.deepEqual(await trace.tail(2), tail.slice(-2));
    await trace.clear();
    assert.equal(await trace.bytes(), 0);
    assert.deepEqual(await trace.tail(5), []);
  } finally {
    await trace.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("recent records stay in memory for resuming, up to the capacity; ids carry the boot id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dspy_trace_" });
  const trace = new TraceLog({ dir, enabled: false, recentCapacity: 3 });
  try {
    for (let i = 1; i <= 5; i++) trace.record({ ts: i, method: "GET", path: `/p${i}`, status: 200, ms: 1 });
    assert.equal(trace.seq, 5);
    assert.deepEqual(trace.since(2)?.map((r) => r.path), ["/p3", "/p4", "/p5"]);
    assert.equal(trace.since(1), null, "record 2 was dropped from memory");
    assert.deepEqual(trace.since(5), []);
    assert.deepEqual(trace.recent(2).map((r) => r.seq), [4, 5]);
    assert.equal(trace.parseId(trace.idOf(4)), 4);
    assert.equal(trace.parseId(trace.idOf(6)), null, "not issued yet");
    assert.equal(trace.parseId("other-4"), null);
    assert.equal(trace.parseId("garbage"), null);
  } finally {
    await trace.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lines are formatted in batches from the ring: a burst many times its size is written whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dspy_trace_" });
  // A ring of 8 records and no timer flush during the burst: every line must be formatted before its slot
  // is reused, and the lines written across flushes (two buffers taking turns) stay in order.
  const trace = new TraceLog({ dir, recentCapacity: 8, flushMs: 60_000 });
  try {
    for (let i = 0; i < 100; i++) {
      trace.record({
        ts: 1000 + i,
        method: i % 2 ? "POST" : "GET",
        path: `/p${i}`,
        status: 200 + i,
        ms: i / 8,
      });
      if (i % 30 === 29) void trace.flush(); // writes overlap the next records
    }
    const lines = (await trace.tail(1000)).map((r) => `${r.ts} ${r.method} ${r.path} ${r.status} ${r.ms}`);
    assert.deepEqual(
      lines,
      Array.from(
        { length: 100 },
        (_, i) => `${1000 + i} ${i % 2 ? "POST" : "GET"} /p${i} ${200 + i} ${i / 8}`,
      ),
    );
    await trace.clear();
    trace.record({ ts: 5, method: "GET", path: "/after", status: 200, ms: 1 });
    assert.deepEqual(
      (await trace.tail(10)).map((r) => r.path),
      ["/after"],
      "clear drops lines not yet written",
    );
  } finally {
    await trace.close();
    await Deno.remove(dir, { recursive: true });
  }
});
