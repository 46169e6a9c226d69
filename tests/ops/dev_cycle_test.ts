/**
 * `dspy-code dev-cycle` in a temp copy of a small Deno project (tests/fixtures/dev_cycle_project): the
 * stages run and report, the log is written (and the previous one kept as .1), stage events reach the event
 * log, `--only`/`--skip` select, a failing stage stops the cycle with its exit code, the compose stage
 * rewrites an environment list only when the validator reports that error, the engine stages say
 * "skipped: no container engine", and `--commit` commits only what the cycle changed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runDspy } from "../support/cli.ts";
import { fixtureCopy } from "../support/dev_cycle.ts";

const OLD_COMPOSE = fileURLToPath(new URL("../fixtures/old_compose.sh", import.meta.url));
/** No engine answers: `docker info` talks to a socket that does not exist. */
const NO_ENGINE = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };

const stageLine = (name: string, state: string) => new RegExp(`^\\[dev-cycle\\] stage ${name} ${state}`, "m");

Deno.test("dev-cycle: every stage runs or says why not; log, events, compose rewrite only on that error", async () => {
  const ws = await fixtureCopy();
  try {
    const run = await runDspy(["--workspace", ws, "dev-cycle"], {
      env: { ...NO_ENGINE, DSPY_COMPOSE: OLD_COMPOSE },
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const name of ["deps", "check", "test", "compose"]) {
      assert.match(run.stdout, new RegExp(`^\\[dev-cycle\\] stage ${name} ok \\d+\\.\\ds`, "m"), name);
    }
    for (const name of ["build", "up", "health", "status"]) {
      assert.match(run.stdout, stageLine(name, "skipped: no container engine"), name);
    }
    assert.match(run.stdout, /check passed/); // the commands' own output is in the log
    assert.match(run.stdout, /services\.app\.environment must be a mapping/);
    const mapped = join(ws, "docker", "lightweight", "docker-compose.mapped.yml");
    assert.match(run.stdout, new RegExp(`stage compose ok .*using ${mapped.replaceAll(".", "\\.")}`));
    const text = await Deno.readTextFile(mapped);
    assert.match(text, /GREETING: "hello world"\n\s+# a comment inside the block\n\s+EMPTY: ""/);
    assert.match(run.stdout, /^\[dev-cycle\] done: ok in/m);

    const logFile = join(ws, ".dspy_reports", "dev_cycle.log");
    const log = await Deno.readTextFile(logFile);
    assert.match(log, stageLine("test", "ok"));
    assert.match(log, /ok \| 1 passed/); // the test runner's summary
    // The final table.
    assert.match(run.stdout, /stage\s+│?\s*state/);

    // Stage events in the event log (agent.actions).
    const tail = await runDspy(["--workspace", ws, "tail", "agent.actions", "--limit", "50", "--json"]);
    assert.equal(tail.code, 0, tail.stderr);
    const actions = tail.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const names = actions.map((a) => a.action ?? a.value?.action ?? a.envelope?.action);
    assert.ok(names.includes("dev_cycle.start"), tail.stdout.slice(0, 500));
    assert.ok(names.includes("dev_cycle.end"));
    assert.ok(names.filter((n) => n === "dev_cycle.stage").length >= 8);

    // With a Compose that accepts lists, nothing is rewritten.
    await Deno.remove(mapped);
    const modern = await runDspy(["--workspace", ws, "dev-cycle", "--only", "compose"], {
      env: { ...NO_ENGINE, DSPY_COMPOSE: "docker-compose" },
    });
    assert.equal(modern.code, 0, modern.stdout + modern.stderr);
    assert.match(modern.stdout, /stage compose ok .*\(compose config OK\)/);
    await assert.rejects(() => Deno.stat(mapped), Deno.errors.NotFound);
    // Each start keeps the previous log as .1.
    assert.equal(await Deno.readTextFile(logFile + ".1"), log);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("dev-cycle: --only/--skip select; a failing stage stops the cycle with its exit code", async () => {
  const ws = await fixtureCopy();
  try {
    await Deno.writeTextFile(join(ws, "FAIL_CHECK"), "");
    const run = await runDspy(["--workspace", ws, "--json", "dev-cycle", "--skip", "deps"], {
      env: NO_ENGINE,
    });
    assert.equal(run.code, 3, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.ok, false);
    assert.equal(result.code, 3);
    const byName = Object.fromEntries(result.stages.map((s: { name: string }) => [s.name, s]));
    assert.equal(byName.deps.state, "skipped");
    assert.equal(byName.deps.detail, "--skip");
    assert.equal(byName.check.state, "failed");
    assert.equal(byName.check.code, 3);
    assert.equal(byName.test.state, "skipped");
    assert.equal(byName.test.detail, "an earlier stage failed");
    const log = await Deno.readTextFile(join(ws, ".dspy_reports", "dev_cycle.log"));
    assert.match(log, /check failed on purpose/);
    assert.match(log, /^\[dev-cycle\] stage check FAILED \(exit 3\)/m);
    assert.doesNotMatch(log, /deno test/);

    const only = await runDspy([
      "--workspace",
      ws,
      "dev-cycle",
      "--only",
      "test",
      "--tests",
      "tests/add_test.ts",
    ], {
      env: NO_ENGINE,
    });
    assert.equal(only.code, 0, only.stdout + only.stderr);
    assert.match(only.stdout, /\$ \S+ test -A tests\/add_test\.ts/);
    assert.match(only.stdout, stageLine("check", "skipped: not in --only"));

    const bad = await runDspy(["--workspace", ws, "dev-cycle", "--only", "lint,test"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--only takes stage names from deps, check, test, compose, build, up, health, status; unknown: lint/,
    );
    const noProject = await runDspy(["--workspace", join(ws, "tests"), "dev-cycle"]);
    assert.equal(noProject.code, 1);
    assert.match(noProject.stderr, /no deno\.json in/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("dev-cycle --commit: one local commit of the files the cycle changed, nothing else", async () => {
  const ws = await fixtureCopy();
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: ws, stdout: "piped", stderr: "piped" }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  try {
    await git("init", "-q");
    await git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A");
    await git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "fixture");
    await Deno.writeTextFile(join(ws, "notes.txt"), "the user's own work in progress\n");
    const run = await runDspy(["--workspace", ws, "dev-cycle", "--only", "check", "--commit"], {
      env: {
        ...NO_ENGINE,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@example.com",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@example.com",
      },
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /commit: [0-9a-f]{12} with 1 file\(s\): mod\.ts \(local only; nothing pushed\)/);
    const files = (await git("show", "--name-only", "--format=%s", "HEAD")).trim().split("\n");
    assert.match(files[0], /^chore\(dev-cycle\): files the dev cycle changed/);
    assert.deepEqual(files.slice(1).filter(Boolean), ["mod.ts"]); // formatted by the check stage
    assert.match(await git("status", "--porcelain"), /\?\? notes\.txt/); // untouched, uncommitted
    assert.equal(await git("remote"), ""); // nothing to push to, and nothing tried
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});
