/**
 * Integrity of the binary index files (`.dspy_index/lexical.postings.bin`, `.dspy_index/emb_vectors.f32`).
 * Each is written with its length and checksum in the metadata that describes it (written after the binary
 * file, so a reader never trusts a checksum for bytes that were not written yet): the vectors with a stamp
 * `{bytes, checksum}`, the postings with a checksum per 16 KiB block, so that a search can check just the
 * blocks it reads. The bytes are checked before they are used: random bytes of the right length used to
 * give `undefined score=NaN` hits or "No results" with exit 0.
 *
 * The checksum is a 64-bit FNV-1a-style mix over 32-bit words, computed in one pass (about 1 ms per MB
 * here): it detects damage (truncation, overwrites, bit rot), not a deliberate forgery — whoever can
 * rewrite the binary file can rewrite the meta as well.
 *
 * On a mismatch the lexical index is rebuilt from the source files with a notice (it is cheap and needs
 * nothing but the files); the vector index raises {@link IndexDamagedError} saying to run
 * `emb-index --full` (rebuilding it needs the embedding model), except inside `emb-index` itself, which
 * then starts from scratch with a notice.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";

/** The stamp stored next to a binary index file's description. */
export interface IntegrityStamp {
  /** Byte length of the file. */
  bytes: number;
  /** {@link checksum} of its bytes. */
  checksum: string;
}

/** A binary index file is damaged; the message names it and the command that rebuilds it. */
export class IndexDamagedError extends UserError {
  /** The damaged file. */
  readonly file: string;
  constructor(file: string, why: string, rebuild: string) {
    super(`${file} is damaged (${why}): run 'dspy-code ${rebuild}' to rebuild it`);
    this.name = "IndexDamagedError";
    this.file = file;
  }
}

/** 64-bit checksum (two 32-bit FNV-1a lanes over 32-bit words, tail bytes folded in) as 16 hex digits. */
export function checksum(bytes: Uint8Array): string {
  const [a, b] = checksumLanes(bytes);
  return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
}

/** The two 32-bit lanes of {@link checksum}, unsigned. */
export function checksumLanes(bytes: Uint8Array): [number, number] {
  let a = 0x811c9dc5 | 0;
  let b = 0x01000193 ^ bytes.byteLength;
  const words = bytes.byteLength >>> 2;
  const view = bytes.byteOffset % 4 === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, words)
    : new Uint32Array(bytes.slice(0, words * 4).buffer);
  for (let i = 0; i < words; i++) {
    const w = view[i];
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ ((w >>> 16) | (w << 16)), 0x5bd1e995) ^ (b >>> 15);
  }
  for (let i = words * 4; i < bytes.byteLength; i++) {
    a = Math.imul(a ^ bytes[i], 0x01000193);
    b = Math.imul(b ^ bytes[i], 0x5bd1e995);
  }
  return [a >>> 0, b >>> 0];
}

/**
 * The {@link checksumLanes} of every `blockSize` bytes of `bytes` (the last block may be shorter), two
 * entries a block. Lets a reader check only the blocks it reads: `esearch` reads the postings of its query's
 * terms, not the whole file.
 */
export function blockChecksums(bytes: Uint8Array, blockSize: number): Uint32Array {
  const blocks = Math.ceil(bytes.byteLength / blockSize);
  const sums = new Uint32Array(2 * blocks);
  for (let i = 0; i < blocks; i++) {
    const [a, b] = checksumLanes(
      bytes.subarray(i * blockSize, Math.min(bytes.byteLength, (i + 1) * blockSize)),
    );
    sums[2 * i] = a;
    sums[2 * i + 1] = b;
  }
  return sums;
}

/** True when block `i` (its bytes in `block`) has the checksum recorded in `sums`. */
export function blockMatches(block: Uint8Array, sums: Uint32Array, i: number): boolean {
  const [a, b] = checksumLanes(block);
  return sums[2 * i] === a && sums[2 * i + 1] === b;
}

/** The stamp for `bytes`. */
export function integrityStamp(bytes: Uint8Array): IntegrityStamp {
  return { bytes: bytes.byteLength, checksum: checksum(bytes) };
}

/**
 * Checks `bytes` against `stamp`; returns null when they match, else why not. A missing stamp (an index
 * written before stamps existed) counts as a mismatch, so it is rebuilt once.
 */
export function integrityProblem(stamp: IntegrityStamp | undefined, bytes: Uint8Array): string | null {
  if (!stamp || typeof stamp.checksum !== "string") return "no checksum: written by an older version";
  if (stamp.bytes !== bytes.byteLength) {
    return `${bytes.byteLength} bytes where ${stamp.bytes} were written`;
  }
  if (checksum(bytes) !== stamp.checksum) return "checksum mismatch";
  return null;
}

/** A binary index file that does not match the metadata read with it; `message` says how. */
export class FilesMismatch extends Error {}

/**
 * How long {@link loadPastBuild} waits before each new try (about 0.4 s in all): longer than a build takes
 * between renaming its binary file and its metadata into place.
 */
const MISMATCH_WAITS_MS: readonly number[] = [25, 50, 100, 200];

/**
 * Runs `load` until it gives something other than a {@link FilesMismatch}, waiting a little before each new
 * try; returns the last mismatch when it outlasts the waits. A build writes the binary file and then the
 * metadata, each renamed into place, so a reader in another process can meet the two from different builds
 * for a moment: only a mismatch that outlasts a build's last write is damage.
 */
export async function loadPastBuild<T>(load: () => Promise<T | FilesMismatch>): Promise<T | FilesMismatch> {
  for (let attempt = 0;; attempt++) {
    const loaded = await load();
    if (!(loaded instanceof FilesMismatch) || attempt === MISMATCH_WAITS_MS.length) return loaded;
    await new Promise((resolve) => setTimeout(resolve, MISMATCH_WAITS_MS[attempt]));
  }
}

const noticed = new Set<string>();

/** Prints a one-line notice on stderr, once per file and process. */
export function integrityNotice(file: string, message: string): void {
  if (noticed.has(file)) return;
  noticed.add(file);
  console.error(`notice: ${message}`);
}
