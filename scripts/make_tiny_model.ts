/**
 * Generates a tiny BERT-style feature-extraction model for tests: `config.json`, `tokenizer.json`,
 * `tokenizer_config.json` and `onnx/model.onnx` (a few KB). The ONNX protobuf is written by our own encoder:
 * word + token-type embeddings, one dense layer with tanh, masked by the attention mask, producing
 * `last_hidden_state` [batch, seq, hidden] from `input_ids`, `attention_mask` and `token_type_ids`. Weights are
 * deterministic (seeded), so embeddings are reproducible. transformers.js loads the folder like any
 * Hugging Face model.
 *
 * Usage: `deno run -A scripts/make_tiny_model.ts [OUT_DIR]` (default `tests/fixtures/tiny-bert`).
 *
 * @module
 */

import { join } from "node:path";

// ---------------------------------------------------------------------------------------------------------
// A minimal protobuf writer (wire types 0 = varint, 2 = length-delimited, 5 = 32-bit).

class PbWriter {
  #parts: number[] = [];

  #varint(value: bigint | number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.#parts.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#parts.push(Number(v));
  }

  #tag(field: number, wire: number): void {
    this.#varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): this {
    this.#tag(field, 0);
    this.#varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.#tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#parts.push(...b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(value.length);
    for (const x of value) this.#parts.push(x);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: PbWriter) => void): this {
    const inner = new PbWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

const FLOAT = 1;
const INT64 = 7;

function tensor(w: PbWriter, name: string, dims: number[], type: number, raw: Uint8Array): void {
  for (const d of dims) w.int(1, d);
  w.int(2, type);
  w.string(8, name);
  w.bytes(9, raw);
}

function valueInfo(w: PbWriter, name: string, elem: number, dims: (number | string)[]): void {
  w.string(1, name);
  w.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, elem);
      tt.message(2, (shape) => {
        for (const d of dims) {
          shape.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }));
}

function node(
  w: PbWriter,
  op: string,
  inputs: string[],
  outputs: string[],
  attrs: { name: string; int?: number }[] = [],
): void {
  for (const i of inputs) w.string(1, i);
  for (const o of outputs) w.string(2, o);
  w.string(3, `${op}_${outputs[0]}`);
  w.string(4, op);
  for (const a of attrs) {
    w.message(5, (aw) => {
      aw.string(1, a.name);
      aw.int(20, 2); // AttributeType INT
      aw.int(3, a.int ?? 0);
    });
  }
}

// ---------------------------------------------------------------------------------------------------------

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function floats(n: number, rand: () => number, scale: number): Uint8Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = rand() * scale;
  return new Uint8Array(f.buffer);
}

const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const WORDS = (
  "the a of to and in is for on with def class function return import from async await error retry backoff " +
  "consumer producer offset commit topic message batch vector search index embed model token http server " +
  "client request response file path read write parse config test cat dog"
).split(" ");
const LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789".split("");

/** Hidden size of the generated model. */
export const TINY_HIDDEN = 16;

/** The generated vocabulary (id order). */
export function tinyVocab(): string[] {
  return [...SPECIALS, ...WORDS, ...LETTERS, ...LETTERS.map((l) => "##" + l), ".", ",", "(", ")", "_"];
}

/** Builds the ONNX model bytes. */
export function buildTinyOnnx(vocabSize: number, hidden = TINY_HIDDEN): Uint8Array {
  const rand = rng(1234);
  const model = new PbWriter();
  model.int(1, 8); // ir_version
  model.string(2, "dspy-code make_tiny_model");
  model.message(7, (g) => {
    g.message(
      1,
      (n) => node(n, "Gather", ["word_embeddings", "input_ids"], ["words"], [{ name: "axis", int: 0 }]),
    );
    g.message(
      1,
      (n) =>
        node(n, "Gather", ["token_type_embeddings", "token_type_ids"], ["types"], [{ name: "axis", int: 0 }]),
    );
    g.message(1, (n) => node(n, "Add", ["words", "types"], ["embedded"]));
    g.message(1, (n) => node(n, "MatMul", ["embedded", "dense_weight"], ["projected"]));
    g.message(1, (n) => node(n, "Add", ["projected", "dense_bias"], ["biased"]));
    g.message(1, (n) => node(n, "Tanh", ["biased"], ["activated"]));
    g.message(1, (n) => node(n, "Cast", ["attention_mask"], ["mask_float"], [{ name: "to", int: FLOAT }]));
    g.message(1, (n) => node(n, "Unsqueeze", ["mask_float", "unsqueeze_axes"], ["mask3"]));
    g.message(1, (n) => node(n, "Mul", ["activated", "mask3"], ["last_hidden_state"]));
    g.string(2, "tiny_bert");
    g.message(
      5,
      (t) => tensor(t, "word_embeddings", [vocabSize, hidden], FLOAT, floats(vocabSize * hidden, rand, 1)),
    );
    g.message(
      5,
      (t) => tensor(t, "token_type_embeddings", [2, hidden], FLOAT, floats(2 * hidden, rand, 0.1)),
    );
    g.message(
      5,
      (t) => tensor(t, "dense_weight", [hidden, hidden], FLOAT, floats(hidden * hidden, rand, 0.5)),
    );
    g.message(5, (t) => tensor(t, "dense_bias", [hidden], FLOAT, floats(hidden, rand, 0.05)));
    g.message(5, (t) => {
      const axes = new BigInt64Array([-1n]);
      tensor(t, "unsqueeze_axes", [1], INT64, new Uint8Array(axes.buffer));
    });
    for (const name of ["input_ids", "attention_mask", "token_type_ids"]) {
      g.message(11, (v) => valueInfo(v, name, INT64, ["batch_size", "sequence_length"]));
    }
    g.message(12, (v) => valueInfo(v, "last_hidden_state", FLOAT, ["batch_size", "sequence_length", hidden]));
  });
  model.message(8, (o) => o.string(1, "").int(2, 14)); // opset_import: default domain, opset 14
  return model.finish();
}

/** The `tokenizer.json` (WordPiece, BERT normalizer and pre-tokenizer, [CLS] ... [SEP] template). */
export function tinyTokenizer(vocab: string[]): unknown {
  const ids: Record<string, number> = {};
  vocab.forEach((t, i) => (ids[t] = i));
  const special = (t: string) => ({
    id: ids[t],
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map(special),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [ids["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [ids["[SEP]"]], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
}

/** Writes the model folder and returns its path; `hidden` makes a variant with another vector size. */
export async function makeTinyModel(outDir: string, options: { hidden?: number } = {}): Promise<string> {
  const vocab = tinyVocab();
  const hidden = options.hidden ?? TINY_HIDDEN;
  await Deno.mkdir(join(outDir, "onnx"), { recursive: true });
  const config = {
    architectures: ["BertModel"],
    model_type: "bert",
    vocab_size: vocab.length,
    hidden_size: hidden,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    intermediate_size: hidden,
    max_position_embeddings: 128,
    type_vocab_size: 2,
    pad_token_id: 0,
  };
  const tokenizerConfig = {
    tokenizer_class: "BertTokenizer",
    do_lower_case: true,
    model_max_length: 128,
    cls_token: "[CLS]",
    sep_token: "[SEP]",
    pad_token: "[PAD]",
    unk_token: "[UNK]",
    mask_token: "[MASK]",
  };
  await Deno.writeTextFile(join(outDir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  await Deno.writeTextFile(
    join(outDir, "tokenizer_config.json"),
    JSON.stringify(tokenizerConfig, null, 2) + "\n",
  );
  await Deno.writeTextFile(join(outDir, "tokenizer.json"), JSON.stringify(tinyTokenizer(vocab)) + "\n");
  await Deno.writeFile(join(outDir, "onnx", "model.onnx"), buildTinyOnnx(vocab.length, hidden));
  return outDir;
}

if (import.meta.main) {
  const out = Deno.args[0] ?? new URL("../tests/fixtures/tiny-bert", import.meta.url).pathname;
  const dir = await makeTinyModel(out);
  const size = (await Deno.stat(join(dir, "onnx", "model.onnx"))).size;
  console.log(`wrote ${dir} (onnx/model.onnx: ${size} bytes)`);
}
