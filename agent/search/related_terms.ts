/**
 * What esearch does when no word of a query is in the index at all ("subtract two numbers" over code that
 * says `sub`, or a slip such as "procesor"): instead of "No results", it looks for the words the code uses
 * that look like the query's, and searches those, saying so: a word of the code that the query's word begins
 * with (`sub` for "subtract", `config` for "configuration"), one that begins with the query's word (of 4
 * letters or more: `configur` for "config"), or one typing slip away (edit distance 1, or 2 for words of 8
 * letters or more: `processor` for "procesor"). It only runs after a search found nothing, so it never
 * reorders results a search did find: looser matching of this kind, tried as a ranking change, cost the tune
 * half of the quality bench (docs/search.md, "prefix expansion").
 *
 * @module
 */

import { DEF_PREFIX } from "./index_analyze.ts";
import { loadIndexForSearch, queryTokens } from "./lexical_index.ts";

/** A query word that is not in the index and the index's words that look like it. */
export interface RelatedWord {
  /** The query's word, as the index would store it (lower-cased, stemmed). */
  word: string;
  /** Words of the index, the closest first (then the most used). */
  related: string[];
}

/** The vocabulary as the index holds it: sorted terms and how many chunks use each. */
export interface Vocabulary {
  terms: { readonly length: number; all(): readonly string[]; find(term: string): number };
  termOffset: ArrayLike<number>;
}

/** Shortest word looked at either way (`sub`); shorter ones are too often part of unrelated words. */
const MIN_PART = 3;

/**
 * The index's words that look like each query word missing from it; words with nothing related are left out.
 * `perWord` caps the related words kept for each (default 3).
 */
export function relatedTerms(vocab: Vocabulary, query: string, perWord = 3): RelatedWord[] {
  const missing = queryTokens(query).filter((w) => w.length >= MIN_PART && vocab.terms.find(w) < 0);
  if (missing.length === 0) return [];
  const all = vocab.terms.all();
  const chunksUsing = (t: number) => vocab.termOffset[t + 1] - vocab.termOffset[t];
  const out: RelatedWord[] = [];
  for (const word of missing) {
    const maxEdits = word.length >= 8 ? 2 : word.length >= 5 ? 1 : 0;
    // [characters apart (letters one has past the other's end, or edits), chunks using it, term]
    const found: [number, number, string][] = [];
    for (let t = 0; t < all.length; t++) {
      const term = all[t];
      if (term.length < MIN_PART || term.startsWith(DEF_PREFIX) || /^\d+$/.test(term)) continue;
      let apart = -1;
      if (word.startsWith(term) || (term.startsWith(word) && word.length >= 4)) {
        apart = Math.abs(word.length - term.length);
      } else if (maxEdits > 0 && term[0] === word[0] && Math.abs(term.length - word.length) <= maxEdits) {
        const d = boundedEditDistance(word, term, maxEdits);
        if (d <= maxEdits) apart = d;
      }
      if (apart >= 0) found.push([apart, chunksUsing(t), term]);
    }
    if (found.length === 0) continue;
    found.sort((a, b) => a[0] - b[0] || b[1] - a[1] || (a[2] < b[2] ? -1 : 1));
    // The closest, and others nearly as close: `processor` for "procesor", not also `proc` and `pro`.
    const close = found.filter((f) => f[0] <= found[0][0] + 1).slice(0, perWord);
    out.push({ word, related: close.map((f) => f[2]) });
  }
  return out;
}

/**
 * For a query that found nothing in the workspace's index: the query made of the index's words that look
 * like its own, with what stood for what, or null when nothing looks alike (or there is no index).
 */
export async function relatedQuery(
  root: string,
  query: string,
): Promise<{ query: string; words: RelatedWord[] } | null> {
  const index = await loadIndexForSearch(root);
  if (!index) return null;
  const words = relatedTerms(index.meta, query);
  if (words.length === 0) return null;
  return { query: words.flatMap((w) => w.related).join(" "), words };
}

/**
 * Levenshtein distance between `a` and `b`, or `max + 1` as soon as it must exceed `max` (one row at a time;
 * a row whose smallest value is above `max` ends it).
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (row[j] < smallest) smallest = row[j];
    }
    if (smallest > max) return max + 1;
    prev = row;
  }
  return prev[b.length];
}
