/**
 * Reading a whole large file (an index's postings, a vector shard, an index's metadata) into memory.
 * On a 15 MB postings file, in a new process, `Deno.readFile` took about twice as long here as opening the
 * file, asking its size and reading into one buffer of that size. For small files `Deno.readFile` is the
 * faster one (a single call instead of three), so use this for files of a megabyte or more.
 *
 * @module
 */

/**
 * The bytes of the file at `path`, read into one buffer sized from the file. A file that grows or shrinks
 * while it is read is read to its end all the same.
 *
 * @example
 * ```ts
 * const postings = await readWholeFile(".dspy_index/lexical.postings.bin");
 * ```
 */
export async function readWholeFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>> {
  using file = await Deno.open(path, { read: true });
  let buf = new Uint8Array((await file.stat()).size);
  let filled = 0;
  for (;;) {
    if (filled === buf.length) {
      // Full: the file may have grown since its size was read, or its size is not known (a pipe, /proc).
      const more = new Uint8Array(Math.max(64 * 1024, buf.length));
      const n = await file.read(more);
      if (n === null) return buf;
      const grown = new Uint8Array(buf.length + more.length);
      grown.set(buf);
      grown.set(more.subarray(0, n), filled);
      buf = grown;
      filled += n;
      continue;
    }
    const n = await file.read(buf.subarray(filled));
    if (n === null) return filled === buf.length ? buf : buf.slice(0, filled);
    filled += n;
  }
}

/** The text (UTF-8) of the file at `path`, read as {@link readWholeFile} does. */
export async function readWholeTextFile(path: string | URL): Promise<string> {
  return new TextDecoder().decode(await readWholeFile(path));
}
