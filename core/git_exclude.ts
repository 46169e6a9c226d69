/**
 * Keeps dspy-code's own state (`.dspy/`, `.dspy_index/`, `.dspy_reports/`, `.dspy_patches/`, `.dspy_rl_*`
 * ...) out of the user's git status without touching their `.gitignore`: the patterns go into the
 * repository's local, untracked `.git/info/exclude`, as other coding agents do. `.dspyignore` (the user's own
 * search-ignore file) stays visible.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "./path.ts";

/** The block added to `info/exclude`; its first line marks it as present. */
export const EXCLUDE_BLOCK = [
  "# dspy-code's own state (added by dspy-code; safe to keep)",
  ".dspy/",
  ".dspy_*",
];

/** The git directory whose `info/exclude` applies to `folder`, or null outside a repository. */
export async function findGitCommonDir(folder: string): Promise<string | null> {
  let dir = resolve(folder);
  while (true) {
    const dotGit = join(dir, ".git");
    const info = await Deno.stat(dotGit).catch(() => null);
    if (info?.isDirectory) return dotGit;
    if (info?.isFile) {
      // A worktree or submodule: `.git` is a file `gitdir: PATH`; a worktree's `commondir` holds info/.
      const m = /^gitdir:\s*(.+)$/m.exec(await Deno.readTextFile(dotGit).catch(() => ""));
      if (!m) return null;
      const gitDir = isAbsolute(m[1].trim()) ? m[1].trim() : resolve(dir, m[1].trim());
      const common = (await Deno.readTextFile(join(gitDir, "commondir")).catch(() => "")).trim();
      return common ? (isAbsolute(common) ? common : resolve(gitDir, common)) : gitDir;
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Adds {@link EXCLUDE_BLOCK} to the repository's `info/exclude` when `workspace` is inside a git repository
 * and the block is not there yet. Returns the file it changed, or null (not a repository, already there,
 * or not writable — never an error: this is a courtesy, not a requirement).
 */
export async function excludeStateFromGit(workspace: string): Promise<string | null> {
  try {
    const gitDir = await findGitCommonDir(workspace);
    if (!gitDir) return null;
    const file = join(gitDir, "info", "exclude");
    const current = await Deno.readTextFile(file).catch(() => "");
    if (current.includes(EXCLUDE_BLOCK[0])) return null;
    await Deno.mkdir(join(gitDir, "info"), { recursive: true });
    const sep = current === "" || current.endsWith("\n") ? "" : "\n";
    await Deno.writeTextFile(file, `${sep}${EXCLUDE_BLOCK.join("\n")}\n`, { append: true });
    return file;
  } catch {
    return null;
  }
}
