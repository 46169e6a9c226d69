/**
 * Builds the Hono application: request tracing, per-route metrics, the body size limit, JSON errors for
 * every status (400/401/403/404/405/413/500/507, never a stack trace), security headers, and the route
 * modules. A route module registers its routes through {@link Routes}, which records each path's methods
 * (for 405 answers with `Allow`) and its admin requirement, so later features (experiments, the dev cycle)
 * plug in by adding a module.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { InsufficientResourcesError } from "../core/guard.ts";
import { UserError } from "../core/errors.ts";
import { checkAdmin } from "./auth.ts";
import { HttpError } from "./http.ts";
import type { ServerState } from "./state.ts";

/** Hono environment of the app: the client's address is passed as a binding. */
export type AppEnv = {
  Bindings: { remoteAddr?: Deno.Addr; completed?: Promise<void> };
  Variables: { route: string };
};

/** The context a handler gets. */
export type AppContext = Context<AppEnv>;

/** A route handler. */
export type Handler = (c: AppContext) => Response | Promise<Response>;

/** Per-route options. */
export interface RouteOptions {
  /** Needs admin rights (see `server/auth.ts`). */
  admin?: boolean;
}

/** What a route module registers routes on. */
export interface Routes {
  get(path: string, handler: Handler, options?: RouteOptions): void;
  post(path: string, handler: Handler, options?: RouteOptions): void;
  put(path: string, handler: Handler, options?: RouteOptions): void;
  delete(path: string, handler: Handler, options?: RouteOptions): void;
}

/** A pluggable group of routes. */
export interface RouteModule {
  /** Short name (for diagnostics). */
  name: string;
  /** Registers the module's routes. */
  register(routes: Routes, state: ServerState): void;
}

interface PathEntry {
  pattern: RegExp;
  methods: Set<string>;
  path: string;
}

function compilePath(path: string): RegExp {
  const re = path.split("/").map((seg) =>
    seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${re}/?$`);
}

/** The client's host from the binding Deno.serve passes. */
export function remoteHost(c: AppContext): string | undefined {
  const addr = c.env?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : undefined;
}

/** JSON error body with status. */
function errorResponse(
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
  headers = {},
): Response {
  return new Response(JSON.stringify({ error: message, status, ...extra }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** Builds the app with the given route modules. */
export function createApp(state: ServerState, modules: RouteModule[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const paths: PathEntry[] = [];

  app.use("*", async (c, next) => {
    const started = performance.now();
    const declared = c.req.header("content-length");
    if (declared !== undefined && !(Number(declared) <= state.bodyLimit)) {
      // Refuse before reading: the client is told at once, whatever the route.
      c.res = errorResponse(
        Number.isFinite(Number(declared)) ? 413 : 400,
        Number.isFinite(Number(declared))
          ? `request body too large: at most ${state.bodyLimit} bytes`
          : "invalid Content-Length header",
      );
      c.set("route", "body_limit");
    } else {
      await next();
    }
    const ms = performance.now() - started;
    const status = c.res.status;
    state.http.observe(c.get("route") ?? "unmatched", c.req.method, status, ms / 1000);
    state.trace.record({
      ts: Date.now() / 1000,
      method: c.req.method,
      path: safePath(c.req.raw.url),
      status,
      ms: Math.round(ms * 1000) / 1000,
    });
    try {
      c.res.headers.set("x-content-type-options", "nosniff");
    } catch { /* immutable headers (a proxied response): leave them */ }
  });

  const add = (method: string, path: string, handler: Handler, options: RouteOptions = {}) => {
    let entry = paths.find((p) => p.path === path);
    if (!entry) {
      entry = { pattern: compilePath(path), methods: new Set(), path };
      paths.push(entry);
    }
    entry.methods.add(method);
    if (method === "GET") entry.methods.add("HEAD");
    app.on(method, path, async (c) => {
      c.set("route", path);
      if (options.admin) checkAdmin(state.adminKey, c.req.header("x-admin-key"), remoteHost(c));
      return await handler(c);
    });
  };
  const routes: Routes = {
    get: (p, h, o) => add("GET", p, h, o),
    post: (p, h, o) => add("POST", p, h, o),
    put: (p, h, o) => add("PUT", p, h, o),
    delete: (p, h, o) => add("DELETE", p, h, o),
  };
  for (const mod of modules) mod.register(routes, state);

  app.notFound((c) => {
    const path = c.req.path;
    const entry = paths.find((p) => p.pattern.test(path));
    if (entry) {
      c.set("route", entry.path);
      const allow = [...entry.methods].sort().join(", ");
      return errorResponse(405, `method ${c.req.method} not allowed on ${entry.path}; use ${allow}`, {}, {
        allow,
      });
    }
    return errorResponse(404, `no route for ${c.req.method} ${path.slice(0, 200)}`);
  });

  app.onError((err, c) => {
    if (err instanceof HttpError) return errorResponse(err.status, err.message, err.extra, err.headers);
    if (err instanceof InsufficientResourcesError) {
      return errorResponse(507, err.message, { ok: false, guard: err.evaluation });
    }
    if (err instanceof UserError) return errorResponse(400, err.message);
    if (err instanceof HTTPException) {
      const status = err.status;
      return errorResponse(status, status === 400 ? "malformed request" : err.message || "request failed");
    }
    if (err instanceof URIError) return errorResponse(400, "malformed percent-encoding in the request");
    console.error(`server error on ${c.req.method} ${c.req.path}: ${err?.stack ?? err}`);
    return errorResponse(500, "internal server error (details are in the server log)");
  });

  return app;
}

/** The request path without the query, kept short and printable for the trace. */
function safePath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  let path = start === -1 ? "/" : url.slice(start);
  const q = path.indexOf("?");
  if (q !== -1) path = path.slice(0, q);
  return path.length > 512 ? path.slice(0, 512) + "…" : path;
}
