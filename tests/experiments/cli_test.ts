/**
 * The experiments CLI through the real binary entry (`deno run main.ts`) in temp workspaces: embed runs
 * with the tiny model and through a live `embed serve` subprocess, status/list/history/compare/cancel,
 * usage errors (exit 2), a killed run shown `interrupted` at the next start, schedules
 * (add/list/pause/resume/remove, `schedule run`, a skipped overlapping firing) and `datasets preview`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { closeAllKv } from "../../core/kv.ts";
import { fireSchedule, getSchedule, requireExperiment } from "../../experiments/mod.ts";
import { MAIN_TS, runDspy } from "../support/cli.ts";
import { experimentWorkspace, TINY_BERT, waitFor } from "./helpers.ts";

function cli(ws: string, ...args: string[]) {
  return runDspy(["--workspace", ws, ...args]);
}

async function json(ws: string, ...args: string[]) {
  const r = await cli(ws, "--json", ...args);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Starts `embed serve` on port 0 and returns its URL (from the line it prints). */
async function embedServe(): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "embed", "serve", "--model", `tiny=${TINY_BERT}`, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  let text = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const errText = new Response(child.stderr).text();
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
  }
  if (!url) throw new Error(`embed serve printed no URL: ${text} ${await errText}`);
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
      await errText;
    },
  };
}

Deno.test("CLI: run embed (tiny model, embed serve), status, list, history, compare, preview", async () => {
  const ws = await experimentWorkspace();
  const serve = await embedServe();
  try {
    const local = await json(
      ws,
      "experiments",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
      "--model-path",
      "models/tiny-bert",
      "--batch-size",
      "64",
    );
    assert.equal(local.status, "done", local.error);
    assert.equal(local.trigger, "cli");
    assert.equal(local.metrics.texts, 500);
    assert.equal(local.metrics.dims, 16);
    const im = await json(
      ws,
      "experiments",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
      "--backend",
      "infermesh",
      "--infermesh-url",
      serve.url,
      "--model",
      "tiny",
    );
    assert.equal(im.status, "done", im.error);
    assert.equal(im.metrics.backend, "infermesh");
    assert.equal(im.metrics.texts, 500);

    const st = await json(ws, "experiments", "status", local.id);
    assert.equal(st.id, local.id);
    const list = await json(ws, "experiments", "list");
    assert.deepEqual(list.map((r: { id: string }) => r.id), [im.id, local.id]);
    const hist = await cli(ws, "experiments", "history", "--json");
    const rows = hist.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.id), [local.id, im.id]);
    const table = await cli(ws, "experiments", "compare", local.id, im.id, "--plain");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`metric\\s+${local.id}\\s+${im.id}`));
    assert.match(table.stdout, /backend\s+local\s+infermesh/);
    assert.match(table.stdout, /texts_per_s\s+[\d.]+\s+[\d.]+/);
    const logs = await cli(ws, "experiments", "logs", local.id);
    assert.match(logs.stdout, /^\[exp /);
    assert.match(logs.stdout, /\[done\] items=500/);

    const prev = await cli(ws, "datasets", "preview", "data/d.jsonl");
    assert.equal(prev.code, 0);
    assert.equal(prev.stdout.trim().split("\n").length, 5);

    for (
      const args of [
        ["experiments"],
        ["experiments", "bogus"],
        ["experiments", "run", "embed"],
        ["experiments", "run", "embed", "--dataset", "../x"],
        ["experiments", "run", "embed", "--dataset", "data/d.jsonl", "--batch-size", "0"],
        ["experiments", "run", "rl", "--env", "doom"],
        ["experiments", "compare", local.id],
        [
          "experiments",
          "schedule",
          "add",
          "n",
          "--cron",
          "* * *",
          "--",
          "run",
          "embed",
          "--dataset",
          "data/d.jsonl",
        ],
        ["experiments", "schedule", "add", "n", "--cron", "0 3 * * *"],
        ["datasets", "preview", "/etc/passwd"],
      ]
    ) {
      const r = await cli(ws, ...args);
      assert.equal(r.code, 2, `${args.join(" ")} -> ${r.code}: ${r.stderr}`);
    }
    const badCron = await cli(
      ws,
      "experiments",
      "schedule",
      "add",
      "n",
      "--cron",
      "0 25 * * *",
      "--",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
    );
    assert.match(badCron.stderr, /hour 25 is outside 0-23/);
    assert.match(badCron.stderr, /expected 5 fields "MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK"/);
    const unknown = await cli(ws, "experiments", "status", "ffff00000000");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no experiment 'ffff00000000'/);
  } finally {
    await serve.stop();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("CLI: run embed and sweep with the built-in sentence encoder (backend use); a wrong model is exit 2", async () => {
  const ws = await experimentWorkspace(60);
  try {
    const embedUse = "experiments run embed --dataset data/d.jsonl --backend use".split(" ");
    const run = await json(ws, ...embedUse);
    assert.equal(run.status, "done", run.error);
    assert.equal(run.metrics.backend, "use");
    assert.equal(run.metrics.model, "universal-sentence-encoder-lite");
    assert.equal(run.metrics.texts, 60);
    assert.equal(run.metrics.embedded, 60);
    assert.equal(run.metrics.dims, 512);
    // A sweep over the encoder's text modes: one cell per model, each a finished embed run.
    const sweep = await json(
      ws,
      ..."experiments sweep --dataset data/d.jsonl --backend use --batch-sizes 32 --models".split(" "),
      "universal-sentence-encoder-lite,universal-sentence-encoder-lite:raw",
    );
    assert.equal(sweep.status, "done", sweep.error);
    const models = (sweep.metrics.results as { model: string; status: string }[]).map((c) => c.model).sort();
    assert.deepEqual(models, ["universal-sentence-encoder-lite", "universal-sentence-encoder-lite:raw"]);
    const wrong = await cli(ws, ...embedUse, "--model", "bge-small");
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /the use backend runs universal-sentence-encoder-lite/);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("CLI: a killed run is interrupted at the next start; cancel stops a running one", async () => {
  const ws = await experimentWorkspace(20);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_TS,
        "--workspace",
        ws,
        "--json",
        "experiments",
        "run",
        "rl",
        "--steps",
        "20000000",
      ],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const childErr = new Response(child.stderr).text();
    let childExited = false;
    child.status.then(() => childExited = true);
    const list = () => json(ws, "experiments", "list");
    const running = await waitFor(
      async () => {
        if (childExited) throw new Error(`the run exited early: ${await childErr}`);
        return (await list()).find((r: { status: string }) => r.status === "running");
      },
      90_000,
      "a running run",
    );
    child.kill("SIGKILL");
    await child.status;
    await childErr;
    const after = await json(ws, "experiments", "status", running.id);
    assert.equal(after.status, "interrupted");
    assert.match(after.error, new RegExp(`pid ${running.owner.pid}`));
    const logs = await cli(ws, "experiments", "logs", running.id);
    assert.match(logs.stdout, /\[interrupted\]/);

    // cancel from another process stops a run within seconds.
    const child2 = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN_TS,
        "--workspace",
        ws,
        "--json",
        "experiments",
        "run",
        "rl",
        "--steps",
        "20000000",
      ],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const output = child2.output();
    let exited = false;
    output.then(() => exited = true, () => exited = true);
    const run2 = await waitFor(
      async () => {
        if (exited) {
          const o = await output;
          throw new Error(`the second run exited early (${o.code}): ${new TextDecoder().decode(o.stderr)}`);
        }
        return (await list()).find((r: { status: string; id: string }) =>
          r.status === "running" && r.id !== running.id
        );
      },
      90_000,
      "the second run",
    );
    const t0 = Date.now();
    const c = await json(ws, "experiments", "cancel", run2.id);
    assert.equal(c.status, "cancelled");
    assert.ok(Date.now() - t0 < 15_000);
    const out = await output;
    assert.equal(out.code, 1);
    assert.equal(JSON.parse(new TextDecoder().decode(out.stdout)).status, "cancelled");
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("CLI: schedules add/list/pause/resume/remove, schedule run, an overlapping firing is skipped", async () => {
  const ws = await experimentWorkspace(30);
  try {
    const add = await json(
      ws,
      "experiments",
      "schedule",
      "add",
      "q",
      "--cron",
      "0 3 * * *",
      "--",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
      "--backend",
      "hash",
    );
    assert.match(add.next_fire, /T03:00:00\.000Z$/);
    const dup = await cli(
      ws,
      "experiments",
      "schedule",
      "add",
      "q",
      "--cron",
      "0 4 * * *",
      "--",
      "run",
      "embed",
      "--dataset",
      "data/d.jsonl",
    );
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /--replace/);
    const esc = await cli(
      ws,
      "experiments",
      "schedule",
      "add",
      "e",
      "--cron",
      "0 4 * * *",
      "--",
      "run",
      "embed",
      "--dataset",
      "/etc/passwd",
    );
    assert.equal(esc.code, 2);
    let list = await json(ws, "experiments", "schedule", "list");
    assert.equal(list.length, 1);
    assert.equal(list[0].paused, false);
    await json(ws, "experiments", "schedule", "pause", "q");
    list = await json(ws, "experiments", "schedule", "list");
    assert.equal(list[0].paused, true);
    assert.equal(list[0].next_fire, null);
    await json(ws, "experiments", "schedule", "resume", "q");
    const plain = await cli(ws, "experiments", "schedule", "list", "--plain");
    assert.match(plain.stdout, /q\s+0 3 \* \* \*\s+active\s+\d{4}-\d\d-\d\dT03:00:00\.000Z/);

    const fired = await json(ws, "experiments", "schedule", "run", "q");
    assert.equal(fired.status, "done");
    assert.equal(fired.trigger, "cron:q");

    // Overlap: the first firing's run is still queued (nobody runs it), so the second is skipped.
    const first = await fireSchedule(ws, "q", { kick: false });
    assert.equal(first.outcome, "started");
    const second = await fireSchedule(ws, "q", { kick: false });
    assert.equal(second.outcome, "skipped");
    assert.match(second.reason!, /still queued/);
    const rec = await getSchedule(ws, "q");
    assert.equal(rec.skipped, 1);
    assert.equal(rec.fired, 2);
    assert.equal((await requireExperiment(ws, first.experiment!)).trigger, "cron:q");
    await closeAllKv();
    const shown = await cli(ws, "experiments", "schedule", "list", "--plain");
    assert.match(shown.stdout, /skipped/);

    await json(ws, "experiments", "schedule", "remove", "q");
    assert.deepEqual(await json(ws, "experiments", "schedule", "list"), []);
    const gone = await cli(ws, "experiments", "schedule", "remove", "q");
    assert.equal(gone.code, 1);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("CLI: a finished sweep's panel shows the cell count and the cell ids under different labels", async () => {
  const ws = await experimentWorkspace(50);
  try {
    const r = await cli(
      ws,
      "--plain",
      "experiments",
      "sweep",
      "--dataset",
      "data/d.jsonl",
      "--backend",
      "hash",
      "--models",
      "hash-64,hash-128",
      "--batch-sizes",
      "16",
    );
    assert.equal(r.code, 0, r.stderr);
    const label = (name: string) => r.stdout.split("\n").filter((l) => new RegExp(`^\\s+${name}\\s`).test(l));
    assert.equal(label("cells").length, 1, r.stdout);
    assert.match(label("cells")[0], /cells\s+2$/);
    assert.match(label("cell ids")[0] ?? "", /cell ids\s+[0-9a-f]{16} [0-9a-f]{16}$/, r.stdout);
  } finally {
    await closeAllKv();
    await Deno.remove(ws, { recursive: true });
  }
});
