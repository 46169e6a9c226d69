/**
 * The attacks of issue #16 item 1 driven from a real page in Debian's chromium (playwright-core):
 *
 * 1. CSRF from a second loopback origin: a page served by another server on 127.0.0.1 (another port, so
 *    another origin) sends "simple" cross-origin POSTs (text/plain JSON, no preflight), a JSON POST (needs a
 *    preflight), a cross-origin read and a text/plain form post to the status server. Nothing changes, the
 *    server saw and refused the simple requests (its metrics count them under route `refused`), and the
 *    page could read nothing.
 * 2. DNS rebinding: chromium resolves `rebind.test` to 127.0.0.1; the attacker's page is loaded from
 *    `http://rebind.test:P/`, the attacker's server stops, and the status server starts on the same port P.
 *    The page's same-origin requests now reach the status server — and get 403 because of their Host.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { withServer } from "../server/helpers.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";

const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...CHROMIUM_ARGS,
      "--host-resolver-rules=MAP rebind.test 127.0.0.1",
      "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
    ],
  });
}

/** The attacker's page: `window.attack(target)` tries everything a hostile site can without a preflight. */
const ATTACK_PAGE = `<!doctype html><html><body><iframe name="sink"></iframe><script>
window.attack = async (target) => {
  const out = {};
  const tryFetch = async (name, url, init) => {
    try {
      const r = await fetch(url, init);
      out[name] = { status: r.status, type: r.type, text: r.type === "opaque" ? "" : await r.text() };
    } catch (e) {
      out[name] = { error: String(e) };
    }
  };
  await tryFetch("simpleGuard", target + "/api/system/guard", {
    method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" },
    body: JSON.stringify({ min_free_gb: 4242, min_ram_gb: 4242, min_vram_mb: 4242 }),
  });
  await tryFetch("simpleTrace", target + "/api/debug/trace", { method: "POST", mode: "no-cors", body: '{"clear":true}' });
  await tryFetch("jsonGuard", target + "/api/system/guard", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ min_free_gb: 4343 }),
  });
  await tryFetch("read", target + "/api/system/workspace", {});
  // A text/plain form post (the oldest CSRF): the body reads as JSON to a lax parser.
  const form = document.createElement("form");
  form.method = "POST"; form.enctype = "text/plain"; form.target = "sink";
  form.action = target + "/api/system/workspace";
  const input = document.createElement("input");
  input.name = '{"path":"/","x":"'; input.value = '"}';
  form.appendChild(input); document.body.appendChild(form);
  const loaded = new Promise((r) => document.querySelector("iframe").addEventListener("load", r, { once: true }));
  form.submit();
  await Promise.race([loaded, new Promise((r) => setTimeout(r, 3000))]);
  return out;
};
window.rebound = async () => {
  const r1 = await fetch("/api/system/workspace", { cache: "no-store" });
  const r2 = await fetch("/api/system/guard", {
    method: "POST", cache: "no-store", headers: { "content-type": "application/json" },
    body: JSON.stringify({ min_free_gb: 4444 }),
  });
  return { read: r1.status, readBody: await r1.text(), write: r2.status, writeBody: await r2.text() };
};
</script></body></html>`;

function serveAttacker(port = 0): { server: Deno.HttpServer<Deno.NetAddr>; port: Promise<number> } {
  const { promise, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: (a) => resolve(a.port) },
    () =>
      new Response(ATTACK_PAGE, {
        // connection: close, so the browser holds no connection to this server once it stops.
        headers: {
          "content-type": "text/html; charset=utf-8",
          connection: "close",
          "cache-control": "no-store",
        },
      }),
  );
  return { server, port: promise };
}

async function refusedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^dspy_http_requests_total\{([^}]*)\} (\d+)/gm)) {
    if (m[1].includes('route="refused"')) n += Number(m[2]);
  }
  return n;
}

Deno.test({
  name: "chromium: a page on another loopback origin cannot change or read the status server",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const attacker = serveAttacker();
    const browser = await launch();
    try {
      await withServer({}, async (s) => {
        const page = await browser.newPage();
        await page.goto(`http://127.0.0.1:${await attacker.port}/`);
        const before = await refusedCount(s.url);
        const out = await page.evaluate(
          (t) => (window as unknown as { attack(t: string): Promise<unknown> }).attack(t),
          s.url,
        ) as Record<string, { status?: number; type?: string; error?: string; text?: string }>;
        // No state changed: thresholds unset, workspace unchanged, trace not cleared by the page.
        const kv = await s.state.kv();
        assert.equal((await kv.get(["guard", "thresholds"])).value, null, JSON.stringify(out));
        assert.equal(s.state.workspace, s.workspace);
        // The page read nothing: the CORS fetches failed in the browser, the no-cors ones are opaque.
        assert.ok(out.read.error, `cross-origin read must fail: ${JSON.stringify(out.read)}`);
        assert.ok(out.jsonGuard.error, `preflighted JSON POST must fail: ${JSON.stringify(out.jsonGuard)}`);
        assert.equal(out.simpleGuard.type, "opaque");
        // The server itself refused the simple requests and the form post (not only the browser).
        const refused = (await refusedCount(s.url)) - before;
        assert.ok(refused >= 3, `server refused ${refused} requests, expected >= 3`);
        await page.close();
      });
    } finally {
      await browser.close();
      await attacker.server.shutdown();
    }
  },
});

Deno.test({
  name: "chromium: a DNS-rebinding page that reaches the server as its own origin gets 403",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const browser = await launch();
    try {
      // The port is free for a moment between the two servers; if another process takes it, try again.
      for (let attempt = 1;; attempt++) {
        const attacker = serveAttacker();
        const port = await attacker.port;
        const page = await browser.newPage();
        await page.goto(`http://rebind.test:${port}/`);
        assert.equal(
          await page.evaluate(() => typeof (window as unknown as { rebound?: unknown }).rebound),
          "function",
        );
        await attacker.server.shutdown();
        try {
          // "Rebinding": the same name and port now reach the status server.
          await withServer({ port }, async (s) => {
            const out = await page.evaluate(() =>
              (window as unknown as { rebound(): Promise<unknown> }).rebound()
            ) as {
              read: number;
              readBody: string;
              write: number;
              writeBody: string;
            };
            assert.equal(out.read, 403, out.readBody);
            assert.equal(out.write, 403, out.writeBody);
            assert.match(out.readBody, /--allowed-host/, "the answer must come from the status server");
            const kv = await s.state.kv();
            assert.equal((await kv.get(["guard", "thresholds"])).value, null);
          });
        } catch (err) {
          if (err instanceof Deno.errors.AddrInUse && attempt < 3) {
            await page.close();
            continue;
          }
          throw err;
        }
        await page.close();
        break;
      }
    } finally {
      await browser.close();
    }
  },
});
