import assert from "node:assert/strict";
import { join } from "node:path";
import { walkFiles, walkFilesYielding } from "../../agent/search/mod.ts";
import { makeTree, removeTree } from "./helpers.ts";

Deno.test("walk honours .gitignore at every level, .dspyignore and default excludes", async () => {
  const root = await makeTree({
    ".gitignore": "*.log\n/build-out/\nsecret.txt\n",
    ".dspyignore": "generated/\n",
    "a.ts": "a",
    "debug.log": "x",
    "build-out/x.ts": "x",
    "generated/g.ts": "g",
    "src/.gitignore": "local.ts\n!keep.log\n",
    "src/local.ts": "l",
    "src/keep.log": "k",
    "src/main.ts": "m",
    "src/deep/secret.txt": "s",
    "node_modules/p/index.js": "n",
    ".git/config": "c",
    ".venv/lib.py": "v",
    "dist/out.js": "d",
    "build/out.js": "b",
    "pkg/__pycache__/m.pyc": "p",
    ".dspy_index/lexical.json": "{}",
    ".dspy/state.kv": "k",
  });
  try {
    const rels = (await walkFiles(root)).map((f) => f.rel);
    assert.deepEqual(rels, [
      ".dspyignore",
      ".gitignore",
      "a.ts",
      "src/.gitignore",
      "src/keep.log",
      "src/main.ts",
    ]);
    const ts = (await walkFiles(root, { globs: ["*.ts"], excludes: ["src/"] })).map((f) => f.rel);
    assert.deepEqual(ts, ["a.ts"]);
    const noIgnore = (await walkFiles(root, { ignoreFiles: false })).map((f) => f.rel);
    assert.ok(noIgnore.includes("debug.log") && noIgnore.includes("generated/g.ts"));
    assert.ok(!noIgnore.some((r) => r.startsWith("node_modules/") || r.startsWith(".git/")));
  } finally {
    await removeTree(root);
  }
});

Deno.test("walk skips huge files and never follows symlinks out of the workspace", async () => {
  const outside = await makeTree({ "outside.ts": "export const leaked = 1;\n", "dir/o.ts": "o" });
  const root = await makeTree({ "small.ts": "ok", "big.txt": "x".repeat(5000), "sub/real.ts": "r" });
  try {
    await Deno.symlink(join(outside, "outside.ts"), join(root, "link_out.ts"));
    await Deno.symlink(join(outside, "dir"), join(root, "dir_out"));
    await Deno.symlink(join(root, "sub"), join(root, "sub_link"));
    await Deno.symlink(root, join(root, "sub", "loop"));
    await Deno.symlink(join(root, "small.ts"), join(root, "link_in.ts"));
    const files = await walkFiles(root, { maxFileBytes: 1000 });
    const rels = files.map((f) => f.rel);
    assert.ok(!rels.includes("big.txt"), "file over the size limit is skipped");
    assert.ok(
      !rels.includes("link_out.ts") && !rels.some((r) => r.startsWith("dir_out")),
      "links out are skipped",
    );
    assert.ok(rels.includes("link_in.ts"), "a file link inside the workspace is followed");
    assert.ok(rels.includes("sub/real.ts"));
    assert.equal(
      rels.filter((r) => r.endsWith("real.ts")).length,
      1,
      "a folder reached twice is walked once",
    );
    for (const f of files) assert.ok(f.size >= 0 && f.mtimeMs > 0);
  } finally {
    await removeTree(root);
    await removeTree(outside);
  }
});

Deno.test("walkFilesYielding finds what walkFiles finds, in the same order, and tells the same folders", async () => {
  const files: Record<string, string> = { ".gitignore": "skip/\n", "skip/x.py": "x\n", "empty/.keep": "" };
  for (let i = 0; i < 5000; i++) files[`d${i % 37}/sub${i % 5}/f${i}.py`] = `x = ${i}\n`;
  const root = await makeTree(files);
  try {
    const folders: [string[], string[]] = [[], []];
    const whole = await walkFiles(root, { excludes: ["*.keep"], onFolder: (f) => folders[0].push(f) });
    const yielding = await walkFilesYielding(root, {
      excludes: ["*.keep"],
      onFolder: (f) => folders[1].push(f),
    });
    assert.equal(whole.length, 5001); // .gitignore is a file of the tree too
    assert.deepEqual(yielding, whole);
    assert.deepEqual(folders[1].sort(), folders[0].sort());
    assert.ok(folders[0].includes("empty") && !folders[0].includes("skip"));
  } finally {
    await removeTree(root);
  }
});
