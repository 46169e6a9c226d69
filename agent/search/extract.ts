/**
 * `extract`, `diff` and `write`: cut a segment out of a file (a named symbol, or the lines around the n-th
 * regex match), show how a file differs from that segment as a unified diff, and write the segment to a
 * path inside the workspace atomically.
 *
 * @module
 */

import { atomicWriteFile } from "../../core/atomic.ts";
import { UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import { grepWorkspace } from "./grep.ts";
import { compilePattern, type GrepMatch } from "./grep_core.ts";
import { extractSymbols, findSymbol, languageOf } from "./symbols.ts";
import { isBinary, relPath } from "./walk.ts";

/** A cut segment. Lines are 1-based and inclusive. */
export interface Extract {
  /** Workspace-relative path. */
  path: string;
  startLine: number;
  endLine: number;
  /** The segment's text (lines joined with `\n`, no trailing newline). */
  text: string;
  /** The symbol, when extracted by name. */
  symbol?: string;
  /** The symbol's kind, when extracted by name. */
  kind?: string;
}

/** Options for {@link extractSegment}: exactly one of `symbol` and `regex`. */
export interface ExtractOptions {
  /** Symbol name (`name` or `Parent.name`). */
  symbol?: string;
  /** Regular expression; the segment is the matching line with `before`/`after` lines around it. */
  regex?: string;
  /** Lines before a regex match (default 3). */
  before?: number;
  /** Lines after a regex match (default 3). */
  after?: number;
  /** Which match or symbol to take, 1-based (default 1). */
  nth?: number;
  /**
   * With `regex`: give up when the pattern runs this long on the file (default 30 s). The regex runs in a
   * worker (grep's), so a pattern that backtracks catastrophically is stopped instead of hanging the session.
   */
  timeoutMs?: number;
}

/** Session state key under which commands keep the last extract. */
export const LAST_EXTRACT_KEY = "search.lastExtract";

async function readSource(root: string, file: string): Promise<{ abs: string; text: string }> {
  const abs = resolveInside(root, file);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(abs);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `extract: ${file} does not exist in the workspace ${root}: check the path ('ls' lists a folder)`,
      );
    }
    if (err instanceof Deno.errors.IsADirectory || (err instanceof Error && /directory/i.test(err.message))) {
      throw new UserError(`extract: ${file} is a folder: give a file`);
    }
    throw new UserError(`extract: cannot read ${file}: ${err instanceof Error ? err.message : err}`);
  }
  if (isBinary(bytes)) throw new UserError(`extract: ${file} is a binary file`);
  return { abs, text: new TextDecoder().decode(bytes) };
}

/**
 * Cuts a segment out of `file` (workspace-relative).
 *
 * @example
 * ```ts
 * const seg = await extractSegment(root, "src/app.py", { symbol: "main" });
 * const near = await extractSegment(root, "src/app.py", { regex: "TODO", before: 2, after: 5, nth: 2 });
 * ```
 */
export async function extractSegment(root: string, file: string, options: ExtractOptions): Promise<Extract> {
  if (!!options.symbol === !!options.regex) {
    throw new UserError("extract: give exactly one of --symbol NAME and --regex RX");
  }
  const { abs, text } = await readSource(root, file);
  const path = relPath(root, abs);
  const lines = text.split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const nth = Math.max(1, options.nth ?? 1);
  if (options.symbol) {
    const lang = languageOf(abs);
    if (!lang) {
      throw new UserError(
        `extract: symbols work for TypeScript, JavaScript, Python, Go and Rust files; use --regex for ${file}`,
      );
    }
    const symbols = extractSymbols(text, lang);
    const sym = findSymbol(symbols, options.symbol, nth);
    if (!sym) {
      const names = [...new Set(symbols.map((s) => (s.parent ? `${s.parent}.${s.name}` : s.name)))].slice(
        0,
        15,
      );
      throw new UserError(
        `extract: no symbol '${options.symbol}'${nth > 1 ? ` (#${nth})` : ""} in ${path}` +
          (names.length ? `; symbols there: ${names.join(", ")}` : ""),
      );
    }
    return {
      path,
      startLine: sym.startLine,
      endLine: sym.endLine,
      text: lines.slice(sym.startLine - 1, sym.endLine).join("\n"),
      symbol: sym.parent ? `${sym.parent}.${sym.name}` : sym.name,
      kind: sym.kind,
    };
  }
  compilePattern(options.regex!, { command: "extract" }); // a bad regex: extract's own message
  let found: GrepMatch[];
  try {
    ({ matches: found } = await grepWorkspace(root, options.regex!, {
      file: path,
      max: nth,
      maxFileBytes: Number.MAX_SAFE_INTEGER, // readSource has already applied the size limit
      timeoutMs: options.timeoutMs,
      workers: 1,
    }));
  } catch (err) {
    if (err instanceof UserError && /^grep: gave up/.test(err.message)) {
      throw new UserError(
        `extract: gave up after ${((options.timeoutMs ?? 30_000) / 1000).toFixed(1)} s: the pattern ` +
          `'${options.regex}' may backtrack catastrophically on ${path}; simplify it`,
      );
    }
    throw err;
  }
  const seen = found.length;
  if (seen >= nth) {
    const i = found[nth - 1].line - 1;
    const start = Math.max(0, i - (options.before ?? 3));
    const end = Math.min(lines.length - 1, i + (options.after ?? 3));
    return { path, startLine: start + 1, endLine: end + 1, text: lines.slice(start, end + 1).join("\n") };
  }
  throw new UserError(
    `extract: /${options.regex}/ matches ${seen} line(s) in ${path}${
      nth > 1 ? `, fewer than --nth ${nth}` : ""
    }`,
  );
}

/**
 * Unified diff of a workspace file (missing = empty) against a text, with `context` lines (default 3).
 * Returns an empty string when they are the same.
 */
export async function diffFileAgainst(
  root: string,
  file: string,
  text: string,
  context = 3,
): Promise<string> {
  const abs = resolveInside(root, file);
  let current = "";
  try {
    current = await Deno.readTextFile(abs);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw new UserError(`diff: cannot read ${file}: ${err}`);
  }
  const proposed = text.endsWith("\n") || text === "" ? text : text + "\n";
  if (current === proposed) return "";
  const rel = relPath(root, abs);
  const { createTwoFilesPatch } = await import("diff");
  return createTwoFilesPatch(`a/${rel}`, `b/${rel}`, current, proposed, undefined, undefined, { context });
}

/** Writes `text` (with a trailing newline) to a workspace path atomically, creating parent folders. */
export async function writeInside(root: string, file: string, text: string): Promise<string> {
  const abs = resolveInside(root, file);
  try {
    const info = await Deno.stat(abs);
    if (info.isDirectory) throw new UserError(`write: ${file} is a folder; give a file path`);
  } catch (err) {
    if (err instanceof UserError) throw err;
  }
  await atomicWriteFile(abs, text.endsWith("\n") || text === "" ? text : text + "\n");
  return relPath(root, abs);
}
