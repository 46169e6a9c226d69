/**
 * Code-aware tokens for lexical search: identifiers are kept whole and also split at camelCase, snake_case,
 * kebab-case and digit boundaries; everything is lower-cased, English stop words are dropped, and a light
 * suffix stemmer folds plurals and verb forms (`offsets` → `offset`, `committing` → `commit`) so a
 * natural-language query meets the code's identifiers.
 *
 * @module
 */

const STOP = new Set(
  ("a an and are as at be been but by can could do does did for from had has have how i if in into is it its " +
    "me my of on or our should so than that the their them then there these they this those to too us was we " +
    "were what when where which while who whom why will with would you your code file files function functions " +
    "method use used using implement implemented implementation handle handles handled")
    .split(" "),
);

const IDENT = /[A-Za-z_$][A-Za-z0-9_$]*|[0-9]+[A-Za-z_][A-Za-z0-9_]*/g;

/** Splits an identifier into its lower-case parts (`parseHTTPRequest_v2` → parse, http, request, v2). */
export function splitIdentifier(ident: string): string[] {
  return ident
    .replace(/\$/g, "_")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[_\s-]+/)
    .map((p) => p.toLowerCase())
    .filter((p) => p.length > 0);
}

/** A light suffix stemmer (plural, -ing, -ed, -er, -ies). */
export function stem(word: string): string {
  if (word.length <= 3) return word;
  if (word.endsWith("ies") && word.length > 4) return word.slice(0, -3) + "y";
  if (word.endsWith("sses")) return word.slice(0, -2);
  if (word.endsWith("ing") && word.length > 5) return undouble(word.slice(0, -3));
  if (word.endsWith("ed") && word.length > 4) return undouble(word.slice(0, -2));
  if (word.endsWith("es") && word.length > 4 && /(ch|sh|x|ss|zz)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith("s") && !word.endsWith("ss") && !word.endsWith("us") && !word.endsWith("is")) {
    return word.slice(0, -1);
  }
  return word;
}

function undouble(w: string): string {
  if (w.length > 3 && w[w.length - 1] === w[w.length - 2] && !/[lsz]/.test(w[w.length - 1])) {
    return w.slice(0, -1);
  }
  return w;
}

/**
 * Tokenizes text for indexing or querying: whole identifiers (lower-cased) plus their stemmed parts.
 * Returns tokens in order (with repeats, for term frequencies).
 *
 * @example
 * ```ts
 * codeTokens("commitOffsets(topic_name)"); // ["commitoffsets", "commit", "offset", "topic_name", "topic", "name"]
 * ```
 */
export function codeTokens(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(IDENT)) {
    const ident = match[0];
    if (ident.length > 64) continue;
    let toks = cache.get(ident);
    if (toks === undefined) {
      toks = identTokens(ident);
      if (cache.size > 200_000) cache.clear();
      cache.set(ident, toks);
    }
    for (const t of toks) out.push(t);
  }
  return out;
}

// Identifiers repeat a lot within and across files: their tokens are computed once.
const cache = new Map<string, string[]>();

function identTokens(ident: string): string[] {
  const out: string[] = [];
  const parts = splitIdentifier(ident);
  const whole = ident.toLowerCase().replace(/\$/g, "_");
  if (parts.length > 1) {
    if (whole.length >= 2 && !STOP.has(whole)) out.push(whole);
    for (const p of parts) if (p.length >= 2 && !STOP.has(p)) out.push(stem(p));
  } else if (whole.length >= 2 && !STOP.has(whole)) {
    out.push(stem(whole));
  }
  return out;
}

/** Tokens of a workspace-relative path: every segment and file name split like identifiers (no extension). */
export function pathTokens(path: string): string[] {
  const noExt = path.replace(/\.[A-Za-z0-9]+$/, "");
  return codeTokens(noExt.replace(/[/.\\]/g, " "));
}

/** Counts tokens into a map. */
export function countTokens(tokens: string[], into: Map<string, number> = new Map(), weight = 1) {
  for (const t of tokens) into.set(t, (into.get(t) ?? 0) + weight);
  return into;
}
