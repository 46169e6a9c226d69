/**
 * Searching files for grep: reading a file with as few system calls as possible, skipping binary and
 * oversized ones, and decoding and searching big files in pieces. Used by the grep workers
 * (`grep_worker.ts`) and, for small trees and patterns that cannot backtrack, by the caller's own thread
 * (`grep.ts`).
 *
 * @module
 */

import { type GrepMatch, searchText } from "./grep_core.ts";

/**
 * Without context lines, a file bigger than this is decoded and searched in pieces of about this size cut
 * right after a newline. Strings this small live in V8's young generation, whose pages are reused; a string
 * per whole file put every big file (half the bytes of the bundle tree are in files of 128 KiB-1 MiB) into
 * freshly mapped memory: ~12 000 page faults and ~30% more CPU for the tree.
 */
const PIECE = 64 * 1024;

/** Searches files under one root for one pattern; holds the read buffer its files share. */
export class FileSearcher {
  readonly #root: string;
  readonly #lineRe: RegExp;
  readonly #fileRe: RegExp;
  readonly #context: number;
  readonly #maxFileBytes: number;
  /** One buffer for every file, read with one `read` call (see {@link FileSearcher.#read}). */
  #buffer: Uint8Array;
  readonly #decoder = new TextDecoder();
  /** For the pieces after the first: a byte-order mark there is text, not a mark. */
  readonly #decoderKeepingBom = new TextDecoder("utf-8", { ignoreBOM: true });

  constructor(root: string, source: string, flags: string, context: number, maxFileBytes: number) {
    this.#root = root;
    this.#lineRe = new RegExp(source, flags);
    this.#fileRe = new RegExp(source, flags + "m");
    this.#context = context;
    this.#maxFileBytes = maxFileBytes;
    this.#buffer = new Uint8Array(Math.min(maxFileBytes, 1024 * 1024) + 1);
  }

  /**
   * Appends the matches of the workspace-relative file `rel` to `out`. Returns false when the file was not
   * searched: unreadable, over the size limit, or binary (a NUL byte in its first 8 KiB).
   */
  searchFile(rel: string, out: GrepMatch[]): boolean {
    const n = this.#read(`${this.#root}/${rel}`);
    if (n < 0) return false;
    if (this.#buffer.subarray(0, Math.min(n, 8192)).indexOf(0) !== -1) return false;
    this.#searchBytes(this.#buffer.subarray(0, n), rel, out);
    return true;
  }

  /**
   * Reads a file into the shared buffer and returns its length, or -1 when it is over the size limit or
   * unreadable. Three system calls (open, one read, close) for a file that fits: a regular file's `read`
   * comes back short only at its end, and the buffer holds up to the limit plus one byte, so a read that fills
   * it means the file is over the limit (with a limit above 1 MiB the buffer grows as needed). The walk yields
   * regular files only. `statSync` + `readTextFileSync` made seven calls per file (stat, open, fstat, seek,
   * two reads, close) and allocated a new buffer each time; on the 19 k-file bundle tree that took 1.5-2× as
   * long.
   */
  #read(abs: string): number {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(abs);
    } catch {
      return -1;
    }
    try {
      let n = 0;
      while (true) {
        const got = file.readSync(n === 0 ? this.#buffer : this.#buffer.subarray(n));
        if (!got) return n;
        n += got;
        if (n < this.#buffer.length) return n;
        if (this.#buffer.length > this.#maxFileBytes) return -1;
        const bigger = new Uint8Array(Math.min(this.#maxFileBytes + 1, this.#buffer.length * 2));
        bigger.set(this.#buffer);
        this.#buffer = bigger;
      }
    } catch {
      return -1;
    } finally {
      file.close();
    }
  }

  /** Decodes and searches one file's bytes (whole, or piece by piece; see {@link PIECE}). */
  #searchBytes(bytes: Uint8Array, rel: string, out: GrepMatch[]): void {
    if (this.#context > 0 || bytes.length <= PIECE) {
      const text = this.#decoder.decode(bytes);
      for (const m of searchText(text, rel, this.#lineRe, this.#fileRe, this.#context)) out.push(m);
      return;
    }
    let start = 0;
    let linesBefore = 0; // newlines in bytes[0, counted)
    let counted = 0;
    while (start < bytes.length) {
      // A newline byte is never part of a multi-byte UTF-8 sequence, so each piece decodes on its own.
      const newline = bytes.indexOf(10, start + PIECE - 1);
      const end = newline === -1 ? bytes.length : newline + 1;
      const text = (start === 0 ? this.#decoder : this.#decoderKeepingBom).decode(bytes.subarray(start, end));
      const found = searchText(text, rel, this.#lineRe, this.#fileRe, 0);
      if (found.length > 0) {
        // Line numbers: count the newlines before this piece (only when it matched).
        while (true) {
          const nl = bytes.indexOf(10, counted);
          if (nl === -1 || nl >= start) break;
          linesBefore++;
          counted = nl + 1;
        }
        for (const m of found) {
          m.line += linesBefore;
          out.push(m);
        }
      }
      start = end;
    }
  }
}
