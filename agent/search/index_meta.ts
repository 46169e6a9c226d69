/**
 * The lexical index's metadata file (`.dspy_index/lexical.meta.bin`): chunks, paths and the sorted vocabulary,
 * in a binary layout that loads without parsing. Each `esearch` from a new process loads it whole, so on a
 * large tree its format decides much of the command's time: as JSON (4.5 MB on a 20,000-file tree) reading
 * and parsing it took about 110 ms; here the numeric columns are typed-array views on the bytes as read, and the
 * strings (paths, symbol names, and the vocabulary of ~100,000 terms) are decoded one by one when asked for:
 * a query decodes the few dozen terms its look-ups visit and the paths of the files it scores.
 *
 * Layout, in the machine's byte order (little-endian on every platform we ship), every section starting on a
 * 4-byte boundary:
 *
 * ```
 * "DSPYLXM1"  u32 header length  header JSON (versions, parameters, counts, chunk kinds, postings size)
 * i32[chunks] chunkPath, chunkStart, chunkEnd, chunkLen   i32[terms + 1] termOffset   u8[chunks] chunkKind
 * 3 string tables (paths, chunkSymbol, terms): u32[count] end of each string in the blob, then the UTF-8 blob
 * u32[2 × blocks] the checksum of each block of the postings file (index_integrity.ts, blockChecksums)
 * ```
 *
 * A file that is cut short, has a foreign header or columns out of range is refused as a whole
 * ({@link MetaFormatError}); the caller rebuilds the index from the sources.
 *
 * @module
 */

const MAGIC = "DSPYLXM1";

/** BM25F parameters. */
export interface Bm25Params {
  k1: number;
  b: number;
  /** Weight of path tokens added to every chunk of a file. */
  pathWeight: number;
  /** Weight of the chunk's symbol-name tokens. */
  symbolWeight: number;
}

/** The small fields of the metadata, stored as JSON in the header. */
export interface MetaHeader {
  version: number;
  analyzer: number;
  chunkLines: number;
  params: Bm25Params;
  createdAt: string;
  /** Length of the postings file and the size of the blocks its checksums cover. */
  postings: { bytes: number; blockSize: number };
}

/** What a build writes: the header fields and the columns as plain arrays. */
export interface MetaColumns extends MetaHeader {
  paths: readonly string[];
  chunkPath: ArrayLike<number>;
  chunkStart: ArrayLike<number>;
  chunkEnd: ArrayLike<number>;
  chunkSymbol: readonly string[];
  chunkKind: readonly string[];
  chunkLen: ArrayLike<number>;
  terms: readonly string[];
  termOffset: ArrayLike<number>;
  postingsBlockSums: Uint32Array;
}

/** The metadata as loaded: numeric columns are views on the file's bytes, strings decode when asked for. */
export interface LoadedMeta extends MetaHeader {
  /** Per chunk: index into `paths`, first and last line, symbol ("" for none), kind, token length. */
  paths: StringTable;
  chunkPath: Int32Array;
  chunkStart: Int32Array;
  chunkEnd: Int32Array;
  chunkSymbol: StringTable;
  chunkKind: string[];
  chunkLen: Int32Array;
  /** Sorted vocabulary, and each term's offset into the postings (`termOffset` has one extra end entry). */
  terms: StringTable;
  termOffset: Int32Array;
  /** Two checksum lanes per block of the postings file. */
  postingsBlockSums: Uint32Array;
}

/** The metadata file cannot be used: damaged, cut short, or (`outdated`) written by another version. */
export class MetaFormatError extends Error {
  /** Written by another version of the format: rebuild it without calling it damaged. */
  readonly outdated: boolean;
  constructor(why: string, outdated = false) {
    super(why);
    this.name = "MetaFormatError";
    this.outdated = outdated;
  }
}

/** Strings decode on demand, after the load: a damaged byte there only spoils that string. */
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * A column of strings over the file's bytes: each string is decoded when it is asked for, so a query's
 * look-ups (a binary search each in the vocabulary) decode a few dozen strings instead of every one.
 */
export class StringTable {
  readonly #ends: Uint32Array;
  readonly #blob: Uint8Array;
  #all: readonly string[] | null = null;

  constructor(ends: Uint32Array, blob: Uint8Array) {
    this.#ends = ends;
    this.#blob = blob;
  }

  /** Number of strings. */
  get length(): number {
    return this.#ends.length;
  }

  /** The string at `i` (0 ≤ i < length). */
  at(i: number): string {
    if (this.#all) return this.#all[i];
    const start = i === 0 ? 0 : this.#ends[i - 1];
    return decoder.decode(this.#blob.subarray(start, this.#ends[i]));
  }

  /**
   * The index of `term` in a sorted table (the vocabulary), or -1: a binary search in JavaScript string
   * order, the order builds sort in.
   */
  find(term: string): number {
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = this.at(mid);
      if (t === term) return mid;
      if (t < term) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Every string, decoded once and kept (builds walk whole columns). */
  all(): readonly string[] {
    this.#all ??= this.#decodeAll();
    return this.#all;
  }

  /**
   * One decode of the whole blob, cut at the strings' ends: directly when it is ASCII (byte offsets are
   * then character offsets), else by counting each character's UTF-8 bytes (decoding 170,000 strings one
   * by one took about 80 ms).
   */
  #decodeAll(): string[] {
    const ends = this.#ends;
    const out = new Array<string>(ends.length);
    const text = decoder.decode(this.#blob);
    let from = 0;
    if (text.length === this.#blob.length) {
      for (let i = 0; i < ends.length; i++) out[i] = text.slice(from, from = ends[i]);
      return out;
    }
    let char = 0;
    let byte = 0;
    for (let i = 0; i < ends.length; i++) {
      const start = char;
      while (byte < ends[i] && char < text.length) {
        const step = utf8Width(text, char);
        byte += step.bytes;
        char += step.chars;
      }
      out[i] = text.slice(start, char);
    }
    return out;
  }
}

/** UTF-8 bytes of the character at `i` of `s`, and its UTF-16 units (a lone surrogate encodes as U+FFFD). */
function utf8Width(s: string, i: number): { bytes: number; chars: number } {
  const c = s.charCodeAt(i);
  if (c < 0x80) return ONE;
  if (c < 0x800) return TWO;
  if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d < 0xe000) return PAIR;
  }
  return THREE;
}
const ONE = { bytes: 1, chars: 1 };
const TWO = { bytes: 2, chars: 1 };
const THREE = { bytes: 3, chars: 1 };
const PAIR = { bytes: 4, chars: 2 };

/** A column of strings as one UTF-8 blob and the end of each string in it. */
function encodeTable(strings: readonly string[]): { ends: Uint32Array; blob: Uint8Array } {
  const joined = strings.join("");
  const blob = encoder.encode(joined);
  const ends = new Uint32Array(strings.length);
  let at = 0;
  if (blob.length === joined.length) {
    for (let i = 0; i < strings.length; i++) ends[i] = at += strings[i].length;
  } else {
    for (let i = 0; i < strings.length; i++) {
      const s = strings[i];
      for (let k = 0; k < s.length;) {
        const step = utf8Width(s, k);
        at += step.bytes;
        k += step.chars;
      }
      ends[i] = at;
    }
  }
  return { ends, blob };
}

const pad4 = (n: number) => (n + 3) & ~3;

/** The metadata file's bytes for `meta`. */
export function encodeMeta(meta: MetaColumns): Uint8Array<ArrayBuffer> {
  const chunks = meta.chunkLen.length;
  const kinds = [...new Set(meta.chunkKind)];
  if (kinds.length > 255) throw new Error("more than 255 chunk kinds");
  const header = encoder.encode(JSON.stringify({
    version: meta.version,
    analyzer: meta.analyzer,
    chunkLines: meta.chunkLines,
    params: meta.params,
    createdAt: meta.createdAt,
    postings: meta.postings,
    kinds,
    chunks,
    paths: meta.paths.length,
    terms: meta.terms.length,
  }));
  const tables = [meta.paths, meta.chunkSymbol, meta.terms].map(encodeTable);
  let size = pad4(12 + header.length) + 4 * (4 * chunks + meta.termOffset.length) + pad4(chunks);
  for (const t of tables) size += 4 * t.ends.length + pad4(t.blob.length);
  size += 4 * meta.postingsBlockSums.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(MAGIC), 0);
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  let at = pad4(12 + header.length);
  for (const column of [meta.chunkPath, meta.chunkStart, meta.chunkEnd, meta.chunkLen, meta.termOffset]) {
    new Int32Array(out.buffer, at, column.length).set(column);
    at += 4 * column.length;
  }
  const kindCode = new Map(kinds.map((k, i) => [k, i]));
  for (let c = 0; c < chunks; c++) out[at + c] = kindCode.get(meta.chunkKind[c])!;
  at += pad4(chunks);
  for (const t of tables) {
    new Uint32Array(out.buffer, at, t.ends.length).set(t.ends);
    at += 4 * t.ends.length;
    out.set(t.blob, at);
    at += pad4(t.blob.length);
  }
  new Uint32Array(out.buffer, at, meta.postingsBlockSums.length).set(meta.postingsBlockSums);
  return out;
}

/**
 * Reads the metadata from the file's bytes (a misaligned start is copied: views are made on them).
 *
 * @throws MetaFormatError when the bytes are not a whole, consistent metadata file of format `version`
 */
export function decodeMeta(bytes: Uint8Array<ArrayBuffer>, version: number): LoadedMeta {
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
  const fail = (why: string): never => {
    throw new MetaFormatError(why);
  };
  const magic = encoder.encode(MAGIC);
  if (bytes.length < 12 || magic.some((b, i) => bytes[i] !== b)) fail("not an index metadata file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail("cut short in its header");
  let header: MetaHeader & { kinds: string[]; chunks: number; paths: number; terms: number };
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    return fail("its header is not JSON");
  }
  if (header?.version !== version) {
    throw new MetaFormatError(`format ${header?.version}, not ${version}`, true);
  }
  const { kinds, chunks, paths: pathCount, terms: termCount, postings } = header;
  if (
    !Array.isArray(kinds) || ![chunks, pathCount, termCount].every((n) => Number.isInteger(n) && n >= 0) ||
    !Number.isInteger(postings?.bytes) || !Number.isInteger(postings?.blockSize) || postings.blockSize < 4 ||
    postings.blockSize % 4 !== 0
  ) {
    fail("its header lacks the counts");
  }
  let at = bytes.byteOffset + pad4(12 + headerLength);
  const end = bytes.byteOffset + bytes.length;
  const take = (n: number) => {
    if (at + n > end) fail("cut short");
    const from = at;
    at += pad4(n);
    return from;
  };
  const int32 = (n: number) => new Int32Array(bytes.buffer, take(4 * n), n);
  const chunkPath = int32(chunks);
  const chunkStart = int32(chunks);
  const chunkEnd = int32(chunks);
  const chunkLen = int32(chunks);
  const termOffset = int32(termCount + 1);
  const kindCodes = new Uint8Array(bytes.buffer, take(chunks), chunks);
  const table = (count: number) => {
    const ends = new Uint32Array(bytes.buffer, take(4 * count), count);
    for (let i = 1; i < count; i++) if (ends[i] < ends[i - 1]) fail("a string table is out of order");
    const length = count === 0 ? 0 : ends[count - 1];
    return { ends, blob: new Uint8Array(bytes.buffer, take(length), length) };
  };
  const pathTable = table(pathCount);
  const symbolTable = table(chunks);
  const termTable = table(termCount);
  const blocks = 2 * Math.ceil(postings.bytes / postings.blockSize);
  const postingsBlockSums = new Uint32Array(bytes.buffer, take(4 * blocks), blocks);
  if (at !== end) fail("longer than its columns");

  // Columns out of range would index past arrays or the postings: refuse them here, once.
  if (termOffset[0] !== 0) fail("the postings offsets do not start at 0");
  if (postings.bytes !== 8 * termOffset[termCount]) fail("the postings length does not match the offsets");
  for (let t = 0; t < termCount; t++) {
    if (termOffset[t + 1] < termOffset[t]) fail("postings offsets decrease");
  }
  for (let c = 0; c < chunks; c++) {
    if (chunkPath[c] < 0 || chunkPath[c] >= pathCount) fail("a chunk names no path");
    if (kindCodes[c] >= kinds.length) fail("a chunk has no kind");
    if (chunkStart[c] < 1 || chunkEnd[c] < chunkStart[c] || chunkLen[c] < 0) {
      fail("a chunk's lines are invalid");
    }
  }
  const chunkKind = new Array<string>(chunks);
  for (let c = 0; c < chunks; c++) chunkKind[c] = kinds[kindCodes[c]];
  return {
    version: header.version,
    analyzer: header.analyzer,
    chunkLines: header.chunkLines,
    params: header.params,
    createdAt: header.createdAt,
    postings: header.postings,
    paths: new StringTable(pathTable.ends, pathTable.blob),
    chunkPath,
    chunkStart,
    chunkEnd,
    chunkSymbol: new StringTable(symbolTable.ends, symbolTable.blob),
    chunkKind,
    chunkLen,
    terms: new StringTable(termTable.ends, termTable.blob),
    termOffset,
    postingsBlockSums,
  };
}
