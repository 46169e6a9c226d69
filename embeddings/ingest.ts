/**
 * `embed ingest`: publishes input records on `embedding_input` from a JSONL file (`{"text", ...}` a line;
 * the other fields, such as `doc_id`, are kept), a text file (one text a line, id `<file>:<line>`), or a
 * code folder (its index chunks: the same walk and chunker as `index`, id `<path>:<start>-<end>`).
 * Publishing waits for the bus (durable topics are committed in batches), so a finished ingest is stored.
 *
 * @module
 */

import { basename } from "node:path";
import {
  chunkFile,
  DEFAULT_CHUNK_LINES,
  INDEX_EXCLUDES,
  readTextIfText,
  walkFiles,
} from "../agent/search/mod.ts";
import { UserError } from "../core/errors.ts";
import type { Bus } from "../bus/mod.ts";

/** Options for {@link ingestPath}. */
export interface IngestOptions {
  bus: Bus;
  /** Topic (default `embedding_input`). */
  topic?: string;
  /** Progress: records so far and, when known, the total. */
  onProgress?: (done: number, total: number | null) => void;
  signal?: AbortSignal;
}

/** What {@link ingestPath} did. */
export interface IngestResult {
  kind: "jsonl" | "text" | "folder";
  published: number;
  /** JSONL lines that were not records (line numbers, first 20). */
  skipped: { line: number; error: string }[];
  skippedCount: number;
}

/**
 * Publishes the records of `path`.
 *
 * @example
 * ```ts
 * const r = await ingestPath("/data/notes.jsonl", { bus });
 * ```
 */
export async function ingestPath(path: string, options: IngestOptions): Promise<IngestResult> {
  const topic = options.topic ?? "embedding_input";
  const { bus } = options;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new UserError(
      `embed ingest: '${path}' does not exist: give a .jsonl file, a text file or a folder`,
    );
  }
  if (bus.backend === "local") await bus.configureTopic(topic, { durable: true });
  let published = 0;
  const pending: Promise<void>[] = [];
  const publish = async (value: Record<string, unknown>) => {
    const p = bus.publish(topic, value, typeof value.doc_id === "string" ? { key: value.doc_id } : {});
    if (p) pending.push(p);
    published++;
    if (pending.length >= 512) await Promise.all(pending.splice(0));
  };
  const skipped: { line: number; error: string }[] = [];
  let skippedCount = 0;
  let kind: IngestResult["kind"];
  if (info.isDirectory) {
    kind = "folder";
    const files = await walkFiles(path, { excludes: [...INDEX_EXCLUDES], signal: options.signal });
    options.onProgress?.(0, files.length);
    let done = 0;
    for (const f of files) {
      if (options.signal?.aborted) throw new UserError("embed ingest: cancelled");
      const text = await readTextIfText(f.abs);
      for (const ch of text === null ? [] : chunkFile(f.rel, text, { chunkLines: DEFAULT_CHUNK_LINES })) {
        if (ch.text.trim() === "") continue;
        await publish({
          text: `${f.rel}${ch.symbol ? ` ${ch.symbol}` : ""}\n${ch.text}`,
          doc_id: `${f.rel}:${ch.startLine}-${ch.endLine}`,
          path: f.rel,
          start_line: ch.startLine,
          end_line: ch.endLine,
        });
      }
      options.onProgress?.(++done, files.length);
    }
  } else {
    const jsonl = /\.(jsonl|ndjson)$/i.test(path);
    kind = jsonl ? "jsonl" : "text";
    const text = await Deno.readTextFile(path);
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    options.onProgress?.(0, lines.length);
    const name = basename(path);
    for (let i = 0; i < lines.length; i++) {
      if (options.signal?.aborted) throw new UserError("embed ingest: cancelled");
      const line = lines[i].replace(/\r$/, "");
      if (line.trim() === "") continue;
      if (jsonl) {
        let v: unknown;
        try {
          v = JSON.parse(line);
        } catch (err) {
          skippedCount++;
          if (skipped.length < 20) {
            skipped.push({ line: i + 1, error: `not JSON (${err instanceof Error ? err.message : err})` });
          }
          continue;
        }
        if (typeof v === "string") v = { text: v };
        const rec = v as Record<string, unknown>;
        if (typeof v !== "object" || v === null || typeof rec.text !== "string" || rec.text.trim() === "") {
          skippedCount++;
          if (skipped.length < 20) skipped.push({ line: i + 1, error: `no "text" string` });
          continue;
        }
        await publish(rec);
      } else {
        await publish({ text: line, doc_id: `${name}:${i + 1}` });
      }
      if ((i & 255) === 0) options.onProgress?.(i + 1, lines.length);
    }
    options.onProgress?.(lines.length, lines.length);
  }
  await Promise.all(pending);
  await bus.flush();
  return { kind, published, skipped, skippedCount };
}
