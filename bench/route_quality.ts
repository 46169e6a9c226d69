/**
 * Offline routing quality: does a question typed at the session prompt, with no LLM, show the user the file
 * that answers it? Every labelled query of `bench/data/*_eval.json` (one split) is typed in each phrasing of
 * `bench/data/route_templates.json` ("where do we {q}", "find {q}"...) and routed as the session routes it
 * (`routeRequest`, the offline rules, the real commands run in this process on the real corpus); the files
 * its steps showed, in the order shown (grep's matches, esearch's ranking, codectx's entry points), are
 * scored like the search bench: found@5 (a relevant file among the first 5 shown) and MRR@10. The bandit is
 * left out (`bandit: null`), so the figures are the rules' and do not drift as the learning state does.
 *
 * Usage: `deno run -A bench/route_quality.ts [--split test|tune] [--cache DIR] [--misses] [--json]`
 * (default: the test half; tune the rules on `--split tune` only). Needs the corpora of `bench:search`
 * (fetched once into the cache: the npm registry and the Debian mirror).
 *
 * @module
 */

import { join } from "../core/path.ts";
import { parseArgv } from "../core/args.ts";
import { routeRequest } from "../agent/mod.ts";
import { createContext } from "../cli/context.ts";
import { executeLine } from "../cli/line.ts";
import { createOutput } from "../cli/output.ts";
import type { CommandContext, CommandResult } from "../cli/command.ts";
import { closeAllKv } from "../core/kv.ts";
import { flushEvents } from "../core/events.ts";
import { CORPORA, ensureCorpus, type EvalQuery, loadEvalSet, type QueryKind } from "./search_corpora.ts";

const { values: flags } = parseArgv(Deno.args, {
  split: { type: "string", default: "test" },
  cache: { type: "string" },
  misses: { type: "boolean" },
  json: { type: "boolean" },
});
const split = String(flags.split);
if (split !== "test" && split !== "tune") throw new Error("--split is test or tune");
const cache = typeof flags.cache === "string"
  ? flags.cache
  : join(Deno.env.get("TMPDIR") ?? "/tmp", "dspy-route-bench");
// No LLM whatever the machine has: the figures are the offline rules'.
Deno.env.set("LOCAL_MODE", "true");

const templates = JSON.parse(
  await Deno.readTextFile(new URL("./data/route_templates.json", import.meta.url)),
) as Record<QueryKind, string[]>;

/** What one routed question showed: the tools its steps ran and the files, in the order shown. */
interface Routed {
  tools: string[];
  files: string[];
}

/** The files a command's result showed, in order (first occurrence kept). */
function filesShown(tool: string, result: CommandResult): string[] {
  const data = (result.data ?? {}) as Record<string, unknown>;
  const paths: string[] = [];
  if ((tool === "grep" || tool === "esearch") && Array.isArray(data.hits)) {
    for (const h of data.hits as { path?: unknown }[]) if (typeof h.path === "string") paths.push(h.path);
  } else if (tool === "codectx" && Array.isArray(data.entry_points)) {
    for (const e of data.entry_points as unknown[]) if (typeof e === "string") paths.push(e.split(/\s/)[0]);
  }
  return paths;
}

/** One session per corpus, as a user asking question after question. */
function sessionOn(root: string): CommandContext {
  const silent = createOutput({ json: true, plain: true, stdout: () => {}, stderr: () => {} });
  return createContext({
    workspace: root,
    options: { model: "qwen3:1.7b", ollama: false, approval: "auto", plain: true, json: true },
    out: silent,
    session: { id: "bench:route", interactive: true, step: 0, state: new Map() },
    signal: new AbortController().signal,
    runLine: executeLine,
  });
}

async function route(ctx: CommandContext, question: string): Promise<Routed> {
  const root = ctx.workspace;
  const routed: Routed = { tools: [], files: [] };
  await routeRequest(question, {
    workspace: root,
    runLine: async (line) => {
      const result = await ctx.runLine(line);
      const tool = line.split(" ")[0];
      routed.tools.push(tool);
      for (const p of filesShown(tool, result)) if (!routed.files.includes(p)) routed.files.push(p);
      return result;
    },
    print: () => {},
    warn: () => {},
  }, { bandit: null, state: { hasLogs: false } });
  return routed;
}

interface Cell {
  corpus: string;
  kind: QueryKind;
  template: string;
  n: number;
  found5: number;
  mrr10: number;
  firstTools: Record<string, number>;
}

const cells: Cell[] = [];
const misses: string[] = [];
for (const name of CORPORA) {
  const set = await loadEvalSet(name);
  const root = await ensureCorpus(set, cache);
  const queries = set.queries.filter((q: EvalQuery) => q.split === split);
  const session = sessionOn(root);
  for (const kind of ["behaviour", "identifier"] as const) {
    for (const template of templates[kind]) {
      const cell: Cell = { corpus: name, kind, template, n: 0, found5: 0, mrr10: 0, firstTools: {} };
      for (const q of queries.filter((x) => x.kind === kind)) {
        const question = template.replace("{q}", q.query);
        const routed = await route(session, question);
        const relevant = new Set(q.relevant);
        const rank = routed.files.slice(0, 10).findIndex((p) => relevant.has(p)) + 1;
        cell.n++;
        if (rank >= 1 && rank <= 5) cell.found5++;
        if (rank >= 1) cell.mrr10 += 1 / rank;
        const first = routed.tools[0] ?? "none";
        cell.firstTools[first] = (cell.firstTools[first] ?? 0) + 1;
        if (flags.misses && (rank === 0 || rank > 5)) {
          misses.push(
            `[${name}] rank ${rank || "-"} ${routed.tools.join(" → ") || "no step"}  ${question}\n      ` +
              routed.files.slice(0, 5).join("  "),
          );
        }
      }
      cell.found5 /= Math.max(1, cell.n);
      cell.mrr10 /= Math.max(1, cell.n);
      cells.push(cell);
    }
  }
  // The session's index watch, as the CLI releases it when a session ends.
  for (const value of session.session.state.values()) (value as Partial<Disposable>)?.[Symbol.dispose]?.();
}
await flushEvents().catch(() => {});
await closeAllKv();

const r3 = (x: number) => x.toFixed(3);
if (flags.json) console.log(JSON.stringify({ split, cells }, null, 2));
else {
  for (const m of misses) console.log(m);
  console.log(`split ${split}: found@5 / MRR@10 of the files the offline router showed first`);
  for (const kind of ["behaviour", "identifier"] as const) {
    for (const template of templates[kind]) {
      const row = cells.filter((c) => c.kind === kind && c.template === template);
      const avg = (f: (c: Cell) => number) => row.reduce((s, c) => s + f(c), 0) / row.length;
      const tools: Record<string, number> = {};
      for (const c of row) for (const [t, k] of Object.entries(c.firstTools)) tools[t] = (tools[t] ?? 0) + k;
      console.log(
        `${kind.padEnd(10)} ${JSON.stringify(template).padEnd(28)} ` +
          row.map((c) => `${c.corpus} ${r3(c.found5)}/${r3(c.mrr10)}`).join("  ") +
          `  | avg ${r3(avg((c) => c.found5))}/${r3(avg((c) => c.mrr10))}  first: ` +
          Object.entries(tools).map(([t, k]) => `${t} ${k}`).join(", "),
      );
    }
    const all = cells.filter((c) => c.kind === kind);
    const avg = (f: (c: Cell) => number) => all.reduce((s, c) => s + f(c), 0) / all.length;
    console.log(
      `${kind.padEnd(10)} all phrasings: found@5 ${r3(avg((c) => c.found5))}, MRR@10 ${
        r3(avg((c) => c.mrr10))
      }`,
    );
  }
}
