/**
 * The log reader behind `ctx` and plan context: find log files (`<ws>/logs/**` and top-level `*.log`,
 * extensions `.log/.out/.err/.txt`), read each capped to head + tail (`MAX_LOG_BYTES`, default 512000), and
 * extract key events: lines matching errors, warnings, tracebacks, failures, timeouts and "not found", with
 * two lines either side, traceback bodies replaced by `... stack trace omitted ...`, repeats collapsed, and
 * at most 120 lines per file (the last lines when nothing matches).
 *
 * @module
 */

import { join, relative } from "node:path";

const LOG_EXT = /\.(log|out|err|txt)$/i;
const KEY =
  /(error|exception)\b|\b(fatal|traceback|warning|warn|failed|failures?|timeout|timed out|not found|panic)\b/i;

/** Log files of the workspace, newest first (at most `limit`). */
export async function findLogFiles(
  root: string,
  limit = 50,
  logsDir = join(root, "logs"),
): Promise<string[]> {
  const found: { path: string; mtime: number }[] = [];
  async function walk(dir: string, depth: number): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory && depth < 4 && !e.name.startsWith(".")) await walk(p, depth + 1);
      else if (e.isFile && LOG_EXT.test(e.name)) {
        const info = await Deno.stat(p).catch(() => null);
        if (info) found.push({ path: p, mtime: info.mtime?.getTime() ?? 0 });
      }
    }
  }
  const info = await Deno.stat(logsDir).catch(() => null);
  if (info?.isFile) return [logsDir];
  await walk(logsDir, 0);
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isFile && /\.log$/i.test(e.name)) {
        const p = join(root, e.name);
        const info = await Deno.stat(p).catch(() => null);
        if (info) found.push({ path: p, mtime: info.mtime?.getTime() ?? 0 });
      }
    }
  } catch { /* unreadable root */ }
  return found.sort((a, b) => b.mtime - a.mtime).slice(0, limit).map((f) => f.path);
}

/** Reads a file keeping the head and tail when it is over `maxBytes`. */
export async function readCapped(
  path: string,
  maxBytes = Number(Deno.env.get("MAX_LOG_BYTES") ?? 512000),
): Promise<string> {
  const bytes = await Deno.readFile(path);
  const dec = new TextDecoder();
  if (bytes.length <= maxBytes) return dec.decode(bytes);
  const half = Math.floor(maxBytes / 2);
  return dec.decode(bytes.subarray(0, half)) + "\n... [truncated] ...\n" +
    dec.decode(bytes.subarray(bytes.length - half));
}

/** Key events of one log text (see the module doc). */
export function extractKeyEvents(text: string, maxLines = 120): string[] {
  const lines = text.split("\n");
  const keep = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    if (KEY.test(lines[i])) {
      for (let j = Math.max(0, i - 2); j <= Math.min(lines.length - 1, i + 2); j++) keep.add(j);
    }
  }
  if (keep.size === 0) return lines.filter((l) => l.trim()).slice(-10);
  const out: string[] = [];
  let inTrace = false;
  let last = -2;
  for (const i of [...keep].sort((a, b) => a - b)) {
    const line = lines[i];
    if (/^Traceback \(most recent call last\)/.test(line)) {
      inTrace = true;
      out.push(line, "  ... stack trace omitted ...");
      last = i;
      continue;
    }
    if (inTrace) {
      if (/^\s/.test(line) || line.trim() === "") continue;
      inTrace = false;
    }
    if (/^\s+at .+\(.+:\d+:\d+\)$/.test(line) && /^\s+at /.test(out[out.length - 1] ?? "")) continue;
    if (i > last + 1 && out.length) out.push("...");
    if (out[out.length - 1] !== line) out.push(line);
    last = i;
  }
  return out.slice(0, maxLines);
}

/** Key events per log file. */
export interface LogEvents {
  files: { path: string; events: string[] }[];
  /** `===== path =====` headed bundle of the events (for prompts). */
  bundle: string;
  /** Count of error-like lines across files. */
  errorLines: number;
}

/** Reads the workspace's logs and extracts key events. */
export async function loadLogEvents(root: string, logsDir?: string): Promise<LogEvents> {
  const files: LogEvents["files"] = [];
  let errorLines = 0;
  for (const path of await findLogFiles(root, 50, logsDir)) {
    try {
      const events = extractKeyEvents(await readCapped(path));
      errorLines += events.filter((l) => /error|exception|traceback|fatal|failed|panic/i.test(l)).length;
      files.push({ path: relative(root, path), events });
    } catch { /* unreadable file */ }
  }
  const bundle = files.map((f) => `===== ${f.path} =====\n${f.events.join("\n")}`).join("\n\n");
  return { files, bundle, errorLines };
}

/** Offline summary of log events (no LLM): up to 5 error-like bullets, else the last line, else none. */
export function heuristicKeyPoints(events: LogEvents): string[] {
  const all = events.files.flatMap((f) => f.events);
  const hits = all.filter((l) => /error|exception|traceback|failed|timeout|fatal|panic/i.test(l)).slice(-5);
  if (hits.length) return hits.map((l) => l.trim());
  const last = all.filter((l) => l.trim()).at(-1);
  return last ? [last.trim()] : ["No explicit errors found in recent logs"];
}
