/**
 * Confined file access for code that opens workspace files on someone else's behalf (the status server's
 * routes, the trace and dead-letter logs). A workspace may be a hostile repository: it can plant
 * `.dspy/rl/runs/r/metrics.jsonl -> /home/me/.ssh/id_ed25519`, or a FIFO that blocks any reader forever.
 *
 * - {@link openConfined} opens for reading only a **regular file whose real path is inside the root**: the
 *   path is resolved (symlinks included), checked, `lstat`ed (so a FIFO or device is refused before `open`
 *   could block on it), opened, and the opened file's device and inode are compared with the checked one,
 *   so a swap between check and open is detected.
 * - {@link appendConfined} appends only to a regular file (or creates it) with **no symlink on any
 *   component below the root**, so a planted link cannot redirect dspy-code's own log writes elsewhere.
 *
 * Not covered: hard links (a hard link inside the workspace to a file elsewhere is the same file; Linux's
 * `protected_hardlinks` stops linking other users' files), and a race on the *parent* folders of an append
 * by a concurrent local process of the same user (out of the threat model).
 *
 * @module
 */

import { UserError } from "./errors.ts";
import { dirname, isAbsolute, normalize, resolve } from "./path.ts";

/** Why a confined open refused a path. */
export type ConfinedReason = "outside" | "symlink" | "not-a-file" | "not-found";

/** A path a confined open refused; `reason` says why. */
export class ConfinedPathError extends UserError {
  /** Machine-readable reason. */
  readonly reason: ConfinedReason;
  /** The path as given. */
  readonly path: string;
  constructor(reason: ConfinedReason, path: string, message: string) {
    super(message);
    this.name = "ConfinedPathError";
    this.reason = reason;
    this.path = path;
  }
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : root + "/");
}

/**
 * Opens `path` (absolute, or relative to `root`) for reading when it is a regular file whose real path is
 * inside `root`. The caller closes the file.
 *
 * @throws ConfinedPathError `not-found`, `outside` (also through a symlink), `not-a-file`
 */
export async function openConfined(
  root: string,
  path: string,
): Promise<{ file: Deno.FsFile; info: Deno.FileInfo; real: string }> {
  const abs = isAbsolute(path) ? normalize(path) : resolve(root, path);
  let realRoot: string;
  let real: string;
  try {
    realRoot = await Deno.realPath(root);
    real = await Deno.realPath(abs);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfinedPathError("not-found", path, `${path} does not exist`);
    }
    throw err;
  }
  if (!inside(realRoot, real)) {
    throw new ConfinedPathError(
      "outside",
      path,
      `${path} leads outside the workspace${real !== abs ? " through a symlink" : ""}; refusing to read it`,
    );
  }
  const before = await Deno.lstat(real);
  if (!before.isFile) {
    throw new ConfinedPathError("not-a-file", path, `${path} is not a regular file; refusing to read it`);
  }
  const file = await Deno.open(real, { read: true });
  try {
    const info = await file.stat();
    if (!info.isFile || info.ino !== before.ino || info.dev !== before.dev) {
      throw new ConfinedPathError("symlink", path, `${path} changed while it was being opened; refusing it`);
    }
    return { file, info, real };
  } catch (err) {
    file.close();
    throw err;
  }
}

/** Reads a whole confined file as UTF-8 text (see {@link openConfined}); refuses files over `maxBytes`. */
export async function readConfinedText(
  root: string,
  path: string,
  maxBytes = 64 * 1024 * 1024,
): Promise<string> {
  const { file, info } = await openConfined(root, path);
  try {
    if (info.size > maxBytes) {
      throw new ConfinedPathError(
        "not-a-file",
        path,
        `${path} is larger than ${maxBytes} bytes; refusing it`,
      );
    }
    return await new Response(file.readable).text();
  } catch (err) {
    try {
      file.close();
    } catch { /* closed by the stream */ }
    throw err;
  }
}

/**
 * Throws unless every existing component of `path` below `root` is a real folder (no symlink) and the
 * file itself, when it exists, is a regular file. Missing components are fine (they will be created).
 */
export async function checkNoSymlinkBelow(root: string, path: string): Promise<void> {
  const abs = isAbsolute(path) ? normalize(path) : resolve(root, path);
  const base = normalize(root);
  if (!inside(base, abs) || abs === base) {
    throw new ConfinedPathError("outside", path, `${path} is not inside ${root}`);
  }
  const parts = abs.slice(base.length + 1).split("/");
  for (let i = 1; i <= parts.length; i++) {
    const p = `${base}/${parts.slice(0, i).join("/")}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    if (info.isSymlink) {
      throw new ConfinedPathError(
        "symlink",
        path,
        `${p} is a symlink; dspy-code does not write its logs through symlinks (remove the link)`,
      );
    }
    if (i === parts.length && !info.isFile) {
      throw new ConfinedPathError("not-a-file", path, `${p} is not a regular file; remove it`);
    }
  }
}

/** Appends `data` to `path` under `root` after {@link checkNoSymlinkBelow}, creating folders as needed. */
export async function appendConfined(root: string, path: string, data: Uint8Array | string): Promise<void> {
  const abs = isAbsolute(path) ? normalize(path) : resolve(root, path);
  await checkNoSymlinkBelow(root, abs);
  await Deno.mkdir(dirname(abs), { recursive: true });
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  await Deno.writeFile(abs, bytes, { append: true, create: true });
}
