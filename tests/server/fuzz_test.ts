/**
 * Randomised malformed requests (seeded, reproducible): bad JSON, wrong types, huge bodies, invalid UTF-8,
 * odd paths, encodings, methods and headers, over fetch and raw TCP. Every request must get an HTTP status
 * line in time: a 5xx, a dropped connection or a timeout fails the test, and the server must still answer
 * `/health` afterwards.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { createRng } from "../../learning/mod.ts";
import { withServer } from "./helpers.ts";

const GET_ROUTES = [
  "/health",
  "/metrics",
  "/api/status",
  "/api/events",
  "/api/tools/stats",
  "/api/bus",
  "/api/dlq",
  "/api/debug/trace",
  "/api/system/workspace",
  "/api/system/guard",
  "/api/system/resources",
  "/api/rl/runs",
  "/api/rl/runs/r1",
  "/",
  "/static/app.js",
];
const SSE_ROUTES = ["/api/events/stream", "/api/debug/trace/stream"];
const POST_ROUTES = [
  "/api/debug/trace",
  "/api/system/guard",
  "/api/system/workspace",
  "/api/dlq/replay",
  "/api/dlq/purge",
];
const PARAMS = [
  "limit",
  "since",
  "stream",
  "name",
  "after",
  "replay",
  "max",
  "format",
  "window",
  "recent",
  "backlog",
  "last_id",
  "topic",
];

/** Requests per section: GETs over fetch, bodies over fetch, raw TCP. */
const FETCH_GETS = 450;
const FETCH_BODIES = 450;
const RAW_TCP = 320;
/** How long one request may take before it counts as a hang. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Stop sending after this many failures: a hanging server would otherwise take minutes to fail. */
const MAX_FAILURES = 5;

/** Reads from `conn` until the first line (the status line) is complete, the peer closes, or time runs out. */
async function readStatusLine(conn: Deno.Conn, timeoutMs: number): Promise<string | "timeout" | "closed"> {
  const dec = new TextDecoder();
  const buf = new Uint8Array(512);
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
  try {
    while (!text.includes("\r\n")) {
      const n = await Promise.race([conn.read(buf), timedOut]);
      if (n === "timeout") return "timeout";
      if (n === null) return text === "" ? "closed" : text;
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    return text.split("\r\n")[0];
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("1,200 randomised malformed requests: each answered in time, no 5xx, no crash", async () => {
  const rand = createRng(20261125);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const junkString = (): string => {
    const kinds = [
      () => "",
      () => String(Math.floor(rand() * 1e6) - 5e5),
      () => (rand() * 1e20).toExponential(),
      () => "NaN",
      () => "-1",
      () => "1e309",
      () => "%",
      () => "%zz",
      () => "%ff%fe",
      () => "\u0000\u0001",
      () => "😀".repeat(1 + Math.floor(rand() * 50)),
      () => "a".repeat(Math.floor(rand() * 5000)),
      () => "../../etc/passwd",
      () => "agent.metrics",
      () => "all",
      () => "json",
      () => "1:2:3",
      () => "99999999999999999999",
      () => "' OR 1=1 --",
      () => "<script>alert(1)</script>",
    ];
    return pick(kinds)();
  };
  const junkValue = (depth = 0): unknown => {
    const r = rand();
    if (r < 0.15) return junkString();
    if (r < 0.3) return rand() * 1e12 - 5e11;
    if (r < 0.4) return null;
    if (r < 0.5) return rand() < 0.5;
    if (r < 0.6 && depth < 4) {
      return Array.from({ length: Math.floor(rand() * 5) }, () => junkValue(depth + 1));
    }
    if (depth < 4) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < rand() * 5; i++) {
        o[
          pick([
            "clear",
            "path",
            "min_free_gb",
            "min_ram_gb",
            "min_vram_mb",
            "ids",
            "topic",
            "all",
            junkString(),
          ])
        ] = junkValue(depth + 1);
      }
      return o;
    }
    return -0;
  };
  const junkBody = (): BodyInit => {
    const r = rand();
    if (r < 0.35) return JSON.stringify(junkValue());
    if (r < 0.5) return JSON.stringify(junkValue()).slice(0, Math.floor(rand() * 20)); // truncated JSON
    if (r < 0.6) return new Uint8Array(Array.from({ length: 64 }, () => Math.floor(rand() * 256))); // not UTF-8
    if (r < 0.7) return "x".repeat(4096 + Math.floor(rand() * 20000)); // over the limit
    if (r < 0.8) return JSON.stringify({ path: pick(["/nonexistent/" + junkString(), "", 5, null]) });
    if (r < 0.9) return JSON.stringify({ min_free_gb: pick([-1, "abc", [], {}, 1e308, "0x10"]) });
    return "";
  };

  await withServer({ bodyLimit: 4096, withBus: true }, async (s) => {
    const dir = join(s.workspace, ".dspy", "rl", "runs", "r1");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"step":1,"loss":0.5}\n{"step":\n[1]\n');
    let answered = 0;
    const failures: string[] = [];
    const check = (what: string, status: number) => {
      answered++;
      if (status >= 500) failures.push(`${status} ${what}`);
    };
    /** A request that throws (connection reset, refused) or takes too long is a failure, never a pass. */
    const lost = (what: string, err: unknown) => {
      const reason = err instanceof DOMException && err.name === "TimeoutError"
        ? `no answer within ${REQUEST_TIMEOUT_MS} ms`
        : `connection failed: ${err instanceof Error ? err.message : String(err)}`;
      failures.push(`${reason}: ${what}`);
    };

    // 1) fetch: GET routes with junk query strings and headers.
    for (let i = 0; i < FETCH_GETS; i++) {
      if (failures.length >= MAX_FAILURES) break;
      const route = pick([...GET_ROUTES, ...SSE_ROUTES]);
      const q = new URLSearchParams();
      for (let j = 0; j < rand() * 4; j++) q.set(pick(PARAMS), junkString());
      const headers: Record<string, string> = {};
      if (rand() < 0.3) headers["last-event-id"] = junkString().replace(/[^\x20-\x7e]/g, "");
      if (rand() < 0.3) headers["accept"] = pick(["application/json", "*/*", "text/event-stream", "x/y"]);
      const url = `${s.url}${route}?${q}`;
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await res.body?.cancel();
        check(`GET ${url.slice(0, 200)}`, res.status);
      } catch (err) {
        lost(`GET ${url.slice(0, 200)}`, err);
      }
    }
    // 2) fetch: POST routes with junk bodies (admin from loopback is allowed: the parsers get exercised).
    for (let i = 0; i < FETCH_BODIES; i++) {
      if (failures.length >= MAX_FAILURES) break;
      const route = pick([...POST_ROUTES, ...GET_ROUTES]);
      const method = pick(["POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
      const init: RequestInit = {
        method,
        body: junkBody(),
        headers: {
          "content-type": pick(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
        },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      };
      try {
        const res = await fetch(`${s.url}${route}`, init);
        await res.body?.cancel();
        check(`${method} ${route}`, res.status);
      } catch (err) {
        lost(`${method} ${route}`, err);
      }
    }
    // 3) raw TCP: odd request targets, encodings, methods and headers that fetch would normalise away.
    const targets = [
      "/%",
      "/%zz",
      "/api/events?limit=%ff",
      "/api/rl/runs/%2e%2e",
      "/api/rl/runs/..%2F..%2Fetc%2Fpasswd",
      "/static/%2e%2e%2fapp.js",
      "//health",
      "/health/",
      "/./health",
      "/api//events",
      "/api/events?stream=%00",
      "/api/events?name=%C0%AF",
      "/" + "a".repeat(6000),
      "/api/events?" + "x=1&".repeat(500),
      "/\u00e9",
      "/api/events/stream?last_id=18446744073709551616",
      "*",
      "http://evil.example/health",
    ];
    const enc = new TextEncoder();
    for (let i = 0; i < RAW_TCP; i++) {
      if (failures.length >= MAX_FAILURES) break;
      const method = pick(["GET", "GET", "POST", "HEAD", "FOO", "DELETE"]);
      const target = pick(targets) +
        (rand() < 0.3 ? "?q=" + encodeURIComponent(junkString()).slice(0, 200) : "");
      const extra = pick([
        "",
        "Content-Length: abc\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: 99999999999\r\n",
        "Transfer-Encoding: chunked\r\n",
        "X-Admin-Key: \r\n",
        "Last-Event-ID: \u00ff\u00fe\r\n",
        "Accept: application/json\r\n",
      ]);
      const body = method === "POST" && !extra.includes("Length") && !extra.includes("chunked")
        ? `{"clear":${pick(["true", "1", "[", "null"])}}`
        : "";
      const head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}` +
        (body ? `Content-Length: ${enc.encode(body).length}\r\n` : "") + "\r\n";
      const what = `${method} ${target.slice(0, 80)} ${extra.trim()}`;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      try {
        await conn.write(enc.encode(head + body));
        const line = await readStatusLine(conn, REQUEST_TIMEOUT_MS);
        const m = /^HTTP\/1\.[01] (\d{3}) /.exec(line);
        if (m) check(what, Number(m[1]));
        else if (line === "timeout") failures.push(`no status line within ${REQUEST_TIMEOUT_MS} ms: ${what}`);
        else if (line === "closed") failures.push(`connection closed without a status line: ${what}`);
        else failures.push(`not an HTTP status line (${JSON.stringify(line.slice(0, 80))}): ${what}`);
      } catch (err) {
        lost(what, err);
      } finally {
        conn.close();
      }
    }
    assert.deepEqual(failures, []);
    assert.equal(answered, FETCH_GETS + FETCH_BODIES + RAW_TCP, "every request must be answered");
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });
});
