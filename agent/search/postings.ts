/**
 * The postings of a loaded lexical index (`lexical.postings.bin`: every chunk id, then every weight, term by
 * term), either held whole or read term by term from the file.
 *
 * A search from a new process needs the postings of a few query terms, not all 15 MB of a 20,000-file tree:
 * reading the whole file and checking its checksum took about 80 ms of each `esearch` there. The lazy form
 * reads only the 16 KiB blocks that hold a term's postings, checks each block against the checksum the
 * metadata recorded for it, and keeps the checked blocks for later queries (a whole read checks every block
 * the same way). The file is opened for each read; if a build has replaced it since the metadata was loaded
 * (another inode, size or mtime), or a block does not match its checksum, the read throws
 * {@link PostingsUnreadableError} and the caller loads the index again (rankInWorkspace in lexical_index.ts).
 *
 * @module
 */

import { blockMatches } from "./index_integrity.ts";

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
 * metadata recorded for each `blockSize` bytes. Blocks are read into one buffer the size of the file, at
 * their place in it, so a term's postings are views on it: the memory of blocks never read is never touched.
 */
export function lazyPostings(
  path: string,
  total: number,
  identity: FileIdentity,
  blockSize: number,
  sums: Uint32Array,
): PostingsSource {
  const fileBytes = total * 8;
  const blockCount = Math.ceil(fileBytes / blockSize);
  let buffer: Uint8Array<ArrayBuffer> | null = null;
  const loaded = new Uint8Array(blockCount);
  let missing = blockCount;

  const open = () => {
    const file = Deno.openSync(path, { read: true });
    if (!sameFile(identityOf(file.statSync()), identity)) {
      file.close();
      throw new PostingsUnreadableError(path, "replaced since the index was loaded");
    }
    return file;
  };
  /** Reads and checks the blocks covering each [start, end) byte range that are not loaded yet. */
  const ensure = (ranges: (readonly [number, number])[]) => {
    let file: Deno.FsFile | null = null;
    try {
      for (const [start, end] of ranges) {
        for (let b = Math.floor(start / blockSize); b * blockSize < end; b++) {
          if (loaded[b]) continue;
          file ??= open();
          buffer ??= new Uint8Array(fileBytes);
          const at = b * blockSize;
          const block = buffer.subarray(at, Math.min(fileBytes, at + blockSize));
          file.seekSync(at, Deno.SeekMode.Start);
          for (let n = 0; n < block.length;) {
            const got = file.readSync(block.subarray(n));
            if (got === null) throw new PostingsUnreadableError(path, "shorter than its metadata says");
            n += got;
          }
          if (!blockMatches(block, sums, b)) throw new PostingsUnreadableError(path, `block ${b} is damaged`);
          loaded[b] = 1;
          missing--;
        }
      }
    } finally {
      file?.close();
    }
  };
  const views = (from: number, to: number): TermPostings => ({
    ids: new Uint32Array(buffer!.buffer, 4 * from, to - from),
    weights: new Float32Array(buffer!.buffer, 4 * (total + from), to - from),
  });

  return {
    range(from, to) {
      if (to <= from) return { ids: new Uint32Array(0), weights: new Float32Array(0) };
      ensure([[4 * from, 4 * to], [4 * (total + from), 4 * (total + to)]]);
      return views(from, to);
    },
    whole() {
      if (missing > 0) ensure([[0, fileBytes]]);
      return fileBytes === 0 ? { ids: new Uint32Array(0), weights: new Float32Array(0) } : views(0, total);
    },
  };
}
