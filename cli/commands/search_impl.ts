/**
 * Implementations of the search commands (loaded lazily by `cli/commands/search.ts`): argument parsing,
 * terminal and JSON output, the last-extract state, progress bars and retrieval events. The search logic
 * itself lives in `agent/search/`.
 *
 * @module
 */

import { join } from "../../core/path.ts";
import { atomicWriteJson } from "../../core/atomic.ts";
import { UsageError, UserError } from "../../core/errors.ts";
import { workspacePaths } from "../../core/workspace.ts";
import {
  buildIndex,
  changedSinceIndexed,
  diffFileAgainst,
  type Extract,
  extractSegment,
  hasFormat1Index,
  hasIndex,
  LAST_EXTRACT_KEY,
  logRetrieval,
  relatedQuery,
  type SearchHit,
  searchIndex,
  someOf,
  writeInside,
} from "../../agent/search/mod.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { lazyImport } from "../lazy.ts";
import { noteFilesWritten, sessionIndexWatch, takeRefreshFirst } from "../session_index.ts";
import { progressReporter } from "../progress_reporter.ts";
import { printDiff } from "./agent_format.ts";

function lastExtractFile(root: string): string {
  return join(workspacePaths(root).stateDir, "last_extract.json");
}

async function rememberExtract(ctx: CommandContext, seg: Extract): Promise<void> {
  ctx.session.state.set(LAST_EXTRACT_KEY, seg);
  // Also on disk, so `dspy-code extract ...` followed by `dspy-code diff F` works across processes.
  await atomicWriteJson(lastExtractFile(ctx.workspace), seg);
}

async function recallExtract(ctx: CommandContext, command: string): Promise<Extract> {
  const inSession = ctx.session.state.get(LAST_EXTRACT_KEY) as Extract | undefined;
  if (inSession) return inSession;
  try {
    return JSON.parse(await Deno.readTextFile(lastExtractFile(ctx.workspace))) as Extract;
  } catch {
    throw new UserError(`${command}: nothing extracted yet: run 'extract --file F --symbol NAME' first`);
  }
}

/** `extract`. */
export async function runExtract(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("extract", args, {
    file: { type: "string", short: "F" },
    symbol: { type: "string", short: "s" },
    regex: { type: "string" },
    re: { type: "string" },
    before: { type: "string", short: "B" },
    after: { type: "string", short: "A" },
    nth: { type: "string", short: "n" },
  }, { max: 0 });
  if (!values.file) throw new UserError("extract: --file F is required. See 'dspy-code extract --help'.");
  const seg = await extractSegment(ctx.workspace, values.file, {
    symbol: values.symbol,
    regex: values.regex ?? values.re,
    before: intOption("extract", "before", values.before, 3),
    after: intOption("extract", "after", values.after, 3),
    nth: intOption("extract", "nth", values.nth, 1) || 1,
  });
  await rememberExtract(ctx, seg);
  const { out } = ctx;
  if (out.json) {
    out.printJson({
      path: seg.path,
      start_line: seg.startLine,
      end_line: seg.endLine,
      symbol: seg.symbol,
      text: seg.text,
    });
  } else {
    const title = `${seg.path} lines ${seg.startLine}-${seg.endLine}` +
      (seg.symbol ? ` (${seg.kind} ${seg.symbol})` : "");
    out.print(out.c.bold(title));
    const width = String(seg.endLine).length;
    out.print(
      ...seg.text.split("\n").map((l, i) => `${out.c.dim(String(seg.startLine + i).padStart(width))}  ${l}`),
    );
  }
  return {
    ok: true,
    data: { path: seg.path, start_line: seg.startLine, end_line: seg.endLine, symbol: seg.symbol },
  };
}

/** `diff FILE`. */
export async function runDiff(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("diff", args, {
    context: { type: "string", short: "c" },
  }, { min: 1, max: 1, names: "FILE" });
  const seg = await recallExtract(ctx, "diff");
  const patch = await diffFileAgainst(
    ctx.workspace,
    positionals[0],
    seg.text,
    intOption("diff", "context", values.context, 3),
  );
  const { out } = ctx;
  if (!patch) {
    if (out.json) out.printJson({ file: positionals[0], diff: "" });
    else out.print("(no differences)");
    return { ok: true, data: { changed: false } };
  }
  if (out.json) out.printJson({ file: positionals[0], diff: patch });
  else printDiff(ctx, patch.split("\n").filter((l) => !l.startsWith("=====")).join("\n"));
  return { ok: true, data: { changed: true, diff: patch } };
}

/** `write PATH`. */
export async function runWrite(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("write", args, {}, { min: 1, max: 1, names: "PATH" });
  const seg = await recallExtract(ctx, "write");
  const rel = await writeInside(ctx.workspace, positionals[0], seg.text);
  noteFilesWritten(ctx);
  const lines = seg.text.split("\n").length;
  if (ctx.out.json) ctx.out.printJson({ path: rel, lines });
  else ctx.out.print(`Wrote ${lines} line${lines === 1 ? "" : "s"} to ${rel}`);
  return { ok: true, data: { path: rel, lines } };
}

/** `index`. */
export async function runIndex(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("index", args, {
    glob: { type: "string", short: "g", multiple: true },
    exclude: { type: "string", short: "x", multiple: true },
    "chunk-lines": { type: "string" },
    "max-file-bytes": { type: "string" },
    full: { type: "boolean" },
  }, { max: 0 });
  const maxFileBytes = values["max-file-bytes"] !== undefined
    ? intOption("index", "max-file-bytes", values["max-file-bytes"], 0)
    : undefined;
  if (maxFileBytes === 0) throw new UsageError("index: --max-file-bytes must be at least 1");
  const chunkLines = values["chunk-lines"] !== undefined
    ? intOption("index", "chunk-lines", values["chunk-lines"], 60, 5)
    : undefined;
  // Not while the session's pre-warm may be writing the same files.
  await sessionIndexWatch(ctx)?.settled();
  const progress = progressReporter(ctx, "indexing");
  const r = await buildIndex(ctx.workspace, {
    globs: values.glob,
    excludes: values.exclude,
    chunkLines,
    maxFileBytes,
    full: values.full,
    onProgress: progress.onProgress,
    signal: ctx.signal,
  });
  progress.done();
  // Its scope may have changed which folders the index covers: the session's next search re-arms the watch.
  sessionIndexWatch(ctx)?.markStale();
  // `files` counts the files with indexed text; the others walked (empty, binary, minified) are `files_skipped`,
  // so files + files_skipped = files_read + files_reused.
  const skipped = Math.max(0, r.filesRead + r.filesReused - r.files);
  const data = {
    files: r.files,
    files_skipped: skipped,
    chunks: r.chunks,
    files_read: r.filesRead,
    files_reused: r.filesReused,
    files_removed: r.filesRemoved,
    terms: r.terms,
    seconds: Math.round(r.seconds * 1000) / 1000,
    dir: r.dir,
  };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    ctx.out.print(
      `Indexed ${r.chunks} chunks from ${r.files} files (${r.filesRead} read, ${r.filesReused} unchanged` +
        `${skipped ? `, ${skipped} empty or binary skipped` : ""}` +
        `${r.filesRemoved ? `, ${r.filesRemoved} removed` : ""}) in ${
          r.seconds.toFixed(2)
        } s. Saved to ${r.dir}`,
    );
  }
  return { ok: true, data };
}

/** `esearch`. */
export async function runEsearch(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("esearch", args, {
    k: { type: "string", short: "k" },
    context: { type: "string", short: "c" },
    hybrid: { type: "boolean" },
    refresh: { type: "boolean" },
  }, { min: 1, names: "QUERY" });
  const query = positionals.join(" ");
  const k = intOption("esearch", "k", values.k, 5) || 5;
  const context = intOption("esearch", "context", values.context, 4);
  // In the session the index follows the files (the user's editor, `patch`, `edit --apply` and git change
  // them between searches): the watch refreshes it when it saw a change (agent/search/index_watch.ts).
  const watch = sessionIndexWatch(ctx);
  /** Whether this search brought the index up to date (built or refreshed it) before ranking. */
  let fresh = false;
  let hits: (SearchHit & { source?: string })[];
  let source = "bm25";
  try {
    let progress: ReturnType<typeof progressReporter> | undefined;
    if (!(await hasIndex(ctx.workspace))) {
      watch?.building();
      ctx.out.info(
        await hasFormat1Index(ctx.workspace)
          ? "The index was written by an older version of dspy-code: rebuilding it first."
          : "No index yet: building it first.",
      );
      progress = progressReporter(ctx, "indexing");
      fresh = true;
    } else {
      const asked = takeRefreshFirst(ctx) || values.refresh === true;
      const bar = progressReporter(ctx, "refreshing index", { onlyWithWork: !values.refresh });
      const build = { onProgress: bar.onProgress, signal: ctx.signal };
      if (watch) fresh = await watch.refreshIfStale(build, asked);
      else if (asked) {
        await buildIndex(ctx.workspace, { ...build, keepScope: true });
        fresh = true;
      }
      bar.done();
    }
    if (values.hybrid) {
      if (progress) {
        await buildIndex(ctx.workspace, { onProgress: progress.onProgress, signal: ctx.signal });
        progress.done();
      }
      // By URL (cli/lazy.ts): a literal import would put the whole embeddings layer, the bus and their npm
      // packages into the module graph Deno loads before every esearch, hybrid or not.
      const { hybridSearch } = await lazyImport<typeof import("../../embeddings/mod.ts")>(
        new URL("../../embeddings/mod.ts", import.meta.url),
      );
      // The session brings the vectors up to date when it saw files change (only changed files are embedded
      // again), as does --refresh; a one-shot search from the index as it was leaves the vectors of changed
      // files out, and says so.
      const embedBar = progressReporter(ctx, "embedding changed files", { onlyWithWork: true });
      const r = await hybridSearch(ctx.workspace, query, {
        k,
        context,
        refreshVectors: watch ? () => watch.takeVectorsStale() : fresh,
        onRefreshFailed: () => watch?.vectorsRefreshFailed(),
        onEmbedProgress: embedBar.onProgress,
        signal: ctx.signal,
      });
      embedBar.done();
      hits = r.hits;
      source = r.fused ? "hybrid" : "bm25";
      if (!r.fused) ctx.out.warn(r.note ?? "no embedding index: showing BM25 results only (run 'emb-index')");
      else if (r.note) ctx.out.warn(r.note); // vectors of files changed since emb-index were left out
    } else {
      hits = await searchIndex(ctx.workspace, query, {
        k,
        context,
        build: progress ? { onProgress: progress.onProgress, signal: ctx.signal } : undefined,
      });
      progress?.done();
    }
    await watch?.searched();
  } catch (err) {
    watch?.markStale(); // a build cut short (Ctrl-C) leaves the index as it was
    throw err;
  }
  if (hits.length === 0) {
    // No word of the query is in the index ("subtract" over code that says `sub`, or a slip): search the
    // index's words that look like them, and say which stood for which.
    const related = await relatedQuery(ctx.workspace, query);
    if (related) {
      const pairs = related.words.map((w) => `${w.related.join("/")} for '${w.word}'`).join(", ");
      ctx.out.info(
        `No code uses a word of '${query}': showing results for words it uses that look alike (${pairs}).`,
      );
      hits = await searchIndex(ctx.workspace, related.query, { k, context });
      source = "bm25-related"; // the retrieval log tells these hits from the query's own
    }
  }
  // A search from the index as it was says when files it shows changed since (the session never needs to).
  const changed = fresh || watch ? [] : await changedSinceIndexed(ctx.workspace, hits.map((h) => h.path));
  if (changed.length) {
    ctx.out.warn(
      `${
        someOf(changed)
      } changed since the index was built: run 'esearch --refresh' to search them as they ` +
        `are now`,
    );
  }
  await logRetrieval(ctx.workspace, query, hits.map((h) => ({ path: h.path, score: h.score, source })), {
    action: "retrieval.esearch",
    backend: source,
    k,
  });
  const { out } = ctx;
  if (out.json) {
    out.printJson(hits.map((h) => ({
      path: h.path,
      start_line: h.start_line,
      end_line: h.end_line,
      score: h.score,
      ...(h.symbol ? { symbol: h.symbol } : {}),
      snippet: h.snippet,
    })));
  } else if (hits.length === 0) {
    out.print(`No results for '${query}'.`);
  } else {
    for (const h of hits) {
      out.print(
        `${out.c.magenta(h.path)}  ${
          out.c.dim(`score=${h.score.toFixed(3)}`)
        }  lines ${h.start_line}-${h.end_line}` +
          (h.symbol ? `  ${out.c.cyan(h.symbol)}` : ""),
      );
      if (h.snippet) out.print(...h.snippet.split("\n").map((l) => "    " + l), "");
    }
  }
  return {
    ok: true,
    data: {
      query,
      hits: hits.map((h) => ({
        path: h.path,
        start_line: h.start_line,
        end_line: h.end_line,
        score: h.score,
        ...(h.symbol ? { symbol: h.symbol } : {}),
      })),
    },
  };
}
