/**
 * The file walk every search shares: it lists the workspace's files while honouring `.gitignore` files at
 * every level, an optional `.dspyignore`, default excludes (`.git`, `node_modules`, `.venv`, `dist`, `build`,
 * `__pycache__` and the `.dspy*` state folders), user include/exclude globs (gitignore syntax), a size limit,
 * and never follows a symlink that leads out of the workspace. Binary detection (a NUL byte in the first
 * 8 KiB) happens where files are read, see {@link isBinary} and {@link readTextIfText}. Ignore files and globs
 * are matched by our own `gitignore.ts` (git's rules, case-sensitive), and paths are joined with
 * `core/path.ts`: no npm package and no `node:` module, so a `grep` process does not pay for loading them.
 *
 * @module
 */

import { join, relative } from "../../core/path.ts";
import { isInside } from "../../core/workspace.ts";
import { createGitignore, type Gitignore } from "./gitignore.ts";

/** Folders never searched. */
export const DEFAULT_EXCLUDES: readonly string[] = [
  ".git/",
  "node_modules/",
  ".venv/",
  "dist/",
  "build/",
  "__pycache__/",
  ".dspy*/",
  ".dspy_rl_state.json",
  ".dspy_rl_state.json.corrupt-*",
  ".dspy_rl_events.jsonl",
];

/** Default size limit for searched files: 1 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** Options for {@link walkFiles}. */
export interface WalkOptions {
  /** Include globs (gitignore syntax: `*.ts` matches at any depth, `src/**\/*.ts` is anchored). */
  globs?: string[];
  /** Exclude globs (gitignore syntax); a matching folder is not entered. */
  excludes?: string[];
  /** Skip files larger than this (default 1 MiB). */
  maxFileBytes?: number;
  /** Honour `.gitignore`/`.dspyignore` files (default true). */
  ignoreFiles?: boolean;
  /** Stops the walk early when aborted. */
  signal?: AbortSignal;
  /** Stat each file for size and mtime (default true); when false `size`/`mtimeMs` are -1 and no size limit applies. */
  stat?: boolean;
  /** Told each folder the walk enters below the root (workspace-relative), whether or not it holds a file. */
  onFolder?: (rel: string) => void;
}

/** One file found by the walk. */
export interface WalkedFile {
  /** Absolute path (inside the workspace; for a symlink, the link's own path). */
  abs: string;
  /** Workspace-relative path with forward slashes. */
  rel: string;
  /** Size in bytes (-1 when not statted). */
  size: number;
  /** Modification time in ms since the epoch (-1 when not statted). */
  mtimeMs: number;
}

/** What a file was when it was read: its size and modification time, as the walk records them. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/** A file's stamp from its `stat` (no modification time counts as 0, as in the walk). */
export function stampOf(info: Deno.FileInfo): FileStamp {
  return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
}

/** True when `now` is the file as `recorded` (same size and modification time): its content is reused. */
export function sameStamp<T extends FileStamp>(recorded: T | undefined, now: FileStamp): recorded is T {
  return recorded !== undefined && recorded.size === now.size && recorded.mtimeMs === now.mtimeMs;
}

/**
 * True when a walk found exactly the files an index recorded (by workspace-relative path), each with the
 * recorded size and time: nothing changed since the index was built.
 */
export function sameFiles(recorded: Record<string, FileStamp>, walked: readonly WalkedFile[]): boolean {
  return walked.length === Object.keys(recorded).length && walked.every((f) => sameStamp(recorded[f.rel], f));
}

/** "a, b, c and 2 more": the first `max` of `paths`, for a notice that names changed files. */
export function someOf(paths: readonly string[], max = 3): string {
  return paths.slice(0, max).join(", ") + (paths.length > max ? ` and ${paths.length - max} more` : "");
}

interface IgnoreLayer {
  /** Folder the rules belong to, workspace-relative with a trailing slash ("" for the root). */
  base: string;
  ig: Gitignore;
}

const IGNORE_FILES = [".gitignore", ".dspyignore"];

function readIgnoreLayerSync(dirAbs: string, base: string): IgnoreLayer | null {
  let ig: Gitignore | null = null;
  for (const name of IGNORE_FILES) {
    let text: string;
    try {
      text = Deno.readTextFileSync(join(dirAbs, name));
    } catch {
      continue;
    }
    ig ??= createGitignore();
    ig.add(text);
  }
  return ig ? { base, ig } : null;
}

function ignoredByLayers(layers: IgnoreLayer[], rel: string, isDir: boolean): boolean {
  // Later (deeper) layers override earlier ones, as git does: walk from the deepest outwards and let the first
  // layer with an opinion decide.
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    const sub = rel.slice(layer.base.length) + (isDir ? "/" : "");
    const r = layer.ig.test(sub);
    if (r.ignored) return true;
    if (r.unignored) return false;
  }
  return false;
}

/** Builds a matcher for gitignore-syntax globs; `undefined` when the list is empty. */
export function globMatcher(globs: readonly string[] | undefined): ((rel: string) => boolean) | undefined {
  const list = (globs ?? []).map((g) => g.trim()).filter((g) => g.length > 0);
  if (list.length === 0) return undefined;
  const ig = createGitignore(list.map((g) => g.replace(/^\.\//, "")));
  return (rel: string) => ig.ignores(rel);
}

/**
 * Lists the searchable files under `root` (an absolute, real path), sorted by relative path.
 *
 * @example
 * ```ts
 * const files = await walkFiles("/work/project", { globs: ["*.ts"], excludes: ["vendor/"] });
 * ```
 */
export function walkFiles(root: string, options: WalkOptions = {}): Promise<WalkedFile[]> {
  const out = [...iterateFilesSync(root, options)];
  out.sort(byRelPath);
  return Promise.resolve(out);
}

/** Orders walked files by their workspace-relative path, as the index stores them. */
function byRelPath(a: WalkedFile, b: WalkedFile): number {
  return a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0;
}

/**
 * {@link walkFiles} for work in the background of a session: the same files, sorted, but the walk lets timers
 * and input run every 2,048 files, so a keystroke waits for a slice (~15 ms on the npm tree) instead of the
 * whole walk (~125 ms for 20,000 files). `keepYielding` is asked at each slice: once someone waits for the walk
 * itself, letting others run only delays them.
 */
export async function walkFilesYielding(
  root: string,
  options: WalkOptions = {},
  keepYielding: () => boolean = () => true,
): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  for (const f of iterateFilesSync(root, options)) {
    out.push(f);
    if (out.length % 2048 === 0 && keepYielding()) await new Promise((r) => setTimeout(r, 0));
  }
  out.sort(byRelPath);
  return out;
}

/** Streams the searchable files under `root` in directory order (not sorted); see {@link walkFiles}. */
export async function* iterateFiles(root: string, options: WalkOptions = {}): AsyncGenerator<WalkedFile> {
  let n = 0;
  for (const f of iterateFilesSync(root, options)) {
    yield f;
    // Let timers and worker messages run now and then during a long walk.
    if (++n % 2048 === 0) await new Promise((r) => setTimeout(r, 0));
  }
}

const DEFAULT_DIR_NAMES = new Set([".git", "node_modules", ".venv", "dist", "build", "__pycache__"]);
const DEFAULT_FILE_NAMES = new Set([".dspy_rl_state.json", ".dspy_rl_events.jsonl"]);

function byName(a: Deno.DirEntry, b: Deno.DirEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The walk itself, synchronous (directory reads are many and tiny, and sync calls are several times faster
 * than async ones here). Yields files in directory order.
 */
export function* iterateFilesSync(root: string, options: WalkOptions = {}): Generator<WalkedFile> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const doStat = options.stat !== false;
  const excludeList = (options.excludes ?? []).map((g) => g.trim().replace(/^\.\//, "")).filter(Boolean);
  const excludes = excludeList.length ? createGitignore(excludeList) : undefined;
  const include = globMatcher(options.globs);
  const useIgnoreFiles = options.ignoreFiles !== false;
  // Symlink targets are compared with the real root, so a workspace reached through a symlink still works.
  let realRoot = root;
  try {
    realRoot = Deno.realPathSync(root);
  } catch { /* a missing root simply yields nothing */ }
  const visitedDirs = new Set<string>([realRoot]);

  function* visit(
    dirAbs: string,
    dirRel: string,
    layers: IgnoreLayer[],
    dirReal: string,
  ): Generator<WalkedFile> {
    if (options.signal?.aborted) return;
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dirAbs)];
    } catch {
      return; // unreadable folder: skip it, as other search tools do
    }
    let here = layers;
    if (useIgnoreFiles && entries.some((e) => IGNORE_FILES.includes(e.name))) {
      const layer = readIgnoreLayerSync(dirAbs, dirRel === "" ? "" : dirRel + "/");
      if (layer) here = [...layers, layer];
    }
    entries.sort(byName);
    for (const entry of entries) {
      const name = entry.name;
      const abs = dirAbs + "/" + name;
      const rel = dirRel === "" ? name : dirRel + "/" + name;
      let isDir = entry.isDirectory;
      let isFile = entry.isFile;
      let real = dirReal + "/" + name;
      if (entry.isSymlink) {
        try {
          real = Deno.realPathSync(abs);
        } catch {
          continue; // dangling link
        }
        if (!isInside(realRoot, real)) continue; // never leave the workspace
        let info: Deno.FileInfo;
        try {
          info = Deno.statSync(real);
        } catch {
          continue;
        }
        isDir = info.isDirectory;
        isFile = info.isFile;
      }
      if (isDir) {
        if (DEFAULT_DIR_NAMES.has(name) || name.startsWith(".dspy")) continue;
        if (excludes?.ignores(rel + "/")) continue;
        if (here.length && ignoredByLayers(here, rel, true)) continue;
        if (visitedDirs.has(real)) continue; // a loop, or a second way into a folder walked already
        visitedDirs.add(real);
        options.onFolder?.(rel);
        yield* visit(abs, rel, here, real);
      } else if (isFile) {
        if (DEFAULT_FILE_NAMES.has(name) || name.startsWith(".dspy_rl_state.json.corrupt-")) continue;
        if (excludes?.ignores(rel)) continue;
        if (include && !include(rel)) continue;
        if (here.length && ignoredByLayers(here, rel, false)) continue;
        let size = -1;
        let mtimeMs = -1;
        if (doStat) {
          try {
            ({ size, mtimeMs } = stampOf(Deno.statSync(abs)));
          } catch {
            continue;
          }
          if (size > maxBytes) continue;
        }
        yield { abs, rel, size, mtimeMs };
      }
    }
  }

  yield* visit(root, "", [], realRoot);
}

/** True when the bytes look binary: a NUL byte within the first 8 KiB. */
export function isBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

const decoder = new TextDecoder();

/** Reads a file as UTF-8 text; `null` when it is binary, over `maxBytes`, or unreadable. */
export async function readTextIfText(abs: string, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<string | null> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(abs);
  } catch {
    return null;
  }
  if (bytes.length > maxBytes || isBinary(bytes)) return null;
  return decoder.decode(bytes);
}

/** Workspace-relative forward-slash path of an absolute path. */
export function relPath(root: string, abs: string): string {
  return relative(root, abs);
}
