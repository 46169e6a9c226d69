/**
 * End-to-end tests of the agent commands through the real CLI (`main.ts` subprocesses), against scripted
 * Ollama / OpenAI-compatible servers on loopback.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readStream } from "../../core/streams.ts";
import { runDspy, tempWorkspace } from "../support/cli.ts";
import { isChainOfThought, type ReceivedChat, signatureOf, startLlmServer } from "./support/llm_servers.ts";

const APP = "def hello():\n    return 1\n\n\ndef other():\n    return 'x'\n";
const GOOD_PATCH =
  "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def hello():\n-    return 1\n+    return 2\n";

async function makeWorkspace(): Promise<string> {
  const ws = await tempWorkspace("dspy-agent-");
  await Deno.mkdir(join(ws, "src"));
  await Deno.mkdir(join(ws, "logs"));
  await Deno.writeTextFile(join(ws, "src", "app.py"), APP);
  await Deno.writeTextFile(join(ws, "logs", "run.log"), "INFO ok\nERROR hello returned the wrong value\n");
  return ws;
}

/** Replies for every signature, as a well-behaved model would give them. */
function goodModel(req: ReceivedChat, overrides: Record<string, string> = {}): string {
  const sig = signatureOf(req);
  if (overrides[sig]) return overrides[sig];
  switch (sig) {
    case "ContextBuilder":
      return JSON.stringify({
        context: "hello() returns 1 but 2 is expected",
        key_points: ["ERROR hello returned the wrong value"],
      });
    case "TaskAgent":
      return JSON.stringify({
        plan: ["Open src/app.py", "Make hello return 2", "Run the tests"],
        commands: ["pytest -q"],
        assumptions: ["pytest is installed"],
        risks: ["callers relying on 1"],
      });
    case "FileLocator":
      return JSON.stringify({
        file_candidates: [{ path: "src/app.py", score: 0.9, reason: "defines hello" }, {
          path: "../etc/passwd",
          score: 1,
        }],
        confidence: 0.8,
      });
    case "CodeEdit":
    case "ReviseEdit":
      return JSON.stringify({ patch: GOOD_PATCH, rationale: "hello must return 2" });
    case "EditCritic":
      return JSON.stringify({
        problems: ["context mismatch"],
        revise_instructions: "copy the context exactly",
      });
    case "PatchVerifier":
      return JSON.stringify({
        verdict: "pass",
        risk_level: "low",
        reasons: ["one-line change matching the task"],
      });
    case "TestPlanner":
      return JSON.stringify({ tests_to_run: ["tests for hello"], commands: ["pytest -q"] });
    case "Orchestrator":
      return JSON.stringify({
        tool: "grep",
        args: { pattern: "def hello" },
        rationale: "find the definition",
      });
    case "CodeContext":
    case "CodeContextRAG":
      return JSON.stringify({
        summary: "A tiny Python module with two functions.",
        bullets: ["hello", "other"],
        entry_points: ["src/app.py"],
        risk_areas: ["none"],
      });
  }
  return "{}";
}

function env(url: string, extra: Record<string, string> = {}): Record<string, string> {
  return { OLLAMA_HOST: url, DSPY_LLM_TIMEOUT_MS: "3000", DSPY_LLM_RETRIES: "1", ...extra };
}

async function actions(ws: string): Promise<{ action: string; payload: Record<string, unknown> }[]> {
  const kv = await Deno.openKv(join(ws, ".dspy", "state.kv"));
  try {
    return (await readStream<{ action: string; payload: Record<string, unknown> }>(kv, "agent.actions", {
      limit: 1000,
    })).map((e) => e.value);
  } finally {
    kv.close();
  }
}

Deno.test("no-LLM mode: LLM commands say what is missing; the other tools keep working", async () => {
  const ws = await makeWorkspace();
  try {
    const e = { LOCAL_MODE: "true" };
    const plan = await runDspy(["--workspace", ws, "plan", "fix hello"], { env: e });
    assert.equal(plan.code, 1);
    assert.match(plan.stderr, /plan needs an LLM .*LOCAL_MODE=true turns the LLM off \(unset it/s);
    const edit = await runDspy(["--workspace", ws, "edit", "fix hello"], { env: e });
    assert.equal(edit.code, 1);
    assert.match(edit.stderr, /edit needs an LLM.*patch FILE/s);
    const ctx = await runDspy(["--workspace", ws, "ctx"], { env: e });
    assert.equal(ctx.code, 0);
    assert.match(ctx.stdout, /ERROR hello returned the wrong value/);
    assert.match(ctx.stderr, /LLM summary unavailable/);
    const llm = await runDspy(["--workspace", ws, "llm", "--json"], { env: e });
    assert.equal(JSON.parse(llm.stdout).ready, false);
    // Routing without an LLM: offline rules.
    const chat = await runDspy(["--workspace", ws, "chat", "where is hello"], { env: e });
    assert.equal(chat.code, 0, chat.stderr);
    assert.match(chat.stderr, /Step 1: esearch hello +\(offline: look up hello\)/);
    assert.match(chat.stdout, /^src\/app\.py +score=[\d.]+ +lines 1-\d+ +hello$/m);
    // Manual approval: each routed step is asked about; a declined step does not run.
    const manual = await runDspy(["--workspace", ws, "--approval", "manual"], {
      env: e,
      stdin: "where is hello\nn\nwhere is hello\ny\nexit\n",
    });
    assert.equal(manual.code, 0, manual.stderr);
    assert.equal((manual.stdout + manual.stderr).match(/Approve tool 'esearch' with args/g)?.length, 2);
    assert.match(manual.stderr, /Step 1 not approved; stopping\./);
    assert.equal(manual.stdout.match(/src\/app\.py +score=/g)?.length, 1, "only the approved step ran");
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("plan with a scripted Ollama: panels from ContextBuilder + TaskAgent", async () => {
  const ws = await makeWorkspace();
  const srv = startLlmServer("ollama");
  srv.reply((r) => goodModel(r));
  try {
    const r = await runDspy(["--workspace", ws, "--plain", "plan", "make hello return 2"], {
      env: env(srv.url),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Proposed Plan \(by qwen3:1\.7b\)/);
    assert.match(r.stdout, /1\. Open src\/app\.py\n2\. Make hello return 2/);
    assert.match(r.stdout, /Suggested Commands ──\npytest -q/);
    assert.match(r.stdout, /Key Points/);
    const sigs = srv.requests.map(signatureOf);
    assert.deepEqual(sigs, ["ContextBuilder", "TaskAgent"]);
    assert.match(srv.requests[1].messages.at(-1)!.content, /hello\(\) returns 1/);
    const j = await runDspy(["--workspace", ws, "plan", "x", "--json"], { env: env(srv.url) });
    assert.deepEqual(JSON.parse(j.stdout).commands, ["pytest -q"]);
    // A flag named in the task is part of it, not an unknown option of plan's.
    const flag = await runDspy(["--workspace", ws, "plan", "give", "hello", "a", "--loud", "flag"], {
      env: env(srv.url),
    });
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(srv.requests.at(-1)!.messages.at(-1)!.content, /give hello a --loud flag/);
  } finally {
    await srv.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("edit: without --apply nothing is written; with --apply written, backed up, recorded; revert", async () => {
  const ws = await makeWorkspace();
  const srv = startLlmServer("ollama");
  srv.reply((r) => goodModel(r));
  try {
    const dry = await runDspy(["--workspace", ws, "--plain", "edit", "make hello return 2"], {
      env: env(srv.url),
    });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /\+ {4}return 2/);
    assert.match(dry.stdout, /Verifier: pass/);
    assert.match(dry.stdout, /Not applied\. Re-run with --apply/);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
    assert.ok(srv.requests.some((r) => signatureOf(r) === "FileLocator"));

    const applied = await runDspy(["--workspace", ws, "--plain", "edit", "make hello return 2", "--apply"], {
      env: env(srv.url),
    });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /Applied patch (\S+): 1 file/);
    const id = /Applied patch (\S+):/.exec(applied.stdout)![1];
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP.replace("return 1", "return 2"));
    assert.equal(
      await Deno.readTextFile(join(ws, ".dspy_patches", "backups", id, "files", "src", "app.py")),
      APP,
    );
    const history = (await Deno.readTextFile(join(ws, ".dspy_patches", "history.jsonl"))).trim().split("\n")
      .map((l) => JSON.parse(l));
    const ok = history.find((h) => h.result === "success");
    assert.equal(ok.metrics.tool, "edit");
    assert.equal(ok.metrics.verdict, "pass");
    assert.equal(ok.task, "make hello return 2");
    const evs = (await actions(ws)).filter((a) => a.action === "patch.apply");
    assert.deepEqual({
      files: evs.at(-1)!.payload.files,
      added: evs.at(-1)!.payload.added,
      removed: evs.at(-1)!.payload.removed,
    }, { files: 1, added: 1, removed: 1 });

    const rev = await runDspy(["--workspace", ws, "patch", "--revert"], {});
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
    const list = await runDspy(["--workspace", ws, "patch", "--list", "--json"], {});
    assert.equal(JSON.parse(list.stdout)[0].reverted, true);
    // patch FILE under --approval manual shows the changes and asks first.
    const diffFile = join(ws, "..", `${ws.split("/").pop()}.diff`);
    await Deno.writeTextFile(
      diffFile,
      "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def hello():\n-    return 1\n+    return 3\n",
    );
    try {
      const no = await runDspy(["--workspace", ws, "--approval", "manual", "patch", diffFile], {
        stdin: "n\n",
      });
      assert.equal(no.code, 0, no.stderr);
      assert.match(no.stdout + no.stderr, /modify src\/app\.py[\s\S]*Apply this patch\?/);
      assert.match(no.stdout, /Not applied \(declined\)/);
      assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
      const yes = await runDspy(["--workspace", ws, "--approval", "manual", "patch", diffFile], {
        stdin: "y\n",
      });
      assert.equal(yes.code, 0, yes.stderr);
      assert.match(yes.stdout, /Applied patch/);
      assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP.replace("return 1", "return 3"));
    } finally {
      await Deno.remove(diffFile);
    }
  } finally {
    await srv.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("edit: a failing verifier or a patch that never applies is refused; manual approval asks", async () => {
  const ws = await makeWorkspace();
  const srv = startLlmServer("ollama");
  try {
    srv.reply((r) =>
      goodModel(r, {
        PatchVerifier: JSON.stringify({
          verdict: "fail",
          risk_level: "high",
          reasons: ["changes behaviour callers rely on"],
        }),
      })
    );
    const refused = await runDspy(["--workspace", ws, "--plain", "edit", "make hello return 2", "--apply"], {
      env: env(srv.url),
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /Refusing to apply: the verifier did not pass/);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);

    const bad =
      "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def hello():\n-    return 42\n+    return 2\n";
    srv.requests.length = 0;
    srv.reply((r) =>
      goodModel(r, { CodeEdit: JSON.stringify({ patch: bad }), ReviseEdit: JSON.stringify({ patch: bad }) })
    );
    const mismatch = await runDspy([
      "--workspace",
      ws,
      "--plain",
      "edit",
      "x",
      "--files",
      "src/app.py",
      "--apply",
    ], { env: env(srv.url) });
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stdout, /Patch failed local checks/);
    assert.match(mismatch.stderr, /critic\/reviser round 2/);
    assert.equal(srv.requests.filter((r) => signatureOf(r) === "EditCritic").length, 2);
    assert.equal(
      srv.requests.filter((r) => signatureOf(r) === "PatchVerifier").length,
      0,
      "local checks decide first",
    );
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);

    srv.reply((r) => goodModel(r));
    const manual = await runDspy(["--workspace", ws, "--approval", "manual"], {
      env: env(srv.url),
      stdin: `edit "make hello return 2" --files src/app.py --apply\nn\nexit\n`,
    });
    assert.match(manual.stdout + manual.stderr, /Apply this patch\?/);
    assert.match(manual.stdout, /Not applied \(declined\)/);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
  } finally {
    await srv.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("session: LLM routing, provider switching, and surviving 500s and garbage", async () => {
  const ws = await makeWorkspace();
  const ollama = startLlmServer("ollama", ["qwen3:1.7b", "llama3:8b"]);
  const openai = startLlmServer("openai", ["gpt-4o-mini"]);
  ollama.reply((r) => goodModel(r));
  openai.reply((r) =>
    goodModel(r, { Orchestrator: JSON.stringify({ tool: "codectx", args: { path: "src" } }) })
  );
  try {
    const script = [
      "where is hello defined?",
      "model llama3",
      "llm",
      "plan fix hello",
      "ollama off",
      "model gpt-4o-mini",
      "explain the code",
      "exit",
    ].join("\n") + "\n";
    const r = await runDspy(["--workspace", ws, "--plain"], {
      env: env(ollama.url, {
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: "sk-x",
      }),
      stdin: script,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /llm +Ollama qwen3:1\.7b at http:\/\/127\.0\.0\.1/);
    assert.match(r.stderr, /Step 1: grep def hello +\(llm: find the definition\)/);
    assert.match(r.stdout, /src\/app\.py:1: def hello/);
    assert.match(r.stdout, /Model set to llama3; LLM: Ollama llama3:8b/);
    assert.equal(ollama.requests.at(-1)!.model, "llama3:8b");
    assert.match(r.stdout, /Provider: OpenAI-compatible API/);
    assert.match(r.stderr, /Step 1: codectx src/);
    assert.ok(openai.requests.length > 0, "ollama off switched later calls to the OpenAI-compatible API");
    assert.equal(openai.requests.at(-1)!.model, "gpt-4o-mini");
    assert.equal(openai.requests.at(-1)!.headers.get("authorization"), "Bearer sk-x");

    // A broken model: 500s then garbage. The session reports it and keeps working.
    ollama.reply(() => ({ status: 500, body: "CUDA out of memory" }));
    const broken = await runDspy(["--workspace", ws, "--plain"], {
      env: env(ollama.url, { DSPY_LLM_RETRIES: "0" }),
      stdin:
        "plan fix hello\nplan fix hello\nplan fix hello\nplan fix hello\ngrep hello\nwhere is other\nexit\n",
    });
    assert.equal(broken.code, 0);
    assert.match(broken.stderr, /HTTP 500: CUDA out of memory/);
    assert.match(broken.stderr, /circuit breaker open/);
    assert.match(broken.stderr, /paused for \d+s after 3 consecutive failures/);
    assert.match(broken.stdout, /src\/app\.py:1: def hello/);
    assert.match(broken.stderr, /LLM routing failed .*; using the offline rules/);
    assert.match(broken.stdout, /^src\/app\.py +score=[\d.]+ +lines \d+-\d+ +other$/m);
    assert.match(broken.stdout, /bye/);

    ollama.reply(() => ({ raw: "this is not json" }));
    const garbage = await runDspy(["--workspace", ws, "plan", "x"], {
      env: env(ollama.url, { DSPY_LLM_RETRIES: "0" }),
    });
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /returned a reply that is not JSON/);
  } finally {
    await ollama.close();
    await openai.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("learning: rewarded tool wins routing ties, persists across restarts, events and summary recorded", async () => {
  const ws = await makeWorkspace();
  try {
    const e = { LOCAL_MODE: "true", RL_EPSILON: "0" };
    // esearch keeps finding nothing useful (score 0: no hits), grep keeps finding matches.
    for (let i = 0; i < 3; i++) {
      assert.equal((await runDspy(["--workspace", ws, "grep", "hello"], { env: e })).code, 0);
      await runDspy(["--workspace", ws, "esearch", "zzzqqq"], { env: e });
    }
    const state = JSON.parse(await Deno.readTextFile(join(ws, ".dspy_rl_state.json")));
    assert.equal(state.policy, "epsilon-greedy");
    const grepI = state.tools.indexOf("grep"), esI = state.tools.indexOf("esearch");
    assert.equal(state.counts[grepI], 3);
    assert.ok(state.values[grepI] > state.values[esI]);
    const events = (await Deno.readTextFile(join(ws, ".dspy_rl_events.jsonl"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.ok(events.length >= 6);
    assert.deepEqual(Object.keys(events[0]).sort(), ["reward", "tool", "ts"]);
    // When the rule's search finds nothing, the generic tier follows in the order of the learnt values (a
    // new process = a restart): keyword grep before esearch on the key words, which untrained would go first.
    const chat = await runDspy(["--workspace", ws, "chat", "qqqzzz xx yyzzqq", "--steps", "2"], { env: e });
    assert.equal(chat.code, 0, chat.stderr);
    assert.match(chat.stderr, /Step 1: esearch qqqzzz xx yyzzqq /);
    assert.match(chat.stderr, /Step 2: grep --ignore-case qqqzzz\|yyzzqq /);
    // Session summary in KV.
    const kv = await Deno.openKv(join(ws, ".dspy", "state.kv"));
    try {
      const summary = (await kv.get<{ steps: number; last_tool: string; tools: Record<string, number> }>([
        "agent.session.summary",
      ])).value!;
      assert.equal(summary.last_tool, "chat");
      assert.equal(summary.tools.grep, 1);
      assert.ok(summary.steps >= 1);
      const metrics = await readStream<{ metric: string; data: Record<string, unknown> }>(
        kv,
        "agent.metrics",
        { limit: 1000 },
      );
      assert.ok(metrics.some((m) => m.value.metric === "session.summary"));
      const ends = metrics.filter((m) => m.value.metric === "tool.end" && m.value.data.tool === "grep");
      assert.equal(ends.length, 4);
      assert.equal(
        ends.filter((m) => m.value.data.score === 1.5).length,
        3,
        "grep scored by the reward table",
      );
    } finally {
      kv.close();
    }
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("run-tests/lint/build through the CLI on a real deno project", async () => {
  const ws = await tempWorkspace("dspy-tc-");
  try {
    await Deno.writeTextFile(join(ws, "deno.json"), "{}");
    await Deno.writeTextFile(
      join(ws, "a_test.ts"),
      'Deno.test("a", () => {});\nDeno.test("b", () => { throw new Error("x"); });\n',
    );
    const r = await runDspy(["--workspace", ws, "run-tests", "--json", "--quiet"], {});
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.deepEqual([j.toolchain, j.total, j.tests_passed, j.failed], ["deno", 2, 1, 1]);
    const lint = await runDspy(["--workspace", ws, "lint", "--quiet"], {});
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.match(lint.stdout, /lint: ok/);
    // --quiet hides the output, so a failure shows its last lines; exit 127 says a command is missing.
    await Deno.writeTextFile(join(ws, "deno.json"), JSON.stringify({ tasks: { test: "no-such-tool-xyz" } }));
    const missing = await runDspy(["--workspace", ws, "run-tests", "--quiet"], {});
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /run-tests: failed \(exit 127\)/);
    assert.match(missing.stderr, /last lines of output:[\s\S]*no-such-tool-xyz/);
    assert.match(missing.stderr, /exit 127 means a command was not found.*fix the project's test command/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

void isChainOfThought;

/** True where no git binary runs: the git commands' tests are skipped there. */
const NO_GIT = (() => {
  try {
    return !new Deno.Command("git", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return true;
  }
})();

/** The environment git needs to commit as `name`. */
function gitIdentity(name: string, email: string): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: name,
    GIT_AUTHOR_EMAIL: email,
    GIT_COMMITTER_NAME: name,
    GIT_COMMITTER_EMAIL: email,
  };
}

Deno.test({
  name: "gstatus, gadd, gcommit through simple-git",
  ignore: NO_GIT,
  fn: async () => {
    const ws = await tempWorkspace("dspy-git-");
    const gitEnv = gitIdentity("Test", "t@example.com");
    try {
      const notRepo = await runDspy(["--workspace", ws, "gstatus"], {});
      assert.equal(notRepo.code, 1);
      assert.match(notRepo.stderr, /not a git repository: run 'git init'/);
      await new Deno.Command("git", { args: ["init", "-q"], cwd: ws }).output();
      await Deno.writeTextFile(join(ws, "a.txt"), "a\n");
      const st = await runDspy(["--workspace", ws, "gstatus", "--json"], {});
      assert.equal(st.code, 0, st.stderr);
      assert.ok(JSON.parse(st.stdout).files.some((f: { path: string }) => f.path === "a.txt"));
      const empty = await runDspy(["--workspace", ws, "gcommit", "-m", "nothing"], { env: gitEnv });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /nothing is staged/);
      const outside = await runDspy(["--workspace", ws, "gadd", "../x"], {});
      assert.equal(outside.code, 1);
      assert.equal((await runDspy(["--workspace", ws, "gadd", "a.txt"], {})).code, 0);
      const commit = await runDspy(["--workspace", ws, "gcommit", "-m", "add a"], { env: gitEnv });
      assert.equal(commit.code, 0, commit.stderr);
      assert.match(commit.stdout, /Committed \w+/);
      const log = await new Deno.Command("git", { args: ["log", "--oneline"], cwd: ws, stdout: "piped" })
        .output();
      assert.match(new TextDecoder().decode(log.stdout), /add a/);
      // 'gadd .' stages the project, never dspy-code's own state (KV, patch backups, index, bandit file).
      await Deno.writeTextFile(join(ws, "b.txt"), "b\n");
      await Deno.mkdir(join(ws, ".dspy_patches"), { recursive: true });
      await Deno.writeTextFile(join(ws, ".dspy_patches", "history.jsonl"), "{}\n");
      await Deno.writeTextFile(join(ws, ".dspy_rl_state.json"), "{}\n");
      assert.equal((await runDspy(["--workspace", ws, "gadd", "."], {})).code, 0);
      const staged = await new Deno.Command("git", {
        args: ["diff", "--cached", "--name-only"],
        cwd: ws,
        stdout: "piped",
      }).output();
      const names = new TextDecoder().decode(staged.stdout).trim().split("\n");
      assert.ok(names.includes("b.txt"), names.join(","));
      assert.ok(!names.some((n) => n.startsWith(".dspy")), names.join(","));
      const state = await runDspy(["--workspace", ws, "gadd", ".dspy_rl_state.json"], {});
      assert.equal(state.code, 1);
      assert.match(state.stderr, /dspy-code's own state/);
      await runDspy(["--workspace", ws, "gcommit", "-m", "add b"], { env: gitEnv });
      const clean = await runDspy(["--workspace", ws, "gstatus"], {});
      assert.match(clean.stdout, /\(clean\)|\.dspy/);
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test({
  name: "glog lists recent commits with their size; gdiff shows uncommitted and staged changes",
  ignore: NO_GIT,
  fn: async () => {
    const ws = await tempWorkspace("dspy-git-");
    const env = gitIdentity("Ada", "a@example.com");
    const git = (...args: string[]) => new Deno.Command("git", { args, cwd: ws, env }).output();
    try {
      await git("init", "-q");
      const none = await runDspy(["--workspace", ws, "glog"], {});
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stdout, /\(no commits yet\)/);
      await Deno.writeTextFile(join(ws, "a.txt"), "one\ntwo\n");
      await git("add", "a.txt");
      await git("commit", "-q", "-m", "add a");
      await Deno.writeTextFile(join(ws, "b.txt"), "b\n");
      await git("add", "b.txt");
      await git("commit", "-q", "-m", "add b");
      const log = await runDspy(["--workspace", ws, "glog", "--json"], {});
      assert.equal(log.code, 0, log.stderr);
      const commits = JSON.parse(log.stdout);
      assert.deepEqual(
        commits.map((
          c: { subject: string; files: number; insertions: number },
        ) => [c.subject, c.files, c.insertions]),
        [["add b", 1, 1], ["add a", 1, 2]],
      );
      assert.equal(commits[0].author, "Ada");
      const ofA = await runDspy(["--workspace", ws, "glog", "a.txt", "--n", "5"], { env: { NO_COLOR: "1" } });
      assert.match(ofA.stdout, /^[0-9a-f]{7,} \d{4}-\d\d-\d\d \d\d:\d\d add a\n +Ada · 1 file \+2 -0$/m);
      assert.doesNotMatch(ofA.stdout, /add b/);
      assert.equal((await runDspy(["--workspace", ws, "glog", "../x"], {})).code, 1);
      // An edit, a staged new file and an untracked one.
      await Deno.writeTextFile(join(ws, "a.txt"), "one\nTWO\n");
      await Deno.writeTextFile(join(ws, "c.txt"), "c\n");
      await git("add", "c.txt");
      await Deno.writeTextFile(join(ws, "d.txt"), "d\n");
      const diff = await runDspy(["--workspace", ws, "gdiff"], { env: { NO_COLOR: "1" } });
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /^-two\n\+TWO$/m);
      assert.doesNotMatch(diff.stdout, /c\.txt/);
      assert.match(diff.stdout, /untracked \(not in the diff\): d\.txt/);
      const staged = await runDspy(["--workspace", ws, "gdiff", "--staged", "--json"], {});
      const j = JSON.parse(staged.stdout);
      assert.match(j.diff, /\+\+\+ b\/c\.txt/);
      assert.doesNotMatch(j.diff, /TWO/);
      // A long diff is cut with a count of what is left; --json keeps it whole.
      await Deno.writeTextFile(
        join(ws, "a.txt"),
        Array.from({ length: 600 }, (_, i) => `line ${i}`).join("\n"),
      );
      const long = await runDspy(["--workspace", ws, "gdiff", "a.txt"], { env: { NO_COLOR: "1" } });
      assert.match(long.stdout, /… \d+ more lines: name a PATH to narrow it, or --json for all of it/);
      assert.match(
        JSON.parse((await runDspy(["--workspace", ws, "gdiff", "a.txt", "--json"], {})).stdout).diff,
        /\+line 599/,
      );
      // A merge is shown as one, not as a commit that changed nothing.
      await git("stash", "-u", "-q");
      await git("checkout", "-q", "-b", "side");
      await Deno.writeTextFile(join(ws, "s.txt"), "s\n");
      await git("add", "s.txt");
      await git("commit", "-q", "-m", "side work");
      await git("checkout", "-q", "-");
      await git("merge", "-q", "--no-ff", "-m", "merge side", "side");
      const merged = await runDspy(["--workspace", ws, "glog", "--n", "1"], { env: { NO_COLOR: "1" } });
      assert.match(merged.stdout, /merge side\n +Ada · merge$/m);
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test("session: a routed edit is shown and verified but never applied", async () => {
  const ws = await makeWorkspace();
  const srv = startLlmServer("ollama");
  srv.reply((r) =>
    goodModel(r, {
      Orchestrator: JSON.stringify({
        tool: "edit",
        args: { task: "make hello return 2", files: ["src/app.py"], apply: true },
      }),
    })
  );
  try {
    const r = await runDspy(["--workspace", ws, "--plain"], {
      env: env(srv.url),
      stdin: "please make hello return 2\nexit\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Step 1: edit make hello return 2 --files src\/app\.py/);
    assert.match(r.stdout, /Verifier: pass/);
    assert.match(r.stdout, /Not applied\. Re-run with --apply/);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
    const proposed = [...Deno.readDirSync(join(ws, ".dspy_patches", "proposed"))];
    assert.equal(proposed.length, 1);
  } finally {
    await srv.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("patch FILE through the CLI: dry run, apply, refusal with exit 1 and nothing written", async () => {
  const ws = await makeWorkspace();
  try {
    await Deno.writeTextFile(join(ws, "fix.diff"), GOOD_PATCH);
    const dry = await runDspy(["--workspace", ws, "patch", "fix.diff", "--dry-run"], {});
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Dry run: the patch applies cleanly/);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), APP);
    const ok = await runDspy(["--workspace", ws, "patch", "fix.diff"], {});
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Applied patch \S+: files: 1 {2}\+lines: 1 {2}-lines: 1/);
    const again = await runDspy(["--workspace", ws, "patch", "fix.diff"], {});
    assert.equal(again.code, 1);
    assert.match(again.stderr, /hunk 1 of 1 .* does not match src\/app\.py/);
    await Deno.writeTextFile(
      join(ws, "evil.diff"),
      "--- /dev/null\n+++ b/../escaped.txt\n@@ -0,0 +1 @@\n+x\n",
    );
    const evil = await runDspy(["--workspace", ws, "patch", "evil.diff"], {});
    assert.equal(evil.code, 1);
    assert.match(evil.stderr, /climbs out with '\.\.'/);
    await assert.rejects(() => Deno.stat(join(ws, "..", "escaped.txt")));
    const usage = await runDspy(["--workspace", ws, "patch"], {});
    assert.equal(usage.code, 2);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});
