/**
 * RL benchmark (`deno task bench:rl [--quick] [--json] [--rounds N] [--ref-steps N]`). Every ratio is
 * against a baseline measured in this run, on this machine:
 *
 * 1. CartPole-v1 throughput against our PyTorch reference (`bench/reference/ppo_cartpole_torch.py`, a
 *    CleanRL-style PPO on Debian's `python3-torch`), run interleaved with ours for `--rounds` rounds
 *    (seeds 1, 2, 3, ...); ratios are of the medians:
 *    (a) our trainer at exactly the reference's hyper-parameters and step count (the cost of our numerics);
 *    (b) our default CartPole configuration over 150k steps (the one that must solve) against the
 *        reference at its defaults (what a user gets). Goal: (b) ≥ 10×.
 *    Exits 1 with the install command when python3-torch is missing.
 * 2. Scaling with env workers: CartPole (cheap steps) and the coding-tool env (subprocess steps), against
 *    the in-thread vector env of the same run.
 * 3. The coding-tool env on a seeded repo: learned policies (bandit, PPO) against uniform random.
 * 4. Numerics: our typed-array MLP against tfjs (CPU and WASM backends), forward + backward of the
 *    64×64 actor and critic per minibatch.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  builtinEnvSpec,
  createActorCritic,
  createInThreadVectorEnv,
  createWorkerVectorEnv,
  evaluatePolicy,
  evaluateRandom,
  makeToolEnv,
  mlpBackward,
  mlpBuffers,
  mlpForward,
  Rng,
  setMlpBackend,
  trainBandit,
  trainPufferPolicy,
} from "../rl/mod.ts";
import { seededRepo, seededToolOptions } from "../tests/rl/helpers.ts";
import { median } from "./stats.ts";
import { cpuSeconds } from "./proc_cpu.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    rounds: { type: "string" },
    "ref-steps": { type: "string" },
    "skip-rest": { type: "boolean", default: false },
  },
});
const quick = flags.quick;
const json = flags.json;
const log = (s: string) => {
  if (!json) console.log(s);
};
/** The Python that has python3-torch: Debian's, not a pyenv shim that may come first on PATH. */
const PYTHON = Deno.env.get("DSPY_BENCH_PYTHON") ?? "/usr/bin/python3";
const REFERENCE = join(dirname(fileURLToPath(import.meta.url)), "reference", "ppo_cartpole_torch.py");
/** The reference's hyper-parameters (CleanRL's ppo.py defaults), for our trainer in case (a). */
const REFERENCE_CONFIG = {
  nEnvs: 4,
  rolloutLength: 128,
  epochs: 4,
  minibatches: 4,
  lr: 2.5e-4,
  lrAnneal: true,
  gamma: 0.99,
  gaeLambda: 0.95,
  clip: 0.2,
  clipValue: true,
  entropyCoef: 0.01,
  vfCoef: 0.5,
  gradClip: 0.5,
  hidden: [64, 64],
  replayBatch: 0,
};

function table(headers: string[], rows: (string | number)[][]): void {
  if (json) return;
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  for (const [k, r] of cells.entries()) {
    console.log(
      r.map((c, i) => (typeof rows[0]?.[i] === "number" ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(
        "  ",
      ),
    );
    if (k === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

async function loadavg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

const loadStart = await loadavg();
log(
  `machine: ${navigator.hardwareConcurrency} cores, load average ${loadStart} at the start ` +
    "(shared machine: absolute figures are pessimistic; the ratios are of runs interleaved in this run)",
);

// ---------------------------------------------------------------------------------------------- 1
interface ReferenceRun {
  steps: number;
  steps_per_s: number;
  steps_per_cpu_s: number;
  wall_s: number;
  mean_return_last100: number | null;
  solved_at_step: number | null;
  torch: string;
  threads: number;
}

/** Checks that Debian's python3-torch imports; exits 1 with the install command when it does not. */
async function requireTorch(): Promise<void> {
  let out: Deno.CommandOutput | null = null;
  try {
    out = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch, numpy"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    // PYTHON itself is missing.
  }
  if (out?.success) return;
  const why = out ? new TextDecoder().decode(out.stderr).trim().split("\n").pop() : `${PYTHON} not found`;
  console.error(
    `bench:rl needs PyTorch for its baseline (${why}).\n` +
      "Install Debian's build: apt-get install -y python3-torch python3-numpy\n" +
      "(or point DSPY_BENCH_PYTHON at a python3 that has torch and numpy).",
  );
  Deno.exit(1);
}

/** CPU time of this process (user + system) in seconds (proc_cpu.ts); NaN where there is no `/proc`. */
function processCpuS(): number {
  try {
    return cpuSeconds("self");
  } catch {
    return NaN;
  }
}

async function runReference(steps: number, seed: number): Promise<ReferenceRun> {
  const out = await new Deno.Command(PYTHON, {
    args: [REFERENCE, "--steps", String(steps), "--seed", String(seed)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `the PyTorch reference failed (exit ${out.code}): ${text}\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(text.split("\n").pop()!);
}

await requireTorch();
const rounds = Number(flags.rounds ?? (quick ? 1 : 3));
// 150k steps is the solve budget of our default; the reference runs as many (fewer with --quick, since it
// is the slow side: its throughput is steady from the first update).
const refSteps = Number(flags["ref-steps"] ?? (quick ? 51_200 : 150_000));
const ourSteps = 150_000;
const runs: Record<string, unknown>[] = [];
for (let round = 0; round < rounds; round++) {
  const seed = round + 1;
  const ref = await runReference(refSteps, seed);
  runs.push({
    config: `PyTorch reference (torch ${ref.torch}, ${ref.threads} thread)`,
    key: "ref",
    seed,
    steps: ref.steps,
    steps_per_s: Math.round(ref.steps_per_s),
    steps_per_cpu_s: Math.round(ref.steps_per_cpu_s),
    wall_s: ref.wall_s,
    mean_return_last100: ref.mean_return_last100,
    solved_at_step: ref.solved_at_step,
  });
  let cpu0 = processCpuS();
  const a = await trainPufferPolicy({
    env: "cartpole",
    steps: ref.steps,
    seed,
    solveThreshold: 475,
    ...REFERENCE_CONFIG,
  });
  const cpuA = processCpuS() - cpu0;
  cpu0 = processCpuS();
  const b = await trainPufferPolicy({ env: "cartpole", steps: ourSteps, seed, solveThreshold: 475 });
  const cpuB = processCpuS() - cpu0;
  for (
    const [key, config, r, cpu] of [
      ["a", "(a) ours, the reference's hyper-parameters", a, cpuA],
      ["b", "(b) ours, default CartPole config", b, cpuB],
    ] as const
  ) {
    runs.push({
      config,
      key,
      seed,
      steps: r.steps,
      steps_per_s: Math.round(r.stepsPerS),
      steps_per_cpu_s: Math.round(r.steps / cpu),
      wall_s: Number(r.wallS.toFixed(2)),
      mean_return_last100: r.meanReturnLast100 === null ? null : Number(r.meanReturnLast100.toFixed(1)),
      solved_at_step: r.solvedAtStep,
    });
  }
}
const loadAfterCartpole = await loadavg();
const med = (key: string) => median(runs.filter((r) => r.key === key).map((r) => r.steps_per_s as number));
const refMedian = med("ref");
const ratioA = med("a") / refMedian;
const ratioB = med("b") / refMedian;
const medCpu = (key: string) =>
  median(runs.filter((r) => r.key === key).map((r) => r.steps_per_cpu_s as number));
const cpuRatioA = medCpu("a") / medCpu("ref");
const cpuRatioB = medCpu("b") / medCpu("ref");
log(
  `\nCartPole-v1: ${rounds} interleaved round(s) (reference, (a), (b)); the reference and (a) run ${refSteps} ` +
    `env steps, (b) ${ourSteps} (solved = last-100 mean ≥ 475)`,
);
table(
  ["config", "seed", "env steps", "steps/s", "steps/CPU-s", "wall s", "last-100 mean", "solved at step"],
  runs.map((c) => [
    String(c.config),
    Number(c.seed),
    Number(c.steps),
    Number(c.steps_per_s),
    Number(c.steps_per_cpu_s),
    Number(c.wall_s),
    c.mean_return_last100 === null ? "-" : Number(c.mean_return_last100),
    c.solved_at_step === null ? "-" : Number(c.solved_at_step),
  ]),
);
log(
  `medians: reference ${Math.round(refMedian)} steps/s, (a) ${Math.round(med("a"))}, (b) ${
    Math.round(med("b"))
  }` +
    `\nratio (a) ours at the reference's hyper-parameters / reference: ${ratioA.toFixed(1)}×` +
    `\nratio (b) ours at our defaults / reference at its defaults:    ${ratioB.toFixed(1)}× ` +
    `(goal ≥ 10×: ${ratioB >= 10 ? "met" : "MISSED"})` +
    `\nby CPU time (steps per CPU-second of each process, less sensitive to other load): ` +
    `(a) ${cpuRatioA.toFixed(1)}×, (b) ${cpuRatioB.toFixed(1)}×` +
    `\nload average: ${loadStart} before, ${loadAfterCartpole} after`,
);
const cartpoleSummary = {
  rounds,
  reference_steps: refSteps,
  our_steps: ourSteps,
  runs,
  median_steps_per_s: { reference: refMedian, a: med("a"), b: med("b") },
  ratio_a: Number(ratioA.toFixed(2)),
  ratio_b: Number(ratioB.toFixed(2)),
  median_steps_per_cpu_s: { reference: medCpu("ref"), a: medCpu("a"), b: medCpu("b") },
  cpu_ratio_a: Number(cpuRatioA.toFixed(2)),
  cpu_ratio_b: Number(cpuRatioB.toFixed(2)),
  loadavg: { before: loadStart, after: loadAfterCartpole },
};
if (flags["skip-rest"]) {
  if (json) {
    console.log(
      JSON.stringify({ machine: { cores: navigator.hardwareConcurrency }, cartpole: cartpoleSummary }),
    );
  }
  Deno.exit(0);
}

// ---------------------------------------------------------------------------------------------- 2
const scaling: Record<string, unknown>[] = [];
const scaleSteps = quick ? 20_000 : 40_000;
// Best of two short runs per setting: the machine is shared, so single runs are noisy.
for (const workers of [0, 1, 2, 4]) {
  let best = 0;
  for (let rep = 0; rep < 2; rep++) {
    const r = await trainPufferPolicy({
      env: "cartpole",
      steps: scaleSteps,
      seed: 1,
      nEnvs: 8,
      envWorkers: workers,
    });
    best = Math.max(best, r.stepsPerS);
  }
  scaling.push({ env: "cartpole (PPO, 8 envs)", workers, steps_per_s: Math.round(best) });
}
const repo = await seededRepo();
const waitOpts = seededToolOptions(repo, ["shell_run"]);
waitOpts.actionArgs.shell_run = { command: ["sleep", "0.05"] };
const toolFlavours = [
  {
    label: "tool env (ls/build subprocesses, 4 envs)",
    opts: seededToolOptions(repo, ["shell_ls", "shell_pwd", "build"]),
  },
  { label: "tool env (a 50 ms waiting step, 4 envs)", opts: waitOpts },
];
for (const flavour of toolFlavours) {
  for (const workers of [0, 1, 2, 4]) {
    const spec = builtinEnvSpec("tool", flavour.opts as unknown as Record<string, unknown>);
    const vec = workers === 0
      ? await createInThreadVectorEnv(spec, 4)
      : await createWorkerVectorEnv({ spec, nEnvs: 4, workers });
    await vec.reset(1);
    const n = quick ? 10 : 25;
    let sps = 0;
    for (let rep = 0; rep < 2; rep++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        await vec.step(new Int32Array([0, 0, 0, 0].map((_, k) => (i + k) % vec.actionCount)));
      }
      sps = Math.max(sps, (n * 4) / ((performance.now() - t0) / 1000));
    }
    await vec.close();
    scaling.push({ env: flavour.label, workers, steps_per_s: Math.round(sps) });
  }
}
for (const s of scaling) {
  const inThread = scaling.find((o) => o.env === s.env && o.workers === 0)!;
  s.vs_in_thread = Number(((s.steps_per_s as number) / (inThread.steps_per_s as number)).toFixed(2));
}
log("\nScaling with env workers (0 = envs on the learner's thread, the baseline; best of 2 runs)");
table(
  ["env", "workers", "env steps/s", "vs in-thread"],
  scaling.map((s) => [String(s.env), Number(s.workers), Number(s.steps_per_s), Number(s.vs_in_thread)]),
);

// ---------------------------------------------------------------------------------------------- 3
const toolActions = ["run_tests", "lint", "build", "patch", "shell_ls", "shell_pwd"];
const env = makeToolEnv(seededToolOptions(repo, toolActions));
const random = await evaluateRandom(env, { episodes: 18, seed: 1 });
const bandit = await trainBandit({ env, steps: 30, policy: "ucb1", seed: 1 });
const bestArm = env.actionNames.indexOf(bandit.bandit.ranking()[0].tool as typeof env.actionNames[number]);
let banditReturn = 0;
for (let i = 0; i < 6; i++) {
  env.reset();
  banditReturn += (await env.step(bestArm)).reward / 6;
}
const ppo = await trainPufferPolicy({
  makeEnv: () => makeToolEnv(seededToolOptions(repo, toolActions)),
  nEnvs: 1,
  rolloutLength: 8,
  minibatches: 2,
  steps: quick ? 96 : 160,
  seed: 1,
});
const ppoEval = await evaluatePolicy(ppo.policy, env, { episodes: 6, seed: 1 });
await Deno.remove(repo, { recursive: true });
const toolRows = [
  ["uniform random", Number(random.meanReturn.toFixed(3)), "-"],
  ["UCB1 bandit, 30 steps (greedy arm)", Number(banditReturn.toFixed(3)), bandit.bandit.ranking()[0].tool],
  [`PPO, ${ppo.steps} steps (greedy)`, Number(ppoEval.meanReturn.toFixed(3)), "-"],
];
log(
  "\nCoding-tool env on a seeded repo (1 failing test, 1 lint error, a fixing patch): mean reward per step",
);
table(["policy", "mean reward", "learned best"], toolRows);

// ---------------------------------------------------------------------------------------------- 4
async function timeIt(fn: () => void, minMs: number): Promise<number> {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    n++;
  }
  await Promise.resolve();
  return n / ((performance.now() - t0) / 1000);
}
const numerics: Record<string, unknown>[] = [];
const rng = new Rng(1);
const net = createActorCritic({ obsSize: 4, actionCount: 2, hidden: [64, 64] }, rng);
const grads = new Float64Array(net.params.length);
for (const backend of ["js", "wasm"] as const) {
  const previous = setMlpBackend(backend);
  for (const B of [8, 32, 256]) {
    const x = new Float64Array(B * 4).map(() => rng.normal());
    const da = new Float64Array(B * 2).map(() => rng.normal());
    const dc = new Float64Array(B).map(() => rng.normal());
    const ba = mlpBuffers(net.actor, B), bc = mlpBuffers(net.critic, B);
    const perSec = await timeIt(() => {
      mlpForward(net.params, net.actor, x, B, ba);
      mlpForward(net.params, net.critic, x, B, bc);
      mlpBackward(net.params, grads, net.actor, da, B, ba);
      mlpBackward(net.params, grads, net.critic, dc, B, bc);
    }, quick ? 400 : 1000);
    const engine = backend === "js"
      ? "ours, JS Float64Array loops"
      : "ours, WebAssembly SIMD kernel (default)";
    numerics.push({ engine, batch: B, samples_per_s: Math.round(perSec * B) });
  }
  setMlpBackend(previous);
}
// tfjs greets Node-like runtimes on stdout; keep stdout clean for --json while it runs.
const consoleLog = console.log;
const consoleWarn = console.warn;
try {
  console.log = () => {};
  console.warn = () => {};
  const tf = await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-wasm");
  for (const backend of ["cpu", "wasm"]) {
    await tf.setBackend(backend);
    await tf.ready();
    const mk = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, 0.1));
    const vars = [
      mk([4, 64]),
      mk([64]),
      mk([64, 64]),
      mk([64]),
      mk([64, 2]),
      mk([2]),
      mk([4, 64]),
      mk([64]),
      mk([64, 64]),
      mk([64]),
      mk([64, 1]),
      mk([1]),
    ];
    for (const B of [8, 32, 256]) {
      const x = tf.randomNormal([B, 4]);
      const ra = tf.randomNormal([B, 2]);
      const rc = tf.randomNormal([B, 1]);
      const step = () =>
        tf.tidy(() => {
          const { grads: g } = tf.variableGrads(() => {
            const mlp = (o: number) =>
              tf.add(
                tf.matMul(
                  tf.tanh(
                    tf.add(
                      tf.matMul(tf.tanh(tf.add(tf.matMul(x, vars[o]), vars[o + 1])), vars[o + 2]),
                      vars[o + 3],
                    ),
                  ),
                  vars[o + 4],
                ),
                vars[o + 5],
              );
            return tf.add(tf.sum(tf.mul(mlp(0), ra)), tf.sum(tf.mul(mlp(6), rc))) as ReturnType<
              typeof tf.scalar
            >;
          });
          Object.values(g).forEach((t) => t.dataSync());
        });
      const perSec = await timeIt(step, quick ? 400 : 1000);
      numerics.push({
        engine: `tfjs ${tf.version_core} ${backend}`,
        batch: B,
        samples_per_s: Math.round(perSec * B),
      });
      tf.dispose([x, ra, rc]);
    }
    tf.dispose(vars);
  }
} catch (err) {
  console.log = consoleLog;
  numerics.push({
    engine: `tfjs unavailable: ${(err as Error).message.slice(0, 80)}`,
    batch: 0,
    samples_per_s: 0,
  });
}
console.log = consoleLog;
console.warn = consoleWarn;
log("\nNumerics: forward + backward of the 64×64 actor and critic (samples/s, higher is better)");
table(
  ["engine", "batch", "samples/s"],
  numerics.map((n) => [String(n.engine), Number(n.batch), Number(n.samples_per_s)]),
);

if (json) {
  console.log(JSON.stringify({
    machine: { cores: navigator.hardwareConcurrency, loadavg: { start: loadStart, end: await loadavg() } },
    cartpole: cartpoleSummary,
    scaling,
    tool_env: Object.fromEntries(toolRows.map((r) => [r[0], r[1]])),
    numerics,
  }));
}
