/**
 * SSE tests against a real server: framing with named events and ids, keep-alive comments, resume with
 * `Last-Event-ID`, cleanup on disconnect, 200 concurrent streams while `/health` still answers, and graceful
 * shutdown with open streams.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openWorkspaceKv } from "../../core/kv.ts";
import { appendToStream } from "../../core/streams.ts";
import type { RouteModule } from "../../server/app.ts";
import { formatSse } from "../../server/sse.ts";
import { getJson, SseReader, withServer } from "./helpers.ts";

function metric(ws: string, name: string, i: number) {
  return { ts: Date.now() / 1000, workspace: ws, metric: name, data: { i } };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("formatSse splits multi-line data and strips newlines from names and ids", () => {
  assert.equal(
    formatSse({ event: "a\nb", id: "1\r", data: "x\ny" }),
    "event: ab\nid: 1\ndata: x\ndata: y\n\n",
  );
  assert.equal(formatSse({ data: { k: 1 } }), 'data: {"k":1}\n\n');
});

Deno.test("events SSE: backlog, then live named events with ids; keep-alive comments", async () => {
  await withServer({ keepAliveMs: 100 }, async (s) => {
    const kv = await openWorkspaceKv(s.workspace);
    await appendToStream(kv, "agent.metrics", [1, 2, 3].map((i) => metric(s.workspace, "tool.end", i)));
    const res = await fetch(`${s.url}/api/events/stream?stream=agent.metrics&backlog=2`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const sse = new SseReader(res);
    const a = await sse.nextEvent();
    const b = await sse.nextEvent();
    assert.deepEqual([a?.event, a?.id, b?.id], ["metric", "2", "3"]);
    assert.equal(JSON.parse(a!.data!).data.i, 2);
    assert.equal((await sse.nextEvent())?.event, "ready");
    await appendToStream(kv, "agent.metrics", [metric(s.workspace, "tool.end", 4)]);
    const live = await sse.nextEvent();
    assert.equal(live?.id, "4");
    assert.equal(JSON.parse(live!.data!).name, "tool.end");
    let comment;
    while (!comment) {
      const f = await sse.next(2000);
      if (f?.comment === "keep-alive") comment = f;
    }
    await sse.cancel();
  });
});

Deno.test("events SSE resumes with Last-Event-ID: exactly the missed events, across both streams", async () => {
  await withServer({}, async (s) => {
    const kv = await openWorkspaceKv(s.workspace);
    await appendToStream(kv, "agent.metrics", [1, 2].map((i) => metric(s.workspace, "m", i)));
    await appendToStream(kv, "agent.actions", [{
      ts: 1,
      workspace: s.workspace,
      action: "act",
      payload: { n: 1 },
    }]);
    // First connection: read up to `ready`, remember the last id, disconnect.
    const first = new SseReader(await fetch(`${s.url}/api/events/stream`));
    let lastId = "";
    for (let f = await first.nextEvent(); f?.event !== "ready"; f = await first.nextEvent()) lastId = f!.id!;
    assert.equal(lastId, "2:1");
    await first.cancel();
    // While disconnected, more events arrive.
    await appendToStream(kv, "agent.metrics", [3, 4].map((i) => metric(s.workspace, "m", i)));
    await appendToStream(kv, "agent.actions", [{
      ts: 2,
      workspace: s.workspace,
      action: "act",
      payload: { n: 2 },
    }]);
    const res = await fetch(`${s.url}/api/events/stream`, { headers: { "last-event-id": lastId } });
    const second = new SseReader(res);
    const got: string[] = [];
    for (let f = await second.nextEvent(); f?.event !== "ready"; f = await second.nextEvent()) {
      got.push(f!.id!);
    }
    assert.deepEqual(got, ["3:1", "4:1", "4:2"]);
    await second.cancel();
    // The query form works too, and a malformed id is a 400.
    const q = new SseReader(await fetch(`${s.url}/api/events/stream?stream=agent.actions&last_id=1`));
    assert.equal((await q.nextEvent())?.id, "2");
    await q.cancel();
    const bad = await getJson(`${s.url}/api/events/stream`, { headers: { "last-event-id": "abc" } });
    assert.equal(bad.status, 400);
    // An id past the log's head (another workspace's log, or a reset KV) gets the backlog and live events
    // instead of a stream that stays silent until the sequence catches up.
    const ahead = new SseReader(
      await fetch(`${s.url}/api/events/stream?stream=agent.metrics&backlog=1`, {
        headers: { "last-event-id": "999999" },
      }),
    );
    const backlog = await ahead.nextEvent();
    assert.equal(backlog?.id, "4");
    const ready = await ahead.nextEvent();
    assert.equal(ready?.event, "ready");
    assert.equal(JSON.parse(ready!.data!).resumed, false);
    await appendToStream(kv, "agent.metrics", [metric(s.workspace, "m", 5)]);
    assert.equal((await ahead.nextEvent())?.id, "5");
    await ahead.cancel();
  });
});

Deno.test("events SSE name filter; live events appended during catch-up are not lost", async () => {
  await withServer({}, async (s) => {
    const kv = await openWorkspaceKv(s.workspace);
    const sse = new SseReader(await fetch(`${s.url}/api/events/stream?stream=metrics&name=keep.*&backlog=0`));
    assert.equal((await sse.nextEvent())?.event, "ready");
    const names = ["keep.a", "drop.b", "keep.c"];
    for (const [i, n] of names.entries()) {
      await appendToStream(kv, "agent.metrics", [metric(s.workspace, n, i)]);
    }
    const a = await sse.nextEvent();
    const c = await sse.nextEvent();
    assert.deepEqual([JSON.parse(a!.data!).name, JSON.parse(c!.data!).name], ["keep.a", "keep.c"]);
    await sse.cancel();
  });
});

Deno.test("disconnect cleans up: stream count and hub subscribers return to zero", async () => {
  await withServer({}, async (s) => {
    const readers = [];
    for (let i = 0; i < 5; i++) {
      const r = new SseReader(await fetch(`${s.url}/api/events/stream?stream=agent.metrics`));
      assert.equal((await r.nextEvent())?.event, "ready");
      readers.push(r);
    }
    const t = new SseReader(await fetch(`${s.url}/api/debug/trace/stream?replay=0`));
    await t.next();
    assert.equal(s.state.sse.open, 6);
    assert.equal(s.state.hub.subscribers("agent.metrics"), 5);
    for (const r of readers) await r.cancel();
    await t.cancel();
    await waitFor(() => s.state.sse.open === 0);
    assert.equal(s.state.hub.subscribers("agent.metrics"), 0);
  });
});

Deno.test("200 concurrent SSE clients stay open while /health keeps answering fast", async () => {
  await withServer({}, async (s) => {
    const clients = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const path = i % 2 ? "/api/events/stream" : "/api/debug/trace/stream?replay=0";
      const r = new SseReader(await fetch(`${s.url}${path}`));
      await r.next(10_000);
      return r;
    }));
    assert.equal(s.state.sse.open, 200);
    // 200 samples, so the p95 is a percentile and not the single slowest request (one GC pause or a busy
    // neighbour test used to decide it). The goal itself (p99 < 50 ms) is measured by bench/server_bench.ts.
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const res = await fetch(`${s.url}/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const p50 = times[100], p95 = times[190];
    assert.ok(p50 < 50 && p95 < 250, `/health p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`);
    // Everyone receives a live event.
    const kv = await openWorkspaceKv(s.workspace);
    await appendToStream(kv, "agent.metrics", [metric(s.workspace, "fanout", 1)]);
    const events = clients.filter((_, i) => i % 2);
    const got = await Promise.all(events.map(async (r) => {
      for (let f = await r.nextEvent(); f; f = await r.nextEvent()) if (f.event === "metric") return f;
    }));
    assert.equal(got.filter((f) => f && JSON.parse(f.data!).name === "fanout").length, 100);
    await Promise.all(clients.map((c) => c.cancel()));
    await waitFor(() => s.state.sse.open === 0);
  });
});

Deno.test("graceful shutdown closes open streams, finishes in-flight requests and stops listening", async () => {
  let url = "";
  // A plugged-in route module with a slow handler stands for an in-flight request.
  let entered!: () => void;
  const inside = new Promise<void>((r) => entered = r);
  const slow: RouteModule = {
    name: "slow",
    register(routes) {
      routes.get("/slow", async (c) => {
        entered();
        await new Promise((r) => setTimeout(r, 300));
        return c.json({ done: true });
      });
    },
  };
  await withServer({ routes: [slow] }, async (s) => {
    url = s.url;
    const a = new SseReader(await fetch(`${s.url}/api/events/stream`));
    const b = new SseReader(await fetch(`${s.url}/api/debug/trace/stream`));
    await a.nextEvent();
    await b.next();
    const inflight = getJson(`${s.url}/slow`);
    await inside;
    const done = s.shutdown();
    const finished = await inflight;
    assert.deepEqual([finished.status, finished.body], [200, { done: true }]);
    // Both streams end (null = end of body) instead of hanging.
    for (const r of [a, b]) {
      let f = await r.next(5000).catch(() => null);
      while (f) f = await r.next(5000).catch(() => null);
    }
    await done;
    assert.equal(s.state.sse.open, 0);
  });
  await assert.rejects(() => fetch(`${url}/health`));
});

Deno.test("a workspace switch ends open event streams with a 'workspace' event that clears the last id", async () => {
  await withServer({}, async (s) => {
    const other = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_srv_switch_" }));
    try {
      const kv = await openWorkspaceKv(s.workspace);
      await appendToStream(kv, "agent.metrics", [1, 2, 3].map((i) => metric(s.workspace, "old", i)));
      const otherKv = await openWorkspaceKv(other);
      await appendToStream(otherKv, "agent.metrics", [metric(other, "new", 1)]);
      const sse = new SseReader(await fetch(`${s.url}/api/events/stream?stream=agent.metrics&backlog=0`));
      assert.equal((await sse.nextEvent())?.event, "ready");
      const switched = await getJson(`${s.url}/api/system/workspace`, {
        method: "POST",
        body: JSON.stringify({ path: other }),
      });
      assert.equal(switched.status, 200);
      const f = await sse.nextEvent();
      assert.equal(f?.event, "workspace");
      assert.equal(f?.id, "", "an empty id resets the browser's Last-Event-ID");
      assert.equal(JSON.parse(f!.data!).workspace, other);
      assert.equal(await sse.nextEvent(), null, "the stream ends, so the client reconnects");
      // The reconnect (without a Last-Event-ID) reads the new workspace's log.
      const again = new SseReader(await fetch(`${s.url}/api/events/stream?stream=agent.metrics&backlog=5`));
      const first = await again.nextEvent();
      assert.equal(JSON.parse(first!.data!).name, "new");
      await again.cancel();
      await waitFor(() => s.state.sse.open === 0);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  });
});
