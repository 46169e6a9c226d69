/**
 * One real `Deno.cron` firing: `up` runs in a subprocess, a schedule at `* * * * *` is added afterwards
 * through the CLI (so `up` must pick it up without a restart), and an experiment with
 * `trigger: "cron:tick"` must run to `done` within 75 s. The only test that waits for the clock.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAIN_TS, runDspy } from "../support/cli.ts";
import { experimentWorkspace, waitFor } from "./helpers.ts";

Deno.test("schedules: up fires a '* * * * *' schedule added while it runs, within 75 s", async () => {
  const ws = await experimentWorkspace(100);
  const up = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", ws, "--json", "up", "--port", "0"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = up.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(up.stderr).text();
  try {
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`up ended: ${await stderr}`);
      buf += value;
    }
    const { url } = JSON.parse(buf.split("\n")[0]);
    const add = await runDspy([
      "--workspace",
      ws,
      "experiments",
      "schedule",
      "add",
      "tick",
      "--cron",
      "* * * * *",
      "--",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
      "--backend",
      "hash",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const added = Date.now();
    const exp = await waitFor(
      async () => {
        const list = await (await fetch(`${url}/api/experiments/list`)).json();
        return list.items.find((r: { trigger: string; status: string }) =>
          r.trigger === "cron:tick" && r.status === "done"
        );
      },
      75_000,
      "a cron firing",
    );
    assert.ok(Date.now() - added <= 75_000);
    assert.equal(exp.metrics.texts, 100);
    const sched = await (await fetch(`${url}/api/experiments/schedules`)).json();
    assert.equal(sched.items[0].firings[0].outcome, "started");
    assert.equal(sched.items[0].firings[0].experiment, exp.id);
    // The firing happened on a minute boundary.
    assert.equal(new Date(sched.items[0].firings[0].ts).getUTCSeconds() < 10, true);
  } finally {
    up.kill("SIGTERM");
    await up.status;
    await reader.cancel().catch(() => {});
    await stderr;
    await Deno.remove(ws, { recursive: true });
  }
});
