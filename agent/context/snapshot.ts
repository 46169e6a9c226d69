/**
 * Code snapshots for `codectx`, plan context and edits: a file becomes `===== FILE path =====`, an outline of
 * its symbols (`L12: function main`) and its text (head and tail when long); a folder becomes
 * `===== DIRECTORY path (N files sampled) =====` followed by each sampled file's outline and first lines.
 * Also a cheap offline analysis: languages, entry points (main/index/app/server/cli files and `main`
 * functions) and risk areas (largest files, TODO/FIXME density), so `codectx` is useful without an LLM.
 *
 * @module
 */

import { extname } from "node:path";
import { UserError } from "../../core/errors.ts";
import { displayPath, resolveInside } from "../../core/workspace.ts";
import { extractSymbols, languageOf, readTextIfText, walkFiles } from "../search/mod.ts";

/** Snapshot options. */
export interface SnapshotOptions {
  /** Files sampled from a folder (default 50). */
  maxFiles?: number;
  /** Bytes read per file (default 20000). */
  maxFileBytes?: number;
  /** Total characters of the snapshot (default 12000). */
  maxChars?: number;
  /** Lines shown per file in a folder snapshot (default 40). */
  linesPerFile?: number;
}

/** A snapshot with the offline analysis. */
export interface CodeSnapshot {
  /** Workspace-relative target. */
  target: string;
  kind: "file" | "directory";
  text: string;
  files: number;
  lines: number;
  languages: Record<string, number>;
  entryPoints: string[];
  riskAreas: string[];
  symbols: number;
}

const ENTRY_FILE = /(^|\/)(main|index|app|server|cli|__main__|mod|lib)\.(ts|tsx|js|mjs|py|go|rs)$/;

function outline(text: string, path: string): { lines: string[]; count: number; hasMain: boolean } {
  const lang = languageOf(path);
  if (!lang) return { lines: [], count: 0, hasMain: false };
  try {
    const symbols = extractSymbols(text, lang).filter((s) => s.depth <= 1);
    return {
      lines: symbols.slice(0, 40).map((s) =>
        `L${s.startLine}: ${s.kind} ${s.parent ? s.parent + "." : ""}${s.name}`
      ),
      count: symbols.length,
      hasMain: symbols.some((s) => s.name === "main" && s.depth === 0),
    };
  } catch {
    return { lines: [], count: 0, hasMain: false };
  }
}

/** Builds a snapshot of a file or folder inside the workspace. */
export async function buildCodeSnapshot(
  root: string,
  target = ".",
  options: SnapshotOptions = {},
): Promise<CodeSnapshot> {
  const abs = resolveInside(root, target);
  const info = await Deno.stat(abs).catch(() => null);
  if (!info) throw new UserError(`codectx: ${target} does not exist in the workspace`);
  const rel = displayPath(root, abs);
  const maxChars = options.maxChars ?? 12000;
  const maxFileBytes = options.maxFileBytes ?? 20000;
  const languages: Record<string, number> = {};
  const risks: { path: string; score: number; note: string }[] = [];
  const entryPoints: string[] = [];
  let lines = 0, symbols = 0;

  const analyse = (path: string, text: string, o: ReturnType<typeof outline>) => {
    const ext = extname(path).slice(1) || "(none)";
    languages[ext] = (languages[ext] ?? 0) + 1;
    // Lines as `wc -l` counts them, plus a last line without its newline: a trailing newline ends the last
    // line, it does not start another.
    const n = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    lines += n;
    symbols += o.count;
    if (ENTRY_FILE.test(path) || o.hasMain || /^#!/.test(text)) entryPoints.push(path);
    const todos = (text.match(/\b(TODO|FIXME|XXX|HACK)\b/g) ?? []).length;
    const score = n / 400 + todos;
    if (n > 400 || todos > 0) {
      risks.push({ path, score, note: `${path} (${n} lines${todos ? `, ${todos} TODO/FIXME` : ""})` });
    }
  };

  if (info.isFile) {
    const text = await readTextIfText(abs, 4 * 1024 * 1024);
    if (text === null) throw new UserError(`codectx: ${target} is binary or too large to summarise`);
    const o = outline(text, rel);
    analyse(rel, text, o);
    const body = text.length > maxFileBytes
      ? text.slice(0, maxFileBytes / 2) + "\n... [truncated] ...\n" + text.slice(-maxFileBytes / 2)
      : text;
    const out = [
      `===== FILE ${rel} =====`,
      "-- Outline --",
      ...(o.lines.length ? o.lines : ["(no symbols)"]),
      "-- Text --",
      body,
    ]
      .join("\n");
    return {
      target: rel,
      kind: "file",
      text: out.slice(0, maxChars),
      files: 1,
      lines,
      languages,
      entryPoints,
      riskAreas: risks.map((r) => r.note),
      symbols,
    };
  }
  const walked = await walkFiles(abs === root ? root : root, {
    globs: abs === root ? undefined : [`${rel}/**`],
    maxFileBytes: 512 * 1024,
  });
  const files = walked.filter((f) => abs === root || f.rel.startsWith(rel + "/"));
  // Prefer source files and entry points when sampling.
  const ranked = [...files].sort((a, b) => {
    const sa = (languageOf(a.rel) ? 0 : 1) + (ENTRY_FILE.test(a.rel) ? -1 : 0) +
      a.rel.split("/").length * 0.1;
    const sb = (languageOf(b.rel) ? 0 : 1) + (ENTRY_FILE.test(b.rel) ? -1 : 0) +
      b.rel.split("/").length * 0.1;
    return sa - sb || a.rel.localeCompare(b.rel);
  });
  const sample = ranked.slice(0, options.maxFiles ?? 50);
  const parts: string[] = [
    `===== DIRECTORY ${rel} (${sample.length} of ${files.length} files sampled) =====`,
  ];
  for (const f of sample) {
    const text = await readTextIfText(f.abs, maxFileBytes * 4);
    if (text === null) continue;
    const o = outline(text, f.rel);
    analyse(f.rel, text, o);
    const head = text.split("\n").slice(0, options.linesPerFile ?? 40).join("\n");
    parts.push(`--- ${f.rel} ---`, ...(o.lines.length ? ["Outline:", ...o.lines.slice(0, 20)] : []), head);
  }
  let text = parts.join("\n");
  if (text.length > maxChars) text = text.slice(0, maxChars) + "\n... [snapshot truncated] ...";
  return {
    target: rel,
    kind: "directory",
    text,
    files: files.length,
    lines,
    languages,
    entryPoints: entryPoints.slice(0, 10),
    riskAreas: risks.sort((a, b) => b.score - a.score).slice(0, 8).map((r) => r.note),
    symbols,
  };
}
