/**
 * Keeps a long-running process's searches on the files as they are now, without checking every file before
 * every search. The session refreshes its lexical index (a walk that compares each file's size and time,
 * ~10 ms for 450 files, ~250 ms for 20,000) only when a file may have changed: before its first search, and
 * after the operating system reported a change in a folder the index covers (`Deno.watchFs`, one
 * non-recursive watch per folder the index's walk entered: also those holding no indexed file yet, where a new
 * one may appear, such as `docs/` in an index of `*.py`). Changes to dspy-code's own
 * state (`.dspy*`) and to `.git/` do not count, nor do reads. Where watching fails (no watcher on the
 * platform, the system's limit on watches, a folder removed meanwhile), every search refreshes, and the
 * watch is tried again after the next refresh, until it fails three times in a row.
 *
 * `refreshIfStale` before a search and `searched` after it are the whole protocol; `markStale` is for the
 * commands that write files, and `prewarm` for the session's start (the same refresh, done before it is
 * asked for).
 *
 * @module
 */

import { buildIndex, type BuildIndexOptions, indexedFolders, loadIndexForSearch } from "./lexical_index.ts";

/** Attempts to start a watcher before a session gives up and refreshes before every search. */
const MAX_WATCH_FAILURES = 3;

/** Whether the index may be stale, kept up to date by a file watcher. Dispose of it to stop watching. */
export class IndexWatch implements Disposable {
  readonly root: string;
  #watcher: Deno.FsWatcher | undefined;
  /** The folders watched, sorted and joined: a refresh that leaves it equal keeps the watcher. */
  #watching = "";
  #dirty = true;
  /** Files may have changed since the embedding index was last brought up to date in this session. */
  #vectorsDirty = true;
  /** Changes seen (and said) so far: a check that started at one count holds only if it is still that. */
  #changes = 0;
  /** A refresh or build ran: watch its folders after the search (kept as they are when the same). */
  #rearm = false;
  /** The folders the last refresh walked, for {@link IndexWatch.searched}; unset after a build by the search. */
  #walkedFolders: string[] | undefined;
  /** Failed attempts in a row to start a watcher; after {@link MAX_WATCH_FAILURES} the session stops trying. */
  #failures = 0;
  /** A pre-warm in flight ({@link IndexWatch.prewarm}): a search waits for it instead of walking again. */
  #prewarming: Promise<void> | undefined;
  /** A search waits for the pre-warm: it no longer lets others run during its walk. */
  #searchWaiting = false;
  /** The progress bar of a search waiting for the pre-warm: it shows the pre-warm's build from then on. */
  #waitingProgress: ((done: number, total: number) => void) | undefined;
  #disposed = false;

  /** `root`: the workspace (an absolute path without a trailing slash). */
  constructor(root: string) {
    this.root = root;
  }

  /** True when the index should be refreshed before the next search. */
  get stale(): boolean {
    return this.#dirty || !this.#watcher;
  }

  /**
   * True (once) when the embedding index should be brought up to date before its vectors are used: at the
   * first vector search of the session, and after a change was seen since the last one. The lexical index
   * has its own flag, so a plain `esearch` that refreshed it in between does not hide the change.
   */
  takeVectorsStale(): boolean {
    const stale = this.#vectorsDirty || !this.#watcher;
    this.#vectorsDirty = false;
    return stale;
  }

  /** A vector refresh that {@link IndexWatch.takeVectorsStale} asked for failed: the next one asks again. */
  vectorsRefreshFailed(): void {
    this.#vectorsDirty = true;
  }

  /** How many changes were seen so far; pass it to {@link IndexWatch.vectorsChecked}. */
  get changeCount(): number {
    return this.#changes;
  }

  /**
   * The embedding index was found current by a check that started when {@link IndexWatch.changeCount} was
   * `count`: the next vector search need not check again, unless a change was seen since (or nothing is
   * watched, so changes could not be seen).
   */
  vectorsChecked(count: number): void {
    if (count === this.#changes && this.#watcher) this.#vectorsDirty = false;
  }

  /** True while a watcher reports changes (after the first {@link IndexWatch.refreshed}). */
  get armed(): boolean {
    return this.#watcher !== undefined;
  }

  /**
   * Before a search: when the index may be stale (or `force`, `esearch --refresh`), brings it up to date within
   * the scope it was built with (only changed files are read). True when it refreshed. A refresh cut short
   * (Ctrl-C) leaves the index marked stale.
   */
  async refreshIfStale(build: BuildIndexOptions = {}, force = false): Promise<boolean> {
    if (this.#prewarming) {
      // A long pre-warm (a rebuild of a damaged index, many files changed since the last session) shows on
      // the waiting search's progress bar.
      this.#waitingProgress = build.onProgress;
      this.#searchWaiting = true;
      try {
        await this.#prewarming;
      } finally {
        this.#waitingProgress = undefined;
        this.#searchWaiting = false;
      }
      // What it refreshed counts as this search's refresh: the index is as fresh as the files were then.
      if (!force && !this.stale) return true;
    }
    return await this.#refreshIfStale(build, force);
  }

  /**
   * Brings the index up to date, watches its folders and loads it into this process, in the background, so
   * the session's first search does not pay for the walk (~250 ms on 20,000 files) and the load: call when
   * the session starts, for a workspace that has an index. Errors leave the index marked stale (the search
   * then refreshes and reports them).
   */
  prewarm(): Promise<void> {
    if (this.#disposed) return Promise.resolve();
    if (this.#prewarming) return this.#prewarming;
    this.#prewarming = (async () => {
      try {
        await this.#refreshIfStale({
          background: () => !this.#searchWaiting,
          onProgress: (done, total) => this.#waitingProgress?.(done, total),
        });
        await this.searched();
        await loadIndexForSearch(this.root);
      } catch {
        this.markStale();
      } finally {
        this.#prewarming = undefined;
      }
    })();
    return this.#prewarming;
  }

  /**
   * Resolves once no pre-warm is running: a command that builds the index itself (`index`) waits, so two
   * builds in one process never write the index files at once.
   */
  async settled(): Promise<void> {
    while (this.#prewarming) await this.#prewarming;
  }

  async #refreshIfStale(build: BuildIndexOptions = {}, force = false): Promise<boolean> {
    if (!force && !this.stale) return false;
    this.refreshing();
    try {
      const r = await buildIndex(this.root, { ...build, keepScope: true });
      // Even with no file changed a folder may have come or gone (an empty one, or one of unindexed files).
      this.#walkedFolders = r.folders;
      this.#rearm = true;
    } catch (err) {
      this.markStale();
      throw err;
    }
    return true;
  }

  /** There is no index: the search about to run builds it; watch it once it has. */
  building(): void {
    this.refreshing();
    this.#walkedFolders = undefined;
    this.#rearm = true;
  }

  /** After a search: watch the folders of the refresh or build before it. */
  async searched(): Promise<void> {
    if (!this.#rearm) return;
    this.#rearm = false;
    const folders = this.#walkedFolders ?? await indexedFolders(this.root);
    this.#walkedFolders = undefined;
    if (folders) return this.refreshed([], folders);
    // An index whose file table predates the folder record: the folders of its files (the process keeps the
    // index as the search just loaded it).
    const index = await loadIndexForSearch(this.root);
    if (index) this.refreshed(index.meta.paths.all());
  }

  /** Says the files changed (a command of this process wrote them: no need to wait for the watcher). */
  markStale(): void {
    this.#dirty = true;
    this.#vectorsDirty = true;
    this.#changes++;
  }

  /** Call right before a refresh: what changes from now on makes the index stale again. */
  refreshing(): void {
    this.#dirty = false;
  }

  /**
   * Call after a refresh with the folders its walk entered (workspace-relative) and/or the paths the index now
   * holds: watches the root, those folders, and the folders that hold the paths with their parents (so a new
   * folder anywhere on the way is seen), replacing the watcher when the set of folders changed.
   */
  refreshed(paths: Iterable<string>, walkedFolders: Iterable<string> = []): void {
    if (this.#failures >= MAX_WATCH_FAILURES || this.#disposed) return;
    const folders = new Set<string>([this.root]);
    for (const rel of walkedFolders) folders.add(`${this.root}/${rel}`);
    for (const rel of paths) {
      for (let slash = rel.lastIndexOf("/"); slash > 0; slash = rel.lastIndexOf("/", slash - 1)) {
        const folder = `${this.root}/${rel.slice(0, slash)}`;
        if (folders.has(folder)) break; // its parents were added with it
        folders.add(folder);
      }
    }
    const key = [...folders].sort().join("\n");
    if (this.#watcher && key === this.#watching) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    try {
      this.#watcher = Deno.watchFs([...folders], { recursive: false });
    } catch {
      // A folder removed meanwhile, or the system's limit on watches: refresh at every search, and try again
      // after the next refresh a few times before giving up.
      this.#failures++;
      return;
    }
    this.#failures = 0;
    this.#watching = key;
    void this.#listen(this.#watcher);
  }

  async #listen(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        if (event.paths.some((p) => this.#counts(p))) {
          this.#dirty = this.#vectorsDirty = true;
          this.#changes++;
        }
      }
    } catch {
      // A watcher that breaks (a watched folder removed, say) stops reporting: refresh every time from now on,
      // unless a refresh arms a new one.
      if (watcher === this.#watcher) this.#watcher = undefined;
    }
  }

  /** A change under the workspace that could change the index: not dspy-code's state, not `.git/`. */
  #counts(path: string): boolean {
    if (!path.startsWith(this.root + "/")) return path === this.root;
    for (const part of path.slice(this.root.length + 1).split("/")) {
      if (part.startsWith(".dspy") || part === ".git") return false;
    }
    return true;
  }

  /** Stops watching. */
  [Symbol.dispose](): void {
    this.#disposed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
