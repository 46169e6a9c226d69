import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createBandit,
  createRng,
  loadBanditFile,
  normalizePolicy,
  readBanditState,
  restoreBandit,
  sampleBeta,
  saveBanditFile,
} from "../../learning/mod.ts";

const TOOLS = ["grep", "esearch", "plan", "ctx"];

function run(policy: string, seed: number, steps: number, rewardOf: (tool: string) => number) {
  const bandit = createBandit({ policy, tools: TOOLS, seed });
  const picks = new Map<string, number>();
  for (let i = 0; i < steps; i++) {
    const tool = bandit.select();
    picks.set(tool, (picks.get(tool) ?? 0) + 1);
    bandit.update(tool, rewardOf(tool));
  }
  return { bandit, picks };
}

for (const policy of ["epsilon-greedy", "ucb1", "thompson"]) {
  Deno.test(`${policy}: shifts toward the rewarded tool`, () => {
    const rng = createRng(99);
    const reward = (tool: string) => (tool === "esearch" ? (rng() < 0.9 ? 1 : 0) : (rng() < 0.2 ? 1 : 0));
    const { bandit, picks } = run(policy, 7, 400, reward);
    assert.ok(
      (picks.get("esearch") ?? 0) > 400 * 0.6,
      `${policy} picked esearch ${picks.get("esearch")} times`,
    );
    assert.deepEqual(bandit.ranking()[0].tool, "esearch");
  });
}

Deno.test("seeded bandits are reproducible", () => {
  const a = run("thompson", 3, 50, (t) => (t === "plan" ? 1 : 0)).picks;
  const b = run("thompson", 3, 50, (t) => (t === "plan" ? 1 : 0)).picks;
  assert.deepEqual([...a.entries()].sort(), [...b.entries()].sort());
});

Deno.test("policy aliases and bad input", () => {
  assert.deepEqual(normalizePolicy("eps"), "epsilon-greedy");
  assert.deepEqual(normalizePolicy("UCB"), "ucb1");
  assert.deepEqual(normalizePolicy("ts"), "thompson");
  assert.throws(() => normalizePolicy("softmax"), /unknown bandit policy/);
  assert.throws(() => createBandit({ tools: [] }), /at least one arm/);
  assert.throws(() => createBandit({ tools: ["a", "a"] }), /twice/);
  assert.throws(() => createBandit({ tools: ["a"], epsilon: 2 }), /epsilon/);
  const b = createBandit({ tools: ["a"] });
  assert.throws(() => b.update("a", NaN), /finite/);
  assert.throws(() => b.update(5, 1), /out of range/);
});

Deno.test("ucb tries every arm once before exploiting any", () => {
  for (let seed = 0; seed < 20; seed++) {
    const tools = ["a", "b", "c", "d"];
    const b = createBandit({ policy: "ucb1", tools, seed });
    const firstPicks: string[] = [];
    for (let i = 0; i < tools.length; i++) {
      const pick = b.select();
      firstPicks.push(pick);
      // The first arm pays off fully and the rest pay nothing, so anything but "untried arms first" would
      // pick the first arm again.
      b.update(pick, i === 0 ? 1 : 0);
    }
    assert.deepEqual(
      [...firstPicks].sort(),
      tools,
      `seed ${seed}: the first ${tools.length} UCB picks were ${firstPicks.join(", ")}`,
    );
    assert.deepEqual(b.counts(), [1, 1, 1, 1]);
  }
});

Deno.test("update with an unknown arm adds it", () => {
  const b = createBandit({ policy: "ucb1", tools: ["a", "b", "c"], seed: 1 });
  b.update("new", 1);
  assert.deepEqual(b.tools, ["a", "b", "c", "new"]);
  assert.deepEqual(b.counts(), [0, 0, 0, 1]);
});

Deno.test("beta sampler has the right mean", () => {
  const rng = createRng(5);
  let sum = 0;
  for (let i = 0; i < 4000; i++) sum += sampleBeta(2, 6, rng);
  assert.ok(Math.abs(sum / 4000 - 0.25) < 0.02);
  for (let i = 0; i < 200; i++) {
    const x = sampleBeta(0.3, 0.5, rng);
    assert.ok(x >= 0 && x <= 1);
  }
});

Deno.test("state survives a restart (file round trip) for every policy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const policy of ["epsilon-greedy", "ucb1", "thompson"]) {
      const path = join(dir, ".dspy_rl_state.json");
      const b = createBandit({ policy, tools: TOOLS, seed: 2 });
      for (let i = 0; i < 30; i++) b.update("plan", 1);
      b.update("grep", 0);
      await saveBanditFile(path, b);
      const raw = JSON.parse(await Deno.readTextFile(path));
      assert.deepEqual(raw.policy, policy);
      assert.deepEqual(raw.tools, TOOLS);
      assert.deepEqual(raw.counts, [1, 0, 30, 0]);
      assert.deepEqual(raw.values.length, 4);
      const again = await loadBanditFile(path, { policy, tools: TOOLS, seed: 4 });
      assert.deepEqual(again.counts(), b.counts());
      assert.deepEqual(again.values(), b.values());
      let plan = 0;
      for (let i = 0; i < 50; i++) {
        const pick = again.select();
        if (pick === "plan") plan++;
        again.update(pick, pick === "plan" ? 1 : 0);
      }
      assert.ok(plan > 22, `${policy}: restored bandit chose plan ${plan}/50`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("restore merges arm lists and switches policy keeping statistics", () => {
  const b = createBandit({ policy: "epsilon-greedy", tools: ["a", "b"] });
  for (let i = 0; i < 10; i++) b.update("b", 1);
  const r = restoreBandit(b.toState(), { policy: "thompson", tools: ["c", "b"] });
  assert.deepEqual(r.tools, ["c", "b", "a"]);
  assert.deepEqual(r.counts(), [0, 10, 0]);
  assert.ok(r.values()[1] > 0.85);
});

Deno.test("readBanditState: missing → null, corrupt → clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readBanditState(dir), null);
    await Deno.writeTextFile(join(dir, ".dspy_rl_state.json"), "{not json");
    await assert.rejects(() => readBanditState(dir), /delete it/);
    await Deno.writeTextFile(
      join(dir, ".dspy_rl_state.json"),
      JSON.stringify({ policy: "eps", tools: ["a"], values: [], counts: [1] }),
    );
    await assert.rejects(() => readBanditState(dir), /values/);
    const fresh = await loadBanditFile(join(dir, ".dspy_rl_state.json"), {
      tools: ["a"],
      onCorrupt: "fresh",
    });
    assert.deepEqual(fresh.counts(), [0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
