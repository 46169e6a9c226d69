/**
 * `deno task compile`: builds the single `dspy-code` executable with `deno compile`, for this machine or for
 * the release targets (`--all`, or `--target T` repeated). It includes the modules loaded by URL at run time
 * (command implementations, workers, dashboard assets) and enables the unstable KV/cron APIs.
 *
 * `deno compile` downloads a `denort` base binary from Deno's release server for each target. Where that
 * server cannot be reached, point `DENORT_BIN` at a `denort` binary of the same Deno version (Deno reads it
 * itself; this script checks it exists and says so).
 *
 * Usage: `deno task compile [--all | --target TRIPLE ...] [--out-dir dist]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The targets we ship. */
export const RELEASE_TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * What `deno compile` cannot discover from `main.ts`: command implementations are imported by computed URL
 * (see `cli/lazy.ts`), Workers are started by URL, and the dashboard has static assets. Including the source
 * folders adds all of them, and their npm packages, to the executable.
 */
async function runtimeIncludes(): Promise<string[]> {
  const folders = ["agent", "bus", "cli", "core", "embeddings", "experiments", "rl", "server"];
  const found: string[] = [];
  for (const folder of folders) {
    try {
      if ((await Deno.stat(join(root, folder))).isDirectory) found.push(folder);
    } catch { /* folder not present */ }
  }
  return found;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      all: { type: "boolean", default: false },
      target: { type: "string", multiple: true },
      "out-dir": { type: "string", default: "dist" },
      "dry-run": { type: "boolean", default: false },
    },
  });
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      Deno.statSync(denort);
    } catch {
      console.error(
        `DENORT_BIN=${denort} does not exist: point it at a denort binary of Deno ${Deno.version.deno}`,
      );
      Deno.exit(2);
    }
  }
  const targets: (string | undefined)[] = values.all
    ? RELEASE_TARGETS
    : values.target?.length
    ? values.target
    : [
      undefined,
    ];
  const includes = await runtimeIncludes();
  let failures = 0;
  for (const target of targets) {
    const output = join(values["out-dir"]!, target ? `dspy-code-${target}` : "dspy-code");
    const args = [
      "compile",
      "-A",
      "--unstable-kv",
      "--unstable-cron",
      ...includes.flatMap((p) => ["--include", p]),
      ...(target ? ["--target", target] : []),
      "--output",
      output,
      "main.ts",
    ];
    console.log(`deno ${args.join(" ")}`);
    if (values["dry-run"]) continue;
    const status = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    })
      .spawn().status;
    if (!status.success) {
      failures++;
      console.error(
        `compile for ${
          target ?? "this machine"
        } failed. If the error mentions downloading denort, this machine ` +
          `cannot reach Deno's release server: set DENORT_BIN to a denort ${Deno.version.deno} binary for the target.`,
      );
    }
  }
  Deno.exit(failures > 0 ? 1 : 0);
}
