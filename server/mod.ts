/**
 * The status server and web dashboard: a Hono app on `Deno.serve` with `/health`, Prometheus and JSON
 * `/metrics`, `/api/status`, agent events (paged and live SSE with `Last-Event-ID`), tool stats, bus and
 * dead-letter routes, the debug trace, system/guard/resources routes, RL curves, and the dashboard pages.
 * Start it with {@link startServer}; `dspy-code up` runs it with a bus via {@link runUp}. New features plug
 * in as {@link RouteModule}s passed in `routes`.
 *
 * @example
 * ```ts
 * const server = await startServer({ workspace: "/path/to/project", port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT
 * await server.shutdown();
 * ```
 *
 * @module
 */

export {
  type AppContext,
  type AppEnv,
  createApp,
  type Handler,
  type RouteModule,
  type RouteOptions,
  type Routes,
} from "./app.ts";
export { checkAdmin, isLoopback, safeEqual } from "./auth.ts";
export { type DlqSelector, fromBus, type ServerBus } from "./bus_adapter.ts";
export { HttpError, intParam, numberParam, readJsonBody, readJsonObject } from "./http.ts";
export { BUILTIN_ROUTES } from "./routes/mod.ts";
export { type ComponentStatus, componentStatus } from "./routes/status.ts";
export { formatSse, type SseEvent, sseResponse, type SseSink } from "./sse.ts";
export {
  DEFAULT_HOST,
  DEFAULT_PORT,
  type ServerHandle,
  startServer,
  type StartServerOptions,
} from "./server.ts";
export type { ServerState } from "./state.ts";
export { type RunLog, runQuickstart, runUp, type RunUpOptions, type UpListening } from "./run.ts";
export { type TraceRecord } from "./trace.ts";
