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
import { escapeRegExp } from "../core/regex.ts";
import { urlPath } from "../core/url_path.ts";
import { checkAdmin } from "./auth.ts";
import { HttpError } from "./http.ts";
import type { ServerState } from "./state.ts";

/** Per-request bindings: the client's address, Deno's `completed` promise, and the matched route pattern. */
export interface RequestBindings {
  remoteAddr?: Deno.Addr;
  completed?: Promise<void>;
  /** Set by the app to the registered path pattern that handled the request (metrics label). */
  route?: string;
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
    seg.startsWith(":") ? "[^/]+" : seg === "*" ? ".*" : escapeRegExp(seg)
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
      if (c.env) c.env.route = path;
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

/**
 * The request path without the query, kept short for the trace: as the client sent it (percent-encoding
 * kept), sliced from the URL the handler already holds instead of asking the router for its decoded copy.
 */
function tracePath(url: string): string {
  const path = urlPath(url);
  return path.length > 512 ? path.slice(0, 512) + "…" : path;
}

/**
 * The per-request bindings. `remoteAddr` and `completed` are getters because Deno builds them on access and
 * most routes never need them; they live on the class so each request allocates one small object (an
 * object literal with getters would build two closures and take V8's slow path on every request).
 *
 * Reading `completed` is how a route says its response outlives the handler (an event stream waits on it
 * to learn that its client left): {@link createHandler} then keeps the request counted against its client's
 * cap until `completed` settles.
 */
class LazyBindings implements RequestBindings {
  #info: Deno.ServeHandlerInfo;
  route?: string;
  /** True once a route read `completed`: the response streams on after the handler returns. */
  streams = false;
  constructor(info: Deno.ServeHandlerInfo) {
    this.#info = info;
  }
  get remoteAddr(): Deno.Addr {
    return this.#info.remoteAddr;
  }
  get completed(): Promise<void> {
    this.streams = true;
    return this.#info.completed;
  }
}

/**
 * Requests in flight per client, for the per-client cap. Only requests still in flight when the handler
 * returns are counted (a pending promise, or a stream until its client goes): a synchronous answer is
 * complete before any other request can run, so it never needs a slot. While fewer than `cap` requests are
 * counted in all, no client can be at its cap, so the common case reads neither the client's address nor
 * the map.
 */
class ClientSlots {
  readonly cap: number;
  #perClient = new Map<string, number>();
  #total = 0;
  constructor(cap: number) {
    this.cap = cap;
  }
  /** The client (by address) when it is at its cap, else null. */
  full(info: Deno.ServeHandlerInfo): string | null {
    if (this.#total < this.cap) return null;
    const key = clientKey(info);
    return (this.#perClient.get(key) ?? 0) >= this.cap ? key : null;
  }
  /** Counts one request of this client; the returned function releases it (once). */
  hold(info: Deno.ServeHandlerInfo): () => void {
    const key = clientKey(info);
    this.#perClient.set(key, (this.#perClient.get(key) ?? 0) + 1);
    this.#total++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#total--;
      const left = (this.#perClient.get(key) ?? 1) - 1;
      if (left <= 0) this.#perClient.delete(key);
      else this.#perClient.set(key, left);
    };
  }
}

function clientKey(info: Deno.ServeHandlerInfo): string {
  const addr = info.remoteAddr;
  return "hostname" in addr ? addr.hostname : "local";
}

/**
 * Wraps the app for `Deno.serve`: applies the browser protections (`server/browser_guard.ts`: Host
 * allow-list; JSON content type and same origin for every method but GET/HEAD/OPTIONS) and refuses
 * over-limit bodies by their Content-Length before routing, so every route, present or future, gets them;
 * caps the requests in flight per client; passes the connection info, and records every request in the
 * HTTP metrics and the debug trace. Kept outside the Hono middleware chain so a synchronous handler stays
 * synchronous: this path runs on every request, and a synchronous answer (`/health`) allocates nothing here
 * but its bindings.
 */
export function createHandler(
  state: ServerState,
  app: Hono<AppEnv>,
): (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> {
  const cors = state.browser.corsOrigins.size > 0;
  const slots = state.maxRequestsPerClient > 0 ? new ClientSlots(state.maxRequestsPerClient) : null;
  /** Whether the app sends `req` to a route's handler: Hono's own decision (its path decoding, its router). */
  const routed = (req: Request) => app.router.match(req.method, app.getPath(req))[0].length > 0;
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
    // Each getter of Request and Response checks its receiver's brand: read each value once.
    const method = req.method;
    const status = res.status;
    state.http.observe(env.route ?? "unmatched", method, status, ms / 1000);
    state.trace.add(Date.now() / 1000, method, tracePath(req.url), status, Math.round(ms * 1000) / 1000);
    return res;
  };
  return (req, info) => {
    const started = performance.now();
    const env = new LazyBindings(info);
    // Host allow-list, and Origin + JSON content type for state-changing methods: every route, before routing.
    let refusal = state.browser.check(req);
    if (refusal?.status === 415 && !routed(req)) {
      // No handler would run: the app's 404, or its 405 naming the methods to use, says more than "send JSON".
      refusal = null;
    }
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
    // Per-client cap on requests in flight (SSE streams and slow bodies included).
    const fullClient = slots?.full(info) ?? null;
    if (fullClient !== null) {
      env.route = "client_cap";
      return finish(
        req,
        env,
        errorResponse(
          503,
          `too many requests in flight from ${fullClient}: at most ${slots!.cap} at once; ` +
            "close some streams or retry",
          {},
          { "retry-after": "1" },
        ),
        started,
      );
    }
    const res = app.fetch(req, env);
    if (res instanceof Promise) {
      // Still in flight: counted until it answers, and for a stream until its client goes.
      const release = slots?.hold(info);
      return res.then((r) => {
        if (release) {
          if (env.streams) info.completed.then(release, release);
          else release();
        }
        return finish(req, env, r, started);
      }, (err) => {
        release?.();
        throw err;
      });
    }
    if (env.streams && slots) {
      const release = slots.hold(info);
      info.completed.then(release, release);
    }
    return finish(req, env, res, started);
  };
}
