/**
 * Routes and logs that touch workspace files go through `core/confined.ts` (issue #16 item 3): a planted
 * symlink out of the workspace or a FIFO is never read by `GET /api/rl/runs` or `/api/rl/runs/:id`, the
 * debug trace neither appends to, truncates nor replays a symlinked log, and the dead-letter mirror does
 * not append through a symlink. Every request is bounded by a timeout: a hang is a failure.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startBus } from "../../bus/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import { withServer } from "../server/helpers.ts";

const SECRET = '{"step": 1, "secret_value": 42}\n';

async function timedJson(url: string, init?: RequestInit) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

Deno.test("rl routes, the trace and the DLQ mirror never follow a symlink out or open a FIFO", async () => {
  const parent = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_confined_" }));
  const ws = join(parent, "ws");
  const outside = join(parent, "outside.jsonl");
  const runs = join(ws, ".dspy", "rl", "runs");
  try {
    await Deno.writeTextFile(outside, SECRET);
    for (const r of ["r1", "r2", "r3", "r4"]) await Deno.mkdir(join(runs, r), { recursive: true });
    await Deno.writeTextFile(join(runs, "r1", "metrics.jsonl"), '{"step": 1, "reward": 0.5}\n');
    await Deno.symlink(outside, join(runs, "r2", "metrics.jsonl"));
    await new Deno.Command("mkfifo", { args: [join(runs, "r3", "metrics.jsonl")] }).output();
    await Deno.symlink(join(runs, "r1", "metrics.jsonl"), join(runs, "r4", "metrics.jsonl")); // inside: fine
    await Deno.mkdir(join(ws, ".dspy_reports"), { recursive: true });
    await Deno.symlink(outside, join(ws, ".dspy_reports", "server_trace.log"));
    await Deno.symlink(outside, join(ws, ".dspy_reports", "dlq.jsonl"));

    await withServer({ workspace: ws }, async (s) => {
      const list = await timedJson(`${s.url}/api/rl/runs`);
      assert.equal(list.status, 200);
      const ids = list.body.runs.map((r: { id: string }) => r.id).sort();
      assert.deepEqual(ids, ["r1", "r4"], JSON.stringify(list.body));
      assert.doesNotMatch(JSON.stringify(list.body), /secret_value/);
      for (const id of ["r2", "r3"]) {
        const one = await timedJson(`${s.url}/api/rl/runs/${id}`);
        assert.equal(one.status, 403, `${id}: ${JSON.stringify(one.body)}`);
        assert.doesNotMatch(JSON.stringify(one.body), /secret_value/);
      }
      assert.equal((await timedJson(`${s.url}/api/rl/runs/r1`)).status, 200);
      assert.equal((await timedJson(`${s.url}/api/rl/runs/nope`)).status, 404);
      // The trace: requests above were traced; the outside file is untouched and never replayed.
      await s.state.trace.flush();
      assert.deepEqual(await s.state.trace.tail(10), []);
      const clear = await timedJson(`${s.url}/api/debug/trace`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"clear": true}',
      });
      assert.notEqual(clear.status, 200, "clearing a symlinked trace must not truncate its target");
      assert.ok(clear.status < 500, JSON.stringify(clear));
    });
    // The DLQ mirror (.dspy_reports/dlq.jsonl) does not append through the link.
    const bus = await startBus({
      workspace: ws,
      backend: "local",
      metricsIntervalSec: 0,
      routeEvents: false,
    });
    try {
      const consumer = bus.consume({
        topic: "jobs",
        group: "g",
        maxRetries: 0,
        handler: () => {
          throw new Error("boom");
        },
      });
      await bus.publish("jobs", { n: 1 });
      for (let i = 0; i < 100 && consumer.stats.deadLettered === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(consumer.stats.deadLettered, 1);
      await consumer.close();
      await bus.flush();
    } finally {
      await bus.close();
      await closeAllKv();
    }
    assert.equal(await Deno.readTextFile(outside), SECRET, "the outside file changed");
  } finally {
    await Deno.remove(parent, { recursive: true }).catch(() => {});
  }
});
