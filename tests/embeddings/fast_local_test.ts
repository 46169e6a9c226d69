// The local embedder's own path (embeddings/bert_tokenizer.ts, onnx_encoder.ts, the model thread) must
// give what the transformers.js pipeline gives: the same token ids for every text, and vectors within 1e-5.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLocalEmbedder } from "../../embeddings/mod.ts";
import { BertTokenizer } from "../../embeddings/bert_tokenizer.ts";
import { meanPoolNormalize } from "../../embeddings/onnx_encoder.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/tiny-bert", import.meta.url));
// onnxruntime-node keeps a native thread pool alive for the process; the model thread is a Worker.
const NATIVE = { sanitizeResources: false, sanitizeOps: false };

/** Texts that exercise every rule of the BERT normaliser and pre-tokenizer, plus a seeded random mix. */
function corpus(): string[] {
  const fixed = [
    "retry with backoff",
    "Hello, World!",
    "  leading and trailing  ",
    "",
    "   ",
    "a\tb\nc\rd",
    "x\x00y\x07z\x7f\x1fw",
    "tab\v\fform feed",
    "x\u0085y",
    "Café naïve résumé ÀÉÎÕÜ",
    "e\u0301 combining a\u0300\u0301\u0302",
    "中文字符 test 日本語 한국어",
    "\u{20000}astral ideograph \u{1D400}\u{1D401}",
    "emoji 😀 ok 👍🏽",
    "[CLS] inside [SEP] text [MASK]",
    "[cls] lower [Mask]",
    "[UNK][PAD]x[MASK]",
    "word" + "x".repeat(120),
    "a".repeat(101),
    "a".repeat(100),
    "def foo(bar_baz): return 42 # comment",
    "\u00a0nbsp\u2003em\u3000ideographic space",
    "zero\u200bwidth\ufeffbom\u200djoiner",
    "\ud800lone \udc00surrogates",
    "Ωmega ÆØÅ ß ﬁ ǅ İstanbul",
    "numbers 12345 67890 3.14 1e-5",
    "mixed-CASE_snake camelCase ALLCAPS",
    "…—–“quotes”‘’ ¿Qué? ¡Sí!",
    "\u{F0000}private \uE000use",
    "\uFFFDreplacement",
    "kafka#consumer@offset$commit%topic^message&batch*vector",
    "unplayable playing players <ent> magicword MagicWord",
    "x <ent>   y",
    "Hello HELLO hello hell",
  ];
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pools = [
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    " \t\n",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "àéîõüñçÀÉÎÕÜÑÇ",
    "中文字符日本語",
    "\u0301\u0300\u200b\u00a0\x01\x7f",
  ];
  const words = ["play", "un", "able", "ing", "er", "hello", "[MASK]", "<ent>", "magicword", "cafe"];
  const random: string[] = [];
  for (let i = 0; i < 400; i++) {
    let s = "";
    const n = 1 + Math.floor(rnd() * 40);
    for (let k = 0; k < n; k++) {
      if (rnd() < 0.15) s += words[Math.floor(rnd() * words.length)];
      else {
        const p = pools[Math.floor(rnd() * pools.length)];
        s += [...p][Math.floor(rnd() * [...p].length)];
      }
    }
    random.push(s);
  }
  return [...fixed, ...random];
}

type Json = Record<string, unknown>;

/** A richer BERT tokenizer than the tiny model's: multi-character pieces and unusual added tokens. */
function richTokenizer(variant: {
  lowercase: boolean;
  stripAccents: boolean | null;
  cleanText?: boolean;
  chinese?: boolean;
  post: "template" | "bert";
}): Json {
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const pieces = [
    ..."abcdefghijklmnopqrstuvwxyz0123456789".split(""),
    ..."abcdefghijklmnopqrstuvwxyz0123456789".split("").map((c) => "##" + c),
    ..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".split(""),
    ...[
      "un",
      "##able",
      "##ing",
      "play",
      "##er",
      "##s",
      "hello",
      "hell",
      "##o",
      "world",
      "cafe",
      "caf",
      "##é",
    ],
    ...[
      "Hello",
      "HELLO",
      "Play",
      "é",
      "à",
      "中",
      "文",
      "字",
      "日",
      "本",
      "語",
      "résumé",
      "naive",
      "##ï",
      "ñ",
    ],
  ];
  const vocab: Record<string, number> = {};
  for (const t of [...specials, ...pieces]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  const added = specials.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  added.push({
    id: Object.keys(vocab).length,
    content: "<ent>",
    single_word: false,
    lstrip: true,
    rstrip: true,
    normalized: false,
    special: false,
  });
  // Not special and no "normalized" field: transformers.js treats it as normalised.
  added.push({ id: Object.keys(vocab).length + 1, content: "magicword", special: false } as typeof added[0]);
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: "BertNormalizer",
      clean_text: variant.cleanText ?? true,
      handle_chinese_chars: variant.chinese ?? true,
      strip_accents: variant.stripAccents,
      lowercase: variant.lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: variant.post === "bert"
      ? { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] }
      : {
        type: "TemplateProcessing",
        single: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "[SEP]", type_id: 0 } },
        ],
        pair: [],
        special_tokens: {},
      },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

// deno-lint-ignore no-explicit-any -- transformers.js tokenizers, compared value by value
type RefTokenizer = any;

function assertSameIds(ours: BertTokenizer, ref: RefTokenizer, texts: string[], label: string) {
  for (const t of texts) {
    assert.deepEqual(ours.encode(t), ref.encode(t), `${label}: ids of ${JSON.stringify(t)}`);
  }
  // Batches: truncation to model_max_length, padding to the longest, the side the config says.
  for (let i = 0; i < texts.length; i += 37) {
    const batch = texts.slice(i, i + 37);
    if (batch.length === 0) continue;
    const want = ref(batch, { padding: true, truncation: true });
    const got = ours.encodeBatch(batch);
    assert.deepEqual([got.rows, got.cols], want.input_ids.dims, `${label}: batch shape`);
    assert.deepEqual(got.inputIds, want.input_ids.data, `${label}: batch input_ids`);
    assert.deepEqual(got.attentionMask, want.attention_mask.data, `${label}: batch attention_mask`);
    if (want.token_type_ids) assert.deepEqual(got.tokenTypeIds, want.token_type_ids.data, `${label}: types`);
    else assert.ok(got.tokenTypeIds.every((x) => x === 0n), `${label}: no token types means zeros`);
  }
}

Deno.test("BERT tokenizer: the tiny model's tokenizer gives transformers.js's ids for every text", async () => {
  const { AutoTokenizer, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.localModelPath = join(FIXTURE, "..") + "/";
  const ref = await AutoTokenizer.from_pretrained("tiny-bert");
  const ours = BertTokenizer.fromJson(
    JSON.parse(await Deno.readTextFile(join(FIXTURE, "tokenizer.json"))),
    JSON.parse(await Deno.readTextFile(join(FIXTURE, "tokenizer_config.json"))),
  );
  assert.ok(ours instanceof BertTokenizer, String(ours));
  const texts = corpus();
  texts.push("x ".repeat(300)); // past model_max_length (128): cut, [SEP] dropped
  assertSameIds(ours, ref, texts, "tiny-bert");
});

Deno.test("BERT tokenizer: cased, accent, left-padding, BertProcessing and added-token variants match", async () => {
  const tf = await import("@huggingface/transformers");
  const variants: [string, Json, Json, RefTokenizer][] = [
    [
      "uncased",
      richTokenizer({ lowercase: true, stripAccents: null, post: "template" }),
      { tokenizer_class: "BertTokenizer", model_max_length: 16, pad_token: "[PAD]" },
      tf.BertTokenizer,
    ],
    [
      "cased, accents stripped, left padding",
      richTokenizer({ lowercase: false, stripAccents: true, post: "bert" }),
      {
        tokenizer_class: "DistilBertTokenizerFast",
        model_max_length: 12,
        pad_token: "[PAD]",
        padding_side: "left",
      },
      tf.DistilBertTokenizer,
    ],
    [
      "cased, no cleaning, no CJK spacing, no max length",
      richTokenizer({
        lowercase: false,
        stripAccents: false,
        cleanText: false,
        chinese: false,
        post: "template",
      }),
      { pad_token: { __type: "AddedToken", content: "[PAD]" } },
      tf.PreTrainedTokenizer,
    ],
    [
      "lowercase without accent stripping",
      richTokenizer({ lowercase: true, stripAccents: false, post: "template" }),
      { tokenizer_class: "BertTokenizer", pad_token: "[PAD]", model_max_length: 64 },
      tf.BertTokenizer,
    ],
  ];
  const texts = corpus();
  for (const [label, json, config, RefClass] of variants) {
    const ours = BertTokenizer.fromJson(json, config);
    assert.ok(ours instanceof BertTokenizer, `${label}: ${ours}`);
    assertSameIds(ours, new RefClass(structuredClone(json), config), texts, label);
  }
});

Deno.test("BERT tokenizer: says why it does not cover a tokenizer", () => {
  const base = richTokenizer({ lowercase: true, stripAccents: null, post: "template" });
  const cfg = { tokenizer_class: "BertTokenizer", pad_token: "[PAD]" };
  assert.match(String(BertTokenizer.fromJson({ ...base, model: { type: "BPE" } }, cfg)), /not WordPiece/);
  assert.match(
    String(BertTokenizer.fromJson({ ...base, normalizer: { type: "Lowercase" } }, cfg)),
    /not BertNormalizer/,
  );
  assert.match(
    String(BertTokenizer.fromJson({ ...base, pre_tokenizer: { type: "Whitespace" } }, cfg)),
    /not BertPreTokenizer/,
  );
  assert.match(
    String(BertTokenizer.fromJson(base, { ...cfg, tokenizer_class: "XLMRobertaTokenizer" })),
    /not a plain BERT-style tokenizer/,
  );
  assert.match(String(BertTokenizer.fromJson(base, { tokenizer_class: "BertTokenizer" })), /no pad token/);
});

Deno.test("mean pooling + normalisation over the attention mask, right and left padding", () => {
  const dim = 3;
  const hidden = new Float32Array(Array.from({ length: 2 * 4 * dim }, (_, i) => Math.sin(i + 1) * 3));
  for (const padLeft of [false, true]) {
    const lengths = new Int32Array([4, 2]);
    const batch = {
      rows: 2,
      cols: 4,
      lengths,
      padLeft,
      inputIds: new BigInt64Array(8),
      attentionMask: new BigInt64Array(8),
      tokenTypeIds: new BigInt64Array(8),
    };
    const got = meanPoolNormalize(hidden, batch, dim);
    for (let r = 0; r < 2; r++) {
      const first = padLeft ? 4 - lengths[r] : 0;
      const mean = [0, 0, 0];
      for (let j = first; j < first + lengths[r]; j++) {
        for (let k = 0; k < dim; k++) mean[k] += hidden[(r * 4 + j) * dim + k] / lengths[r];
      }
      const norm = Math.hypot(...mean);
      for (let k = 0; k < dim; k++) {
        assert.ok(Math.abs(got[r * dim + k] - mean[k] / norm) < 1e-6, `row ${r} padLeft ${padLeft}`);
      }
    }
  }
});

Deno.test({
  name: "fast local embedder: the transformers.js pipeline's vectors to 1e-5, in thread and out",
  ...NATIVE,
  fn: async () => {
    const reference = await createLocalEmbedder({
      modelPath: FIXTURE,
      batchSize: 16,
      engine: "transformers",
    });
    const fast = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 16, engine: "fast" });
    const threaded = await createLocalEmbedder({ modelPath: FIXTURE, batchSize: 16, thread: true });
    try {
      assert.deepEqual([reference.engine, fast.engine, threaded.engine], ["transformers", "fast", "fast"]);
      assert.deepEqual([fast.thread, threaded.thread], [false, true]);
      // More texts than a batch, of very different lengths: our path sorts them into batches by length.
      const texts = corpus().slice(0, 120);
      texts.push("x ".repeat(300), "short", "[MASK]");
      const want = await reference.embed(texts);
      const got = await fast.embed(texts);
      const viaThread = await threaded.embed(texts);
      assert.equal(got.length, texts.length);
      let worst = 0;
      for (let i = 0; i < texts.length; i++) {
        assert.equal(got[i].length, want[i].length);
        for (let k = 0; k < want[i].length; k++) worst = Math.max(worst, Math.abs(got[i][k] - want[i][k]));
        assert.deepEqual(viaThread[i], got[i], "the model thread runs the same code");
      }
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
      assert.equal(fast.dim, 16);
      // One text at a time gives the same vectors as the batch.
      const [single] = await fast.embed([texts[7]]);
      for (let k = 0; k < 16; k++) assert.ok(Math.abs(single[k] - got[7][k]) < 1e-5);
      assert.deepEqual(await fast.embed([]), []);
    } finally {
      await reference.dispose();
      await fast.dispose();
      await threaded.dispose();
    }
  },
});

Deno.test({
  name: "local embedder: a tokenizer our path does not cover falls back to the transformers.js pipeline",
  ...NATIVE,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "dspy-tiny-ws-" });
    try {
      await Deno.mkdir(join(dir, "onnx"));
      for (const f of ["config.json", "tokenizer_config.json", "onnx/model.onnx"]) {
        await Deno.copyFile(join(FIXTURE, f), join(dir, f));
      }
      const json = JSON.parse(await Deno.readTextFile(join(FIXTURE, "tokenizer.json")));
      json.pre_tokenizer = { type: "WhitespaceSplit" };
      await Deno.writeTextFile(join(dir, "tokenizer.json"), JSON.stringify(json));
      const auto = await createLocalEmbedder({ modelPath: dir });
      try {
        assert.equal(auto.engine, "transformers");
        assert.equal((await auto.embed(["retry backoff"]))[0].length, 16);
      } finally {
        await auto.dispose();
      }
      await assert.rejects(
        () => createLocalEmbedder({ modelPath: dir, engine: "fast" }),
        /cannot run on the fast path: pre-tokenizer WhitespaceSplit is not BertPreTokenizer/,
      );
      await assert.rejects(
        () => createLocalEmbedder({ modelPath: dir, thread: true, engine: "fast" }),
        /cannot run on the fast path/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
