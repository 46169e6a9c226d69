/**
 * Whole-process A/B of `dspy-code grep` against ripgrep: `rg`, a baseline checkout of dspy-code (`--base
 * DIR`, e.g. `git archive <commit> | tar -x -C DIR` plus its `node_modules`) and this checkout run interleaved,
 * the order rotating every round, so background load on a shared machine hits all of them alike. Each run is
 * a new process with its output to a pipe; wall time is measured here, CPU time (user + system) by
 * `/usr/bin/time` when it is installed. It prints per-contender medians, the median of the per-round ratios
 * to rg (the figure to trust on a loaded machine), the match counts (they must agree) and the load average
 * before and after.
 *
 * Usage: `deno run -A bench/grep_ab.ts --tree DIR [--base DIR] [--rounds 7] [--pattern P] [--fixed]
 *         [--json]` — `--tree` is a tree from `bench/search_bench.ts` (the bundle-heavy one is
 *         `$TMPDIR/dspy-search-bench/bundles` after `deno task bench:search` ran once).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    tree: { type: "string" },
    base: { type: "string" },
    rounds: { type: "string", default: "7" },
    pattern: { type: "string", default: "function\\s+\\w+Error" },
    fixed: { type: "boolean" },
    json: { type: "boolean" },
  },
});
if (!flags.tree) {
  console.error("--tree DIR is required (e.g. $TMPDIR/dspy-search-bench/bundles)");
  Deno.exit(2);
}
const tree = flags.tree;
const rounds = Number(flags.rounds);

/** The file filter of bench/search_bench.ts: the same files dspy-code's walk searches. */
const RG_FILTER = [
  "--hidden",
  "--max-filesize",
  "1M",
  ...["!.git/", "!node_modules/", "!.venv/", "!dist/", "!build/", "!__pycache__/", "!.dspy*"].flatMap((
    g,
  ) => ["-g", g]),
];

interface Contender {
  name: string;
  cmd: string[];
  /** Counts result lines in stdout. */
  count: (stdout: string) => number;
}

const ours = (checkout: string): string[] => [
  Deno.execPath(),
  "run",
  "-A",
  join(checkout, "main.ts"),
  "--workspace",
  tree,
  "--plain",
  "grep",
  ...(flags.fixed ? ["--fixed"] : []),
  "--max",
  "0",
  flags.pattern!,
];
const countOurs = (s: string) => s.split("\n").filter((l) => l && !l.startsWith("Found ")).length;
const contenders: Contender[] = [
  {
    name: "rg",
    cmd: ["rg", "-n", "--no-heading", ...(flags.fixed ? ["-F"] : []), ...RG_FILTER, flags.pattern!, tree],
    count: (s) => s.split("\n").filter(Boolean).length,
  },
  ...(flags.base ? [{ name: "base", cmd: ours(flags.base), count: countOurs }] : []),
  { name: "this", cmd: ours(repo), count: countOurs },
];

let timeBin: string | undefined = "/usr/bin/time";
try {
  Deno.statSync(timeBin);
} catch {
  timeBin = undefined;
}

async function runOnce(c: Contender): Promise<{ wall: number; cpu: number; matches: number }> {
  const argv = timeBin ? [timeBin, "-f", "CPU %U %S", ...c.cmd] : c.cmd;
  const t0 = performance.now();
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const wall = performance.now() - t0;
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0 && !(c.name === "rg" && out.code === 1)) {
    throw new Error(`${c.name} failed (exit ${out.code}): ${stderr.slice(0, 500)}`);
  }
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  return { wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN, matches: c.count(stdout) };
}

const load = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

const loadBefore = load();
const wall: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
const matches: Record<string, Set<number>> = {};
const ratios: Record<string, number[]> = {};
for (const c of contenders) await runOnce(c); // warm the page cache and Deno's module cache
for (let r = 0; r < rounds; r++) {
  const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
  const round: Record<string, number> = {};
  for (const c of order) {
    const res = await runOnce(c);
    (wall[c.name] ??= []).push(res.wall);
    (cpu[c.name] ??= []).push(res.cpu);
    (matches[c.name] ??= new Set()).add(res.matches);
    round[c.name] = res.wall;
  }
  for (const c of contenders) {
    if (c.name !== "rg") (ratios[c.name] ??= []).push(round[c.name] / round.rg);
  }
  if (!flags.json) {
    console.error(
      `round ${r + 1}: ` + contenders.map((c) => `${c.name} ${round[c.name].toFixed(0)} ms`).join(", "),
    );
  }
}
const loadAfter = load();
const rows = contenders.map((c) => ({
  contender: c.name,
  matches: [...matches[c.name]].join("/"),
  wall_median_ms: Math.round(median(wall[c.name])),
  cpu_median_ms: Math.round(median(cpu[c.name])),
  ratio_to_rg_median: c.name === "rg" ? 1 : Math.round(median(ratios[c.name]) * 100) / 100,
  ratio_per_round: c.name === "rg" ? "" : ratios[c.name].map((x) => x.toFixed(2)).join(" "),
}));
const sameCount = new Set(rows.map((r) => r.matches)).size === 1 && !rows[0].matches.includes("/");
const result = {
  tree,
  pattern: flags.pattern,
  rounds,
  load_before: loadBefore,
  load_after: loadAfter,
  sameCount,
  rows,
};
if (flags.json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(
    `pattern ${flags.pattern}${
      flags.fixed ? " (fixed)" : ""
    }, ${rounds} rounds, load ${loadBefore} → ${loadAfter}`,
  );
  for (const r of rows) {
    console.log(
      `${
        r.contender.padEnd(5)
      } matches ${r.matches}  wall ${r.wall_median_ms} ms  cpu ${r.cpu_median_ms} ms  ` +
        `ratio ${r.ratio_to_rg_median}×  (${r.ratio_per_round})`,
    );
  }
  console.log(sameCount ? "match counts identical" : "MATCH COUNTS DIFFER");
}
