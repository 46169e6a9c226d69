import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import {
  detectToolchain,
  parseLintIssues,
  parseTestCounts,
  runCommand,
  runToolchain,
  toolchainCommand,
  which,
} from "../../agent/mod.ts";

async function withDir(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dspy_tc_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.mkdir(join(dir, name, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, name), text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseTestCounts understands the common runners", () => {
  const cases: [string, [number, number, number]][] = [
    ["\x1b[32mok\x1b[0m | 9 passed | 1 failed | 2 ignored (38ms)", [9, 1, 2]],
    ["FAILED | 3 passed (2 steps) | 2 failed (40ms)", [3, 2, 0]],
    ["..F.\n===== 3 passed, 1 failed, 2 skipped in 0.12s =====", [3, 1, 2]],
    ["4 passed in 0.01s", [4, 0, 0]],
    ["1 failed, 2 passed, 1 error in 0.5s", [2, 2, 0]],
    [
      "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\ntest result: FAILED. 1 passed; 2 failed; 0 ignored",
      [4, 2, 1],
    ],
    ["Tests:       1 failed, 5 passed, 6 total", [5, 1, 0]],
    [" Tests  2 failed | 7 passed (9)", [7, 2, 0]],
    ["# tests 3\n# pass 2\n# fail 1\n", [2, 1, 0]],
    ["  5 passing (20ms)\n  1 failing", [5, 1, 0]],
    ["=== RUN TestA\n--- PASS: TestA (0.00s)\n--- FAIL: TestB (0.00s)\n--- PASS: TestC", [2, 1, 0]],
  ];
  for (const [text, [p, f, s]] of cases) {
    const c = parseTestCounts(text);
    assert.ok(c, text);
    assert.deepEqual([c.passed, c.failed, c.skipped], [p, f, s], text);
    assert.equal(c.total, p + f + s);
  }
  assert.equal(parseTestCounts("compiling...\nall good"), undefined);
});

Deno.test("parseLintIssues", () => {
  assert.equal(parseLintIssues("error[no-unused-vars]: x\nFound 3 problems\nChecked 4 files", 1), 3);
  assert.equal(parseLintIssues("✖ 7 problems (5 errors, 2 warnings)", 1), 7);
  assert.equal(parseLintIssues("Found 2 errors.", 1), 2);
  assert.equal(parseLintIssues("Checked 4 files", 0), 0);
  assert.equal(parseLintIssues("a.py:1:1: F401 unused\nb.py:3:5: E225 x\n", 1), 2);
  assert.equal(parseLintIssues("", 0), 0);
});

Deno.test("detectToolchain picks the first marker and commands follow project scripts", async () => {
  await withDir({
    "package.json": JSON.stringify({ scripts: { test: "node --test", lint: "eslint ." } }),
    "yarn.lock": "",
  }, async (d) => {
    const tc = (await detectToolchain(d))!;
    assert.equal(tc.kind, "yarn");
    assert.equal(tc.scripts.test, "node --test");
  });
  await withDir({
    "deno.json": JSON.stringify({ tasks: { test: "deno test -A" } }),
    "Makefile": "test:\n\techo\n",
  }, async (d) => {
    const tc = (await detectToolchain(d))!;
    assert.equal(tc.kind, "deno");
    assert.deepEqual(toolchainCommand(tc, "test").slice(1), ["task", "test"]);
    assert.deepEqual(toolchainCommand(tc, "lint").slice(1), ["lint"]);
    assert.deepEqual(tc.makeTargets, ["test"]);
  });
  await withDir(
    { "Cargo.toml": "[package]\n" },
    async (d) => assert.equal((await detectToolchain(d))!.kind, "cargo"),
  );
  await withDir({ "go.mod": "module x\n" }, async (d) => {
    const tc = (await detectToolchain(d))!;
    assert.equal(tc.kind, "go");
    assert.deepEqual(toolchainCommand(tc, "test"), ["go", "test", "-v", "./..."]);
  });
  await withDir(
    { "tests/test_x.py": "def test_a(): pass\n" },
    async (d) => assert.equal((await detectToolchain(d))!.kind, "pytest"),
  );
  await withDir({ "Makefile": "build:\n\ttrue\n" }, async (d) => {
    const tc = (await detectToolchain(d))!;
    assert.equal(tc.kind, "make");
    assert.throws(() => toolchainCommand(tc, "lint"), /add a 'lint:' target/);
  });
  await withDir({ "README.md": "hi" }, async (d) => {
    assert.equal(await detectToolchain(d), null);
    await assert.rejects(() => runToolchain(d, "test"), /no toolchain found/);
  });
});

Deno.test("runToolchain runs a real deno project and counts passes and failures", async () => {
  await withDir({
    "deno.json": "{}",
    "a_test.ts": 'Deno.test("one", () => {});\nDeno.test("two", () => {});\n' +
      'Deno.test("three", () => { throw new Error("boom"); });\n',
  }, async (d) => {
    const seen: string[] = [];
    const r = await runToolchain(d, "test", { timeoutMs: 60_000, onOutput: (t) => seen.push(t) });
    assert.equal(r.toolchain, "deno");
    assert.equal(r.ok, false);
    assert.notEqual(r.exitCode, 0);
    assert.deepEqual(r.counts, { total: 3, passed: 2, failed: 1, skipped: 0 });
    assert.ok(Math.abs(r.passRate! - 2 / 3) < 1e-9);
    assert.ok(seen.join("").includes("boom"));
  });
});

Deno.test({
  name: "runToolchain: pytest project",
  ignore: which("python3") === null ||
    new Deno.Command("python3", { args: ["-c", "import pytest"] }).outputSync().code !== 0,
  fn: async () => {
    await withDir({
      "tests/test_math.py": "def test_ok():\n    assert 1 + 1 == 2\n\ndef test_bad():\n    assert 1 == 2\n",
    }, async (d) => {
      const r = await runToolchain(d, "test", { timeoutMs: 60_000 });
      assert.equal(r.toolchain, "pytest");
      assert.deepEqual(r.counts, { total: 2, passed: 1, failed: 1, skipped: 0 });
      const b = await runToolchain(d, "build", { timeoutMs: 60_000 });
      assert.equal(b.ok, true);
      // A broken file in dspy-code's patch backups or a virtualenv is not the project's code.
      for (const rel of [".dspy_patches/backups/x/files/tests/old.py", ".venv/lib/bad.py", "venv/bad.py"]) {
        await Deno.mkdir(join(d, dirname(rel)), { recursive: true });
        await Deno.writeTextFile(join(d, rel), "def broken(:\n");
      }
      assert.equal((await runToolchain(d, "build", { timeoutMs: 60_000 })).ok, true);
      await Deno.writeTextFile(join(d, "tests/broken.py"), "def broken(:\n");
      assert.equal(
        (await runToolchain(d, "build", { timeoutMs: 60_000 })).ok,
        false,
        "the project's own syntax error fails",
      );
    });
  },
});

Deno.test({
  name: "runToolchain: npm project with node --test",
  ignore: which("npm") === null || which("node") === null,
  fn: async () => {
    await withDir({
      "package.json": JSON.stringify({ name: "x", version: "1.0.0", scripts: { test: "node --test" } }),
      "x.test.js": 'const t = require("node:test");\nt("a", () => {});\nt("b", () => {});\n',
    }, async (d) => {
      const r = await runToolchain(d, "test", { timeoutMs: 60_000 });
      assert.equal(r.toolchain, "npm");
      assert.equal(r.ok, true);
      assert.equal(r.counts?.passed, 2);
      assert.equal(r.counts?.failed, 0);
      await assert.rejects(() => runToolchain(d, "build"), /add a "build" script/);
    });
  },
});

Deno.test({
  name: "runToolchain: make build, and a timeout kills the whole process group",
  ignore: which("make") === null,
  fn: async () => {
    await withDir({ "Makefile": "build:\n\techo built\nlint:\n\tsleep 30 & sleep 30\n" }, async (d) => {
      const b = await runToolchain(d, "build", { timeoutMs: 30_000 });
      assert.equal(b.ok, true);
      assert.match(b.output, /built/);
      const t0 = performance.now();
      const r = await runToolchain(d, "lint", { timeoutMs: 300 });
      assert.equal(r.timedOut, true);
      assert.equal(r.exitCode, 124);
      assert.equal(r.ok, false);
      assert.ok(performance.now() - t0 < 5000, "timeout took too long");
    });
  },
});

Deno.test("runCommand: abort stops the run", async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await runCommand(["sleep", "20"], Deno.cwd(), { signal: ac.signal });
  assert.equal(r.aborted, true);
  assert.equal(r.exitCode, 130);
});
