/**
 * Command specs for operations: `compose fix-env` (the environment list → mapping rewrite) and `probe` (the
 * health check the container images run). Keep this file
 * light: `ops/` (and the `yaml` package) load inside `run`.
 *
 * @module
 */

import { resolve } from "../../core/path.ts";
import { type CommandContext, type CommandSpec, numberOption, parseCommandArgs } from "../command.ts";
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

async function probe(args: string[], ctx: CommandContext) {
  const { values, positionals } = parseCommandArgs("probe", args, { timeout: { type: "string" } }, {
    min: 1,
    max: 1,
    names: "URL",
  });
  const timeout = numberOption("probe", "timeout", values.timeout, 5);
  if (timeout <= 0) throw new UsageError(`probe: --timeout takes seconds > 0, got '${values.timeout}'`);
  let url: URL;
  try {
    url = new URL(positionals[0]);
  } catch {
    throw new UsageError(`probe: '${positionals[0]}' is not a URL (e.g. http://127.0.0.1:8765/health)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`probe: only http and https URLs, got '${url.protocol}'`);
  }
  const { probeUrl } = await ops();
  const result = await probeUrl(url.href, timeout * 1000);
  if (ctx.out.json) ctx.out.printJson({ url: url.href, ...result });
  else ctx.out.print(`${result.ok ? "ok" : "FAIL"} ${url.href} ${result.detail} (${result.ms} ms)`);
  return { ok: result.ok, code: result.ok ? 0 : 1, data: result };
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
  {
    name: "probe",
    group: "system",
    summary: "GET a URL once; exit 0 on a 2xx answer (container health checks)",
    usage: "probe URL [--timeout SECONDS] [--json]",
    examples: ["probe http://127.0.0.1:8765/health", "probe http://127.0.0.1:19000/health --timeout 2"],
    details: "  --timeout S   give up after S seconds (default 5); exit 1 when no 2xx answer came in time",
    scope: "cli",
    recordEvents: false,
    run: probe,
  },
];
