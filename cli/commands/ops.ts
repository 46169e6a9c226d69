/**
 * Command specs for operations: `dev-cycle`, `compose fix-env` (the environment list → mapping rewrite) and
 * `probe` (the health check the container images run). Keep this file
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

async function devCycle(args: string[], ctx: CommandContext) {
  const { values } = parseCommandArgs("dev-cycle", args, {
    only: { type: "string", multiple: true },
    skip: { type: "string", multiple: true },
    tests: { type: "string" },
    commit: { type: "boolean" },
  }, { max: 0 });
  const { parseStageList, runDevCycle } = await ops();
  if (values.tests !== undefined && !values.tests.trim()) {
    throw new UsageError("dev-cycle: --tests takes test files or folders, e.g. --tests tests/ops/");
  }
  const result = await runDevCycle({
    root: ctx.workspace,
    only: parseStageList("--only", values.only),
    skip: parseStageList("--skip", values.skip),
    tests: values.tests,
    commit: Boolean(values.commit),
    signal: ctx.signal,
    onLine: ctx.out.json ? undefined : (line) => ctx.out.print(line),
  });
  if (ctx.out.json) ctx.out.printJson(result);
  else {
    const c = ctx.out.c;
    const badge = (s: string) =>
      s === "ok" ? c.green("ok") : s === "failed" ? c.red("FAILED") : s === "skipped" ? c.dim("skipped") : s;
    ctx.out.table(
      ["stage", "state", "time", "detail"],
      result.stages.map((
        s,
      ) => [
        s.name,
        badge(s.state),
        s.seconds !== undefined ? `${s.seconds.toFixed(1)}s` : "",
        s.detail ?? "",
      ]),
    );
    ctx.out.info(`log: ${result.logFile}`);
  }
  return { ok: result.ok, code: result.code, data: result };
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
    name: "dev-cycle",
    group: "system",
    summary: "Build → check → test → compose stack, as timed stages with a log (never pushes)",
    usage: "dev-cycle [--only STAGE,...] [--skip STAGE,...] [--tests PATTERN] [--commit] [--json]",
    examples: [
      "dev-cycle",
      "dev-cycle --only deps,check",
      "dev-cycle --skip check --tests tests/ops/",
      "dev-cycle --commit",
    ],
    details: [
      "Runs in the workspace (a Deno project). Stages, in order:",
      "  deps      deno install",
      "  check     deno task check",
      "  test      deno task test (or deno test -A PATTERN with --tests)",
      "  compose   compose config on docker/lightweight/docker-compose.yml; when the validator reports",
      "            'environment must be a mapping', rewrites the lists (see 'compose fix-env') and uses the result",
      "  build, up, health, status   compose build, up -d, every container healthy, compose ps; each says",
      "            'skipped: no container engine' when no engine answers (the cycle still succeeds)",
      "The first failing stage stops the cycle with its exit code. Ctrl-C ends the running command's whole",
      "process group (SIGTERM, then SIGKILL after 10 s).",
      "  --only S,...   run only these stages      --skip S,...   leave these out",
      "  --commit       one local commit of the files the cycle changed (never pushed; not dspy-code state)",
      "Log: .dspy_reports/dev_cycle.log (the previous run's as dev_cycle.log.1); stage events on agent.actions.",
    ].join("\n"),
    scope: "cli",
    run: devCycle,
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
