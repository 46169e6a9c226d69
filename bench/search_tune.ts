/**
 * Ranking tuning on the TUNE half only: builds each corpus's index once, then scores ranking variants given
 * as JSON objects (merged over DEFAULT_RANKING) on the tune queries. It never reads the test half.
 *
 * Usage: `deno run -A bench/search_tune.ts [--cache DIR] [--misses] [--hybrid 0,0.1,0.5] '{"defBoost":2}' ...`
 * (`--hybrid` scores hybrid search with the hash embedder at each vector weight, default ranking).
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
import { buildEmbeddingIndex, createHashEmbedder, hybridSearch } from "../embeddings/mod.ts";
import { CORPORA, ensureCorpus, type EvalQuery, loadEvalSet } from "./search_corpora.ts";
import { evaluate } from "./search_quality.ts";

const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  options: { cache: { type: "string" }, misses: { type: "boolean" }, hybrid: { type: "string" } },
  allowPositionals: true,
});
const cache = flags.cache ?? join(Deno.env.get("TMPDIR") ?? "/tmp", "dspy-search-bench");
const variants = (positionals.length ? positionals : ["{}"]).map((v) => {
  const o = JSON.parse(v);
  return { label: v, params: { ...DEFAULT_RANKING, ...o, prior: { ...DEFAULT_RANKING.prior, ...o.prior } } };
});
const r3 = (x: number) => Math.round(x * 1000) / 1000;
let built = "";
const corpora: { name: string; root: string; index: LexicalIndex; tune: EvalQuery[] }[] = [];
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
for (const v of variants) {
  // A variant may carry build-time BM25F field weights: {"build": {"pathWeight": 1}}.
  const build = JSON.stringify((v.params as { build?: unknown }).build ?? {});
  if (build !== built) {
    for (const c of corpora) {
      await Deno.remove(join(c.root, ".dspy_index"), { recursive: true }).catch(() => {});
      await buildIndex(c.root, { full: true, params: JSON.parse(build) });
      c.index = (await loadIndex(c.root))!;
    }
    built = build;
  }
  const cells: string[] = [];
  let mrr = 0;
  let rec = 0;
  let idm = 0;
  for (const c of corpora) {
    const rank = (q: string) => rankChunks(c.index, q, 50, v.params as RankingParams).map((h) => h.path);
    const b = await evaluate(c.tune.filter((q) => q.kind === "behaviour"), rank);
    const i = await evaluate(c.tune.filter((q) => q.kind === "identifier"), rank);
    mrr += b.mrr10 / corpora.length;
    rec += b.recall5 / corpora.length;
    idm += i.mrr10 / corpora.length;
    cells.push(`${c.name} ${r3(b.mrr10)}/${r3(b.recall5)}/${r3(i.mrr10)}`);
    if (flags.misses) {
      for (const o of [...b.outcomes, ...i.outcomes]) {
        if (o.rank === 1 && o.recall5 === 1) continue;
        console.log(
          `  [${c.name}] rank ${o.rank || "-"} r5 ${r3(o.recall5)}  ${o.query}\n      ${o.top.join("  ")}`,
        );
      }
    }
  }
  console.log(`avg ${r3(mrr)}/${r3(rec)}/${r3(idm)} | ${cells.join(" | ")} | ${v.label}`);
}

if (flags.hybrid) {
  for (const c of corpora) await buildEmbeddingIndex(c.root, createHashEmbedder(), { full: true });
  for (const w of flags.hybrid.split(",").map(Number)) {
    const cells: string[] = [];
    let mrr = 0;
    for (const c of corpora) {
      const rank = async (q: string) =>
        (await hybridSearch(c.root, q, { k: 20, context: 0, vectorWeight: w })).hits.map((h) => h.path);
      const b = await evaluate(c.tune.filter((q) => q.kind === "behaviour"), rank);
      const i = await evaluate(c.tune.filter((q) => q.kind === "identifier"), rank);
      mrr += b.mrr10 / corpora.length;
      cells.push(`${c.name} ${r3(b.mrr10)}/${r3(b.recall5)}/${r3(i.mrr10)}`);
    }
    console.log(`hybrid w=${w}: avg mrr ${r3(mrr)} | ${cells.join(" | ")}`);
  }
}
