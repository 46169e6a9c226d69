/**
 * What every browser test launches: Debian's chromium (or `CHROMIUM_PATH`) and the flags that keep it
 * headless, unsandboxed as root, and off the network (this machine refuses background connections).
 *
 * @module
 */

/** The chromium executable the browser tests drive through playwright-core. */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Launch flags shared by every browser test; a test appends its own (host rules, features) after them. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
