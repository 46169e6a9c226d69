/**
 * Browser protections for the status server, applied to every request before routing (so every route,
 * present or future, gets them without opting in):
 *
 * - **Host allow-list** (against DNS rebinding): the host the request is addressed to must name the server —
 *   a loopback name (`127.0.0.1`, `localhost`, `[::1]`) or the address it is bound to, with the server's port
 *   (the port may be left out only when it is 80) — or an IP literal when the server is bound to a wildcard
 *   address (`0.0.0.0`, `::`), or a host the user allowed (`--allowed-host`, `DSPY_ALLOWED_HOSTS`). A
 *   DNS-rebinding page reaches 127.0.0.1 under its own host name, so its requests are refused here (403),
 *   reads included. The host is read from the authority of the request URL, which Deno builds from the
 *   `Host` header (or from the request line's own authority in absolute form, which RFC 9112 §3.2.2 says
 *   wins over `Host`); a request with no `Host` at all gets Deno's own `localhost:<port>`. A browser always
 *   sends `Host`, and the URL is read on every request anyway, so this costs no header lookup.
 * - **State-changing requests** (every method except GET, HEAD and OPTIONS) need
 *   `Content-Type: application/json` (415 otherwise; a cross-site page can send `text/plain`, form or
 *   empty bodies without a preflight, but not JSON), and when an `Origin` header is present it must be the
 *   server's own origin (`http(s)://<Host>`) or a configured CORS origin (403 otherwise, `Origin: null`
 *   included).
 * - **No CORS** unless origins are configured (`--allowed-origin`, `DSPY_ALLOWED_ORIGINS`): then those exact
 *   origins get `Access-Control-Allow-Origin` and preflights (`OPTIONS`) are answered.
 *
 * A route that must accept a non-JSON state-changing request (none today) can be listed in
 * {@link BrowserGuardOptions.contentTypeExempt}; it still gets the Host and Origin checks.
 *
 * @module
 */

import { urlPathStart } from "../core/url_path.ts";

/** Configuration of {@link BrowserGuard}. */
export interface BrowserGuardOptions {
  /**
   * Extra allowed `Host` values: `name` (any port) or `name:port`; `*` turns the Host check off (only
   * behind a reverse proxy that checks it). Default: `DSPY_ALLOWED_HOSTS` (comma-separated).
   */
  allowedHosts?: string[];
  /**
   * Origins allowed cross-origin (CORS), exactly as a browser sends them (`https://ui.example:8443`).
   * Default: `DSPY_ALLOWED_ORIGINS` (comma-separated). Empty: no CORS headers are ever sent.
   */
  allowedOrigins?: string[];
  /** Paths whose state-changing requests need not be JSON (still Host- and Origin-checked). */
  contentTypeExempt?: string[];
}

/** Why a request was refused: the status and a message that says what to do. */
export interface GuardRefusal {
  status: number;
  message: string;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

function listFromEnv(name: string): string[] {
  const raw = Deno.env.get(name);
  return raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

/** Splits `host[:port]` (IPv6 in brackets) into a lower-cased name and a port (or null). */
export function splitHost(value: string): { name: string; port: string | null } | null {
  const v = value.trim().toLowerCase();
  if (!v || v.length > 300) return null;
  const m = v.startsWith("[")
    ? /^(\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/.exec(v)
    : /^([^:\[\]\/@\s]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) return null;
  return { name: m[1], port: m[2] ?? null };
}

/** The authority (`host[:port]`) of an absolute URL as Deno builds it: between `//` and the next `/`. */
function urlAuthority(url: string): string {
  const end = urlPathStart(url);
  return url.slice(url.indexOf("//") + 2, end === -1 ? url.length : end);
}

function isIpLiteral(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || /^\[[0-9a-f:.]+\]$/.test(name);
}

function bracket(hostname: string): string {
  const h = hostname.toLowerCase();
  return h.includes(":") && !h.startsWith("[") ? `[${h}]` : h;
}

/**
 * The request filter one server owns. Created with the configuration, then told the bound address with
 * {@link BrowserGuard.bind} once the server listens (the port is only known then when it was 0).
 */
export class BrowserGuard {
  #hosts = new Set<string>();
  #anyPortNames = new Set<string>();
  #anyHost = false;
  #wildcard = false;
  #port = "";
  #origins: Set<string>;
  #exempt: Set<string>;
  /**
   * Verdicts by raw Host header (a client sends the same one on every request, so the parse runs once).
   * Bounded: cleared when full, so hostile Host values cannot grow it.
   */
  #hostVerdicts = new Map<string, boolean>();
  /** `scheme://authority/` of the last request whose host was allowed (never matches before one is). */
  #allowedPrefix = "\0";

  constructor(options: BrowserGuardOptions = {}) {
    const hosts = options.allowedHosts ?? listFromEnv("DSPY_ALLOWED_HOSTS");
    for (const h of hosts) {
      if (h === "*") {
        this.#anyHost = true;
        continue;
      }
      const parsed = splitHost(h);
      if (!parsed) throw new TypeError(`allowed host '${h}' is not a host name or host:port`);
      if (parsed.port) this.#hosts.add(`${parsed.name}:${Number(parsed.port)}`);
      else this.#anyPortNames.add(parsed.name);
    }
    const origins = options.allowedOrigins ?? listFromEnv("DSPY_ALLOWED_ORIGINS");
    for (const o of origins) {
      if (!/^https?:\/\/[^\/\s]+$/i.test(o)) {
        throw new TypeError(`allowed origin '${o}' must look like http://host:port (no path)`);
      }
    }
    this.#origins = new Set(origins.map((o) => o.toLowerCase()));
    this.#exempt = new Set(options.contentTypeExempt ?? []);
  }

  /** Records the address the server listens on (call once, from `onListen`). */
  bind(addr: { hostname: string; port: number }): void {
    this.#port = String(addr.port);
    this.#hostVerdicts.clear();
    this.#allowedPrefix = "\0";
    const name = bracket(addr.hostname);
    this.#wildcard = name === "0.0.0.0" || name === "[::]";
    for (const n of [...LOOPBACK_NAMES, name]) this.#hosts.add(`${n}:${addr.port}`);
  }

  /** Origins configured for CORS (lower-cased). */
  get corsOrigins(): ReadonlySet<string> {
    return this.#origins;
  }

  /** True when `host` (the request URL's authority, `name[:port]`) names this server. */
  hostAllowed(host: string): boolean {
    if (this.#anyHost) return true;
    let verdict = this.#hostVerdicts.get(host);
    if (verdict === undefined) {
      verdict = this.#judgeHost(host);
      if (this.#hostVerdicts.size >= 256) this.#hostVerdicts.clear();
      this.#hostVerdicts.set(host, verdict);
    }
    return verdict;
  }

  #judgeHost(host: string): boolean {
    const parsed = splitHost(host);
    if (!parsed) return false;
    const port = parsed.port === null ? "80" : String(Number(parsed.port));
    if (this.#anyPortNames.has(parsed.name) || this.#hosts.has(`${parsed.name}:${port}`)) return true;
    return port === this.#port && this.#wildcard && isIpLiteral(parsed.name);
  }

  /**
   * Checks one request; returns null when it may proceed, else the refusal.
   */
  check(req: Request): GuardRefusal | null {
    const url = req.url;
    // Most requests start with the URL prefix of the last allowed host: one string compare, no parse.
    if (!this.#anyHost && !url.startsWith(this.#allowedPrefix)) {
      const authority = urlAuthority(url);
      if (!this.hostAllowed(authority)) {
        return {
          status: 403,
          message: `Host '${authority.slice(0, 100)}' is not this server's address: use ` +
            `http://127.0.0.1:${this.#port}/ or allow the name with --allowed-host NAME ` +
            `(or DSPY_ALLOWED_HOSTS)`,
        };
      }
      this.#allowedPrefix = url.slice(0, urlPathStart(url) + 1);
    }
    const method = req.method;
    if (SAFE_METHODS.has(method)) return null;
    const host = urlAuthority(url);
    const origin = req.headers.get("origin");
    if (origin !== null && !this.originAllowed(origin, host)) {
      return {
        status: 403,
        message: `cross-origin ${method} refused: Origin '${origin.slice(0, 100)}' is not this server; ` +
          `allow it with --allowed-origin ORIGIN (or DSPY_ALLOWED_ORIGINS)`,
      };
    }
    if (this.#exempt.size === 0 || !this.#exempt.has(new URL(req.url).pathname)) {
      const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/json") {
        return {
          status: 415,
          message: `${method} requests need 'Content-Type: application/json' with a JSON body` +
            (type ? `, got '${type.slice(0, 100)}'` : ""),
        };
      }
    }
    return null;
  }

  /** True when `origin` is the server's own (as named by `host`) or a configured CORS origin. */
  originAllowed(origin: string, host: string): boolean {
    const o = origin.toLowerCase();
    if (this.#origins.has(o)) return true;
    const h = host.toLowerCase();
    return o === `http://${h}` || o === `https://${h}`;
  }

  /**
   * The CORS headers for a response to `origin`, or null when that origin is not configured (then none
   * are sent).
   */
  corsHeaders(origin: string | null): Record<string, string> | null {
    if (origin === null || !this.#origins.has(origin.toLowerCase())) return null;
    return {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, HEAD, POST, PUT, DELETE",
      "access-control-allow-headers": "content-type, x-admin-key, last-event-id",
      "access-control-max-age": "600",
      vary: "Origin",
    };
  }
}
