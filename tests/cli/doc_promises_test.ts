/**
 * What the docs promise, the commands do (issue #17): one test per promise that a newcomer found broken —
 * `tail --since --limit`, `bus consume`'s metrics snapshot, `bus publish` wording, `run-tests` exit 124, `llm`
 * exit 1 without an LLM, `config`'s effective endpoint, `doctor`'s OpenAI-compatible check, `extract` on a
 * missing file, `index --json` counts, merged `grep -c` context blocks and `ls --help`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MAIN_TS, runDspy, tempWorkspace } from "../support/cli.ts";

async function fixture(): Promise<string> {
  const ws = await tempWorkspace();
  await Deno.mkdir(join(ws, "src"));
  await Deno.writeTextFile(join(ws, "src", "app.py"), "def main():\n    return 1\n");
  return await Deno.realPath(ws);
}

Deno.test("tail --since with --limit prints the newest N events at or after the time", async () => {
  const ws = await fixture();
  // Six tool events (start + end each), all after `since`.
  const since = Math.floor(Date.now() / 1000) - 1;
  const r0 = await runDspy(["--workspace", ws], { stdin: "ws\nws\nws\n" });
  assert.equal(r0.code, 0, r0.stderr);
  const r = await runDspy([
    "--workspace",
    ws,
    "tail",
    "agent.metrics",
    "--since",
    String(since),
    "--limit",
    "3",
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.length, 3, r.stdout);
  const all = await runDspy(["--workspace", ws, "tail", "agent.metrics", "--since", String(since), "--json"]);
  const seqs = all.stdout.trim().split("\n").map((l) => JSON.parse(l).seq);
  assert.ok(seqs.length > 3);
  assert.deepEqual(events.map((e) => e.seq), seqs.slice(-3), "the newest three");
  await Deno.remove(ws, { recursive: true });
});

Deno.test("bus consume writes its own metrics snapshot; publish says 'published N message(s)'", async () => {
  const ws = await fixture();
  const one = await runDspy(["--workspace", ws, "bus", "publish", "jobs", '{"a":1}', "--durable"]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout.trim(), "published 1 message to jobs");
  const file = join(ws, "two.jsonl");
  await Deno.writeTextFile(file, '{"a":2}\n{"a":3}\n');
  const two = await runDspy(["--workspace", ws, "bus", "publish", "jobs", "--file", file]);
  assert.equal(two.stdout.trim(), "published 2 messages to jobs");

  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", ws, "bus", "consume", "jobs", "--group", "g"],
    env: { BUS_METRICS_INTERVAL: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const snapshot = join(ws, ".dspy_reports", "bus_metrics.json");
  const deadline = Date.now() + 15_000;
  let written = false;
  while (!written && Date.now() < deadline) {
    written = await Deno.stat(snapshot).then(() => true, () => false);
    if (!written) await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGINT");
  const out = await child.output();
  assert.ok(written, `no snapshot; stderr: ${new TextDecoder().decode(out.stderr)}`);
  const snap = JSON.parse(await Deno.readTextFile(snapshot));
  assert.equal(typeof snap.ts, "number");
  assert.equal(typeof snap.pid, "number");
  await Deno.remove(ws, { recursive: true });
});

Deno.test("run-tests exits 124 when the run times out", async () => {
  const ws = await fixture();
  await Deno.writeTextFile(join(ws, "Makefile"), "test:\n\tsleep 30\n");
  const t0 = performance.now();
  const r = await runDspy(["--workspace", ws, "run-tests", "--timeout", "1", "--quiet"]);
  assert.equal(r.code, 124, r.stdout + r.stderr);
  assert.match(r.stdout, /timed out after 1s/);
  assert.ok(performance.now() - t0 < 20_000);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("llm exits 1 when no LLM answers; config shows the effective endpoint and where it came from", async () => {
  const ws = await fixture();
  const none = await runDspy([
    "--workspace",
    ws,
    "--no-ollama",
    "--base-url",
    "http://127.0.0.1:1/v1",
    "llm",
  ]);
  assert.equal(none.code, 1, none.stdout + none.stderr);
  assert.match(none.stdout, /not available/);
  const json = await runDspy([
    "--workspace",
    ws,
    "--no-ollama",
    "--base-url",
    "http://127.0.0.1:1/v1",
    "llm",
    "--json",
  ]);
  assert.equal(json.code, 1);
  assert.equal(JSON.parse(json.stdout).ready, false);

  const cfg = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runDspy(["--workspace", ws, ...args, "config", "--json"], {
      env,
      unsetEnv: ["OLLAMA_HOST"],
    });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  assert.deepEqual(
    [(await cfg([])).base_url, (await cfg([])).base_url_source],
    ["http://localhost:11434", "default"],
  );
  const host = await cfg([], { OLLAMA_HOST: "0.0.0.0:12345" });
  assert.deepEqual([host.base_url, host.base_url_source], ["http://127.0.0.1:12345", "OLLAMA_HOST"]);
  const flag = await cfg(["--no-ollama", "--base-url", "http://h:9"]);
  assert.deepEqual([flag.base_url, flag.base_url_source], ["http://h:9/v1", "--base-url"]);
  const env = await cfg(["--no-ollama"], { OPENAI_BASE_URL: "http://e:8/v1" });
  assert.deepEqual([env.base_url, env.base_url_source], ["http://e:8/v1", "OPENAI_BASE_URL"]);
  const local = await cfg([], { LOCAL_MODE: "1" });
  assert.deepEqual([local.base_url, local.base_url_source], [null, "LOCAL_MODE"]);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("doctor checks an OpenAI-compatible setup instead of advising to set OPENAI_BASE_URL", async () => {
  const ws = await fixture();
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(`${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
    return Response.json({ data: [{ id: "gpt-test" }, { id: "other" }] });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/v1`;
    const r = await runDspy([
      "--workspace",
      ws,
      "--no-ollama",
      "--base-url",
      base,
      "--api-key",
      "x",
      "--model",
      "gpt-test",
      "doctor",
      "--json",
      "--port",
      "0",
    ]);
    const checks = JSON.parse(r.stdout).checks as { name: string; status: string; detail: string }[];
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    assert.equal(byName["openai-compatible"].status, "ok", JSON.stringify(checks));
    assert.match(byName["openai-compatible"].detail, /2 model\(s\); gpt-test is listed/);
    assert.equal(byName.ollama.detail, "not used (--no-ollama)");
    assert.ok(!checks.some((c) => /set OPENAI_BASE_URL/.test(c.detail)));
    assert.deepEqual(seen, ["/v1/models Bearer x"]);
  } finally {
    await server.shutdown();
  }
  // Unreachable: a warning that names the URL and what to check.
  const down = await runDspy([
    "--workspace",
    ws,
    "--no-ollama",
    "--base-url",
    "http://127.0.0.1:1/v1",
    "doctor",
    "--json",
    "--port",
    "0",
  ]);
  const c = JSON.parse(down.stdout).checks.find((k: { name: string }) => k.name === "openai-compatible");
  assert.equal(c.status, "warn");
  assert.match(c.detail, /127\.0\.0\.1:1\/v1 not reachable.*--base-url or OPENAI_BASE_URL/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("extract on a missing file says it does not exist", async () => {
  const ws = await fixture();
  const r = await runDspy(["--workspace", ws, "extract", "--file", "src/nope.py", "--symbol", "main"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /src\/nope\.py does not exist in the workspace/);
  assert.doesNotMatch(r.stderr, /relative to the workspace/);
  const dir = await runDspy(["--workspace", ws, "extract", "--file", "src", "--symbol", "main"]);
  assert.match(dir.stderr, /src is a folder/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("index --json counts add up: files + files_skipped = files_read + files_reused", async () => {
  const ws = await fixture();
  await Deno.writeTextFile(join(ws, "src", "empty.py"), "");
  await Deno.writeFile(join(ws, "src", "blob.bin"), new Uint8Array([0, 1, 2, 0, 3]));
  const r = await runDspy(["--workspace", ws, "index", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.files, 1);
  assert.equal(d.files_skipped, 2);
  assert.equal(d.files + d.files_skipped, d.files_read + d.files_reused);
  const again = JSON.parse((await runDspy(["--workspace", ws, "index", "--json"])).stdout);
  assert.equal(again.files + again.files_skipped, again.files_read + again.files_reused);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("grep -c merges overlapping context blocks as grep and rg do", async () => {
  const ws = await fixture();
  await Deno.writeTextFile(join(ws, "g.txt"), "a1\nb\na2\nc\nd\ne\nf\na3\n");
  const r = await runDspy(["--workspace", ws, "grep", "a[0-9]", "-c", "1", "--glob", "g.txt"]);
  assert.equal(r.code, 0, r.stderr);
  const body = r.stdout.split("\n").filter((l) => !l.startsWith("Found"));
  assert.deepEqual(body.filter(Boolean), [
    "g.txt:1: a1",
    "g.txt-2- b",
    "g.txt:3: a2",
    "g.txt-4- c",
    "--",
    "g.txt-7- f",
    "g.txt:8: a3",
  ]);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("ls --help shows --json in its usage, as its example uses it", async () => {
  const r = await runDspy(["ls", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: dspy-code ls \[PATH\] \[--json\]/);
  assert.match(r.stdout, /ls src --json/);
});

Deno.test("dspy-code's state stays out of git status through .git/info/exclude, not the user's .gitignore", async () => {
  const ws = await fixture();
  const git = (...args: string[]) =>
    new Deno.Command("git", { args, cwd: ws, stdout: "piped", stderr: "piped" }).output();
  await git("init", "-q");
  await Deno.writeTextFile(join(ws, ".dspyignore"), "vendor/\n");
  for (let i = 0; i < 2; i++) {
    const r = await runDspy(["--workspace", ws, "index"]);
    assert.equal(r.code, 0, r.stderr);
  }
  await runDspy(["--workspace", ws], { stdin: "stats\ncd src\nindex\n" });
  const status = new TextDecoder().decode(
    (await git("status", "--porcelain", "--untracked-files=all")).stdout,
  );
  assert.deepEqual(status.trim().split("\n").sort(), ["?? .dspyignore", "?? src/app.py"], status);
  await assert.rejects(Deno.stat(join(ws, ".gitignore")), Deno.errors.NotFound);
  const exclude = await Deno.readTextFile(join(ws, ".git", "info", "exclude"));
  assert.equal(exclude.split("# dspy-code's own state").length, 2, "added once");
  await Deno.remove(ws, { recursive: true });
});
