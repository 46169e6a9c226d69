/**
 * Dataset loading for embed experiments and `datasets preview`: a `.jsonl`/`.json` file holds one JSON
 * object a line and its non-empty string `text` field is a text (other lines are counted as skipped, not
 * fatal); any other file holds one text a line (trimmed, blank lines skipped). The file is opened through
 * the workspace confinement (`core/confined.ts`), so a path swapped for a symlink after validation is still
 * refused.
 *
 * @module
 */

import { openConfined } from "../core/confined.ts";
import { ExperimentPathError, maxDatasetBytes } from "./paths.ts";

/** Texts read from a dataset. */
export interface LoadedDataset {
  texts: string[];
  /** Lines that were not a usable text (bad JSON, no `text`, blank). */
  skipped: number;
  format: "jsonl" | "txt";
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Stop after this many texts (0 = all). */
  maxCount?: number;
}

/** True when the path names a JSON-lines file. */
export function isJsonlPath(path: string): boolean {
  return /\.jsonl?$/i.test(path);
}

/** Reads the texts of a dataset inside the workspace. */
export async function loadDataset(
  workspace: string,
  path: string,
  options: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  const { file, info } = await openConfined(workspace, path);
  const max = maxDatasetBytes();
  if (info.size > max) {
    file.close();
    throw new ExperimentPathError(
      "too-large",
      `dataset '${path}' is ${info.size} bytes, over the limit of ${max} bytes (DSPY_EXPERIMENT_MAX_BYTES)`,
    );
  }
  const jsonl = isJsonlPath(path);
  const limit = options.maxCount && options.maxCount > 0 ? options.maxCount : Infinity;
  const texts: string[] = [];
  let skipped = 0;
  let rest = "";
  const decoder = new TextDecoder();
  const take = (line: string): boolean => {
    const t = line.trim();
    if (t === "") return texts.length < limit;
    if (jsonl) {
      try {
        const obj = JSON.parse(t);
        if (obj && typeof obj.text === "string" && obj.text.trim() !== "") texts.push(obj.text);
        else skipped++;
      } catch {
        skipped++;
      }
    } else texts.push(t);
    return texts.length < limit;
  };
  const reader = file.readable.getReader();
  try {
    outer: while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (!take(line)) break outer;
    }
    if (texts.length < limit) take(rest + decoder.decode());
  } finally {
    await reader.cancel().catch(() => {});
  }
  return { texts, skipped, format: jsonl ? "jsonl" : "txt" };
}

/** The first `n` texts (default 5), for `datasets preview` and `GET /api/datasets/preview`. */
export async function previewDataset(workspace: string, path: string, n = 5): Promise<string[]> {
  return (await loadDataset(workspace, path, { maxCount: n })).texts;
}
