/**
 * `dspy-code up --allowed-host` and `DSPY_ALLOWED_HOSTS` through the real CLI: the configured names are
 * accepted, others still get 403, and malformed values are usage errors (exit 2).
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAIN_TS, runDspy } from "../support/cli.ts";
import { buildRequest, rawRequest } from "./raw_http.ts";

Deno.test("up --allowed-host and DSPY_ALLOWED_HOSTS widen the Host allow-list; bad values exit 2", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy_up_hosts_" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_TS,
        "--workspace",
        ws,
        "--json",
        "up",
        "--port",
        "0",
        "--allowed-host",
        "dspy.lan",
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
      env: { NO_COLOR: "1", DSPY_ALLOWED_HOSTS: "box.lan:1234" },
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
    }
    try {
      const { url } = JSON.parse(buf.split("\n")[0]);
      const port = Number(new URL(url).port);
      const status = async (host: string) => {
        const r = await rawRequest(port, buildRequest("GET", "/health", { host }));
        return r.kind === "response" ? r.status : r.kind;
      };
      assert.equal(await status(`dspy.lan:${port}`), 200);
      assert.equal(await status("box.lan:1234"), 200);
      assert.equal(await status(`127.0.0.1:${port}`), 200);
      assert.equal(await status(`evil.example:${port}`), 403);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
    }
    for (
      const args of [
        ["up", "--allowed-host", "a/b"],
        ["up", "--allowed-host", ""],
        ["up", "--allowed-origin", "evil.example"],
        ["up", "--allowed-origin", "http://x.example/path"],
      ]
    ) {
      const r = await runDspy(["--workspace", ws, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /--allowed-(host|origin)/);
    }
  } finally {
    await Deno.remove(ws, { recursive: true }).catch(() => {});
  }
});
