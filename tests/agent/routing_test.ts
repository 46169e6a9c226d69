import assert from "node:assert/strict";
import { join } from "node:path";
import {
  argsFor,
  createLlmClient,
  extractKeyEvents,
  learnFromTool,
  loadToolBandit,
  looksLikeIdentifier,
  offlineCandidates,
  orderCandidates,
  quoteArg,
  readSessionSummary,
  resetBreakers,
  rewardOf,
  routeArgv,
  routeRequest,
  scoreOutcome,
  searchSubject,
} from "../../agent/mod.ts";
import { createBandit } from "../../learning/mod.ts";
import { closeAllKv } from "../../core/kv.ts";
import { splitCommandLine } from "../../cli/tokenize.ts";
import { startLlmServer } from "./support/llm_servers.ts";

Deno.test("offline rules: task requests go to their tool", () => {
  const first = (q: string, state = {}) => offlineCandidates(q, state)[0];
  assert.equal(first("run the tests please").tool, "run-tests");
  assert.equal(first("why do the tests fail").tool, "run-tests");
  assert.equal(first("lint the code").tool, "lint");
  assert.equal(first("fix the lint warnings").tool, "lint");
  assert.equal(first("does it compile?").tool, "build");
  assert.equal(first("build the project").tool, "build");
  assert.equal(first("what changed since the last commit").tool, "gstatus");
  assert.equal(first("any uncommitted changes?").tool, "gstatus");
  assert.equal(first("status").tool, "gstatus");
  assert.equal(first("what changed recently").tool, "glog");
  assert.deepEqual([first("history of src/app.py").tool, first("history of src/app.py").args], [
    "glog",
    ["src/app.py"],
  ]);
  assert.equal(first("show me the last 5 commits").tool, "glog");
  assert.equal(first("git diff").tool, "gdiff");
  assert.equal(first("show me the diff").tool, "gdiff");
  assert.equal(first("what did I change?").tool, "gdiff");
  // Words of code, not questions about the repository's history or changes.
  assert.equal(first("keep a history of requests").tool, "esearch");
  assert.equal(first("show the diff of two config objects").tool, "esearch");
  assert.equal(first("who changed this file").tool, "glog");
  assert.equal(first("show me the errors in the logs").tool, "ctx");
  assert.equal(first("why did the worker crash", { hasLogs: true }).tool, "ctx");
  assert.deepEqual(first("explain src/server.ts").args, ["src/server.ts"]);
  assert.equal(first("explain src/server.ts").tool, "codectx");
  assert.deepEqual([first("explain src/consumer/").tool, first("explain src/consumer/").args], [
    "codectx",
    ["src/consumer/"],
  ]);
  assert.deepEqual(first("describe the tests folder").args, ["tests"]);
  assert.equal(first("give me an overview").tool, "codectx");
  assert.equal(first("describe the architecture of this project").tool, "codectx");
  assert.equal(first("how do I add a new command").tool, "plan");
  // Without a model to plan with, the code a plan would start from.
  assert.deepEqual(
    [
      first("how do I add a new command", { hasLlm: false }).tool,
      first("plan a retry budget", { hasLlm: false }).args,
    ],
    ["esearch", ["a retry budget"]],
  );
  assert.deepEqual(first("how do I add a new command", { hasLlm: false }).args, ["add a new command"]);
  assert.equal(first("show the project structure").tool, "tree");
  assert.equal(first("reindex").tool, "index");
  assert.equal(first("index the workspace").tool, "index");
  assert.equal(first("format the code").tool, "lint");
  assert.equal(first("which tests are failing?").tool, "run-tests");
});

Deno.test("offline rules: a described behaviour is a ranked search, even with a task's words in it", () => {
  const first = (q: string) => offlineCandidates(q)[0];
  // Each of these once ran a tool: build, lint, ctx (no logs to read), tree, codectx, a one-word grep.
  for (
    const [q, subject] of [
      ["build an SSL context with safe defaults", "build an SSL context with safe defaults"],
      ["how does it format the access log line", "format the access log line"],
      [
        "turn a panic into a 500 response and log the stack trace",
        "turn a panic into a 500 response and log the stack trace",
      ],
      [
        "parse a time field with a layout given in the struct tag",
        "parse a time field with a layout given in the struct tag",
      ],
      ["where is the code to rotate between seed brokers", "rotate between seed brokers"],
      ["find where the consumer sends heartbeats", "consumer sends heartbeats"],
      ["where do we retry failed requests?", "retry failed requests"],
      ["which file handles the index of the partition", "index of the partition"],
      ["code related to consumer offsets", "code related to consumer offsets"],
      ["skip uncommitted messages", "skip uncommitted messages"],
      ["format a distance between two dates in words", "format a distance between two dates in words"],
      ["index of the partition leader", "index of the partition leader"],
      ["where is the test suite configured", "test suite configured"],
    ]
  ) {
    assert.deepEqual([first(q).tool, first(q).args], ["esearch", [subject]], q);
  }
  assert.equal(searchSubject("  Where is the definition of the function parse_config?  "), "parse_config");
});

Deno.test("offline rules: a name is looked up, its usages grepped, a quoted string grepped as written", () => {
  const first = (q: string) => offlineCandidates(q)[0];
  for (
    const q of [
      "where is parse_config?",
      "parseConfig",
      "find RequestQueue",
      "what does Server.listen do",
      "show me __init__",
      "where is heartbeat defined",
    ]
  ) {
    const c = offlineCandidates(q);
    assert.equal(c[0].tool, "esearch", q);
    const symbol = c[0].args[0];
    assert.equal(c[1].tool, "grep", q);
    const def = new RegExp(c[1].args[0]);
    const name = symbol.split(".").pop()!;
    assert.ok(def.test(`def ${name}(x):`) && def.test(`export function ${name}() {`), q);
    assert.ok(!def.test(`${name}()`), q);
  }
  assert.deepEqual(first("find the definition of Server.listen").args, ["Server.listen"]);
  assert.deepEqual(first("usages of parseConfig").args, ["--fixed", "parseConfig"]);
  assert.deepEqual(first("who calls retryDelay").args, ["--fixed", "retryDelay"]);
  assert.deepEqual(first('search for "retry budget"').args, ["--fixed", "retry budget"]);
  assert.equal(first('search for "retry budget"').tool, "grep");
  assert.deepEqual(first("find the TODOs").args, ["--fixed", "TODO"]);
  assert.ok(looksLikeIdentifier("parse_config") && looksLikeIdentifier("RequestQueue"));
  assert.ok(looksLikeIdentifier("Server.listen") && looksLikeIdentifier("HTTPServer"));
  assert.ok(
    !looksLikeIdentifier("heartbeat") && !looksLikeIdentifier("Retry") && !looksLikeIdentifier("a-b"),
  );
  // Nothing to go on: only the generic tier, ending in codectx (no logs) or ctx (logs).
  assert.ok(offlineCandidates("??").every((c) => c.tier === 1));
  assert.equal(offlineCandidates("??").at(-1)!.tool, "codectx");
  assert.equal(offlineCandidates("??", { hasLogs: true }).at(-1)!.tool, "ctx");
});

Deno.test("bandit orders the generic tier; specific rules keep their order", () => {
  const bandit = createBandit({ tools: ["grep", "esearch", "ctx", "codectx"], epsilon: 0, seed: 1 });
  for (let i = 0; i < 5; i++) bandit.update("grep", 1);
  const generic = orderCandidates(offlineCandidates("consumer offsets commit"), bandit).filter((c) =>
    c.tier === 1
  );
  assert.equal(generic[0].tool, "grep");
  const specific = orderCandidates(offlineCandidates("where is foo_bar"), bandit);
  assert.equal(specific[0].tool, "esearch");
  assert.equal(specific[1].tool, "grep");
});

Deno.test("orchestrator args become argv, never --apply; quoting survives the tokenizer", () => {
  assert.deepEqual(argsFor("grep", { pattern: "def hello", glob: "*.py" }, "q"), [
    "def hello",
    "--glob",
    "*.py",
  ]);
  assert.deepEqual(argsFor("esearch", { k: 3 }, "where are offsets committed"), [
    "offsets committed",
    "--k",
    "3",
  ]);
  assert.deepEqual(argsFor("edit", { task: "fix it", files: ["a.py"], apply: true }, "q"), [
    "fix it",
    "--files",
    "a.py",
  ]);
  assert.deepEqual(argsFor("tree", { depth: 2 }, "q"), ["-d", "2"]);
  for (const s of ['a "b" $c `d` \\e', "(def|class)\\s+x\\b", "x && rm -rf /"]) {
    assert.deepEqual(splitCommandLine(`grep ${quoteArg(s)}`), [["grep", s]]);
  }
});

Deno.test("scoring table: real outputs, failures 0, reward clipped", () => {
  const s = (tool: string, ok: boolean, data: unknown, args: string[] = []) =>
    scoreOutcome({ tool, args, ok, data })?.score;
  assert.equal(s("grep", true, { matches: 2, hits: [{ path: "a.py", text: "def hello" }] }, ["hello"]), 1.5);
  assert.equal(s("grep", true, { matches: 0, hits: [] }, ["x"]), 0);
  const flood = { matches: 1000, hits: [{ path: "a.py", text: "def hello" }], truncated: true };
  assert.equal(s("grep", true, flood, ["hello"]), 0.5, "a flood cut at --max is not an answer");
  assert.equal(s("plan", true, { plan: ["a", "b"], commands: ["c"] }), 1.2);
  assert.equal(s("plan", true, { plan: ["a"] }), 0.2);
  assert.equal(s("edit", true, { patch: "x", added: 1, removed: 1, verdict: "pass", applied: true }), 1.8);
  assert.equal(s("run-tests", false, { ran: true, total: 4, passed: 3, failed: 1 }), 0.4 + 0.6 * 0.75);
  assert.equal(s("run-tests", true, { ran: true, total: 4, passed: 4, failed: 0 }), 1.2);
  assert.equal(s("lint", true, { ran: true, passed: true }), 1);
  assert.equal(s("tree", true, {}), 1);
  assert.equal(s("plan", false, {}), 0);
  assert.equal(s("config", true, {}), undefined);
  assert.equal(rewardOf(3), 1);
  assert.equal(rewardOf(NaN), 0);
  assert.equal(rewardOf(0.6), 0.3);
});

Deno.test("learnFromTool persists the bandit, events and session summary; a reload (restart) keeps it", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy-learn-" });
  try {
    for (let i = 0; i < 4; i++) {
      await learnFromTool(ws, "s1", "esearch", 1.6);
      await learnFromTool(ws, "s1", "grep", 0);
    }
    assert.equal(await learnFromTool(ws, "s1", "config", 1), undefined);
    const summary = (await readSessionSummary(ws))!;
    assert.equal(summary.steps, 8, "housekeeping commands are not counted");
    assert.deepEqual(summary.tools, { esearch: 4, grep: 4 });
    assert.equal(summary.last_tool, "grep");
    const bandit = await loadToolBandit(ws, 3);
    const rank = bandit.ranking();
    assert.equal(rank[0].tool, "esearch");
    assert.equal(rank[0].count, 4);
    const events = (await Deno.readTextFile(join(ws, ".dspy_rl_events.jsonl"))).trim().split("\n");
    assert.equal(events.length, 8);
    // A new session starts a new summary.
    await learnFromTool(ws, "s2", "grep", 1);
    assert.equal((await readSessionSummary(ws))!.steps, 1);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("routeRequest: LLM picks, repeated action stops, LLM failure falls back to rules", async () => {
  const srv = startLlmServer("ollama");
  resetBreakers();
  const ws = await Deno.makeTempDir({ prefix: "dspy-route-" });
  try {
    const llm = createLlmClient({ provider: "ollama", model: "qwen3:1.7b", baseUrl: srv.url }, {
      retries: 0,
      timeoutMs: 2000,
    });
    const ran: string[] = [];
    const printed: string[] = [];
    const warnings: string[] = [];
    const host = {
      workspace: ws,
      llm,
      runLine: (line: string) => {
        ran.push(line);
        return Promise.resolve({ ok: true, data: { matches: 0, hits: [] } });
      },
      print: (...l: string[]) => void printed.push(...l),
      warn: (m: string) => void warnings.push(m),
    };
    srv.reply(() => JSON.stringify({ tool: "grep", args: { pattern: "needle" } }));
    const r = await routeRequest("find the needle", host, { maxSteps: 4 });
    assert.deepEqual(ran, ["grep needle"]);
    assert.equal(r.steps.length, 1);
    assert.ok(printed.includes("No new action; summarizing results."));

    ran.length = 0;
    srv.reply(() => ({ status: 503, body: "overloaded" }));
    const r2 = await routeRequest("where is needle", host, { maxSteps: 2 });
    assert.match(warnings[0], /LLM routing failed .*503.*offline rules/);
    assert.equal(r2.steps[0].mode, "offline");
    assert.equal(ran[0], "esearch needle");
    assert.match(ran[1], /^grep .*needle/);

    // Values that look like options are never parsed as options (a model cannot smuggle in --apply).
    assert.deepEqual(routeArgv(["--fixed", "--apply"]), ["--fixed", "--", "--apply"]);
    assert.deepEqual(routeArgv(["-v", "--glob", "-x*"]), ["--glob=-x*", "--", "-v"]);
    assert.deepEqual(routeArgv(["needle", "--glob", "*.ts"]), ["needle", "--glob", "*.ts"], "unchanged");
    ran.length = 0;
    srv.reply(() => JSON.stringify({ tool: "edit", args: { task: "--apply", files: ["src/app.py"] } }));
    await routeRequest("change it", host, { maxSteps: 1 });
    assert.equal(ran[0], "edit --files=src/app.py -- --apply");
    const [argv] = splitCommandLine(ran[0]);
    assert.deepEqual(argv.slice(-2), ["--", "--apply"], "the task stays a positional after --");
  } finally {
    resetBreakers();
    await srv.close();
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("log key events: errors with context, tracebacks collapsed, quiet logs give the tail", () => {
  const log = [
    "INFO a",
    "INFO b",
    "INFO c",
    "INFO d",
    "WARNING disk almost full",
    "INFO e",
    "Traceback (most recent call last):",
    '  File "x.py", line 3, in f',
    "    raise ValueError()",
    "ValueError: boom",
    "INFO f",
  ].join("\n");
  const ev = extractKeyEvents(log);
  assert.ok(ev.includes("WARNING disk almost full"));
  assert.ok(ev.includes("  ... stack trace omitted ..."));
  assert.ok(!ev.some((l) => l.includes('File "x.py"')));
  assert.ok(ev.includes("ValueError: boom"));
  assert.ok(!ev.includes("INFO a"));
  assert.deepEqual(extractKeyEvents("one\ntwo\n"), ["one", "two"]);
});

Deno.test("two processes updating the bandit at once lose no update (file lock)", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy-learn-race-" });
  const script = join(ws, "learn.ts");
  const mod = new URL("../../agent/mod.ts", import.meta.url).href;
  const kv = new URL("../../core/kv.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { learnFromTool } from "${mod}";\nimport { closeAllKv } from "${kv}";\n` +
      `const [ws, tool] = Deno.args;\n` +
      `for (let i = 0; i < 20; i++) await learnFromTool(ws, "race-" + tool, tool, 1);\nawait closeAllKv();\n`,
  );
  try {
    const run = (tool: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--config",
          new URL("../../deno.json", import.meta.url).pathname,
          script,
          ws,
          tool,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outs = await Promise.all([run("grep"), run("esearch")]);
    for (const o of outs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    const state = JSON.parse(await Deno.readTextFile(join(ws, ".dspy_rl_state.json")));
    const count = (t: string) => state.counts[state.tools.indexOf(t)];
    assert.equal(count("grep"), 20);
    assert.equal(count("esearch"), 20);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("routeRequest: 'what does X do' shows the definition the lookup found; 'where is X' stops at it", async () => {
  const ws = await Deno.makeTempDir({ prefix: "dspy-route-def-" });
  try {
    const ran: string[] = [];
    const hits = [{ path: "src/util.py", symbol: "helper" }, { path: "src/app.py", symbol: "App.hello" }];
    const host = {
      workspace: ws,
      runLine: (line: string) => {
        ran.push(line);
        const data = line.startsWith("esearch")
          ? { hits }
          : { path: "src/app.py", start_line: 3, end_line: 5 };
        return Promise.resolve({ ok: true, data });
      },
      print: () => {},
      warn: () => {},
    };
    const shown = await routeRequest("what does hello do?", host, { bandit: null });
    assert.deepEqual(ran, ["esearch hello", "extract --file src/app.py --symbol App.hello"]);
    assert.equal(shown.steps.length, 2);
    ran.length = 0;
    await routeRequest("where is hello", host, { bandit: null });
    assert.deepEqual(ran, ["esearch hello"], "a location question stops at the lookup");
    ran.length = 0;
    await routeRequest("show me missing_name", host, { bandit: null });
    assert.deepEqual(ran, ["esearch missing_name"], "no hit defines it: nothing to extract");
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
