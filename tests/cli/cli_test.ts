import assert from "node:assert/strict";
import { join } from "node:path";
import { runDspy, tempWorkspace } from "../support/cli.ts";

Deno.test("--version and version print the version", async () => {
  const a = await runDspy(["--version"]);
  assert.equal(a.code, 0);
  assert.match(a.stdout, /^dspy-code \d+\.\d+\.\d+\n$/);
  const ws = await tempWorkspace();
  const b = await runDspy(["--workspace", ws, "version", "--json"]);
  assert.equal(b.code, 0);
  assert.match(JSON.parse(b.stdout).version, /^\d+\.\d+\.\d+$/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("--help lists the commands and every command has help with an example", async () => {
  const help = await runDspy(["--help"]);
  assert.equal(help.code, 0);
  for (const name of ["tree", "tail", "stats", "doctor", "dashboard-lite"]) {
    assert.match(help.stdout, new RegExp(name));
  }
  const cmd = await runDspy(["tree", "--help"]);
  assert.equal(cmd.code, 0);
  assert.match(cmd.stdout, /Usage: dspy-code tree/);
  assert.match(cmd.stdout, /Examples:\n {2}dspy-code tree/);
});

Deno.test("unknown command suggests the closest and exits 2", async () => {
  const r = await runDspy(["tre"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'tre'.*Did you mean 'tree'/);
  const none = await runDspy(["zzqqxxyy"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /unknown command 'zzqqxxyy'\. Run 'dspy-code --help'/);
  const flag = await runDspy(["--bogus"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option --bogus/);
});

Deno.test("a command's unknown option is named with the closest options, without node's long advice (exit 2)", async () => {
  const ws = await tempWorkspace();
  const typo = await runDspy(["--workspace", ws, "grep", "--fixd", "x"]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /grep: unknown option '--fixd' \(did you mean '--fixed'/);
  assert.doesNotMatch(typo.stderr, /place it at the end/);
  const none = await runDspy(["--workspace", ws, "grep", "--zzqqxx", "x"]);
  assert.equal(none.code, 2);
  assert.match(
    none.stderr,
    /unknown option '--zzqqxx' \(a positional argument that starts with '-' goes after '--'\)/,
  );
  await Deno.remove(ws, { recursive: true });
});

Deno.test("a flag given a value that starts with '-' says how to pass it (exit 2)", async () => {
  const ws = await tempWorkspace();
  const r = await runDspy(["--workspace", ws, "tail", "--limit", "-5"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /write --limit=VALUE for a value that starts with '-'/);
  assert.doesNotMatch(r.stderr, /\.\./);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("--workspace must exist and be a folder (exit 2 with a clear error)", async () => {
  const ws = await tempWorkspace();
  const missing = join(ws, "nope");
  const r = await runDspy(["--workspace", missing, "ls"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /workspace .*nope does not exist/);
  await Deno.writeTextFile(join(ws, "file.txt"), "x");
  const f = await runDspy(["--workspace", join(ws, "file.txt"), "ls"]);
  assert.equal(f.code, 2);
  assert.match(f.stderr, /is not a directory/);
  // The environment variable is honoured, and the flag wins over it.
  const env = await runDspy(["ws"], { env: { DSPY_WORKSPACE: missing } });
  assert.equal(env.code, 2);
  const both = await runDspy(["--workspace", ws, "ws"], { env: { DSPY_WORKSPACE: missing } });
  assert.equal(both.code, 0);
  assert.equal(both.stdout.trim(), await Deno.realPath(ws));
  await Deno.remove(ws, { recursive: true });
});

Deno.test("deno task start works on the folder it is started from, not the repository's", async () => {
  const ws = await Deno.realPath(await tempWorkspace());
  await Deno.mkdir(join(ws, "sub"));
  const { MAIN_TS } = await import("../support/cli.ts");
  const config = join(MAIN_TS, "..", "deno.json");
  const env = { ...Deno.env.toObject() };
  delete env.DSPY_WORKSPACE;
  delete env.INIT_CWD; // set when this suite runs under `deno task test`; Deno keeps an inherited one
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "--config", config, "start", ...args],
      cwd: ws,
      env,
      clearEnv: true,
      stdin: "null",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  assert.equal(await run(["ws"]), ws);
  assert.equal(await run(["--workspace", "sub", "ws"]), join(ws, "sub"));
  await Deno.remove(ws, { recursive: true });
});

Deno.test("flags win over environment variables, which win over defaults", async () => {
  const ws = await tempWorkspace();
  const defaults = JSON.parse((await runDspy(["--workspace", ws, "config", "--json"])).stdout);
  assert.equal(defaults.model, "qwen3:1.7b");
  assert.equal(defaults.ollama, true);
  assert.equal(defaults.approval, "auto");
  const env = {
    MODEL_NAME: "env-model",
    USE_OLLAMA: "false",
    TOOL_APPROVAL: "manual",
    OPENAI_BASE_URL: "http://127.0.0.1:9/v1",
    OPENAI_API_KEY: "sk-env",
  };
  const fromEnv = JSON.parse((await runDspy(["--workspace", ws, "config", "--json"], { env })).stdout);
  assert.equal(fromEnv.model, "env-model");
  assert.equal(fromEnv.ollama, false);
  assert.equal(fromEnv.approval, "manual");
  assert.equal(fromEnv.base_url, "http://127.0.0.1:9/v1");
  assert.match(fromEnv.api_key, /^set/);
  const flags = JSON.parse(
    (await runDspy([
      "--workspace",
      ws,
      "--model",
      "flag-model",
      "--ollama",
      "--approval",
      "auto",
      "--base-url",
      "http://127.0.0.1:8/v1",
      "config",
      "--json",
    ], { env })).stdout,
  );
  assert.equal(flags.model, "flag-model");
  assert.equal(flags.ollama, true);
  assert.equal(flags.approval, "auto");
  // The effective endpoint: with Ollama on, --base-url is Ollama's server root (no /v1).
  assert.equal(flags.base_url, "http://127.0.0.1:8");
  assert.equal(flags.base_url_source, "--base-url");
  // A value the variable cannot mean is an error, like TOOL_APPROVAL's; a flag still overrides it.
  const badBool = await runDspy(["--workspace", ws, "config", "--json"], { env: { USE_OLLAMA: "maybe" } });
  assert.equal(badBool.code, 2);
  assert.match(badBool.stderr, /USE_OLLAMA must be true or false/);
  const overridden = await runDspy(["--workspace", ws, "--no-ollama", "config", "--json"], {
    env: { USE_OLLAMA: "maybe" },
  });
  assert.equal(JSON.parse(overridden.stdout).ollama, false);
  const bad = await runDspy(["--workspace", ws, "config"], { env: { TOOL_APPROVAL: "sometimes" } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /TOOL_APPROVAL must be 'auto' or 'manual'/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("--plain without a TTY prints no escape codes and never crashes", async () => {
  const ws = await tempWorkspace();
  await Deno.mkdir(join(ws, "src"));
  await Deno.writeTextFile(join(ws, "src", "a.ts"), "x");
  for (const args of [["tree"], ["ls"], ["stats"], ["doctor"], ["--help"], ["tre"]]) {
    const r = await runDspy(["--plain", "--workspace", ws, ...args], { env: { CI: "" } });
    assert.ok(!(r.stdout + r.stderr).includes("\x1b["), `escape codes in ${args.join(" ")}`);
    assert.ok(r.code === 0 || r.code === 2, `${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  }
  await Deno.remove(ws, { recursive: true });
});

Deno.test("tree lists dirs first and hides .git, node_modules, .venv and .dspy* unless -a", async () => {
  const ws = await tempWorkspace();
  for (const d of [".git", "node_modules/pkg", ".venv", ".dspy_index", "src/lib", "docs"]) {
    await Deno.mkdir(join(ws, d), { recursive: true });
  }
  await Deno.writeTextFile(join(ws, "a.txt"), "a");
  await Deno.writeTextFile(join(ws, "src", "lib", "deep.ts"), "d");
  await Deno.writeTextFile(join(ws, "src", "main.ts"), "m");
  const r = await runDspy(["--workspace", ws, "tree"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.ok(lines.indexOf("├── docs/") < lines.indexOf("└── a.txt"), r.stdout);
  assert.ok(lines.some((l) => l.includes("deep.ts")));
  for (const hidden of [".git", "node_modules", ".venv", ".dspy_index"]) {
    assert.ok(!r.stdout.includes(hidden));
  }
  const depth1 = await runDspy(["--workspace", ws, "tree", "-d", "1"]);
  assert.ok(!depth1.stdout.includes("main.ts"));
  const all = await runDspy(["--workspace", ws, "tree", "-a"]);
  for (const shown of [".git/", "node_modules/", ".venv/", ".dspy_index/"]) {
    assert.ok(all.stdout.includes(shown));
  }
  const ls = await runDspy(["--workspace", ws, "ls", "src", "--json"]);
  assert.deepEqual(JSON.parse(ls.stdout).map((e: { name: string }) => e.name), ["lib", "main.ts"]);
  const escape = await runDspy(["--workspace", ws, "ls", "../"]);
  assert.equal(escape.code, 1);
  assert.match(escape.stderr, /outside the workspace/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("the session reads commands from a pipe, survives bad lines and chains with &&", async () => {
  const ws = await tempWorkspace();
  await Deno.mkdir(join(ws, "sub"));
  await Deno.writeTextFile(join(ws, "sub", "x.txt"), "x");
  const script = [
    "ws",
    "",
    "ls nope",
    "definitely-not-a-command",
    'ls "unterminated',
    "tree --depth banana",
    "ls nope && ws",
    "cd sub && ls",
    "?",
    "exit",
    "ws",
  ].join("\n") + "\n";
  const r = await runDspy(["--workspace", ws], { stdin: script });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dspy-code session/);
  assert.match(r.stderr, /empty line/);
  assert.match(r.stderr, /ls: nope does not exist/);
  assert.match(r.stderr, /unterminated " quote/);
  assert.match(r.stderr, /--depth takes a whole number/);
  assert.match(r.stdout, /workspace: .*sub\n.*x\.txt/);
  assert.match(r.stdout, /Session and workspace:/);
  assert.match(r.stdout, /bye\n$/);
  // `ls nope && ws` must not run ws: the real path is printed exactly once (by the first `ws`).
  const real = await Deno.realPath(ws);
  assert.equal(r.stdout.split("\n").filter((l) => l === real).length, 1);
  // End of input also ends the session.
  const eof = await runDspy(["--workspace", ws], { stdin: "ws" });
  assert.equal(eof.code, 0);
  assert.match(eof.stdout, /bye\n$/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("every command emits tool.start/tool.end and stats summarises them", async () => {
  const ws = await tempWorkspace();
  await runDspy(["--workspace", ws, "ls"]);
  await runDspy(["--workspace", ws, "ls", "missing"]);
  await runDspy(["--workspace", ws], { stdin: "tree\nls\n" });
  const r = await runDspy(["--workspace", ws, "stats", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout);
  const ls = stats.tools.find((t: { tool: string }) => t.tool === "ls");
  assert.equal(ls.count, 3);
  assert.equal(ls.success, 2);
  assert.ok(Math.abs(ls.avg_score - 2 / 3) < 1e-4);
  assert.equal(stats.tools.find((t: { tool: string }) => t.tool === "tree").count, 1);
  assert.equal(stats.recent[0].tool, "ls");
  const tail = await runDspy(["--workspace", ws, "tail", "--json"]);
  const events = tail.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
  const end = events.find((e) => e.metric === "tool.end" && e.data.success === false);
  assert.equal(end.workspace, await Deno.realPath(ws));
  assert.deepEqual(Object.keys(end.data).sort(), [
    "args",
    "duration_sec",
    "error",
    "score",
    "session",
    "step",
    "success",
    "tool",
  ]);
  const plain = await runDspy(["--workspace", ws, "stats"]);
  assert.match(plain.stdout, /Per-Tool Stats/);
  assert.match(plain.stdout, /Recent tool\.end/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("tail --follow in one process sees events written by another", async () => {
  const ws = await tempWorkspace();
  const { MAIN_TS } = await import("../support/cli.ts");
  const follower = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", ws, "tail", "agent.metrics", "--follow", "--json"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = follower.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await runDspy(["--workspace", ws, "tree"]);
  let seen = "";
  const deadline = Date.now() + 15000;
  while (!seen.includes('"tool.end"') && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  follower.kill("SIGTERM");
  await reader.cancel();
  await follower.status;
  assert.match(seen, /"metric":"tool.start".*"tool":"tree"/);
  assert.match(seen, /"metric":"tool.end"/);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("doctor --json reports every check", async () => {
  const ws = await tempWorkspace();
  const r = await runDspy(["--workspace", ws, "doctor", "--json", "--port", "1"], {
    env: { OLLAMA_HOST: "http://127.0.0.1:9" },
  });
  const report = JSON.parse(r.stdout);
  const names = report.checks.map((c: { name: string }) => c.name);
  for (const n of ["deno", "workspace writable", "kv", "git", "ollama", "disk", "port 1"]) {
    assert.ok(names.includes(n));
  }
  const byName = Object.fromEntries(
    report.checks.map((c: { name: string; status: string }) => [c.name, c.status]),
  );
  assert.equal(byName.kv, "ok");
  assert.equal(byName["workspace writable"], "ok");
  assert.equal(byName.ollama, "warn");
  assert.equal(report.ok, true);
  assert.equal(r.code, 0);
  await Deno.remove(ws, { recursive: true });
});

/** A stand-in answering Ollama's `/api/tags` with one model, so a probe's address is what a test checks. */
function ollamaStandIn(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      new URL(req.url).pathname === "/api/tags"
        ? Response.json({ models: [{ name: "qwen3:1.7b" }] })
        : new Response("not found", { status: 404 }),
  );
}

Deno.test("doctor probes OLLAMA_HOST normalised like the agent (0.0.0.0:PORT → 127.0.0.1:PORT)", async () => {
  const ws = await tempWorkspace();
  const server = ollamaStandIn();
  try {
    const r = await runDspy(["--workspace", ws, "doctor", "--json", "--port", "1"], {
      env: { OLLAMA_HOST: `0.0.0.0:${server.addr.port}` },
    });
    const ollama = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "ollama");
    assert.equal(ollama.status, "ok", ollama.detail);
    assert.equal(ollama.detail, `http://127.0.0.1:${server.addr.port}: 1 model(s) qwen3:1.7b`);
    const disk = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "disk");
    assert.match(disk.detail, /^\d+\.\d GB free$/);
  } finally {
    await server.shutdown();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("doctor probes Ollama where the agent would, not at OPENAI_BASE_URL", async () => {
  const ws = await tempWorkspace();
  const server = ollamaStandIn();
  try {
    // OPENAI_BASE_URL names another (here unreachable) server; in Ollama mode the agent ignores it.
    const r = await runDspy(["--workspace", ws, "doctor", "--json", "--port", "1"], {
      env: { OLLAMA_HOST: `127.0.0.1:${server.addr.port}`, OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    });
    const ollama = JSON.parse(r.stdout).checks.find((c: { name: string }) => c.name === "ollama");
    assert.equal(ollama.status, "ok", ollama.detail);
    assert.equal(ollama.detail, `http://127.0.0.1:${server.addr.port}: 1 model(s) qwen3:1.7b`);
    // Unreachable: the hint names what configures an LLM, not OPENAI_BASE_URL alone.
    const down = await runDspy(["--workspace", ws, "doctor", "--json", "--port", "1"], {
      env: { OLLAMA_HOST: "http://127.0.0.1:9" },
    });
    const detail = JSON.parse(down.stdout).checks.find((c: { name: string }) => c.name === "ollama").detail;
    assert.match(detail, /or use --no-ollama with OPENAI_API_KEY/);
  } finally {
    await server.shutdown();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("stats shows the tool bandit: tried arms in a table, untried ones on one line", async () => {
  const ws = await tempWorkspace();
  await Deno.writeTextFile(
    join(ws, ".dspy_rl_state.json"),
    JSON.stringify({
      policy: "ucb1",
      tools: ["grep", "lint", "build"],
      values: [0.75, 0, 0],
      counts: [4, 0, 0],
    }),
  );
  const r = await runDspy(["--workspace", ws, "stats"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Tool bandit \(ucb1\)/);
  assert.match(r.stdout, /grep\s+0\.750\s+4/);
  assert.match(r.stdout, /not tried yet: lint, build/);
  const json = JSON.parse((await runDspy(["--workspace", ws, "stats", "--json"])).stdout);
  assert.deepEqual(json.bandit.counts, [4, 0, 0]);
  await Deno.remove(ws, { recursive: true });
});

Deno.test("options with a minimum name the flag and the bound", async () => {
  const ws = await tempWorkspace();
  const rl = await runDspy(["--workspace", ws, "rl", "ppo", "--env", "cartpole", "--n-envs", "0"]);
  assert.equal(rl.code, 2);
  assert.match(rl.stderr, /rl: --n-envs takes a whole number ≥ 1, got '0'/);
  const chat = await runDspy(["--workspace", ws, "chat", "--steps", "abc", "hi"]);
  assert.equal(chat.code, 2);
  assert.match(chat.stderr, /chat: --steps takes a whole number ≥ 1, got 'abc'/);
  await Deno.remove(ws, { recursive: true });
});
