/**
 * Browser tests: Debian's chromium driven by `playwright-core` against a real server with a real bus.
 * The dashboard loads without console errors, a request shows up live in the Debug Trace panel, saving
 * guard thresholds flips the tiles, and a dead letter appears in the DLQ table and replays to its
 * subscriber. Set `DSPY_SCREENSHOT_DIR` to keep screenshots of every page.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { openWorkspaceKv } from "../../core/kv.ts";
import { appendToStream } from "../../core/streams.ts";
import { withServer } from "./helpers.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";

const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

async function launch(): Promise<{ ctx: BrowserContext; profile: string }> {
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "dspy_chromium_" });
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      ...CHROMIUM_ARGS,
    ],
  });
  return { ctx, profile };
}

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(String(err)));
  return errors;
}

async function shot(page: Page, name: string): Promise<void> {
  const dir = Deno.env.get("DSPY_SCREENSHOT_DIR");
  if (dir) await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

Deno.test({
  name: "dashboard in chromium: no console errors, live trace, guard tiles, DLQ replay",
  ignore: !haveChromium,
  // Playwright keeps its own pipes and timers to the browser process until it exits.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withServer({ withBus: true, sampleMs: 1000 }, async (s) => {
      const bus = s.bus!;
      // Some data for the pages: tool events, an RL run, a busy topic with a dead letter.
      const kv = await openWorkspaceKv(s.workspace);
      const ts = Date.now() / 1000;
      await appendToStream(
        kv,
        "agent.metrics",
        ["grep", "esearch", "grep", "edit"].map((tool, i) => ({
          ts: ts + i,
          workspace: s.workspace,
          metric: "tool.end",
          data: { tool, success: i !== 3, score: i === 3 ? 0 : 0.5 + i / 10, duration_sec: 0.1 * (i + 1) },
        })),
      );
      const run = join(s.workspace, ".dspy", "rl", "runs", "ppo-demo");
      await Deno.mkdir(run, { recursive: true });
      await Deno.writeTextFile(
        join(run, "metrics.jsonl"),
        Array.from({ length: 60 }, (_, i) =>
          JSON.stringify({
            step: i * 100,
            episode_returns: [10 + i * 2 + Math.sin(i) * 5, 12 + i * 2],
            policy_loss: 1 / (1 + i / 5),
            value_loss: 2 / (1 + i / 8),
            entropy: 0.69 - i * 0.005,
            steps_per_sec: 900 + Math.cos(i) * 50,
          })).join("\n") + "\n",
      );
      const sub = bus.subscribe("jobs.browser", { maxsize: 1, overflow: "dlq" });
      const member = bus.subscribeGroup("jobs.browser", "indexers", { maxsize: 50 });
      await bus.publish("jobs.browser", { n: 1 });
      await bus.publish("jobs.browser", { n: 2, note: "dead letter" });
      await bus.flush();

      const { ctx, profile } = await launch();
      try {
        const page = await ctx.newPage();
        const errors = watchConsole(page);

        // Overview loads cleanly and shows status pills.
        await page.goto(`${s.url}/`);
        await page.waitForSelector("#status-pills .pill[data-component=bus]");
        await page.waitForSelector("#tile-disk.ok, #tile-disk.block");

        // A request shows up live in the Debug Trace panel.
        await page.waitForSelector("#trace-list li");
        const probe = `/browser-probe-${crypto.randomUUID().slice(0, 8)}`;
        await (await fetch(`${s.url}${probe}`)).body?.cancel();
        await page.waitForSelector(`#trace-list li[data-path="${probe}"]`, { timeout: 10_000 });
        await page.fill("#trace-filter", probe);
        assert.equal(await page.locator("#trace-list li").count(), 1);
        await page.fill("#trace-filter", "");

        // Saving guard thresholds changes the tiles (and 0 is a valid threshold).
        await page.fill("#guard-min-free-gb", "10000000");
        await page.click("#guard-save");
        await page.waitForSelector("#tile-disk.block");
        assert.equal((await page.textContent("#tile-disk .state"))?.trim(), "BLOCK");
        await page.fill("#guard-min-free-gb", "0");
        await page.fill("#guard-min-ram-gb", "0");
        await page.click("#guard-save");
        await page.waitForSelector("#tile-disk.ok");
        assert.equal((await page.textContent("#tile-ram .state"))?.trim(), "OK");
        await page.waitForTimeout(1500); // a couple of resource samples for the sparklines
        await shot(page, "overview");

        // Bus & DLQ: the dead letter is listed and replays.
        await page.goto(`${s.url}/bus`);
        const row = page.locator("#dlq-table tbody tr[data-id]");
        await row.first().waitFor();
        assert.equal(await row.count(), 1);
        assert.match((await row.first().textContent()) ?? "", /dead letter/);
        await page.waitForSelector("#groups-table tbody td");
        await shot(page, "bus");
        assert.deepEqual((await sub.nextBatch(1))[0].value, { n: 1 }); // make room for the replay
        await row.first().locator("button.replay").click();
        await page.waitForSelector("#dlq-table tbody tr[data-id]", { state: "detached" });
        assert.deepEqual((await sub.nextBatch(1))[0].value, { n: 2, note: "dead letter" });

        // Tools, RL and Events pages render their data.
        await page.goto(`${s.url}/tools`);
        await page.waitForSelector("#tools-table tbody td");
        assert.match((await page.textContent("#tools-table")) ?? "", /grep/);
        await shot(page, "tools");
        await page.goto(`${s.url}/rl`);
        await page.waitForSelector("#rl-reward .uplot");
        await page.waitForSelector("#rl-loss .uplot");
        await shot(page, "rl");
        await page.goto(`${s.url}/events`);
        await page.waitForSelector("#ev-list li");
        await appendToStream(kv, "agent.actions", [{
          ts: Date.now() / 1000,
          workspace: s.workspace,
          action: "patch.apply",
          payload: { files: 1 },
        }]);
        await page.waitForSelector("#ev-list li:has-text('patch.apply')");
        await shot(page, "events");

        assert.deepEqual(errors, []);
      } finally {
        await ctx.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
        sub.close();
        member.close();
      }
    });
  },
});

Deno.test({
  name: "dashboard admin key field: without it admin actions are refused, with it they work",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withServer({ adminKey: "browser-secret" }, async (s) => {
      const { ctx, profile } = await launch();
      try {
        const page = await ctx.newPage();
        const errors = watchConsole(page);
        await page.goto(`${s.url}/`);
        await page.waitForSelector("#tile-disk.ok, #tile-disk.block");
        await page.fill("#guard-min-free-gb", "10000000");
        await page.click("#guard-save");
        await page.waitForSelector("#toast.err");
        assert.match((await page.textContent("#toast")) ?? "", /admin key required/);
        assert.equal((await page.textContent("#tile-disk .state"))?.trim(), "OK");
        await page.fill("#admin-key", "browser-secret");
        await page.click("#admin-form button");
        assert.equal(await page.evaluate(() => localStorage.getItem("ADMIN_KEY")), "browser-secret");
        await page.click("#guard-save");
        await page.waitForSelector("#tile-disk.block");
        // The browser logs the refused request (401) as a resource error; nothing else may fail.
        assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
      } finally {
        await ctx.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    });
  },
});
