/**
 * The path of a request URL, sliced from the URL string. A server's per-request code needs it on every
 * request; `new URL(...)` parses and normalises the whole URL to get it, which costs more than the rest of a
 * small handler. The path comes back as the client sent it (percent-encoding kept, no dot-segment removal).
 *
 * @module
 */

/** Index of the `/` that starts the path of an absolute URL (`http://host:port/...`), or -1 when it has none. */
export function urlPathStart(url: string): number {
  return url.indexOf("/", url.indexOf("//") + 2);
}

/**
 * The path of an absolute URL without its query: `http://h:1/a/b?x=1` → `/a/b`; `/` when it has no path.
 *
 * @example
 * ```ts
 * urlPath("http://127.0.0.1:8765/api/status?x=1"); // "/api/status"
 * ```
 */
export function urlPath(url: string): string {
  const start = urlPathStart(url);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}
