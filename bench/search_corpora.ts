/**
 * The evaluation corpora for retrieval quality: three real codebases in different languages that none of
 * us wrote, each fetched at a pinned version into a cache folder (never committed), and their labelled
 * query sets (`bench/data/<name>_eval.json`). The sets were written by reading the source before any
 * ranking was tuned on them; each query is in the `tune` or the `test` half, alternating within its kind
 * in file order, and {@link loadEvalSet} refuses a file whose halves do not follow that rule.
 *
 * - kafkajs 2.2.4 (JavaScript): `npm pack kafkajs@2.2.4`;
 * - urllib3 1.26.12 (Python): Debian `python3-urllib3=1.26.12-1+deb12u4` (`apt-get download`, `dpkg -x`);
 * - gin 1.8.1 (Go): Debian `golang-github-gin-gonic-gin-dev=1.8.1-1` (same).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** What a query asks for: a behaviour in words, or an exact identifier. */
export type QueryKind = "behaviour" | "identifier";
/** Which half a query belongs to. */
export type Split = "tune" | "test";

/** A labelled query of an evaluation set. */
export interface EvalQuery {
  query: string;
  kind: QueryKind;
  split: Split;
  /** Workspace-relative files (from the corpus root) that answer it. */
  relevant: string[];
}

/** One corpus's evaluation set. */
export interface EvalSet {
  corpus: string;
  language: string;
  source: "npm" | "debian";
  /** `name@version` for npm, `package=version` for Debian. */
  package: string;
  /** The corpus root inside the unpacked package. */
  root: string;
  queries: EvalQuery[];
}

/** The corpora, in report order. */
export const CORPORA = ["kafkajs", "urllib3", "gin"] as const;

/**
 * Loads `<dir>/<name>_eval.json` (default `bench/data`) and checks that its split follows the alternation
 * rule.
 */
export async function loadEvalSet(name: string, dir = join(here, "data")): Promise<EvalSet> {
  const set: EvalSet = JSON.parse(await Deno.readTextFile(join(dir, `${name}_eval.json`)));
  const seen: Record<string, number> = {};
  for (const q of set.queries) {
    const i = seen[q.kind] ?? 0;
    seen[q.kind] = i + 1;
    const want: Split = i % 2 === 0 ? "tune" : "test";
    if (q.split !== want) {
      throw new Error(
        `${name}_eval.json: "${q.query}" is in '${q.split}', but alternation puts it in '${want}'`,
      );
    }
  }
  return set;
}

/** Runs a command to its end: its exit code and its output as text. */
export async function run(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

/** Whether a path exists. */
export async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the corpus of `set` is unpacked under `<cache>/corpora/<name>` and returns its root folder.
 * Needs the npm registry (kafkajs) or the Debian mirror (`apt-get download`, the others) the first time.
 */
export async function ensureCorpus(set: EvalSet, cache: string): Promise<string> {
  const dest = join(cache, "corpora", set.corpus);
  const stamp = join(dest, ".corpus-version");
  if (await exists(stamp) && (await Deno.readTextFile(stamp)).trim() === set.package) {
    return join(dest, "root");
  }
  await Deno.remove(dest, { recursive: true }).catch(() => {});
  const dl = join(dest, "download");
  await Deno.mkdir(dl, { recursive: true });
  const root = join(dest, "root");
  if (set.source === "npm") {
    const packed = await run("npm", ["pack", set.package, "--silent", "--pack-destination", dl]);
    if (packed.code !== 0) throw new Error(`npm pack ${set.package} failed: is the npm registry reachable?`);
    await Deno.mkdir(root);
    const file = join(dl, packed.stdout.trim().split("\n").pop()!);
    const untar = await run("tar", ["xzf", file, "-C", root, "--strip-components=1"]);
    if (untar.code !== 0) throw new Error(`could not unpack ${file}`);
  } else {
    const got = await run("apt-get", ["download", set.package], dl);
    if (got.code !== 0) {
      throw new Error(
        `apt-get download ${set.package} failed (${got.stderr.trim().split("\n").pop()}): ` +
          "run 'apt-get update'; if the mirror no longer has this version, pin the new one in bench/data",
      );
    }
    const deb = [...Deno.readDirSync(dl)].find((e) => e.name.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${set.package} left no .deb in ${dl}`);
    const x = join(dest, "x");
    const unpack = await run("dpkg", ["-x", join(dl, deb.name), x]);
    if (unpack.code !== 0) throw new Error(`dpkg -x ${deb.name} failed: ${unpack.stderr}`);
    await Deno.rename(join(x, set.root), root);
    await Deno.remove(x, { recursive: true });
  }
  await Deno.writeTextFile(stamp, set.package + "\n");
  return root;
}
