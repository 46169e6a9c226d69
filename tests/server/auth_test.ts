/**
 * Admin authorisation against a real server: with ADMIN_KEY set, a missing key is 401, a wrong key 403, the
 * right key passes; without it, loopback clients pass and a client on another interface gets 403. Every
 * admin route is covered.
 *
 * @module
 */

import assert from "node:assert/strict";
import { checkAdmin, isLoopback, safeEqual } from "../../server/auth.ts";
import { HttpError } from "../../server/http.ts";
import { getJson, withServer } from "./helpers.ts";

const ADMIN_ROUTES: [string, unknown][] = [
  ["/api/debug/trace", { clear: true }],
  ["/api/system/guard", { min_free_gb: 0 }],
  ["/api/system/workspace", { path: "." }],
  ["/api/dlq/replay", { all: true }],
  ["/api/dlq/purge", { all: true }],
];

Deno.test("safeEqual and isLoopback", () => {
  assert.equal(safeEqual("abc", "abc"), true);
  assert.equal(safeEqual("abc", "abd"), false);
  assert.equal(safeEqual("abc", "abcd"), false);
  assert.equal(safeEqual("", ""), true);
  for (const h of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of ["10.0.0.1", "0.0.0.0", "::", "128.0.0.1", "127.0.0.1.evil", undefined, ""]) {
    assert.equal(isLoopback(h), false, String(h));
  }
  assert.throws(() => checkAdmin("k", undefined, "127.0.0.1"), (e: HttpError) => e.status === 401);
  assert.throws(() => checkAdmin("k", "x", "127.0.0.1"), (e: HttpError) => e.status === 403);
  assert.doesNotThrow(() => checkAdmin("k", "k", "10.1.1.1"));
  assert.throws(() => checkAdmin(null, undefined, "10.1.1.1"), (e: HttpError) => e.status === 403);
  assert.doesNotThrow(() => checkAdmin(null, undefined, "::1"));
});

Deno.test("with ADMIN_KEY: no key 401, wrong key 403, right key passes on every admin route", async () => {
  await withServer({ adminKey: "s3cret-key" }, async (s) => {
    for (const [path, body] of ADMIN_ROUTES) {
      const none = await getJson(`${s.url}${path}`, { method: "POST", body: JSON.stringify(body) });
      assert.equal(none.status, 401, path);
      assert.match(none.body.error, /X-Admin-Key/);
      const wrong = await getJson(`${s.url}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "x-admin-key": "s3cret-kez" },
      });
      assert.equal(wrong.status, 403, path);
    }
    const right = await getJson(`${s.url}/api/system/guard`, {
      method: "POST",
      body: JSON.stringify({ min_free_gb: 0 }),
      headers: { "x-admin-key": "s3cret-key" },
    });
    assert.equal(right.status, 200);
    // Read routes stay open.
    assert.equal((await getJson(`${s.url}/api/system/guard`)).status, 200);
  });
});

function nonLoopbackAddress(): string | undefined {
  return Deno.networkInterfaces().find((i) => i.family === "IPv4" && !isLoopback(i.address))?.address;
}

Deno.test({
  name: "without ADMIN_KEY: loopback clients pass, clients on another interface get 403",
  ignore: nonLoopbackAddress() === undefined,
  async fn() {
    const addr = nonLoopbackAddress()!;
    await withServer({ adminKey: null, host: "0.0.0.0" }, async (s) => {
      const loop = await getJson(`http://127.0.0.1:${s.port}/api/system/guard`, {
        method: "POST",
        body: JSON.stringify({ min_free_gb: 0 }),
      });
      assert.equal(loop.status, 200);
      for (const [path, body] of ADMIN_ROUTES) {
        const remote = await getJson(`http://${addr}:${s.port}${path}`, {
          method: "POST",
          body: JSON.stringify(body),
        });
        assert.equal(remote.status, 403, path);
        assert.match(remote.body.error, /loopback/);
      }
      // Non-admin routes answer everyone.
      assert.equal((await getJson(`http://${addr}:${s.port}/health`)).status, 200);
    });
  },
});
