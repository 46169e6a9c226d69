import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyPatchText,
  listPatches,
  PatchError,
  type PatchLimits,
  readPatchHistory,
  recountHunks,
  revertPatch,
  summarizePatch,
} from "../../agent/mod.ts";
import { type AgentEnvelope, configureEvents, setEventPublisher } from "../../core/mod.ts";

interface Fixture {
  parent: string;
  ws: string;
  outside: string;
}

async function makeFixture(): Promise<Fixture> {
  const parent = await Deno.makeTempDir({ prefix: "dspy_patch_" });
  const ws = join(parent, "ws");
  const outside = join(parent, "outside");
  await Deno.mkdir(join(ws, "src"), { recursive: true });
  await Deno.mkdir(join(ws, ".git", "hooks"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(ws, ".git", "config"), "[core]\n");
  await Deno.writeTextFile(join(ws, "src", "a.txt"), "one\ntwo\nthree\n");
  await Deno.writeTextFile(join(ws, "src", "b.txt"), "alpha\nbeta\ngamma\n");
  await Deno.writeTextFile(join(ws, "big.txt"), "x\n".repeat(2000));
  await Deno.writeFile(join(ws, "bin.dat"), new Uint8Array([104, 105, 0, 10, 1, 2, 10]));
  await Deno.writeTextFile(join(outside, "secret.txt"), "top\nsecret\n");
  await Deno.symlink(join(outside, "secret.txt"), join(ws, "link_out"));
  await Deno.symlink(outside, join(ws, "dir_out"));
  await Deno.symlink(join(ws, "src", "a.txt"), join(ws, "link_in"));
  return { parent, ws: await Deno.realPath(ws), outside };
}

/** Every entry under `dir` (not following symlinks) → a string describing it, minus dspy state. */
async function snapshot(
  dir: string,
  base = dir,
  out = new Map<string, string>(),
): Promise<Map<string, string>> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    const rel = p.slice(base.length + 1);
    if (rel.startsWith("ws/.dspy") || rel.startsWith(".dspy")) continue;
    if (e.isSymlink) out.set(rel, `link:${await Deno.readLink(p)}`);
    else if (e.isDirectory) {
      out.set(rel, "dir");
      await snapshot(p, base, out);
    } else out.set(rel, `file:${new TextDecoder().decode(await Deno.readFile(p))}`);
  }
  return out;
}

const MOD_A = "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n";
const MOD_B_BAD = "--- a/src/b.txt\n+++ b/src/b.txt\n@@ -1,3 +1,3 @@\n alpha\n-BETA\n+beta2\n gamma\n";

const hostile: { name: string; patch: string; reason: string; limits?: PatchLimits }[] = [
  {
    name: "parent escape",
    patch: "--- ../outside/secret.txt\n+++ ../outside/secret.txt\n@@ -1,2 +1,2 @@\n top\n-secret\n+pwned\n",
    reason: "escape",
  },
  {
    name: "deep parent escape",
    patch: "--- ../../etc/passwd\n+++ ../../etc/passwd\n@@ -1 +1 @@\n-root\n+evil\n",
    reason: "escape",
  },
  {
    name: "absolute path",
    patch: "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-root\n+evil\n",
    reason: "escape",
  },
  {
    name: "git prefix + dotdot",
    patch: "--- a/../outside/secret.txt\n+++ b/../outside/secret.txt\n@@ -1,2 +1,2 @@\n top\n-secret\n+x\n",
    reason: "escape",
  },
  {
    name: "dotdot in the middle",
    patch: "--- /dev/null\n+++ b/src/../../outside/new.txt\n@@ -0,0 +1 @@\n+x\n",
    reason: "escape",
  },
  { name: "drive letter", patch: "--- /dev/null\n+++ C:/evil.txt\n@@ -0,0 +1 @@\n+x\n", reason: "escape" },
  {
    name: "backslashes",
    patch: "--- /dev/null\n+++ ..\\outside\\evil.txt\n@@ -0,0 +1 @@\n+x\n",
    reason: "escape",
  },
  { name: "home dir", patch: "--- /dev/null\n+++ ~/evil.txt\n@@ -0,0 +1 @@\n+x\n", reason: "escape" },
  {
    name: "control char in path",
    patch: "--- /dev/null\n+++ b/src/ev\x01il.txt\n@@ -0,0 +1 @@\n+x\n",
    reason: "escape",
  },
  {
    name: "create through symlinked dir",
    patch: "--- /dev/null\n+++ b/dir_out/new.txt\n@@ -0,0 +1 @@\n+x\n",
    reason: "symlink",
  },
  {
    name: "modify through symlinked dir",
    patch: "--- a/dir_out/secret.txt\n+++ b/dir_out/secret.txt\n@@ -1,2 +1,2 @@\n top\n-secret\n+x\n",
    reason: "symlink",
  },
  {
    name: "symlink pointing out",
    patch: "--- a/link_out\n+++ b/link_out\n@@ -1,2 +1,2 @@\n top\n-secret\n+x\n",
    reason: "symlink",
  },
  {
    name: "symlink pointing inside",
    patch: "--- a/link_in\n+++ b/link_in\n@@ -1,3 +1,3 @@\n one\n-two\n+x\n three\n",
    reason: "symlink",
  },
  {
    name: "git internals",
    patch: "--- a/.git/config\n+++ b/.git/config\n@@ -1 +1,2 @@\n [core]\n+\thooksPath = /tmp\n",
    reason: "protected",
  },
  {
    name: "git hook creation",
    patch: "--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+rm -rf /\n",
    reason: "protected",
  },
  {
    name: "patch history",
    patch: "--- /dev/null\n+++ b/.dspy_patches/history.jsonl\n@@ -0,0 +1 @@\n+{}\n",
    reason: "protected",
  },
  {
    name: "bandit state",
    patch: "--- /dev/null\n+++ b/.dspy_rl_state.json\n@@ -0,0 +1 @@\n+{}\n",
    reason: "protected",
  },
  {
    name: "binary files differ",
    patch: "diff --git a/x.png b/x.png\nindex 1..2 100644\nBinary files a/x.png and b/x.png differ\n",
    reason: "binary",
  },
  {
    name: "git binary patch",
    patch: "diff --git a/x.png b/x.png\nindex 1..2 100644\nGIT binary patch\nliteral 5\nabcde\n",
    reason: "binary",
  },
  {
    name: "NUL in patch",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+t\0o\n three\n",
    reason: "binary",
  },
  {
    name: "binary target file",
    patch: "--- a/bin.dat\n+++ b/bin.dat\n@@ -1 +1 @@\n-hi\n+ho\n",
    reason: "binary",
  },
  {
    name: "oversize target",
    patch: "--- a/big.txt\n+++ b/big.txt\n@@ -1,2 +1,2 @@\n x\n-x\n+y\n",
    reason: "oversize",
    limits: { maxFileBytes: 1000 },
  },
  {
    name: "oversize patch",
    patch: MOD_A + "+" + "z".repeat(300) + "\n",
    reason: "oversize",
    limits: { maxPatchBytes: 100 },
  },
  {
    name: "result too big",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,4 @@\n one\n two\n three\n+" + "q".repeat(200) +
      "\n",
    reason: "oversize",
    limits: { maxFileBytes: 100 },
  },
  {
    name: "malformed hunk header",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -x +y @@\n one\n",
    reason: "malformed",
  },
  {
    name: "wrong hunk counts",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n",
    reason: "malformed",
  },
  {
    name: "invalid hunk line",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,2 +1,2 @@\n one\n?two\n+TWO\n",
    reason: "malformed",
  },
  { name: "hunk without headers", patch: "@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n", reason: "malformed" },
  { name: "prose only", patch: "Sure! Here is the fix: change two to TWO.\n", reason: "malformed" },
  {
    name: "missing +++ header",
    patch: "--- a/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n",
    reason: "malformed",
  },
  { name: "empty patch", patch: "  \n\n", reason: "empty" },
  {
    name: "context mismatch",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n uno\n-two\n+TWO\n three\n",
    reason: "mismatch",
  },
  {
    name: "removed line absent",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-deux\n+TWO\n three\n",
    reason: "mismatch",
  },
  {
    name: "create existing file",
    patch: "--- /dev/null\n+++ b/src/a.txt\n@@ -0,0 +1 @@\n+new\n",
    reason: "exists",
  },
  {
    name: "modify missing file",
    patch: "--- a/src/nope.txt\n+++ b/src/nope.txt\n@@ -1 +1 @@\n-a\n+b\n",
    reason: "missing",
  },
  {
    name: "delete missing file",
    patch: "--- a/src/nope.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-a\n",
    reason: "missing",
  },
  {
    name: "partial delete",
    patch: "--- a/src/a.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-one\n-two\n",
    reason: "mismatch",
  },
  { name: "second file mismatches", patch: MOD_A + MOD_B_BAD, reason: "mismatch" },
  {
    name: "second file escapes",
    patch: MOD_A +
      "--- ../outside/secret.txt\n+++ ../outside/secret.txt\n@@ -1,2 +1,2 @@\n top\n-secret\n+x\n",
    reason: "escape",
  },
  {
    name: "second file binary",
    patch: MOD_A + "--- a/bin.dat\n+++ b/bin.dat\n@@ -1 +1 @@\n-hi\n+ho\n",
    reason: "binary",
  },
  {
    name: "too many files",
    patch: MOD_A + "--- a/src/b.txt\n+++ b/src/b.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n",
    reason: "caps",
    limits: { maxFiles: 1 },
  },
  { name: "too many lines", patch: MOD_A, reason: "caps", limits: { maxChangedLines: 1 } },
  {
    name: "rename out of the workspace",
    patch:
      "diff --git a/src/a.txt b/../outside/a.txt\nsimilarity index 100%\nrename from src/a.txt\nrename to ../outside/a.txt\n",
    reason: "escape",
  },
  {
    name: "rename onto existing file",
    patch:
      "diff --git a/src/a.txt b/src/b.txt\nsimilarity index 100%\nrename from src/a.txt\nrename to src/b.txt\n",
    reason: "exists",
  },
  { name: "directory target", patch: "--- a/src\n+++ b/src\n@@ -1 +1 @@\n-a\n+b\n", reason: "not-a-file" },
  {
    name: "no-op patch",
    patch: "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n two\n three\n",
    reason: "empty",
  },
];

Deno.test(`${hostile.length} hostile or broken patches: refused, nothing written anywhere`, async () => {
  assert.ok(hostile.length >= 30);
  const fx = await makeFixture();
  const events: AgentEnvelope[] = [];
  configureEvents({ workspace: fx.ws });
  const previous = setEventPublisher((_stream, env) => void events.push(env));
  try {
    const before = await snapshot(fx.parent);
    for (const [i, c] of hostile.entries()) {
      await assert.rejects(
        () => applyPatchText(fx.ws, c.patch, { limits: c.limits }),
        (err: unknown) => {
          assert.ok(err instanceof PatchError, `${c.name}: expected PatchError, got ${err}`);
          assert.equal(err.reason, c.reason, `${c.name}: ${err.message}`);
          assert.ok(err.message.length > 20);
          return true;
        },
        c.name,
      );
      assert.deepEqual(await snapshot(fx.parent), before, `${c.name} changed files`);
      assert.equal(events.length, i + 1);
      const last = events[i] as { action: string; payload: { error?: string } };
      assert.equal(last.action, "patch.apply");
      assert.ok(typeof last.payload.error === "string");
    }
    const history = await readPatchHistory(fx.ws, 1000);
    assert.equal(history.length, hostile.length);
    assert.ok(history.every((h) => h.result === "failure" && h.metrics.applied === false));
    assert.deepEqual(await listPatches(fx.ws), []);
    // No backups left behind.
    await assert.rejects(() => Deno.stat(join(fx.ws, ".dspy_patches", "backups")));
  } finally {
    setEventPublisher(previous);
    await Deno.remove(fx.parent, { recursive: true });
  }
});

Deno.test("a failed write midway rolls every file back", async () => {
  const fx = await makeFixture();
  try {
    const before = await snapshot(fx.parent);
    const twoFiles = MOD_A +
      "--- a/src/b.txt\n+++ b/src/b.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n" +
      "--- /dev/null\n+++ b/new/dir/c.txt\n@@ -0,0 +1 @@\n+created\n";
    await assert.rejects(
      () =>
        applyPatchText(fx.ws, twoFiles, {
          emit: false,
          beforeWrite: (_p, i) => {
            if (i === 2) throw new Error("disk full (simulated)");
          },
        }),
      /left unchanged/,
    );
    assert.deepEqual(await snapshot(fx.parent), before);
    // A file edited by someone else between check and write also aborts the whole patch.
    await assert.rejects(
      () =>
        applyPatchText(fx.ws, twoFiles, {
          emit: false,
          beforeWrite: async (_p, i) => {
            if (i === 0) await Deno.writeTextFile(join(fx.ws, "src", "b.txt"), "alpha\nbeta\ngamma\nextra\n");
          },
        }),
      /changed while the patch/,
    );
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "a.txt")), "one\ntwo\nthree\n");
    const history = await readPatchHistory(fx.ws);
    assert.equal(history.length, 2);
    assert.ok(history.every((h) => h.result === "error"));
    assert.deepEqual(await listPatches(fx.ws), []);
  } finally {
    await Deno.remove(fx.parent, { recursive: true });
  }
});

Deno.test("apply: modify, create, delete, rename with backups, history, event and revert", async () => {
  const fx = await makeFixture();
  const events: AgentEnvelope[] = [];
  configureEvents({ workspace: fx.ws });
  const previous = setEventPublisher((_s, env) => void events.push(env));
  try {
    await Deno.writeTextFile(join(fx.ws, "src", "gone.txt"), "bye\n");
    await Deno.writeTextFile(join(fx.ws, "src", "old.txt"), "keep\nme\n");
    await Deno.chmod(join(fx.ws, "src", "a.txt"), 0o755);
    const patch = MOD_A +
      "--- /dev/null\n+++ b/src/new/file.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n" +
      "--- a/src/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n" +
      "diff --git a/src/old.txt b/src/moved.txt\nsimilarity index 80%\nrename from src/old.txt\nrename to src/moved.txt\n" +
      "--- a/src/old.txt\n+++ b/src/moved.txt\n@@ -1,2 +1,2 @@\n keep\n-me\n+you\n";
    const dry = await applyPatchText(fx.ws, patch, { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "a.txt")), "one\ntwo\nthree\n");
    assert.equal(events.length, 0);

    const res = await applyPatchText(fx.ws, patch, { task: "demo" });
    assert.deepEqual(res.files.sort(), ["src/a.txt", "src/gone.txt", "src/moved.txt", "src/new/file.txt"]);
    assert.equal(res.added, 4);
    assert.equal(res.removed, 3);
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "a.txt")), "one\nTWO\nthree\n");
    assert.equal((await Deno.stat(join(fx.ws, "src", "a.txt"))).mode! & 0o777, 0o755);
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "new", "file.txt")), "hello\nworld\n");
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "moved.txt")), "keep\nyou\n");
    await assert.rejects(() => Deno.stat(join(fx.ws, "src", "gone.txt")));
    await assert.rejects(() => Deno.stat(join(fx.ws, "src", "old.txt")));
    // Backup holds the originals.
    assert.equal(
      await Deno.readTextFile(join(fx.ws, ".dspy_patches", "backups", res.id, "files", "src", "a.txt")),
      "one\ntwo\nthree\n",
    );
    const history = await readPatchHistory(fx.ws);
    assert.equal(history.at(-1)!.result, "success");
    assert.equal(history.at(-1)!.id, res.id);
    assert.equal(history.at(-1)!.task, "demo");
    assert.equal(history.at(-1)!.metrics.blast_radius, 7);
    const ev = events.at(-1) as { action: string; payload: Record<string, unknown> };
    assert.equal(ev.action, "patch.apply");
    assert.equal(ev.payload.files, 4);
    assert.equal(ev.payload.added, 4);
    assert.equal(ev.payload.removed, 3);

    // Applying it again fails cleanly (already applied).
    await assert.rejects(() => applyPatchText(fx.ws, MOD_A), /does not match/);

    const list = await listPatches(fx.ws);
    assert.equal(list.length, 1);
    assert.equal(list[0].reverted, false);

    // Revert refuses when a file changed afterwards, unless forced.
    await Deno.writeTextFile(join(fx.ws, "src", "new", "file.txt"), "edited later\n");
    await assert.rejects(() => revertPatch(fx.ws), /changed after patch/);
    await Deno.writeTextFile(join(fx.ws, "src", "new", "file.txt"), "hello\nworld\n");
    const rev = await revertPatch(fx.ws);
    assert.equal(rev.id, res.id);
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "a.txt")), "one\ntwo\nthree\n");
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "gone.txt")), "bye\n");
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "old.txt")), "keep\nme\n");
    await assert.rejects(() => Deno.stat(join(fx.ws, "src", "new", "file.txt")));
    await assert.rejects(() => Deno.stat(join(fx.ws, "src", "moved.txt")));
    assert.equal((await listPatches(fx.ws))[0].reverted, true);
    await assert.rejects(() => revertPatch(fx.ws), /no applied patch/);
    await assert.rejects(() => revertPatch(fx.ws, res.id), /already reverted/);
    await assert.rejects(() => revertPatch(fx.ws, "../../x"), /not a patch id/);
    assert.equal((await readPatchHistory(fx.ws)).at(-1)!.result, "reverted");
  } finally {
    setEventPublisher(previous);
    await Deno.remove(fx.parent, { recursive: true });
  }
});

Deno.test("plain (non-git) paths, CRLF files and no trailing newline", async () => {
  const fx = await makeFixture();
  try {
    await Deno.writeTextFile(join(fx.ws, "crlf.txt"), "a\r\nb\r\nc\r\n");
    await Deno.writeTextFile(join(fx.ws, "nonl.txt"), "x\ny");
    await applyPatchText(
      fx.ws,
      "--- a/src/b.txt\n+++ src/b.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n",
      { emit: false },
    );
    assert.equal(await Deno.readTextFile(join(fx.ws, "src", "b.txt")), "alpha\nBETA\ngamma\n");
    const patch = "--- crlf.txt\t2024-01-01\n+++ crlf.txt\t2024-01-02\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n" +
      "--- nonl.txt\n+++ nonl.txt\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+Y\n\\ No newline at end of file\n";
    await applyPatchText(fx.ws, patch, { emit: false });
    assert.equal(await Deno.readTextFile(join(fx.ws, "crlf.txt")), "a\r\nB\r\nc\r\n");
    assert.equal(await Deno.readTextFile(join(fx.ws, "nonl.txt")), "x\nY");
  } finally {
    await Deno.remove(fx.parent, { recursive: true });
  }
});

Deno.test("summarizePatch and recountHunks", () => {
  assert.deepEqual(summarizePatch(MOD_A), { files: 1, added_lines: 1, removed_lines: 1 });
  const sloppy = "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,7 +1,9 @@\n one\n-two\n+TWO\n three\n";
  assert.equal(recountHunks(sloppy), MOD_A);
});
