import assert from "node:assert/strict";
import { join } from "node:path";
import {
  aggregateReward,
  DEFAULT_VERIFIERS,
  evaluatePolicy,
  evaluateRandom,
  makeToolEnv,
  TOOL_ACTIONS,
  toolActionFromAny,
  trainBandit,
  trainPufferPolicy,
} from "../../rl/mod.ts";
import { seededRepo, seededToolOptions } from "./helpers.ts";

Deno.test("aggregateReward matches the reference example and keeps blast_radius a penalty", () => {
  const r = aggregateReward({ pass_rate: 0.92, blast_radius: 0.05 }, DEFAULT_VERIFIERS.slice(0, 2), {
    weights: { pass_rate: 1, blast_radius: 0.5 },
    penaltyKinds: ["blast_radius"],
  });
  assert.ok(Math.abs(r.reward - 0.895) < 1e-12);
  const cfg = {
    weights: { pass_rate: 1, blast_radius: 1 },
    penaltyKinds: ["blast_radius"],
    scales: { blast_radius: [0, 100] as [number, number] },
  };
  const small = aggregateReward({ pass_rate: 1, blast_radius: 2 }, DEFAULT_VERIFIERS.slice(0, 2), cfg).reward;
  const big = aggregateReward({ pass_rate: 1, blast_radius: 80 }, DEFAULT_VERIFIERS.slice(0, 2), cfg).reward;
  assert.ok(big < small, "a bigger patch must not score higher");
  const clamped = aggregateReward({ lint_ok: 3 }, [DEFAULT_VERIFIERS[3]], { clamp01Kinds: ["lint_ok"] });
  assert.equal(clamped.reward, 1);
  const quality = aggregateReward({ quality_a: 0.5, quality_b: 1 }, [DEFAULT_VERIFIERS[4]], {});
  assert.equal(quality.raw.quality_avg, 0.75);
});

Deno.test("tool action names and aliases", () => {
  assert.equal(toolActionFromAny("tests"), "run_tests");
  assert.equal(toolActionFromAny("cat"), "shell_cat");
  assert.equal(toolActionFromAny("sh"), "shell_run");
  assert.equal(toolActionFromAny(3), "patch");
  assert.throws(() => toolActionFromAny("deploy"), /unknown tool action 'deploy'/);
});

Deno.test("tool env runs every action for real with a constant observation size", async () => {
  const dir = await seededRepo();
  try {
    const env = makeToolEnv(seededToolOptions(dir));
    assert.equal(env.actionCount, 9);
    assert.deepEqual(env.actionNames, [...TOOL_ACTIONS]);
    const reset = env.reset();
    assert.equal(reset.obs.length, env.observationSize);
    assert.ok(reset.obs.slice(0, 5).every((v) => v === 0));
    const byName: Record<string, Awaited<ReturnType<typeof env.step>>> = {};
    for (let a = 0; a < env.actionCount; a++) {
      env.reset();
      const r = await env.step(a);
      assert.equal(r.obs.length, env.observationSize);
      assert.equal(r.terminated, true);
      byName[env.actionNames[a]] = r;
    }
    const m = (name: string) => byName[name].info.metrics as Record<string, number>;
    assert.equal(m("run_tests").pass_rate, 0.5);
    assert.equal(m("run_tests").tests_failed, 1);
    assert.equal(m("lint").lint_ok, 0);
    assert.equal(m("lint").lint_issues, 1);
    assert.equal(m("build").build_ok, 1);
    assert.equal(m("patch").pass_rate, 1, "tests pass on the patched tree");
    assert.equal(m("patch").blast_radius, 2);
    assert.equal(m("shell_cd").shell_cd_ok, 1);
    assert.equal(byName.shell_pwd.info.cwd, ".");
    assert.match(String(byName.shell_cat.info.stdout), /seeded repo/);
    assert.match(String(byName.shell_run.info.stdout), /hi/);
    // The patch is reverted after its test run.
    assert.match(await Deno.readTextFile(join(dir, "lib.sh")), /\$\(\(\$1 \+ \$2\)\); } \n$/);
    assert.ok(byName.patch.reward > byName.run_tests.reward);
    assert.ok(byName.run_tests.reward > byName.lint.reward);
    // The previous action is one-hot in the context part of the observation.
    assert.equal(byName.lint.obs[5 + 1], 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tool env confines shell actions to the workspace", async () => {
  const dir = await seededRepo();
  try {
    const opts = seededToolOptions(dir, ["shell_cd", "shell_cat", "shell_run"]);
    opts.actionArgs.shell_cd = { path: "../.." };
    opts.actionArgs.shell_cat = { path: "/etc/passwd" };
    opts.actionArgs.shell_run = { command: ["cat", "../../etc/passwd"] };
    const env = makeToolEnv(opts);
    env.reset();
    const cd = await env.step(0);
    assert.equal((cd.info.metrics as Record<string, number>).shell_cd_ok, 0);
    assert.match(String(cd.info.error), /outside the workspace/);
    const cat = await env.step(1);
    assert.match(String(cat.info.error), /outside the workspace/);
    const run = await env.step(2);
    assert.match(String(run.info.error), /outside the workspace/);
    await assert.rejects(async () => await env.step(3), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tool env: a shell action without its target says which option to set", async () => {
  const dir = await seededRepo();
  try {
    const opts = seededToolOptions(dir, ["shell_cat", "shell_run"]);
    opts.actionArgs.shell_cat = { path: "missing.md" };
    opts.actionArgs.shell_run = { command: [] };
    const env = makeToolEnv(opts);
    env.reset();
    const cat = await env.step(0);
    assert.match(
      String(cat.info.error),
      /shell_cat: missing\.md does not exist: name a file with --cat-path P/,
    );
    const run = await env.step(1);
    assert.match(String(run.info.error), /shell_run has no command: pass --shell-cmd C/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tool env: a shell tool that fails scores below one that works (quality_ok)", async () => {
  const dir = await seededRepo();
  try {
    const reward = async (command: string[]) => {
      const opts = seededToolOptions(dir, ["shell_run"]);
      opts.actionArgs.shell_run = { command };
      const env = makeToolEnv(opts);
      env.reset();
      return await env.step(0);
    };
    const works = await reward(["sh", "-c", "exit 0"]);
    const fails = await reward(["sh", "-c", "exit 3"]);
    const refused = await reward([]);
    assert.equal((works.info.metrics as Record<string, number>).quality_ok, 1);
    assert.equal((fails.info.metrics as Record<string, number>).quality_ok, 0);
    assert.ok(fails.reward < works.reward, `failed ${fails.reward} vs worked ${works.reward}`);
    assert.ok(refused.reward < works.reward, `refused ${refused.reward} vs worked ${works.reward}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bandit trained on the tool env beats the uniform-random policy", async () => {
  const dir = await seededRepo();
  try {
    const env = makeToolEnv(
      seededToolOptions(dir, ["run_tests", "lint", "build", "patch", "shell_ls", "shell_pwd"]),
    );
    const trained = await trainBandit({ env, steps: 30, policy: "ucb1", seed: 3 });
    const best = trained.bandit.ranking()[0].tool;
    assert.equal(best, "patch");
    // Greedy learned policy vs uniform random, each for 12 real episodes.
    const greedyIndex = env.actionNames.indexOf(best as typeof env.actionNames[number]);
    let learned = 0;
    for (let i = 0; i < 6; i++) {
      env.reset();
      learned += (await env.step(greedyIndex)).reward;
    }
    learned /= 6;
    const random = await evaluateRandom(env, { episodes: 12, seed: 1 });
    assert.ok(learned > random.meanReturn + 0.2, `learned ${learned} vs random ${random.meanReturn}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PPO trained on the tool env beats the uniform-random policy", async () => {
  const dir = await seededRepo();
  try {
    const actions = ["run_tests", "lint", "build", "patch", "shell_ls", "shell_pwd"];
    const r = await trainPufferPolicy({
      makeEnv: () => makeToolEnv(seededToolOptions(dir, actions)),
      nEnvs: 1,
      rolloutLength: 8,
      minibatches: 2,
      steps: 96,
      seed: 1,
    });
    const env = makeToolEnv(seededToolOptions(dir, actions));
    const learned = await evaluatePolicy(r.policy, env, { episodes: 4, seed: 1 });
    const random = await evaluateRandom(env, { episodes: 12, seed: 2 });
    assert.ok(
      learned.meanReturn > random.meanReturn + 0.2,
      `PPO ${learned.meanReturn} vs random ${random.meanReturn}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
