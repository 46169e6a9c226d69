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
import { errorMessage, UserError } from "../core/errors.ts";
import { explainKvError, isKvCorruptError } from "../core/kv_health.ts";
import { checkAdmin } from "./auth.ts";
import { HttpError } from "./http.ts";
import type { ServerState } from "./state.ts";

/** Per-request bindings: the client's address, Deno's `completed` promise, and the matched route pattern. */
export interface RequestBindings {
  remoteAddr?: Deno.Addr;
  completed?: Promise<void>;
  /** Set by the app to the registered path pattern that handled the request (metrics label). */
  route?: string;
  /** Set by the app to the request path (saves re-parsing the URL for the trace). */
  path?: string;
}

/** Hono environment of the app. */
export type AppEnv = { Bindings: RequestBindings };

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
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      ...headers,
    },
  });
}

/** Builds the app with the given route modules. */
export function createApp(state: ServerState, modules: RouteModule[]): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const paths: PathEntry[] = [];

  const add = (method: string, path: string, handler: Handler, options: RouteOptions = {}) => {
    let entry = paths.find((p) => p.path === path);
    if (!entry) {
      entry = { pattern: compilePath(path), methods: new Set(), path };
      paths.push(entry);
    }
    entry.methods.add(method);
    if (method === "GET") entry.methods.add("HEAD");
    app.on(method, path, (c) => {
      if (c.env) {
        c.env.route = path;
        c.env.path = c.req.path;
      }
      if (options.admin) checkAdmin(state.adminKey, c.req.header("x-admin-key"), remoteHost(c));
      return handler(c);
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
    if (c.env) c.env.path = path;
    const entry = paths.find((p) => p.pattern.test(path));
    if (entry) {
      if (c.env) c.env.route = entry.path;
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
    if (isKvCorruptError(err)) {
      // Server-side damage, not a client error: 503 with the file and the repair.
      return errorResponse(503, errorMessage(explainKvError(err, state.workspace)));
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

function shortPath(path: string): string {
  return path.length > 512 ? path.slice(0, 512) + "…" : path;
}

/** The request path without the query, kept short for the trace. */
function tracePath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  let end = url.indexOf("?", start);
  if (end === -1) end = url.length;
  const path = start === -1 ? "/" : url.slice(start, Math.min(end, start + 512));
  return end - start > 512 ? path + "…" : path;
}

/**
 * Wraps the app for `Deno.serve`: applies the browser protections (`server/browser_guard.ts`: Host
 * allow-list; JSON content type and same origin for every method but GET/HEAD/OPTIONS) and refuses
 * over-limit bodies by their Content-Length before routing, so every route, present or future, gets them;
 * passes the connection info, and records every request in the HTTP metrics and the debug trace. Kept outside the
 * Hono middleware chain so a synchronous handler stays synchronous (this path is on every request).
 */
export function createHandler(
  state: ServerState,
  app: Hono<AppEnv>,
): (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> {
  const cors = state.browser.corsOrigins.size > 0;
  const cap = state.maxRequestsPerClient;
  const inflight = new Map<string, number>();
  const finish = (req: Request, env: RequestBindings, res: Response, started: number): Response => {
    if (cors) {
      const headers = state.browser.corsHeaders(req.headers.get("origin"));
      if (headers) {
        try {
          for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
        } catch {
          // Immutable headers (a proxied response): copy them onto a new response.
          const copy = new Headers(res.headers);
          for (const [k, v] of Object.entries(headers)) copy.set(k, v);
          res = new Response(res.body, { status: res.status, statusText: res.statusText, headers: copy });
        }
      }
    }
    const ms = performance.now() - started;
    state.http.observe(env.route ?? "unmatched", req.method, res.status, ms / 1000);
    state.trace.add(
      Date.now() / 1000,
      req.method,
      env.path !== undefined ? shortPath(env.path) : tracePath(req.url),
      res.status,
      Math.round(ms * 1000) / 1000,
    );
    return res;
  };
  return (req, info) => {
    const started = performance.now();
    // Getters: Deno builds `remoteAddr` and `completed` on access, and most routes never need them.
    const env: RequestBindings = {
      get remoteAddr() {
        return info.remoteAddr;
      },
      get completed() {
        return info.completed;
      },
    };
    // Host allow-list, and Origin + JSON content type for state-changing methods: every route, before routing.
    const refusal = state.browser.check(req);
    if (refusal) {
      env.route = "refused";
      return finish(req, env, errorResponse(refusal.status, refusal.message), started);
    }
    const method = req.method;
    if (cors) {
      const headers = state.browser.corsHeaders(req.headers.get("origin"));
      if (headers && method === "OPTIONS") {
        env.route = "preflight";
        return finish(req, env, new Response(null, { status: 204, headers }), started);
      }
    }
    // GET and HEAD bodies are never read, so only other methods pay for the header lookup.
    const declared = method === "GET" || method === "HEAD" ? null : req.headers.get("content-length");
    if (declared !== null && !(Number(declared) <= state.bodyLimit)) {
      // Refuse before reading: the client is told at once, whatever the route.
      const valid = Number.isFinite(Number(declared));
      env.route = "body_limit";
      return finish(
        req,
        env,
        errorResponse(
          valid ? 413 : 400,
          valid
            ? `request body too large: at most ${state.bodyLimit} bytes`
            : "invalid Content-Length header",
        ),
        started,
      );
    }
    let held: (() => void) | undefined;
    // Per-client cap on requests in flight (SSE streams and slow bodies included): the slot is released
    // when the handler has answered, or for an event stream when Deno reports it delivered or its client
    // gone (`info.completed`, only awaited for streams: it costs a promise per request).
    if (cap > 0) {
      const addr = info.remoteAddr;
      const key = "hostname" in addr ? addr.hostname : "local";
      const n = inflight.get(key) ?? 0;
      if (n >= cap) {
        env.route = "client_cap";
        return finish(
          req,
          env,
          errorResponse(
            503,
            `too many requests in flight from ${key}: at most ${cap} at once; close some streams or retry`,
            {},
            { "retry-after": "1" },
          ),
          started,
        );
      }
      inflight.set(key, n + 1);
      const release = () => {
        const left = (inflight.get(key) ?? 1) - 1;
        if (left <= 0) inflight.delete(key);
        else inflight.set(key, left);
      };
      held = release;
    }
    const res = app.fetch(req, env);
    if (held) {
      const release = held;
      const settle = (r: Response): Response => {
        // A stream (SSE) stays counted until its client goes; any other response is complete here.
        if (r.headers.get("content-type")?.startsWith("text/event-stream")) {
          info.completed.then(release, release);
        } else release();
        return finish(req, env, r, started);
      };
      return res instanceof Promise
        ? res.then(settle, (err) => {
          release();
          throw err;
        })
        : settle(res);
    }
    return res instanceof Promise
      ? res.then((r) => finish(req, env, r, started))
      : finish(req, env, res, started);
  };
}
