/**
 * The compose `environment:` list → mapping rewrite: the output keeps comments and anchors, parses back to
 * the expected mappings, and Debian's `docker-compose config` (1.29) resolves it to exactly what it resolves
 * the original to. Errors name the line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ComposeEnvError, mappedComposePath, rewriteComposeEnv } from "../../ops/mod.ts";
import { runDspy } from "../support/cli.ts";
import { composeConfig } from "../support/compose.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/compose/env_lists.yml", import.meta.url));

Deno.test("fix-env: every environment list becomes the mapping docker-compose resolves identically", async () => {
  const original = await Deno.readTextFile(FIXTURE);
  const { text, blocks, variables } = await rewriteComposeEnv(original, FIXTURE);
  assert.equal(blocks, 3); // x-common's anchored list, app's list, flow's flow list
  assert.equal(variables, 3 + 7 + 3);
  // Comments inside the blocks survive, in place.
  for (
    const c of [
      "# trailing comment on an item",
      "# a comment between items (the awk rewrite stopped here)",
      "# a comment before the first item",
      "# a comment after the last item",
      "# A compose file whose environment blocks",
    ]
  ) assert.ok(text.includes(c), `lost comment: ${c}\n${text}`);
  assert.match(text, /environment: &common-env\n\s+LOG_LEVEL: "info"/);
  assert.match(text, /environment: \*common-env/);
  assert.ok(!/^\s*- [A-Z_]+=/m.test(text), "a list item was left:\n" + text);

  const parsed = parse(text);
  assert.deepEqual(parsed.services.app.environment, {
    DATABASE_URL: "postgres://u:p@db:5432/app?sslmode=disable&x=1",
    EMPTY: "",
    SPACES: "a b  c",
    INTERPOLATED: "${HOME}/data",
    DEFAULTED: "${NOT_SET_ANYWHERE:-fallback}",
    DOLLARS: "$$literal",
    PASSTHROUGH: "${PASSTHROUGH:-}",
  });
  assert.deepEqual(parsed.services.worker.environment, {
    LOG_LEVEL: "info",
    QUOTED: 'say "hi"',
    PASSTHROUGH: "${PASSTHROUGH:-}",
  });
  assert.deepEqual(parsed.services.flow.environment, { A: "1", B: "two=2", C: "${C:-}" });
  assert.deepEqual(parsed.services.mapped.environment, { ALREADY: "a mapping" });
  // Key order outside the rewritten blocks is kept.
  assert.deepEqual(Object.keys(parsed.services), ["app", "worker", "flow", "mapped"]);

  const dir = await Deno.makeTempDir({ prefix: "fixenv_" });
  try {
    const before = join(dir, "docker-compose.yml");
    const after = join(dir, "docker-compose.mapped.yml");
    await Deno.writeTextFile(before, original);
    await Deno.writeTextFile(after, text);
    const env = { C: "see" };
    const a = await composeConfig(before, env);
    const b = await composeConfig(after, env);
    assert.ok(a.ok, a.stderr);
    assert.ok(b.ok, b.stderr);
    assert.equal(b.stdout, a.stdout);
    assert.match(b.stdout, /QUOTED: say "hi"/);
    assert.match(b.stdout, /INTERPOLATED: \/home\/tester\/data/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }

  // Idempotent: a second pass has nothing to rewrite and returns the text unchanged.
  const again = await rewriteComposeEnv(text);
  assert.equal(again.blocks, 0);
  assert.equal(again.text, text);
});

Deno.test("fix-env: items it cannot map are errors naming the line, never a silent change", async () => {
  const dup = "services:\n  a:\n    image: x\n    environment:\n      - A=1\n      - B=2\n      - A=3\n";
  await assert.rejects(() => rewriteComposeEnv(dup, "dup.yml"), (err: Error) => {
    assert.ok(err instanceof ComposeEnvError);
    assert.match(err.message, /dup\.yml:7: A is set twice in this environment \(also line 5\); keep one/);
    return true;
  });
  const nested = "services:\n  a:\n    environment:\n      - [A, B]\n      - BAD KEY=1\n";
  await assert.rejects(() => rewriteComposeEnv(nested, "n.yml"), (err: Error) => {
    assert.match(err.message, /n\.yml:4: an environment item must be KEY=VALUE or KEY text, found a list/);
    assert.match(err.message, /n\.yml:5: 'BAD KEY' is not a variable name/);
    return true;
  });
  await assert.rejects(
    () => rewriteComposeEnv("services:\n  a: [\n", "broken.yml"),
    /broken\.yml: not valid YAML at line \d+/,
  );
  await assert.rejects(() => rewriteComposeEnv("a: 1\n---\nb: 2\n", "two.yml"), /2 YAML documents/);
  // A one-pair mapping written as a list item (`- KEY: VAL`) is mapped too.
  const pairs = await rewriteComposeEnv("services:\n  a:\n    environment:\n      - KEY: some value\n");
  assert.deepEqual(parse(pairs.text).services.a.environment, { KEY: "some value" });
  assert.equal(mappedComposePath("/x/docker-compose.yml"), "/x/docker-compose.mapped.yml");
});

Deno.test("compose fix-env CLI: default output path, --out -, and usage errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fixenv_cli_" });
  try {
    const file = join(dir, "docker-compose.yml");
    await Deno.copyFile(FIXTURE, file);
    const run = await runDspy(["--workspace", dir, "compose", "fix-env", "docker-compose.yml"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr + run.stdout, /rewrote 3 environment list\(s\) \(13 variables\)/);
    const written = await Deno.readTextFile(join(dir, "docker-compose.mapped.yml"));
    assert.equal(written, (await rewriteComposeEnv(await Deno.readTextFile(FIXTURE))).text);
    assert.equal(await Deno.readTextFile(file), await Deno.readTextFile(FIXTURE), "the input was changed");

    const stdout = await runDspy(["--workspace", dir, "compose", "fix-env", file, "--out", "-"]);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.equal(stdout.stdout, written);

    const json = await runDspy(["--workspace", dir, "--json", "compose", "fix-env", file, "--out", "x.yml"]);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      ok: true,
      file,
      out: join(dir, "x.yml"),
      blocks: 3,
      variables: 13,
    });

    const missing = await runDspy(["--workspace", dir, "compose", "fix-env", "nope.yml"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.yml: no such file/);
    const usage = await runDspy(["--workspace", dir, "compose", "fix"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown subcommand 'fix' \(known: fix-env\)/);
    const noFile = await runDspy(["--workspace", dir, "compose", "fix-env"]);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /missing FILE/);
    // A bad file leaves no output behind.
    await Deno.writeTextFile(
      join(dir, "bad.yml"),
      "services:\n  a:\n    environment:\n      - A=1\n      - A=2\n",
    );
    const bad = await runDspy(["--workspace", dir, "compose", "fix-env", "bad.yml"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /A is set twice/);
    await assert.rejects(() => Deno.stat(join(dir, "bad.mapped.yml")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
