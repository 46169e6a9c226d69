import assert from "node:assert/strict";
import { buildIndex, indexFiles, loadIndex, rankChunks, searchIndex } from "./deps.ts";
import { POSTINGS_BLOCK, PostingsUnreadableError } from "../../agent/search/postings.ts";
import { makeTree, removeTree } from "./helpers.ts";

const WORDS = ("retry backoff offset commit consumer producer partition broker leader heartbeat session " +
  "timeout buffer socket encode decode request response batch record").split(" ");

/** 300 small files whose postings fill several blocks, each with a few distinctive names. */
function corpus(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let f = 0; f < 300; f++) {
    const lines = [`// module ${f}: ${WORDS[f % WORDS.length]} and ${WORDS[(f * 7) % WORDS.length]}`];
    for (let i = 0; i < 12; i++) {
      lines.push(`export function ${WORDS[(f + i) % WORDS.length]}Step${f}_${i}(value${i}: number) {`);
      lines.push(`  return ${WORDS[(f * 3 + i) % WORDS.length]}Count${i % 5} + value${i} * ${f};`);
      lines.push("}");
    }
    files[`src/part${f % 10}/file${f}.ts`] = lines.join("\n") + "\n";
  }
  return files;
}

/** Runs `body` on a fresh tree of {@link corpus} with its index built, removed afterwards. */
async function withIndexedCorpus(body: (root: string) => Promise<void>): Promise<void> {
  const root = await makeTree(corpus());
  try {
    await buildIndex(root);
    await body(root);
  } finally {
    await removeTree(root);
  }
}

const QUERIES = [
  "retry with backoff",
  "commit the consumer offset",
  "heartbeat session timeout",
  "decode the broker response",
  "leaderStep42_3",
];

Deno.test("postings read term by term rank exactly as the whole file does, across block boundaries", async () => {
  await withIndexedCorpus(async (root) => {
    const whole = (await loadIndex(root))!;
    const lazy = (await loadIndex(root, { postings: "lazy" }))!;
    const bytes = (await Deno.stat(indexFiles(root).postings)).size;
    assert.ok(bytes > 3 * POSTINGS_BLOCK, `postings of ${bytes} bytes should span several blocks`);
    for (const q of QUERIES) assert.deepEqual(rankChunks(lazy, q, 10), rankChunks(whole, q, 10), q);
    // Every term's range, read lazily, equals the whole file's (ids and weights).
    const { termOffset } = whole.meta;
    for (let t = 0; t < whole.meta.terms.length; t++) {
      const a = lazy.postings.range(termOffset[t], termOffset[t + 1]);
      const b = whole.postings.range(termOffset[t], termOffset[t + 1]);
      assert.deepEqual([...a.ids], [...b.ids], whole.meta.terms.at(t));
      assert.deepEqual([...a.weights], [...b.weights], whole.meta.terms.at(t));
    }
    assert.deepEqual(lazy.ids, whole.ids);
    assert.deepEqual(lazy.weights, whole.weights);
  });
});

Deno.test("a lazily loaded index refuses postings a later build replaced, instead of mixing two indexes", async () => {
  await withIndexedCorpus(async (root) => {
    const stale = (await loadIndex(root, { postings: "lazy" }))!;
    await Deno.writeTextFile(`${root}/src/part0/file0.ts`, "export function fresh() { return 1; }\n");
    await buildIndex(root);
    assert.throws(() => rankChunks(stale, "retry with backoff", 5), PostingsUnreadableError);
    // A search loads the new index.
    const hits = await searchIndex(root, "fresh", { k: 1, context: 0 });
    assert.equal(hits[0].path, "src/part0/file0.ts");
  });
});

Deno.test("a postings block damaged in place: the search notices, rebuilds and answers right", async () => {
  await withIndexedCorpus(async (root) => {
    const expected = await searchIndex(root, "heartbeat session timeout", { reuse: false, k: 3 });
    const path = indexFiles(root).postings;
    const bytes = await Deno.readFile(path);
    for (let i = 0; i < bytes.length; i += 64) bytes[i] ^= 0xff; // every block, same length
    await Deno.writeFile(path, bytes);
    const before = (await Deno.stat(indexFiles(root).meta)).mtime!.getTime();
    const hits = await searchIndex(root, "heartbeat session timeout", { reuse: false, k: 3 });
    assert.deepEqual(hits, expected);
    assert.notEqual((await Deno.stat(indexFiles(root).meta)).mtime!.getTime(), before, "rebuilt");
    assert.ok(await loadIndex(root), "the rebuilt index loads and checks whole");
  });
});

Deno.test("postings a build renamed into place before its metadata are waited for, not called damaged", async () => {
  const root = await makeTree(corpus());
  const notices: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void notices.push(args.join(" "));
  try {
    const { meta } = indexFiles(root);
    await buildIndex(root);
    const older = await Deno.readFile(meta);
    for (const mode of ["whole", "lazy"] as const) {
      await Deno.writeTextFile(
        `${root}/src/part1/file1.ts`,
        `export function changed${mode}() { return 2; }\n`,
      );
      await buildIndex(root);
      const newer = await Deno.readFile(meta);
      // The moment between the two renames of a build in another process: new postings, old metadata.
      await Deno.writeFile(meta, older);
      const follows = new Promise((resolve) => setTimeout(() => resolve(Deno.writeFile(meta, newer)), 60));
      const index = await loadIndex(root, { postings: mode });
      await follows;
      assert.ok(index, `${mode}: loaded once the metadata followed`);
      assert.equal(
        index.meta.createdAt,
        (await loadIndex(root))!.meta.createdAt,
        `${mode}: the newer build's`,
      );
      assert.ok(rankChunks(index, "retry with backoff", 3).length > 0);
    }
    assert.deepEqual(notices, [], "nothing was called damaged");
  } finally {
    console.error = error;
    await removeTree(root);
  }
});
