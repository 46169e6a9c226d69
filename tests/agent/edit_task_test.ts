/**
 * `runEditTask` in-process against a scripted OpenAI-compatible server: locate → propose → critic/reviser
 * → verify → save → apply → plan tests, and each way it stops short (not requested, declined, verifier
 * fail, local checks fail, a given path that is not a file). Real files in a temp workspace.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createLlmClient,
  type EditProgress,
  type LlmClient,
  readPatchHistory,
  runEditTask,
} from "../../agent/mod.ts";
import { UserError } from "../../core/errors.ts";
import {
  type ReceivedChat,
  type ScriptedServer,
  signatureOf,
  startLlmServer,
} from "./support/llm_servers.ts";

const APP = "def hello():\n    return 1\n\n\ndef other():\n    return 'x'\n";
const GOOD_PATCH =
  "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def hello():\n-    return 1\n+    return 2\n";
/** Context lines that are not in the file: fails the local "applies cleanly" check. */
const BAD_PATCH =
  "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,2 +1,2 @@\n def hello_world():\n-    return 1\n+    return 2\n";

function model(overrides: Record<string, unknown> = {}) {
  return (req: ReceivedChat): string => {
    const sig = signatureOf(req);
    if (sig in overrides) return JSON.stringify(overrides[sig]);
    switch (sig) {
      case "FileLocator":
        return JSON.stringify({
          file_candidates: [{ path: "src/app.py", score: 0.9, reason: "defines hello" }],
          confidence: 0.8,
        });
      case "CodeEdit":
      case "ReviseEdit":
        return JSON.stringify({ patch: GOOD_PATCH, rationale: "hello must return 2" });
      case "EditCritic":
        return JSON.stringify({ problems: ["context mismatch"], revise_instructions: "copy the context" });
      case "PatchVerifier":
        return JSON.stringify({ verdict: "pass", risk_level: "low", reasons: ["one-line change, as asked"] });
      case "TestPlanner":
        return JSON.stringify({ tests_to_run: ["tests for hello"], commands: ["pytest -q"] });
    }
    return "{}";
  };
}

async function withSetup(fn: (ws: string, srv: ScriptedServer, llm: LlmClient) => Promise<void>) {
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-edit-task-" }));
  await Deno.mkdir(join(ws, "src"));
  await Deno.writeTextFile(join(ws, "src", "app.py"), APP);
  const srv = startLlmServer("openai", ["gpt-4o-mini"]);
  const llm = createLlmClient(
    { provider: "openai", model: "gpt-4o-mini", baseUrl: srv.url, apiKey: "sk-test" },
    { timeoutMs: 3000, retries: 0, backoffMs: 10, cooldownMs: 300 },
  );
  try {
    await fn(ws, srv, llm);
  } finally {
    await srv.close();
    await Deno.remove(ws, { recursive: true });
  }
}

const app = (ws: string) => Deno.readTextFile(join(ws, "src", "app.py"));

Deno.test("runEditTask: locates, revises a patch that fails the local checks, verifies, saves, applies, plans tests", async () => {
  await withSetup(async (ws, srv, llm) => {
    srv.reply(model({ CodeEdit: { patch: BAD_PATCH, rationale: "first try" } }));
    const progress: EditProgress[] = [];
    const asked: string[] = [];
    const out = await runEditTask(llm, ws, { task: "make hello return 2", apply: true }, {
      onProgress: (p) => progress.push(p),
      approve: (proposal, verdict) => {
        asked.push(`${verdict.verdict} ${proposal.added}/${proposal.removed}`);
        return true;
      },
    });
    assert.equal(out.kind, "verified");
    if (out.kind !== "verified") return;
    assert.deepEqual(progress.map((p) => p.kind), ["locating", "files", "round", "verifying", "verified"]);
    assert.deepEqual(out.files, ["src/app.py"]);
    assert.equal(out.proposal.attempts, 2);
    assert.equal(out.reason, "applied");
    assert.equal(out.applied, true);
    assert.deepEqual(asked, ["pass 1/1"]);
    assert.equal(await app(ws), APP.replace("return 1", "return 2"));
    assert.match(out.note, new RegExp(`^Applied patch ${out.patchId}: 1 file`));
    assert.equal(await Deno.readTextFile(out.proposedPath), GOOD_PATCH);
    assert.ok(out.proposedDisplay.startsWith(".dspy_patches/proposed/"), out.proposedDisplay);
    assert.deepEqual(out.testPlan, { testsToRun: ["tests for hello"], commands: ["pytest -q"] });
    const history = await readPatchHistory(ws);
    assert.deepEqual(history.map((h) => h.result), ["success"]);
    assert.deepEqual(
      srv.requests.map(signatureOf),
      ["FileLocator", "CodeEdit", "EditCritic", "ReviseEdit", "PatchVerifier", "TestPlanner"],
    );
  });
});

Deno.test("runEditTask: without apply, declined, or a failing verifier nothing is written and the attempt is recorded", async () => {
  await withSetup(async (ws, srv, llm) => {
    srv.reply(model());
    const proposeOnly = await runEditTask(llm, ws, { task: "make hello return 2", files: ["src/app.py"] }, {
      approve: () => assert.fail("approve is only asked when applying"),
    });
    assert.equal(proposeOnly.kind === "verified" && proposeOnly.reason, "not-requested");
    assert.ok(!srv.requests.some((r) => signatureOf(r) === "FileLocator"), "given files skip the locator");
    if (proposeOnly.kind === "verified") {
      assert.match(
        proposeOnly.note,
        new RegExp(`apply the saved diff with 'patch ${proposeOnly.proposedDisplay}'`),
      );
      assert.equal(proposeOnly.testPlan, undefined);
    }

    const declined = await runEditTask(llm, ws, {
      task: "make hello return 2",
      files: ["src/app.py"],
      apply: true,
    }, {
      approve: () => false,
    });
    assert.equal(declined.kind === "verified" && declined.reason, "declined");

    srv.reply(
      model({ PatchVerifier: { verdict: "fail", risk_level: "high", reasons: ["changes behaviour"] } }),
    );
    const refused = await runEditTask(llm, ws, {
      task: "make hello return 2",
      files: ["src/app.py"],
      apply: true,
    }, {
      approve: () => assert.fail("a failed verdict is never offered for approval"),
    });
    assert.equal(refused.kind === "verified" && refused.reason, "verifier-failed");
    assert.equal(refused.kind === "verified" && refused.applied, false);

    assert.equal(await app(ws), APP);
    const history = await readPatchHistory(ws);
    assert.deepEqual(history.map((h) => h.result), ["skipped", "skipped", "failure"]);
    assert.equal(history[1].info?.note, "Not applied (declined).");
  });
});

Deno.test("runEditTask: a patch that never passes the local checks is rejected after the rounds; bad input is refused", async () => {
  await withSetup(async (ws, srv, llm) => {
    srv.reply(model({
      CodeEdit: { patch: BAD_PATCH, rationale: "x" },
      ReviseEdit: { patch: BAD_PATCH, rationale: "x" },
    }));
    const rounds: number[] = [];
    const out = await runEditTask(
      llm,
      ws,
      { task: "make hello return 2", files: ["src/app.py"], rounds: 3 },
      {
        onProgress: (p) => p.kind === "round" && rounds.push(p.round),
      },
    );
    assert.equal(out.kind, "rejected");
    assert.deepEqual(rounds, [1, 2, 3]);
    assert.equal(out.proposal.ok, false);
    assert.ok(out.proposal.problems.length > 0);
    assert.ok(
      !srv.requests.some((r) => signatureOf(r) === "PatchVerifier"),
      "a rejected patch is not verified",
    );
    assert.equal(await app(ws), APP);
    assert.deepEqual((await readPatchHistory(ws)).map((h) => h.result), ["failure"]);
    const proposed = await Deno.stat(join(ws, ".dspy_patches", "proposed")).catch(() => null);
    assert.equal(proposed, null, "a rejected patch is not saved as a proposal");

    await assert.rejects(
      runEditTask(llm, ws, { task: "x", files: ["src"] }),
      (err) => err instanceof UserError && /edit: src is not a file/.test(err.message),
    );
    await assert.rejects(
      runEditTask(llm, ws, { task: "x", files: ["../outside.py"] }),
      (err) => err instanceof UserError,
    );
    srv.reply(model({ FileLocator: { file_candidates: [], confidence: 0 } }));
    await assert.rejects(
      runEditTask(llm, ws, { task: "something unrelated" }),
      (err) => err instanceof UserError && /could not find files .* --files/.test(err.message),
    );
  });
});
