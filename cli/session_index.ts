/**
 * The session's index watch (agent/search/index_watch.ts): `esearch` in the session refreshes the index
 * only when files may have changed, and the commands that write files say so at once (the watcher reports
 * their writes a moment later, which could be after the next search has started). At the session's start
 * (and after `cd`) the indexes are pre-warmed in the background.
 *
 * @module
 */

import { hasIndex, IndexWatch } from "../agent/search/mod.ts";
import type { CommandContext } from "./command.ts";
import { lazyImport } from "./lazy.ts";
import { workspacePaths } from "../core/workspace.ts";
import { sessionQuiet } from "./session_activity.ts";

const KEY = "search.indexWatch";
const REFRESH_FIRST = "search.refreshFirst";

/** The watch for the session's workspace (one at a time; `cd` replaces it); none outside the session. */
export function sessionIndexWatch(ctx: CommandContext): IndexWatch | undefined {
  if (!ctx.session.interactive) return undefined;
  let watch = ctx.session.state.get(KEY) as IndexWatch | undefined;
  if (watch && watch.root !== ctx.workspace) {
    watch[Symbol.dispose]();
    watch = undefined;
  }
  if (!watch) {
    watch = new IndexWatch(ctx.workspace);
    ctx.session.state.set(KEY, watch);
  }
  return watch;
}

/**
 * At the start of the session (and after `cd`): a workspace that has an index gets it brought up to date,
 * watched and loaded in the background while the user types, so the first search costs what later ones do
 * ({@link IndexWatch.prewarm}); an embedding index is loaded and checked after it. Await this before a prompt
 * is shown: it loads the modules the background work needs first, because Deno loading a module while the
 * prompt is on screen rewrites that terminal line and the prompt disappears. The work itself is not awaited.
 */
export async function startPrewarm(ctx: CommandContext): Promise<void> {
  const watch = sessionIndexWatch(ctx);
  if (!watch) return;
  const root = ctx.workspace;
  const hasVectors = await Deno.stat(workspacePaths(root).embeddingMetaFile).then(() => true, () => false);
  // Only a workspace with an embedding index loads the embeddings layer.
  const emb = hasVectors
    ? await lazyImport<typeof import("../embeddings/mod.ts")>(
      new URL("../embeddings/mod.ts", import.meta.url),
    )
    : undefined;
  void (async () => {
    if (await hasIndex(root)) await watch.prewarm();
    if (emb) await prewarmVectors(ctx, watch, emb);
  })().catch(() => {});
}

/** How long the session must have been waiting for a line before the embedding index's pre-warm starts. */
const VECTOR_PREWARM_QUIET_MS = 1000;

/**
 * With an embedding index too: loads it into the process and checks its files against the workspace (a walk;
 * nothing is embedded), so the session's first vector search neither reads nor checks it again. The check
 * counts only if the watch saw no change while it ran. Parsing the chunk table holds the thread (6.7 MB of
 * JSON on a 20,000-file tree) and plain searches have no use for it, so it waits until no command has run for a
 * second.
 */
async function prewarmVectors(
  ctx: CommandContext,
  watch: IndexWatch,
  emb: typeof import("../embeddings/mod.ts"),
): Promise<void> {
  const root = ctx.workspace;
  await sessionQuiet(ctx, VECTOR_PREWARM_QUIET_MS);
  if (ctx.workspace !== root) return; // 'cd' meanwhile: that workspace has its own pre-warm
  const since = watch.changeCount;
  const index = await emb.loadVectorIndexForSearch(root).catch(() => null);
  if (index && await emb.vectorsCurrent(root, index)) watch.vectorsChecked(since);
}

/** Called by commands that wrote files of the workspace (patch, edit --apply, write). */
export function noteFilesWritten(ctx: CommandContext): void {
  (ctx.session.state.get(KEY) as IndexWatch | undefined)?.markStale();
}

/**
 * For a one-shot command that searches on the user's behalf (`chat`): its first `esearch` refreshes the
 * index, as the session's first search does (a new process each time, so nothing to watch).
 */
export function refreshBeforeFirstSearch(ctx: CommandContext): void {
  ctx.session.state.set(REFRESH_FIRST, true);
}

/** True (once) when this search should refresh the index first; see {@link refreshBeforeFirstSearch}. */
export function takeRefreshFirst(ctx: CommandContext): boolean {
  if (ctx.session.state.get(REFRESH_FIRST) !== true) return false;
  ctx.session.state.delete(REFRESH_FIRST);
  return true;
}
