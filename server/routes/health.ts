/**
 * `GET /health`: liveness, version and uptime.
 *
 * @module
 */

import { VERSION } from "../../core/version.ts";
import type { RouteModule } from "../app.ts";

/** The health route. */
export const healthRoutes: RouteModule = {
  name: "health",
  register(routes, state) {
    // The hottest route (load balancers, probes): a plain Response.json, nothing else.
    routes.get("/health", () =>
      Response.json({
        status: "ok",
        version: VERSION,
        uptime_s: Math.round((Date.now() - state.startedAt) / 10) / 100,
      }));
  },
};
