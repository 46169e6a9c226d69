/**
 * The experiments API on a real server (loopback port 0) in a temp workspace: embed runs on a 500-line
 * dataset with the tiny ONNX model and through a live InferMesh-compatible `embed serve`, status, the SSE
 * stream resumed with Last-Event-ID, history, compare, cancel (running and queued), 404s, 400s for bad
 * bodies and every path-escape form, and the admin rules with ADMIN_KEY.
 *
 * @module
 */

import assert from "node:assert/strict";
import { loadServedModels, startEmbedServer } from "../../embeddings/mod.ts";
import { maxDatasetBytes, stopAllRunners } from "../../experiments/mod.ts";
import { saveGuardThresholds } from "../../core/guard.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { SseReader, withServer } from "../server/helpers.ts";
import { experimentWorkspace, TINY_BERT, waitFor } from "./helpers.ts";

const JSON_HEADERS = { "content-type": "application/json" };

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function statusOf(url: string, id: string) {
  return await (await fetch(`${url}/api/experiments/status?id=${id}`)).json();
}

async function waitDone(url: string, id: string, timeoutMs = 60_000) {
  return await waitFor(
    async () => {
      const s = await statusOf(url, id);
      return ["done", "failed", "cancelled", "interrupted"].includes(s.status) ? s : null;
    },
    timeoutMs,
    `experiment ${id} to end`,
  );
}

Deno.test("API: embed runs (tiny model, InferMesh), status, stream resume, history, compare", async () => {
  const ws = await experimentWorkspace();
  const models = await loadServedModels({ backend: "local", models: [`tiny=${TINY_BERT}`] });
  const infermesh = await startEmbedServer({ port: 0, models });
  try {
    await withServer({ workspace: ws }, async ({ url }) => {
      const local = await post(`${url}/api/experiments/run`, {
        dataset_path: "data/d.jsonl",
        model_path: "models/tiny-bert",
        batch_size: 64,
      });
      assert.equal(local.status, 200, JSON.stringify(local.body));
      assert.equal(local.body.ok, true);
      assert.match(local.body.id, /^[0-9a-f]{16}$/);
      const done = await waitDone(url, local.body.id);
      assert.equal(done.status, "done", done.error);
      assert.equal(done.trigger, "api");
      assert.equal(done.metrics.texts, 500);
      assert.equal(done.metrics.failures, 0);
      assert.equal(done.metrics.dims, 16);
      assert.equal(done.metrics.backend, "local");
      assert.ok(done.metrics.texts_per_s > 0);
      assert.ok(done.metrics.batch_p95_ms >= done.metrics.batch_p50_ms);
      assert.equal(done.progress.done, 500);
      assert.ok(done.logs.some((l: string) => l.startsWith("[done] items=500")));

      const im = await post(`${url}/api/experiments/run`, {
        dataset_path: "data/d.jsonl",
        infermesh_url: infermesh.url,
        model: "tiny",
        batch_size: 32,
        max_count: 200,
      });
      assert.equal(im.status, 200, JSON.stringify(im.body));
      const imDone = await waitDone(url, im.body.id);
      assert.equal(imDone.status, "done", imDone.error);
      assert.equal(imDone.metrics.backend, "infermesh");
      assert.equal(imDone.metrics.texts, 200);
      assert.equal(imDone.metrics.batches, 7);
      assert.equal(imDone.metrics.dims, 16);

      // The stream: read two lines, drop the connection, resume after line 1: line 2 again, then the rest
      // and a done event.
      const s1 = await fetch(`${url}/api/experiments/stream?id=${local.body.id}`);
      const r1 = new SseReader(s1);
      const a = await r1.nextEvent();
      const b = await r1.nextEvent();
      assert.equal(a?.id, "1");
      assert.equal(b?.id, "2");
      assert.match(JSON.parse(a!.data!), /^\[exp /);
      await r1.cancel();
      const s2 = await fetch(`${url}/api/experiments/stream?id=${local.body.id}`, {
        headers: { "last-event-id": "1" },
      });
      const r2 = new SseReader(s2);
      const frames = [];
      while (true) {
        const f = await r2.nextEvent();
        if (!f) break;
        frames.push(f);
        if (f.event === "done") break;
      }
      assert.equal(frames[0].id, "2");
      assert.equal(frames[0].data, b!.data);
      const doneFrame = frames.at(-1)!;
      assert.equal(doneFrame.event, "done");
      assert.equal(JSON.parse(doneFrame.data!).status, "done");
      assert.ok(JSON.parse(frames.at(-2)!.data!).startsWith("[done]"));
      await r2.cancel();

      const hist = await (await fetch(`${url}/api/experiments/history`)).json();
      assert.deepEqual(hist.items.map((r: { id: string }) => r.id), [local.body.id, im.body.id]);
      const cmp = await (await fetch(`${url}/api/experiments/compare?ids=${local.body.id},${im.body.id}`))
        .json();
      const row = (m: string) => cmp.rows.find((r: { metric: string }) => r.metric === m).values;
      assert.deepEqual(row("backend"), ["local", "infermesh"]);
      assert.deepEqual(row("texts"), [500, 200]);

      const preview = await (await fetch(`${url}/api/datasets/preview?path=data/d.jsonl`)).json();
      assert.equal(preview.preview.length, 5);
      assert.match(preview.preview[0], /^line 0: /);
    });
  } finally {
    await stopAllRunners();
    await infermesh.close();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("API: cancel stops a running run and a queued one; unknown ids are 404", async () => {
  const ws = await experimentWorkspace(50);
  try {
    await withServer({ workspace: ws }, async ({ url }) => {
      const long = await post(`${url}/api/experiments/run`, {
        kind: "rl",
        env: "cartpole",
        steps: 5_000_000,
      });
      assert.equal(long.status, 200, JSON.stringify(long.body));
      const queued = await post(`${url}/api/experiments/run`, { dataset_path: "data/d.jsonl" });
      await waitFor(async () => (await statusOf(url, long.body.id)).status === "running", 20_000, "running");
      assert.equal((await statusOf(url, queued.body.id)).status, "queued");
      const c1 = await post(`${url}/api/experiments/cancel`, { id: queued.body.id });
      assert.equal(c1.body.status, "cancelled");
      const c2 = await post(`${url}/api/experiments/cancel`, { id: long.body.id });
      assert.equal(c2.status, 200);
      assert.equal(c2.body.cancel_requested, true);
      const end = await waitDone(url, long.body.id, 15_000);
      assert.equal(end.status, "cancelled");
      assert.ok(!end.progress || end.progress.done < 5_000_000);
      assert.equal((await statusOf(url, queued.body.id)).status, "cancelled");

      for (const path of ["status", "stream"]) {
        const res = await fetch(`${url}/api/experiments/${path}?id=ffffffffffff0000`);
        assert.equal(res.status, 404);
        await res.body?.cancel();
      }
      const noId = await fetch(`${url}/api/experiments/status`);
      assert.equal(noId.status, 400);
      assert.match((await noId.json()).error, /id required/);
      const unknownCancel = await post(`${url}/api/experiments/cancel`, { id: "nope" });
      assert.equal(unknownCancel.status, 404);
    });
  } finally {
    await stopAllRunners();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("API: bad bodies and every path-escape form are 400s that say why", async () => {
  const ws = await experimentWorkspace(20);
  const outside = await Deno.makeTempDir({ prefix: "dspy_out_" });
  await Deno.writeTextFile(`${outside}/secret.txt`, "secret\n");
  await Deno.symlink(`${outside}/secret.txt`, `${ws}/data/link.txt`);
  await Deno.symlink(outside, `${ws}/data/outdir`);
  await new Deno.Command("mkfifo", { args: [`${ws}/data/fifo.txt`] }).output();
  // Over the size limit without writing it: a sparse file. (Not a smaller limit through
  // DSPY_EXPERIMENT_MAX_BYTES: the environment is the whole test process's, and the other test files running
  // beside this one in parallel then refused their own datasets.)
  const big = await Deno.open(`${ws}/data/big.txt`, { create: true, write: true });
  await big.truncate(maxDatasetBytes() + 1);
  big.close();
  await Deno.writeTextFile(`${ws}/data/empty.jsonl`, '{"nottext": 1}\n\n');
  try {
    await withServer({ workspace: ws }, async ({ url }) => {
      const cases: [unknown, RegExp][] = [
        [{}, /dataset_path required/],
        [[], /JSON object/],
        [{ dataset_path: 5 }, /dataset_path must be a string/],
        [{ dataset_path: "data/d.jsonl", batch_size: 0 }, /batch_size must be a whole number/],
        [{ dataset_path: "data/d.jsonl", batch_size: "lots" }, /batch_size/],
        [{ dataset_path: "data/d.jsonl", backend: "gpu" }, /backend must be/],
        [{ dataset_path: "data/d.jsonl", infermesh_url: "ftp://x" }, /http or https/],
        [{ dataset_path: "data/d.jsonl", normalize: "maybe" }, /normalize must be true or false/],
        [{ kind: "bogus", dataset_path: "data/d.jsonl" }, /kind must be/],
        [{ kind: "rl", env: "doom" }, /env must be one of/],
        [{ dataset_path: "../secret.txt" }, /contains '\.\.'/],
        [{ dataset_path: "data/../../x" }, /contains '\.\.'/],
        [{ dataset_path: `${outside}/secret.txt` }, /outside the workspace/],
        [{ dataset_path: "/etc/passwd" }, /outside the workspace/],
        [{ dataset_path: "data/link.txt" }, /through a symlink/],
        [{ dataset_path: "data/outdir/secret.txt" }, /through a symlink/],
        [{ dataset_path: "data/fifo.txt" }, /not a regular file/],
        [{ dataset_path: "data" }, /not a regular file/],
        [{ dataset_path: "data/big.txt" }, new RegExp(`over the limit of ${maxDatasetBytes()} bytes`)],
        [{ dataset_path: "data/missing.jsonl" }, /does not exist/],
        [{ dataset_path: "data/empty.jsonl" }, /no texts loaded from data\/empty.jsonl/],
        [{ dataset_path: "data/d.jsonl", model_path: "../models" }, /contains '\.\.'/],
        [{ dataset_path: "data/d.jsonl", model_path: "data/d.jsonl" }, /not a folder/],
      ];
      for (const [body, re] of cases) {
        const res = await post(`${url}/api/experiments/run`, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.ok, false);
        assert.match(res.body.error, re, `${JSON.stringify(body)}: ${res.body.error}`);
      }
      const sweep = await post(`${url}/api/experiments/sweep`, {
        dataset_path: "data/d.jsonl",
        backend: "hash",
        models: ["bert"],
      });
      assert.equal(sweep.status, 400);
      assert.match(sweep.body.error, /hash-<dim>/);
      for (const p of ["../x", "/etc/passwd", "data/link.txt", "data/fifo.txt"]) {
        const res = await fetch(`${url}/api/datasets/preview?path=${encodeURIComponent(p)}`);
        assert.equal(res.status, 400, p);
        await res.body?.cancel();
      }
      const noPath = await fetch(`${url}/api/datasets/preview`);
      assert.deepEqual((await noPath.json()).error, "path required");
      const badCron = await post(`${url}/api/experiments/schedules`, {
        name: "n",
        cron: "every day",
        args: ["run", "embed", "--dataset", "data/d.jsonl"],
      });
      assert.equal(badCron.status, 400);
      assert.match(badCron.body.error, /expected 5 fields/);
      const badLast = await fetch(`${url}/api/experiments/stream?id=abc`, {
        headers: { "last-event-id": "x" },
      });
      assert.equal(badLast.status, 400);
      await badLast.body?.cancel();
      // Nothing was queued by any of these.
      const list = await (await fetch(`${url}/api/experiments/list`)).json();
      assert.equal(list.items.length, 0);
    });
  } finally {
    await stopAllRunners();
    await Deno.remove(ws, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("API: admin routes need X-Admin-Key when ADMIN_KEY is set; schedules over HTTP", async () => {
  const ws = await experimentWorkspace(20);
  try {
    await withServer({ workspace: ws, adminKey: "s3cret" }, async ({ url }) => {
      const body = { dataset_path: "data/d.jsonl" };
      for (const path of ["run", "sweep", "cancel", "schedules"]) {
        const none = await post(`${url}/api/experiments/${path}`, body);
        assert.equal(none.status, 401, path);
        const wrong = await post(`${url}/api/experiments/${path}`, body, { "x-admin-key": "nope" });
        assert.equal(wrong.status, 403, path);
      }
      const del = await fetch(`${url}/api/experiments/schedules?name=x`, {
        method: "DELETE",
        headers: JSON_HEADERS,
      });
      assert.equal(del.status, 401);
      await del.body?.cancel();
      const key = { "x-admin-key": "s3cret" };
      const ok = await post(`${url}/api/experiments/run`, body, key);
      assert.equal(ok.status, 200);
      assert.equal((await waitDone(url, ok.body.id)).status, "done");
      // Reads stay open.
      assert.equal((await fetch(`${url}/api/experiments/history`).then((r) => r.json())).items.length, 1);

      const add = await post(`${url}/api/experiments/schedules`, {
        name: "nightly",
        cron: "0 3 * * *",
        args: "run embed --dataset data/d.jsonl --backend hash",
      }, key);
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assert.match(add.body.schedule.next_fire, /T03:00:00.000Z$/);
      const paused = await post(
        `${url}/api/experiments/schedules`,
        { name: "nightly", action: "pause" },
        key,
      );
      assert.equal(paused.body.schedule.paused, true);
      assert.equal(paused.body.schedule.next_fire, null);
      const fired = await post(`${url}/api/experiments/schedules`, { name: "nightly", action: "run" }, key);
      assert.equal(fired.body.firing.outcome, "started");
      const exp = await waitDone(url, fired.body.firing.experiment);
      assert.equal(exp.trigger, "cron:nightly");
      const list = await (await fetch(`${url}/api/experiments/schedules`)).json();
      assert.equal(list.items[0].firings.at(-1).outcome, "started");
      const rm = await fetch(`${url}/api/experiments/schedules?name=nightly`, {
        method: "DELETE",
        headers: { ...JSON_HEADERS, ...key },
      });
      assert.equal(rm.status, 200);
      await rm.body?.cancel();
      const gone = await fetch(`${url}/api/experiments/schedules?name=nightly`, {
        method: "DELETE",
        headers: { ...JSON_HEADERS, ...key },
      });
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    });
  } finally {
    await stopAllRunners();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("API: a sweep runs one cell per model × batch size; cancelling it stops its cells; rl and --store", async () => {
  const ws = await experimentWorkspace();
  try {
    await withServer({ workspace: ws }, async ({ url }) => {
      const sw = await post(`${url}/api/experiments/sweep`, {
        dataset_path: "data/d.jsonl",
        backend: "hash",
        models: ["hash-64", "hash-128"],
        batch_sizes: [16, 64],
      });
      assert.equal(sw.status, 200, JSON.stringify(sw.body));
      assert.match(sw.body.id, /^sweep_[0-9a-f]{16}$/);
      const done = await waitDone(url, sw.body.id);
      assert.equal(done.status, "done", done.error);
      assert.equal(done.metrics.cells, 4);
      assert.equal(done.children.length, 4);
      assert.deepEqual(
        done.metrics.results.map((r: { model: string; batch_size: number }) => `${r.model}/${r.batch_size}`),
        ["hash-64/16", "hash-64/64", "hash-128/16", "hash-128/64"],
      );
      const best = done.metrics.best;
      assert.equal(
        best.texts_per_s,
        Math.max(...done.metrics.results.map((r: { texts_per_s: number }) => r.texts_per_s)),
      );
      for (const child of done.children) {
        const c = await statusOf(url, child);
        assert.equal(c.parent, sw.body.id);
        assert.equal(c.status, "done");
        assert.equal(c.metrics.texts, 500);
      }

      // Cancel a local-model sweep while its first cell runs (50,000 texts one at a time: seconds even on a
      // quiet machine, where 5,000 could finish before the cancel arrived): the running cell and the queued
      // ones end cancelled.
      await Deno.writeTextFile(
        `${ws}/data/big.jsonl`,
        Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ text: `text number ${i}` })).join("\n"),
      );
      const slow = await post(`${url}/api/experiments/sweep`, {
        dataset_path: "data/big.jsonl",
        backend: "local",
        models: ["models/tiny-bert"],
        batch_sizes: [1, 1, 1],
      });
      assert.equal(slow.status, 200, JSON.stringify(slow.body));
      const first = await waitFor(
        async () => {
          const s = await statusOf(url, slow.body.id);
          return s.children?.length === 3 && s.status === "running" ? s.children[0] : null;
        },
        30_000,
        "the sweep to start",
      );
      await waitFor(async () => (await statusOf(url, first)).status === "running", 30_000, "its first cell");
      await post(`${url}/api/experiments/cancel`, { id: slow.body.id });
      const end = await waitDone(url, slow.body.id, 30_000);
      assert.equal(end.status, "cancelled");
      const cells = await Promise.all(end.children.map((c: string) => statusOf(url, c)));
      assert.deepEqual(cells.map((c) => c.status), ["cancelled", "cancelled", "cancelled"]);
      assert.ok(!cells[0].progress || cells[0].progress.done < 50_000);

      const rl = await post(`${url}/api/experiments/run`, {
        kind: "rl",
        env: "cartpole",
        steps: 2048,
        seed: 3,
      });
      const rlDone = await waitDone(url, rl.body.id);
      assert.equal(rlDone.status, "done", rlDone.error);
      assert.ok(rlDone.metrics.env_steps >= 2048);
      assert.equal(typeof rlDone.metrics.mean_return, "number");
      assert.match(rlDone.metrics.run_id, /^ppo-/);

      const stored = await post(`${url}/api/experiments/run`, {
        dataset_path: "data/d.jsonl",
        backend: "hash",
        store: true,
        max_count: 100,
      });
      assert.equal((await waitDone(url, stored.body.id)).metrics.stored, 100);
      const knn = await (await fetch(`${url}/api/knn/query?q=kafka%20offset&k=3`)).json();
      assert.equal(knn.total, 100);
      assert.equal(knn.hits.length, 3);
    });
  } finally {
    await stopAllRunners();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("API: a run is refused by guard() when resources are below the workspace's thresholds", async () => {
  const ws = await experimentWorkspace(20);
  try {
    await withServer({ workspace: ws }, async ({ url }) => {
      const kv = await openWorkspaceKv(ws);
      await saveGuardThresholds(kv, { min_free_gb: 1e9, min_ram_gb: 0, min_vram_mb: 0 });
      const r = await post(`${url}/api/experiments/run`, { dataset_path: "data/d.jsonl" });
      assert.equal(r.status, 200);
      const end = await waitDone(url, r.body.id);
      assert.equal(end.status, "failed");
      assert.match(end.error, /experiment .* refused.*min_free_gb/);
      assert.equal(end.metrics, null);
    });
  } finally {
    await stopAllRunners();
    await Deno.remove(ws, { recursive: true });
  }
});
