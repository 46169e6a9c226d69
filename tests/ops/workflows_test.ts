/** The GitHub workflows parse and call what the docs say: CI runs .ci/run; a v* tag compiles every target. */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const read = (name: string) =>
  Deno.readTextFile(fileURLToPath(new URL(`../../.github/workflows/${name}`, import.meta.url)));

Deno.test("workflows: ci runs .ci/run; release compiles all targets, checksums them, publishes", async () => {
  const ci = parse(await read("ci.yml"));
  const ciSteps = JSON.stringify(ci.jobs.test.steps);
  assert.match(ciSteps, /\.ci\/run/);
  const release = parse(await read("release.yml"));
  assert.deepEqual(release.on.push.tags, ["v*"]);
  const steps: { run?: string; uses?: string; with?: Record<string, string> }[] = release.jobs.release.steps;
  const runs = steps.map((s) => s.run ?? "").join("\n");
  assert.match(runs, /deno task compile --all/);
  assert.match(runs, /sha256sum dspy-code-\* install\.sh > SHA256SUMS/);
  assert.match(runs, /sh install\.sh/);
  const publish = steps.find((s) => s.uses?.startsWith("softprops/action-gh-release"));
  assert.match(publish?.with?.files ?? "", /dist\/SHA256SUMS/);
  assert.equal(
    steps.find((s) => s.uses?.startsWith("denoland/setup-deno"))?.with?.["deno-version"],
    Deno.version.deno,
  );
});
