/**
 * Code-aware tokens for lexical search: identifiers are kept whole and also split at camelCase, snake_case,
 * kebab-case and digit boundaries; everything is lower-cased, English stop words are dropped, and a
 * Porter stemmer folds plurals, verb forms and derivations (`offsets` → `offset`, `committing` → `commit`,
 * `decoder` → `decod`) so a natural-language query meets the code's identifiers.
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

/**
 * Porter's suffix stemmer (M. F. Porter, 1980), applied until the word stops changing (at most twice), so
 * the forms a description and a name use meet: `decoder`, `decoding`, `decode` → `decod`; `assigned`,
 * `assignment` → `assign`; `partitioner`, `partitions` → `partit`; `offsets` → `offset`.
 */
export function stem(word: string): string {
  if (word.length <= 3) return word;
  let s = stems.get(word);
  if (s === undefined) {
    if (!/^[a-z]+$/.test(word)) s = word;
    else {
      const once = porter(word);
      s = once === word || once.length <= 3 ? once : porter(once);
    }
    if (stems.size > 100_000) stems.clear();
    stems.set(word, s);
  }
  return s;
}

// Identifier parts repeat far more than whole identifiers: each is stemmed once.
const stems = new Map<string, string>();

function isCons(w: string, i: number): boolean {
  const c = w[i];
  if (c === "a" || c === "e" || c === "i" || c === "o" || c === "u") return false;
  if (c === "y") return i === 0 || !isCons(w, i - 1);
  return true;
}

/** Porter's m: the number of vowel-consonant sequences in `w`. */
function measure(w: string): number {
  let m = 0;
  let i = 0;
  const n = w.length;
  while (i < n && isCons(w, i)) i++;
  while (i < n) {
    while (i < n && !isCons(w, i)) i++;
    if (i >= n) break;
    while (i < n && isCons(w, i)) i++;
    m++;
  }
  return m;
}

function hasVowel(w: string): boolean {
  for (let i = 0; i < w.length; i++) if (!isCons(w, i)) return true;
  return false;
}

function doubleCons(w: string): boolean {
  const n = w.length;
  return n >= 2 && w[n - 1] === w[n - 2] && isCons(w, n - 1);
}

/** Ends consonant-vowel-consonant, the last not w, x or y. */
function cvc(w: string): boolean {
  const n = w.length;
  if (n < 3 || !isCons(w, n - 1) || isCons(w, n - 2) || !isCons(w, n - 3)) return false;
  return !"wxy".includes(w[n - 1]);
}

const STEP2: [string, string][] = [
  ["ational", "ate"],
  ["tional", "tion"],
  ["enci", "ence"],
  ["anci", "ance"],
  ["izer", "ize"],
  ["abli", "able"],
  ["alli", "al"],
  ["entli", "ent"],
  ["eli", "e"],
  ["ousli", "ous"],
  ["ization", "ize"],
  ["ation", "ate"],
  ["ator", "ate"],
  ["alism", "al"],
  ["iveness", "ive"],
  ["fulness", "ful"],
  ["ousness", "ous"],
  ["aliti", "al"],
  ["iviti", "ive"],
  ["biliti", "ble"],
];
const STEP3: [string, string][] = [
  ["icate", "ic"],
  ["ative", ""],
  ["alize", "al"],
  ["iciti", "ic"],
  ["ical", "ic"],
  ["ful", ""],
  ["ness", ""],
];
const STEP4 = [
  "al",
  "ance",
  "ence",
  "er",
  "ic",
  "able",
  "ible",
  "ant",
  "ement",
  "ment",
  "ent",
  "ion",
  "ou",
  "ism",
  "ate",
  "iti",
  "ous",
  "ive",
  "ize",
];

function porter(word: string): string {
  let w = word;
  // Step 1a: plurals.
  if (w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.endsWith("ies")) w = w.slice(0, -2);
  else if (w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us") && !w.endsWith("is")) w = w.slice(0, -1);
  // Step 1b: -ed, -ing.
  let fix = false;
  if (w.endsWith("eed")) {
    if (measure(w.slice(0, -3)) > 0) w = w.slice(0, -1);
  } else if (w.endsWith("ed") && hasVowel(w.slice(0, -2))) {
    w = w.slice(0, -2);
    fix = true;
  } else if (w.endsWith("ing") && hasVowel(w.slice(0, -3))) {
    w = w.slice(0, -3);
    fix = true;
  }
  if (fix) {
    if (w.endsWith("at") || w.endsWith("bl") || w.endsWith("iz")) w += "e";
    else if (doubleCons(w) && !"lsz".includes(w[w.length - 1])) w = w.slice(0, -1);
    else if (measure(w) === 1 && cvc(w)) w += "e";
  }
  // Step 1c: y -> i after a vowel-bearing stem.
  if (w.endsWith("y") && hasVowel(w.slice(0, -1))) w = w.slice(0, -1) + "i";
  // Steps 2 and 3: map double suffixes to single ones.
  for (const table of [STEP2, STEP3]) {
    for (const [suf, rep] of table) {
      if (w.endsWith(suf)) {
        const base = w.slice(0, -suf.length);
        if (measure(base) > 0) w = base + rep;
        break;
      }
    }
  }
  // Step 4: drop a suffix from a long enough stem.
  for (const suf of STEP4) {
    if (w.endsWith(suf)) {
      const base = w.slice(0, -suf.length);
      if (measure(base) > 1 && (suf !== "ion" || base.endsWith("s") || base.endsWith("t"))) w = base;
      break;
    }
  }
  // Step 5: a final -e, and -ll.
  if (w.endsWith("e")) {
    const base = w.slice(0, -1);
    const m = measure(base);
    if (m > 1 || (m === 1 && !cvc(base))) w = base;
  }
  if (w.endsWith("ll") && measure(w) > 1) w = w.slice(0, -1);
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
