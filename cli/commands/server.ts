/**
 * Command specs for the server subsystem: `up` and `quickstart`. Keep this file light: the server, Hono and
 * the bus load inside `run`.
 *
 * @module
 */

import { type CommandContext, type CommandSpec, intOption, parseCommandArgs } from "../command.ts";
import { UsageError } from "../../core/errors.ts";
import { lazyImport } from "../lazy.ts";
import type { Output } from "../output.ts";
import type { UpListening } from "../../server/mod.ts";

const serverRun = () =>
  lazyImport<typeof import("../../server/run.ts")>(new URL("../../server/run.ts", import.meta.url));

const HOST_PORT_HELP = `Options:
  --host H    interface to bind (default 127.0.0.1; binding another host without ADMIN_KEY prints a warning)
  --port N    port (default 8765; 0 picks a free one)
  --allowed-host NAME[:PORT]   also accept requests whose Host header is NAME (repeatable; default: only
              127.0.0.1, localhost, [::1] and the bound address, with the port; env DSPY_ALLOWED_HOSTS)
  --allowed-origin ORIGIN      allow this origin cross-origin (CORS; repeatable; env DSPY_ALLOWED_ORIGINS)

Environment: ADMIN_KEY (admin routes need X-Admin-Key; unset = loopback clients only), DSPY_BUS,
KAFKA_BOOTSTRAP_SERVERS, OLLAMA_HOST, INFERMESH_URL. Stops gracefully on Ctrl-C / SIGTERM.`;

function hostPort(name: string, args: string[]) {
  const { values } = parseCommandArgs(name, args, {
    host: { type: "string" },
    port: { type: "string" },
    open: { type: "boolean" },
    local: { type: "boolean" },
    "allowed-host": { type: "string", multiple: true },
    "allowed-origin": { type: "string", multiple: true },
  }, { max: 0 });
  if (name === "up" && (values.open || values.local)) {
    throw new UsageError(`up: --open and --local belong to quickstart. See 'dspy-code up --help'.`);
  }
  const port = intOption(name, "port", values.port, 8765);
  if (port > 65535) throw new UsageError(`${name}: --port must be 0..65535, got ${port}`);
  const host = values.host ?? "127.0.0.1";
  if (!host.trim()) throw new UsageError(`${name}: --host must not be empty`);
  const allowedHosts = hostList(name, "allowed-host", values["allowed-host"], "DSPY_ALLOWED_HOSTS");
  const allowedOrigins = hostList(name, "allowed-origin", values["allowed-origin"], "DSPY_ALLOWED_ORIGINS");
  for (const o of allowedOrigins) {
    if (!/^https?:\/\/[^\/\s]+$/i.test(o)) {
      throw new UsageError(`${name}: --allowed-origin must look like http://host:port (no path), got '${o}'`);
    }
  }
  for (const h of allowedHosts) {
    if (h !== "*" && !/^(\[[0-9a-fA-F:.]+\]|[^:\[\]\/@\s]+)(:\d{1,5})?$/.test(h)) {
      throw new UsageError(`${name}: --allowed-host must be NAME or NAME:PORT, got '${h}'`);
    }
  }
  return { host, port, values, allowedHosts, allowedOrigins };
}

/** Flag values plus the comma-separated environment variable. */
function hostList(name: string, flag: string, values: string[] | undefined, env: string): string[] {
  const list = [...(values ?? []), ...(Deno.env.get(env) ?? "").split(",")].map((s) => s.trim());
  if ((values ?? []).some((v) => !v.trim())) throw new UsageError(`${name}: --${flag} must not be empty`);
  return list.filter(Boolean);
}

/** Prints where the stack listens: a panel, or one JSON object with `--json`. */
function announce(out: Output, stack: UpListening): void {
  const { url } = stack;
  if (out.json) {
    out.printJson({
      ok: true,
      url,
      dashboard: `${url}/`,
      health: `${url}/health`,
      metrics: `${url}/metrics`,
    });
    return;
  }
  out.panel("dspy-code is up", [
    ["workspace", stack.workspace],
    ["bus", stack.backend],
    ["dashboard", `${url}/`],
    ["health", `${url}/health`],
    ["metrics", `${url}/metrics  (JSON: ${url}/metrics?format=json)`],
    ["events", `${url}/api/events/stream`],
    ["trace", `${url}/api/debug/trace/stream  (${stack.traceFile})`],
    ["admin", stack.adminKey ? "X-Admin-Key required" : "loopback clients only (ADMIN_KEY not set)"],
    ["hosts", `${stack.acceptedHosts.join(", ")} (others: 403; --allowed-host NAME)`],
  ]);
  out.info("Press Ctrl-C to stop.");
}

/**
 * Runs `fn` with the workspace's experiment schedules registered on Deno.cron and its experiment queue
 * served by this process (see `experiments/schedules.ts`); stops both when `fn` returns.
 */
async function withExperiments<T>(ctx: CommandContext, fn: () => Promise<T>): Promise<T> {
  const exp = await lazyImport<typeof import("../../experiments/mod.ts")>(
    new URL("../../experiments/mod.ts", import.meta.url),
  );
  const scheduler = exp.startScheduler(ctx.workspace, {
    onError: (err) => ctx.out.warn(`experiments: ${err}`),
  });
  try {
    return await fn();
  } finally {
    scheduler.stop();
    await exp.stopAllRunners();
  }
}

async function up(args: string[], ctx: CommandContext) {
  const { host, port, allowedHosts, allowedOrigins } = hostPort("up", args);
  const { runUp } = await serverRun();
  const { url } = await withExperiments(ctx, () =>
    runUp({
      workspace: ctx.workspace,
      host,
      port,
      log: ctx.out,
      onListening: (stack) => announce(ctx.out, stack),
      signal: ctx.signal,
      allowedHosts,
      allowedOrigins,
    }));
  return { ok: true, data: { url } };
}

async function quickstart(args: string[], ctx: CommandContext) {
  const { host, port, values, allowedHosts, allowedOrigins } = hostPort("quickstart", args);
  if (!values.local) {
    // With a container engine: the compose stack (files from the repository or compiled into the binary).
    const { startComposeStack } = await lazyImport<typeof import("../../ops/mod.ts")>(
      new URL("../../ops/mod.ts", import.meta.url),
    );
    const stack = await startComposeStack({ workspace: ctx.workspace, out: ctx.out, signal: ctx.signal });
    if (stack) {
      if (ctx.out.json) ctx.out.printJson({ ok: true, ...stack, dashboard: `${stack.url}/` });
      return { ok: true, data: stack };
    }
  }
  const { runQuickstart } = await serverRun();
  const result = await withExperiments(ctx, () =>
    runQuickstart({
      workspace: ctx.workspace,
      host,
      port,
      log: ctx.out,
      onListening: (stack) => announce(ctx.out, stack),
      signal: ctx.signal,
      open: Boolean(values.open),
      allowedHosts,
      allowedOrigins,
    }));
  return { ok: true, data: result };
}

/** The server commands, registered in `cli/registry.ts`. */
export const serverCommands: CommandSpec[] = [
  {
    name: "up",
    group: "server",
    summary: "Start the bus, event persistence and the status server + dashboard; run until Ctrl-C",
    usage: "up [--host H] [--port N] [--allowed-host NAME]...",
    examples: ["up", "up --port 9000", "up --host 0.0.0.0   (set ADMIN_KEY first)"],
    details: HOST_PORT_HELP,
    scope: "cli",
    run: up,
  },
  {
    name: "quickstart",
    group: "server",
    summary: "One-command start: Docker Compose when an engine answers, else the local stack like 'up'",
    usage: "quickstart [--open] [--local] [--host H] [--port N]",
    examples: ["quickstart", "quickstart --open", "quickstart --local --port 0"],
    details: `  --open      open the dashboard in a browser
  --local     never use Docker, even when an engine answers
${HOST_PORT_HELP}`,
    scope: "cli",
    run: quickstart,
  },
];
