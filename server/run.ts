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
import { UserError } from "../core/errors.ts";
import type { RouteModule } from "./app.ts";
import { isLoopback } from "./auth.ts";
import { fromBus } from "./bus_adapter.ts";
import { DEFAULT_HOST, DEFAULT_PORT, type ServerHandle, startServer } from "./server.ts";

/**
 * Where {@link runUp} and {@link runQuickstart} report progress. The CLI passes its terminal output; the
 * server layer never depends on how (or whether) the lines are styled.
 */
export interface RunLog {
  /** An informational line (the CLI writes it to stderr). */
  info(message: string): void;
  /** A warning the user should act on. */
  warn(message: string): void;
  /** A result line for stdout. */
  print(message: string): void;
}

/** What {@link runUp} reports once the stack listens, so the caller can print the URLs its own way. */
export interface UpListening {
  /** The server's base URL, `http://host:port`. */
  url: string;
  workspace: string;
  /** The bus backend that runs (`local` or `kafka`). */
  backend: string;
  /** The debug trace file, relative to the workspace. */
  traceFile: string;
  /** True when ADMIN_KEY is set (admin routes need `X-Admin-Key`). */
  adminKey: boolean;
  /** The Host names the browser guard accepts (loopback names, the bound address, `--allowed-host`). */
  acceptedHosts: string[];
}

/** Options for {@link runUp}. */
export interface RunUpOptions {
  workspace: string;
  host?: string;
  port?: number;
  /** Progress and warnings. */
  log: RunLog;
  /** Called once everything listens, before waiting for the signal: print the URLs here. */
  onListening?: (stack: UpListening) => void;
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
  const { log } = options;
  const host = options.host ?? DEFAULT_HOST;
  const adminKey = Deno.env.get("ADMIN_KEY") || null;
  if (!isLoopback(host) && !adminKey) {
    log.warn(
      `binding ${host} without ADMIN_KEY: admin routes answer 403 to every non-loopback client; ` +
        `set ADMIN_KEY to manage the server remotely`,
    );
  }
  if (!isLoopback(host) && !options.allowedHosts?.length) {
    log.info(
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
  options.onListening?.({
    url,
    workspace: options.workspace,
    backend: bus.backend,
    traceFile: join(".dspy_reports", "server_trace.log"),
    adminKey: adminKey !== null,
    // Each name once: the default host 127.0.0.1 (or ::1) is already among the loopback names.
    acceptedHosts: [
      ...new Set(
        ["127.0.0.1", "localhost", "[::1]", host, ...(options.allowedHosts ?? [])]
          .map((h) => h === "::1" ? "[::1]" : h),
      ),
    ],
  });
  options.onReady?.(server);
  if (options.open) openBrowser(`${url}/`, log);

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) return resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
    server.finished.then(() => resolve());
  });
  log.info("stopping: closing streams and draining requests…");
  await server.shutdown();
  await bus.close();
  log.info("stopped");
  return { url };
}

function openBrowser(url: string, log: RunLog): void {
  const cmd = Deno.build.os === "darwin"
    ? ["open", url]
    : Deno.build.os === "windows"
    ? ["cmd", "/c", "start", "", url]
    : ["xdg-open", url];
  try {
    const child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "null" }).spawn();
    child.status.then((s) => {
      if (!s.success) log.warn(`could not open a browser; visit ${url}`);
    });
  } catch {
    log.warn(`could not open a browser (${cmd[0]} not found); visit ${url}`);
  }
}

/**
 * The one-command start without containers: the local stack in this process, exactly like `up`, reported
 * with `mode: "local"`. (`quickstart` tries the compose stack first, in `ops/compose_stack.ts`.)
 */
export async function runQuickstart(options: RunUpOptions): Promise<{ url: string; mode: string }> {
  options.log.info("starting the local stack in this process");
  const { url } = await runUp(options);
  return { url, mode: "local" };
}
