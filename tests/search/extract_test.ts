import assert from "node:assert/strict";
import { join } from "node:path";
import { diffFileAgainst, extractSegment, writeInside } from "./deps.ts";
import { runDspy } from "../support/cli.ts";
import { makeTree, removeTree } from "./helpers.ts";

const PY =
  "import os\n\ndef target(x):\n    return x + 1\n\ndef other():\n    # TODO one\n    # TODO two\n    pass\n";

Deno.test("extractSegment by symbol and by regex with before/after/nth", async () => {
  const root = await makeTree({ "m.py": PY, "notes.md": "# Notes\n" });
  try {
    const sym = await extractSegment(root, "m.py", { symbol: "target" });
    assert.deepEqual(
      { s: sym.startLine, e: sym.endLine, t: sym.text, k: sym.kind },
      { s: 3, e: 4, t: "def target(x):\n    return x + 1", k: "function" },
    );
    const rx = await extractSegment(root, "m.py", { regex: "TODO", before: 0, after: 1, nth: 2 });
    assert.deepEqual([rx.startLine, rx.endLine, rx.text], [8, 9, "    # TODO two\n    pass"]);
    await assert.rejects(
      () => extractSegment(root, "m.py", { symbol: "missing" }),
      /no symbol 'missing'.*target, other/,
    );
    await assert.rejects(() => extractSegment(root, "notes.md", { symbol: "x" }), /use --regex/);
    await assert.rejects(() => extractSegment(root, "m.py", { regex: "TODO", nth: 5 }), /fewer than --nth 5/);
    await assert.rejects(() => extractSegment(root, "../escape.py", { regex: "x" }), /outside the workspace/);
    await assert.rejects(
      () => extractSegment(root, "m.py", { regex: "(" }),
      (err: Error) =>
        /^extract: invalid regular expression '\('/.test(err.message) && !/--fixed/.test(err.message),
      "the error names extract and does not suggest grep's --fixed",
    );
    await Deno.writeTextFile(join(root, "slow.txt"), "a".repeat(40) + "!\n");
    await assert.rejects(
      () => extractSegment(root, "slow.txt", { regex: "(a+)+$", timeoutMs: 400 }),
      /extract: gave up after 0\.4 s: the pattern '\(a\+\)\+\$' may backtrack catastrophically/,
    );
  } finally {
    await removeTree(root);
  }
});

Deno.test("diff against a text and atomic write inside the workspace only", async () => {
  const root = await makeTree({ "a.txt": "hello\nworld\n" });
  try {
    const d = await diffFileAgainst(root, "a.txt", "hello\nWORLD");
    assert.match(d, /--- a\/a\.txt\n\+\+\+ b\/a\.txt/);
    assert.match(d, /-world\n\+WORLD/);
    assert.equal(await diffFileAgainst(root, "a.txt", "hello\nworld\n"), "");
    const missing = await diffFileAgainst(root, "new.txt", "line1\nline2");
    assert.match(missing, /\+line1\n\+line2/);
    assert.equal(await writeInside(root, "out/b.txt", "x"), "out/b.txt");
    assert.equal(await Deno.readTextFile(join(root, "out/b.txt")), "x\n");
    await assert.rejects(() => writeInside(root, "/etc/passwd-nope", "x"), /outside the workspace/);
  } finally {
    await removeTree(root);
  }
});

Deno.test("extract → diff → write through the CLI (the last extract persists across runs)", async () => {
  const root = await makeTree({ "m.py": PY, "copy.py": "def target(x):\n    return x + 2\n" });
  try {
    const ex = await runDspy([
      "--workspace",
      root,
      "--plain",
      "extract",
      "--file",
      "m.py",
      "--symbol",
      "target",
    ]);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /m\.py lines 3-4 \(function target\)/);
    const diff = await runDspy(["--workspace", root, "--plain", "diff", "copy.py"]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /- {4}return x \+ 2\n\+ {4}return x \+ 1/);
    const write = await runDspy(["--workspace", root, "write", "out/t.py"]);
    assert.equal(write.code, 0, write.stderr);
    assert.equal(await Deno.readTextFile(join(root, "out/t.py")), "def target(x):\n    return x + 1\n");
    const same = await runDspy(["--workspace", root, "--plain", "diff", "out/t.py"]);
    assert.match(same.stdout, /\(no differences\)/);
    const escape = await runDspy(["--workspace", root, "write", "../x.py"]);
    assert.equal(escape.code, 1);
  } finally {
    await removeTree(root);
  }
});

Deno.test("diff without an extract says what to do", async () => {
  const root = await makeTree({ "a.txt": "a\n" });
  try {
    const r = await runDspy(["--workspace", root, "diff", "a.txt"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nothing extracted yet/);
  } finally {
    await removeTree(root);
  }
});
