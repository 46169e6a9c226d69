import assert from "node:assert/strict";
import { decodeMeta, encodeMeta, type MetaColumns, MetaFormatError } from "../../agent/search/index_meta.ts";

/** A small metadata with non-ASCII paths, symbols and terms (sorted in JavaScript order, as builds sort). */
function sample(): MetaColumns {
  const terms = ["alpha", "zeta", "§commit", "émigré", "日本", "𝒳x"].sort();
  return {
    version: 2,
    analyzer: 5,
    chunkLines: 60,
    params: { k1: 1.2, b: 0.75, pathWeight: 2, symbolWeight: 3 },
    createdAt: "2026-12-03T00:00:00.000Z",
    postings: { bytes: 48, blockSize: 16 },
    paths: ["src/a.ts", "docs/ünïcode.md"],
    chunkPath: [0, 0, 1],
    chunkStart: [1, 61, 1],
    chunkEnd: [60, 80, 12],
    chunkSymbol: ["commitOffsets", "", "Überschrift"],
    chunkKind: ["code", "code", "doc"],
    chunkLen: [120, 40, 33],
    terms,
    termOffset: [0, 1, 2, 3, 4, 5, 6],
    postingsBlockSums: new Uint32Array([1, 2, 3, 4, 5, 6]),
  };
}

Deno.test("index metadata: what is encoded decodes the same, terms found by binary search", () => {
  const meta = sample();
  const loaded = decodeMeta(encodeMeta(meta), 2);
  assert.equal(loaded.createdAt, meta.createdAt);
  assert.deepEqual(loaded.params, meta.params);
  assert.deepEqual(loaded.postings, meta.postings);
  assert.deepEqual(loaded.postingsBlockSums, meta.postingsBlockSums);
  for (const k of ["paths", "chunkSymbol"] as const) {
    meta[k].forEach((p, i) => assert.equal(loaded[k].at(i), p, k));
    assert.deepEqual(loaded[k].all(), meta[k], k);
  }
  // An ASCII-only column is decoded in one piece and sliced.
  const ascii = decodeMeta(encodeMeta({ ...meta, paths: ["a.ts", "src/b.go"] }), 2);
  assert.deepEqual(ascii.paths.all(), ["a.ts", "src/b.go"]);
  assert.deepEqual(loaded.chunkKind, meta.chunkKind);
  for (const k of ["chunkPath", "chunkStart", "chunkEnd", "chunkLen", "termOffset"] as const) {
    assert.deepEqual(Array.from(loaded[k]), Array.from(meta[k]), k);
  }
  assert.equal(loaded.terms.length, meta.terms.length);
  meta.terms.forEach((t, i) => {
    assert.equal(loaded.terms.at(i), t);
    assert.equal(loaded.terms.find(t), i, t);
  });
  assert.equal(loaded.terms.find("beta"), -1);
  assert.equal(loaded.terms.find(""), -1);
  assert.deepEqual(loaded.terms.all(), meta.terms);
});

Deno.test("index metadata: an empty index round-trips", () => {
  const empty: MetaColumns = {
    ...sample(),
    paths: [],
    chunkPath: [],
    chunkStart: [],
    chunkEnd: [],
    chunkSymbol: [],
    chunkKind: [],
    chunkLen: [],
    terms: [],
    termOffset: [0],
    postings: { bytes: 0, blockSize: 16 },
    postingsBlockSums: new Uint32Array(0),
  };
  const loaded = decodeMeta(encodeMeta(empty), 2);
  assert.equal(loaded.chunkLen.length, 0);
  assert.equal(loaded.terms.length, 0);
  assert.equal(loaded.terms.find("x"), -1);
});

Deno.test("index metadata: a file cut anywhere, or with columns out of range, is refused", () => {
  const bytes = encodeMeta(sample());
  for (let cut = 0; cut < bytes.length; cut++) {
    assert.throws(() => decodeMeta(bytes.slice(0, cut), 2), MetaFormatError, `cut at ${cut}`);
  }
  assert.throws(() => decodeMeta(new Uint8Array([...bytes, 0, 0, 0, 0]), 2), MetaFormatError);
  const refused = (change: Partial<MetaColumns>, why: RegExp) =>
    assert.throws(() => decodeMeta(encodeMeta({ ...sample(), ...change }), 2), why);
  refused({ chunkPath: [0, 2, 1] }, /a chunk names no path/);
  refused({ chunkStart: [1, 0, 1] }, /lines are invalid/);
  refused({ chunkEnd: [60, 50, 12] }, /lines are invalid/);
  refused({ termOffset: [0, 1, 2, 1, 4, 5, 6] }, /postings offsets decrease/);
  refused({ termOffset: [1, 1, 2, 3, 4, 5, 6] }, /do not start at 0/);
  refused(
    { termOffset: [0, 1, 2, 3, 4, 5, 7], postings: { bytes: 48, blockSize: 16 } },
    /length does not match/,
  );
  refused({ postings: { bytes: 48, blockSize: 6 } }, /lacks the counts/);
  assert.throws(
    () => decodeMeta(bytes, 3),
    (e) => e instanceof MetaFormatError && e.outdated,
    "another version",
  );
  const foreign = bytes.slice();
  foreign.set(new TextEncoder().encode("{not json"), 0);
  assert.throws(() => decodeMeta(foreign, 2), /not an index metadata file/);
});
