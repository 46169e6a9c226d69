/**
 * Patch preparation: parse a unified diff (npm `diff`), check every path and file against the safety
 * rules, and apply every hunk in memory. Nothing is written here; the result is the complete before/after
 * content of each touched file, which `apply.ts` then writes all-or-nothing. Refused: paths that escape the
 * workspace (`..`, absolute paths, drive letters, backslashes, symlinks leading out), symlink targets,
 * paths inside `.git/` or dspy-code's own state (`.dspy*`), binary patches and binary files, oversized
 * patches and files, malformed hunks, hunks that do not match the file, and patches over the caps.
 *
 * @module
 */

import { applyPatch, parsePatch } from "diff";
import type { StructuredPatch } from "diff";
import { resolve } from "node:path";
import { UserError } from "../../core/errors.ts";
import { isInside, resolveInside } from "../../core/workspace.ts";

/** Why a patch was refused (stable codes for tests, history records and events). */
export type PatchRefusal =
  | "empty"
  | "malformed"
  | "binary"
  | "escape"
  | "symlink"
  | "protected"
  | "oversize"
  | "caps"
  | "missing"
  | "exists"
  | "mismatch"
  | "not-a-file"
  | "changed";

/** A refused patch: the message says what is wrong and what to do; nothing was written. */
export class PatchError extends UserError {
  /** Stable refusal code. */
  readonly reason: PatchRefusal;
  /** Workspace-relative path concerned, when there is one. */
  readonly file?: string;
  constructor(reason: PatchRefusal, message: string, file?: string) {
    super(message);
    this.name = "PatchError";
    this.reason = reason;
    this.file = file;
  }
}

/** Size and scope limits for a patch. */
export interface PatchLimits {
  /** Most files one patch may touch (default: unlimited for `patch`, 4 for `edit`). */
  maxFiles?: number;
  /** Most added + removed lines (default: unlimited for `patch`, 200 for `edit`). */
  maxChangedLines?: number;
  /** Largest file, before or after patching, in bytes (default 1 MiB). */
  maxFileBytes?: number;
  /** Largest patch text in bytes (default 2 MiB). */
  maxPatchBytes?: number;
}

/** Default file size cap: 1 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
/** Default patch size cap: 2 MiB. */
export const DEFAULT_MAX_PATCH_BYTES = 2 * 1024 * 1024;

/** One file's change, computed in memory. */
export interface FileChange {
  /** Workspace-relative path (forward slashes) of the result (for a delete: the deleted file). */
  path: string;
  /** Absolute path of `path`. */
  absPath: string;
  /** What happens to the file. */
  kind: "modify" | "create" | "delete" | "rename";
  /** For a rename: the old workspace-relative path (removed after the new one is written). */
  oldPath?: string;
  /** For a rename: absolute old path. */
  oldAbsPath?: string;
  /** Content before (null when the file is created). */
  before: string | null;
  /** Content after (null when the file is deleted). */
  after: string | null;
  /** POSIX mode of the existing file, kept on rewrite. */
  mode?: number;
  /** Lines added by this file's hunks. */
  added: number;
  /** Lines removed by this file's hunks. */
  removed: number;
}

/** A fully checked patch, ready to write. */
export interface PreparedPatch {
  files: FileChange[];
  /** Total added lines. */
  added: number;
  /** Total removed lines. */
  removed: number;
}

/** `{files, added_lines, removed_lines}` as the old `summarize_patch` reported it (no file access). */
export function summarizePatch(text: string): { files: number; added_lines: number; removed_lines: number } {
  const files = new Set<string>();
  let added = 0, removed = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("+++ ") || line.startsWith("--- ")) {
      const name = stripPrefix(headerName(line.slice(4)));
      if (name !== "/dev/null" && name !== "") files.add(name);
    } else if (line.startsWith("+")) added++;
    else if (line.startsWith("-")) removed++;
  }
  return { files: files.size, added_lines: added, removed_lines: removed };
}

function headerName(raw: string): string {
  const tab = raw.indexOf("\t");
  let name = (tab >= 0 ? raw.slice(0, tab) : raw).trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1);
  return name;
}

function stripPrefix(name: string): string {
  return /^[ab]\//.test(name) ? name.slice(2) : name;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * Fixes the line counts in `@@` headers from the hunk bodies that follow them. Models often miscount;
 * the lines themselves are what gets verified against the file, so recounting is safe. Used by `edit`
 * (never by `patch FILE`, which applies what it is given or refuses).
 */
export function recountHunks(text: string): string {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = HUNK_HEADER.exec(lines[i]);
    if (!m) continue;
    let oldCount = 0, newCount = 0, j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j];
      if (HUNK_HEADER.test(l) || l.startsWith("--- ") || l.startsWith("diff --git ")) break;
      if (l.startsWith("+++ ")) break;
      if (l.startsWith(" ")) oldCount++, newCount++;
      else if (l.startsWith("-")) oldCount++;
      else if (l.startsWith("+")) newCount++;
      else if (l.startsWith("\\")) continue;
      else if (l === "" && j < lines.length - 1 && /^[ +\-@\\]/.test(lines[j + 1] ?? "")) {
        // A blank context line whose leading space was lost (common in model output).
        lines[j] = " ";
        oldCount++, newCount++;
      } else break;
    }
    const rest = lines[i].slice(m[0].length);
    lines[i] = `@@ -${m[1]},${oldCount} +${m[3]},${newCount} @@${rest}`;
    i = j - 1;
  }
  return lines.join("\n");
}

/** Validates a path as written in the patch and returns it normalised (forward slashes, no `./`). */
function checkRawPath(name: string): string {
  if (name === "") throw new PatchError("malformed", "a file header names no path; fix the ---/+++ lines");
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f]/.test(name)) {
    throw new PatchError(
      "escape",
      `path ${JSON.stringify(name)} contains control characters; refusing it`,
      name,
    );
  }
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || name.startsWith("~")) {
    throw new PatchError(
      "escape",
      `path ${name} is absolute; patches must use workspace-relative paths (e.g. src/app.ts)`,
      name,
    );
  }
  if (name.includes("\\")) {
    throw new PatchError(
      "escape",
      `path ${name} contains a backslash; use forward slashes inside the workspace`,
      name,
    );
  }
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) {
    throw new PatchError(
      "escape",
      `path ${name} climbs out with '..'; patches may only touch files inside the workspace`,
      name,
    );
  }
  if (parts.length === 0) throw new PatchError("malformed", `path ${name} names no file`, name);
  // Any `.git` component at any depth (a nested repository's `.git/config` can set `core.fsmonitor`, a
  // command git runs; `.git/hooks/*` run on commit), and dspy-code's state anywhere. Case-insensitive:
  // on macOS' default file system `.GIT/config` is the same file.
  const banned = parts.find((p) => {
    const l = p.toLowerCase();
    return l === ".git" || l.startsWith(".dspy");
  });
  if (banned !== undefined) {
    throw new PatchError(
      "protected",
      `path ${name} is inside ${banned}/, which patches may not change (git internals and dspy-code state, ` +
        `at any depth)`,
      name,
    );
  }
  return parts.join("/");
}

/** Resolves a checked relative path, refusing symlink escapes and symlink targets. */
async function resolveTarget(root: string, rel: string): Promise<string> {
  let abs: string;
  try {
    abs = resolveInside(root, rel);
  } catch (err) {
    const symlink = /symlink/.test((err as Error).message);
    throw new PatchError(
      symlink ? "symlink" : "escape",
      symlink
        ? `path ${rel} leads outside the workspace through a symlink; refusing it`
        : `path ${rel} is outside the workspace; refusing it`,
      rel,
    );
  }
  // No symlinked folder on the way, even one pointing inside the workspace: a link such as
  // `hooks -> sub/.git/hooks` would otherwise carry a write into a path the name checks refuse.
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(`${root}/${prefix}`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) break;
      throw err;
    }
    if (info.isSymlink) {
      throw new PatchError(
        "symlink",
        `path ${rel} goes through the symlinked folder ${prefix}; patches do not write through symlinks, ` +
          `even ones pointing inside the workspace: patch the real path instead`,
        rel,
      );
    }
  }
  try {
    const info = await Deno.lstat(abs);
    if (info.isSymlink) {
      throw new PatchError(
        "symlink",
        `${rel} is a symlink; patches do not write through symlinks (edit the file it points to instead)`,
        rel,
      );
    }
    if (!info.isFile) {
      throw new PatchError("not-a-file", `${rel} is not a regular file; cannot patch it`, rel);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  // Parents that exist must be directories that stay inside the workspace once resolved.
  const parent = resolve(abs, "..");
  try {
    const real = await Deno.realPath(parent);
    if (!isInside(root, real)) {
      throw new PatchError(
        "symlink",
        `path ${rel} leads outside the workspace through a symlink; refusing it`,
        rel,
      );
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return abs;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads a text file for patching, or null when it does not exist. Refuses binary and oversized files. */
async function readTextTarget(
  abs: string,
  rel: string,
  maxBytes: number,
): Promise<{ text: string; mode?: number } | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(abs);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  if (!info.isFile) throw new PatchError("not-a-file", `${rel} is not a regular file; cannot patch it`, rel);
  if (info.size > maxBytes) {
    throw new PatchError(
      "oversize",
      `${rel} is ${info.size} bytes, over the ${maxBytes}-byte limit for patching; edit it by hand or raise --max-file-bytes`,
      rel,
    );
  }
  const bytes = await Deno.readFile(abs);
  if (bytes.subarray(0, 8192).includes(0)) {
    throw new PatchError("binary", `${rel} is a binary file; patches only change text files`, rel);
  }
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new PatchError("binary", `${rel} is not valid UTF-8 text; patches only change text files`, rel);
  }
  return { text, mode: info.mode ?? undefined };
}

function hunkLabel(p: StructuredPatch, i: number): string {
  const h = p.hunks[i];
  return `hunk ${
    i + 1
  } of ${p.hunks.length} (@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@)`;
}

function countChanges(p: StructuredPatch): { added: number; removed: number } {
  let added = 0, removed = 0;
  for (const h of p.hunks) {
    for (const l of h.lines) {
      if (l.startsWith("+")) added++;
      else if (l.startsWith("-")) removed++;
    }
  }
  return { added, removed };
}

/** Structural checks on the raw text before parsing. */
function precheckText(text: string, limits: PatchLimits): void {
  const maxPatch = limits.maxPatchBytes ?? DEFAULT_MAX_PATCH_BYTES;
  const size = new TextEncoder().encode(text).length;
  if (size > maxPatch) {
    throw new PatchError(
      "oversize",
      `the patch is ${size} bytes, over the ${maxPatch}-byte limit; split it into smaller patches`,
    );
  }
  if (text.trim() === "") throw new PatchError("empty", "the patch is empty; nothing to apply");
  if (text.includes("\0")) {
    throw new PatchError("binary", "the patch contains NUL bytes (binary data); refusing it");
  }
  for (const line of text.split("\n")) {
    if (line.startsWith("GIT binary patch") || /^Binary files .* differ/.test(line)) {
      throw new PatchError("binary", "binary patches are not supported; only text files can be patched");
    }
    if (line.startsWith("@@") && !HUNK_HEADER.test(line)) {
      throw new PatchError(
        "malformed",
        `malformed hunk header '${line.slice(0, 60)}': expected '@@ -START,COUNT +START,COUNT @@'`,
      );
    }
  }
  if (!/^--- /m.test(text) || !/^\+\+\+ /m.test(text)) {
    if (!/^diff --git /m.test(text)) {
      throw new PatchError(
        "malformed",
        "this is not a unified diff: it needs '--- old' and '+++ new' file headers followed by '@@' hunks",
      );
    }
  }
}

function checkHunkCounts(p: StructuredPatch, name: string): void {
  p.hunks.forEach((h, i) => {
    if (!Number.isInteger(h.oldStart) || !Number.isInteger(h.newStart)) {
      throw new PatchError("malformed", `${hunkLabel(p, i)} for ${name} has an unreadable header`, name);
    }
    let oldCount = 0, newCount = 0;
    for (const l of h.lines) {
      if (l.startsWith(" ")) oldCount++, newCount++;
      else if (l.startsWith("-")) oldCount++;
      else if (l.startsWith("+")) newCount++;
    }
    if (oldCount !== h.oldLines || newCount !== h.newLines) {
      throw new PatchError(
        "malformed",
        `${
          hunkLabel(p, i)
        } for ${name} announces ${h.oldLines}/${h.newLines} lines but has ${oldCount}/${newCount}; ` +
          "the hunk is truncated or its header is wrong",
        name,
      );
    }
  });
}

/** Applies one file's hunks to `source`, naming the first hunk that does not fit. */
function applyHunks(source: string, p: StructuredPatch, name: string): string {
  const result = applyPatch(source, p, { fuzzFactor: 0 });
  if (result !== false) return result;
  for (let k = 1; k <= p.hunks.length; k++) {
    if (applyPatch(source, { ...p, hunks: p.hunks.slice(0, k) }, { fuzzFactor: 0 }) === false) {
      throw new PatchError(
        "mismatch",
        `${hunkLabel(p, k - 1)} does not match ${name}: its context or removed lines differ from the file ` +
          "(already applied, or the file changed since the diff was made?)",
        name,
      );
    }
  }
  throw new PatchError("mismatch", `the hunks for ${name} do not apply cleanly`, name);
}

/**
 * Parses and checks a unified diff against the workspace and computes every file's new content in
 * memory. Throws a {@link PatchError} on the first problem; never writes.
 */
export async function preparePatch(
  root: string,
  text: string,
  limits: PatchLimits = {},
): Promise<PreparedPatch> {
  precheckText(text, limits);
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(text);
  } catch (err) {
    throw new PatchError("malformed", `the patch cannot be parsed: ${(err as Error).message}`);
  }
  const maxFileBytes = limits.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const entries = parsed.filter((p) =>
    p.oldFileName !== undefined || p.newFileName !== undefined || p.hunks.length
  );
  if (entries.length === 0) throw new PatchError("empty", "the patch contains no file changes");

  // Current content per absolute path, so several sections touching one file chain correctly.
  const working = new Map<
    string,
    { rel: string; before: string | null; current: string | null; mode?: number }
  >();
  const changes = new Map<string, FileChange>();
  let added = 0, removed = 0;

  for (const p of entries) {
    if (p.isBinary) {
      throw new PatchError("binary", "binary patches are not supported; only text files can be patched");
    }
    if (p.oldFileName === undefined || p.newFileName === undefined) {
      throw new PatchError("malformed", "a hunk has no '--- old' / '+++ new' file headers; add them");
    }
    const oldRaw = headerName(p.oldFileName);
    const newRaw = headerName(p.newFileName);
    const isCreate = oldRaw === "/dev/null" || p.isCreate === true;
    const isDelete = newRaw === "/dev/null" || p.isDelete === true;
    if (isCreate && isDelete) throw new PatchError("malformed", "a section both creates and deletes a file");
    const gitStyle = p.isGit === true ||
      ((oldRaw.startsWith("a/") || oldRaw === "/dev/null") &&
        (newRaw.startsWith("b/") || newRaw === "/dev/null"));
    // One prefixed side naming the same file as the other (`--- a/x` / `+++ x`) is the same path.
    const halfPrefixed = !gitStyle && oldRaw !== newRaw &&
      (stripPrefix(oldRaw) === newRaw || oldRaw === stripPrefix(newRaw));
    const clean = (n: string) => (gitStyle || halfPrefixed ? stripPrefix(n) : n);
    const oldRel = oldRaw === "/dev/null" ? null : checkRawPath(clean(oldRaw));
    const newRel = newRaw === "/dev/null" ? null : checkRawPath(clean(newRaw));
    const targetRel = (isDelete ? oldRel : newRel)!;
    const name = targetRel;
    checkHunkCounts(p, name);
    if (p.isCopy) throw new PatchError("malformed", `copy patches are not supported (${name})`, name);
    const isRename = !isCreate && !isDelete && oldRel !== null && newRel !== null && oldRel !== newRel;

    const sourceRel = isCreate ? newRel! : oldRel!;
    const sourceAbs = await resolveTarget(root, sourceRel);
    const targetAbs = isRename ? await resolveTarget(root, newRel!) : sourceAbs;

    let entry = working.get(sourceAbs);
    if (!entry) {
      const read = await readTextTarget(sourceAbs, sourceRel, maxFileBytes);
      entry = { rel: sourceRel, before: read?.text ?? null, current: read?.text ?? null, mode: read?.mode };
      working.set(sourceAbs, entry);
    }
    if (isCreate && entry.current !== null) {
      throw new PatchError(
        "exists",
        `${name} already exists; the patch wants to create it (refusing to overwrite)`,
        name,
      );
    }
    if (!isCreate && entry.current === null) {
      throw new PatchError(
        "missing",
        `${sourceRel} does not exist in the workspace; the patch modifies or deletes it`,
        sourceRel,
      );
    }
    const next = p.hunks.length === 0 ? (entry.current ?? "") : applyHunks(entry.current ?? "", p, name);
    if (isDelete && next !== "") {
      throw new PatchError(
        "mismatch",
        `the patch deletes ${name} but its hunks do not remove the whole file`,
        name,
      );
    }
    if (next !== null && new TextEncoder().encode(next).length > maxFileBytes) {
      throw new PatchError(
        "oversize",
        `patched ${name} would exceed the ${maxFileBytes}-byte file limit`,
        name,
      );
    }
    const counts = countChanges(p);
    added += counts.added;
    removed += counts.removed;

    if (isRename) {
      if (working.has(targetAbs) || (await readTextTarget(targetAbs, newRel!, maxFileBytes)) !== null) {
        throw new PatchError(
          "exists",
          `cannot rename ${oldRel} to ${newRel}: ${newRel} already exists`,
          newRel!,
        );
      }
      entry.current = null;
      working.set(targetAbs, { rel: newRel!, before: null, current: next, mode: entry.mode });
      changes.delete(sourceAbs);
      changes.set(targetAbs, {
        path: newRel!,
        absPath: targetAbs,
        kind: "rename",
        oldPath: oldRel!,
        oldAbsPath: sourceAbs,
        before: entry.before,
        after: next,
        mode: entry.mode,
        added: counts.added,
        removed: counts.removed,
      });
      continue;
    }
    entry.current = isDelete ? null : next;
    const prior = changes.get(sourceAbs);
    const kind: FileChange["kind"] = entry.before === null
      ? "create"
      : entry.current === null
      ? "delete"
      : "modify";
    changes.set(sourceAbs, {
      path: entry.rel,
      absPath: sourceAbs,
      kind,
      before: entry.before,
      after: entry.current,
      mode: entry.mode,
      added: (prior?.added ?? 0) + counts.added,
      removed: (prior?.removed ?? 0) + counts.removed,
    });
  }

  const files = [...changes.values()];
  const touched = new Set(files.flatMap((f) => (f.oldPath ? [f.path, f.oldPath] : [f.path])));
  if (limits.maxFiles !== undefined && touched.size > limits.maxFiles) {
    throw new PatchError(
      "caps",
      `the patch touches ${touched.size} files, over the cap of ${limits.maxFiles}; split it or narrow the task`,
    );
  }
  if (limits.maxChangedLines !== undefined && added + removed > limits.maxChangedLines) {
    throw new PatchError(
      "caps",
      `the patch changes ${
        added + removed
      } lines (+${added} -${removed}), over the cap of ${limits.maxChangedLines}`,
    );
  }
  if (files.every((f) => f.before === f.after && f.kind === "modify")) {
    throw new PatchError("empty", "the patch changes nothing");
  }
  return { files, added, removed };
}
