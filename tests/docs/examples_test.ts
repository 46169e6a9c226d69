/**
 * Every `dspy-code …` example in README.md and docs/*.md runs as written (issue #17), so the docs cannot drift
 * from the tool again. The fenced `bash`/`sh` blocks are read, each line that starts with `dspy-code` is split
 * like a shell would (`&&` chains, quotes; the trailing `# comment` dropped) and run by the real CLI in a temp
 * workspace fixture, in document order per file, and its exit code is checked.
 *
 * What is not run as written is listed below with the reason: synopsis lines (`[--topic T]`, `ID...`) are
 * recognised automatically; the rest are in {@link SPECIAL}. Adding an example to a doc adds it to this test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { splitCommandLine } from "../../cli/tokenize.ts";
import { MAIN_TS } from "../support/cli.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** How an example is run when not simply "exit code 0". Keyed by the example as written (comment dropped). */
interface Special {
  /** Not run, and why. */
  skip?: string;
  /** Expected exit code (default 0). */
  code?: number;
  /** Runs until Ctrl-C: send SIGINT after this many ms once it started; exit 0 or 130 is fine. */
  interruptAfterMs?: number;
  /**
   * Extra arguments that shrink a long benchmark-sized run to keep this test near a minute; the documented
   * flags are still all parsed and used. The full runs are measured by `deno task bench`.
   */
  shrink?: string[];
}

const SPECIAL: Record<string, Special> = {
  // External services or files the test machine does not have.
  "dspy-code emb-index --backend local --model-path ~/models/all-MiniLM-L6-v2": {
    skip:
      "needs the all-MiniLM-L6-v2 model files in ~/models (tests/embeddings/local_test.ts uses a tiny model)",
  },
  "dspy-code embed serve --model-path ~/models/all-MiniLM-L6-v2": {
    skip: "needs the all-MiniLM-L6-v2 model files in ~/models and fixed port 19000 " +
      "(tests/embeddings/embed_server_test.ts serves the tiny model on port 0)",
  },
  "dspy-code experiments run embed --dataset data/q.jsonl --model-path models/all-MiniLM-L6-v2 --batch-size 64":
    {
      skip:
        "needs the all-MiniLM-L6-v2 model files (tests/experiments/ run embed experiments on the tiny model)",
    },
  "dspy-code experiments run embed --dataset data/q.jsonl --backend infermesh --infermesh-url http://127.0.0.1:19000":
    { skip: "needs a running 'embed serve' on port 19000 (tests/experiments/ start one on port 0)" },
  // The dev cycle runs the whole project's install, check and tests: it needs a Deno project and minutes,
  // not a docs fixture (tests/ops/dev_cycle_test.ts runs it on a fixture project).
  "dspy-code dev-cycle": { skip: "runs a Deno project's full check and tests (tests/ops/dev_cycle_test.ts)" },
  "dspy-code dev-cycle --only deps,check": { skip: "as 'dspy-code dev-cycle'" },
  "dspy-code dev-cycle --skip check --tests tests/ops/": { skip: "as 'dspy-code dev-cycle'" },
  "dspy-code dev-cycle --commit": { skip: "as 'dspy-code dev-cycle', and commits" },
  "dspy-code --json dev-cycle": { skip: "as 'dspy-code dev-cycle'" },
  "dspy-code quickstart": {
    skip:
      "starts Docker Compose when an engine answers, else the stack on the fixed port 8765 (tests/server/up_test.ts)",
  },
  "dspy-code quickstart --open": { skip: "opens a browser, and as 'quickstart' above" },
  "dspy-code up": {
    skip: "fixed port 8765 is shared by everything on this machine (tests/server/up_test.ts uses 0)",
  },
  "dspy-code up --port 8765": { skip: "as 'dspy-code up'" },
  "dspy-code up --port 9000": { skip: "a fixed port; 'up --port 0' is tested in tests/server/up_test.ts" },
  // No LLM in this test (LOCAL_MODE=1): these say so and exit as documented.
  "dspy-code llm": { code: 1 },
  'dspy-code plan "fix the failing tests"': { code: 1 },
  'dspy-code edit "make hello return 2" --apply': { code: 1 },
  'dspy-code edit "make hello return 2"': { code: 1 },
  // Long-running by design: they run until Ctrl-C.
  "dspy-code tail agent.actions --follow": { interruptAfterMs: 1500 },
  "dspy-code dashboard-lite": { interruptAfterMs: 1500 },
  // Benchmark-sized runs, shrunk (a later flag wins): the figures themselves come from `deno task bench`.
  "dspy-code rl ppo --env cartpole --steps 150000 --seed 1 --json": { shrink: ["--steps", "20000"] },
  "dspy-code rl sweep --method pareto --iterations 6 --trainer-steps 30": { shrink: ["--iterations", "2"] },
  "dspy-code bus bench --json": { shrink: ["--quick"] },
  // Waits for 10 messages; the docs publish fewer before it.
  "dspy-code bus consume jobs --group workers --max 10": { interruptAfterMs: 2500 },
};

/** A line that shows a command's shape rather than a command: `[--opt]`, `(A | B)`, `ID...`, `<run-id>`. */
function isSynopsis(words: string[]): boolean {
  return words.some((w) => /^[[(]|[\])]$|^\|$|^[A-Z][A-Z_0-9]*(\.\.\.)?$|<[^>]+>/.test(w));
}

interface Example {
  file: string;
  line: string;
}

async function examples(): Promise<Example[]> {
  const files = ["README.md"];
  for await (const e of Deno.readDir(join(ROOT, "docs"))) {
    if (e.name.endsWith(".md")) files.push(`docs/${e.name}`);
  }
  files.sort();
  const found: Example[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(join(ROOT, file));
    for (const block of text.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)) {
      for (const raw of block[1].split("\n")) {
        const line = raw.replace(/\s+#\s.*$/, "").trim();
        if (line.startsWith("dspy-code")) found.push({ file, line });
      }
    }
  }
  return found;
}

async function fixture(): Promise<string> {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-docs-" }));
  const write = async (path: string, text: string) => {
    await Deno.mkdir(join(ws, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(ws, path), text);
  };
  await write("src/app.py", "def hello():\n    return 1\n\n\ndef main():\n    print(hello())\n");
  await write("src/config.py", "def parse_config(path):\n    return {}\n");
  await write("src/util.py", "def retry(fn, attempts=3):\n    # retry with backoff\n    return fn()\n");
  await write(
    "tests/check_app.py",
    "from src.app import hello\n\ndef test_hello():\n    assert hello() == 1\n",
  );
  await write("Makefile", "test:\n\t@sh run_tests.sh\nlint:\n\t@sh lint.sh\nbuild:\n\t@sh build.sh\n");
  await write("run_tests.sh", "echo '1 passed'\n");
  await write("lint.sh", "echo ok\n");
  await write("build.sh", "echo ok\n");
  await write("logs/app.log", "INFO start\nERROR failed to parse config\n");
  await write(
    "fix.diff",
    "--- a/src/util.py\n+++ b/src/util.py\n@@ -1,3 +1,3 @@\n def retry(fn, attempts=3):\n-    # retry with backoff\n+    # retry with exponential backoff\n     return fn()\n",
  );
  await write("jobs.jsonl", '{"task":"test"}\n{"task":"build"}\n');
  await write(
    "data/q.jsonl",
    Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `question ${i} about retry and backoff` }))
      .join("\n") + "\n",
  );
  await write(
    "notes.jsonl",
    '{"text":"retry with backoff","doc_id":"retry"}\n{"text":"parse the config file"}\n',
  );
  await write(
    "docker-compose.yml",
    "services:\n  app:\n    image: debian:bookworm-slim\n    environment:\n      - MODE=dev # a comment\n      - TOKEN\n",
  );
  // A project under git with one commit, as a user's would be (the git helpers' examples read its history).
  const git = (...args: string[]) =>
    new Deno.Command("git", {
      args,
      cwd: ws,
      stdout: "null",
      stderr: "null",
      env: {
        GIT_AUTHOR_NAME: "Docs",
        GIT_AUTHOR_EMAIL: "d@example.com",
        GIT_COMMITTER_NAME: "Docs",
        GIT_COMMITTER_EMAIL: "d@example.com",
      },
    }).output();
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-q", "-m", "the project");
  return ws;
}

async function run(ws: string, args: string[], special: Special): Promise<{ code: number; output: string }> {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", LOCAL_MODE: "1" };
  for (
    const name of ["DSPY_WORKSPACE", "DSPY_BUS", "KAFKA_BOOTSTRAP_SERVERS", "OPENAI_BASE_URL", "OLLAMA_HOST"]
  ) {
    delete env[name];
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    cwd: ws,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (special.interruptAfterMs) timer = setTimeout(() => child.kill("SIGINT"), special.interruptAfterMs);
  const out = await child.output();
  clearTimeout(timer);
  const d = new TextDecoder();
  return { code: out.code, output: d.decode(out.stdout).slice(-1500) + d.decode(out.stderr).slice(-1500) };
}

Deno.test("every dspy-code example in README.md and docs/*.md runs with the documented exit code", async () => {
  const all = await examples();
  assert.ok(all.length > 30, `only ${all.length} examples found`);
  // An example in several docs runs once, in the first doc (README.md first).
  const first = new Map<string, string>();
  for (const e of all) if (!first.has(e.line)) first.set(e.line, e.file);
  const byFile = Map.groupBy(all.filter((e) => first.get(e.line) === e.file), (e) => e.file);
  const timings: string[] = [];
  const failures: string[] = [];
  const skipped: string[] = [];
  let ran = 0;
  // One workspace per doc, the docs in parallel (the examples of one doc build on each other, in order).
  await Promise.all([...byFile].map(async ([file, list]) => {
    const ws = await fixture();
    try {
      const seen = new Set<string>();
      for (const { line } of list) {
        if (seen.has(line)) continue;
        seen.add(line);
        const special = SPECIAL[line] ?? {};
        // The newest run folder stands in for `<run-id>` (the docs' `rl ppo` example made it).
        let concrete = line;
        if (line.includes("<run-id>")) {
          const runs = await Array.fromAsync(Deno.readDir(join(ws, ".dspy/rl/runs"))).catch(() => []);
          const id = runs.map((r) => r.name).sort().at(-1);
          if (id) concrete = line.replace("<run-id>", id);
        }
        const commands = splitCommandLine(concrete);
        if (special.skip || commands.some((words) => isSynopsis(words))) {
          skipped.push(`${file}: ${line}${special.skip ? ` — ${special.skip}` : " (synopsis)"}`);
          continue;
        }
        for (const [program, ...args] of commands) {
          assert.equal(program, "dspy-code", `${file}: '${line}' chains a command that is not dspy-code`);
          const t0 = performance.now();
          const r = await run(ws, [...args, ...(special.shrink ?? [])], special);
          timings.push(`${((performance.now() - t0) / 1000).toFixed(1)} s  ${args.join(" ")}`);
          ran++;
          const ok = special.interruptAfterMs
            ? r.code === 0 || r.code === 130
            : r.code === (special.code ?? 0);
          if (!ok) {
            failures.push(`${file}: ${line}\n  exit ${r.code}, expected ${special.code ?? 0}\n${r.output}`);
            break;
          }
          if (r.code !== 0) break; // `a && b` stops at a failure, as the shell does
        }
      }
    } finally {
      await Deno.remove(ws, { recursive: true });
    }
  }));
  console.log(`ran ${ran} example commands; skipped ${skipped.length}:\n  ${skipped.join("\n  ")}`);
  if (Deno.env.get("EXAMPLES_TIMINGS")) console.log(timings.sort().join("\n"));
  assert.deepEqual(failures, []);
  // Every special case still matches an example (a renamed example must not leave a stale entry behind).
  const lines = new Set(all.map((e) => e.line));
  assert.deepEqual(Object.keys(SPECIAL).filter((k) => !lines.has(k)), [], "stale entries in SPECIAL");
});
