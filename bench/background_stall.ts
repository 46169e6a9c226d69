/**
 * How long a session's background refresh holds up its event loop (a keystroke, a timer): the longest gap
 * between the ticks of a 1 ms interval while `buildIndex` refreshes an index with nothing changed, as the
 * session's pre-warm does, with the walk in one piece (`background` off) and yielding every 2,048 files
 * (`background` on), alternating, medians of `--rounds` (default 9). Also the total time of each.
 *
 * Usage: `deno run -A bench/background_stall.ts [--tree DIR] [--rounds 9]` — the tree defaults to the npm tree
 * `bench/search_bench.ts` builds (`$TMPDIR/dspy-search-bench/tree`), whose index must exist.
 *
 * @module
 */

import { join } from "../core/path.ts";
import { parseArgv } from "../core/args.ts";
import { buildIndex, hasIndex } from "../agent/search/mod.ts";
import { median } from "./stats.ts";

const { values: flags } = parseArgv(Deno.args, {
  tree: { type: "string" },
  rounds: { type: "string", default: "9" },
});
const tree = (flags.tree as string | undefined) ??
  join(Deno.env.get("TMPDIR") ?? "/tmp", "dspy-search-bench", "tree");
if (!(await hasIndex(tree))) {
  console.error(`${tree} has no index: run 'deno task bench:search' once (or 'dspy-code index' there)`);
  Deno.exit(2);
}

/** Runs `work` while a 1 ms interval ticks; the longest gap between ticks and the work's own time. */
async function stallDuring(work: () => Promise<unknown>): Promise<{ stallMs: number; totalMs: number }> {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  longest = 0;
  last = performance.now();
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 5)); // the tick after the work ends closes the last gap
  clearInterval(ticker);
  return { stallMs: longest, totalMs };
}

const results: Record<"whole" | "yielding", { stall: number[]; total: number[] }> = {
  whole: { stall: [], total: [] },
  yielding: { stall: [], total: [] },
};
await buildIndex(tree, { keepScope: true }); // warm the file cache
for (let r = 0; r < Number(flags.rounds); r++) {
  const order = r % 2 ? ["yielding", "whole"] as const : ["whole", "yielding"] as const;
  for (const mode of order) {
    const { stallMs, totalMs } = await stallDuring(() =>
      buildIndex(tree, { keepScope: true, background: mode === "yielding" })
    );
    results[mode].stall.push(stallMs);
    results[mode].total.push(totalMs);
  }
}
const ms = (x: number[]) => `${median(x).toFixed(0)} ms`;
console.log(`tree ${tree}; medians of ${flags.rounds}, load ${Deno.loadavg()[0].toFixed(1)}`);
for (const mode of ["whole", "yielding"] as const) {
  console.log(
    `${mode.padEnd(8)}  longest event-loop stall ${ms(results[mode].stall)}, refresh ${
      ms(results[mode].total)
    }`,
  );
}
console.log(
  `stall ratio ${(median(results.whole.stall) / median(results.yielding.stall)).toFixed(2)}×, time ratio ${
    (median(results.yielding.total) / median(results.whole.total)).toFixed(2)
  }`,
);
