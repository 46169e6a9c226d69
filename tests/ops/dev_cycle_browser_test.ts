/**
 * The Dev Cycle panel in Debian's chromium (playwright-core) against a real server on a copy of the fixture
 * project: Start runs the cycle, the stage chips change state live, the log fills, and the panel ends with
 * the run's result; no console errors.
 */
import assert from "node:assert/strict";
import { withServer } from "../server/helpers.ts";
import { fixtureCopy } from "../support/dev_cycle.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "../support/browser.ts";

const haveChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "dashboard Dev Cycle panel: start, live stages and log, result",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ws = await fixtureCopy();
    const savedHost = Deno.env.get("DOCKER_HOST");
    Deno.env.set("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    const { chromium } = await import("playwright-core");
    const profile = await Deno.makeTempDir({ prefix: "dspy_chromium_" });
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS],
    });
    try {
      await withServer({ workspace: ws }, async (s) => {
        const page = await ctx.newPage();
        const errors: string[] = [];
        page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
        page.on("pageerror", (err) => errors.push(String(err)));
        await page.goto(`${s.url}/`);
        await page.waitForSelector("#dc-stages li");
        assert.equal(await page.locator("#dc-stages li").count(), 8);
        assert.equal(await page.locator("#dc-stop").isDisabled(), true);
        await page.click("#dc-start");
        await page.waitForSelector("#dc-stages li.ok", { timeout: 30_000 });
        await page.locator("#dc-summary", { hasText: "last run" }).waitFor({ timeout: 60_000 });
        assert.equal(await page.textContent("#dc-summary"), "last run: ok");
        const chips = await page.locator("#dc-stages li").allTextContents();
        assert.ok(chips.some((c) => /^test · ok \d+\.\ds$/.test(c)), chips.join(" | "));
        assert.ok(chips.some((c) => c === "build · skipped"), chips.join(" | "));
        const log = (await page.locator("#dc-log li").allTextContents()).join("\n");
        assert.match(log, /\[dev-cycle\] stage test ok/);
        assert.match(log, /\[dev-cycle\] done: ok/);
        assert.equal(await page.locator("#dc-start").isDisabled(), false);
        assert.deepEqual(errors, []);
      });
    } finally {
      await ctx.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      savedHost === undefined ? Deno.env.delete("DOCKER_HOST") : Deno.env.set("DOCKER_HOST", savedHost);
      await Deno.remove(ws, { recursive: true });
    }
  },
});
