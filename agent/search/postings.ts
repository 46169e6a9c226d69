/**
 * The postings of a loaded lexical index (`lexical.postings.bin`: every chunk id, then every weight, term by
 * term), either held whole or read term by term from the file.
 *
 * A search from a new process needs the postings of a few query terms, not all 15 MB of a 20,000-file tree:
 * reading the whole file and checking its checksum took about 80 ms of each `esearch` there. The lazy form
 * reads only the 16 KiB blocks that hold a term's postings, checks each block against the checksum the
 * metadata recorded for it, and keeps the checked blocks for later queries. The file is opened for each
 * read; if a build has replaced it since the metadata was loaded (another inode, size or mtime), or a block
 * does not match its checksum, the read throws {@link PostingsUnreadableError} and the caller loads the index
 * again (rankInWorkspace in lexical_index.ts).
 *
 * @module
 */

import { blockChecksums, blockMatches } from "./index_integrity.ts";

/** Size of the blocks the postings checksums cover. */
export const POSTINGS_BLOCK = 16 * 1024;

/** The postings of one term: chunk ids (ascending) and their weighted term frequencies. */
export interface TermPostings {
  ids: Uint32Array;
  weights: Float32Array;
}

/** Where a term's postings come from. */
export interface PostingsSource {
  /** Postings between offsets `from` and `to` (a term's range in `termOffset`). */
  range(from: number, to: number): TermPostings;
  /** Every posting (a lazy source reads and checks the whole file). */
  whole(): TermPostings;
}

/** The postings file changed under a loaded index, or a block is damaged: load the index again. */
export class PostingsUnreadableError extends Error {
  constructor(path: string, why: string) {
    super(`${path}: ${why}`);
    this.name = "PostingsUnreadableError";
  }
}

/** Postings held whole: views on the file's bytes (which must start on a 4-byte boundary). */
export function wholePostings(bytes: Uint8Array<ArrayBuffer>, total: number): PostingsSource {
  const ids = new Uint32Array(bytes.buffer, bytes.byteOffset, total);
  const weights = new Float32Array(bytes.buffer, bytes.byteOffset + total * 4, total);
  return {
    range: (from, to) => ({ ids: ids.subarray(from, to), weights: weights.subarray(from, to) }),
    whole: () => ({ ids, weights }),
  };
}

/** A file's identity: a build writes a new file and renames it into place. */
export interface FileIdentity {
  ino: number | null;
  size: number;
  mtimeMs: number | undefined;
}

/** The identity of the file `info` describes. */
export function identityOf(info: Deno.FileInfo): FileIdentity {
  return { ino: info.ino, size: info.size, mtimeMs: info.mtime?.getTime() };
}

const sameFile = (a: FileIdentity, b: FileIdentity) =>
  a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * Postings read from the file on demand: `identity` is the file's at load time, `sums` the checksums the
 * metadata recorded for each `blockSize` bytes.
 */
export function lazyPostings(
  path: string,
  total: number,
  identity: FileIdentity,
  blockSize: number,
  sums: Uint32Array,
): PostingsSource {
  const blocks = new Map<number, Uint8Array>();
  const fileBytes = total * 8;
  let whole: TermPostings | null = null;

  /** Reads the blocks covering [start, end) that are not held yet, checking each. */
  const load = (file: Deno.FsFile, start: number, end: number) => {
    for (let b = Math.floor(start / blockSize); b * blockSize < end; b++) {
      if (blocks.has(b)) continue;
      const at = b * blockSize;
      const block = new Uint8Array(Math.min(blockSize, fileBytes - at));
      file.seekSync(at, Deno.SeekMode.Start);
      for (let n = 0; n < block.length;) {
        const got = file.readSync(block.subarray(n));
        if (got === null) throw new PostingsUnreadableError(path, "shorter than its metadata says");
        n += got;
      }
      if (!blockMatches(block, sums, b)) throw new PostingsUnreadableError(path, `block ${b} is damaged`);
      blocks.set(b, block);
    }
  };
  /** The bytes [start, end) from the held blocks. */
  const copy = (start: number, end: number): ArrayBuffer => {
    const out = new Uint8Array(end - start);
    for (let at = start; at < end;) {
      const b = Math.floor(at / blockSize);
      const block = blocks.get(b)!;
      const from = at - b * blockSize;
      const n = Math.min(block.length - from, end - at);
      out.set(block.subarray(from, from + n), at - start);
      at += n;
    }
    return out.buffer;
  };
  const open = () => {
    const file = Deno.openSync(path, { read: true });
    if (!sameFile(identityOf(file.statSync()), identity)) {
      file.close();
      throw new PostingsUnreadableError(path, "replaced since the index was loaded");
    }
    return file;
  };

  return {
    range(from, to) {
      if (whole) return { ids: whole.ids.subarray(from, to), weights: whole.weights.subarray(from, to) };
      if (to <= from) return { ids: new Uint32Array(0), weights: new Float32Array(0) };
      const idsAt = [4 * from, 4 * to] as const;
      const weightsAt = [4 * (total + from), 4 * (total + to)] as const;
      let file: Deno.FsFile | null = null;
      try {
        for (const [start, end] of [idsAt, weightsAt]) {
          for (let b = Math.floor(start / blockSize); b * blockSize < end; b++) {
            if (!blocks.has(b)) {
              file ??= open();
              load(file, start, end);
              break;
            }
          }
        }
      } finally {
        file?.close();
      }
      return { ids: new Uint32Array(copy(...idsAt)), weights: new Float32Array(copy(...weightsAt)) };
    },
    whole() {
      if (whole) return whole;
      const file = open();
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = new Uint8Array(fileBytes);
        for (let n = 0; n < bytes.length;) {
          const got = file.readSync(bytes.subarray(n));
          if (got === null) throw new PostingsUnreadableError(path, "shorter than its metadata says");
          n += got;
        }
      } finally {
        file.close();
      }
      const found = blockChecksums(bytes, blockSize);
      if (found.length !== sums.length || found.some((v, i) => v !== sums[i])) {
        throw new PostingsUnreadableError(path, "damaged");
      }
      whole = wholePostings(bytes, total).whole();
      blocks.clear();
      return whole;
    },
  };
}
