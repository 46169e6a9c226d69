/**
 * `deno task bench`: runs every `bench/*_bench.ts` script in its own process, one after another, passing
 * through the command-line arguments (e.g. `--json`). Each script compares against its own baseline measured
 * in the same run and prints its table.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = dirname(fileURLToPath(import.meta.url));
const only = Deno.args.filter((a) => !a.startsWith("-"));
const passThrough = Deno.args.filter((a) => a.startsWith("-"));
const scripts: string[] = [];
for await (const entry of Deno.readDir(dir)) {
  if (entry.isFile && entry.name.endsWith("_bench.ts")) scripts.push(entry.name);
}
scripts.sort();
let failed = 0;
for (const name of scripts) {
  if (only.length && !only.some((o) => name.startsWith(o))) continue;
  console.log(`\n=== ${name} ===`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(dir, name), ...passThrough],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) {
    failed++;
    console.error(`${name} exited with code ${status.code}`);
  }
}
Deno.exit(failed > 0 ? 1 : 0);
