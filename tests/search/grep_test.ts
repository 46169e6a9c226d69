import assert from "node:assert/strict";
import { grepWorkspace, UserError } from "./deps.ts";
import { runDspy } from "../support/cli.ts";
import { makeTree, removeTree } from "./helpers.ts";
import { idleCores } from "../../agent/search/grep.ts";
import { cannotBacktrack } from "../../agent/search/grep_core.ts";
import { escapeRegExp } from "../../core/regex.ts";

const TREE = {
  "src/app.py": "import os\n\ndef test_one():\n    return 1\n\ndef helper():\n    pass\n",
  "src/util.ts": "export function Retry() {}\n// TODO(fix): retry.count\nconst x = 1;\n",
  "README.md": "Retry docs\nretry.count is literal\n",
  "bin.dat": new Uint8Array([0x72, 0x65, 0x74, 0x72, 0x79, 0, 1, 2]),
  ".gitignore": "ignored.txt\n",
  "ignored.txt": "retry here too\n",
};

Deno.test("grep finds regex matches, honours ignore rules and skips binaries", async () => {
  const root = await makeTree(TREE);
  try {
    const r = await grepWorkspace(root, "def .*test");
    assert.deepEqual(r.matches, [{ path: "src/app.py", line: 3, text: "def test_one():" }]);
    const ci = await grepWorkspace(root, "retry", { ignoreCase: true });
    assert.deepEqual(ci.matches.map((m) => `${m.path}:${m.line}`), [
      "README.md:1",
      "README.md:2",
      "src/util.ts:1",
      "src/util.ts:2",
    ]);
    const fixed = await grepWorkspace(root, "retry.count", { fixed: true, globs: ["*.ts"] });
    assert.deepEqual(fixed.matches.map((m) => m.path), ["src/util.ts"]);
    const ex = await grepWorkspace(root, "retry", { excludes: ["src/"] });
    assert.deepEqual(ex.matches.map((m) => m.path), ["README.md"]);
    const ctx = await grepWorkspace(root, "helper", { context: 2 });
    assert.deepEqual(ctx.matches[0].before, ["    return 1", ""]);
    assert.deepEqual(ctx.matches[0].after, ["    pass"]);
    const one = await grepWorkspace(root, "retry", { file: "README.md" });
    assert.equal(one.matches.length, 1);
    const capped = await grepWorkspace(root, "e", { max: 2 });
    assert.equal(capped.matches.length, 2);
    assert.equal(capped.truncated, true);
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep reports a bad regex clearly and stops a catastrophic one instead of hanging", async () => {
  const root = await makeTree({ "a.txt": "a".repeat(40) + "!\n" });
  try {
    await assert.rejects(() => grepWorkspace(root, "(unclosed"), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /invalid regular expression '\(unclosed'.*--fixed/);
      return true;
    });
    await assert.rejects(() => grepWorkspace(root, ""), /pattern is empty/);
    await assert.rejects(() => grepWorkspace(root, "(?i)abc"), /inline flags .* --ignore-case/);
    await Deno.writeFile(`${root}/b.bin`, new Uint8Array([97, 0, 98]));
    await assert.rejects(() => grepWorkspace(root, "a", { file: "b.bin" }), /b\.bin is a binary file/);
    await assert.rejects(
      () => grepWorkspace(root, "a", { file: "a.txt", maxFileBytes: 10 }),
      /over the size limit/,
    );
    await assert.rejects(() => grepWorkspace(root, "a", { file: "nope.txt" }), /no such file nope\.txt/);
    const t = performance.now();
    await assert.rejects(
      () => grepWorkspace(root, "^(a+)+$", { timeoutMs: 500 }),
      /gave up after .* without progress.* backtrack catastrophically/,
    );
    assert.ok(performance.now() - t < 5000);
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep uses several workers on a bigger tree and finds every match", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 400; i++) files[`d${i % 7}/f${i}.txt`] = `line one\nneedle ${i}\nline three\n`;
  const root = await makeTree(files);
  try {
    for (const workers of [2, 3]) {
      // The walker hands batches to the others; each batch is claimed once: no file twice, none left out.
      const r = await grepWorkspace(root, "needle \\d+", { workers });
      assert.equal(r.matches.length, 400);
      assert.equal(new Set(r.matches.map((m) => m.path)).size, 400);
      assert.equal(r.filesSearched, 400);
      assert.ok(r.matches.every((m) => m.line === 2));
    }
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep command: text lines, summary, --json objects and exit codes", async () => {
  const root = await makeTree(TREE);
  try {
    const text = await runDspy(["--workspace", root, "--plain", "grep", "def .*test"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^src\/app\.py:3: def test_one\(\):$/m);
    assert.match(text.stdout, /Found 1 match in [0-9.]+ s \(\d+ files searched\)/);
    const one = await runDspy(["--workspace", root, "--plain", "grep", "def", "--file", "src/app.py"]);
    assert.match(one.stdout, /\(1 file searched\)/, one.stdout);
    const json = await runDspy(["--workspace", root, "grep", "helper", "--context", "1", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines, [{
      path: "src/app.py",
      line: 6,
      text: "def helper():",
      before: [""],
      after: ["    pass"],
    }]);
    const bad = await runDspy(["--workspace", root, "grep", "(("]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid regular expression/);
    const usage = await runDspy(["--workspace", root, "grep"]);
    assert.equal(usage.code, 2);
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep --max returns the first N matches in walk order even when a later worker finishes first", async () => {
  // The first batch of files is slow to search (long lines that make the pattern backtrack), the later ones
  // are instant: a second worker finishes its batch long before the first one does.
  const slow = "needle\n" + ("x".repeat(200) + "\n").repeat(150);
  const files: Record<string, string> = {};
  for (let i = 0; i < 200; i++) files[`f${String(i).padStart(3, "0")}.txt`] = i < 48 ? slow : "needle\n";
  const root = await makeTree(files);
  try {
    const expected = ["f000.txt", "f001.txt", "f002.txt", "f003.txt", "f004.txt"];
    for (let run = 0; run < 2; run++) {
      const r = await grepWorkspace(root, "x*needle", { max: 5, workers: 2 });
      assert.deepEqual(r.matches.map((m) => m.path), expected);
      assert.equal(r.truncated, true);
    }
    const all = await grepWorkspace(root, "x*needle", { workers: 2 });
    assert.equal(all.matches.length, 200);
    assert.equal(all.truncated, false);
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep searches a big file piece by piece with the right line numbers and text", async () => {
  // ~400 KB: several 64 KiB pieces (the worker cuts a piece at the first newline from byte 65 535 on). The
  // file starts with a byte-order mark, dropped as rg drops it; the second piece starts with U+FEFF, which
  // is text there and kept. Matches also sit around other piece boundaries, on a CRLF line and on the last
  // line, which has no newline.
  const lines = ["needle first", "x".repeat(65_535 - 3 - 13), "\uFEFFneedle at a piece start"];
  for (let i = lines.length; i < 20_000; i++) {
    lines.push(i % 997 === 0 || i % 3277 === 1 ? `needle ${i}` : `line ${i} ${"x".repeat(i % 30)}`);
  }
  lines[12_000] = "needle crlf\r";
  lines[19_999] = "needle last";
  const text = "\uFEFF" + lines.join("\n");
  assert.equal(new TextEncoder().encode(text).indexOf(10, 65_535), 65_535);
  const root = await makeTree({ "big.txt": text });
  try {
    const r = await grepWorkspace(root, "needle", { max: 1_000_000 });
    const expected = lines.flatMap((l, i) =>
      l.includes("needle") ? [{ line: i + 1, text: l.replace(/\r$/, "") }] : []
    );
    assert.ok(expected.length > 20);
    assert.deepEqual(r.matches.map((m) => ({ line: m.line, text: m.text })), expected);
    // With context lines the file is searched whole: the same lines.
    const c = await grepWorkspace(root, "needle", { max: 1_000_000, context: 1 });
    assert.deepEqual(c.matches.map((m) => ({ line: m.line, text: m.text })), expected);
  } finally {
    await removeTree(root);
  }
});

Deno.test("grep starts extra workers only for the cores that sat idle while the walker started", () => {
  const at = (idle: number, total: number) => ({ idle, total });
  assert.equal(idleCores(undefined, at(10, 100), 2), undefined); // no /proc/stat: no opinion (start them)
  assert.equal(idleCores(at(0, 0), at(1, 4), 2), undefined); // a window too short to tell
  assert.equal(idleCores(at(0, 0), at(0, 40), 2), 0); // every core busy
  assert.equal(idleCores(at(0, 0), at(20, 40), 2), 1); // one of two idle
  assert.equal(idleCores(at(0, 0), at(70, 80), 8), 7);
});

Deno.test("cannotBacktrack: literals and patterns without quantifiers or back-references only", () => {
  for (
    const safe of ["retryDelay", "TODO|FIXME", "^def test_", "a\\.b\\(c\\)", "[A-Z]_x", "\\bword\\b", "a|b|c"]
  ) {
    assert.equal(cannotBacktrack(safe), true, safe);
  }
  assert.equal(cannotBacktrack(new RegExp(escapeRegExp("a.*b+c?{1}(x)\\1")).source), true);
  const risky = [
    "a*",
    "a+b",
    "colou?r",
    "x{2,}",
    "(a|b)\\1",
    "(?<n>a)\\k<n>",
    "(?:a)",
    "[*]",
    "a|b|c|d|e|f|g|h|i|j",
  ];
  for (const pattern of risky) assert.equal(cannotBacktrack(pattern), false, pattern);
});

Deno.test("a small tree and a pattern that cannot backtrack: searched on this thread, same results as the workers", async () => {
  const lines = ["needle first", "x".repeat(70_000), "\uFEFFneedle after a piece", "plain", "needle\r"];
  const root = await makeTree({
    ...TREE,
    "big.txt": "\uFEFF" + lines.join("\n"),
    "deep/a/b/c.ts": "// retry.count\nRetry\nneedle\n",
    "many/one.txt": "e\ne\ne\ne\n",
    // The first file in walk order holds a match, so a split's own thread finds some before it hands off.
    ".gitignore": "ignored.txt\n# needle\n",
  });
  try {
    const cases: [string, Parameters<typeof grepWorkspace>[2]][] = [
      ["retry", {}],
      ["retry", { ignoreCase: true }],
      ["retry.count", { fixed: true }],
      ["retry", { excludes: ["src/"] }],
      ["retry", { globs: ["*.ts"] }],
      ["needle", { context: 1 }],
      ["needle", {}],
      ["e", { max: 3 }],
      ["retry", { file: "README.md" }],
      ["TODO|needle|^plain$", {}],
      // Exactly as many matches as --max: the workers report it as stopped at --max, and so must a split.
      ["needle", { max: (await grepWorkspace(root, "needle", { workers: 1 })).matches.length }],
      ["nothing at all", {}],
    ];
    for (const [pattern, options] of cases) {
      const here = await grepWorkspace(root, pattern, options);
      const inWorkers = await grepWorkspace(root, pattern, { ...options, workers: 1 });
      const label = `${pattern} ${JSON.stringify(options)}`;
      assert.equal(here.workers, 0, label);
      assert.equal(inWorkers.workers, 1, label);
      assert.deepEqual(here.matches, inWorkers.matches, label);
      assert.equal(here.truncated, inWorkers.truncated, label);
      // With --max each stops at its own unit (a file here, a batch of 48 in a worker).
      if (options?.max === undefined) assert.equal(here.filesSearched, inWorkers.filesSearched, label);
      // Out of time after the first file: this thread's matches, then a worker's for the files left.
      const split = await grepWorkspace(root, pattern, { ...options, inThreadMs: 0 });
      assert.deepEqual(split.matches, inWorkers.matches, `${label}, split`);
      assert.equal(split.truncated, inWorkers.truncated, `${label}, split`);
      if (options?.max === undefined) {
        assert.equal(split.filesSearched, inWorkers.filesSearched, `${label}, split`);
      }
      if (!options?.file && options?.max === undefined) assert.equal(split.workers, 1, `${label}, split`);
    }
    // A pattern that could backtrack still goes to a worker, which can be stopped.
    assert.equal((await grepWorkspace(root, "ne+dle")).workers, 1);
  } finally {
    await removeTree(root);
  }
});
