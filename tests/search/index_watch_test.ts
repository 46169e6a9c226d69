import assert from "node:assert/strict";
import { join } from "node:path";
import { buildIndex, IndexWatch, loadIndex } from "./deps.ts";
import { pipedSession } from "../support/cli.ts";
import { makeTree, removeTree } from "./helpers.ts";

/** Waits until `check` holds (watch events arrive on the event loop), failing after `ms`. */
async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Gives the watcher time to report what it would (a change it must ignore leaves no trace). */
const settle = () => new Promise((r) => setTimeout(r, 300));

/** Runs `fn` with a temp tree of `files` and a watch on it, and removes both afterwards. */
async function withWatch(
  files: Record<string, string>,
  fn: (root: string, watch: IndexWatch) => Promise<void>,
): Promise<void> {
  const root = await makeTree(files);
  const watch = new IndexWatch(root);
  try {
    await fn(root, watch);
  } finally {
    watch[Symbol.dispose]();
    await removeTree(root);
  }
}

Deno.test("the index watch: stale until armed, then only after a change that counts", async () => {
  await withWatch({ "src/a/app.py": "x = 1\n", "README.md": "# r\n" }, async (root, watch) => {
    assert.ok(watch.stale, "stale before the first refresh");
    watch.refreshing();
    watch.refreshed(["src/a/app.py", "README.md"]);
    assert.ok(watch.armed && !watch.stale);
    // Reads, dspy-code's own state and .git do not count.
    await Deno.readTextFile(join(root, "src/a/app.py"));
    await Deno.writeTextFile(join(root, ".dspy_rl_events.jsonl"), "{}\n");
    await Deno.mkdir(join(root, ".dspy_index"));
    await Deno.writeTextFile(join(root, ".dspy_index", "lexical.meta.bin"), "x");
    await settle();
    assert.ok(!watch.stale, "reads and .dspy* writes leave the index fresh");
    // An edit in a watched folder does.
    await Deno.writeTextFile(join(root, "src/a/app.py"), "x = 2\n");
    await until(() => watch.stale, "the edit");
    // A new file in a folder on the way to an indexed file (src/ holds no file of its own). The edit's events
    // may still be arriving: let them, then start clean.
    await settle();
    watch.refreshing();
    await Deno.writeTextFile(join(root, "src/new.py"), "y = 1\n");
    await until(() => watch.stale, "the new file in src/");
    // After a refresh that added a folder, a change there is seen too.
    await Deno.mkdir(join(root, "lib/deep"), { recursive: true });
    await Deno.writeTextFile(join(root, "lib/deep/util.py"), "z = 1\n");
    await settle();
    watch.refreshing();
    watch.refreshed(["src/a/app.py", "src/new.py", "README.md", "lib/deep/util.py"]);
    assert.ok(!watch.stale);
    await Deno.writeTextFile(join(root, "lib/deep/util.py"), "z = 2\n");
    await until(() => watch.stale, "the edit in the new folder");
    // A command of this process says so at once.
    watch.refreshing();
    watch.markStale();
    assert.ok(watch.stale);
  });
});

Deno.test("where folders cannot be watched, every search refreshes, and arming is tried again", async () => {
  const root = await makeTree({ "a.py": "x = 1\n" });
  const watch = new IndexWatch(root);
  try {
    watch.refreshing();
    watch.refreshed(["gone/a.py"]); // a folder that does not exist: the watcher cannot start
    assert.ok(!watch.armed);
    assert.ok(watch.stale);
    // The next refresh tries again.
    watch.refreshing();
    watch.refreshed(["a.py"]);
    assert.ok(watch.armed && !watch.stale);
    // After three failures in a row the session stops trying (each try may cost a walk of watches).
    const other = new IndexWatch(root);
    try {
      for (let i = 0; i < 3; i++) other.refreshed(["gone/a.py"]);
      other.refreshing();
      other.refreshed(["a.py"]);
      assert.ok(!other.armed && other.stale);
    } finally {
      other[Symbol.dispose]();
    }
  } finally {
    watch[Symbol.dispose]();
    await removeTree(root);
  }
});

Deno.test("a session's esearch sees a file another program edited between two searches", async () => {
  const root = await makeTree({ "src/app.py": "def first_name(): pass\n", "src/b.py": "y = 1\n" });
  const session = pipedSession(root);
  try {
    await session.send("esearch first_name --k 1\n");
    await session.waitFor("lines 1-1  first_name");
    // Another program (an editor) renames the function while the session waits at its prompt.
    await Deno.writeTextFile(join(root, "src/app.py"), "def second_name(): pass\n");
    await new Promise((r) => setTimeout(r, 300));
    await session.send("esearch second_name --k 1\n");
    await session.waitFor("lines 1-1  second_name");
    await session.send("exit\n");
    await session.close();
    assert.equal((await session.child.status).code, 0);
  } finally {
    await session.close();
    await session.output();
    await removeTree(root);
  }
});

Deno.test("refreshIfStale and searched: a refresh only when a change was seen, the index then watched", async () => {
  await withWatch({ "src/app.py": "def first_name(): pass\n", "README.md": "# r\n" }, async (root, watch) => {
    await buildIndex(root, { globs: ["*.py"] });
    assert.equal(await watch.refreshIfStale(), true, "before the first search");
    await watch.searched();
    assert.ok(watch.armed);
    assert.equal(await watch.refreshIfStale(), false, "nothing changed");
    assert.equal(await watch.refreshIfStale({}, true), true, "asked for (--refresh)");
    // A new file: the refresh reads it, within the scope the index was built with (*.py only).
    await Deno.writeTextFile(join(root, "src/second.py"), "def second_name(): pass\n");
    await Deno.writeTextFile(join(root, "notes.md"), "second_name notes\n");
    await until(() => watch.stale, "the new files");
    await settle(); // the rest of their events, so none arrives after the refresh starts
    assert.equal(await watch.refreshIfStale(), true);
    await watch.searched();
    assert.deepEqual([...(await loadIndex(root))!.meta.paths.all()].sort(), ["src/app.py", "src/second.py"]);
    assert.equal(await watch.refreshIfStale(), false);
  });
});

Deno.test("a new file is seen in a folder that held no indexed file: of other kinds, unindexed, or empty", async () => {
  await withWatch({
    "src/app.py": "def first_name(): pass\n",
    "docs/guide.md": "# guide\n", // outside the index's *.py scope
    "assets/deep/logo.svg": "<svg/>\n", // a kind the index never reads
  }, async (root, watch) => {
    // The search builds the index (no refresh before it): the watch reads the folders from its file table.
    watch.building();
    await buildIndex(root, { globs: ["*.py"] });
    await watch.searched();
    assert.ok(watch.armed && !watch.stale);
    for (const rel of ["docs/new.py", "assets/deep/new.py"]) {
      await Deno.writeTextFile(join(root, rel), "def second_name(): pass\n");
      await until(() => watch.stale, `the new ${rel}`);
      await settle();
      assert.equal(await watch.refreshIfStale(), true);
      await watch.searched();
      assert.ok(!watch.stale);
    }
    assert.deepEqual(
      [...(await loadIndex(root))!.meta.paths.all()].sort(),
      ["assets/deep/new.py", "docs/new.py", "src/app.py"],
    );
    // An empty folder: its creation makes a refresh that reads no file, and the folder is watched after it.
    await Deno.mkdir(join(root, "later"));
    await until(() => watch.stale, "the new folder");
    await settle();
    assert.equal(await watch.refreshIfStale(), true);
    await watch.searched();
    await Deno.writeTextFile(join(root, "later/third.py"), "def third_name(): pass\n");
    await until(() => watch.stale, "the new file in the new, empty folder");
  });
});

Deno.test("prewarm: the index is refreshed and watched in the background; a search meanwhile waits for it", async () => {
  await withWatch({ "src/app.py": "def first_name(): pass\n" }, async (root, watch) => {
    await buildIndex(root);
    await Deno.writeTextFile(join(root, "src/second.py"), "def second_name(): pass\n");
    void watch.prewarm();
    // A search that starts while the pre-warm runs takes its refresh instead of walking again, and shows its
    // progress on its own bar.
    const reports: [number, number][] = [];
    assert.equal(
      await watch.refreshIfStale({ onProgress: (done, total) => reports.push([done, total]) }),
      true,
    );
    assert.deepEqual(reports.at(-1), [2, 2]);
    assert.ok(watch.armed && !watch.stale);
    assert.deepEqual([...(await loadIndex(root))!.meta.paths.all()].sort(), ["src/app.py", "src/second.py"]);
    assert.equal(await watch.refreshIfStale(), false, "nothing changed since");
    // A command that builds the index itself waits until no pre-warm runs.
    await Deno.writeTextFile(join(root, "src/third.py"), "def third_name(): pass\n");
    await until(() => watch.stale, "the new file");
    void watch.prewarm();
    await watch.settled();
    assert.ok((await loadIndex(root))!.meta.paths.all().includes("src/third.py"));
  });
});

Deno.test("a session refreshes an existing index while it waits for the first line, and after cd", async () => {
  const root = await makeTree({ "src/app.py": "def first_name(): pass\n" });
  const other = await makeTree({ "lib/util.py": "def util_name(): pass\n" });
  // Changed between sessions: the indexes do not know src/later.py and lib/later.py yet.
  for (const [at, rel] of [[root, "src/later.py"], [other, "lib/later.py"]]) {
    await buildIndex(at);
    await Deno.writeTextFile(join(at, rel), "def later_name(): pass\n");
  }
  const indexed = (at: string, rel: string) => () => {
    try {
      return Deno.readTextFileSync(join(at, ".dspy_index/lexical.files.json")).includes(rel);
    } catch {
      return false; // between the two renames of the refresh
    }
  };
  const session = pipedSession(root);
  try {
    await session.waitFor("Type 'help'");
    await until(indexed(root, "src/later.py"), "the refresh before any command", 20_000);
    await session.send(`cd ${other}\n`);
    await until(indexed(other, "lib/later.py"), "the refresh after cd", 20_000);
    await session.send("exit\n");
    await session.close();
    assert.equal((await session.child.status).code, 0);
  } finally {
    await session.close();
    await session.output();
    await removeTree(root);
    await removeTree(other);
  }
});

Deno.test("vectorsChecked clears the vectors' flag only if no change was seen since the check began", async () => {
  await withWatch({ "a.py": "x = 1\n" }, async (root, watch) => {
    const early = watch.changeCount;
    watch.vectorsChecked(early);
    assert.equal(watch.takeVectorsStale(), true, "nothing watched yet: changes could not have been seen");
    watch.refreshing();
    watch.refreshed(["a.py"]);
    watch.markStale(); // a change while a check ran
    watch.vectorsChecked(early);
    assert.equal(watch.takeVectorsStale(), true);
    const now = watch.changeCount;
    watch.vectorsChecked(now);
    assert.equal(watch.takeVectorsStale(), false, "checked with no change since");
    await Deno.writeTextFile(join(root, "a.py"), "x = 2\n");
    await until(() => watch.changeCount > now, "the edit");
    assert.equal(watch.takeVectorsStale(), true);
  });
});

Deno.test("a failed vector refresh makes the next vector search ask again", async () => {
  await withWatch({ "a.py": "x = 1\n" }, (_root, watch) => {
    watch.refreshing();
    watch.refreshed(["a.py"]);
    assert.equal(watch.takeVectorsStale(), true);
    assert.equal(watch.takeVectorsStale(), false);
    watch.vectorsRefreshFailed();
    assert.equal(watch.takeVectorsStale(), true);
    return Promise.resolve();
  });
});
