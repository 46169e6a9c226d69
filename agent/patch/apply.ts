/**
 * Writing a prepared patch all-or-nothing, with backups, history and events. Before any file changes, the
 * original of every touched file is copied to `.dspy_patches/backups/<id>/` with a manifest; then each file
 * is replaced atomically (temp file + rename). If any write fails, every file already written is restored
 * from the backup, so the workspace ends either fully patched or unchanged. Every attempt (success or
 * refusal) is appended to `.dspy_patches/history.jsonl` and emitted as a `patch.apply` action
 * (`{files, added, removed}` or `{error}`). `revertPatch` restores a backup; `listPatches` reads history.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { appendJsonLine, atomicWriteFile, atomicWriteJson } from "../../core/atomic.ts";
import { readJsonlTail } from "../../core/jsonl.ts";
import { errorMessage, UserError } from "../../core/errors.ts";
import { emitAction } from "../../core/events.ts";
import { resolveInside, workspacePaths } from "../../core/workspace.ts";
import {
  type FileChange,
  PatchError,
  type PatchLimits,
  type PreparedPatch,
  preparePatch,
} from "./prepare.ts";

/** Options for {@link applyPatchText}. */
export interface ApplyPatchOptions {
  /** Size and scope caps. */
  limits?: PatchLimits;
  /** Check everything and report, but write nothing (no backup, no history line). */
  dryRun?: boolean;
  /** What asked for the patch (recorded in history): `patch`, `edit`, `chat`, `route`, `rl`. */
  source?: string;
  /** The task the patch is for (edit/chat), recorded in history. */
  task?: string;
  /** Extra metrics for the history record (verdict, risk, ...). */
  metrics?: Record<string, unknown>;
  /** Extra info for the history record. */
  info?: Record<string, unknown>;
  /** Emit the `patch.apply` action (default true). */
  emit?: boolean;
  /** Test hook: called before writing each file; throwing simulates a failed write. */
  beforeWrite?: (path: string, index: number) => void | Promise<void>;
}

/** The outcome of a successful apply (or dry run). */
export interface ApplyPatchResult {
  /** Backup/history id (empty for a dry run). */
  id: string;
  /** Workspace-relative paths changed, in order. */
  files: string[];
  /** Per-file kind and line counts. */
  changes: { path: string; kind: FileChange["kind"]; oldPath?: string; added: number; removed: number }[];
  added: number;
  removed: number;
  /** Backup folder (absolute) holding the originals. */
  backupDir?: string;
  dryRun: boolean;
}

/** Backup manifest stored at `.dspy_patches/backups/<id>/manifest.json`. */
export interface BackupManifest {
  id: string;
  created_at: string;
  task?: string;
  source?: string;
  files: {
    path: string;
    /** The file existed before (its original is saved under `files/`). */
    existed: boolean;
    /** The file exists after the patch. */
    exists_after: boolean;
    before_sha256?: string;
    after_sha256?: string;
    mode?: number;
  }[];
  added: number;
  removed: number;
  reverted_at?: string;
}

/** One line of `.dspy_patches/history.jsonl` (the old tool's shape, plus `id`). */
export interface PatchHistoryRecord {
  id?: string;
  timestamp: number;
  task?: string;
  prompt_hint?: string;
  prompt_id?: string;
  workspace: string;
  context_excerpt?: string;
  patch_preview: string;
  result: "success" | "failure" | "skipped" | "error" | "reverted";
  metrics: Record<string, unknown>;
  info: Record<string, unknown>;
  file_candidates?: unknown[];
  runtime_sec: number;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function newPatchId(): string {
  const d = new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${
      pad(d.getUTCMilliseconds(), 3)
    }`;
  return `${stamp}-${crypto.randomUUID().slice(0, 6)}`;
}

function historyPath(root: string): string {
  return join(workspacePaths(root).patchesDir, "history.jsonl");
}

function backupsDir(root: string): string {
  return join(workspacePaths(root).patchesDir, "backups");
}

async function record(root: string, rec: PatchHistoryRecord): Promise<void> {
  try {
    await appendJsonLine(historyPath(root), rec);
  } catch (err) {
    console.error(`warning: could not append to .dspy_patches/history.jsonl: ${errorMessage(err)}`);
  }
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Creates missing parent directories of `abs` and returns the ones it created (deepest last). */
async function ensureParents(root: string, abs: string): Promise<string[]> {
  const missing: string[] = [];
  let dir = dirname(abs);
  while (dir.length > root.length) {
    try {
      await Deno.stat(dir);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missing.unshift(dir);
      dir = dirname(dir);
    }
  }
  for (const d of missing) await Deno.mkdir(d);
  return missing;
}

/** Re-reads a file and fails when it changed since the patch was prepared. */
async function assertUnchanged(abs: string, rel: string, expected: string | null): Promise<void> {
  let current: string | null;
  try {
    current = await Deno.readTextFile(abs);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    current = null;
  }
  if (current !== expected) {
    throw new PatchError(
      "changed",
      `${rel} changed while the patch was being applied; nothing was written`,
      rel,
    );
  }
}

/**
 * Applies a unified diff to the workspace: everything or nothing. Throws a {@link PatchError} (nothing
 * written) when a check fails; a failed write rolls back what was written and rethrows.
 *
 * @example
 * ```ts
 * const result = await applyPatchText(ws, await Deno.readTextFile("fix.diff"));
 * console.log(`applied ${result.id}: ${result.files.length} files +${result.added} -${result.removed}`);
 * ```
 */
export async function applyPatchText(
  root: string,
  text: string,
  options: ApplyPatchOptions = {},
): Promise<ApplyPatchResult> {
  const started = performance.now();
  const emit = options.emit !== false;
  const baseRecord = () => ({
    timestamp: Date.now() / 1000,
    task: options.task,
    workspace: root,
    patch_preview: text.slice(0, 2000),
    runtime_sec: (performance.now() - started) / 1000,
  });
  let prepared: PreparedPatch;
  try {
    prepared = await preparePatch(root, text, options.limits);
  } catch (err) {
    if (!options.dryRun) {
      const reason = err instanceof PatchError ? err.reason : "error";
      await record(root, {
        ...baseRecord(),
        result: err instanceof PatchError ? "failure" : "error",
        metrics: { tool: options.source ?? "patch", applied: false, ...options.metrics },
        info: { ...options.info, apply_message: errorMessage(err), error: errorMessage(err), reason },
      });
      if (emit) emitAction("patch.apply", { error: errorMessage(err), reason });
    }
    throw err;
  }
  const changes = prepared.files.map((f) => ({
    path: f.path,
    kind: f.kind,
    ...(f.oldPath ? { oldPath: f.oldPath } : {}),
    added: f.added,
    removed: f.removed,
  }));
  const summary = {
    files: changes.map((c) => c.path),
    changes,
    added: prepared.added,
    removed: prepared.removed,
  };
  if (options.dryRun) return { id: "", ...summary, dryRun: true };

  const id = newPatchId();
  const backupDir = join(backupsDir(root), id);
  try {
    await writePrepared(root, prepared, id, backupDir, options);
  } catch (err) {
    const message = errorMessage(err);
    await record(root, {
      ...baseRecord(),
      id,
      result: "error",
      metrics: { tool: options.source ?? "patch", applied: false, ...options.metrics },
      info: { ...options.info, apply_message: message, error: message, rolled_back: true },
    });
    if (emit) emitAction("patch.apply", { error: message });
    throw err;
  }
  const blast = prepared.added + prepared.removed;
  await record(root, {
    ...baseRecord(),
    id,
    result: "success",
    metrics: {
      tool: options.source ?? "patch",
      applied: true,
      files: changes.length,
      added: prepared.added,
      removed: prepared.removed,
      blast_radius: blast,
      ...options.metrics,
    },
    info: {
      ...options.info,
      apply_message: `applied ${changes.length} file(s): +${prepared.added} -${prepared.removed}`,
      backup_id: id,
      files: summary.files,
    },
  });
  if (emit) {
    emitAction("patch.apply", {
      files: changes.length,
      added: prepared.added,
      removed: prepared.removed,
      id,
    });
  }
  return { id, ...summary, backupDir, dryRun: false };
}

async function writePrepared(
  root: string,
  prepared: PreparedPatch,
  id: string,
  backupDir: string,
  options: ApplyPatchOptions,
): Promise<void> {
  // 1. Backups first: originals + manifest, flushed before anything in the tree changes.
  const manifest: BackupManifest = {
    id,
    created_at: new Date().toISOString(),
    task: options.task,
    source: options.source ?? "patch",
    files: [],
    added: prepared.added,
    removed: prepared.removed,
  };
  const entries: { rel: string; abs: string; before: string | null; after: string | null; mode?: number }[] =
    [];
  for (const f of prepared.files) {
    if (f.kind === "rename") {
      entries.push({ rel: f.oldPath!, abs: f.oldAbsPath!, before: f.before, after: null, mode: f.mode });
      entries.push({ rel: f.path, abs: f.absPath, before: null, after: f.after, mode: f.mode });
    } else {
      entries.push({ rel: f.path, abs: f.absPath, before: f.before, after: f.after, mode: f.mode });
    }
  }
  for (const e of entries) {
    if (e.before !== null) await atomicWriteFile(join(backupDir, "files", e.rel), e.before);
    manifest.files.push({
      path: e.rel,
      existed: e.before !== null,
      exists_after: e.after !== null,
      before_sha256: e.before !== null ? sha256(e.before) : undefined,
      after_sha256: e.after !== null ? sha256(e.after) : undefined,
      mode: e.mode,
    });
  }
  await atomicWriteJson(join(backupDir, "manifest.json"), manifest);

  // 2. Write (new content first, removals last), rolling back on any failure.
  const order = [...entries].sort((a, b) => Number(a.after === null) - Number(b.after === null));
  const done: typeof entries = [];
  const createdDirs: string[] = [];
  try {
    for (const [i, e] of order.entries()) {
      await assertUnchanged(e.abs, e.rel, e.before);
      await options.beforeWrite?.(e.rel, i);
      if (e.after === null) {
        await Deno.remove(e.abs);
      } else {
        createdDirs.push(...await ensureParents(root, e.abs));
        await atomicWriteFile(e.abs, e.after, { mkdirs: false, mode: e.mode });
        if (e.mode !== undefined) await Deno.chmod(e.abs, e.mode & 0o7777).catch(() => {});
      }
      done.push(e);
    }
  } catch (err) {
    for (const e of done.reverse()) {
      try {
        if (e.before === null) await removeIfExists(e.abs);
        else await atomicWriteFile(e.abs, e.before, { mode: e.mode });
      } catch (rollbackErr) {
        console.error(
          `warning: rollback of ${e.rel} failed: ${errorMessage(rollbackErr)} (backup in ${backupDir})`,
        );
      }
    }
    for (const d of createdDirs.reverse()) await Deno.remove(d).catch(() => {});
    await Deno.remove(backupDir, { recursive: true }).catch(() => {});
    throw new UserError(`patch not applied: ${errorMessage(err)}; the workspace was left unchanged`, {
      cause: err,
    });
  }
}

async function readManifest(root: string, id: string): Promise<BackupManifest> {
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new UserError(`'${id}' is not a patch id; see 'patch --list'`);
  try {
    return JSON.parse(await Deno.readTextFile(join(backupsDir(root), id, "manifest.json")));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UserError(
        `no backup for patch ${id}; see 'patch --list' for the patches that can be reverted`,
      );
    }
    throw new UserError(`the backup manifest of patch ${id} is unreadable: ${errorMessage(err)}`);
  }
}

/** A patch that can be listed or reverted. */
export interface PatchListEntry {
  id: string;
  created_at: string;
  task?: string;
  source?: string;
  files: string[];
  added: number;
  removed: number;
  reverted: boolean;
}

/** Lists applied patches (newest first) from the backup manifests. */
export async function listPatches(root: string, options: { limit?: number } = {}): Promise<PatchListEntry[]> {
  const out: PatchListEntry[] = [];
  try {
    for await (const entry of Deno.readDir(backupsDir(root))) {
      if (!entry.isDirectory) continue;
      try {
        const m = await readManifest(root, entry.name);
        out.push({
          id: m.id,
          created_at: m.created_at,
          task: m.task,
          source: m.source,
          files: m.files.map((f) => f.path),
          added: m.added,
          removed: m.removed,
          reverted: m.reverted_at !== undefined,
        });
      } catch { /* skip unreadable backups */ }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  out.sort((a, b) => b.id.localeCompare(a.id));
  return options.limit ? out.slice(0, options.limit) : out;
}

/** Options for {@link revertPatch}. */
export interface RevertOptions {
  /** Revert even when files changed after the patch (their later edits are lost). */
  force?: boolean;
  /** Emit a `patch.revert` action (default true). */
  emit?: boolean;
}

/**
 * Restores the files of an applied patch from its backup (the newest not yet reverted when `id` is
 * omitted). Refuses when a file changed since the patch, unless `force`. All files are checked before any
 * is restored.
 */
export async function revertPatch(
  root: string,
  id?: string,
  options: RevertOptions = {},
): Promise<{ id: string; files: string[] }> {
  if (!id) {
    const latest = (await listPatches(root)).find((p) => !p.reverted);
    if (!latest) {
      throw new UserError("there is no applied patch to revert ('patch --list' shows the history)");
    }
    id = latest.id;
  }
  const manifest = await readManifest(root, id);
  if (manifest.reverted_at) {
    throw new UserError(`patch ${id} was already reverted at ${manifest.reverted_at}`);
  }
  const dir = join(backupsDir(root), id);
  const plan: { abs: string; rel: string; content: string | null; mode?: number }[] = [];
  for (const f of manifest.files) {
    const abs = resolveInside(root, f.path);
    let current: string | null = null;
    try {
      current = await Deno.readTextFile(abs);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const expected = f.exists_after ? f.after_sha256 : undefined;
    const actual = current === null ? undefined : sha256(current);
    if (!options.force && actual !== expected) {
      throw new UserError(
        `${f.path} changed after patch ${id} was applied; revert refused so those edits are not lost ` +
          "(use --force to restore the backup anyway)",
      );
    }
    const content = f.existed ? await Deno.readTextFile(join(dir, "files", f.path)) : null;
    plan.push({ abs, rel: f.path, content, mode: f.mode });
  }
  for (const p of plan) {
    if (p.content === null) await removeIfExists(p.abs);
    else {
      await Deno.mkdir(dirname(p.abs), { recursive: true });
      await atomicWriteFile(p.abs, p.content, { mode: p.mode });
    }
  }
  manifest.reverted_at = new Date().toISOString();
  await atomicWriteJson(join(dir, "manifest.json"), manifest);
  await record(root, {
    id,
    timestamp: Date.now() / 1000,
    task: manifest.task,
    workspace: root,
    patch_preview: "",
    result: "reverted",
    metrics: { tool: "patch", applied: false, reverted: true, files: plan.length },
    info: { reverted: true, revert_message: `restored ${plan.length} file(s) from backup ${id}` },
    runtime_sec: 0,
  });
  if (options.emit !== false) emitAction("patch.revert", { id, files: plan.length });
  return { id, files: plan.map((p) => p.rel) };
}

/** Reads the last `limit` records of `.dspy_patches/history.jsonl` (skipping unreadable lines). */
export function readPatchHistory(root: string, limit = 50): Promise<PatchHistoryRecord[]> {
  return readJsonlTail<PatchHistoryRecord>(historyPath(root), limit);
}

/** Appends a history record for a non-apply outcome (e.g. edit refused by the verifier). */
export function recordPatchAttempt(
  root: string,
  rec: Omit<PatchHistoryRecord, "workspace" | "timestamp">,
): Promise<void> {
  return record(root, { ...rec, workspace: root, timestamp: Date.now() / 1000 });
}
