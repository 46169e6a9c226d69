/**
 * The browser protections over real HTTP (raw TCP, so Host and Origin are exactly what a hostile page or a
 * DNS-rebinding name would send): Host allow-list on every route, JSON content type and same origin for
 * state-changing requests, no CORS unless configured, and configured hosts/origins work.
 *
 * @module
 */

import assert from "node:assert/strict";
import { withServer } from "../server/helpers.ts";
import { buildRequest, rawRequest } from "./raw_http.ts";

async function statusOf(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string>,
  body = "",
) {
  const r = await rawRequest(
    port,
    buildRequest(method, target, { ...headers, "content-length": String(body.length) }, body),
  );
  assert.equal(r.kind, "response", `${method} ${target}: ${JSON.stringify(r)}`);
  return r as { status: number; head: string; body: string };
}

Deno.test("Host allow-list: loopback names and the bound address with the port pass; rebinding names are 403", async () => {
  await withServer({}, async (s) => {
    const p = s.port;
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `[::1]:${p}`]) {
      assert.equal((await statusOf(p, "GET", "/health", { host })).status, 200, host);
    }
    for (
      const host of [
        "evil.example",
        `evil.example:${p}`,
        `127.0.0.1:${p + 1}`,
        "127.0.0.1",
        `localhost.evil.example:${p}`,
        `127.0.0.1.nip.io:${p}`,
        `a@127.0.0.1:${p}`,
      ]
    ) {
      for (
        const [method, target] of [["GET", "/api/system/workspace"], ["GET", "/"], ["GET", "/api/events"]]
      ) {
        const r = await statusOf(p, method, target, { host });
        assert.equal(r.status, 403, `${method} ${target} Host '${host}'`);
        assert.match(r.body, /--allowed-host/);
      }
    }
    // An absolute-form request line names its own host, which wins over Host (RFC 9112 §3.2.2): judged by it.
    assert.equal(
      (await statusOf(p, "GET", "http://evil.example/health", { host: `127.0.0.1:${p}` })).status,
      403,
    );
    // No Host, or an empty one (no browser sends either): Deno addresses the request to localhost:<port>.
    assert.equal((await statusOf(p, "GET", "/health", { host: "" })).status, 200);
    // The verdict for the last allowed host is remembered by URL prefix: a refused host after it is still refused.
    assert.equal((await statusOf(p, "GET", "/health", { host: `127.0.0.1:${p}` })).status, 200);
    assert.equal((await statusOf(p, "GET", "/health", { host: `127.0.0.1:${p}0` })).status, 403);
    // The probe: rebinding host + foreign origin + text/plain JSON on admin routes.
    for (const path of ["/api/debug/trace", "/api/system/guard"]) {
      const r = await statusOf(p, "POST", path, {
        host: "evil.example",
        origin: "http://evil.example",
        "content-type": "text/plain",
      }, '{"clear":true,"min_free_gb":99999}');
      assert.equal(r.status, 403, path);
    }
    const kv = await s.state.kv();
    assert.equal((await kv.get(["guard", "thresholds"])).value, null, "thresholds must not have been saved");
  });
});

Deno.test("state-changing requests need application/json and a same-origin Origin; no CORS headers by default", async () => {
  await withServer({}, async (s) => {
    const p = s.port;
    const host = `127.0.0.1:${p}`;
    const body = '{"min_free_gb":0,"min_ram_gb":0,"min_vram_mb":0}';
    // Content types a cross-site page can send without a preflight, and none at all.
    for (
      const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
    ) {
      const headers: Record<string, string> = { host };
      if (type) headers["content-type"] = type;
      const r = await statusOf(p, "POST", "/api/system/guard", headers, body);
      assert.equal(r.status, 415, `content-type '${type}'`);
      assert.match(r.body, /application\/json/);
    }
    for (
      const origin of ["http://evil.example", `http://localhost:${p}`, `http://127.0.0.1:${p + 1}`, "null"]
    ) {
      const r = await statusOf(p, "POST", "/api/system/guard", {
        host,
        origin,
        "content-type": "application/json",
      }, body);
      assert.equal(r.status, 403, origin);
      assert.doesNotMatch(r.head, /access-control-allow/i);
    }
    // Same origin, JSON: the dashboard's request.
    const ok = await statusOf(p, "POST", "/api/system/guard", {
      host,
      origin: `http://${host}`,
      "content-type": "application/json; charset=utf-8",
    }, body);
    assert.equal(ok.status, 200);
    // No Origin (curl, the CLI): JSON is enough.
    assert.equal(
      (await statusOf(p, "POST", "/api/system/guard", { host, "content-type": "application/json" }, body))
        .status,
      200,
    );
    // Every non-GET method a route takes is covered (a route added later gets it for free: the check runs
    // before routing, against the live routes), and the route is found as Hono finds it: a percent-encoded
    // path to a real route is still refused.
    for (const path of ["/api/experiments/schedules", "/api/experiments/%73chedules"]) {
      const r = await statusOf(p, "DELETE", path, { host, "content-type": "text/plain" }, "{}");
      assert.equal(r.status, 415, path);
    }
    // A method no route takes on that path is told what to use (405 with Allow), not to send JSON; a path no
    // route has is a 404. No handler runs for either.
    for (const method of ["PUT", "DELETE", "PATCH"]) {
      const wrong = await statusOf(p, method, "/health", { host, "content-type": "text/plain" }, "{}");
      assert.equal(wrong.status, 405, method);
      assert.match(wrong.head, /allow: GET, HEAD/i);
      const missing = await statusOf(p, method, "/api/no-such-route", { host }, "{}");
      assert.equal(missing.status, 404, method);
    }
    // No CORS: a preflight gets no allow headers; reads carry none either.
    const pre = await statusOf(p, "OPTIONS", "/api/system/guard", {
      host,
      origin: "http://evil.example",
      "access-control-request-method": "POST",
    });
    assert.doesNotMatch(pre.head, /access-control-allow/i);
    const get = await statusOf(p, "GET", "/api/system/guard", { host, origin: "http://evil.example" });
    assert.equal(get.status, 200);
    assert.doesNotMatch(get.head, /access-control-allow/i);
  });
});

Deno.test("configured hosts and CORS origins are accepted, and only those", async () => {
  await withServer(
    { allowedHosts: ["dspy.lan", "box.lan:1"], allowedOrigins: ["http://ui.example:3000"] },
    async (s) => {
      const p = s.port;
      assert.equal((await statusOf(p, "GET", "/health", { host: `dspy.lan:${p}` })).status, 200);
      assert.equal((await statusOf(p, "GET", "/health", { host: "dspy.lan" })).status, 200);
      assert.equal((await statusOf(p, "GET", "/health", { host: "box.lan:1" })).status, 200);
      assert.equal((await statusOf(p, "GET", "/health", { host: `box.lan:${p}` })).status, 403);
      const host = `127.0.0.1:${p}`;
      const pre = await statusOf(p, "OPTIONS", "/api/system/guard", {
        host,
        origin: "http://ui.example:3000",
        "access-control-request-method": "POST",
      });
      assert.equal(pre.status, 204);
      assert.match(pre.head, /access-control-allow-origin: http:\/\/ui\.example:3000/i);
      const post = await statusOf(p, "POST", "/api/system/guard", {
        host,
        origin: "http://ui.example:3000",
        "content-type": "application/json",
      }, "{}");
      assert.equal(post.status, 200);
      assert.match(post.head, /access-control-allow-origin: http:\/\/ui\.example:3000/i);
      const other = await statusOf(p, "POST", "/api/system/guard", {
        host,
        origin: "http://ui.example:3001",
        "content-type": "application/json",
      }, "{}");
      assert.equal(other.status, 403);
      assert.doesNotMatch(other.head, /access-control-allow/i);
    },
  );
});

Deno.test("a server bound to 0.0.0.0 accepts IP-literal Hosts with its port, not names", async () => {
  await withServer({ host: "0.0.0.0" }, async (s) => {
    const p = s.port;
    assert.equal((await statusOf(p, "GET", "/health", { host: `10.1.2.3:${p}` })).status, 200);
    assert.equal((await statusOf(p, "GET", "/health", { host: `127.0.0.1:${p}` })).status, 200);
    assert.equal((await statusOf(p, "GET", "/health", { host: `attacker.example:${p}` })).status, 403);
    assert.equal((await statusOf(p, "GET", "/health", { host: `10.1.2.3:${p + 1}` })).status, 403);
  });
});
