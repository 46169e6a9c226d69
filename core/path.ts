/**
 * POSIX path helpers for the start-up path. Importing any `node:` module boots Deno's Node compatibility
 * layer (about 8 ms here), which alone would make `dspy-code --help` half again as slow as an empty script, so
 * the modules every command loads use these instead of `node:path`. dspy-code targets Linux and macOS.
 *
 * @module
 */

/** The path separator. */
export const sep = "/";

/** True for an absolute path. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/** Resolves `.` and `..` segments and duplicate slashes. */
export function normalize(path: string): string {
  const absolute = isAbsolute(path);
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push("..");
    } else parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? "/" + joined : joined || ".";
}

/** Joins segments and normalises the result. */
export function join(...segments: string[]): string {
  return normalize(segments.filter((s) => s !== "").join("/") || ".");
}

/** Resolves segments right to left into an absolute path, starting from the current directory. */
export function resolve(...segments: string[]): string {
  let path = "";
  for (let i = segments.length - 1; i >= 0 && !isAbsolute(path); i--) {
    if (segments[i]) path = path ? `${segments[i]}/${path}` : segments[i];
  }
  if (!isAbsolute(path)) path = `${Deno.cwd()}/${path}`;
  return normalize(path);
}

/** The relative path from `from` to `to` (both resolved first). */
export function relative(from: string, to: string): string {
  const a = resolve(from).split("/").filter(Boolean);
  const b = resolve(to).split("/").filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...Array(a.length - i).fill(".."), ...b.slice(i)].join("/");
}

/** The directory part of a path. */
export function dirname(path: string): string {
  const n = normalize(path);
  const idx = n.lastIndexOf("/");
  if (idx < 0) return ".";
  return idx === 0 ? "/" : n.slice(0, idx);
}

/** The last segment of a path. */
export function basename(path: string): string {
  const n = normalize(path);
  return n.slice(n.lastIndexOf("/") + 1);
}
