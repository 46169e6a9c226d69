/**
 * Damage to the workspace's KV file (`.dspy/state.kv`), detected and explained instead of surfacing as
 * SQLite's bare `database disk image is malformed` / `file is not a database`:
 *
 * - {@link KvCorruptError} names the file, says it is damaged, what is lost by starting fresh, and how:
 *   `dspy-code doctor --repair`, which calls {@link moveKvAside} to rename the file (and its `-wal`/`-shm`
 *   companions) to `.dspy/state.kv.corrupt-<timestamp>` so the next command starts with an empty database.
 * - An emptied or deleted KV (cut to 0 bytes, removed) would otherwise open silently as a new, empty
 *   database. A marker file (`.dspy/state.kv.used`) is written the first time dspy-code opens a KV; when
 *   the marker exists but the KV is missing or 0 bytes (and no non-empty write-ahead log holds its pages),
 *   {@link emptiedKvWarning} returns a warning, printed once — the marker is then refreshed.
 *
 * @module
 */

import { UserError } from "./errors.ts";
import { workspacePaths } from "./workspace.ts";

const CORRUPT =
  /database disk image is malformed|file is not a database|SQLITE_CORRUPT|SQLITE_NOTADB|malformed database schema/i;

/** True for the errors SQLite (under Deno KV) reports for a damaged database file. */
export function isKvCorruptError(err: unknown): boolean {
  return err instanceof KvCorruptError || (err instanceof Error && CORRUPT.test(err.message));
}

/** What a damaged KV costs when it is moved aside (for the messages). */
export const KV_CONTENTS =
  "durable stream messages and consumer offsets, dead letters, events and metrics kept in KV, guard " +
  "thresholds and tool statistics";

/** The workspace's KV file is damaged; the message says which file and what to do. */
export class KvCorruptError extends UserError {
  /** The damaged file. */
  readonly file: string;
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(
      `${file} is damaged (${detail}). Run 'dspy-code doctor --repair' to move it aside to ` +
        `${file}.corrupt-<timestamp> and start with an empty one (lost: ${KV_CONTENTS}; files such as ` +
        `.dspy_reports/dlq.jsonl stay). Stop other dspy-code processes on this workspace first.`,
      options,
    );
    this.name = "KvCorruptError";
    this.file = file;
  }
}

/** Turns a SQLite corruption error into a {@link KvCorruptError} for the workspace; other errors pass. */
export function explainKvError(err: unknown, workspace: string): unknown {
  if (err instanceof KvCorruptError || !isKvCorruptError(err)) return err;
  return new KvCorruptError(workspacePaths(workspace).kvFile, (err as Error).message, { cause: err });
}

function markerFile(workspace: string): string {
  return `${workspacePaths(workspace).kvFile}.used`;
}

async function size(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * Returns a warning when the workspace's KV was used before (marker present) but is now missing or
 * 0 bytes, so it is about to open empty; else null. Call before opening.
 */
export async function emptiedKvWarning(workspace: string): Promise<string | null> {
  const { kvFile } = workspacePaths(workspace);
  const used = await size(markerFile(workspace));
  if (used === null) return null;
  const kvSize = await size(kvFile);
  if (kvSize !== null && kvSize > 0) return null;
  if (((await size(`${kvFile}-wal`)) ?? 0) > 0) return null; // pages still in the write-ahead log
  return `${kvFile} was ${kvSize === null ? "deleted" : "emptied (0 bytes)"} since dspy-code last used ` +
    `it: starting with an empty database; what it held (${KV_CONTENTS}) is gone unless you restore the ` +
    `file from a backup`;
}

/** Records that this workspace's KV has been opened (see {@link emptiedKvWarning}). */
export async function markKvUsed(workspace: string): Promise<void> {
  const marker = markerFile(workspace);
  if ((await size(marker)) !== null) return;
  await Deno.writeTextFile(marker, `${new Date().toISOString()}\n`).catch(() => {});
}

/**
 * Moves the workspace's KV file and its `-wal`/`-shm` companions to `<file>.corrupt-<timestamp>` (and the
 * same suffixes). The caller must have closed every handle on it. Returns the paths written.
 */
export async function moveKvAside(workspace: string, now = new Date()): Promise<string[]> {
  const { kvFile } = workspacePaths(workspace);
  const ts = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const moved: string[] = [];
  for (const suffix of ["", "-wal", "-shm"]) {
    const from = kvFile + suffix;
    const to = `${kvFile}.corrupt-${ts}${suffix}`;
    try {
      await Deno.rename(from, to);
      moved.push(to);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  // A deliberate fresh start: the next open must not warn that the file went missing.
  await Deno.remove(markerFile(workspace)).catch(() => {});
  return moved;
}
