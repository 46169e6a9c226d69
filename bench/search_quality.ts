/**
 * Retrieval-quality evaluation for the search benchmark: the baselines (plain BM25 with the old tokenizer,
 * and the old tool's TF-IDF scheme with its 200-line windows and formula from orig_cli_agent.md §5.2),
 * and the metrics (file-level MRR@10 and recall@5) over a labelled query set.
 *
 * @module
 */

import { chunkFile, walkFiles } from "../agent/search/mod.ts";

/** A labelled query: the files (workspace-relative) that answer it. */
export interface LabelledQuery {
  query: string;
  relevant: string[];
}

/** A ranker returns file paths, best first (duplicates allowed; the first occurrence counts). */
export type Ranker = (query: string) => Promise<string[]> | string[];

/** Per-query outcome: the rank (1-based) of the first answering file, and the files ranked. */
export interface QueryOutcome {
  query: string;
  /** 1-based rank of the first relevant file within the top 10, or 0 when none is there. */
  rank: number;
  recall5: number;
  top: string[];
}

/** MRR@10 and recall@5 over unique files (and each query's outcome, for looking at the tune half). */
export async function evaluate(
  queries: LabelledQuery[],
  rank: Ranker,
): Promise<{ mrr10: number; recall5: number; outcomes: QueryOutcome[] }> {
  let mrr = 0;
  let recall = 0;
  const outcomes: QueryOutcome[] = [];
  for (const q of queries) {
    const files: string[] = [];
    for (const p of await rank(q.query)) if (!files.includes(p)) files.push(p);
    const rel = new Set(q.relevant);
    const first = files.slice(0, 10).findIndex((p) => rel.has(p));
    if (first >= 0) mrr += 1 / (first + 1);
    const r5 = files.slice(0, 5).filter((p) => rel.has(p)).length / rel.size;
    recall += r5;
    outcomes.push({ query: q.query, rank: first + 1, recall5: r5, top: files.slice(0, 5) });
  }
  const n = Math.max(1, queries.length);
  return { mrr10: mrr / n, recall5: recall / n, outcomes };
}

/** The old tokenizer: `[A-Za-z_][A-Za-z0-9_]{1,63}`, lower-cased. */
export function oldTokens(text: string): string[] {
  return (text.match(/[A-Za-z_][A-Za-z0-9_]{1,63}/g) ?? []).map((t) => t.toLowerCase());
}

interface Doc {
  path: string;
  tf: Map<string, number>;
  len: number;
}

async function docs(root: string, chunker: (path: string, text: string) => string[]): Promise<Doc[]> {
  const out: Doc[] = [];
  for (const f of await walkFiles(root)) {
    let text: string;
    try {
      text = await Deno.readTextFile(f.abs);
    } catch {
      continue;
    }
    if (text.includes("\0")) continue;
    for (const chunk of chunker(f.rel, text)) {
      const toks = oldTokens(chunk);
      const tf = new Map<string, number>();
      for (const t of toks) tf.set(t, (tf.get(t) ?? 0) + 1);
      out.push({ path: f.rel, tf, len: toks.length });
    }
  }
  return out;
}

function dfOf(all: Doc[]): Map<string, number> {
  const df = new Map<string, number>();
  for (const d of all) for (const t of d.tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  return df;
}

/** The old TF-IDF scheme: 200-line windows, `(0.5 + 0.5·tf/max_tf)·(ln((N+1)/(1+df)) + 1)`, cosine. */
export async function oldTfidfRanker(root: string): Promise<Ranker> {
  const windows = (_path: string, text: string) => {
    const lines = text.split("\n");
    const out: string[] = [];
    for (let i = 0; i < lines.length; i += 200) out.push(lines.slice(i, i + 200).join("\n"));
    return out;
  };
  const all = await docs(root, windows);
  const n = all.length;
  const df = dfOf(all);
  const weigh = (tf: Map<string, number>) => {
    const max = Math.max(1, ...tf.values());
    const w = new Map<string, number>();
    for (const [t, c] of tf) {
      w.set(t, (0.5 + 0.5 * c / max) * (Math.log((n + 1) / (1 + (df.get(t) ?? 0))) + 1));
    }
    return w;
  };
  const vecs = all.map((d) => {
    const w = weigh(d.tf);
    let norm = 0;
    for (const x of w.values()) norm += x * x;
    return { path: d.path, w, norm: Math.sqrt(norm) };
  });
  return (query: string) => {
    const qtf = new Map<string, number>();
    for (const t of oldTokens(query)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const qw = weigh(qtf);
    let qn = 0;
    for (const x of qw.values()) qn += x * x;
    qn = Math.sqrt(qn) || 1;
    const scored: [string, number][] = [];
    for (const v of vecs) {
      let dot = 0;
      for (const [t, x] of qw) {
        const y = v.w.get(t);
        if (y) dot += x * y;
      }
      if (dot > 0) scored.push([v.path, dot / (qn * (v.norm || 1))]);
    }
    return scored.sort((a, b) => b[1] - a[1]).slice(0, 50).map(([p]) => p);
  };
}

/** Plain BM25 (k1 1.2, b 0.75) with the old tokenizer over our chunks, no field weights or identifier splitting. */
export async function plainBm25Ranker(root: string): Promise<Ranker> {
  const all = await docs(root, (path, text) => chunkFile(path, text).map((c) => c.text));
  const n = all.length;
  const df = dfOf(all);
  const avg = all.reduce((s, d) => s + d.len, 0) / Math.max(1, n);
  return (query: string) => {
    const terms = [...new Set(oldTokens(query))];
    const scored: [string, number][] = [];
    for (const d of all) {
      let s = 0;
      for (const t of terms) {
        const tf = d.tf.get(t);
        if (!tf) continue;
        const f = df.get(t) ?? 0;
        const idf = Math.log(1 + (n - f + 0.5) / (f + 0.5));
        s += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * d.len / avg));
      }
      if (s > 0) scored.push([d.path, s]);
    }
    return scored.sort((a, b) => b[1] - a[1]).slice(0, 50).map(([p]) => p);
  };
}
