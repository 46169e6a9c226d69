/**
 * `dspy-code up` and `dspy-code quickstart`: start the local stack in this process (the bus with its event
 * persistence and metrics writer, then the status server), print the URLs, run until the signal aborts
 * (SIGINT/SIGTERM), then shut down gracefully: stop accepting, close the SSE streams, drain in-flight
 * requests, close the bus (which flushes its durable writes). The CLI closes KV afterwards.
 *
 * @module
 */

import { join } from "node:path";
import { startBus } from "../bus/mod.ts";
import type { Output } from "../cli/output.ts";
import { UserError } from "../core/errors.ts";
import type { RouteModule } from "./app.ts";
import { isLoopback } from "./auth.ts";
import { fromBus } from "./bus_adapter.ts";
import { DEFAULT_HOST, DEFAULT_PORT, type ServerHandle, startServer } from "./server.ts";

/** Options for {@link runUp}. */
export interface RunUpOptions {
  workspace: string;
  host?: string;
  port?: number;
  out: Output;
  /** Stops the stack when aborted. */
  signal: AbortSignal;
  /** Open the dashboard in a browser once listening. */
  open?: boolean;
  /** Called once everything listens (tests). */
  onReady?: (server: ServerHandle) => void;
  /** Extra route modules (experiments, dev cycle, ...). */
  routes?: RouteModule[];
  /** Extra accepted Host names (`--allowed-host`; see `server/browser_guard.ts`). */
  allowedHosts?: string[];
  /** Origins allowed cross-origin (`--allowed-origin`). */
  allowedOrigins?: string[];
}

/** Starts the local stack and runs it until `signal` aborts. */
export async function runUp(options: RunUpOptions): Promise<{ url: string }> {
  const { out } = options;
  const host = options.host ?? DEFAULT_HOST;
  const adminKey = Deno.env.get("ADMIN_KEY") || null;
  if (!isLoopback(host) && !adminKey) {
    out.warn(
      `binding ${host} without ADMIN_KEY: admin routes answer 403 to every non-loopback client; ` +
        `set ADMIN_KEY to manage the server remotely`,
    );
  }
  if (!isLoopback(host) && !options.allowedHosts?.length) {
    out.info(
      `requests must name this server by IP address (Host header); pass --allowed-host NAME to reach it ` +
        `by a host name`,
    );
  }
  const bus = await startBus({ workspace: options.workspace });
  let server: ServerHandle;
  try {
    server = await startServer({
      workspace: options.workspace,
      host,
      port: options.port ?? DEFAULT_PORT,
      bus: fromBus(bus),
      adminKey,
      routes: options.routes,
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
    });
  } catch (err) {
    await bus.close();
    if (err instanceof Deno.errors.AddrInUse) {
      throw new UserError(
        `port ${
          options.port ?? DEFAULT_PORT
        } on ${host} is already in use: stop the other server or pass --port N`,
      );
    }
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.AddrNotAvailable) {
      throw new UserError(
        `cannot listen on ${host}:${options.port ?? DEFAULT_PORT}: ${(err as Error).message}`,
      );
    }
    throw err;
  }
  const url = server.url;
  if (out.json) {
    out.printJson({
      ok: true,
      url,
      dashboard: `${url}/`,
      health: `${url}/health`,
      metrics: `${url}/metrics`,
    });
  } else {
    out.panel("dspy-code is up", [
      ["workspace", options.workspace],
      ["bus", `${bus.backend}`],
      ["dashboard", `${url}/`],
      ["health", `${url}/health`],
      ["metrics", `${url}/metrics  (JSON: ${url}/metrics?format=json)`],
      ["events", `${url}/api/events/stream`],
      ["trace", `${url}/api/debug/trace/stream  (${join(".dspy_reports", "server_trace.log")})`],
      ["admin", adminKey ? "X-Admin-Key required" : "loopback clients only (ADMIN_KEY not set)"],
      [
        "hosts",
        `127.0.0.1, localhost, [::1], ${host}` +
        (options.allowedHosts?.length ? `, ${options.allowedHosts.join(", ")}` : "") +
        " (others: 403; --allowed-host NAME)",
      ],
    ]);
    out.info("Press Ctrl-C to stop.");
  }
  options.onReady?.(server);
  if (options.open) openBrowser(`${url}/`, out);

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) return resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
    server.finished.then(() => resolve());
  });
  out.info("stopping: closing streams and draining requests…");
  await server.shutdown();
  await bus.close();
  out.info("stopped");
  return { url };
}

function openBrowser(url: string, out: Output): void {
  const cmd = Deno.build.os === "darwin"
    ? ["open", url]
    : Deno.build.os === "windows"
    ? ["cmd", "/c", "start", "", url]
    : ["xdg-open", url];
  try {
    const child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "null" }).spawn();
    child.status.then((s) => {
      if (!s.success) out.warn(`could not open a browser; visit ${url}`);
    });
  } catch {
    out.warn(`could not open a browser (${cmd[0]} not found); visit ${url}`);
  }
}

/** True when a Docker engine answers `docker info` within a few seconds. */
export async function dockerEngineAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("docker", {
      args: ["info", "--format", "{{.ServerVersion}}"],
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(5000),
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The compose file `quickstart` uses when a Docker engine is available. */
export const COMPOSE_FILE = join("docker", "lightweight", "docker-compose.yml");

/** Options for {@link runQuickstart}. */
export interface QuickstartOptions extends RunUpOptions {
  /** Never use Docker, even when an engine answers. */
  local?: boolean;
}

/**
 * The one-command start: Docker Compose when an engine answers and the compose file exists in the
 * workspace, otherwise (always on machines without Docker) the local stack, exactly like `up`.
 */
export async function runQuickstart(options: QuickstartOptions): Promise<{ url: string; mode: string }> {
  const compose = join(options.workspace, COMPOSE_FILE);
  const haveCompose = await Deno.stat(compose).then((s) => s.isFile, () => false);
  if (!options.local && haveCompose && await dockerEngineAvailable()) {
    options.out.info(`Docker engine found: starting ${COMPOSE_FILE} with docker compose`);
    const envFile = join(options.workspace, "docker", "lightweight", ".env");
    const hasEnv = await Deno.stat(envFile).then(() => true, () => false);
    const status = await new Deno.Command("docker", {
      args: ["compose", "-f", compose, ...(hasEnv ? ["--env-file", envFile] : []), "up", "-d"],
      cwd: options.workspace,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!status.success) {
      throw new UserError(
        `docker compose up failed (exit ${status.code}); run 'dspy-code up' for the local stack`,
      );
    }
    options.out.print("Stack started with Docker Compose. Dashboard: http://127.0.0.1:18081/");
    return { url: "http://127.0.0.1:18081", mode: "docker" };
  }
  options.out.info(
    haveCompose
      ? "no Docker engine answered: starting the local stack in this process"
      : "starting the local stack in this process",
  );
  const { url } = await runUp(options);
  return { url, mode: "local" };
}
