/**
 * Searches while another process rebuilds the index, over and over: every search must answer, and none may
 * call the index damaged (a reader can meet a build between its renames of the postings and the metadata).
 * A tree of 400 small files is written to a temp folder; a child process runs `dspy-code index --full` in a
 * loop, touching a file before each build, while this process searches with and without reusing its loaded
 * index. Prints the searches, failures and "is damaged" notices seen; exits 1 on any.
 *
 * Usage: `deno run -A bench/index_race.ts [--builds 40]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { buildIndex, searchIndex } from "../agent/search/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { builds: { type: "string", default: "40" } } });
const builds = Math.max(1, Number(values.builds));
const WORDS =
  "retry backoff offset commit consumer producer partition broker leader heartbeat session timeout"
    .split(" ");
const main = new URL("../main.ts", import.meta.url).pathname;

const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-index-race-" }));
try {
  for (let f = 0; f < 400; f++) {
    await Deno.mkdir(join(root, `src/p${f % 10}`), { recursive: true });
    const lines = Array.from(
      { length: 15 },
      (_, i) =>
        `export function ${WORDS[(f + i) % WORDS.length]}Step${f}_${i}(v: number) { ` +
        `return ${WORDS[(f * 3 + i) % WORDS.length]}Count + v * ${f}; }`,
    );
    await Deno.writeTextFile(join(root, `src/p${f % 10}/f${f}.ts`), lines.join("\n") + "\n");
  }
  await buildIndex(root);
  // The rebuilding process: a shell loop, so each build is a new dspy-code process as a user's would be.
  const script = `for i in $(seq 1 ${builds}); do echo "export const fresh$i = $i;" > src/p0/f0.ts; ` +
    `"${Deno.execPath()}" run -A "${main}" --workspace "${root}" index --full > /dev/null || exit 1; done`;
  const rebuilder = new Deno.Command("bash", { args: ["-c", script], cwd: root, stderr: "piped" }).spawn();
  let done = false;
  const rebuilt = rebuilder.output().finally(() => (done = true));

  const notices: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void notices.push(args.join(" "));
  let searches = 0;
  const failures: string[] = [];
  try {
    while (!done) {
      for (const reuse of [true, false]) {
        try {
          const hits = await searchIndex(root, "retry backoff timeout", { k: 3, reuse, context: 0 });
          if (hits.length !== 3) failures.push(`${hits.length} hits`);
        } catch (err) {
          failures.push(String(err));
        }
        searches++;
      }
    }
  } finally {
    console.error = error;
  }
  const out = await rebuilt;
  const damaged = notices.filter((n) => /is damaged/.test(n));
  console.log(
    `${builds} full rebuilds in another process (${out.success ? "all done" : "FAILED"}); ` +
      `${searches} searches beside them: ${failures.length} failed, ${damaged.length} "is damaged" notices`,
  );
  for (const line of [...failures, ...damaged].slice(0, 5)) console.log(`  ${line}`);
  if (!out.success || failures.length > 0 || damaged.length > 0) Deno.exitCode = 1;
} finally {
  await Deno.remove(root, { recursive: true });
}
