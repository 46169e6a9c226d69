/**
 * Files of experiments under `.dspy_reports/experiments/`: one plain-text log per run (`<id>.log`, a line
 * per entry; the SSE stream's event ids are line numbers) and `history.jsonl`, one line per finished run.
 * History is read **from the end** in chunks, so the newest runs always show however long the file grows
 * (the original read the first 500 lines only). Writes go through `appendConfined` (no symlinks followed).
 *
 * @module
 */

import { appendConfined } from "../core/confined.ts";
import { join } from "../core/path.ts";
import type { ExperimentRecord } from "./types.ts";

/** `.dspy_reports/experiments` relative to the workspace. */
export const EXPERIMENTS_DIR = ".dspy_reports/experiments";

/** The log file of an experiment, relative to the workspace. */
export function logPathOf(id: string): string {
  return `${EXPERIMENTS_DIR}/${id}.log`;
}

/** The history file, absolute. */
export function historyFile(workspace: string): string {
  return join(workspace, EXPERIMENTS_DIR, "history.jsonl");
}

/** Appends lines to an experiment's log (newlines inside a line become spaces). */
export async function appendLog(workspace: string, id: string, ...lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const text = lines.map((l) => l.replace(/[\r\n]+/g, " ")).join("\n") + "\n";
  await appendConfined(workspace, logPathOf(id), text);
}

/**
 * Reads log lines from `fromLine` (0-based) on. Returns the lines and the byte offset reached, so a
 * follower can continue from `byteOffset` without re-reading (pass it back as `fromByte` with the line
 * count it has).
 */
export async function readLogLines(
  workspace: string,
  id: string,
  from: { line?: number; byte?: number } = {},
): Promise<{ lines: string[]; byte: number }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(join(workspace, logPathOf(id)), { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { lines: [], byte: from.byte ?? 0 };
    throw err;
  }
  try {
    const info = await file.stat();
    if (!info.isFile) return { lines: [], byte: from.byte ?? 0 };
    const start = from.byte ?? 0;
    if (info.size <= start) return { lines: [], byte: start };
    await file.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(Math.min(info.size - start, 8 * 1024 * 1024));
    let n = 0;
    while (n < buf.length) {
      const r = await file.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    // Only whole lines: a half-written last line is read next time.
    const end = buf.subarray(0, n).lastIndexOf(10);
    if (end < 0) return { lines: [], byte: start };
    const text = new TextDecoder().decode(buf.subarray(0, end));
    let lines = text.split("\n");
    if (from.line && from.byte === undefined) lines = lines.slice(from.line);
    return { lines, byte: start + end + 1 };
  } finally {
    file.close();
  }
}

/** One line of `history.jsonl`: the record as it finished. */
export type HistoryRow = Omit<ExperimentRecord, "owner" | "cancel_requested">;

/** Appends a finished run to the history. */
export async function appendHistory(workspace: string, record: ExperimentRecord): Promise<void> {
  const { owner: _o, cancel_requested: _c, ...row } = record;
  await appendConfined(workspace, join(EXPERIMENTS_DIR, "history.jsonl"), JSON.stringify(row) + "\n");
}

/**
 * The newest `limit` history rows, oldest first, read backwards from the end of the file; one row per
 * experiment id (the newest: a row moved from the store's outbox by two processes at once is appended twice).
 */
export async function readHistory(workspace: string, limit = 100): Promise<HistoryRow[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(historyFile(workspace), { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const rows: HistoryRow[] = [];
  const seen = new Set<string>();
  try {
    const info = await file.stat();
    if (!info.isFile) return [];
    let pos = info.size;
    let tail = new Uint8Array(0);
    const chunk = 64 * 1024;
    const decoder = new TextDecoder();
    const take = (bytes: Uint8Array) => {
      const t = decoder.decode(bytes).trim();
      if (!t) return;
      let row: HistoryRow;
      try {
        row = JSON.parse(t);
      } catch {
        return; // a torn or foreign line: skip
      }
      if (typeof row !== "object" || row === null || typeof row.id !== "string" || seen.has(row.id)) return;
      seen.add(row.id);
      rows.push(row);
    };
    while (pos > 0 && rows.length < limit) {
      const size = Math.min(chunk, pos);
      pos -= size;
      const buf = new Uint8Array(size + tail.length);
      await file.seek(pos, Deno.SeekMode.Start);
      let n = 0;
      while (n < size) {
        const r = await file.read(buf.subarray(n, size));
        if (r === null) break;
        n += r;
      }
      buf.set(tail, size);
      let end = buf.length;
      for (let i = buf.length - 1; i >= 0 && rows.length < limit; i--) {
        if (buf[i] === 10) {
          take(buf.subarray(i + 1, end));
          end = i;
        }
      }
      tail = buf.slice(0, end);
    }
    if (pos === 0 && rows.length < limit) take(tail);
  } finally {
    file.close();
  }
  return rows.slice(0, limit).reverse();
}
