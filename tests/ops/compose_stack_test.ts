/**
 * The stack files `quickstart` and the dev cycle run: from source the repository's compose file with the
 * workspace mounted; from the binary the compiled-in copies written to `.dspy/compose/`, which
 * `docker-compose config` resolves to the same stack. `probe` (the images' health check) against real
 * loopback servers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { findComposeCli, prepareStackFiles, repositoryComposeFile } from "../../ops/mod.ts";
import { composeConfig } from "../support/compose.ts";
import { runDspy } from "../support/cli.ts";

const REPO_COMPOSE = fileURLToPath(new URL("../../docker/lightweight/docker-compose.yml", import.meta.url));

Deno.test("stack files: the repository's compose file from source, the compiled-in copies otherwise", async () => {
  const ws = await Deno.makeTempDir({ prefix: "stack_ws_" });
  // The variables are given, not set: test files run in parallel in one process, whose environment they share.
  try {
    assert.equal(repositoryComposeFile(), REPO_COMPOSE);
    const fromSource = await prepareStackFiles(ws, { environment: {} });
    assert.equal(fromSource.origin, "repository");
    assert.equal(fromSource.composeFile, REPO_COMPOSE);
    assert.equal(fromSource.env.DSPY_WORKSPACE_DIR, ws);
    assert.equal(fromSource.env.DSPY_CODE_BUILD_CONTEXT, join(REPO_COMPOSE, "..", "..", ".."));

    // As the binary: the files are written under the workspace (an image named by the user, no copy of
    // the executable needed).
    const environment = { DSPY_CODE_IMAGE: "example/dspy-code:1", DSPY_CODE_BUILD_CONTEXT: ws };
    const embedded = await prepareStackFiles(ws, { embedded: true, environment });
    assert.equal(embedded.origin, "embedded");
    assert.equal(embedded.composeFile, join(ws, ".dspy", "compose", "docker-compose.yml"));
    assert.equal(await Deno.readTextFile(embedded.composeFile), await Deno.readTextFile(REPO_COMPOSE));
    assert.equal(
      await Deno.readTextFile(join(ws, ".dspy", "compose", ".env.example")),
      await Deno.readTextFile(join(REPO_COMPOSE, "..", ".env.example")),
    );
    const config = await composeConfig(embedded.composeFile, {
      ...embedded.env,
      DSPY_CODE_IMAGE: "example/dspy-code:1",
    });
    assert.ok(config.ok, config.stderr);
    const svc = parse(config.stdout).services["dspy-code"];
    assert.equal(svc.image, "example/dspy-code:1");
    assert.ok(
      svc.volumes.some((v: string | { source: string }) =>
        typeof v === "string" ? v.startsWith(`${ws}:/workspace`) : v.source === ws
      ),
      JSON.stringify(svc.volumes),
    );
    // A second call leaves the files as they are (same text, no rewrite).
    const mtime = (await Deno.stat(embedded.composeFile)).mtime?.getTime();
    await prepareStackFiles(ws, { embedded: true, environment });
    assert.equal((await Deno.stat(embedded.composeFile)).mtime?.getTime(), mtime);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("findComposeCli: DSPY_COMPOSE picks the CLI; docker-compose answers version", async () => {
  // The value DSPY_COMPOSE would hold, given directly (the environment is shared with parallel test files).
  const cli = await findComposeCli("docker-compose");
  assert.deepEqual(cli?.argv, ["docker-compose"]);
  assert.match(cli!.version, /docker-compose version/);
  assert.equal(await findComposeCli("no-such-compose-cli"), null);
});

Deno.test("probe: exit 0 on 2xx, 1 on an error status or no answer, 2 on a bad URL", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/slow") return new Promise((r) => setTimeout(() => r(new Response("late")), 3000));
    return new Response(path === "/health" ? "ok" : "down", { status: path === "/health" ? 200 : 503 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const ok = await runDspy(["probe", `${base}/health`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok http:\/\/127\.0\.0\.1:\d+\/health 200 OK \(\d+ ms\)/);
    const down = await runDspy(["probe", `${base}/down`, "--json"]);
    assert.equal(down.code, 1);
    assert.equal(JSON.parse(down.stdout).status, 503);
    const slow = await runDspy(["probe", `${base}/slow`, "--timeout", "0.5"]);
    assert.equal(slow.code, 1);
    assert.match(slow.stdout, /no answer within 500 ms/);
    const bad = await runDspy(["probe", "not a url"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a URL/);
  } finally {
    await server.shutdown();
  }
});
