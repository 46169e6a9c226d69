/**
 * Start-up benchmark: wall time of `dspy-code --help` and `dspy-code version` against `deno run` of an empty
 * script, measured in the same run (interleaved, after warm-up), reported as medians and ratios. Goal: ≤ 1.5×
 * the empty script.
 *
 * Usage: `deno run -A bench/cli_startup_bench.ts [--runs N] [--json]`
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "25" }, json: { type: "boolean", default: false } },
});
const runs = Number(values.runs);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "main.ts");
const empty = await Deno.makeTempFile({ suffix: ".ts" });
await Deno.writeTextFile(empty, "// empty\n");
const workspace = await Deno.makeTempDir();

const cases: Record<string, string[]> = {
  "empty script": ["run", "-A", empty],
  "dspy-code --help": ["run", "-A", main, "--help"],
  "dspy-code version": ["run", "-A", main, "--workspace", workspace, "version"],
};

async function timeOnce(args: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped", cwd: root })
    .output();
  const ms = performance.now() - t0;
  if (!out.success) throw new Error(`${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return ms;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const args of Object.values(cases)) await timeOnce(args); // warm the module cache
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(cases)) samples[name].push(await timeOnce(args));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const base = median(samples["empty script"]);
const rows = Object.entries(samples).map(([name, xs]) => ({
  case: name,
  median_ms: Number(median(xs).toFixed(1)),
  p90_ms: Number([...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)].toFixed(1)),
  ratio: Number((median(xs) / base).toFixed(2)),
}));
await Deno.remove(empty);
await Deno.remove(workspace, { recursive: true });
if (values.json) console.log(JSON.stringify({ runs, results: rows }));
else {
  console.log(
    `CLI start-up, ${runs} interleaved runs each (Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores)`,
  );
  console.log("case                   median_ms   p90_ms   ratio");
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(22)} ${String(r.median_ms).padStart(9)} ${String(r.p90_ms).padStart(8)} ${
        String(r.ratio).padStart(7)
      }x`,
    );
  }
  const worst = Math.max(...rows.map((r) => r.ratio));
  console.log(worst <= 1.5 ? "goal met: ≤ 1.5× the empty script" : `goal missed: ${worst}× > 1.5×`);
}
