/**
 * Directory listing and tree rendering for the `ls` and `tree` commands: directories first, then files,
 * each sorted by name; `tree` skips `.git`, `node_modules`, `.venv` and the `.dspy*` state folders unless
 * asked to show all.
 *
 * @module
 */

import { join } from "../core/path.ts";

/** Names `tree` hides unless `-a` is given. */
export function isHiddenByDefault(name: string): boolean {
  return name === ".git" || name === "node_modules" || name === ".venv" || name.startsWith(".dspy");
}

/** One directory entry. */
export interface ListedEntry {
  name: string;
  isDirectory: boolean;
  isSymlink: boolean;
  size: number;
}

/** Lists a directory: directories first, then by name. */
export async function listDirectory(dir: string): Promise<ListedEntry[]> {
  const entries: ListedEntry[] = [];
  for await (const e of Deno.readDir(dir)) {
    let size = 0;
    let isDirectory = e.isDirectory;
    if (e.isFile || e.isSymlink) {
      try {
        const info = await Deno.stat(join(dir, e.name));
        size = info.size;
        isDirectory = info.isDirectory;
      } catch { /* dangling symlink */ }
    }
    entries.push({ name: e.name, isDirectory, isSymlink: e.isSymlink, size });
  }
  return entries.sort((a, b) =>
    a.isDirectory === b.isDirectory ? a.name.localeCompare(b.name) : a.isDirectory ? -1 : 1
  );
}

/** Options for {@link renderTree}. */
export interface TreeOptions {
  /** Maximum depth below the root (default 3). */
  depth?: number;
  /** Show the folders hidden by default. */
  all?: boolean;
  /** Stop after this many lines (default 2000). */
  maxLines?: number;
  /** Style for directory names. */
  dirStyle?: (s: string) => string;
}

/** Renders a directory tree as lines (the root first). Symlinked directories are shown but not entered. */
export async function renderTree(root: string, label: string, options: TreeOptions = {}): Promise<string[]> {
  const depth = options.depth ?? 3;
  const maxLines = options.maxLines ?? 2000;
  const style = options.dirStyle ?? ((s: string) => s);
  const lines = [style(label + "/")];
  let dirs = 0;
  let files = 0;
  const walk = async (dir: string, prefix: string, level: number) => {
    if (level > depth) return;
    let entries = await listDirectory(dir).catch(() => [] as ListedEntry[]);
    if (!options.all) entries = entries.filter((e) => !isHiddenByDefault(e.name));
    for (let i = 0; i < entries.length; i++) {
      if (lines.length >= maxLines) return;
      const e = entries[i];
      const last = i === entries.length - 1;
      lines.push(`${prefix}${last ? "└── " : "├── "}${e.isDirectory ? style(e.name + "/") : e.name}`);
      if (e.isDirectory) {
        dirs++;
        if (!e.isSymlink) await walk(join(dir, e.name), prefix + (last ? "    " : "│   "), level + 1);
      } else files++;
    }
  };
  await walk(root, "", 1);
  if (lines.length >= maxLines) lines.push(`… (stopped at ${maxLines} lines; use -d to limit depth)`);
  lines.push("", `${dirs} directories, ${files} files`);
  return lines;
}
