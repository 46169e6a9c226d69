/**
 * The hostile-request fuzzer (issue #16): seeded random requests over raw TCP — every route, every method,
 * foreign and missing Hosts and Origins, wrong and missing content types, junk and truncated bodies, bodies
 * shorter or longer than their Content-Length, odd targets and encodings, oversized ids and topics. Every
 * request must get an HTTP response with a status below 500. A dropped connection (closed without a
 * response) or no answer within the timeout **counts as a failure**, like a 5xx. Afterwards no admin state
 * may have changed through a refused request, and `/health` still answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createRng } from "../../agent/mod.ts";
import { withServer } from "../server/helpers.ts";
import { buildRequest, rawRequest } from "./raw_http.ts";

const ROUTES = [
  "/health",
  "/metrics",
  "/metrics?format=json",
  "/api/status",
  "/api/events",
  "/api/tools",
  "/api/bus",
  "/api/dlq",
  "/api/dlq/replay",
  "/api/dlq/purge",
  "/api/debug/trace",
  "/api/system/workspace",
  "/api/system/guard",
  "/api/system/resources",
  "/api/rl/runs",
  "/api/rl/runs/r1",
  "/",
  "/static/app.js",
  "/nope",
];
const METHODS = ["GET", "GET", "HEAD", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
const TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "application/x-www-form-urlencoded",
  "",
];

Deno.test("hostile fuzzer: every request gets a <500 answer; drops and timeouts fail", async () => {
  const next = createRng(16);
  const rng = { next };
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.next() * xs.length)];
  const long = (n: number) => "x".repeat(n);
  await withServer({ withBus: true, bodyTimeoutMs: 300, maxRequestsPerClient: 10_000 }, async (s) => {
    const goodHost = `127.0.0.1:${s.port}`;
    const hosts = [
      goodHost,
      goodHost,
      goodHost,
      `localhost:${s.port}`,
      "evil.example",
      `evil.example:${s.port}`,
      "",
    ];
    const bodies = () =>
      pick([
        "",
        "{}",
        "{",
        "null",
        "[]",
        '{"clear": true}',
        '{"path": "/nonexistent/../../"}',
        `{"path": "${long(5000)}"}`,
        '{"min_free_gb": -1}',
        '{"min_free_gb": 0, "min_ram_gb": 0, "min_vram_mb": 0}',
        `{"ids": ["${long(5000)}"]}`,
        `{"topic": "${long(5000)}"}`,
        '{"ids": [1, 2, {}]}',
        '{"all": "yes"}',
        "\u0000\u0001\u0002",
        "\xff\xfe",
        JSON.stringify({ ids: Array.from({ length: 2000 }, (_, i) => `id-${i}`) }),
      ]);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let count = 0;
    for (let i = 0; i < 600; i++) {
      const method = pick(METHODS);
      const route = pick(ROUTES);
      const headers: Record<string, string> = {};
      const host = pick(hosts);
      if (host) headers.host = host;
      const type = pick(TYPES);
      if (type) headers["content-type"] = type;
      if (rng.next() < 0.3) headers.origin = pick([`http://${goodHost}`, "http://evil.example", "null"]);
      if (rng.next() < 0.1) headers["x-junk"] = long(4000);
      const body = method === "GET" || method === "HEAD" ? "" : bodies();
      const bytes = new TextEncoder().encode(body).byteLength;
      // Mostly honest lengths; sometimes shorter bodies (client closes its side) or a lying length.
      const mode = rng.next();
      let closeWrite = false;
      if (mode < 0.7) headers["content-length"] = String(bytes);
      else if (mode < 0.85) {
        headers["content-length"] = String(bytes + 1 + Math.floor(rng.next() * 100));
        closeWrite = true;
      } else if (mode < 0.95) headers["content-length"] = String(bytes + 50); // stalls: 408 expected
      else headers["transfer-encoding"] = "chunked";
      const payload = headers["transfer-encoding"] ? `${bytes.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
      const req = buildRequest(method, route, headers, payload);
      const r = await rawRequest(s.port, req, { closeWrite, timeoutMs: 5000 });
      count++;
      statuses.set(
        r.kind === "response" ? r.status : 0,
        (statuses.get(r.kind === "response" ? r.status : 0) ?? 0) + 1,
      );
      const label = `${method} ${route} host=${host || "-"} type=${type || "-"} len=${
        headers["content-length"] ?? "chunked"
      }`;
      if (r.kind !== "response") {
        failures.push(`${label}: ${r.kind}${r.kind === "dropped" ? ` (${r.detail})` : ""}`);
      } else if (r.status >= 500) failures.push(`${label}: ${r.status} ${r.body.slice(0, 200)}`);
      else if (/\bat \S+:\d+:\d+/.test(r.body)) failures.push(`${label}: stack trace in the body`);
    }
    // Then every body on every POST route from a legitimate client, so the parsers behind the guard run.
    for (
      const route of [
        "/api/dlq/replay",
        "/api/dlq/purge",
        "/api/debug/trace",
        "/api/system/guard",
        "/api/system/workspace",
      ]
    ) {
      for (let j = 0; j < 17; j++) {
        const body = bodies();
        const req = buildRequest("POST", route, {
          host: goodHost,
          "content-type": "application/json",
          "content-length": String(new TextEncoder().encode(body).byteLength),
        }, body);
        const r = await rawRequest(s.port, req, { timeoutMs: 5000 });
        count++;
        statuses.set(
          r.kind === "response" ? r.status : 0,
          (statuses.get(r.kind === "response" ? r.status : 0) ?? 0) + 1,
        );
        if (r.kind !== "response") failures.push(`POST ${route} ${body.slice(0, 40)}: ${r.kind}`);
        else if (r.status >= 500) {
          failures.push(`POST ${route} ${body.slice(0, 40)}: ${r.status} ${r.body.slice(0, 200)}`);
        }
      }
    }
    if (Deno.env.get("DSPY_FUZZ_VERBOSE")) console.log(Object.fromEntries(statuses));
    assert.equal(count, 600 + 5 * 17);
    assert.deepEqual(failures, [], `${failures.length} of ${count} failed`);
    // A refused request changed nothing: the workspace is still the home one.
    assert.equal(s.state.workspace, s.workspace);
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });
});
