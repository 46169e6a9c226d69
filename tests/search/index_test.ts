import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildIndex,
  chunkFile,
  codeTokens,
  indexFiles,
  loadIndex,
  readRetrievalLog,
  searchIndex,
} from "./deps.ts";
import { runDspy } from "../support/cli.ts";
import { makeTree, removeTree } from "./helpers.ts";

const APP_TS = [
  "import { connect } from './net';", // 1
  "const DEFAULT_PORT = 8080;", // 2
  "", // 3
  "export function parseConfig(text: string) {", // 4
  "  return JSON.parse(text);", // 5
  "}", // 6
  "", // 7
  "// module-level wiring", // 8
  "connect(DEFAULT_PORT);", // 9
  "", // 10
  "export class RetryPolicy {", // 11
  "  backoffDelay(attempt: number) {", // 12
  "    return 100 * 2 ** attempt;", // 13
  "  }", // 14
  "}", // 15
  "main();", // 16
].join("\n") + "\n";

Deno.test("codeTokens splits camelCase and snake_case and keeps whole identifiers", () => {
  const toks = codeTokens("def FooBar(x): return commit_offsets + parseHTTPRequest");
  for (
    const t of [
      "foobar",
      "foo",
      "bar",
      "return",
      "commit_offsets",
      "commit",
      "offset",
      "parsehttprequest",
      "http",
    ]
  ) {
    assert.ok(toks.includes(t), `${t} in ${toks}`);
  }
});

Deno.test("chunkFile cuts code at symbols and keeps the module-level code between them", () => {
  const chunks = chunkFile("src/app.ts", APP_TS);
  assert.deepEqual(chunks.map((c) => [c.startLine, c.endLine, c.symbol ?? null]), [
    [1, 3, null],
    [4, 6, "parseConfig"],
    [7, 10, null],
    [11, 15, "RetryPolicy"],
    [16, 16, null],
  ]);
  // Every non-blank line is in some chunk.
  const covered = new Set<number>();
  for (const c of chunks) for (let l = c.startLine; l <= c.endLine; l++) covered.add(l);
  APP_TS.split("\n").forEach((line, i) => line.trim() && assert.ok(covered.has(i + 1), `line ${i + 1}`));
  const text = Array.from({ length: 15 }, (_, i) => `line ${i + 1}`).join("\n");
  assert.deepEqual(chunkFile("notes.txt", text, { chunkLines: 5 }).map((c) => [c.startLine, c.endLine]), [
    [1, 5],
    [6, 10],
    [11, 15],
  ]);
  // A long class is split into its methods.
  const long = [
    "class Big {",
    ...Array.from({ length: 4 }, (_, m) => [
      `  m${m}() {`,
      ...Array.from({ length: 40 }, (_, i) => `    call${i}();`),
      "  }",
    ]).flat(),
    "}",
  ].join("\n");
  const parts = chunkFile("big.ts", long, { chunkLines: 60, maxSymbolLines: 100 });
  assert.deepEqual(parts.filter((p) => p.kind === "method").map((p) => p.symbol), [
    "Big.m0",
    "Big.m1",
    "Big.m2",
    "Big.m3",
  ]);
});

Deno.test("buildIndex is incremental and searchIndex ranks the right chunk first", async () => {
  const root = await makeTree({
    "src/app.ts": APP_TS,
    "src/other.py": "def unrelated():\n    return 'nothing to see'\n",
    "docs/guide.md": "# Guide\nHow to configure the retry policy.\n",
    "data.bin": new Uint8Array([1, 0, 2, 3]),
  });
  try {
    const first = await buildIndex(root);
    assert.equal(first.files, 3);
    assert.equal(first.filesRead, 4);
    const again = await buildIndex(root);
    assert.deepEqual([again.filesRead, again.filesReused, again.chunks], [0, 4, first.chunks]);
    // Touch one file: only it is re-read.
    await Deno.writeTextFile(
      join(root, "src/other.py"),
      "def unrelated():\n    return 'exponential backoff'\n",
    );
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/other.py"), future, future);
    const inc = await buildIndex(root);
    assert.deepEqual([inc.filesRead, inc.filesReused], [1, 3]);
    await Deno.remove(join(root, "docs/guide.md"));
    const removed = await buildIndex(root);
    assert.equal(removed.filesRemoved, 1);
    const hits = await searchIndex(root, "backoff delay for a retry attempt", { k: 3 });
    assert.equal(hits[0].path, "src/app.ts");
    assert.equal(hits[0].symbol, "RetryPolicy");
    assert.deepEqual([hits[0].start_line, hits[0].end_line], [11, 15]);
    assert.ok(hits[0].score > (hits[1]?.score ?? 0));
    const parse = await searchIndex(root, "parse config", { k: 1, context: 0 });
    assert.equal(parse[0].symbol, "parseConfig");
    assert.equal(parse[0].snippet, "export function parseConfig(text: string) {");
    const idx = await loadIndex(root);
    assert.ok(idx && idx.meta.terms.length > 0);
    // Without refresh a stale index answers; with refresh the edit is seen.
    await Deno.writeTextFile(join(root, "src/other.py"), "def zebra_crossing():\n    pass\n");
    const later = new Date(Date.now() + 20_000);
    await Deno.utime(join(root, "src/other.py"), later, later);
    assert.equal((await searchIndex(root, "zebra crossing", { k: 1 })).length, 0);
    const fresh = await searchIndex(root, "zebra crossing", { k: 1, refresh: true });
    assert.equal(fresh[0].symbol, "zebra_crossing");
  } finally {
    await removeTree(root);
  }
});

Deno.test("an incremental build writes exactly the index a full build writes", async () => {
  const root = await makeTree({
    "a/one.ts": "export function alphaBeta() { return gammaDelta(); }\n",
    "b/two.py": "def gamma_rho():\n    return 'upsilon'\n",
    "c/three.go": 'package c\n\nfunc Zeta() string { return "eta theta" }\n',
    "d/four.md": "# Four\nIota kappa lambda, and epsilon once more.\n",
  });
  try {
    await buildIndex(root);
    // A changed file (a term gone, a new one), a new file between two unchanged ones, a removed file.
    await Deno.writeTextFile(join(root, "b/two.py"), "def gamma_omicron():\n    return 'sigma'\n");
    await Deno.mkdir(join(root, "bb"));
    await Deno.writeTextFile(join(root, "bb/new.rs"), "fn alpha_sigma() -> u8 { 0 }\n");
    await Deno.remove(join(root, "c/three.go"));
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "b/two.py"), future, future);
    const inc = await buildIndex(root);
    assert.deepEqual([inc.filesRead, inc.filesReused, inc.filesRemoved], [2, 2, 1]);
    const incremental = await loadIndex(root, { files: true });
    const full = await buildIndex(root, { full: true });
    assert.equal(full.filesRead, 4);
    const scratch = await loadIndex(root, { files: true });
    assert.ok(incremental && scratch);
    const comparable = (i: typeof scratch) => ({ ...i.meta, createdAt: "", postingsIntegrity: "" });
    assert.deepEqual(comparable(incremental), comparable(scratch));
    assert.deepEqual([...incremental.ids], [...scratch.ids]);
    assert.deepEqual([...incremental.weights], [...scratch.weights]);
    assert.ok(!incremental.meta.terms.all().includes("upsilon"), "a term only the old text had is gone");
    assert.ok(incremental.meta.terms.all().includes("omicron"));
  } finally {
    await removeTree(root);
  }
});

Deno.test("repeated searches reuse the loaded index until a build replaces it", async () => {
  const root = await makeTree({ "src/app.ts": APP_TS, "src/other.py": "def zebra_crossing():\n    pass\n" });
  try {
    await buildIndex(root);
    assert.equal((await searchIndex(root, "zebra crossing", { k: 1 }))[0].symbol, "zebra_crossing");
    // Damage the postings behind the loaded index's back (the meta file is untouched): a search that loaded
    // the index again would refuse them and rebuild; the cached one answers from memory.
    const postings = indexFiles(root).postings;
    const bytes = await Deno.readFile(postings);
    bytes.fill(0);
    await Deno.writeFile(postings, bytes);
    assert.equal(
      (await searchIndex(root, "zebra crossing", { k: 1, autoBuild: false }))[0].symbol,
      "zebra_crossing",
    );
    // `reuse: false` loads from disk as a new process does, and finds the damage.
    await assert.rejects(
      () => searchIndex(root, "zebra crossing", { k: 1, autoBuild: false, reuse: false }),
      /No index found/,
    );
    // A build writes a new meta file: the next search loads the new index and sees the edit.
    await Deno.writeTextFile(join(root, "src/other.py"), "def yak_shaving():\n    pass\n");
    const future = new Date(Date.now() + 5000);
    await Deno.utime(join(root, "src/other.py"), future, future);
    await buildIndex(root, { full: true });
    assert.equal((await searchIndex(root, "yak shaving", { k: 1 }))[0].symbol, "yak_shaving");
    assert.equal((await searchIndex(root, "zebra crossing", { k: 1 })).length, 0);
  } finally {
    await removeTree(root);
  }
});

Deno.test("esearch over an index of the first format says it rebuilds it, then answers", async () => {
  const root = await makeTree({
    "src/app.ts": APP_TS,
    ".dspy_index/lexical.json": '{"version":1}',
    ".dspy_index/lexical.postings.bin": "",
  });
  try {
    const r = await runDspy(["--workspace", root, "esearch", "parse", "config", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /written by an older version of dspy-code: rebuilding it first/);
    assert.equal(JSON.parse(r.stdout)[0].path, "src/app.ts");
    await assert.rejects(Deno.stat(join(root, ".dspy_index/lexical.json")), Deno.errors.NotFound);
  } finally {
    await removeTree(root);
  }
});

Deno.test("index/esearch commands: auto-build, JSON hits, retrieval events", async () => {
  const root = await makeTree({ "src/app.ts": APP_TS, "README.md": "Parse the config file.\n" });
  try {
    const r = await runDspy(["--workspace", root, "esearch", "parse", "config", "--k", "2", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /No index yet/);
    const hits = JSON.parse(r.stdout);
    assert.equal(hits.length, 2);
    for (const h of hits) {
      assert.deepEqual(Object.keys(h).filter((k) => k !== "symbol").sort(), [
        "end_line",
        "path",
        "score",
        "snippet",
        "start_line",
      ]);
      assert.ok(!h.path.startsWith("/"), "paths are workspace-relative");
    }
    const idx = await runDspy(["--workspace", root, "index", "--json"]);
    assert.equal(idx.code, 0, idx.stderr);
    assert.deepEqual(
      (({ files, files_read, files_reused }) => ({ files, files_read, files_reused }))(
        JSON.parse(idx.stdout),
      ),
      { files: 2, files_read: 0, files_reused: 2 },
    );
    const text = await runDspy(["--workspace", root, "--plain", "esearch", "retry backoff"]);
    assert.match(text.stdout, /src\/app\.ts {2}score=[0-9.]+ {2}lines 11-15 {2}RetryPolicy/);
    const events = await readRetrievalLog(root);
    assert.equal(events.length, 2);
    assert.equal(events[0].query, "parse config");
    assert.ok(events[0].event_id && events[0].timestamp > 0);
    assert.deepEqual(Object.keys(events[0].hits[0]).sort(), ["path", "score", "source"]);
    assert.equal(events[0].hits[0].source, "bm25");
    const actions = await runDspy(["--workspace", root, "tail", "agent.actions", "--limit", "10", "--json"]);
    assert.equal(actions.code, 0, actions.stderr);
    const esearchActions = actions.stdout.trim().split("\n").map((l) => JSON.parse(l))
      .filter((a) => a.action === "retrieval.esearch");
    assert.equal(esearchActions.length, 2);
    assert.equal(esearchActions[0].payload.query, "parse config");
    assert.equal(esearchActions[0].payload.event_id, events[0].event_id);
    const empty = await runDspy(["--workspace", root, "esearch", "   "]);
    assert.equal(empty.code, 1);
  } finally {
    await removeTree(root);
  }
});

Deno.test("a big build is analysed in worker threads and gives the same index as an in-process one", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 260; i++) {
    files[`pkg${i % 5}/mod${i}.ts`] =
      `export function handler${i}(req: Request) {\n  return route${i}(req);\n}\n`;
  }
  const root = await makeTree(files);
  try {
    const big = await buildIndex(root, { full: true }); // 260 files: worker path
    assert.deepEqual([big.files, big.chunks, big.filesRead], [260, 260, 260]);
    const hits = await searchIndex(root, "handler123", { k: 1 });
    assert.equal(hits[0].path, "pkg3/mod123.ts");
    assert.equal(hits[0].symbol, "handler123");
    const before = await loadIndex(root);
    // Touch 3 files: the in-process path re-analyses them; the index must come out identical.
    for (const i of [5, 77, 201]) {
      const p = join(root, `pkg${i % 5}/mod${i}.ts`);
      const t = new Date(Date.now() + 10_000);
      await Deno.utime(p, t, t);
    }
    const inc = await buildIndex(root);
    assert.equal(inc.filesRead, 3);
    const after = await loadIndex(root);
    assert.deepEqual(after!.meta.terms.all(), before!.meta.terms.all());
    assert.deepEqual(after!.meta.termOffset, before!.meta.termOffset);
    assert.deepEqual(after!.ids, before!.ids);
    assert.deepEqual(after!.weights, before!.weights);
  } finally {
    await removeTree(root);
  }
});

Deno.test("index honours .dspyignore, --glob and --exclude, and skips lock files and minified bundles", async () => {
  const root = await makeTree({
    ".dspyignore": "secret/\n",
    "secret/keys.py": "def hidden_token(): pass\n",
    "src/keep.py": "def visible_token(): pass\n",
    "vendor/lib.py": "def vendored_token(): pass\n",
    "notes.md": "visible_token notes\n",
    "package-lock.json": '{"visible_token": 1}\n',
    "app.min.js": "var visible_token=1;".repeat(400),
  });
  try {
    const r = await runDspy(["--workspace", root, "index", "--exclude", "vendor/", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const idx = await loadIndex(root, { files: true });
    assert.deepEqual([...idx!.meta.paths.all()].sort(), [".dspyignore", "notes.md", "src/keep.py"]);
    assert.ok(!("secret/keys.py" in idx!.meta.files!) && !("vendor/lib.py" in idx!.meta.files!));
    const py = await buildIndex(root, { globs: ["*.py"], full: true });
    assert.equal(py.files, 2);
    const hits = await searchIndex(root, "vendored_token hidden_token visible_token", { k: 5 });
    assert.deepEqual(hits.map((h) => h.path).sort(), ["src/keep.py", "vendor/lib.py"]);
    // --max-file-bytes: notes.md (20 bytes) is over a 10-byte limit, .dspyignore (8 bytes) is not.
    const small = await runDspy(["--workspace", root, "index", "--max-file-bytes", "10", "--json"]);
    assert.equal(small.code, 0, small.stderr);
    assert.deepEqual((await loadIndex(root))!.meta.paths.all(), [".dspyignore"]);
  } finally {
    await removeTree(root);
  }
});

Deno.test("a refresh keeps the scope and chunk window the index was built with", async () => {
  const root = await makeTree({
    "src/keep.py": "def visible_token(): pass\n",
    "vendor/lib.py": "def vendored_token(): pass\n",
    "notes.md": "visible_token notes\n",
  });
  try {
    const built = await runDspy(["--workspace", root, "index", "--glob", "*.py", "--exclude", "vendor/"]);
    assert.equal(built.code, 0, built.stderr);
    const paths = async () => [...(await loadIndex(root))!.meta.paths.all()].sort();
    assert.deepEqual(await paths(), ["src/keep.py"]);
    await Deno.writeTextFile(join(root, "src/new.py"), "def fresh_token(): pass\n");
    const r = await runDspy(["--workspace", root, "esearch", "fresh_token", "--refresh", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout)[0].path, "src/new.py");
    assert.deepEqual(await paths(), ["src/keep.py", "src/new.py"], "notes.md and vendor/ stay out");
    // The library's refresh keeps it too, and so do the chunk window and a size limit.
    await buildIndex(root, { chunkLines: 30, maxFileBytes: 1000, full: true });
    await Deno.writeTextFile(join(root, "big.py"), "x = 1\n".repeat(400)); // 2,400 bytes
    const kept = await buildIndex(root, { keepScope: true });
    assert.deepEqual([kept.filesRead, kept.filesReused], [0, 4], "big.py is over the kept 1000-byte limit");
    assert.equal((await loadIndex(root))!.meta.chunkLines, 30);
    // `index` itself starts over from what it is given.
    await buildIndex(root);
    assert.equal((await loadIndex(root))!.meta.chunkLines, 60);
    assert.ok((await paths()).includes("big.py"));
  } finally {
    await removeTree(root);
  }
});

Deno.test("in the session esearch follows the files: an edit shows up without --refresh", async () => {
  const root = await makeTree({
    "src/app.py": "def old_name(): pass\n",
    "src/other.py": "x = 1\n",
    // The session applies it between two searches, as an edit would change the file.
    "fix.diff": "--- a/src/app.py\n+++ b/src/app.py\n@@ -1 +1 @@\n-def old_name(): pass\n" +
      "+def renamed_function(): pass\n",
  });
  try {
    const r = await runDspy(["--workspace", root, "--plain"], {
      stdin: "esearch old_name --k 1\npatch fix.diff\nesearch renamed_function --k 1\nexit\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^src\/app\.py +score=[\d.]+ +lines 1-1 +old_name$/m);
    assert.match(r.stdout, /^src\/app\.py +score=[\d.]+ +lines 1-1 +renamed_function$/m);
    // A one-shot esearch still answers from the index as it was (refresh on request).
    await Deno.writeTextFile(join(root, "src/other.py"), "def third_name(): pass\n");
    const oneShot = await runDspy(["--workspace", root, "esearch", "third_name", "--json"]);
    const stale = JSON.parse(oneShot.stdout) as { path: string }[];
    assert.ok(!stale.some((h) => h.path === "src/other.py"), JSON.stringify(stale));
    // `chat` searches on the user's behalf: it refreshes first, as a session does.
    const chat = await runDspy(["--workspace", root, "--plain", "chat", "where is third_name"], {
      env: { LOCAL_MODE: "true" },
    });
    assert.equal(chat.code, 0, chat.stderr);
    assert.match(chat.stdout, /^src\/other\.py +score=[\d.]+ +lines 1-1 +third_name$/m);
  } finally {
    await removeTree(root);
  }
});

Deno.test("a one-shot esearch says which files it shows changed since the index was built", async () => {
  const root = await makeTree({
    "src/app.py": "def parse_config(text):\n    return text\n",
    "src/other.py": "x = 1\n",
  });
  try {
    assert.equal((await runDspy(["--workspace", root, "index"])).code, 0);
    const clean = await runDspy(["--workspace", root, "esearch", "parse config"]);
    assert.doesNotMatch(clean.stderr, /changed since the index was built/);
    // Edited after the build (and dated after it): the hit is still shown, with a note.
    await Deno.writeTextFile(join(root, "src/app.py"), "def parse_config(text, strict):\n    return text\n");
    const later = new Date(Date.now() + 20_000);
    await Deno.utime(join(root, "src/app.py"), later, later);
    const stale = await runDspy(["--workspace", root, "esearch", "parse config"]);
    assert.match(stale.stderr, /src\/app\.py changed since the index was built: run 'esearch --refresh' to/);
    const refreshed = await runDspy(["--workspace", root, "esearch", "parse config", "--refresh"]);
    assert.doesNotMatch(refreshed.stderr, /changed since/);
    // A file dated in the future but unchanged since the build is not reported.
    const again = await runDspy(["--workspace", root, "esearch", "parse config"]);
    assert.doesNotMatch(again.stderr, /changed since/);
  } finally {
    await removeTree(root);
  }
});
