/**
 * The dev cycle over HTTP against a real server in a temp copy of the fixture project: admin refusals, start
 * (202), a second start (409), status, the SSE stream and its resume, the logs attachment ("No logs yet"
 * before any run), and stop ending a child that ignores SIGTERM (SIGKILL to its process group after 10 s).
 * Requests send `Content-Type: application/json` and a loopback Host, as a browser-protected server needs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getJson, SseReader, withServer } from "../server/helpers.ts";
import { fixtureCopy } from "../support/dev_cycle.ts";

const KEY = "dev-cycle-key";

function post(base: string, path: string, body: unknown, key: string | null = KEY) {
  const url = new URL(path, base);
  return getJson(url.href, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      host: url.host,
      ...(key === null ? {} : { "x-admin-key": key }),
    },
    body: JSON.stringify(body),
  });
}

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("dev-cycle API: admin, start, 409, status, stream resume, logs, stop kills a SIGTERM-proof child", async () => {
  const ws = await fixtureCopy();
  const savedHost = Deno.env.get("DOCKER_HOST");
  Deno.env.set("DOCKER_HOST", "unix:///nonexistent/docker.sock"); // no engine: stack stages are skipped
  try {
    await withServer({ workspace: ws, adminKey: KEY }, async (s) => {
      const base = s.url;
      const noLogs = await fetch(`${base}/api/dev-cycle/logs`);
      assert.equal(noLogs.status, 200);
      assert.equal(await noLogs.text(), "No logs yet. Start a dev cycle to generate logs.\n");
      assert.equal(noLogs.headers.get("content-disposition"), null);
      const idle = await getJson(`${base}/api/dev-cycle/status`);
      assert.equal(idle.status, 200);
      assert.equal(idle.body.running, false);
      assert.equal(idle.body.ok, null);
      assert.deepEqual(idle.body.lines, []);

      // Admin refusals and bad bodies.
      assert.equal((await post(base, "/api/dev-cycle/start", {}, null)).status, 401);
      assert.equal((await post(base, "/api/dev-cycle/start", {}, "wrong")).status, 403);
      assert.equal((await post(base, "/api/dev-cycle/stop", {}, null)).status, 401);
      const commit = await post(base, "/api/dev-cycle/start", { commit: true });
      assert.equal(commit.status, 400);
      assert.match(commit.body.error, /the API never commits/);
      const badStage = await post(base, "/api/dev-cycle/start", { only: ["lint"] });
      assert.equal(badStage.status, 400);
      assert.match(badStage.body.error, /unknown: lint/);
      const notRunning = await post(base, "/api/dev-cycle/stop", {});
      assert.deepEqual(notRunning.body, { ok: true, stopped: false, message: "not running" });

      // Start a cycle whose test stage hangs with a child that ignores SIGTERM.
      const started = await post(base, "/api/dev-cycle/start", {
        only: ["deps", "test"],
        tests: "hang_test.ts",
      });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.equal(started.body.ok, true);
      assert.equal(started.body.status.running, true);
      const again = await post(base, "/api/dev-cycle/start", {});
      assert.equal(again.status, 409);
      assert.match(again.body.error, /already running/);

      // The stream: replay of what happened so far, `ready`, then live lines.
      const res = await fetch(`${base}/api/dev-cycle/stream`);
      assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const sse = new SseReader(res);
      const seen: { event?: string; id?: string; data?: string }[] = [];
      let ready = false;
      const testRunning = () =>
        seen.some((f) => f.event === "stage" && /"name":"test","state":"running"/.test(f.data ?? ""));
      while (!ready || !testRunning()) {
        const f = await sse.nextEvent(60_000);
        assert.ok(f, "stream ended early");
        if (f.event === "ready") ready = true;
        else seen.push(f);
      }
      assert.ok(ready);
      assert.equal(seen[0].event, "start");
      const ids = seen.map((f) => Number(f.id));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "ids increase");
      assert.ok(seen.some((f) => f.event === "stage" && /"name":"deps","state":"ok"/.test(f.data!)));
      const lastId = seen.at(-1)!.id!;
      await sse.cancel();

      const pidsFile = join(ws, "hang.pids");
      const pids = await waitFor(
        () => Deno.readTextFile(pidsFile).then((t) => t.trim().split(/\s+/).map(Number), () => undefined),
        60_000,
        "the hanging test to start its child",
      );
      assert.ok(pids.every(alive));
      const status = await getJson(`${base}/api/dev-cycle/status`);
      assert.equal(status.body.running, true);
      assert.equal(status.body.stage, "test");
      assert.ok(status.body.lines.length > 0 && status.body.lines.length <= 50);

      // A resume point that is not an event id is refused, as the other streams refuse one.
      const bad = await fetch(`${base}/api/dev-cycle/stream?last_id=abc`);
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /malformed Last-Event-ID 'abc'/);

      // Resume: only what came after lastId.
      const resumed = new SseReader(
        await fetch(`${base}/api/dev-cycle/stream`, { headers: { "last-event-id": lastId } }),
      );
      const first = await resumed.nextEvent(5000);
      assert.ok(first);
      if (first.event === "ready") assert.match(first.data!, /"resumed":true/);
      else assert.equal(Number(first.id), Number(lastId) + 1);

      // Stop: SIGTERM is ignored by the whole tree, so SIGKILL follows after 10 s; stop returns after that.
      const t0 = performance.now();
      const stopped = await post(base, "/api/dev-cycle/stop", {});
      const took = (performance.now() - t0) / 1000;
      assert.equal(stopped.status, 200);
      assert.equal(stopped.body.stopped, true);
      assert.ok(took >= 9 && took < 16, `stop took ${took.toFixed(1)} s`);
      await waitFor(
        () => pids.every((p) => !alive(p)) || undefined,
        3000,
        "the SIGTERM-proof processes to end",
      );
      const after = stopped.body.status;
      assert.equal(after.running, false);
      assert.equal(after.ok, false);
      assert.equal(after.code, 130);
      assert.equal(after.stages.find((x: { name: string }) => x.name === "test").detail, "stopped");

      // The resumed stream saw the rest, up to `done`.
      let done = false;
      for (let i = 0; i < 200 && !done; i++) {
        const f = await resumed.nextEvent(5000);
        if (!f) break;
        done = f.event === "done";
      }
      assert.ok(done, "no done event on the resumed stream");
      await resumed.cancel();

      const logs = await fetch(`${base}/api/dev-cycle/logs`);
      assert.equal(logs.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(logs.headers.get("content-disposition"), 'attachment; filename="dev_cycle.log"');
      const text = await logs.text();
      assert.match(text, /\[dev-cycle\] stop: SIGTERM to process group \d+/);
      assert.match(text, /\[dev-cycle\] stop: still running after 10 s, sent SIGKILL/);
      assert.match(text, /\[dev-cycle\] stage test stopped after/);

      // A new cycle can start once the last one ended; this one succeeds.
      const next = await post(base, "/api/dev-cycle/start", { only: ["test"], tests: "tests/add_test.ts" });
      assert.equal(next.status, 202);
      const final = await waitFor(
        async () => {
          const st = await getJson(`${base}/api/dev-cycle/status`);
          return st.body.running ? undefined : st.body;
        },
        30_000,
        "the second cycle",
      );
      assert.equal(final.ok, true, JSON.stringify(final.lines));
      assert.equal(final.code, 0);
    });
  } finally {
    savedHost === undefined ? Deno.env.delete("DOCKER_HOST") : Deno.env.set("DOCKER_HOST", savedHost);
    await Deno.remove(ws, { recursive: true });
  }
});
