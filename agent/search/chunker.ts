/**
 * Splits files into the chunks both indexes (lexical and embedding) share. Code files are cut at top-level
 * symbols (functions, classes, impls...), with the module-level code between them as chunks of its own so
 * nothing is left out; a long class is split into its methods and the code around them; anything still
 * longer than the window, and every non-code text file, is cut into line windows. A block of comments just
 * above a symbol (a section banner, a licence-free description, Python `#` comments) joins that symbol's
 * chunk instead of standing alone, so the words that describe code rank with the code.
 *
 * @module
 */

import { type CodeSymbol, extractSymbols, type Language, languageOf } from "./symbols.ts";

/** One chunk. Lines are 1-based and inclusive. */
export interface Chunk {
  startLine: number;
  endLine: number;
  /** The chunk's text. */
  text: string;
  /** Symbol name (`Parent.name` for methods) when the chunk is one symbol. */
  symbol?: string;
  /** Symbol kind. */
  kind?: string;
  /** Names of the symbols declared in the chunk (methods of an unsplit class too); for identifier lookups. */
  defines?: string[];
}

/** Options for {@link chunkFile}. */
export interface ChunkOptions {
  /** Window size for text files and oversize pieces (default 60 lines). */
  chunkLines?: number;
  /** A symbol up to this many lines stays one chunk (default 150). */
  maxSymbolLines?: number;
}

/** Default line window. */
export const DEFAULT_CHUNK_LINES = 60;

/**
 * Chunks one file's text. `path` decides the language (by extension).
 *
 * @example
 * ```ts
 * const chunks = chunkFile("src/app.ts", await Deno.readTextFile("src/app.ts"));
 * ```
 */
export function chunkFile(path: string, text: string, options: ChunkOptions = {}): Chunk[] {
  const window = Math.max(5, options.chunkLines ?? DEFAULT_CHUNK_LINES);
  const maxSymbol = Math.max(window, options.maxSymbolLines ?? 150);
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) return [];
  const lang = languageOf(path);
  const out: Chunk[] = [];

  const windows = (from: number, to: number, base?: { symbol?: string; kind?: string }) => {
    // from/to: 1-based inclusive; skips all-blank windows.
    for (let s = from; s <= to; s += window) {
      const e = Math.min(to, s + window - 1);
      const body = lines.slice(s - 1, e);
      if (!body.some((l) => /[A-Za-z0-9]/.test(l))) continue; // blank or only brackets: nothing to find
      out.push({ startLine: s, endLine: e, text: body.join("\n"), ...base });
    }
  };

  if (!lang) {
    windows(1, lines.length);
    return out;
  }

  let symbols: CodeSymbol[];
  try {
    symbols = extractSymbols(text, lang);
  } catch {
    symbols = [];
  }
  const emit = (sym: CodeSymbol, children: CodeSymbol[]) => {
    const name = sym.parent ? `${sym.parent}.${sym.name}` : sym.name;
    const len = sym.endLine - sym.startLine + 1;
    if (len <= maxSymbol) {
      out.push({
        startLine: sym.startLine,
        endLine: sym.endLine,
        text: lines.slice(sym.startLine - 1, sym.endLine).join("\n"),
        symbol: name,
        kind: sym.kind,
      });
      return;
    }
    const inner = topLevel(children.filter((c) => c.startLine > sym.startLine && c.endLine <= sym.endLine));
    if (inner.length === 0) {
      windows(sym.startLine, sym.endLine, { symbol: name, kind: sym.kind });
      return;
    }
    let cursor = sym.startLine;
    for (const child of inner) {
      if (child.startLine > cursor) windows(cursor, child.startLine - 1, { symbol: name, kind: sym.kind });
      emit(child, []);
      cursor = child.endLine + 1;
    }
    if (cursor <= sym.endLine) windows(cursor, sym.endLine, { symbol: name, kind: sym.kind });
  };

  const tops = topLevel(symbols);
  let cursor = 1;
  for (const top of tops) {
    // Comment lines (and blank lines between them) right above the symbol belong to it.
    let start = top.startLine;
    while (start - 1 >= cursor && isCommentOrBlank(lines[start - 2], lang)) start--;
    while (start < top.startLine && lines[start - 1].trim() === "") start++;
    const sym = start < top.startLine && top.startLine - start <= 40 ? { ...top, startLine: start } : top;
    if (sym.startLine > cursor) windows(cursor, sym.startLine - 1);
    emit(sym, symbols);
    cursor = Math.max(cursor, sym.endLine + 1);
  }
  if (cursor <= lines.length) windows(cursor, lines.length);
  // Which symbols each chunk declares (by the symbol's first line).
  // Chunks are in line order and do not overlap, so one sweep pairs them with the sorted symbol starts.
  const starts = symbols.map((s) => ({ line: s.startLine, name: s.name })).sort((a, b) => a.line - b.line);
  let si = 0;
  for (const c of out) {
    while (si < starts.length && starts[si].line < c.startLine) si++;
    const names: string[] = [];
    for (let j = si; j < starts.length && starts[j].line <= c.endLine; j++) names.push(starts[j].name);
    if (names.length > 0) c.defines = [...new Set(names)];
  }
  return out;
}

/** A comment line (or a blank one) in the given language. */
function isCommentOrBlank(line: string, lang: Language): boolean {
  const t = line.trim();
  if (t === "") return true;
  if (lang === "python") return t.startsWith("#");
  return t.startsWith("//") || t.startsWith("/*") || t.startsWith("*") || t.endsWith("*/");
}

/** The outermost, non-overlapping symbols, in order. */
function topLevel(symbols: CodeSymbol[]): CodeSymbol[] {
  const sorted = [...symbols].sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  const out: CodeSymbol[] = [];
  let end = 0;
  for (const s of sorted) {
    if (s.startLine <= end) continue;
    out.push(s);
    end = s.endLine;
  }
  return out;
}
