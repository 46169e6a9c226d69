/**
 * Parallel grep over the workspace. Everything heavy runs in workers (`grep_worker.ts`): the first one walks
 * the tree (honouring ignore rules) in order, cuts it into numbered batches and searches along; the others
 * search the batches it hands them; whichever is free claims the next batch from a shared counter. They read
 * the files, skip binary and oversized ones, and return matching lines; this thread only starts them and
 * collects. A pattern that takes too long (catastrophic backtracking) is stopped by terminating the workers,
 * so grep never hangs; a bad regex is a clear error before any file is read.
 *
 * A small tree (up to 1,000 files) searched for a pattern that cannot backtrack (`cannotBacktrack`: a literal,
 * or a regex without quantifiers) is searched on this thread instead: starting a worker costs more than
 * searching such a tree, and such a pattern cannot hang. If that takes longer than `inThreadMs`, the files
 * left go to a worker, so the event loop (and Ctrl-C) waits no longer than that.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import {
  BATCH_FILES,
  cannotBacktrack,
  compilePattern,
  type GrepInit,
  type GrepMatch,
  type GrepWorkerReply,
  OTHERS_STARTED,
} from "./grep_core.ts";
import { FileSearcher } from "./grep_files.ts";
import { DEFAULT_MAX_FILE_BYTES, isBinary, iterateFilesSync, relPath } from "./walk.ts";

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
  /**
   * Most workers. Default: none for a tree of up to 1,000 files and a pattern that cannot backtrack (this
   * thread searches it), else one per core, at most 4, and beyond the first only as many as cores sat idle
   * while the first started (`/proc/stat`). Given, the search always runs in workers, and that many start on
   * a tree of 144 files or more.
   */
  workers?: number;
  /**
   * The longest this thread searches a small tree itself (default 150 ms): the files left then go to a
   * worker. The thread does not turn its event loop while it searches, so Ctrl-C (the `signal`) waits until
   * then.
   */
  inThreadMs?: number;
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
  /** Worker threads started: 0 when this thread searched the files itself. */
  workers: number;
}

/** The machine's CPU time so far from `/proc/stat` (Linux), in clock ticks: idle (with I/O wait) and total. */
export interface MachineCpu {
  idle: number;
  total: number;
}

function machineCpu(): MachineCpu | undefined {
  try {
    // Never a permission prompt in the middle of a search: read it only when reading it is already allowed.
    if (Deno.permissions.querySync({ name: "read", path: "/proc/stat" }).state !== "granted") {
      return undefined;
    }
    const text = Deno.readTextFileSync("/proc/stat");
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user/nice)
    const f = text.slice(0, text.indexOf("\n")).trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
    return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined; // not Linux, or no read permission: no opinion
  }
}

/**
 * How many cores sat idle between two samples (rounded), or undefined when it cannot be told (no samples, or
 * a window under ~3 ticks per core). A worker costs ~50 ms of CPU to start (a new isolate) and contends with
 * the walker: on a machine whose cores are all busy, a second one made grep slower, not faster.
 */
export function idleCores(before: MachineCpu | undefined, after: MachineCpu | undefined, cores: number) {
  if (!before || !after) return undefined;
  const total = after.total - before.total;
  if (total < 3 * cores) return undefined;
  return Math.round(((after.idle - before.idle) / total) * cores);
}

/**
 * Up to this many files, a pattern that cannot backtrack is searched on the caller's thread, without
 * workers (see docs/search.md, "grep on a small tree").
 */
const IN_THREAD_MAX_FILES = 1000;

/** A tree with at least this many files to search gets all workers (three batches of the walker's). */
const BIG_TREE_FILES = 3 * BATCH_FILES;

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
  const cores = navigator.hardwareConcurrency || 2;
  const maxWorkers = Math.max(1, options.workers ?? Math.min(4, cores));
  const cpuBefore = options.workers === undefined ? machineCpu() : undefined;

  let single: string | undefined;
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
    single = relPath(root, abs);
  }
  // A small tree searched for a pattern that cannot backtrack needs no worker at all: constructing one
  // blocks this thread for 30-300 ms (a new isolate), longer than this thread takes to search such a tree.
  let bigTree = false; // known to have more than IN_THREAD_MAX_FILES files
  // What this thread found before it handed the files left (`rest`) to workers.
  const prefix: GrepMatch[] = [];
  let prefixSearched = 0;
  let rest: string[] | undefined;
  if (options.workers === undefined && cannotBacktrack(re.source)) {
    const files = single ? [single] : smallTree(root, options);
    bigTree = files === undefined;
    if (files) {
      const searcher = new FileSearcher(root, re.source, re.flags, context, maxFileBytes);
      const deadline = started + (options.inThreadMs ?? 150);
      for (let i = 0; i < files.length; i++) {
        if (options.signal?.aborted) throw new UserError("grep: cancelled");
        if (i > 0 && performance.now() > deadline) {
          rest = files.slice(i);
          break;
        }
        if (searcher.searchFile(files[i], prefix)) prefixSearched++;
        if (prefix.length >= max) break; // as the workers do: the first `max` in walk order
      }
      if (!rest) {
        const truncated = prefix.length >= max;
        if (prefix.length > max) prefix.length = max;
        prefix.sort(byPathThenLine);
        const seconds = (performance.now() - started) / 1000;
        return { matches: prefix, filesSearched: prefixSearched, truncated, seconds, workers: 0 };
      }
    }
  }
  /** The matches the workers may add. */
  const limit = max - prefix.length;
  /** Files the walker searches instead of walking. */
  const listed = single ? [single] : rest;
  // A folder with no file to search (empty, or all of it ignored) starts no worker, and a small one only the
  // walker: constructing a worker blocks this thread for 30-300 ms (a new isolate) and costs ~50 ms of CPU.
  // Finding the first file costs a directory read or two here; the rest of the probe runs once the walker
  // is started, while it loads its modules.
  const probe = listed || bigTree
    ? undefined
    : iterateFilesSync(root, { globs: options.globs, excludes: options.excludes, stat: false });
  if (probe?.next().done) {
    const seconds = (performance.now() - started) / 1000;
    return { matches: [], filesSearched: 0, truncated: false, seconds, workers: 0 };
  }

  const workers: Worker[] = [];
  // Results by batch id. Batches are numbered in walk order (sorted per directory), so the matches of batches
  // 0..prefixDone-1 are the first ones in that order whichever worker finished first: `--max N` stops only
  // once that finished prefix holds N matches, so the same N matches come back on every run.
  const batchMatches = new Map<number, GrepMatch[]>();
  let prefixDone = 0;
  let prefixCount = 0;
  let filesSearched = 0;
  let batchesTotal = -1; // known once the walk is over
  let batchesDone = 0;
  let stopped = false;
  let settle!: (err?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (err?: Error) => (err ? reject(err) : resolve());
  });
  const maybeDone = () => {
    if (stopped || (batchesTotal >= 0 && batchesDone >= batchesTotal)) settle();
  };

  // The walker hands every batch to each other worker through a port of its own; the shared counters say
  // which batch is the next to claim and how many of those workers have started.
  const shared = new SharedArrayBuffer(8);
  const channels = Array.from({ length: single ? 0 : maxWorkers - 1 }, () => new MessageChannel());
  const onReply = (ev: MessageEvent<GrepWorkerReply>) => {
    const reply = ev.data;
    progressed();
    if (reply.type === "walked") batchesTotal = reply.batches;
    else {
      batchesDone++;
      filesSearched += reply.searched;
      batchMatches.set(reply.id, reply.matches);
      while (batchMatches.has(prefixDone)) prefixCount += batchMatches.get(prefixDone++)!.length;
      if (prefixCount >= limit) stopped = true; // enough: the rest is cancelled with the workers
    }
    maybeDone();
  };
  const spawn = (role: Pick<GrepInit, "walk" | "files" | "ports">, transfer: Transferable[]) => {
    if (stopped) return;
    const w = new Worker(new URL("./grep_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = onReply;
    w.onerror = (ev) => {
      ev.preventDefault();
      stopped = true;
      settle(new Error(`grep worker failed: ${ev.message}`));
    };
    workers.push(w);
    const init: GrepInit = {
      type: "init",
      root,
      source: re.source,
      flags: re.flags,
      context,
      maxFileBytes,
      shared,
      ...role,
    };
    w.postMessage(init, transfer);
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
    const ports = channels.map((ch) => ch.port1);
    spawn(
      listed
        ? { files: listed, ports }
        : { walk: { globs: options.globs, excludes: options.excludes }, ports },
      ports,
    );
    // Counting the first three batches of files: on a tree that big the other workers start now (the walker
    // walks and searches meanwhile); on a smaller one the walker alone is done before they would be up.
    let found = bigTree ? BIG_TREE_FILES : listed ? listed.length : 1;
    if (probe) { for (const _ of probe) if (++found >= BIG_TREE_FILES) break; }
    if (found >= BIG_TREE_FILES) {
      const extra = Math.min(channels.length, idleCores(cpuBefore, machineCpu(), cores) ?? channels.length);
      for (const ch of channels.slice(0, extra)) {
        // Raised first: the walker sends batches into the port at once; they wait there for the worker.
        Atomics.add(new Int32Array(shared), OTHERS_STARTED, 1);
        spawn({ ports: [ch.port2] }, [ch.port2]);
      }
    }
    await finished;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    for (const w of workers) w.terminate();
    for (const ch of channels) ch.port2.close();
  }

  // Only the finished prefix counts (later batches that happened to finish are dropped); when the walk ran to
  // the end without reaching max, that prefix is every batch.
  const matches: GrepMatch[] = prefix;
  for (let id = 0; id < prefixDone; id++) for (const m of batchMatches.get(id)!) matches.push(m);
  const truncated = matches.length > max || (stopped && prefixCount >= limit);
  if (matches.length > max) matches.length = max;
  matches.sort(byPathThenLine);
  const seconds = (performance.now() - started) / 1000;
  return {
    matches,
    filesSearched: prefixSearched + filesSearched,
    truncated,
    seconds,
    workers: workers.length,
  };
}

function byPathThenLine(a: GrepMatch, b: GrepMatch): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line;
}

/**
 * The files a walk of `root` yields, in walk order, when there are at most {@link IN_THREAD_MAX_FILES};
 * undefined for a bigger tree (the walk stops there).
 */
function smallTree(root: string, options: GrepOptions): string[] | undefined {
  const files: string[] = [];
  // Without `stat` the size limit is not applied here: the searcher skips files over it as it reads them.
  const walk = iterateFilesSync(root, { globs: options.globs, excludes: options.excludes, stat: false });
  for (const f of walk) {
    if (files.length === IN_THREAD_MAX_FILES) return undefined;
    files.push(f.rel);
  }
  return files;
}
