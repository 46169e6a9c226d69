import assert from "node:assert/strict";
import { join } from "node:path";
import { runDspy } from "../support/cli.ts";
import { seededRepo } from "./helpers.ts";

async function events(ws: string, stream: string): Promise<Record<string, unknown>[]> {
  const r = await runDspy(["--workspace", ws, "tail", stream, "--json", "--limit", "500"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test("rl ppo --json trains off the main thread, writes the run files and events; rl eval and status read them", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir());
  try {
    const r = await runDspy([
      "--workspace",
      ws,
      "rl",
      "ppo",
      "--env",
      "bandit",
      "--bandit-means",
      "0.1,0.9",
      "--steps",
      "2048",
      "--seed",
      "4",
      "--checkpoint-interval",
      "2",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    for (const k of ["env_steps", "wall_s", "steps_per_s", "mean_return_last100", "solved_at_step"]) {
      assert.ok(k in out, k);
    }
    assert.equal(out.env_steps, 2048);
    assert.ok(out.mean_return_last100 > 0.7);
    const metrics = (await Deno.readTextFile(out.metrics_file)).trim().split("\n");
    assert.equal(metrics.length, out.updates);
    const summary = JSON.parse(await Deno.readTextFile(join(out.run_dir, "summary.json")));
    assert.equal(summary.seed, 4);

    const ev = await runDspy([
      "--workspace",
      ws,
      "rl",
      "eval",
      "--checkpoint",
      out.checkpoint,
      "--episodes",
      "20",
      "--json",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    const evo = JSON.parse(ev.stdout);
    assert.ok(evo.mean_return > evo.random_mean_return, JSON.stringify(evo));

    const st = await runDspy(["--workspace", ws, "rl", "status", "--json"]);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).runs[0].run_id, out.run_id);

    const actions = (await events(ws, "agent.actions")).map((e) => e.action);
    for (const a of ["rl.ppo.start", "rl.neural.start", "rl.neural.finished", "rl.ppo.finished"]) {
      assert.ok(actions.includes(a), `${a} in ${actions}`);
    }
    const finished = (await events(ws, "agent.actions")).find((e) => e.action === "rl.ppo.finished")!;
    assert.equal((finished.payload as Record<string, unknown>).total_steps, 2048);
    const metricNames = (await events(ws, "agent.metrics")).map((e) => e.metric);
    assert.ok(metricNames.includes("rl.neural.summary"));

    const resumed = await runDspy([
      "--workspace",
      ws,
      "rl",
      "ppo",
      "--env",
      "bandit",
      "--bandit-means",
      "0.1,0.9",
      "--steps",
      "3072",
      "--resume",
      out.checkpoint,
      "--json",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).env_steps, 3072);
    // --steps counts the checkpoint's steps: a checkpoint already past it trains nothing, and says so.
    const noop = await runDspy([
      "--workspace",
      ws,
      "rl",
      "ppo",
      "--steps",
      "1024",
      "--resume",
      out.checkpoint,
    ]);
    assert.equal(noop.code, 0, noop.stderr);
    assert.match(noop.stderr, /already has 2048 env steps, which reaches --steps 1024.*nothing was trained/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("rl train runs the bandit on the tool env, persists it and emits rl.train events; rl sweep persists", async () => {
  const ws = await seededRepo();
  try {
    const flags = [
      "--test-cmd",
      "sh run_tests.sh",
      "--lint-cmd",
      "sh lint.sh",
      "--build-cmd",
      "sh build.sh",
      "--patch-file",
      "fix.patch",
      "--actions",
      "run_tests,lint,build,patch,shell_ls",
    ];
    const r = await runDspy([
      "--workspace",
      ws,
      "rl",
      "train",
      "--steps",
      "20",
      "--policy",
      "ucb",
      "--seed",
      "1",
      ...flags,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.steps, 20);
    assert.equal(out.best_tool, "patch");
    const state = JSON.parse(await Deno.readTextFile(join(ws, ".dspy/rl/toolchain_bandit.json")));
    assert.equal(state.policy, "ucb1");
    assert.deepEqual(state.tools, ["run_tests", "lint", "build", "patch", "shell_ls"]);
    const actions = await events(ws, "agent.actions");
    assert.deepEqual(actions.find((e) => e.action === "rl.train.start")!.payload, {
      policy: "ucb1",
      steps: 20,
      n_envs: 1,
    });
    const ready = (await events(ws, "agent.metrics")).find((e) => e.metric === "rl.train.env_ready")!;
    assert.deepEqual((ready.data as Record<string, unknown>).actions, [
      "run_tests",
      "lint",
      "build",
      "patch",
      "shell_ls",
    ]);

    const sw = await runDspy([
      "--workspace",
      ws,
      "rl",
      "sweep",
      "--iterations",
      "2",
      "--trainer-steps",
      "5",
      "--seed",
      "2",
      ...flags,
      "--json",
    ]);
    assert.equal(sw.code, 0, sw.stderr);
    const swo = JSON.parse(sw.stdout);
    assert.equal(swo.trials, 2);
    const best = JSON.parse(await Deno.readTextFile(join(ws, ".dspy/rl/best.json")));
    assert.equal(typeof best.config.epsilon, "number");
    const sweepState = JSON.parse(await Deno.readTextFile(join(ws, ".dspy/rl/sweep_state.json")));
    assert.equal(sweepState.history.length, 2);
    const sweepActions = (await events(ws, "agent.actions")).map((e) => e.action);
    assert.ok(sweepActions.includes("rl.sweep.start") && sweepActions.includes("rl.sweep.finished"));
    // --trainer-steps fixes the steps: trainer.steps is neither swept, reported nor saved (issue #17).
    assert.equal(best.config.trainer, undefined);
    assert.ok(!("trainer.steps" in sweepState.space));
    assert.ok(sweepState.history.every((t: { params: object }) => !("trainer.steps" in t.params)));

    // A plain `rl train` does not take the sweep's config and says how to; --use-best does and says so.
    await Deno.writeTextFile(
      join(ws, ".dspy/rl/best.json"),
      JSON.stringify({ config: { epsilon: 0.5, trainer: { steps: 7 } } }),
    );
    const plain = await runDspy([
      "--workspace",
      ws,
      "rl",
      "train",
      "--policy",
      "ucb",
      ...flags,
      "--steps",
      "3",
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /pass --use-best to train with it/);
    assert.match(plain.stdout, /rl train: 3 steps/);
    const useBest = await runDspy([
      "--workspace",
      ws,
      "rl",
      "train",
      "--policy",
      "ucb",
      ...flags,
      "--use-best",
    ]);
    assert.equal(useBest.code, 0, useBest.stderr);
    assert.match(useBest.stderr, /using the best sweep config from .*best\.json/);
    assert.match(useBest.stdout, /rl train: 7 steps/);
    // Without --policy the saved bandit's policy (ucb1) is kept; a different --policy is said out loud.
    const keep = await runDspy(["--workspace", ws, "rl", "train", ...flags, "--steps", "2"]);
    assert.match(keep.stdout, /rl train: 2 steps with ucb1/);
    assert.doesNotMatch(keep.stderr, /saved bandit was trained with/);
    const change = await runDspy([
      "--workspace",
      ws,
      "rl",
      "train",
      ...flags,
      "--steps",
      "2",
      "--policy",
      "eps",
    ]);
    assert.match(
      change.stderr,
      /saved bandit was trained with ucb1; continuing its values with epsilon-greedy/,
    );
    const noSweep = await runDspy(["--workspace", await Deno.makeTempDir(), "rl", "train", "--use-best"]);
    assert.equal(noSweep.code, 2);
    assert.match(noSweep.stderr, /--use-best needs a finished sweep/);

    const bad = await runDspy(["--workspace", ws, "rl", "ppo", "--env", "tool", "--n-envs", "2"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--n-envs 1/);
    const unknown = await runDspy(["--workspace", ws, "rl", "fly"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown subcommand 'fly'/);
    const missing = await runDspy(["--workspace", ws, "rl", "eval", "--checkpoint", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /checkpoint .*nope does not exist/);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("rl ppo that cannot start (bad --resume) says why and leaves no empty run behind", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir());
  try {
    const r = await runDspy(["--workspace", ws, "rl", "ppo", "--env", "bandit", "--resume", "nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /checkpoint .*nope does not exist/);
    const runs: string[] = [];
    try {
      for await (const e of Deno.readDir(join(ws, ".dspy/rl/runs"))) runs.push(e.name);
    } catch { /* no runs folder at all */ }
    assert.deepEqual(runs, []);
    const st = await runDspy(["--workspace", ws, "rl", "status", "--json"]);
    assert.deepEqual(JSON.parse(st.stdout).runs, []);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("rl sweep refuses a bad --space file before it starts anything", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir());
  try {
    await Deno.writeTextFile(join(ws, "list.json"), "[1, 2]");
    await Deno.writeTextFile(
      join(ws, "weird.json"),
      JSON.stringify({ epsilon: { distribution: "weird", min: 0, max: 1 } }),
    );
    const list = await runDspy([
      "--workspace",
      ws,
      "rl",
      "sweep",
      "--space",
      "list.json",
      "--iterations",
      "1",
    ]);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /list\.json must be a JSON object/);
    const weird = await runDspy([
      "--workspace",
      ws,
      "rl",
      "sweep",
      "--space",
      "weird.json",
      "--iterations",
      "1",
    ]);
    assert.equal(weird.code, 1);
    assert.match(weird.stderr, /sweep parameter epsilon: distribution must be one of/);
    assert.doesNotMatch(weird.stderr, /trials \(pareto\)/);
    const actions = (await events(ws, "agent.actions")).map((e) => e.action);
    assert.ok(!actions.includes("rl.sweep.start"), `${actions}`);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});
