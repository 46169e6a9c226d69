/**
 * The web dashboard: one HTML shell for the pages (`/`, `/bus`, `/tools`, `/rl`, `/events`,
 * `/experiments`) and its static
 * assets (our script and stylesheet, and uPlot from its npm package). The files are imported as text, so
 * they are part of the module graph and ship inside the compiled binary; nothing is read from disk at
 * request time and no path a client sends reaches the file system.
 *
 * @module
 */

import html from "../dashboard/index.html" with { type: "text" };
import appJs from "../dashboard/app.js" with { type: "text" };
import styleCss from "../dashboard/style.css" with { type: "text" };
import experimentsJs from "../dashboard/experiments.js" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import type { RouteModule } from "../app.ts";

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const ASSETS: Record<string, { body: string; type: string }> = {
  "app.js": { body: appJs, type: "text/javascript; charset=utf-8" },
  "style.css": { body: styleCss, type: "text/css; charset=utf-8" },
  "experiments.js": { body: experimentsJs, type: "text/javascript; charset=utf-8" },
  "uplot.js": { body: uplotJs, type: "text/javascript; charset=utf-8" },
  "uplot.css": { body: uplotCss, type: "text/css; charset=utf-8" },
};

/** Dashboard page paths. */
export const DASHBOARD_PAGES = ["/", "/bus", "/tools", "/rl", "/events", "/experiments"];

/** The dashboard routes. */
export const dashboardRoutes: RouteModule = {
  name: "dashboard",
  register(routes) {
    for (const path of DASHBOARD_PAGES) {
      routes.get(path, (c) =>
        c.body(html, 200, {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": CSP,
          "cache-control": "no-cache",
          "referrer-policy": "no-referrer",
          "x-content-type-options": "nosniff",
        }));
    }
    routes.get("/static/:name", (c) => {
      const name = c.req.param("name") ?? "";
      const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!asset) return c.json({ error: `no static asset ${name.slice(0, 100)}`, status: 404 }, 404);
      return c.body(asset.body, 200, {
        "content-type": asset.type,
        "cache-control": "public, max-age=300",
        "x-content-type-options": "nosniff",
      });
    });
  },
};
