/**
 * The layer check (`deno task check` runs it): parses every import of every `.ts`/`.tsx` file in the tree
 * and fails, listing `file:line  rule  message`, when the code breaks the architecture that
 * `docs/architecture.md` describes:
 *
 * - **layer**: a lower layer imports a higher one. Layers, lowest first: `core` · `learning` · `agent` ·
 *   `bus`, `rl`, `embeddings` · `experiments`, `ops`, `server` · `cli` · `main.ts`. Folders on the same
 *   layer may import each other (the cycle rule still applies). `tests/`, `bench/` and `scripts/` sit
 *   above everything and are not checked as importers.
 * - **face**: a file imports a file of another folder that is not a `mod.ts` (the folder's face, or a
 *   sub-folder's face such as `agent/search/mod.ts`). `core/` is exempt: it is a set of independent leaf
 *   modules, and importing one file keeps worker bundles small. Deliberate exceptions (lazy computed-URL
 *   loads that keep `--help` fast) are listed in {@link FACE_EXCEPTIONS} with the reason.
 * - **cycle**: a file-level import cycle whose files belong to more than one folder.
 * - **folder**: a top-level folder with code that is not in {@link LAYERS} (place every new folder).
 *
 * Imports are found by a small scanner, not a compiler: comments and literal contents are masked first
 * ({@link maskSource}), then static
 * `import`/`export … from`, side-effect `import "x"`, dynamic `import("x")` with a literal, and
 * `new URL("x.ts", import.meta.url)` (workers and lazy loads) are read. Only relative specifiers are
 * followed; npm:, node: and mapped bare specifiers are external. Type-only imports count: a type is a
 * dependency too.
 *
 * Usage: `deno run --allow-read scripts/check_layers.ts [ROOT]` (ROOT defaults to the repository).
 *
 * @module
 */

import { dirname, join, relative, resolve, sep } from "node:path";

/** Layer rank of each top-level code folder (`main.ts` is {@link MAIN_RANK}). Lower never imports higher. */
export const LAYERS: Readonly<Record<string, number>> = Object.freeze({
  core: 0,
  learning: 1,
  agent: 2,
  bus: 3,
  rl: 3,
  embeddings: 3,
  experiments: 4,
  ops: 4,
  server: 4,
  cli: 5,
});
/** Rank of the root entry files (`main.ts`). */
export const MAIN_RANK = 6;
/** Folders that may import anything and are not checked as importers. */
export const TOP_FOLDERS: readonly string[] = ["tests", "bench", "scripts"];
/** Folders whose files other folders may import directly (no face rule). */
export const OPEN_FOLDERS: readonly string[] = ["core"];
/** Never scanned. */
const SKIP_DIRS = new Set(["node_modules", "dist", ".git", "docs", "docker", "fixtures"]);

/** A deliberate import of another folder's non-face file. */
export interface FaceException {
  /** Importing file, relative to the root, `/`-separated. */
  from: string;
  /** Imported file, relative to the root. */
  to: string;
  /** Why it is allowed (shown by `--list-exceptions`). */
  reason: string;
}

/** Imports that may bypass a folder's `mod.ts`, each with its reason. Keep this list short. */
export const FACE_EXCEPTIONS: readonly FaceException[] = [
  {
    from: "cli/commands/server.ts",
    to: "server/run.ts",
    reason: "lazy computed-URL load (cli/lazy.ts): `up` loads only the runner, not the whole server face",
  },
  {
    from: "cli/commands/agent.ts",
    to: "agent/learning/scoring.ts",
    reason: "lazy computed-URL load (cli/lazy.ts): the post-command hook scores a tool without the agent",
  },
  {
    from: "cli/commands/agent.ts",
    to: "agent/learning/tool_learning.ts",
    reason: "lazy computed-URL load (cli/lazy.ts): the tool-end hook updates the bandit without the agent",
  },
  {
    from: "cli/commands/grep_impl.ts",
    to: "agent/search/grep.ts",
    reason: "loaded lazily by URL for `grep` alone: the search face would also load index, ranking, extract",
  },
];

/** One way a file refers to another. */
export type ImportKind = "static" | "type" | "dynamic" | "url";

/** One import found in a file. */
export interface ImportRef {
  /** The specifier as written. */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
  kind: ImportKind;
}

/** One broken rule. */
export interface Violation {
  /** Importing file, relative to the root. */
  file: string;
  line: number;
  rule: "layer" | "face" | "cycle" | "folder";
  message: string;
}

/**
 * Masks a source for scanning: comments become spaces and the contents of string, template and regex
 * literals become spaces too (their quotes stay), keeping every offset and newline, so an import-like text
 * inside a comment or a string is never mistaken for an import. Specifiers are read back from the
 * original source at the same offsets.
 */
export function maskSource(src: string): string {
  const out: string[] = [];
  let i = 0;
  const n = src.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) out.push(src[k] === "\n" ? "\n" : " ");
  };
  while (i < n) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      const start = i++;
      while (i < n && src[i] !== c) {
        if (src[i] === "\\") i++;
        else if (c !== "`" && src[i] === "\n") break; // unterminated: stop at the line end
        i++;
      }
      const stop = Math.min(i, n);
      out.push(c);
      blank(start + 1, stop);
      if (stop < n && src[stop] === c) out.push(c);
      i = stop < n && src[stop] === c ? stop + 1 : stop;
    } else if (c === "/" && isRegexStart(out)) {
      // A regex literal: masked whole so a quote or `//` inside it is not misread.
      const start = i++;
      let inClass = false;
      while (i < n && src[i] !== "\n") {
        if (src[i] === "\\") i++;
        else if (src[i] === "[") inClass = true;
        else if (src[i] === "]") inClass = false;
        else if (src[i] === "/" && !inClass) break;
        i++;
      }
      const stop = Math.min(i + 1, n);
      out.push("/");
      blank(start + 1, stop);
      i = stop;
    } else {
      out.push(c);
      i++;
    }
  }
  return out.join("");
}

/** True when a `/` after `before` starts a regex literal rather than a division. */
function isRegexStart(out: string[]): boolean {
  const m = /(\S+)\s*$/.exec(out.slice(-40).join(""));
  if (!m) return true;
  const last = m[1];
  const ch = last[last.length - 1];
  if ("([{,;:!&|?=+-*%<>~^".includes(ch)) return true;
  return /(^|[^\w$])(return|typeof|case|in|of|new|delete|void|throw|yield|await)$/.test(last);
}

const STATIC_RE = /(^|[^\w$.])(import|export)(\s+type)?\s+([\w\s{},*$]*?)\bfrom\s*(["'])([^"'\n]+)\5/g;
const SIDE_EFFECT_RE = /(^|[^\w$.])import\s*(["'])([^"'\n]+)\2/g;
const DYNAMIC_RE = /(^|[^\w$.])(typeof\s+)?import\s*\(\s*(["'])([^"'\n]+)\3\s*\)/g;
const URL_RE = /new\s+URL\(\s*(["'])([^"'\n]+)\1\s*,\s*import\.meta\.url\s*\)/g;

/** Finds the imports of one source file (see the module doc for what is recognised). */
export function scanImports(source: string): ImportRef[] {
  const code = maskSource(source);
  const newlines: number[] = [];
  for (let i = 0; i < code.length; i++) if (code.charCodeAt(i) === 10) newlines.push(i);
  const lineAt = (offset: number) => {
    let lo = 0, hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newlines[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
  // The specifier's text, read from the original source: `quoteAt` is the offset of its opening quote.
  const specifierAt = (quoteAt: number) => {
    const end = source.indexOf(source[quoteAt], quoteAt + 1);
    return { specifier: source.slice(quoteAt + 1, end), line: lineAt(quoteAt) };
  };
  const refs: ImportRef[] = [];
  for (const m of code.matchAll(STATIC_RE)) {
    // `import { type A, type B } from` is type-only too when every name is marked.
    const names = m[4].trim();
    const allTypes = /^\{[^}]*\}$/.test(names) &&
      names.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith("type "));
    const kind: ImportKind = m[3] || allTypes ? "type" : "static";
    refs.push({ ...specifierAt(m.index! + m[0].length - m[6].length - 2), kind });
  }
  for (const m of code.matchAll(SIDE_EFFECT_RE)) {
    refs.push({ ...specifierAt(m.index! + m[0].length - m[3].length - 2), kind: "static" });
  }
  for (const m of code.matchAll(DYNAMIC_RE)) {
    const quoteAt = m.index! + m[0].lastIndexOf(m[3] + m[4] + m[3]);
    refs.push({ ...specifierAt(quoteAt), kind: m[2] ? "type" : "dynamic" });
  }
  for (const m of code.matchAll(URL_RE)) {
    refs.push({ ...specifierAt(m.index! + m[0].indexOf(m[1])), kind: "url" });
  }
  return refs.sort((a, b) => a.line - b.line);
}

/** Lists the `.ts`/`.tsx` files under `root` (relative, `/`-separated), skipping vendored and state dirs. */
export async function listSources(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) {
        if (SKIP_DIRS.has(entry.name) || entry.name.startsWith(".")) continue;
        await walk(join(dir, entry.name));
      } else if (entry.isFile && /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        out.push(relative(root, join(dir, entry.name)).split(sep).join("/"));
      }
    }
  }
  await walk(root);
  return out.sort();
}

/** The top-level folder of a relative path (`""` for a file at the root). */
function folderOf(rel: string): string {
  const i = rel.indexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

/** Layer rank of a file, or undefined for an unplaced folder. */
function rankOf(rel: string): number | undefined {
  const folder = folderOf(rel);
  if (folder === "") return MAIN_RANK;
  if (TOP_FOLDERS.includes(folder)) return Infinity;
  return LAYERS[folder];
}

function layerName(rel: string): string {
  const folder = folderOf(rel);
  return folder === "" ? rel : `${folder}/`;
}

/** Options for {@link checkLayers}. */
export interface CheckOptions {
  /** Face exceptions (default {@link FACE_EXCEPTIONS}). */
  exceptions?: readonly FaceException[];
}

/** Checks every source file under `root`; returns the violations (empty when the tree is clean). */
export async function checkLayers(root: string, options: CheckOptions = {}): Promise<Violation[]> {
  const exceptions = options.exceptions ?? FACE_EXCEPTIONS;
  const files = await listSources(root);
  const known = new Set(files);
  const violations: Violation[] = [];
  const edges = new Map<string, { to: string; line: number }[]>();
  const reportedFolders = new Set<string>();

  for (const file of files) {
    const folder = folderOf(file);
    const fromRank = rankOf(file);
    if (fromRank === undefined) {
      if (!reportedFolders.has(folder)) {
        reportedFolders.add(folder);
        violations.push({
          file,
          line: 1,
          rule: "folder",
          message: `folder '${folder}/' has no layer: add it to LAYERS in scripts/check_layers.ts ` +
            `and to docs/architecture.md`,
        });
      }
      continue;
    }
    const source = await Deno.readTextFile(join(root, file));
    const out: { to: string; line: number }[] = [];
    for (const ref of scanImports(source)) {
      if (!ref.specifier.startsWith("./") && !ref.specifier.startsWith("../")) continue;
      const target = relative(root, resolve(root, dirname(file), ref.specifier)).split(sep).join("/");
      if (target.startsWith("../") || !known.has(target)) continue; // outside the tree or not a source file
      out.push({ to: target, line: ref.line });
      if (fromRank === Infinity) continue; // tests, bench, scripts may import anything
      const toFolder = folderOf(target);
      if (toFolder === folder) continue;
      const toRank = rankOf(target);
      if (toRank !== undefined && toRank > fromRank) {
        violations.push({
          file,
          line: ref.line,
          rule: "layer",
          message: `${layerName(file)} (layer ${fromRank}) imports ${target} (${layerName(target)}, layer ${
            toRank === Infinity ? "top" : toRank
          }): a lower layer must not import a higher one`,
        });
        continue;
      }
      const isFace = target.endsWith("/mod.ts") || target.endsWith("/mod.tsx");
      if (!isFace && !OPEN_FOLDERS.includes(toFolder) && toFolder !== "") {
        const allowed = exceptions.some((e) => e.from === file && e.to === target);
        if (!allowed) {
          violations.push({
            file,
            line: ref.line,
            rule: "face",
            message: `imports ${target}, not the face of ${toFolder}/: import ${toFolder}/mod.ts ` +
              `(export what you need there) or list a reasoned exception in FACE_EXCEPTIONS`,
          });
        }
      }
    }
    edges.set(file, out);
  }

  for (const cycle of crossFolderCycles(edges)) {
    const [first] = cycle;
    const line = edges.get(first)!.find((e) => e.to === cycle[1 % cycle.length])?.line ?? 1;
    violations.push({
      file: first,
      line,
      rule: "cycle",
      message: `import cycle across folders: ${[...cycle, first].join(" -> ")}`,
    });
  }
  // One report per file, line, rule and message (`typeof import("x")` and `new URL("x")` on one line).
  const seen = new Set<string>();
  return violations
    .filter((v) => {
      const key = `${v.file}\0${v.line}\0${v.rule}\0${v.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** Exceptions that no import in the tree uses any more (worth deleting from the list). */
export async function unusedExceptions(
  root: string,
  exceptions: readonly FaceException[] = FACE_EXCEPTIONS,
): Promise<FaceException[]> {
  const unused: FaceException[] = [];
  for (const e of exceptions) {
    const source = await Deno.readTextFile(join(root, e.from)).catch(() => "");
    const used = scanImports(source).some((ref) =>
      relative(root, resolve(root, dirname(e.from), ref.specifier)).split(sep).join("/") === e.to
    );
    if (!used) unused.push(e);
  }
  return unused;
}

/**
 * The strongly connected components (Tarjan) of the file graph that span more than one folder, each as
 * one concrete cycle through its files.
 */
function crossFolderCycles(edges: Map<string, { to: string; line: number }[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const strong = (v: string) => {
    // Iterative Tarjan, so a deep import chain cannot overflow the call stack.
    const work: { v: string; i: number }[] = [{ v, i: 0 }];
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    while (work.length) {
      const top = work[work.length - 1];
      const next = edges.get(top.v) ?? [];
      if (top.i < next.length) {
        const w = next[top.i++].to;
        if (!idx.has(w)) {
          idx.set(w, index);
          low.set(w, index++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(top.v, Math.min(low.get(top.v)!, idx.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === idx.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        components.push(comp);
      }
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) strong(v);

  const cycles: string[][] = [];
  for (const comp of components) {
    if (comp.length < 2 || new Set(comp.map(folderOf)).size < 2) continue;
    cycles.push(cycleThrough(comp, edges));
  }
  return cycles;
}

/** One cycle inside a strongly connected component, starting at its first file in sort order. */
function cycleThrough(comp: string[], edges: Map<string, { to: string; line: number }[]>): string[] {
  const members = new Set(comp);
  const start = [...comp].sort()[0];
  // Breadth-first from start back to start, staying inside the component: the shortest cycle.
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const { to } of edges.get(v) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0])!);
        return path;
      }
      if (!prev.has(to)) {
        prev.set(to, v);
        queue.push(to);
      }
    }
  }
  return comp;
}

/** Formats violations as `file:line  rule  message` lines. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}  ${v.rule}  ${v.message}`).join("\n");
}

if (import.meta.main) {
  if (Deno.args.includes("--list-exceptions")) {
    for (const e of FACE_EXCEPTIONS) console.log(`${e.from} -> ${e.to}: ${e.reason}`);
    Deno.exit(0);
  }
  const root = resolve(
    Deno.args.find((a) => !a.startsWith("-")) ?? join(dirname(new URL(import.meta.url).pathname), ".."),
  );
  const violations = await checkLayers(root);
  for (const e of await unusedExceptions(root)) {
    console.error(`note: FACE_EXCEPTIONS lists ${e.from} -> ${e.to}, which is no longer imported: delete it`);
  }
  if (violations.length === 0) {
    console.log(`layer check: ok (${(await listSources(root)).length} files)`);
  } else {
    console.error(formatViolations(violations));
    console.error(
      `\nlayer check: ${violations.length} violation(s). Layers, lowest first: core · learning · agent · ` +
        `bus, rl, embeddings · experiments, ops, server · cli · main.ts (see docs/architecture.md)`,
    );
    Deno.exit(1);
  }
}
