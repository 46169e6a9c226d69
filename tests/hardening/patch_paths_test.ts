/**
 * Patches against a hostile repository (issue #16 items 2 and 4): a nested repository's `.git/` at any
 * depth, `.git` spelled in other cases, dspy-code state folders anywhere, and symlinked folders that point
 * inside the workspace (to plain source, and to a nested `.git/hooks`). Each is refused with the reason,
 * and nothing under the temp directory changes; a plain patch next to them still applies. The fsmonitor
 * attack of the issue is run end to end: after the refused patch, `git status` in the nested repository
 * runs no command.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { applyPatchText, PatchError } from "../../agent/mod.ts";

async function git(cwd: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}

async function tree(dir: string, base = dir, out = new Map<string, string>()): Promise<Map<string, string>> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    const rel = p.slice(base.length + 1);
    if (rel.includes(".dspy_patches") || rel.includes("/.git/index") || rel.endsWith("/.git/index")) continue;
    if (e.isSymlink) out.set(rel, `link:${await Deno.readLink(p)}`);
    else if (e.isDirectory) {
      out.set(rel, "dir");
      await tree(p, base, out);
    } else out.set(rel, `file:${await Deno.readTextFile(p).catch(() => "?")}`);
  }
  return out;
}

const create = (path: string, line = "x") => `--- /dev/null\n+++ b/${path}\n@@ -0,0 +1 @@\n+${line}\n`;

Deno.test("patches refuse .git at any depth, dspy state anywhere, and every symlinked folder", async () => {
  const parent = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_hostile_repo_" }));
  const ws = join(parent, "ws");
  const marker = join(parent, "fsmonitor_ran");
  try {
    await Deno.mkdir(join(ws, "src"), { recursive: true });
    await Deno.writeTextFile(join(ws, "src", "app.py"), "a = 1\n");
    await Deno.mkdir(join(ws, "deep", "er"), { recursive: true });
    assert.equal(
      (await git(join(ws, "nested"), "init", "-q").catch(async () => {
        await Deno.mkdir(join(ws, "nested"));
        return git(join(ws, "nested"), "init", "-q");
      })).code,
      0,
    );
    await git(join(ws, "deep", "er"), "init", "-q");
    await Deno.symlink(join(ws, "src"), join(ws, "link_in"));
    await Deno.symlink(join(ws, "nested", ".git", "hooks"), join(ws, "hooks_link"));
    await Deno.symlink("src", join(ws, "rel_link"));
    const config = await Deno.readTextFile(join(ws, "nested", ".git", "config"));
    const lines = config.split("\n").filter((l) => l !== "");
    const fsmonitor = `--- a/nested/.git/config\n+++ b/nested/.git/config\n@@ -1,${lines.length} +1,${
      lines.length + 1
    } @@\n${lines.map((l) => ` ${l}`).join("\n")}\n+\tfsmonitor = "touch ${marker}; false"\n`;
    const cases: [string, string, string][] = [
      ["nested .git/config (fsmonitor)", fsmonitor, "protected"],
      [
        "nested .git/hooks/pre-commit",
        create("nested/.git/hooks/pre-commit", "touch /tmp/pwned"),
        "protected",
      ],
      ["deeper .git/config", create("deep/er/.git/info/attributes"), "protected"],
      ["upper-case .GIT", create("nested/.GIT/hooks/post-checkout"), "protected"],
      ["a .git file (worktree pointer)", create("src/.git"), "protected"],
      ["nested dspy state", create("sub/.dspy/state.kv"), "protected"],
      ["dspy index anywhere", create("src/.dspy_index/x"), "protected"],
      [
        "rename into nested .git",
        "diff --git a/src/app.py b/nested/.git/description\nsimilarity index 100%\nrename from src/app.py\nrename to nested/.git/description\n",
        "protected",
      ],
      [
        "modify through link_in -> src",
        "--- a/link_in/app.py\n+++ b/link_in/app.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n",
        "symlink",
      ],
      ["create through link_in -> src", create("link_in/created.py"), "symlink"],
      ["create through a relative link", create("rel_link/created.py"), "symlink"],
      [
        "create through a link into nested .git/hooks",
        create("hooks_link/pre-commit", "touch /tmp/pwned"),
        "symlink",
      ],
    ];
    const before = await tree(parent);
    for (const [name, patch, reason] of cases) {
      await assert.rejects(
        () => applyPatchText(ws, patch, { emit: false }),
        (err: unknown) => {
          assert.ok(err instanceof PatchError, `${name}: ${err}`);
          assert.equal(err.reason, reason, `${name}: ${err.message}`);
          return true;
        },
        name,
      );
    }
    assert.deepEqual(await tree(parent), before, "a refused patch changed files");
    // The attack end to end: git status in the nested repository runs no fsmonitor command.
    await git(join(ws, "nested"), "status");
    assert.equal(await Deno.stat(marker).then(() => true, () => false), false, "fsmonitor command ran");
    // The real path next to the links still takes patches.
    const ok = await applyPatchText(ws, "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n", {
      emit: false,
    });
    assert.deepEqual(ok.files, ["src/app.py"]);
    assert.equal(await Deno.readTextFile(join(ws, "src", "app.py")), "a = 2\n");
    // Files named like the banned folders but not equal to them are fine.
    assert.ok((await applyPatchText(ws, create("src/git_notes.md"), { emit: false })).files.length === 1);
    assert.ok((await applyPatchText(ws, create("src/x.github/y.md"), { emit: false })).files.length === 1);
  } finally {
    await Deno.remove(parent, { recursive: true }).catch(() => {});
  }
});
