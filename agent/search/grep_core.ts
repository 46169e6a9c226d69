/**
 * The pure parts of grep shared by the caller and its workers: compiling a pattern (with a clear error for a
 * bad regex) and finding the matching lines of one text, with optional context lines.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";
import { escapeRegExp } from "../../core/regex.ts";

/** One matching line. `path` is workspace-relative; `line` is 1-based. */
export interface GrepMatch {
  path: string;
  line: number;
  text: string;
  /** Up to `context` lines before the match (only with context > 0). */
  before?: string[];
  /** Up to `context` lines after the match (only with context > 0). */
  after?: string[];
}

/** Files per batch: the unit the workers claim, of `--max` bookkeeping and of the stall timer. */
export const BATCH_FILES = 48;

/**
 * Main thread → worker, once. The first worker (the walker) gets `walk` (or `files` for a single file): it
 * walks the tree in order, cuts the files into batches numbered in walk order, and hands every batch to the
 * other workers through `ports` (once the main thread says they started: a worker that never starts costs
 * no messages). Every worker claims the next unsearched batch from the shared counter, so each batch is
 * searched once, roughly in walk order, and no batch waits in one worker's queue while another worker is
 * idle. The main thread only collects the results.
 */
export interface GrepInit {
  type: "init";
  /** Workspace root: a file's absolute path is `${root}/${rel}`. */
  root: string;
  source: string;
  flags: string;
  context: number;
  maxFileBytes: number;
  /**
   * Two Int32: at {@link NEXT_BATCH} the number of the next batch to claim; at {@link OTHERS_STARTED} how many
   * of the walker's `ports` lead to a started worker (the main thread raises it).
   */
  shared: SharedArrayBuffer;
  /** Walker: what to walk. */
  walk?: { globs?: string[]; excludes?: string[] };
  /** Walker: search exactly these workspace-relative files instead of walking. */
  files?: string[];
  /** Walker: one port per other worker (to send it the batches); other workers: the port to read them from. */
  ports: MessagePort[];
}

/** Index of the next-batch counter in {@link GrepInit.shared}. */
export const NEXT_BATCH = 0;
/** Index of the started-workers count in {@link GrepInit.shared}. */
export const OTHERS_STARTED = 1;

/** Walker → other workers: one batch of workspace-relative paths, numbered in walk order. */
export interface GrepBatch {
  id: number;
  files: string[];
}

/** Worker → main thread. */
export type GrepWorkerReply =
  /** The matches of one batch. */
  | { type: "result"; id: number; matches: GrepMatch[]; searched: number }
  /** Walker: the walk is over; `batches` batches were made in all. */
  | { type: "walked"; batches: number };

/** Options for {@link compilePattern}. */
export interface PatternOptions {
  /** Treat the pattern as a literal string. */
  fixed?: boolean;
  /** Case-insensitive matching. */
  ignoreCase?: boolean;
  /** The command named in error messages (default `grep`; only grep offers `--fixed`/`--ignore-case`). */
  command?: string;
}

/**
 * Compiles a grep pattern into a RegExp (no global flag). An empty or invalid pattern is a
 * {@link UserError} that says how to fix it.
 */
export function compilePattern(pattern: string, options: PatternOptions = {}): RegExp {
  const cmd = options.command ?? "grep";
  const isGrep = cmd === "grep";
  if (pattern.length === 0) {
    throw new UserError(`${cmd}: the pattern is empty: give a word or a regular expression`);
  }
  const source = options.fixed ? escapeRegExp(pattern) : pattern;
  const flags = options.ignoreCase ? "i" : "";
  try {
    return new RegExp(source, flags);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err);
    if (/^\(\?[a-z]+\)/.test(pattern)) {
      throw new UserError(
        `${cmd}: invalid regular expression '${pattern}': inline flags like (?i) are not supported` +
          (isGrep ? "; use --ignore-case instead" : ""),
      );
    }
    throw new UserError(
      `${cmd}: invalid regular expression '${pattern}': ${why}. Fix the pattern` +
        (isGrep
          ? " or pass --fixed to search for it literally"
          : " (escape ( ) [ ] . * + ? with \\ to match them literally)"),
    );
  }
}

/**
 * True when `source` is a regular expression whose matching time cannot blow up: no quantifier (`*`, `+`,
 * `?`, `{`), no back-reference, and at most {@link MAX_ALTERNATIVES} `|`. Without quantifiers a match attempt
 * at one position tries each path through the alternations once, and with few `|` there are few paths, so
 * the search is linear in the text. Conservative: a `?` of a group's syntax (`(?:`) or a quantifier character
 * inside a class (`[*+]`) also answers false. Literal searches (`--fixed`) always answer true.
 */
export function cannotBacktrack(source: string): boolean {
  let alternatives = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      const next = source[i + 1];
      if (next === undefined || (next >= "1" && next <= "9") || next === "k") return false;
      i++;
    } else if (c === "*" || c === "+" || c === "?" || c === "{") return false;
    else if (c === "|" && ++alternatives > MAX_ALTERNATIVES) return false;
  }
  return true;
}

/** See {@link cannotBacktrack}: 8 `|` allow at most 2^8 paths through the alternations. */
export const MAX_ALTERNATIVES = 8;

/**
 * Finds the lines of `text` matching `lineRe`. `fileRe` is the same pattern with the `m` flag, used to skip
 * files without any match in one pass.
 */
export function searchText(
  text: string,
  rel: string,
  lineRe: RegExp,
  fileRe: RegExp,
  context: number,
): GrepMatch[] {
  if (!fileRe.test(text)) return [];
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const out: GrepMatch[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (!lineRe.test(line)) continue;
    const m: GrepMatch = { path: rel, line: i + 1, text: line };
    if (context > 0) {
      m.before = lines.slice(Math.max(0, i - context), i).map(stripCr);
      m.after = lines.slice(i + 1, i + 1 + context).map(stripCr);
    }
    out.push(m);
  }
  return out;
}

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}
