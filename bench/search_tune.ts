/**
 * Ranking tuning on the TUNE half only: builds each corpus's index once, then scores ranking variants given
 * as JSON objects (merged over DEFAULT_RANKING) on the tune queries. It never reads the test half.
 *
 * Usage: `deno run -A bench/search_tune.ts [--cache DIR] [--misses] [--hybrid 0,0.1,0.5] [--embedder SPEC]
 * [--use-text digest|words|windows|raw] [--rrf-k 60] [--full] [--baselines] '{"defBoost":2}' ...`
 *
 * `--baselines` also scores the old TF-IDF scheme and plain BM25 on the same tune queries. `--fuse 0.1,0.25`
 * scores our ranking fused (reciprocal rank fusion over files, k 60) with each of them at those weights. `--time N` times
 * `rankChunks` over every tune query for each variant (of the same build), interleaved, N rounds, and prints
 * the median milliseconds per query.
 *
 * `--hybrid` scores hybrid search at each vector weight (default ranking), and the embedding search alone,
 * with the embedder `--embedder` names (`bench/embedder_spec.ts`: default `hash`; `use` is the Universal
 * Sentence Encoder Lite in its default `digest` text mode, or another mode with `--use-text`; `local:DIR` an
 * ONNX sentence encoder in a folder; `infermesh:URL` a server; `bag:PREFIX` is the code encoder trained by
 * `bench/code_encoder/train.py`, reading `--doc-tokens` subwords of a chunk, default 256). Identifier lookups are ranked lexically
 * whatever the weight (as `hybridSearch` does). The embedding index is incremental: a corpus already embedded
 * with the same model is reused; `--full` re-embeds it (to time the build). Use your own `--cache DIR` when
 * others may run the search bench at the same time: building the lexical index removes `.dspy_index/`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  buildIndex,
  DEFAULT_RANKING,
  type LexicalIndex,
  loadIndex,
  rankChunks,
  type RankingParams,
} from "../agent/search/mod.ts";
import { buildEmbeddingIndex, hybridSearch, searchEmbeddings } from "../embeddings/mod.ts";
import { CORPORA, ensureCorpus, type EvalQuery, loadEvalSet } from "./search_corpora.ts";
import { evaluate, oldTfidfRanker, plainBm25Ranker, type Ranker } from "./search_quality.ts";
import { median } from "./stats.ts";
import { embedderFromSpec } from "./embedder_spec.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  options: {
    cache: { type: "string" },
    misses: { type: "boolean" },
    hybrid: { type: "string" },
    embedder: { type: "string" },
    "use-text": { type: "string" },
    "rrf-k": { type: "string" },
    full: { type: "boolean" },
    baselines: { type: "boolean" },
    fuse: { type: "string" },
    "doc-tokens": { type: "string" },
    time: { type: "string" },
  },
  allowPositionals: true,
});
const cache = flags.cache ?? join(Deno.env.get("TMPDIR") ?? "/tmp", "dspy-search-bench");
const variants = (positionals.length ? positionals : ["{}"]).map((v) => {
  const o = JSON.parse(v);
  return { label: v, params: { ...DEFAULT_RANKING, ...o, prior: { ...DEFAULT_RANKING.prior, ...o.prior } } };
});
const r3 = (x: number) => Math.round(x * 1000) / 1000;
let built = "";
const corpora: Corpus[] = [];
for (const name of CORPORA) {
  const set = await loadEvalSet(name);
  const root = await ensureCorpus(set, cache);
  corpora.push({
    name,
    root,
    index: undefined as unknown as LexicalIndex,
    tune: set.queries.filter((q) => q.split === "tune"),
  });
}
/** TF-IDF's behavioural MRR@10 per corpus, once `--baselines` has scored it. */
const tfidfMrr = new Map<string, number>();
type Corpus = { name: string; root: string; index: LexicalIndex; tune: EvalQuery[] };

/**
 * Scores one ranking on every corpus's tune half and prints one line: the averages, then each corpus's
 * behavioural MRR@10 / recall@5 / identifier MRR@10, the ratio to TF-IDF's MRR@10 (after `--baselines`),
 * and the average recall@5 over the files of the first 5 chunks (what `esearch` shows by default); with
 * `misses`, every query not answered first.
 */
async function scoreTune(label: string, rankFor: (c: Corpus) => Ranker, misses = false): Promise<void> {
  const cells: string[] = [];
  const ratios: string[] = [];
  let mrr = 0;
  let rec = 0;
  let idm = 0;
  let shown = 0;
  for (const c of corpora) {
    // Each query is ranked once: the two behavioural evaluations below share the ranking.
    const rankings = new Map<string, Promise<string[]> | string[]>();
    const ranker = rankFor(c);
    const rank: Ranker = (q) => {
      let r = rankings.get(q);
      if (r === undefined) rankings.set(q, r = ranker(q));
      return r;
    };
    const b = await evaluate(c.tune.filter((q) => q.kind === "behaviour"), rank);
    // What `esearch` prints by default: the files among the first 5 chunks (not the first 5 files).
    const s5 = await evaluate(
      c.tune.filter((q) => q.kind === "behaviour"),
      async (q) => (await rank(q)).slice(0, 5),
    );
    shown += s5.recall5 / corpora.length;
    const i = await evaluate(c.tune.filter((q) => q.kind === "identifier"), rank);
    mrr += b.mrr10 / corpora.length;
    rec += b.recall5 / corpora.length;
    idm += i.mrr10 / corpora.length;
    cells.push(`${c.name} ${r3(b.mrr10)}/${r3(b.recall5)}/${r3(i.mrr10)}`);
    if (label === "old TF-IDF") tfidfMrr.set(c.name, b.mrr10);
    else if (tfidfMrr.has(c.name)) ratios.push(`${c.name} ${(b.mrr10 / tfidfMrr.get(c.name)!).toFixed(2)}×`);
    if (misses) {
      for (const o of [...b.outcomes, ...i.outcomes]) {
        if (o.rank === 1 && o.recall5 === 1) continue;
        console.log(
          `  [${c.name}] rank ${o.rank || "-"} r5 ${r3(o.recall5)}  ${o.query}\n      ${o.top.join("  ")}`,
        );
      }
    }
  }
  const vs = ratios.length ? ` | vs TF-IDF: ${ratios.join(" ")}` : "";
  console.log(
    `${label}: avg ${r3(mrr)}/${r3(rec)}/${r3(idm)} | ${cells.join(" | ")}${vs} | R@5 of 5 chunks ${
      r3(shown)
    }`,
  );
}

if (flags.baselines) {
  // The old TF-IDF scheme and plain BM25 on the same tune queries (the goal is a ratio to TF-IDF's MRR@10).
  for (const [label, make] of [["old TF-IDF", oldTfidfRanker], ["plain BM25", plainBm25Ranker]] as const) {
    const rankers = new Map<string, Ranker>();
    for (const c of corpora) rankers.set(c.name, await make(c.root));
    await scoreTune(label, (c) => rankers.get(c.name)!);
  }
}

if (flags.fuse) {
  // Our ranking (defaults) fused with a baseline's by reciprocal rank fusion over files: does a second,
  // differently built lexical ranking add what ours misses?
  const build = JSON.stringify({});
  if (built !== build) {
    for (const c of corpora) {
      await buildIndex(c.root, { full: true });
      c.index = (await loadIndex(c.root))!;
    }
    built = build;
  }
  const files = (ranked: string[]) => [...new Set(ranked)];
  for (const [label, make] of [["old TF-IDF", oldTfidfRanker], ["plain BM25", plainBm25Ranker]] as const) {
    const rankers = new Map<string, Ranker>();
    for (const c of corpora) rankers.set(c.name, await make(c.root));
    for (const w of flags.fuse.split(",").map(Number)) {
      await scoreTune(`ours + ${label} (RRF) w=${w}`, (c) => async (q) => {
        const score = new Map<string, number>();
        const add = (ranked: string[], weight: number) =>
          ranked.forEach((f, i) => score.set(f, (score.get(f) ?? 0) + weight / (60 + i + 1)));
        add(files(rankChunks(c.index, q, 50, DEFAULT_RANKING).map((h) => h.path)), 1);
        add(files(await rankers.get(c.name)!(q)), w);
        return [...score].sort((x, y) => y[1] - x[1]).map(([f]) => f);
      });
    }
  }
}

for (const v of variants) {
  // A variant may carry build-time BM25F field weights or the line window: {"build": {"pathWeight": 1}}.
  const build = JSON.stringify((v.params as { build?: unknown }).build ?? {});
  if (build !== built) {
    for (const c of corpora) {
      await Deno.remove(join(c.root, ".dspy_index"), { recursive: true }).catch(() => {});
      // `chunkLines` is a build option of its own; the rest are BM25F parameters stored with the index.
      const { chunkLines, ...params } = JSON.parse(build);
      await buildIndex(c.root, { full: true, params, chunkLines });
      c.index = (await loadIndex(c.root))!;
    }
    built = build;
  }
  await scoreTune(
    v.label,
    (c) => (q) => rankChunks(c.index, q, 50, v.params as RankingParams).map((h) => h.path),
    flags.misses,
  );
}

if (flags.time) {
  // Ranking time per query (the index is loaded; proximity re-reads chunk text), variants interleaved.
  const rounds = Number(flags.time);
  const times = variants.map(() => [] as number[]);
  const all = corpora.flatMap((c) => c.tune.map((q) => ({ c, q: q.query })));
  for (let r = 0; r < rounds; r++) {
    variants.forEach((v, i) => {
      const t0 = performance.now();
      for (const { c, q } of all) rankChunks(c.index, q, 50, v.params as RankingParams);
      times[i].push((performance.now() - t0) / all.length);
    });
  }
  variants.forEach((v, i) => {
    console.log(`${v.label}: ${median(times[i]).toFixed(2)} ms per query (median of ${rounds} rounds)`);
  });
}

if (flags.hybrid) {
  const spec = flags.embedder ?? "hash";
  const embedder = await embedderFromSpec(
    spec === "use" && flags["use-text"] ? `use:${flags["use-text"]}` : spec,
    Number(flags["doc-tokens"] ?? 256),
  );
  const rrfK = flags["rrf-k"] ? Number(flags["rrf-k"]) : undefined;
  try {
    for (const c of corpora) {
      const r = await buildEmbeddingIndex(c.root, embedder, { full: flags.full });
      console.log(
        `embedded ${c.name} with ${r.model}: ${r.embedded} chunks embedded, ${r.reused} reused, ` +
          `${r.seconds.toFixed(1)} s` +
          (r.embedded > 0 ? ` (${(r.embedded / r.seconds).toFixed(1)} chunks/s)` : ""),
      );
    }
    await scoreTune(
      `${embedder.model} alone`,
      ({ root }) => async (q) =>
        (await searchEmbeddings(root, q, { k: 50, context: 0, embedder })).hits.map((h) => h.path),
    );
    for (const w of flags.hybrid.split(",").map(Number)) {
      await scoreTune(
        `hybrid ${embedder.model} w=${w}${rrfK ? ` rrfK=${rrfK}` : ""}`,
        ({ root }) => async (q) =>
          (await hybridSearch(root, q, { k: 20, context: 0, vectorWeight: w, embedder, rrfK })).hits
            .map((h) => h.path),
      );
    }
  } finally {
    await embedder.dispose();
  }
}
