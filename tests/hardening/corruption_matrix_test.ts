/**
 * The corruption matrix (issue #16 items 10-12): state file × damage × command, each run as the real CLI in
 * a copy of a healthy workspace. Every cell must end in one of two ways:
 *
 * - **recovered**: exit 0, the right output (the expected file is found), and a notice/warning on stderr
 *   saying what happened; or
 * - **a clear message**: a non-zero exit whose stderr names the damaged file and the command that fixes it.
 *
 * Never a stack trace, and never wrong output with exit 0 (`undefined`, `NaN`, "No results" for a query
 * that has hits). The KV cells end with `doctor --repair` and a command that works again.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliRun, runDspy } from "../support/cli.ts";

const STACK = /\n\s+at .+:\d+:\d+/;
const QUERY = "parse config loader";

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    const a = join(from, e.name);
    const b = join(to, e.name);
    if (e.isDirectory) await copyDir(a, b);
    else if (e.isFile) await Deno.copyFile(a, b);
  }
}

type Damage = "half" | "random" | "header" | "zero" | "garbage-json" | "wrong-shape";

async function damage(path: string, how: Damage): Promise<void> {
  const bytes = await Deno.readFile(path);
  switch (how) {
    case "half":
      await Deno.writeFile(path, bytes.slice(0, Math.floor(bytes.byteLength / 2)));
      break;
    case "random": {
      const r = new Uint8Array(bytes.byteLength);
      for (let i = 0; i < r.length; i += 65536) crypto.getRandomValues(r.subarray(i, i + 65536));
      await Deno.writeFile(path, r);
      break;
    }
    case "header": {
      const copy = bytes.slice();
      copy.set(new TextEncoder().encode("this is not the header you expect"), 0);
      await Deno.writeFile(path, copy);
      break;
    }
    case "zero":
      await Deno.writeFile(path, new Uint8Array(0));
      break;
    case "garbage-json":
      await Deno.writeTextFile(path, new TextDecoder().decode(bytes).slice(0, 20));
      break;
    case "wrong-shape":
      await Deno.writeTextFile(path, '{"policy": "ucb1", "tools": "grep", "values": 3}');
      break;
  }
}

function assertClean(label: string, r: CliRun): void {
  assert.doesNotMatch(r.stderr + r.stdout, STACK, `${label}: stack trace\n${r.stderr}`);
  if (r.code === 0) {
    assert.doesNotMatch(r.stdout, /\bundefined\b|\bNaN\b/, `${label}: wrong output with exit 0\n${r.stdout}`);
  }
}

let template: string | undefined;
globalThis.addEventListener("unload", () => {
  if (template) Deno.removeSync(template, { recursive: true });
});

/** A healthy workspace: sources, lexical + hash-vector indexes, a durable message, learnt tool state. */
async function healthyTemplate(): Promise<string> {
  if (template) return template;
  const ws = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy_corrupt_tpl_" }));
  await Deno.mkdir(join(ws, "src"));
  for (let i = 0; i < 6; i++) {
    await Deno.writeTextFile(
      join(ws, "src", `mod${i}.ts`),
      `export function helper${i}(x: number): number {\n  return x * ${i};\n}\n`,
    );
  }
  await Deno.writeTextFile(
    join(ws, "src", "config.ts"),
    "// parse config loader: reads the settings file\nexport function loadConfig() {\n  return {};\n}\n",
  );
  for (
    const args of [
      ["index"],
      ["emb-index", "--backend", "hash"],
      ["bus", "publish", "jobs", '{"n": 1}', "--durable"],
      ["grep", "helper"],
    ]
  ) {
    const r = await runDspy(["--workspace", ws, ...args]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  }
  await Deno.stat(join(ws, ".dspy_rl_state.json"));
  template = ws;
  return ws;
}

async function freshCopy(): Promise<string> {
  const ws = await Deno.makeTempDir({ prefix: "dspy_corrupt_" });
  await copyDir(await healthyTemplate(), ws);
  return ws;
}

Deno.test({
  name:
    "corruption matrix: .dspy/state.kv × {half, random, header, zero} × {stats, tail, dlq list, bus consume, up}",
  sanitizeResources: false,
  async fn() {
    for (const how of ["half", "random", "header", "zero"] as const) {
      const ws = await freshCopy();
      const kv = join(ws, ".dspy", "state.kv");
      await damage(kv, how);
      const commands = [
        ["stats"],
        ["tail", "--limit", "5"],
        ["dlq", "list"],
        ["bus", "consume", "jobs", "--group", "g", "--max", "1"],
        ["up", "--port", "0"],
      ];
      let warned = 0;
      for (const cmd of commands) {
        // A fresh empty KV: up would start and run, and consume would wait for a message.
        if (how === "zero" && (cmd[0] === "up" || cmd[0] === "bus")) continue;
        const label = `${how} × ${cmd.join(" ")}`;
        const r = await runDspy(["--workspace", ws, ...cmd]);
        assertClean(label, r);
        if (how === "zero") {
          // Recovered: an empty database, with a warning the first time.
          if (/emptied \(0 bytes\)/.test(r.stderr)) warned++;
          assert.equal(r.code, 0, `${label}: exit ${r.code}\n${r.stderr}`);
        } else {
          assert.notEqual(r.code, 0, `${label}: exit 0 on a damaged KV\n${r.stdout}`);
          assert.match(r.stderr, /state\.kv is damaged/, label);
          assert.match(r.stderr, /doctor --repair/, label);
        }
      }
      if (how === "zero") {
        assert.equal(warned, 1, "the emptied KV must be reported exactly once");
        continue;
      }
      const repair = await runDspy(["--workspace", ws, "doctor", "--repair"]);
      assertClean(`${how} × doctor --repair`, repair);
      assert.match(
        repair.stdout + repair.stderr,
        /repaired: the damaged database was moved to .*state\.kv\.corrupt-/,
      );
      const aside = [...Deno.readDirSync(join(ws, ".dspy"))].map((e) => e.name).filter((n) =>
        /^state\.kv\.corrupt-\d{8}T\d{6}Z$/.test(n)
      );
      assert.equal(aside.length, 1, `moved aside: ${aside}`);
      const after = await runDspy(["--workspace", ws, "stats"]);
      assert.equal(after.code, 0, `${how}: stats after repair\n${after.stderr}`);
      assert.doesNotMatch(after.stderr, /damaged|emptied|deleted/);
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test("corruption matrix: lexical index files × {random, half, zero} × {esearch, index} → rebuilt with a notice", async () => {
  for (const file of ["lexical.postings.bin", "lexical.meta.bin"]) {
    for (const how of ["random", "half", "zero"] as const) {
      for (const cmd of [["esearch", QUERY], ["index"]]) {
        const ws = await freshCopy();
        await damage(join(ws, ".dspy_index", file), how);
        const label = `${file} ${how} × ${cmd[0]}`;
        const r = await runDspy(["--workspace", ws, ...cmd]);
        assertClean(label, r);
        assert.equal(r.code, 0, `${label}\n${r.stderr}`);
        assert.match(r.stderr, /notice: .*is damaged.*rebuilding the index/, label);
        if (cmd[0] === "esearch") {
          assert.match(r.stdout, /src\/config\.ts/, `${label}: wrong hits\n${r.stdout}`);
        } else {assert.doesNotMatch(
            r.stdout,
            /\b0 files read\b/,
            `${label}: the index was not rebuilt\n${r.stdout}`,
          );}
        // Repaired: the next search is silent and right.
        const again = await runDspy(["--workspace", ws, "esearch", QUERY]);
        assert.equal(again.code, 0);
        assert.doesNotMatch(again.stderr, /damaged/, label);
        assert.match(again.stdout, /src\/config\.ts/);
        await Deno.remove(ws, { recursive: true });
      }
    }
  }
});

Deno.test("corruption matrix: emb_vectors.f32 × {random, half, zero} × {emb-search, emb-index}", async () => {
  for (const how of ["random", "half", "zero"] as const) {
    const ws = await freshCopy();
    await damage(join(ws, ".dspy_index", "emb_vectors.f32"), how);
    const search = await runDspy(["--workspace", ws, "emb-search", QUERY]);
    assertClean(`${how} × emb-search`, search);
    assert.notEqual(search.code, 0, `${how}: emb-search exit 0 on damaged vectors\n${search.stdout}`);
    assert.match(search.stderr, /emb_vectors\.f32 is damaged.*emb-index --full/, search.stderr);
    const rebuild = await runDspy(["--workspace", ws, "emb-index", "--backend", "hash"]);
    assertClean(`${how} × emb-index`, rebuild);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    assert.match(rebuild.stderr, /notice: the embedding index is damaged/);
    const after = await runDspy(["--workspace", ws, "emb-search", QUERY]);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /src\/config\.ts/);
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("corruption matrix: .dspy_rl_state.json × {garbage, wrong shape, zero} × {stats, grep}: kept aside, warned once", async () => {
  for (const how of ["garbage-json", "wrong-shape", "zero"] as const) {
    for (const cmd of [["stats"], ["grep", "helper"]]) {
      const ws = await freshCopy();
      const state = join(ws, ".dspy_rl_state.json");
      await damage(state, how);
      const damaged = await Deno.readTextFile(state);
      const label = `${how} × ${cmd.join(" ")}`;
      const r = await runDspy(["--workspace", ws, ...cmd]);
      assertClean(label, r);
      assert.equal(r.code, 0, `${label}\n${r.stderr}`);
      assert.match(r.stderr, /warning: .*\.dspy_rl_state\.json.*kept aside as .*\.corrupt-/, label);
      const aside = [...Deno.readDirSync(ws)].map((e) => e.name).filter((n) =>
        n.startsWith(".dspy_rl_state.json.corrupt-")
      );
      assert.equal(aside.length, 1, label);
      assert.equal(
        await Deno.readTextFile(join(ws, aside[0])),
        damaged,
        `${label}: the damaged copy changed`,
      );
      const again = await runDspy(["--workspace", ws, "grep", "helper"]);
      assert.equal(again.code, 0);
      assert.doesNotMatch(again.stderr, /kept aside/, `${label}: warned twice`);
      await Deno.remove(ws, { recursive: true });
    }
  }
});

Deno.test("corruption matrix: the status server answers 503 naming the damaged KV and the repair", async () => {
  const { withServer } = await import("../server/helpers.ts");
  const ws = await freshCopy();
  await damage(join(ws, ".dspy", "state.kv"), "half");
  try {
    await withServer({ workspace: ws, traceEnabled: false }, async (s) => {
      for (const path of ["/api/system/guard", "/api/tools/stats", "/api/events"]) {
        const res = await fetch(`${s.url}${path}`);
        const body = await res.json();
        assert.equal(res.status, 503, `${path}: ${JSON.stringify(body)}`);
        assert.match(body.error, /state\.kv is damaged.*doctor --repair/);
      }
      const health = await fetch(`${s.url}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    });
  } finally {
    await Deno.remove(ws, { recursive: true }).catch(() => {});
  }
});
