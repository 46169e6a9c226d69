import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { type ArgOption, ArgsError, parseArgv } from "../../core/args.ts";
import { createRng } from "../../learning/rng.ts";

/** What node:util's strict parseArgs gives, or its error message. */
function nodeResult(args: string[], options: Record<string, ArgOption>): unknown {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

function ourResult(args: string[], options: Record<string, ArgOption>): unknown {
  try {
    const r = parseArgv(args, options);
    return { values: { ...r.values }, positionals: r.positionals };
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    return { error: err.message };
  }
}

Deno.test("parseArgv agrees with node:util parseArgs on generated command lines, errors included", () => {
  const random = createRng(20261203);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const names = ["alpha", "beta", "gamma", "k", "no-batching"];
  const shorts = ["a", "b", "g", "k", "x"];
  const words = [
    "file.ts",
    "-",
    "--",
    "-5",
    "-x",
    "-ab",
    "-abk",
    "-kv",
    "-gk",
    "--alpha",
    "--beta",
    "--beta=",
    "--beta=-1",
    "--gamma=on",
    "--k",
    "--k=3",
    "--no-batching",
    "--unknown",
    "--__proto__",
    "value",
    "--alpha=x",
    "-k",
    "3",
    "-a",
    "",
  ];
  let disagreements = 0;
  let errors = 0;
  for (let n = 0; n < 4000; n++) {
    const options: Record<string, ArgOption> = {};
    for (const name of names) {
      if (random() < 0.25) continue;
      const o: ArgOption = { type: random() < 0.5 ? "string" : "boolean" };
      if (random() < 0.5) o.short = pick(shorts);
      if (random() < 0.3) o.multiple = true;
      if (random() < 0.2) {
        o.default = o.type === "string" ? (o.multiple ? ["d"] : "d") : (o.multiple ? [false] : false);
      }
      options[name] = o;
    }
    // node:util refuses two options with one short letter; so do we never declare that.
    const seen = new Set<string>();
    for (const o of Object.values(options)) {
      if (o.short && seen.has(o.short)) delete o.short;
      else if (o.short) seen.add(o.short);
    }
    const args = Array.from({ length: Math.floor(random() * 6) }, () => pick(words));
    const expected = nodeResult(args, options);
    const actual = ourResult(args, options);
    if ("error" in (expected as object)) errors++;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      disagreements++;
      if (disagreements <= 3) {
        console.error(JSON.stringify({ args, options, expected, actual }));
      }
    }
  }
  assert.equal(disagreements, 0);
  // The generated lines exercise both outcomes.
  if (errors < 500 || errors > 3500) throw new Error(`${errors} of 4000 generated lines were errors`);
});

Deno.test("parseArgv: the forms a user types", () => {
  const options: Record<string, ArgOption> = {
    k: { type: "string", short: "k" },
    glob: { type: "string", multiple: true },
    json: { type: "boolean" },
    steps: { type: "string", default: "10" },
  };
  const parsed = parseArgv(["retry", "--k", "5", "--glob", "*.ts", "--glob=*.js", "--json", "x"], options);
  assert.deepEqual({ ...parsed.values }, { k: "5", glob: ["*.ts", "*.js"], json: true, steps: "10" });
  assert.deepEqual(parsed.positionals, ["retry", "x"]);
  // As parseArgs gives: no prototype, so a name like `constructor` is absent until an option sets it.
  assert.equal(parsed.values.constructor, undefined);
  assert.equal(parseArgv(["-k7", "--", "--json"], options).values.k, "7");
  assert.deepEqual(parseArgv(["-k7", "--", "--json"], options).positionals, ["--json"]);
  assert.equal(parseArgv(["--steps=-5"], options).values.steps, "-5");
  const failure = (args: string[]) => {
    try {
      parseArgv(args, options);
    } catch (err) {
      if (err instanceof ArgsError) return err;
      throw err;
    }
    throw new Error(`${args.join(" ")} was accepted`);
  };
  assert.equal(failure(["--steps", "-5"]).message.split("\n")[0], "Option '--steps' argument is ambiguous.");
  assert.equal(failure(["--jsn"]).kind, "unknown");
  assert.equal(failure(["--k"]).message, "Option '-k, --k <value>' argument missing");
});
