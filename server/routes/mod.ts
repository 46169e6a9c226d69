/**
 * The built-in route modules, in registration order. Later features (experiments, the dev cycle) add
 * their own {@link RouteModule} to the list passed to `createApp`/`startServer`.
 *
 * @module
 */

import type { RouteModule } from "../app.ts";
import { busRoutes } from "./bus.ts";
import { dashboardRoutes } from "./dashboard.ts";
import { devCycleRoutes } from "./dev_cycle.ts";
import { eventRoutes } from "./events.ts";
import { experimentRoutes } from "./experiments.ts";
import { healthRoutes } from "./health.ts";
import { knnRoutes } from "./knn.ts";
import { metricsRoutes } from "./metrics.ts";
import { rlRoutes } from "./rl.ts";
import { statusRoutes } from "./status.ts";
import { systemRoutes } from "./system.ts";
import { toolRoutes } from "./tools.ts";
import { traceRoutes } from "./trace.ts";

export {
  busRoutes,
  dashboardRoutes,
  eventRoutes,
  healthRoutes,
  metricsRoutes,
  rlRoutes,
  statusRoutes,
  systemRoutes,
};
export { knnRoutes, toolRoutes, traceRoutes };

/** Every built-in module. */
export const BUILTIN_ROUTES: RouteModule[] = [
  healthRoutes,
  metricsRoutes,
  statusRoutes,
  eventRoutes,
  toolRoutes,
  busRoutes,
  traceRoutes,
  systemRoutes,
  rlRoutes,
  knnRoutes,
  devCycleRoutes,
  experimentRoutes,
  dashboardRoutes,
];
