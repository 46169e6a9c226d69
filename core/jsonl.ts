/**
 * Reading the end of a JSON-lines file (patch history, the server's debug trace) without loading the
 * whole file: the file is read backwards in chunks until enough complete lines are found. Appending is in
 * `atomic.ts` ({@link appendJsonLine}).
 *
 * @module
 */

/** Bytes read per step when scanning backwards. */
const CHUNK = 64 * 1024;

/**
 * The last `n` JSON records of a JSON-lines file, oldest first. Blank lines and lines that are not JSON
 * (a torn last write, a foreign line) are skipped and do not count towards `n`. A missing file gives `[]`;
 * other read errors are thrown.
 *
 * @example
 * ```ts
 * const recent = await readJsonlTail<{ id: string }>(".dspy_patches/history.jsonl", 20);
 * ```
 */
export async function readJsonlTail<T = unknown>(path: string, n: number): Promise<T[]> {
  if (!(n > 0)) return [];
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const decoder = new TextDecoder();
  const out: T[] = [];
  try {
    let end = (await file.stat()).size;
    // Bytes of an incomplete line carried over from the previous (later) chunk.
    let carry = new Uint8Array(0);
    while (end > 0 && out.length < n) {
      const start = Math.max(0, end - CHUNK);
      const chunk = new Uint8Array(end - start + carry.length);
      await file.seek(start, Deno.SeekMode.Start);
      let off = 0;
      while (off < end - start) {
        const got = await file.read(chunk.subarray(off, end - start));
        if (got === null) break;
        off += got;
      }
      chunk.set(carry, end - start);
      // Everything after the first newline is made of whole lines (unless this chunk starts the file).
      const first = start === 0 ? -1 : chunk.indexOf(10);
      if (first === -1 && start > 0) {
        carry = chunk; // one line longer than a chunk: keep reading backwards
        end = start;
        continue;
      }
      const lines = decoder.decode(chunk.subarray(first + 1)).split("\n");
      for (let i = lines.length - 1; i >= 0 && out.length < n; i--) {
        const line = lines[i].trim();
        if (!line) continue;
        try {
          out.push(JSON.parse(line));
        } catch { /* a torn or foreign line */ }
      }
      if (start === 0) break;
      carry = chunk.slice(0, first);
      end = start;
    }
  } finally {
    file.close();
  }
  return out.reverse();
}
