/**
 * What esearch adds on top of a chunk's BM25F score, chosen by measurement on the tune half of three
 * corpora (docs/search.md): the kind of query (an exact identifier or a description of behaviour), priors
 * per kind of file (tests, type declarations, docs, changelogs, generated code are demoted for
 * descriptions but not for identifier lookups), a boost for the chunk that declares a looked-up name, term
 * proximity (the query's words close together in a chunk), file-level aggregation (a file whose several
 * chunks match gains on one lucky chunk elsewhere; off) and file diversification of the listed chunks.
 *
 * @module
 */

/** The kinds of file the ranking treats differently. */
export type FileKind = "code" | "test" | "declaration" | "doc" | "changelog" | "generated" | "example";

/** Classifies a workspace-relative path. */
export function fileKind(path: string): FileKind {
  const p = path.replace(/\\/g, "/");
  const base = p.slice(p.lastIndexOf("/") + 1);
  if (/^(changelog|changes|history|news|releases?)(\.[a-z]+)?$/i.test(base)) return "changelog";
  if (/\.d\.[cm]?ts$|\.pyi$/.test(base)) return "declaration";
  if (/\.pb\.go$|_pb2(_grpc)?\.py$|\.generated\.|^zz_generated|_gen\.go$|\.min\.[jc]ss?$/.test(base)) {
    return "generated";
  }
  if (
    /(^|\/)(tests?|__tests__|spec|specs|testdata|testing|__mocks__|fixtures?)\//i.test(p) ||
    /_test\.(go|py|rs|[cm]?[jt]sx?)$|\.(test|spec)\.[cm]?[jt]sx?$|^test_[^/]*\.py$|^conftest\.py$/.test(base)
  ) return "test";
  if (/(^|\/)(examples?|samples?|demos?|benchmarks?)\//i.test(p)) return "example";
  if (
    /\.(md|markdown|rst|txt|adoc|html?)$/i.test(base) || /^(readme|contributing|license|copying)/i.test(base)
  ) {
    return "doc";
  }
  return "code";
}

/**
 * True when the query is an exact name rather than a description: one word (or `a.b`) written like code —
 * with a capital letter, an underscore or a dot (`commitOffsets`, `RequestQueue`, `parse_url`).
 */
export function isIdentifierQuery(query: string): boolean {
  const q = query.trim();
  return /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(q) && /[A-Z_.$]/.test(q);
}

/** The ranking knobs (see {@link DEFAULT_RANKING}). */
export interface RankingParams {
  /** Score multiplier per file kind for descriptive queries (identifier lookups are not demoted). */
  prior: Record<FileKind, number>;
  /** Multiplier for a chunk that declares the looked-up identifier (or a file named after it). */
  defBoost: number;
  /** Share of a file's 2nd (and half of it for the 3rd) best chunk score added to all its chunks. */
  fileAgg: number;
  /**
   * Weight of the structural prior for descriptive queries: score × (1 + graph × centrality^graphPow), the
   * file's PageRank in the reference graph scaled to [0, 1] (`graph_prior.ts`); 0 turns it off.
   */
  graph?: number;
  /** Exponent on the centrality (default 1; below 1 flattens the tail). */
  graphPow?: number;
  /**
   * Weight of co-occurrence expansion terms for descriptive queries (`cooccur.ts`); 0 turns it off.
   */
  expand?: number;
  /** Expansion terms per query term (default 3). */
  expandPerTerm?: number;
  /** Minimum lift of an expansion term (default 4). */
  expandLift?: number;
  /**
   * Weight of the programming thesaurus's code words for descriptive queries (`code_thesaurus.ts`), relative
   * to the query's own terms; 0 or undefined turns it off.
   */
  synonyms?: number;
  /**
   * File-level coordination for descriptive queries: score × (share of the query's indexed terms found
   * anywhere in the chunk's file)^fileCoord; 0 turns it off.
   */
  fileCoord?: number;
  /**
   * Term proximity for descriptive queries: the best `proximityTop` chunks (default 30) are re-read and
   * multiplied by 1 + proximity × (share of the query's terms beyond the first found together within
   * `proximityLines` consecutive lines, default 3); 0 or undefined turns it off. Needs the index's `root`.
   */
  proximity?: number;
  proximityTop?: number;
  proximityLines?: number;
  /**
   * File diversification of the listed chunks: each further chunk of a file already listed is multiplied by
   * this once more (0: every file's best chunk before any file's second); undefined or 1 turns it off. The
   * order of files does not change, only which chunks fill the first k places.
   */
  diversify?: number;
  /** BM25 parameters at query time (undefined: those stored with the index). */
  k1?: number;
  b?: number;
}

/** Defaults, tuned on the tune half of bench/data/*_eval.json. */
export const DEFAULT_RANKING: RankingParams = {
  prior: { code: 1, test: 0.4, declaration: 0.5, doc: 0.6, changelog: 0.3, generated: 0.5, example: 0.7 },
  defBoost: 3,
  fileAgg: 0,
  synonyms: 0.35,
  proximity: 2,
  proximityLines: 3,
  diversify: 0.25,
};

/** The file name without folders and extension(s), lower-cased (`src/utils/once.js` → `once`). */
export function baseName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/(\.[A-Za-z0-9]+)+$/, "").toLowerCase();
}
