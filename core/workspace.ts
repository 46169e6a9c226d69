/**
 * The workspace: the project folder dspy-code works on, and the fixed places under it where state lives.
 * Every path a subsystem writes is derived here from an explicit workspace, never from the process's current
 * directory, so two workspaces never share state by accident.
 *
 * @module
 */

import { isAbsolute, join, relative, resolve, sep } from "./path.ts";
import { UsageError, UserError } from "./errors.ts";

/** The state locations under a workspace. */
export interface WorkspacePaths {
  /** Absolute folder the state lives in: the workspace, or the session root it lies in ({@link stateRoot}). */
  root: string;
  /** `.dspy/`: KV database and checkpoints. */
  stateDir: string;
  /** `.dspy/state.kv`: the Deno KV database. */
  kvFile: string;
  /** `.dspy/rl/`: RL runs, sweeps and checkpoints. */
  rlDir: string;
  /** `.dspy_reports/`: dlq.jsonl, server_trace.log, bus metrics, experiments. */
  reportsDir: string;
  /** `.dspy_index/`: lexical and embedding indexes. */
  indexDir: string;
  /** `.dspy_index/emb_meta.json`: the embedding index's chunk table (it exists when there is one). */
  embeddingMetaFile: string;
  /** `.dspy_patches/`: patch history and backups. */
  patchesDir: string;
  /** `.dspy_agentic/`: retrieval event log. */
  agenticDir: string;
  /** `.dspy_rl_state.json`: the persisted tool bandit. */
  rlStateFile: string;
  /** `.dspy_rl_events.jsonl`: one `{ts, tool, reward}` per scored tool call. */
  rlEventsFile: string;
}

/** Session roots whose state also serves the folders inside them (see {@link pinStateRoot}). */
const pinnedRoots = new Set<string>();

/**
 * Keeps the state of every folder inside `root` at `root`: the session pins its workspace, so `cd src`
 * changes the folder commands work in but not where `.dspy/`, the index and the reports live (one state
 * root per workspace, as git has one `.git`). A folder outside every pinned root keeps its own state. The
 * search index and the patch history are the exception: they record paths relative to the folder they were
 * made for, so they stay with it.
 */
export function pinStateRoot(root: string): void {
  pinnedRoots.add(root);
}

/** The folder whose `.dspy*` state serves `workspace`: the outermost pinned root containing it, else itself. */
export function stateRoot(workspace: string): string {
  let best = workspace;
  for (const root of pinnedRoots) {
    if (root.length < best.length && isInside(root, workspace)) best = root;
  }
  return best;
}

/** Returns the state paths for an (already resolved) workspace root. */
export function workspacePaths(workspace: string): WorkspacePaths {
  const root = stateRoot(workspace);
  const stateDir = join(root, ".dspy");
  return {
    root,
    stateDir,
    kvFile: join(stateDir, "state.kv"),
    rlDir: join(stateDir, "rl"),
    reportsDir: join(root, ".dspy_reports"),
    // The index and the patch history record paths relative to the folder they were made in, so they stay
    // with that folder.
    indexDir: join(workspace, ".dspy_index"),
    embeddingMetaFile: join(workspace, ".dspy_index", "emb_meta.json"),
    patchesDir: join(workspace, ".dspy_patches"),
    agenticDir: join(root, ".dspy_agentic"),
    rlStateFile: join(root, ".dspy_rl_state.json"),
    rlEventsFile: join(root, ".dspy_rl_events.jsonl"),
  };
}

/**
 * Resolves a user-given workspace path to an absolute, existing directory (symlinks resolved).
 * Throws a {@link UsageError} (exit 2) naming the path when it is empty, missing or not a directory.
 */
export function resolveWorkspace(path: string, base: string = Deno.cwd()): string {
  if (path.trim() === "") {
    throw new UsageError("--workspace is empty: pass an existing folder with --workspace DIR");
  }
  const abs = resolve(base, path);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(abs);
  } catch {
    throw new UsageError(
      `workspace ${abs} does not exist: create it or pass an existing folder with --workspace DIR`,
    );
  }
  if (!info.isDirectory) {
    throw new UsageError(`workspace ${abs} is not a directory: pass a folder with --workspace DIR`);
  }
  return Deno.realPathSync(abs);
}

/** True when `child` (absolute) is `root` or lies inside it. Both must be normalised absolute paths. */
export function isInside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel) && rel.split(sep)[0] !== "..");
}

/**
 * Resolves `path` relative to the workspace and refuses anything that escapes it, including through
 * symlinks of the existing part of the path. Returns the absolute path.
 */
export function resolveInside(root: string, path: string): string {
  const abs = resolve(root, path);
  if (!isInside(root, abs)) {
    throw new UserError(`path ${path} is outside the workspace ${root}: use a path inside it`);
  }
  // Resolve symlinks on the longest existing prefix so a link cannot lead out of the workspace.
  let probe = abs;
  while (true) {
    try {
      const real = Deno.realPathSync(probe);
      if (!isInside(root, real)) {
        throw new UserError(`path ${path} leads outside the workspace through a symlink; refusing it`);
      }
      break;
    } catch (err) {
      if (err instanceof UserError) throw err;
      const parent = resolve(probe, "..");
      if (parent === probe) break;
      probe = parent;
    }
  }
  return abs;
}

/** Workspace-relative display path with forward slashes. */
export function displayPath(root: string, abs: string): string {
  const rel = relative(root, abs);
  return (rel === "" ? "." : rel).split(sep).join("/");
}
