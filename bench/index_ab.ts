/**
 * A/B of the incremental re-index: this checkout's `buildIndex` against a baseline checkout's (`--base DIR`,
 * e.g. `git worktree add --detach DIR <commit>`), alternating in one process on the same tree. Before each
 * build the same file is touched, so each build reads that one file and reuses the rest of the index the
 * other just wrote (the two must share the index format; for two formats, pass `--base-tree DIR`, a copy of
 * the tree made with `cp -al`, where the baseline builds its own index). Each round also times both re-runs
 * with nothing changed (what `esearch --refresh` and a session's refresh pay); with `--full N`, N interleaved
 * full builds of each; with `--esearch N`, N interleaved `dspy-code esearch` runs of each checkout's CLI on
 * the tree (a new process each: wall time as a user sees it, index load included; the two must print the same
 * hits; `--refresh` passes it to those runs); with `--session N`, N interleaved piped sessions of ten `esearch`
 * lines each; with `--first N`, N interleaved piped sessions that wait `--think-ms` (default 2000) after the
 * prompt, as a user typing a question would, then time their first `esearch` (until its first hit is printed)
 * and a second one (`--hybrid`: `esearch --hybrid`, for a tree with an embedding index). `--rounds 0` skips the re-index rounds, for
 * comparing `esearch` across index formats: build each checkout's index in the tree first (each checkout's
 * `dspy-code index`; files of both formats can sit side by side in `.dspy_index/`). With `--rank N`, N
 * interleaved rounds of ranking alone (each checkout's `rankChunks` on its own loaded index, in this process,
 * warm) over the kafkajs query set, whose results must be identical.
 *
 * Usage: `deno run -A bench/index_ab.ts --base DIR [--tree DIR] [--base-tree DIR] [--touch REL] [--rounds 5]
 *         [--full 3] [--esearch 7] [--refresh] [--session 5] [--first 7 --think-ms 2000] [--rank 7]` —
 * `--tree` defaults to the npm tree `bench/search_bench.ts` builds (`$TMPDIR/dspy-search-bench/tree`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { buildIndex, loadIndex, rankChunks } from "../agent/search/mod.ts";
import { median } from "./stats.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string" },
    tree: { type: "string" },
    "base-tree": { type: "string" },
    touch: { type: "string", default: "kafkajs/src/retry/index.js" },
    rounds: { type: "string", default: "5" },
    full: { type: "string", default: "0" },
    esearch: { type: "string", default: "0" },
    refresh: { type: "boolean", default: false },
    session: { type: "string", default: "0" },
    first: { type: "string", default: "0" },
    "think-ms": { type: "string", default: "2000" },
    hybrid: { type: "boolean", default: false },
    rank: { type: "string", default: "0" },
  },
});
if (!flags.base) {
  console.error("--base DIR is required: a checkout of the commit to compare against");
  Deno.exit(2);
}
const tree = flags.tree ?? join(Deno.env.get("TMPDIR") ?? "/tmp", "dspy-search-bench", "tree");
const rounds = Math.max(0, Number(flags.rounds));
const touched = join(tree, flags.touch!);
try {
  // The touched file matters only to the re-index rounds; the tree itself to everything.
  await Deno.stat(rounds > 0 ? touched : tree);
} catch {
  console.error(
    `${rounds > 0 ? touched : tree} does not exist: run 'deno task bench:search' once to build the tree, ` +
      `or pass --tree (and --touch REL, a file in it, for the re-index rounds)`,
  );
  Deno.exit(2);
}
const base: { buildIndex: typeof buildIndex; loadIndex: typeof loadIndex; rankChunks: typeof rankChunks } =
  await import(
    pathToFileURL(resolve(flags.base, "agent/search/mod.ts")).href
  );
// Checkouts with different index formats build on two copies of the tree (hard links: `cp -al`), so each
// reuses only its own index; the touched file is touched in both.
const baseTree = flags["base-tree"] ?? tree;
const contenders = [["base", base.buildIndex, baseTree], ["this", buildIndex, tree]] as const;
const touchedFiles = [...new Set([touched, join(baseTree, flags.touch!)])];
const loadStart = Deno.loadavg()[0];

if (rounds > 0) {
  // An index to start from.
  await buildIndex(tree);
  if (baseTree !== tree) await base.buildIndex(baseTree);
}
const one: Record<string, number[]> = { base: [], this: [] };
const same: Record<string, number[]> = { base: [], this: [] };
let clock = Date.now();
for (let r = 0; r < rounds; r++) {
  for (const [name, build, at] of r % 2 ? [...contenders].reverse() : contenders) {
    clock += 1000;
    for (const file of touchedFiles) await Deno.utime(file, new Date(clock), new Date(clock));
    const result = await build(at);
    if (result.filesRead !== 1) throw new Error(`${name}: read ${result.filesRead} files, expected 1`);
    one[name].push(result.seconds);
  }
  for (const [name, build, at] of r % 2 ? contenders : [...contenders].reverse()) {
    const result = await build(at);
    if (result.filesRead !== 0) {
      throw new Error(`${name}: read ${result.filesRead} files with nothing changed`);
    }
    same[name].push(result.seconds);
  }
}
const full: Record<string, number[]> = { base: [], this: [] };
for (let r = 0; r < Number(flags.full); r++) {
  for (const [name, build, at] of r % 2 ? [...contenders].reverse() : contenders) {
    full[name].push((await build(at, { full: true })).seconds);
  }
}
const checkouts = { base: resolve(flags.base), this: resolve(import.meta.dirname!, "..") };
/** Runs a checkout's CLI on the tree as a new process; its stdout and wall seconds. */
async function runCli(name: "base" | "this", args: string[], stdin?: string) {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(checkouts[name], "main.ts"), "--workspace", tree, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const seconds = (performance.now() - started) / 1000;
  if (!out.success) throw new Error(`${name} ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  return { stdout: new TextDecoder().decode(out.stdout), seconds };
}
const cli: Record<string, number[]> = { base: [], this: [] };
const printed: Record<string, string> = {};
const esearchArgs = ["esearch", "retry with backoff", ...(flags.refresh ? ["--refresh"] : [])];
for (let r = 0; r < Number(flags.esearch); r++) {
  for (const name of r % 2 ? ["this", "base"] as const : ["base", "this"] as const) {
    const run = await runCli(name, esearchArgs);
    cli[name].push(run.seconds);
    printed[name] ??= run.stdout;
  }
}
// A session of ten searches, one process each (what a user asking question after question waits in all).
const sessionLines = Array.from({ length: 10 }, (_, i) => `esearch retry with backoff ${i + 1}`).join("\n") +
  "\nexit\n";
const session: Record<string, number[]> = { base: [], this: [] };
for (let r = 0; r < Number(flags.session); r++) {
  for (const name of r % 2 ? ["this", "base"] as const : ["base", "this"] as const) {
    session[name].push((await runCli(name, ["--plain"], sessionLines)).seconds);
  }
}
const rank: Record<string, number[]> = { base: [], this: [] };
if (Number(flags.rank) > 0) {
  const queries: string[] = JSON.parse(
    await Deno.readTextFile(new URL("./data/kafkajs_queries.json", import.meta.url)),
  ).queries.map((q: { query: string }) => q.query);
  // As a search loads it (an older base ignores the option and loads the postings whole).
  const indexes = {
    base: (await base.loadIndex(tree, { postings: "lazy" }))!,
    this: (await loadIndex(tree, { postings: "lazy" }))!,
  };
  const rankers = { base: base.rankChunks, this: rankChunks };
  for (const q of queries) {
    const [a, b] = (["base", "this"] as const).map((n) => JSON.stringify(rankers[n](indexes[n], q, 10)));
    if (a !== b) throw new Error(`the two checkouts rank "${q}" differently`);
  }
  for (let r = 0; r < Number(flags.rank); r++) {
    for (const name of r % 2 ? ["this", "base"] as const : ["base", "this"] as const) {
      const started = performance.now();
      for (const q of queries) rankers[name](indexes[name], q, 10);
      rank[name].push((performance.now() - started) / queries.length);
    }
  }
}
if (printed.base !== undefined && printed.base !== printed.this) {
  throw new Error(`the two checkouts printed different hits:\n${printed.base}\n---\n${printed.this}`);
}
const s = (x: number[]) => `${median(x).toFixed(2)} s`;
console.log(
  `tree ${tree}; load ${loadStart.toFixed(1)} → ${Deno.loadavg()[0].toFixed(1)}; medians of ${rounds}`,
);
if (rounds > 0) {
  console.log(
    `one file touched: base ${s(one.base)}, this ${s(one.this)} (${
      (median(one.base) / median(one.this)).toFixed(2)
    }× faster)`,
  );
  const ms = (x: number[]) => `${(median(x) * 1000).toFixed(0)} ms`;
  console.log(
    `nothing changed: base ${ms(same.base)}, this ${ms(same.this)} (${
      (median(same.base) / median(same.this)).toFixed(2)
    }× faster)`,
  );
}
if (full.this.length) console.log(`full build: base ${s(full.base)}, this ${s(full.this)}`);
if (rank.this.length) {
  const ms = (x: number[]) => `${median(x).toFixed(2)} ms`;
  console.log(
    `ranking a query (warm, same results): base ${ms(rank.base)}, this ${ms(rank.this)} (${
      (median(rank.base) / median(rank.this)).toFixed(2)
    }× faster)`,
  );
}
if (cli.this.length) {
  const ms = (x: number[]) => `${(median(x) * 1000).toFixed(0)} ms`;
  console.log(
    `esearch${flags.refresh ? " --refresh" : ""} (CLI, wall, same hits): base ${ms(cli.base)}, this ${
      ms(cli.this)
    } (${(median(cli.base) / median(cli.this)).toFixed(2)}× faster)`,
  );
}
/**
 * A piped session of a checkout: waits for its prompt, then `--think-ms`, then times two `esearch` lines each
 * until the first hit line is printed (`lines N-M`).
 */
async function firstSearches(name: "base" | "this"): Promise<[number, number]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(checkouts[name], "main.ts"), "--workspace", tree, "--plain"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 60_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${name}: timed out in:\n${text}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const writer = child.stdin.getWriter();
  const hitLines = () => text.match(/ lines \d+-\d+/g)?.length ?? 0;
  await until(() => text.includes("Type 'help'"));
  await new Promise((r) => setTimeout(r, Number(flags["think-ms"])));
  const times: number[] = [];
  for (const [i, query] of ["retry with backoff", "parse the config file"].entries()) {
    const started = performance.now();
    await writer.write(
      new TextEncoder().encode(`esearch ${query} --k 1${flags.hybrid ? " --hybrid" : ""}\n`),
    );
    await until(() => hitLines() > i);
    times.push((performance.now() - started) / 1000);
  }
  await writer.write(new TextEncoder().encode("exit\n"));
  await writer.close();
  await child.status;
  await reading;
  return [times[0], times[1]];
}
const first: Record<string, number[]> = { base: [], this: [] };
const second: Record<string, number[]> = { base: [], this: [] };
for (let r = 0; r < Number(flags.first); r++) {
  for (const name of r % 2 ? ["this", "base"] as const : ["base", "this"] as const) {
    const [a, b] = await firstSearches(name);
    first[name].push(a);
    second[name].push(b);
  }
}
if (first.this.length) {
  const ms = (x: number[]) => `${(median(x) * 1000).toFixed(0)} ms`;
  console.log(
    `a session's first esearch${flags.hybrid ? " --hybrid" : ""}, ${
      flags["think-ms"]
    } ms after the prompt: base ${ms(first.base)}, this ${ms(first.this)} (${
      (median(first.base) / median(first.this)).toFixed(2)
    }× faster); the second: base ${ms(second.base)}, this ${ms(second.this)}`,
  );
}
if (session.this.length) {
  const ms = (x: number[]) => `${(median(x) * 1000).toFixed(0)} ms`;
  console.log(
    `a session of ten esearch lines (piped, wall): base ${ms(session.base)}, this ${ms(session.this)} (${
      (median(session.base) / median(session.this)).toFixed(2)
    }× faster)`,
  );
}
