/**
 * The workspace's Deno KV handle. KV is opened at most once per process and workspace (`.dspy/state.kv`),
 * shared by every subsystem, and closed by {@link closeAllKv} when the process ends. Deno KV is SQLite
 * underneath, so several processes may open the same file at once; `kv.watch` does not cross processes,
 * which is why readers in other processes poll (see `streams.ts`). A damaged file is reported as a
 * `KvCorruptError` naming it and the repair, and an emptied one with a warning (`kv_health.ts`).
 *
 * @module
 */

import { emptiedKvWarning, explainKvError, markKvUsed } from "./kv_health.ts";
import { workspacePaths } from "./workspace.ts";

const handles = new Map<string, Promise<Deno.Kv>>();

/**
 * Opens (or returns the already open) KV database of a workspace.
 *
 * @example
 * ```ts
 * const kv = await openWorkspaceKv("/path/to/project");
 * await kv.set(["agent.session.summary"], summary);
 * ```
 */
export function openWorkspaceKv(workspace: string): Promise<Deno.Kv> {
  let handle = handles.get(workspace);
  if (!handle) {
    const { stateDir, kvFile } = workspacePaths(workspace);
    handle = (async () => {
      await Deno.mkdir(stateDir, { recursive: true });
      const emptied = await emptiedKvWarning(workspace);
      if (emptied) console.error(`warning: ${emptied}`);
      let kv: Deno.Kv;
      try {
        kv = await withKvRetry(() => Deno.openKv(kvFile));
      } catch (err) {
        // A damaged file: name it and say what to do (core/kv_health.ts), instead of SQLite's bare message.
        throw explainKvError(err, workspace);
      }
      await markKvUsed(workspace);
      return kv;
    })();
    handles.set(workspace, handle);
    handle.catch(() => handles.delete(workspace));
  }
  return handle;
}

/** True when this process has opened the workspace's KV. */
export function isKvOpen(workspace: string): boolean {
  return handles.has(workspace);
}

/** Closes every KV handle this process opened. Safe to call more than once. */
export async function closeAllKv(): Promise<void> {
  const open = [...handles.values()];
  handles.clear();
  for (const handle of open) {
    try {
      (await handle).close();
    } catch { /* already closed or never opened */ }
  }
}

/** True for the SQLite contention errors Deno KV reports when several processes write at once. */
export function isKvBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|database is busy|SQLITE_BUSY/i.test(err.message);
}

/**
 * Runs a KV operation, retrying with jittered backoff while another process holds the database lock
 * (Deno KV surfaces SQLite's "database is locked" instead of waiting). Gives up after `timeoutMs`.
 */
export async function withKvRetry<T>(operation: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (err) {
      if (!isKvBusy(err) || Date.now() > deadline) throw err;
      await new Promise((r) =>
        setTimeout(r, Math.min(100, 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()))
      );
    }
  }
}
