/**
 * `grep` (loaded lazily by `cli/commands/search.ts`): argument parsing and terminal / JSON output. It imports
 * only the grep module of `agent/search/`, not the whole search face (index, ranking, extract, symbols): a
 * `grep` process loads nothing it does not run.
 *
 * @module
 */

import { escapeRegExp } from "../../core/regex.ts";
import { grepWorkspace } from "../../agent/search/grep.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";

/** `grep`. */
export async function runGrep(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("grep", args, {
    fixed: { type: "boolean", short: "f" },
    "ignore-case": { type: "boolean", short: "i" },
    glob: { type: "string", short: "g", multiple: true },
    exclude: { type: "string", short: "x", multiple: true },
    context: { type: "string", short: "c" },
    file: { type: "string", short: "F" },
    max: { type: "string", short: "m" },
    "max-file-bytes": { type: "string" },
  }, { min: 1, max: 1, names: "PATTERN" });
  const context = intOption("grep", "context", values.context, 0);
  const max = intOption("grep", "max", values.max, 1000);
  const result = await grepWorkspace(ctx.workspace, positionals[0], {
    fixed: values.fixed,
    ignoreCase: values["ignore-case"],
    globs: values.glob,
    excludes: values.exclude,
    context,
    file: values.file,
    max: max === 0 ? Number.MAX_SAFE_INTEGER : max,
    maxFileBytes: values["max-file-bytes"]
      ? intOption("grep", "max-file-bytes", values["max-file-bytes"], 0)
      : undefined,
    signal: ctx.signal,
  });
  const { out } = ctx;
  const c = out.c;
  const summary = `Found ${result.matches.length} match${result.matches.length === 1 ? "" : "es"} in ` +
    `${result.seconds.toFixed(3)} s (${result.filesSearched} file${
      result.filesSearched === 1 ? "" : "s"
    } searched)` +
    (result.truncated ? `; stopped at --max ${max}` : "");
  if (out.json) {
    for (const m of result.matches) out.printJson(m);
    out.info(summary);
  } else {
    const re = new RegExp(
      values.fixed ? escapeRegExp(positionals[0]) : positionals[0],
      values["ignore-case"] ? "gi" : "g",
    );
    // Minified files have enormous lines: show the start of a long line (--json has it whole).
    const highlight = (text: string) => {
      const long = text.length > 400;
      const shown = long ? text.slice(0, 400) : text;
      const marked = out.plain ? shown : shown.replace(re, (s) => (s ? c.red(c.bold(s)) : s));
      return long ? marked + c.dim(" …") : marked;
    };
    const lines: string[] = [];
    if (context > 0) {
      // Overlapping or adjacent context blocks merge into one (as grep and rg print them); a match line
      // that is also another match's context line is shown as a match. `--` separates blocks.
      const shown: { path: string; line: number; text: string; match: boolean }[] = [];
      const add = (path: string, line: number, text: string, match: boolean) => {
        for (let i = shown.length - 1; i >= 0 && shown[i].path === path && shown[i].line >= line; i--) {
          if (shown[i].line === line) {
            if (match) shown[i] = { path, line, text, match };
            return;
          }
        }
        shown.push({ path, line, text, match });
      };
      for (const m of result.matches) {
        m.before?.forEach((t, i) => add(m.path, m.line - m.before!.length + i, t, false));
        add(m.path, m.line, m.text, true);
        m.after?.forEach((t, i) => add(m.path, m.line + 1 + i, t, false));
      }
      shown.forEach((e, i) => {
        const prev = shown[i - 1];
        if (prev && (prev.path !== e.path || e.line > prev.line + 1)) lines.push(c.dim("--"));
        lines.push(
          e.match
            ? `${c.magenta(e.path)}:${c.green(String(e.line))}: ${highlight(e.text)}`
            : `${c.magenta(e.path)}${c.dim("-")}${c.green(String(e.line))}- ${e.text}`,
        );
      });
    } else {
      for (const m of result.matches) {
        lines.push(`${c.magenta(m.path)}:${c.green(String(m.line))}: ${highlight(m.text)}`);
      }
    }
    if (lines.length > 0) out.print(...lines);
    out.print(c.dim(summary));
  }
  return {
    ok: true,
    data: {
      matches: result.matches.length,
      files: new Set(result.matches.map((m) => m.path)).size,
      hits: result.matches.slice(0, 50),
      truncated: result.truncated,
    },
  };
}
