/**
 * Command specs for operations: `compose fix-env` (the environment list → mapping rewrite). Keep this file
 * light: `ops/` (and the `yaml` package) load inside `run`.
 *
 * @module
 */

import { resolve } from "../../core/path.ts";
import { type CommandContext, type CommandSpec, parseCommandArgs } from "../command.ts";
import { UsageError } from "../../core/errors.ts";
import { lazyImport } from "../lazy.ts";

const ops = () => lazyImport<typeof import("../../ops/mod.ts")>(new URL("../../ops/mod.ts", import.meta.url));

async function compose(args: string[], ctx: CommandContext) {
  const [sub, ...rest] = args;
  if (sub !== "fix-env") {
    throw new UsageError(
      sub === undefined
        ? "compose: missing subcommand (fix-env). See 'dspy-code compose --help'."
        : `compose: unknown subcommand '${sub}' (known: fix-env). See 'dspy-code compose --help'.`,
    );
  }
  const { values, positionals } = parseCommandArgs("compose fix-env", rest, { out: { type: "string" } }, {
    min: 1,
    max: 1,
    names: "FILE",
  });
  if (values.out === "") throw new UsageError("compose fix-env: --out must not be empty (use - for stdout)");
  const { fixComposeEnvFile } = await ops();
  const file = resolve(ctx.workspace, positionals[0]);
  const out = values.out === undefined || values.out === "-"
    ? values.out
    : resolve(ctx.workspace, values.out);
  const result = await fixComposeEnvFile(file, { out });
  if (result.out === "-") ctx.out.write(result.text);
  else if (ctx.out.json) {
    ctx.out.printJson({
      ok: true,
      file,
      out: result.out,
      blocks: result.blocks,
      variables: result.variables,
    });
  } else {
    ctx.out.info(
      result.blocks === 0
        ? `no environment lists in ${positionals[0]}; wrote an unchanged copy to ${result.out}`
        : `rewrote ${result.blocks} environment list(s) (${result.variables} variables) into mappings: ${result.out}`,
    );
  }
  return { ok: true, data: { out: result.out, blocks: result.blocks, variables: result.variables } };
}

/** The operations commands, registered in `cli/registry.ts`. */
export const opsCommands: CommandSpec[] = [
  {
    name: "compose",
    group: "system",
    summary: "Compose helpers: fix-env rewrites environment: lists into mappings (older Compose versions)",
    usage: "compose fix-env FILE [--out OUT]",
    examples: [
      "compose fix-env docker/lightweight/docker-compose.yml",
      "compose fix-env docker-compose.yml --out docker-compose.fixed.yml",
      "compose fix-env docker-compose.yml --out -",
    ],
    details: [
      "compose fix-env FILE [--out OUT]",
      "    Rewrites every 'environment:' list into a mapping, for Compose versions that say 'environment must",
      "    be a mapping': '- KEY=VAL' becomes 'KEY: \"VAL\"' (split at the first '='), '- KEY' becomes",
      "    'KEY: ${KEY:-}'. Comments, blank lines, anchors, aliases and key order are kept.",
      "    --out OUT   where to write (default: FILE with .mapped before the extension; - prints to stdout).",
      "    The file is written atomically; a duplicate key or an item that is not KEY[=VALUE] is an error.",
    ].join("\n"),
    scope: "cli",
    run: compose,
  },
];
