/**
 * Atomic file replacement: write to a temporary file in the same directory, flush it, then rename it over
 * the target, so readers see either the old or the new content and never a half-written file.
 *
 * @module
 */

import { basename, dirname, join } from "./path.ts";

/** Options for {@link atomicWriteFile}. */
export interface AtomicWriteOptions {
  /** File mode for a newly created file (POSIX only). */
  mode?: number;
  /** Create missing parent directories (default true). */
  mkdirs?: boolean;
}

/**
 * The temporary file a write of `path` goes through: hidden, in the same folder, named after the target
 * (`.app.py.<uuid>.tmp`; `.dspy_rl_state.json.<uuid>.tmp` for a hidden target), so a file watcher can tell
 * whose write it is (the session's index watch ignores dspy-code's own `.dspy*` state) and a stray one left
 * by a crash says where it came from.
 */
function tempPathFor(path: string): string {
  // 40 code points are at most 160 bytes of UTF-8: with the suffix, within the 255-byte name limit.
  const name = Array.from(basename(path)).slice(0, 40).join("");
  return join(dirname(path), `${name.startsWith(".") ? "" : "."}${name}.${crypto.randomUUID()}.tmp`);
}

/**
 * Replaces `path` with `data` atomically (temp file + fsync + rename).
 *
 * @example
 * ```ts
 * await atomicWriteFile(".dspy_rl_state.json", JSON.stringify(state));
 * ```
 */
export async function atomicWriteFile(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirs !== false) await Deno.mkdir(dir, { recursive: true });
  const tmp = tempPathFor(path);
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Synchronous twin of {@link atomicWriteFile}, for exit paths that cannot await. */
export function atomicWriteFileSync(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tempPathFor(path);
  try {
    Deno.writeFileSync(tmp, typeof data === "string" ? new TextEncoder().encode(data) : data, {
      createNew: true,
    });
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* the temp file was never created */ }
    throw err;
  }
}

/** Writes JSON (pretty-printed, trailing newline) atomically. */
export function atomicWriteJson(path: string, value: unknown): Promise<void> {
  return atomicWriteFile(path, JSON.stringify(value, null, 2) + "\n");
}

/** Appends one JSON line to a file, creating it and its directory when missing. */
export async function appendJsonLine(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(value) + "\n", { append: true, create: true });
}
