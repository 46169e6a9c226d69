/**
 * Splits a session line into commands and arguments the way a shell would for simple cases: whitespace
 * separates words, single and double quotes group them, a backslash escapes the next character (outside
 * single quotes), and an unquoted `&&` separates chained commands.
 *
 * @module
 */

import { UsageError } from "../core/errors.ts";

/**
 * Tokenizes a line into a list of commands (each a list of words).
 *
 * @example
 * ```ts
 * splitCommandLine(`index && esearch "vector search"`); // [["index"], ["esearch", "vector search"]]
 * ```
 */
export function splitCommandLine(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) {
        word += line[++i];
      } else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (ch === "&" && line[i + 1] === "&" && !inWord) {
      if (words.length === 0) throw new UsageError("'&&' needs a command on each side");
      commands.push(words);
      words = [];
      i++;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unterminated ${quote} quote in: ${line}`);
  if (inWord) words.push(word);
  if (words.length > 0) commands.push(words);
  else if (commands.length > 0) throw new UsageError("'&&' needs a command on each side");
  return commands;
}

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => i + j));
  for (let i = 0; i < rows; i++) d[i][0] = i;
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The closest names to `input` (distance ≤ 2, or a prefix match), best first. */
export function suggest(input: string, names: string[]): string[] {
  return names
    .map((name) => ({
      name,
      d: name.startsWith(input) && input.length >= 2 ? 0.5 : editDistance(input, name),
    }))
    .filter((s) => s.d <= Math.max(1, Math.min(2, Math.floor(input.length / 3))))
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, 3)
    .map((s) => s.name);
}
