/**
 * Turns one file into index chunks with their weighted terms (BM25F fields folded into one bag: body
 * tokens, path tokens × pathWeight, symbol tokens × symbolWeight), plus one `§name` term per name the chunk
 * declares. Shared by the in-process index build and its workers.
 *
 * @module
 */

import { chunkFile } from "./chunker.ts";
import { codeTokens, pathTokens } from "./tokenize.ts";

/** Prefix of the terms that record which names a chunk declares. */
export const DEF_PREFIX = "§";

/** Field weights used while analysing. */
export interface AnalyzeParams {
  pathWeight: number;
  symbolWeight: number;
}

/** One analysed chunk: location, symbol, body length and its terms with weights (parallel arrays). */
export interface AnalyzedChunk {
  start: number;
  end: number;
  symbol: string;
  kind: string;
  len: number;
  terms: string[];
  weights: number[];
}

/** True for minified bundles (very long average line length), which are not worth indexing. */
export function looksMinified(text: string): boolean {
  if (text.length < 5000) return false;
  let lines = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++;
  return text.length / lines > 400;
}

/** Chunks and analyses a file's text; `null` for minified text. */
export function analyzeText(
  rel: string,
  text: string,
  chunkLines: number,
  params: AnalyzeParams,
): AnalyzedChunk[] | null {
  if (looksMinified(text)) return null;
  const pathToks = pathTokens(rel);
  const out: AnalyzedChunk[] = [];
  for (const ch of chunkFile(rel, text, { chunkLines })) {
    const body = codeTokens(ch.text);
    const bag = new Map<string, number>();
    for (const t of body) bag.set(t, (bag.get(t) ?? 0) + 1);
    for (const t of pathToks) bag.set(t, (bag.get(t) ?? 0) + params.pathWeight);
    // Declared names as their own terms (`§name`, never produced by a query's words) for identifier lookups.
    for (const name of ch.defines ?? []) bag.set(DEF_PREFIX + name.toLowerCase(), 1);
    if (ch.symbol) {
      for (const t of codeTokens(ch.symbol.replace(/\./g, " "))) {
        bag.set(t, (bag.get(t) ?? 0) + params.symbolWeight);
      }
    }
    out.push({
      start: ch.startLine,
      end: ch.endLine,
      symbol: ch.symbol ?? "",
      kind: ch.kind ?? "",
      len: body.length,
      terms: [...bag.keys()],
      weights: [...bag.values()],
    });
  }
  return out;
}

/** Reads and analyses a file; `null` when it is unreadable, binary, too big or minified. */
export function analyzeFileSync(
  abs: string,
  rel: string,
  maxFileBytes: number,
  chunkLines: number,
  params: AnalyzeParams,
): AnalyzedChunk[] | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(abs);
  } catch {
    return null;
  }
  if (text.length > maxFileBytes || text.slice(0, 8192).includes("\0")) return null;
  return analyzeText(rel, text, chunkLines, params);
}
