/**
 * `dspy-code up` and `quickstart` through the real CLI in a subprocess: they print the URLs, serve the
 * stack with a running bus, and stop gracefully on SIGTERM/SIGINT with exit code 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAIN_TS } from "../support/cli.ts";

async function startCli(workspace: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", workspace, "--json", ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 60_000;
  while (!buf.includes("\n")) {
    if (Date.now() > deadline) throw new Error("no output from the CLI");
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  const first = JSON.parse(buf.split("\n")[0]);
  const stderrText = new Response(child.stderr).text();
  return { child, first, reader, stderrText };
}

async function stop(
  c: Awaited<ReturnType<typeof startCli>>,
  signal: Deno.Signal,
): Promise<{ code: number; stderr: string }> {
  c.child.kill(signal);
  const status = await c.child.status;
  await c.reader.cancel().catch(() => {});
  return { code: status.code, stderr: await c.stderrText };
}

Deno.test("up serves the stack with a bus and shuts down gracefully on SIGTERM", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_up_" });
  try {
    const c = await startCli(ws, ["up", "--port", "0"]);
    assert.equal(c.first.ok, true);
    const url: string = c.first.url;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await (await fetch(`${url}/health`)).json();
    assert.equal(health.status, "ok");
    const metrics = await (await fetch(`${url}/metrics?format=json`)).json();
    assert.equal(metrics.bus.backend, "local");
    assert.equal(typeof metrics.dlq.total, "number");
    const status = await (await fetch(`${url}/api/status`)).json();
    assert.equal(status.components.bus.status, "ok");
    // An open SSE stream does not hold up shutdown.
    const sse = await fetch(`${url}/api/events/stream`);
    const { code, stderr } = await stop(c, "SIGTERM");
    await sse.body?.cancel().catch(() => {});
    assert.equal(code, 0, stderr);
    assert.match(stderr, /stopped/);
    await assert.rejects(() => fetch(`${url}/health`));
    // The trace file recorded the requests.
    const trace = await Deno.readTextFile(`${ws}/.dspy_reports/server_trace.log`);
    assert.match(trace, /"path":"\/health"/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("quickstart --local starts the same local stack; a non-loopback host without ADMIN_KEY warns", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_qs_" });
  try {
    const c = await startCli(ws, ["quickstart", "--local", "--host", "0.0.0.0", "--port", "0"], {
      ADMIN_KEY: "",
    });
    const url: string = c.first.url.replace("0.0.0.0", "127.0.0.1");
    assert.equal((await (await fetch(`${url}/health`)).json()).status, "ok");
    const { code, stderr } = await stop(c, "SIGINT");
    assert.equal(code, 0, stderr);
    assert.match(stderr, /without ADMIN_KEY/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("up rejects bad flags with usage errors (exit 2)", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_up_bad_" });
  try {
    for (
      const args of [["up", "--port", "abc"], ["up", "--port", "70000"], ["up", "extra"], ["up", "--open"]]
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN_TS, "--workspace", ws, ...args],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
      assert.equal(out.code, 2, args.join(" "));
    }
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("up on a port that is taken fails with a clear message (exit 1)", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_up_busy_" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_TS,
        "--workspace",
        ws,
        "up",
        "--port",
        String((taken.addr as Deno.NetAddr).port),
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    assert.equal(out.code, 1);
    assert.match(
      new TextDecoder().decode(out.stderr),
      /already in use: stop the other server or pass --port N/,
    );
  } finally {
    taken.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("up's panel lists each accepted host once (the default 127.0.0.1 is not repeated)", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_up_hosts_" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", ws, "--plain", "up", "--port", "0", "--allowed-host", "box"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    const deadline = Date.now() + 60_000;
    // The panel is on stdout ("Press Ctrl-C" goes to stderr): read until the hosts line is complete.
    while (!/\n\s*hosts[^\n]*\n/.test(out) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const line = out.split("\n").find((l) => l.trim().startsWith("hosts")) ?? "";
    assert.match(line, /hosts\s+127\.0\.0\.1, localhost, \[::1\], box \(others: 403/, out);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(ws, { recursive: true });
  }
});
