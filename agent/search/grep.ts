/**
 * Parallel grep over the workspace. The caller walks the files (honouring ignore rules) and hands batches
 * to one or more workers, which read the files, skip binary and oversized ones, and return matching lines.
 * A pattern that takes too long (catastrophic backtracking) is stopped by terminating the workers, so grep
 * never hangs; a bad regex is a clear error before any file is read.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import { compilePattern, type GrepJob, type GrepMatch, type GrepWorkerReply } from "./grep_core.ts";
import { DEFAULT_MAX_FILE_BYTES, isBinary, iterateFiles, relPath } from "./walk.ts";

export type { GrepMatch } from "./grep_core.ts";

/** Options for {@link grepWorkspace}. */
export interface GrepOptions {
  /** Literal search instead of a regular expression. */
  fixed?: boolean;
  /** Case-insensitive. */
  ignoreCase?: boolean;
  /** Include globs (gitignore syntax). */
  globs?: string[];
  /** Exclude globs (gitignore syntax). */
  excludes?: string[];
  /** Lines of context before and after each match (default 0). */
  context?: number;
  /** Search only this workspace-relative file. */
  file?: string;
  /** Stop after this many matches (default 1000). */
  max?: number;
  /** Skip files larger than this (default 1 MiB). */
  maxFileBytes?: number;
  /**
   * Give up when no batch of files finishes for this long (default 30 s): a batch is a few dozen files, so
   * only a pattern that backtracks catastrophically gets there. Big trees are fine: the clock restarts on
   * every finished batch.
   */
  timeoutMs?: number;
  /** Worker count (default: the number of cores, at most 4). */
  workers?: number;
  /** Cancels the search. */
  signal?: AbortSignal;
}

/** What {@link grepWorkspace} found. */
export interface GrepResult {
  /** Matches sorted by path, then line. */
  matches: GrepMatch[];
  /** Text files actually searched. */
  filesSearched: number;
  /** True when the search stopped at `max`. */
  truncated: boolean;
  /** Wall time in seconds. */
  seconds: number;
}

const BATCH = 48;

/**
 * Searches the workspace for a pattern.
 *
 * @example
 * ```ts
 * const { matches } = await grepWorkspace("/work/project", "def .*test", { globs: ["*.py"] });
 * for (const m of matches) console.log(`${m.path}:${m.line}: ${m.text}`);
 * ```
 */
export async function grepWorkspace(
  root: string,
  pattern: string,
  options: GrepOptions = {},
): Promise<GrepResult> {
  const started = performance.now();
  const re = compilePattern(pattern, options);
  const max = options.max ?? 1000;
  const context = options.context ?? 0;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxWorkers = Math.max(1, options.workers ?? Math.min(4, navigator.hardwareConcurrency || 2));

  let single: GrepJob | undefined;
  if (options.file) {
    const abs = resolveInside(root, options.file);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(abs);
    } catch {
      throw new UserError(`grep: no such file ${options.file}: give a path relative to the workspace`);
    }
    if (!info.isFile) throw new UserError(`grep: ${options.file} is not a file`);
    const head = new Uint8Array(8192);
    const fh = await Deno.open(abs);
    let n: number | null;
    try {
      n = await fh.read(head);
    } finally {
      fh.close();
    }
    if (isBinary(head.subarray(0, n ?? 0))) throw new UserError(`grep: ${options.file} is a binary file`);
    if (info.size > maxFileBytes) {
      throw new UserError(
        `grep: ${options.file} is over the size limit (${maxFileBytes} bytes); raise --max-file-bytes`,
      );
    }
    single = { abs, rel: relPath(root, abs) };
  }

  const workers: Worker[] = [];
  const pending: number[] = []; // batches in flight per worker
  // Results by batch id. Batches go out in walk order (sorted per directory), so the matches of batches
  // 0..prefixDone-1 are the first ones in that order whichever worker finished first: `--max N` stops only
  // once that finished prefix holds N matches, so the same N matches come back on every run.
  const batchMatches = new Map<number, GrepMatch[]>();
  let prefixDone = 0;
  let prefixCount = 0;
  let filesSearched = 0;
  let outstanding = 0;
  let walkDone = false;
  let stopped = false;
  let nextId = 0;
  let filesSeen = 0;
  let settle!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (err?: Error) => (err ? reject(err) : resolve());
  });
  const maybeDone = () => {
    if (stopped || (walkDone && outstanding === 0)) settle();
  };

  const spawn = () => {
    const index = workers.length;
    const w = new Worker(new URL("./grep_worker.ts", import.meta.url), { type: "module" });
    w.postMessage({ type: "init", source: re.source, flags: re.flags, context, maxFileBytes });
    w.onmessage = (ev: MessageEvent<GrepWorkerReply>) => {
      outstanding--;
      pending[index]--;
      progressed();
      filesSearched += ev.data.searched;
      batchMatches.set(ev.data.id, ev.data.matches);
      while (batchMatches.has(prefixDone)) prefixCount += batchMatches.get(prefixDone++)!.length;
      if (prefixCount >= max) stopped = true; // enough: the rest is cancelled with the workers
      maybeDone();
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      stopped = true;
      settle(new Error(`grep worker failed: ${ev.message}`));
    };
    workers.push(w);
    pending.push(0);
  };

  // Batches go out as soon as they fill, to the worker with the shortest queue; a second worker joins
  // once the tree proves big enough to pay for its start-up.
  const send = (batch: GrepJob[]) => {
    if (stopped) return;
    if (workers.length === 0 || (workers.length < maxWorkers && filesSeen > 2 * BATCH)) spawn();
    let best = 0;
    for (let i = 1; i < workers.length; i++) if (pending[i] < pending[best]) best = i;
    pending[best]++;
    outstanding++;
    progressed(); // the walk is moving: a long walk over a huge tree is not a stall
    workers[best].postMessage({ type: "files", id: nextId++, files: batch });
  };

  const stall = () => {
    stopped = true;
    settle(
      new UserError(
        `grep: gave up after ${
          (timeoutMs / 1000).toFixed(timeoutMs < 1000 ? 1 : 0)
        } s without progress: the ` +
          `pattern '${pattern}' may backtrack catastrophically; simplify it, narrow the files with --glob, ` +
          `or use --fixed`,
      ),
    );
  };
  let timer = setTimeout(stall, timeoutMs);
  const progressed = () => {
    clearTimeout(timer);
    timer = setTimeout(stall, timeoutMs);
  };
  const onAbort = () => {
    stopped = true;
    settle(new UserError("grep: cancelled"));
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });

  try {
    // The first worker starts with the first file the walk finds, not before the walk: constructing a
    // Worker blocks this thread for 30-300 ms (a new isolate), which a search that finds no file at all (an
    // empty or fully ignored folder) need not pay. Its module loading then runs on its own thread while
    // the walk fills the first batch.
    if (single) {
      filesSeen = 1;
      send([single]);
    } else {
      let batch: GrepJob[] = [];
      const walk = iterateFiles(root, {
        globs: options.globs,
        excludes: options.excludes,
        maxFileBytes,
        stat: false,
        signal: options.signal,
      });
      for await (const f of walk) {
        if (stopped) break;
        if (filesSeen++ === 0) spawn();
        batch.push({ abs: f.abs, rel: f.rel });
        if (batch.length >= BATCH) {
          send(batch);
          batch = [];
        }
      }
      if (batch.length > 0) send(batch);
    }
    walkDone = true;
    maybeDone();
    await finished;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
  }

  // Only the finished prefix counts (later batches that happened to finish are dropped); when the walk ran to
  // the end without reaching max, that prefix is every batch.
  const matches: GrepMatch[] = [];
  for (let id = 0; id < prefixDone; id++) for (const m of batchMatches.get(id)!) matches.push(m);
  const truncated = matches.length > max || (stopped && prefixCount >= max);
  if (matches.length > max) matches.length = max;
  matches.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line));
  return { matches, filesSearched, truncated, seconds: (performance.now() - started) / 1000 };
}
