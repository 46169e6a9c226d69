/**
 * Route tests through a real `Deno.serve` on loopback port 0: statuses, JSON shapes, Prometheus text,
 * errors, body limits, the guard, the workspace, RL curves, tools stats, the debug trace and the dashboard.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { appendToStream } from "../../core/streams.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { guard, InsufficientResourcesError } from "../../core/guard.ts";
import { getJson, parsePrometheus, SseReader, withServer } from "./helpers.ts";

Deno.test("GET /health answers ok with version and uptime; wrong methods get 405 JSON with Allow", async () => {
  await withServer({}, async (s) => {
    const { status, body } = await getJson(`${s.url}/health`);
    assert.equal(status, 200);
    assert.equal(body.status, "ok");
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof body.uptime_s, "number");
    const head = await fetch(`${s.url}/health`, { method: "HEAD" });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    const post = await fetch(`${s.url}/health`, {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    assert.equal(post.status, 405);
    assert.match(post.headers.get("allow") ?? "", /GET/);
    assert.equal((await post.json()).status, 405);
    const del = await getJson(`${s.url}/api/system/guard`, { method: "DELETE" });
    assert.equal(del.status, 405);
  });
});

Deno.test("unknown routes are 404 JSON; errors never carry stack traces", async () => {
  await withServer({}, async (s) => {
    for (
      const path of [
        "/nope",
        "/api/nope",
        "/static/../../etc/passwd",
        "/static/missing.js",
        "/api/rl/runs/a/b",
      ]
    ) {
      const res = await fetch(`${s.url}${path}`);
      const text = await res.text();
      assert.equal(res.status, 404, path);
      assert.match(res.headers.get("content-type") ?? "", /application\/json/);
      assert.doesNotMatch(text, /at .*\.ts:\d+/);
      assert.equal(typeof JSON.parse(text).error, "string");
    }
  });
});

Deno.test("/metrics is valid Prometheus text with HTTP counters, histograms and process memory", async () => {
  await withServer({}, async (s) => {
    for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/health`)).body?.cancel();
    await (await fetch(`${s.url}/nope`)).body?.cancel();
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(await res.text());
    assert.equal(types.get("dspy_http_requests_total"), "counter");
    assert.equal(types.get("dspy_http_request_duration_seconds"), "histogram");
    const health = samples.find((x) =>
      x.name === "dspy_http_requests_total" && x.labels.route === "/health" && x.labels.status === "200"
    );
    assert.equal(health?.value, 3);
    assert.ok(samples.some((x) => x.name === "dspy_http_requests_total" && x.labels.status === "404"));
    // Histogram buckets are cumulative and end with +Inf == _count.
    const buckets = samples.filter((x) =>
      x.name === "dspy_http_request_duration_seconds_bucket" && x.labels.route === "/health"
    );
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
    assert.equal(buckets.at(-1)?.labels.le, "+Inf");
    const count = samples.find((x) =>
      x.name === "dspy_http_request_duration_seconds_count" && x.labels.route === "/health"
    );
    assert.equal(count?.value, buckets.at(-1)?.value);
    assert.ok(samples.find((x) => x.name === "process_resident_memory_bytes")!.value > 0);
    assert.equal(samples.find((x) => x.name === "dspy_bus_up")?.value, 0);
  });
});

Deno.test("/metrics JSON via ?format=json and Accept; unknown format is 400", async () => {
  await withServer({}, async (s) => {
    const a = await getJson(`${s.url}/metrics?format=json`);
    assert.equal(a.status, 200);
    assert.deepEqual(Object.keys(a.body).sort(), ["bus", "dlq", "embed_workers", "http", "process"]);
    assert.equal(a.body.bus, null);
    assert.ok(a.body.process.rss_bytes > 0);
    const b = await getJson(`${s.url}/metrics`, { headers: { accept: "application/json" } });
    assert.equal(b.status, 200);
    assert.ok(b.body.http.requests["/metrics"]);
    assert.equal((await getJson(`${s.url}/metrics?format=xml`)).status, 400);
  });
});

Deno.test("/api/status lists components with ok/warn/down and reasons, probing configured services", async () => {
  // A real HTTP server standing in for InferMesh's /health; Kafka points at a closed port.
  const infermesh = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/health"
        ? Response.json({ status: "ok" })
        : new Response("no", { status: 404 }),
  );
  const closed = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const deadPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  try {
    await withServer({
      probes: {
        infermeshUrl: `http://127.0.0.1:${infermesh.addr.port}`,
        kafkaBrokers: `127.0.0.1:${deadPort}`,
      },
    }, async (s) => {
      const { status, body } = await getJson(`${s.url}/api/status`);
      assert.equal(status, 200);
      for (const c of Object.values(body.components) as { status: string; reason: string }[]) {
        assert.ok(["ok", "warn", "down"].includes(c.status));
        assert.ok(c.reason.length > 0);
      }
      assert.equal(body.components.kv.status, "ok");
      assert.equal(body.components.bus.status, "down"); // this test server has no bus
      assert.equal(body.components.infermesh.status, "ok");
      assert.equal(body.components.kafka.status, "down");
      assert.equal(body.status, "down");
    });
  } finally {
    await infermesh.shutdown();
  }
});

Deno.test("/api/events filters by stream, name and since, pages with after, and rejects bad input", async () => {
  await withServer({}, async (s) => {
    const kv = await openWorkspaceKv(s.workspace);
    const now = Date.now() / 1000;
    await appendToStream(kv, "agent.metrics", [
      { ts: now - 100, workspace: s.workspace, metric: "tool.start", data: { tool: "grep" } },
      { ts: now - 50, workspace: s.workspace, metric: "tool.end", data: { tool: "grep", success: true } },
      { ts: now, workspace: s.workspace, metric: "rl.ppo.start", data: {} },
    ]);
    await appendToStream(kv, "agent.actions", [{
      ts: now,
      workspace: s.workspace,
      action: "patch.apply",
      payload: { ok: 1 },
    }]);
    const all = await getJson(`${s.url}/api/events`);
    assert.equal(all.status, 200);
    assert.equal(all.body.count, 4);
    assert.deepEqual(all.body.items.map((i: { name: string }) => i.name).sort(), [
      "patch.apply",
      "rl.ppo.start",
      "tool.end",
      "tool.start",
    ]);
    const action = all.body.items.find((i: { kind: string }) => i.kind === "action");
    assert.deepEqual(action.data, { ok: 1 });
    const tools = await getJson(`${s.url}/api/events?stream=agent.metrics&name=tool.*`);
    assert.deepEqual(tools.body.items.map((i: { name: string }) => i.name), ["tool.start", "tool.end"]);
    const recent = await getJson(`${s.url}/api/events?stream=metrics&since=${now - 60}`);
    assert.deepEqual(recent.body.items.map((i: { seq: number }) => i.seq), [2, 3]);
    const paged = await getJson(`${s.url}/api/events?stream=agent.metrics&after=1&limit=1`);
    assert.deepEqual(paged.body.items.map((i: { seq: number }) => i.seq), [2]);
    assert.equal(paged.body.cursor["agent.metrics"], 2);
    assert.equal((await getJson(`${s.url}/api/events?limit=0`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/events?limit=abc`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/events?stream=bogus`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/events?since=nan`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/events?after=1`)).status, 400); // needs one stream
  });
});

Deno.test("/api/tools/stats aggregates tool.end per tool and returns the latest session summary", async () => {
  await withServer({}, async (s) => {
    const kv = await openWorkspaceKv(s.workspace);
    const ts = Date.now() / 1000;
    const end = (tool: string, success: boolean, score: number, duration_sec: number) => ({
      ts,
      workspace: s.workspace,
      metric: "tool.end",
      data: { tool, success, score, duration_sec },
    });
    await appendToStream(kv, "agent.metrics", [
      end("grep", true, 1, 0.2),
      end("grep", false, 0, 0.4),
      end("esearch", true, 0.5, 1),
      { ts, workspace: s.workspace, metric: "tool.end", data: { garbage: true } },
      { ts, workspace: s.workspace, metric: "session.summary", data: { turns: 3 } },
    ]);
    const { status, body } = await getJson(`${s.url}/api/tools/stats`);
    assert.equal(status, 200);
    const grep = body.tools.find((t: { tool: string }) => t.tool === "grep");
    assert.equal(grep.count, 2);
    assert.equal(grep.success_rate, 0.5);
    assert.equal(grep.avg_score, 0.5);
    assert.equal(grep.avg_duration_sec, 0.3);
    const unknown = body.tools.find((t: { tool: string }) => t.tool === "unknown");
    assert.equal(unknown.avg_score, null);
    assert.equal(body.recent.length, 4);
    assert.deepEqual(body.session_summary, { turns: 3 });
    await kv.set(["agent.session.summary"], { turns: 9 });
    assert.deepEqual((await getJson(`${s.url}/api/tools/stats`)).body.session_summary, { turns: 9 });
    assert.equal((await getJson(`${s.url}/api/tools/stats?window=-1`)).status, 400);
  });
});

Deno.test("guard: zero thresholds pass, huge ones block, values persist in KV, bad values are 400", async () => {
  await withServer({}, async (s) => {
    const zero = await getJson(`${s.url}/api/system/guard`, {
      method: "POST",
      body: JSON.stringify({ min_free_gb: 0, min_ram_gb: 0, min_vram_mb: 0 }),
    });
    assert.equal(zero.status, 200);
    assert.deepEqual(zero.body.thresholds, { min_free_gb: 0, min_ram_gb: 0, min_vram_mb: 0 });
    assert.equal(zero.body.ok, true);
    assert.equal(zero.body.disk_ok && zero.body.ram_ok && zero.body.gpu_ok, true);
    assert.equal(typeof zero.body.snapshot.disk.free_gb, "number");
    // GET evaluates the persisted thresholds without changing them.
    assert.deepEqual((await getJson(`${s.url}/api/system/guard`)).body.thresholds, zero.body.thresholds);
    const huge = await getJson(`${s.url}/api/system/guard`, {
      method: "POST",
      body: JSON.stringify({ min_free_gb: 10_000_000 }),
    });
    assert.equal(huge.body.ok, false);
    assert.equal(huge.body.disk_ok, false);
    assert.equal(huge.body.ram_ok, true);
    assert.equal(huge.body.thresholds.min_ram_gb, 0); // unchanged keys keep the saved value
    const kv = await openWorkspaceKv(s.workspace);
    assert.equal(
      ((await kv.get(["guard", "thresholds"])).value as { min_free_gb: number }).min_free_gb,
      10_000_000,
    );
    // Heavy operations calling guard() are refused with a clear message and status 507.
    await assert.rejects(() => guard(s.workspace, { operation: "rl train" }), (err: unknown) => {
      assert.ok(err instanceof InsufficientResourcesError);
      assert.equal(err.status, 507);
      assert.match(err.message, /rl train refused: disk .* < min_free_gb 10000000/);
      return true;
    });
    for (const bad of [{ min_free_gb: -1 }, { min_ram_gb: "lots" }, { min_vram_mb: [1] }, [1, 2], "x"]) {
      const r = await getJson(`${s.url}/api/system/guard`, { method: "POST", body: JSON.stringify(bad) });
      assert.equal(r.status, 400, JSON.stringify(bad));
    }
    const str = await getJson(`${s.url}/api/system/guard`, { method: "POST", body: '{"min_free_gb":"0"}' });
    assert.equal(str.body.thresholds.min_free_gb, 0);
  });
});

Deno.test("workspace: GET shows it; POST needs an existing directory, else 400", async () => {
  await withServer({}, async (s) => {
    assert.equal((await getJson(`${s.url}/api/system/workspace`)).body.path, s.workspace);
    const other = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_srv_other_" }));
    const file = join(other, "f.txt");
    await Deno.writeTextFile(file, "x");
    try {
      for (const body of [{ path: join(other, "missing") }, { path: file }, {}, { path: 5 }, { path: "" }]) {
        const r = await getJson(`${s.url}/api/system/workspace`, {
          method: "POST",
          body: JSON.stringify(body),
        });
        assert.equal(r.status, 400, JSON.stringify(body));
      }
      const ok = await getJson(`${s.url}/api/system/workspace`, {
        method: "POST",
        body: JSON.stringify({ path: other }),
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.path, other);
      assert.equal((await getJson(`${s.url}/api/system/workspace`)).body.path, other);
      assert.equal((await getJson(`${s.url}/api/system/resources`)).body.disk.path, other);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  });
});

Deno.test("/api/system/resources reports disk, memory, CPU and GPUs (empty without nvidia-smi)", async () => {
  await withServer({}, async (s) => {
    const { status, body } = await getJson(`${s.url}/api/system/resources`);
    assert.equal(status, 200);
    assert.ok(body.disk.total_gb > 0);
    assert.ok(body.memory.total_gb > 0);
    assert.ok(body.cpu.cores >= 1);
    assert.ok(Array.isArray(body.gpus));
    assert.equal(typeof body.guard.ok, "boolean");
    assert.ok(Array.isArray(body.history));
  });
});

Deno.test("body limit: declared and streamed bodies over the limit get 413 JSON", async () => {
  await withServer({ bodyLimit: 1024 }, async (s) => {
    const big = JSON.stringify({ clear: true, pad: "x".repeat(2000) });
    const declared = await getJson(`${s.url}/api/debug/trace`, { method: "POST", body: big });
    assert.equal(declared.status, 413);
    assert.match(declared.body.error, /too large/);
    // A chunked body has no Content-Length: the reader counts and stops.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode("x".repeat(600)));
        c.close();
      },
    });
    const chunked = await getJson(`${s.url}/api/system/guard`, { method: "POST", body: stream });
    assert.equal(chunked.status, 413);
    const small = await getJson(`${s.url}/api/debug/trace`, { method: "POST", body: '{"clear":true}' });
    assert.equal(small.status, 200);
  });
});

Deno.test("debug trace: requests are logged as JSON lines; clear truncates; non-clear body is 400", async () => {
  await withServer({}, async (s) => {
    await (await fetch(`${s.url}/health?x=1`)).body?.cancel();
    await (await fetch(`${s.url}/nope`)).body?.cancel();
    await (await fetch(`${s.url}/api/rl/runs/a%20b?x=%2F`)).body?.cancel();
    const info = await getJson(`${s.url}/api/debug/trace`);
    assert.equal(info.status, 200);
    assert.equal(info.body.enabled, true);
    assert.ok(info.body.bytes > 0);
    const lines = (await Deno.readTextFile(join(s.workspace, ".dspy_reports", "server_trace.log"))).trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const health = lines.find((l) => l.path === "/health");
    assert.deepEqual(Object.keys(health).sort(), ["method", "ms", "path", "status", "ts"]);
    assert.equal(health.status, 200);
    assert.ok(lines.some((l) => l.path === "/nope" && l.status === 404));
    // The path as the client sent it (percent-encoding kept), without the query, for matched routes too.
    assert.ok(lines.some((l) => l.path === "/api/rl/runs/a%20b"), JSON.stringify(lines.map((l) => l.path)));
    assert.equal((await getJson(`${s.url}/api/debug/trace`, { method: "POST", body: "{}" })).status, 400);
    const cleared = await getJson(`${s.url}/api/debug/trace`, { method: "POST", body: '{"clear": true}' });
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.bytes, 0);
  });
});

Deno.test("debug trace rotates at the size limit", async () => {
  await withServer({ traceMaxBytes: 2000 }, async (s) => {
    for (let i = 0; i < 60; i++) {
      await (await fetch(`${s.url}/health`)).body?.cancel();
      await s.state.trace.flush();
    }
    const file = join(s.workspace, ".dspy_reports", "server_trace.log");
    assert.ok((await Deno.stat(file)).size <= 2000);
    assert.ok((await Deno.stat(file + ".1")).size > 0);
  });
});

Deno.test("trace SSE replays the last lines, then streams new requests live", async () => {
  await withServer({}, async (s) => {
    await (await fetch(`${s.url}/api/status/../../health`)).body?.cancel();
    for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/health?i=${i}`)).body?.cancel();
    const res = await fetch(`${s.url}/api/debug/trace/stream?replay=2`);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const sse = new SseReader(res);
    const first = await sse.nextEvent();
    const second = await sse.nextEvent();
    assert.equal(first?.event, "trace");
    // The last two lines: the last /health, then this stream's own request.
    assert.deepEqual([JSON.parse(first!.data!).path, JSON.parse(second!.data!).path], [
      "/health",
      "/api/debug/trace/stream",
    ]);
    await (await fetch(`${s.url}/api/rl/runs`)).body?.cancel();
    let live = null;
    while (!live) {
      const f = await sse.nextEvent();
      const rec = JSON.parse(f!.data!);
      if (rec.path === "/api/rl/runs") live = rec;
    }
    assert.equal(live.status, 200);
    await sse.cancel();
  });
});

Deno.test("RL runs: lists runs and returns defensive series from metrics.jsonl; ids stay inside", async () => {
  await withServer({}, async (s) => {
    const dir = join(s.workspace, ".dspy", "rl", "runs", "ppo-1");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      join(dir, "metrics.jsonl"),
      [
        JSON.stringify({
          step: 10,
          episode_returns: [1, 3],
          policy_loss: 0.5,
          entropy: 0.9,
          steps_per_sec: 100,
        }),
        "not json",
        "",
        JSON.stringify([1, 2]),
        JSON.stringify({ step: 20, episode_returns: [5], policy_loss: 0.25, entropy: 0.8 }),
        '{"step": 30, "policy_lo',
      ].join("\n"),
    );
    const runs = await getJson(`${s.url}/api/rl/runs`);
    assert.equal(runs.status, 200);
    assert.deepEqual(runs.body.runs.map((r: { id: string }) => r.id), ["ppo-1"]);
    assert.equal(runs.body.runs[0].last.step, 20);
    const run = await getJson(`${s.url}/api/rl/runs/ppo-1`);
    assert.equal(run.status, 200);
    assert.deepEqual(run.body.step, [10, 20]);
    assert.deepEqual(run.body.series.episode_returns_mean, [2, 5]);
    assert.deepEqual(run.body.series.policy_loss, [0.5, 0.25]);
    assert.deepEqual(run.body.series.steps_per_sec, [100, null]);
    assert.equal(run.body.skipped, 3);
    assert.equal((await getJson(`${s.url}/api/rl/runs/missing`)).status, 404);
    assert.equal((await getJson(`${s.url}/api/rl/runs/..%2F..%2Fetc`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/rl/runs/.hidden`)).status, 400);
    assert.equal((await getJson(`${s.url}/api/rl/runs/ppo-1?max=1`)).status, 400);
  });
});

Deno.test("dashboard pages and assets are served with a CSP; uPlot comes from the npm package", async () => {
  await withServer({}, async (s) => {
    for (const page of ["/", "/bus", "/tools", "/rl", "/events"]) {
      const res = await fetch(`${s.url}${page}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.match(await res.text(), /Guard Settings/);
    }
    const uplot = await fetch(`${s.url}/static/uplot.js`);
    assert.match(uplot.headers.get("content-type") ?? "", /javascript/);
    assert.match(await uplot.text(), /uPlot/);
    const css = await fetch(`${s.url}/static/style.css`);
    assert.match(css.headers.get("content-type") ?? "", /text\/css/);
    await css.body?.cancel();
  });
});

Deno.test("trace SSE resumes with Last-Event-ID: exactly the missed requests, no replay duplicates", async () => {
  await withServer({}, async (s) => {
    await (await fetch(`${s.url}/x/before`)).body?.cancel();
    const readUntilReady = async (sse: SseReader) => {
      const paths: string[] = [];
      while (true) {
        const f = await sse.nextEvent();
        if (f?.event === "ready") return { paths, id: f.id!, ready: JSON.parse(f.data!) };
        assert.equal(f?.event, "trace");
        paths.push(JSON.parse(f!.data!).path);
      }
    };
    const first = new SseReader(await fetch(`${s.url}/api/debug/trace/stream?replay=5`));
    const a = await readUntilReady(first);
    assert.ok(a.paths.includes("/x/before"));
    assert.equal(a.ready.resumed, false);
    await first.cancel();
    for (const n of [1, 2, 3]) await (await fetch(`${s.url}/x/missed${n}`)).body?.cancel();
    const again = new SseReader(
      await fetch(`${s.url}/api/debug/trace/stream?replay=5`, { headers: { "last-event-id": a.id } }),
    );
    const b = await readUntilReady(again);
    assert.equal(b.ready.resumed, true);
    assert.ok(!b.paths.includes("/x/before"), `no replay on resume: ${b.paths}`);
    assert.deepEqual(b.paths.filter((p) => p.startsWith("/x/")), ["/x/missed1", "/x/missed2", "/x/missed3"]);
    // Live records continue after the resume, each once.
    await (await fetch(`${s.url}/x/live`)).body?.cancel();
    let f = await again.nextEvent();
    while (JSON.parse(f!.data!).path !== "/x/live") f = await again.nextEvent();
    assert.match(f!.id!, /^[0-9a-z]+-\d+$/);
    await again.cancel();
    // An id from another server run cannot be resumed: a plain replay follows, marked as such.
    const other = new SseReader(
      await fetch(`${s.url}/api/debug/trace/stream?replay=3`, { headers: { "last-event-id": "zzz-5" } }),
    );
    const c = await readUntilReady(other);
    assert.equal(c.ready.resumed, false);
    assert.equal(c.paths.length, 3);
    await other.cancel();
  });
});
