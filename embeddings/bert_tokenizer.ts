/**
 * Our own BERT WordPiece tokenizer, read from a model's `tokenizer.json` + `tokenizer_config.json`, giving
 * the same token ids as transformers.js's tokenizer (tests/embeddings/fast_local_test.ts compares them on a
 * corpus with accents, CJK, control characters, special-token text, long words and truncation) at a fraction
 * of its cost: a text is normalised and split in one pass over its characters when it is printable ASCII
 * (the general path uses the same Unicode rules as transformers.js), the WordPiece ids of each word are
 * cached, and a batch is written straight into the int64 tensors the model takes.
 *
 * Only the shape all-MiniLM / BERT-family embedding models use is supported: a `BertNormalizer`,
 * a `BertPreTokenizer`, a `WordPiece` model and a `TemplateProcessing` or `BertProcessing` post-processor,
 * with a tokenizer class that does not change how texts are encoded. {@link BertTokenizer.fromJson} says why
 * when a tokenizer is anything else; the local embedder then uses the transformers.js pipeline.
 *
 * The behaviour it reproduces, step by step (transformers.js 4.3): special-token text (`[CLS]`, `[MASK]` …)
 * is cut out of the raw text first (leftmost longest match) and becomes that token; the rest is normalised
 * (`clean_text`: drop NUL, U+FFFD and control/format/private-use/surrogate characters except tab, CR and LF,
 * whitespace becomes a space; CJK ideographs of the Basic Multilingual Plane get spaces around them;
 * lower-casing; accents stripped by NFD and removing nonspacing marks), trimmed, split into runs of
 * non-space non-punctuation characters and single punctuation characters, and each word becomes its
 * greedy longest-match-first WordPiece pieces (`##` continuations), or `[UNK]` when a piece is missing or the
 * word is over `max_input_chars_per_word` characters. The template adds `[CLS]`/`[SEP]`. In a batch, every
 * text is cut to `model_max_length` ids (the cut drops the trailing `[SEP]`, as transformers.js does) and
 * padded to the longest.
 *
 * @module
 */

/** Token ids of a batch, padded to one length, as the int64 tensors a BERT-style model takes. */
export interface EncodedBatch {
  rows: number;
  /** Padded length. */
  cols: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** Real (unpadded) length of each row. */
  lengths: Int32Array;
  /** Whether padding is on the left (then row `r`'s tokens are its last `lengths[r]` positions). */
  padLeft: boolean;
}

type Json = Record<string, unknown>;

interface AddedToken {
  content: string;
  id: number;
  normalized: boolean;
}

interface NormalizerConfig {
  cleanText: boolean;
  chineseChars: boolean;
  lowercase: boolean;
  stripAccents: boolean | null;
}

/** Tokenizer classes of transformers.js that encode texts exactly as its base class does. */
const PLAIN_CLASSES: Record<string, { typeIds: boolean }> = {
  BertTokenizer: { typeIds: true },
  ElectraTokenizer: { typeIds: true },
  DistilBertTokenizer: { typeIds: false },
  MPNetTokenizer: { typeIds: false },
  PreTrainedTokenizer: { typeIds: false },
};

/** The punctuation class of BERT's pre-tokenizer: Unicode punctuation plus every ASCII symbol. */
const PUNCT = "\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E";
const WORDS_RE = new RegExp(`[^\\s${PUNCT}]+|[${PUNCT}]`, "gu");
/** Removed by `clean_text`: NUL, U+FFFD, and Cc/Cf/Co/Cs characters other than tab, LF and CR. */
const CONTROL_RE = /(?![\t\n\r])[\uFFFD\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu;
const SPACE_RE = /\s/gu;
/** The CJK ranges BERT spaces out, matched per UTF-16 unit (astral ideographs are left as they are). */
const CJK_RE = /[\u4E00-\u9FFF\u3400-\u4DBF\uF900-\uFAFF]/g;
const MARKS_RE = /\p{Mn}/gu;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function tokenContent(config: Json, key: string): string | null {
  const v = config[key];
  if (typeof v === "string" && v !== "") return v;
  if (v && typeof v === "object" && (v as Json).__type === "AddedToken") return String((v as Json).content);
  return null;
}

/**
 * Words shorter than this are split by walking the piece trie every time: that costs about what a cache
 * look-up does (hashing the word), and caching them filled the cache with words seen once (numbers, ids),
 * each insert costing more than the split (measured with the test model: texts with a fresh number each went
 * from about 2.3 to 1 µs, repeated texts stayed at 0.7–0.9 µs).
 */
const WORD_CACHE_MIN_CHARS = 8;

/** A node of a piece trie: `id` of the piece that ends here (-1: none), children by UTF-16 unit. */
interface TrieNode {
  id: number;
  next: Map<number, TrieNode> | null;
}

function trieInsert(root: TrieNode, key: string, id: number): void {
  if (key.length === 0) return; // an empty piece never matches (every piece consumes a character)
  let node = root;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    node.next ??= new Map();
    let child = node.next.get(c);
    if (child === undefined) {
      child = { id: -1, next: null };
      node.next.set(c, child);
    }
    node = child;
  }
  node.id = id;
}

/** A BERT WordPiece tokenizer (see the module doc). */
export class BertTokenizer {
  readonly #vocab: Map<string, number>;
  readonly #added: Map<string, AddedToken>;
  readonly #addedRaw: AddedToken[];
  readonly #addedNormalized: AddedToken[];
  readonly #norm: NormalizerConfig;
  readonly #prefix: string;
  readonly #unk: string;
  readonly #unkId: number;
  readonly #maxWordChars: number;
  /** Longest vocabulary entry in characters (without the `##` prefix). */
  readonly #maxPiece: number;
  /** Id of every vocabulary entry as a word start, and of every `##` entry by its text after `##`. */
  readonly #pieces = new Map<string, number>();
  readonly #continuations = new Map<string, number>();
  /**
   * The same two maps as tries over UTF-16 units: the longest piece at a position is found by walking the
   * word once, instead of slicing and looking up every candidate length from the longest down (a word that
   * is not in the word cache, such as a number or an identifier, cost several µs that way).
   */
  readonly #pieceTrie: TrieNode = { id: -1, next: null };
  readonly #continuationTrie: TrieNode = { id: -1, next: null };
  readonly #unkPiece: number;
  /** Lengths of the added tokens' texts: most texts need no look-up in `#added` at all. */
  readonly #addedLengths = new Set<number>();
  /** Ids of printable ASCII punctuation characters, by char code. */
  readonly #punct: (number[] | undefined)[] = [];
  readonly #before: { id: number; type: number }[];
  readonly #after: { id: number; type: number }[];
  readonly #seqType: number;
  readonly #typeIds: boolean;
  readonly #padId: number;
  readonly #padLeft: boolean;
  readonly #maxLength: number;
  /** WordPiece ids of a normalised word (bounded: cleared when full). */
  readonly #wordCache = new Map<string, number[]>();
  readonly #wordCacheMax: number;

  private constructor(json: Json, config: Json, cls: { typeIds: boolean }, wordCacheMax: number) {
    const model = json.model as Json;
    this.#vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    this.#prefix = String(model.continuing_subword_prefix ?? "##");
    this.#unk = String(model.unk_token);
    this.#maxWordChars = Number(model.max_input_chars_per_word ?? 100);
    const n = (json.normalizer ?? {}) as Json;
    this.#norm = {
      cleanText: n.clean_text === true,
      chineseChars: n.handle_chinese_chars === true,
      lowercase: n.lowercase === true,
      stripAccents: typeof n.strip_accents === "boolean" ? n.strip_accents : null,
    };
    this.#added = new Map();
    this.#addedRaw = [];
    this.#addedNormalized = [];
    for (const t of (json.added_tokens ?? []) as Json[]) {
      const special = t.special === true;
      const token: AddedToken = {
        content: String(t.content),
        id: Number(t.id),
        normalized: typeof t.normalized === "boolean" ? t.normalized : !special,
      };
      this.#vocab.set(token.content, token.id);
      this.#added.set(token.content, token);
      if (token.normalized) {
        const normalized = this.#normalize(token.content);
        this.#addedNormalized.push({ ...token, content: normalized });
        this.#added.set(normalized, token);
      } else {
        this.#addedRaw.push(token);
      }
    }
    this.#unkId = this.#vocab.get(this.#unk)!;
    let maxPiece = 1;
    for (const key of this.#vocab.keys()) {
      const id = this.#idOf(key);
      this.#pieces.set(key, id);
      if (key.startsWith(this.#prefix)) this.#continuations.set(key.slice(this.#prefix.length), id);
      const body = key.startsWith(this.#prefix) ? key.slice(this.#prefix.length) : key;
      const len = [...body].length;
      if (len > maxPiece) maxPiece = len;
    }
    this.#maxPiece = maxPiece;
    for (const [key, id] of this.#pieces) trieInsert(this.#pieceTrie, key, id);
    for (const [key, id] of this.#continuations) trieInsert(this.#continuationTrie, key, id);
    this.#unkPiece = this.#idOf(this.#unk);
    for (const key of this.#added.keys()) this.#addedLengths.add(key.length);
    const post = json.post_processor as Json;
    this.#before = [];
    this.#after = [];
    this.#seqType = 0;
    if (post.type === "BertProcessing") {
      this.#before.push({ id: this.#idOf(String((post.cls as unknown[])[0])), type: 0 });
      this.#after.push({ id: this.#idOf(String((post.sep as unknown[])[0])), type: 0 });
    } else {
      let seen = false;
      for (const item of post.single as Json[]) {
        if ("SpecialToken" in item) {
          const s = item.SpecialToken as Json;
          (seen ? this.#after : this.#before).push({ id: this.#idOf(String(s.id)), type: Number(s.type_id) });
        } else if ("Sequence" in item) {
          seen = true;
          this.#seqType = Number((item.Sequence as Json).type_id);
        }
      }
    }
    this.#typeIds = cls.typeIds;
    this.#padId = this.#vocab.get(tokenContent(config, "pad_token") ?? tokenContent(config, "eos_token")!)!;
    this.#padLeft = config.padding_side === "left";
    const maxLength = Number(config.model_max_length ?? Infinity);
    this.#maxLength = Number.isFinite(maxLength) && maxLength > 0 ? maxLength : Infinity;
    this.#wordCacheMax = wordCacheMax;
  }

  /**
   * The tokenizer of `tokenizer.json` (parsed) and `tokenizer_config.json` (parsed), or a sentence saying
   * why this implementation does not cover it.
   */
  static fromJson(
    json: unknown,
    config: unknown,
    options: { wordCacheMax?: number } = {},
  ): BertTokenizer | string {
    if (!json || typeof json !== "object") return "tokenizer.json is not an object";
    const j = json as Json;
    const c = (config && typeof config === "object" ? config : {}) as Json;
    const clsName = typeof c.tokenizer_class === "string" ? c.tokenizer_class.replace(/Fast$/, "") : "";
    const cls = PLAIN_CLASSES[clsName || "PreTrainedTokenizer"];
    if (!cls) return `tokenizer class ${clsName} is not a plain BERT-style tokenizer`;
    const model = j.model as Json | undefined;
    if (model?.type !== "WordPiece") return `tokenizer model ${model?.type} is not WordPiece`;
    if (!model.vocab || typeof model.vocab !== "object") return "the WordPiece model has no vocabulary";
    if (model.fuse_unk === true) return "fuse_unk is not supported";
    const norm = j.normalizer as Json | null;
    if (norm?.type !== "BertNormalizer") return `normalizer ${norm?.type ?? "none"} is not BertNormalizer`;
    const pre = j.pre_tokenizer as Json | null;
    if (pre?.type !== "BertPreTokenizer") {
      return `pre-tokenizer ${pre?.type ?? "none"} is not BertPreTokenizer`;
    }
    const post = j.post_processor as Json | null;
    if (post?.type === "TemplateProcessing") {
      const single = post.single as Json[] | undefined;
      if (!Array.isArray(single)) return "the template has no single-sequence form";
      const seqs = single.filter((x) => "Sequence" in x);
      if (seqs.length !== 1 || (seqs[0].Sequence as Json).id !== "A") return "unexpected single template";
    } else if (post?.type !== "BertProcessing") {
      return `post-processor ${post?.type ?? "none"} is not TemplateProcessing or BertProcessing`;
    }
    if (c.remove_space === true || c.do_lowercase_and_remove_accent === true) {
      return "remove_space / do_lowercase_and_remove_accent are not supported";
    }
    if (j.truncation || j.padding) {
      // transformers.js ignores these fields too; nothing to do, but keep the check visible.
    }
    const padName = tokenContent(c, "pad_token") ?? tokenContent(c, "eos_token");
    const vocab = model.vocab as Record<string, number>;
    const added = ((j.added_tokens ?? []) as Json[]).map((t) => String(t.content));
    if (padName === null || (!(padName in vocab) && !added.includes(padName))) return "no pad token";
    const unk = String(model.unk_token);
    if (!(unk in vocab) && !added.includes(unk)) return "the unknown token is not in the vocabulary";
    const t = new BertTokenizer(j, c, cls, options.wordCacheMax ?? 100_000);
    for (const id of [...t.#before, ...t.#after].map((x) => x.id)) {
      if (!Number.isInteger(id)) return "a template special token is not in the vocabulary";
    }
    return t;
  }

  /** Largest number of ids a text keeps in a batch (`model_max_length`). */
  get maxLength(): number {
    return this.#maxLength;
  }

  #idOf(token: string): number {
    return this.#added.get(token)?.id ?? this.#vocab.get(token) ?? this.#unkId;
  }

  /** BertNormalizer, the general (any Unicode) path. */
  #normalize(text: string): string {
    const n = this.#norm;
    if (n.cleanText) text = text.replace(CONTROL_RE, "").replace(SPACE_RE, " ");
    if (n.chineseChars) text = text.replace(CJK_RE, " $& ");
    if (n.lowercase) {
      text = text.toLowerCase();
      if (n.stripAccents !== false) text = text.normalize("NFD").replace(MARKS_RE, "");
    } else if (n.stripAccents) {
      text = text.normalize("NFD").replace(MARKS_RE, "");
    }
    return text;
  }

  /** WordPiece ids of one pre-tokenized word; words of {@link WORD_CACHE_MIN_CHARS} or more are cached. */
  #word(word: string, out: number[]): void {
    if (word.length < WORD_CACHE_MIN_CHARS) {
      const direct = this.#wordPiece(word);
      for (let i = 0; i < direct.length; i++) out.push(direct[i]);
      return;
    }
    let ids = this.#wordCache.get(word);
    if (ids === undefined) {
      ids = this.#wordPiece(word);
      if (this.#wordCache.size >= this.#wordCacheMax) this.#wordCache.clear();
      this.#wordCache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  /**
   * Greedy longest-match-first WordPiece. Candidate pieces are never longer than the longest vocabulary
   * entry, and a word without astral characters is matched on its UTF-16 units directly.
   */
  #wordPiece(word: string): number[] {
    const astral = /[\uD800-\uDFFF]/.test(word);
    const chars: string[] | null = astral ? [...word] : null;
    const n = chars ? chars.length : word.length;
    if (n > this.#maxWordChars) return [this.#unkPiece];
    const ids: number[] = [];
    let start = 0;
    if (!chars) {
      // Longest match by walking the trie: the last node with an id passed is the longest piece.
      while (start < n) {
        let node: TrieNode | undefined = start > 0 ? this.#continuationTrie : this.#pieceTrie;
        let found = -1;
        let end = start;
        for (let i = start; i < n; i++) {
          node = node.next?.get(word.charCodeAt(i));
          if (node === undefined) break;
          if (node.id >= 0) {
            found = node.id;
            end = i + 1;
          }
        }
        if (found < 0) return [this.#unkPiece];
        ids.push(found);
        start = end;
      }
      return ids;
    }
    while (start < n) {
      const pieces = start > 0 ? this.#continuations : this.#pieces;
      let end = Math.min(n, start + this.#maxPiece);
      let found: number | undefined;
      while (start < end) {
        found = pieces.get(chars ? chars.slice(start, end).join("") : word.slice(start, end));
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.#unkPiece];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** Pre-tokenizes a normalised section and appends its ids. */
  #words(section: string, out: number[]): void {
    const words = section.trim().match(WORDS_RE);
    if (words) { for (const w of words) this.#word(w, out); }
  }

  /**
   * A printable-ASCII section (tab, CR and LF allowed), normalised and split in one pass over its
   * characters; false (and nothing appended) for any other text. For such text BertNormalizer only
   * lower-cases and turns tab/CR/LF into spaces (no accents, CJK or control characters), and every ASCII
   * symbol is punctuation, so a word is a run of letters and digits and every other visible character is a
   * word of its own.
   */
  #asciiSection(text: string, out: number[]): boolean {
    const mark = out.length;
    const lower = this.#norm.lowercase;
    let start = -1;
    let upper = false;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 32;
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
        if (start < 0) start = i;
        continue;
      }
      if (c >= 65 && c <= 90) {
        if (start < 0) start = i;
        upper = true;
        continue;
      }
      if (start >= 0) {
        const w = text.slice(start, i);
        this.#word(upper && lower ? w.toLowerCase() : w, out);
        start = -1;
        upper = false;
      }
      if (c === 32 || c === 9 || c === 10 || c === 13) continue;
      if (c > 32 && c < 127) {
        const ids = this.#punct[c] ??= this.#wordPiece(text[i]);
        for (let k = 0; k < ids.length; k++) out.push(ids[k]);
        continue;
      }
      out.length = mark;
      return false;
    }
    return true;
  }

  /** Splits `text` on the added tokens of `list` (leftmost longest match), as transformers.js does. */
  #splitAdded(text: string, list: AddedToken[]): string[] {
    let any = false;
    for (const t of list) {
      if (t.content !== "" && text.includes(t.content)) {
        any = true;
        break;
      }
    }
    if (!any) return [text];
    const out: string[] = [];
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let match: string | null = null;
      for (const t of list) {
        const c = t.content;
        if (c !== "" && (match === null || c.length > match.length) && text.startsWith(c, i)) match = c;
      }
      if (match === null) {
        i++;
        continue;
      }
      if (i > start) out.push(text.slice(start, i));
      out.push(match);
      i += match.length;
      start = i;
    }
    if (start < text.length) out.push(text.slice(start));
    // An added token's lstrip/rstrip (eat the whitespace beside it) cannot change BERT ids: the
    // pre-tokenizer drops whitespace anyway.
    return out;
  }

  /** Ids of the text itself (no special tokens, no truncation). */
  #encodeText(text: string, out: number[]): void {
    for (const section of this.#splitAdded(text, this.#addedRaw)) {
      if (section.length === 0) continue;
      if (this.#addedLengths.has(section.length) && this.#added.has(section)) {
        out.push(this.#added.get(section)!.id);
        continue;
      }
      // The common case: printable ASCII, no added token to find after normalising.
      if (
        this.#addedNormalized.length === 0 &&
        (!this.#addedLengths.has(section.length) || !this.#added.has(this.#normalize(section))) &&
        this.#asciiSection(section, out)
      ) {
        continue;
      }
      const normalized = this.#normalize(section);
      if (normalized.length === 0) continue;
      for (const sub of this.#splitAdded(normalized, this.#addedNormalized)) {
        if (sub.length === 0) continue;
        if (this.#added.has(sub)) out.push(this.#added.get(sub)!.id);
        else this.#words(sub, out);
      }
    }
  }

  /** Ids of one text with its special tokens, not truncated (what transformers.js's `encode` returns). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const s of this.#before) out.push(s.id);
    this.#encodeText(text, out);
    for (const s of this.#after) out.push(s.id);
    return out;
  }

  /** Token type ids of an encoded text of `n` ids (before truncation). */
  #typesOf(n: number, out: Int32Array | number[], offset: number, length: number): void {
    const nb = this.#before.length;
    const nseq = n - nb - this.#after.length;
    for (let k = 0; k < length; k++) {
      let t: number;
      if (!this.#typeIds) t = 0;
      else if (k < nb) t = this.#before[k].type;
      else if (k < nb + nseq) t = this.#seqType;
      else t = this.#after[k - nb - nseq].type;
      out[offset + k] = t;
    }
  }

  /**
   * Encodes a batch: each text cut to `model_max_length` ids, padded to the longest, written into int64
   * tensors (`padding: true, truncation: true` in transformers.js).
   */
  encodeBatch(texts: string[]): EncodedBatch {
    const encoded = texts.map((t) => this.encode(t));
    return this.pack(encoded);
  }

  /** Packs already encoded texts (from {@link encode}) into one padded batch. */
  pack(encoded: number[][]): EncodedBatch {
    const rows = encoded.length;
    let longest = 0;
    for (const e of encoded) if (e.length > longest) longest = e.length;
    const cols = Math.min(longest, this.#maxLength);
    const n = rows * cols;
    const inputIds = new BigInt64Array(n);
    const attentionMask = new BigInt64Array(n);
    const tokenTypeIds = new BigInt64Array(n);
    const lengths = new Int32Array(rows);
    // int64 values below 2^31 written as their low 32-bit word (the high word stays 0): no BigInt per id.
    const ids32 = LITTLE_ENDIAN ? new Int32Array(inputIds.buffer) : null;
    const mask32 = LITTLE_ENDIAN ? new Int32Array(attentionMask.buffer) : null;
    const types32 = LITTLE_ENDIAN ? new Int32Array(tokenTypeIds.buffer) : null;
    const types: number[] = [];
    const padLeft = this.#padLeft;
    for (let r = 0; r < rows; r++) {
      const e = encoded[r];
      const len = Math.min(e.length, cols);
      lengths[r] = len;
      types.length = 0;
      this.#typesOf(e.length, types, 0, len);
      const base = r * cols + (padLeft ? cols - len : 0);
      if (ids32 && mask32 && types32) {
        for (let k = 0; k < len; k++) {
          ids32[2 * (base + k)] = e[k];
          mask32[2 * (base + k)] = 1;
          types32[2 * (base + k)] = types[k];
        }
        const padFrom = padLeft ? r * cols : base + len;
        for (let k = 0; k < cols - len; k++) ids32[2 * (padFrom + k)] = this.#padId;
      } else {
        for (let k = 0; k < len; k++) {
          inputIds[base + k] = BigInt(e[k]);
          attentionMask[base + k] = 1n;
          tokenTypeIds[base + k] = BigInt(types[k]);
        }
        const padFrom = padLeft ? r * cols : base + len;
        for (let k = 0; k < cols - len; k++) inputIds[padFrom + k] = BigInt(this.#padId);
      }
    }
    return { rows, cols, inputIds, attentionMask, tokenTypeIds, lengths, padLeft };
  }
}
