/**
 * Agent benchmark: our DSPy-style predictor vs `@ax-llm/ax` (the baseline the agent issue names), both
 * against the same scripted OpenAI-compatible server on loopback, on the TaskAgent signature. Measures
 * HTTP requests per prediction and success rate for three reply styles a model may produce — JSON (what
 * Ollama's `format: json` / `response_format` produce), ax's `field: value` lines, and fenced JSON with
 * prose — plus per-call overhead and first-import time. Also times the all-or-nothing patch applier against
 * `git apply` on the same 20-file patch. The predictor calls alternate between the two implementations
 * (one call each in turn), and ms/call is shown as a ratio to ax's in the same run.
 *
 * Usage: `deno run -A bench/agent_bench.ts [--calls N] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  args: Deno.args,
  options: { calls: { type: "string", default: "30" }, json: { type: "boolean", default: false } },
});
const calls = Number(values.calls);
// ax's option types are wide unions; the bench passes plain objects it documents.
// deno-lint-ignore no-explicit-any
type Loose = any;

const REPLIES: Record<string, string> = {
  "json": JSON.stringify({ plan: ["read the failing test", "fix the bug"], commands: ["deno test -A"] }),
  "field lines": 'plan: 1. read the failing test\n2. fix the bug\ncommands: ["deno test -A"]',
  "fenced json + prose":
    'Here is the plan:\n```json\n{"plan": ["read", "fix"], "commands": ["deno test -A"]}\n```',
};

let reply = "";
let requests = 0;
const ac = new AbortController();
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
  async (req) => {
    const body = await req.json();
    requests++;
    return Response.json({
      id: "x",
      object: "chat.completion",
      created: 1,
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    });
  },
);
const base = `http://127.0.0.1:${server.addr.port}/v1`;

let t0 = performance.now();
const agent = await import("../agent/mod.ts");
const ourImportMs = performance.now() - t0;
t0 = performance.now();
const axMod = await import("@ax-llm/ax");
const axImportMs = performance.now() - t0;

const ours = agent.createLlmClient({ provider: "openai", model: "m", baseUrl: base, apiKey: "k" }, {
  retries: 0,
});
const axAi = axMod.ai(
  { name: "openai", apiKey: "k", apiURL: base, config: { model: "m", stream: false } } as Loose,
);
const axGen = axMod.ax(
  'task:string "The task", context:string "Context" -> plan:string[] "Ordered steps", commands:string[] "Shell commands"',
);

interface Row {
  style: string;
  impl: string;
  ok: number;
  requestsPerCall: number;
  msPerCall: number;
}
const rows: Row[] = [];
const IMPLS = ["dspy-code", "ax"] as const;
for (const [style, text] of Object.entries(REPLIES)) {
  reply = text;
  // The two implementations alternate call by call, so load on the shared machine hits both alike.
  const tally = Object.fromEntries(IMPLS.map((impl) => [impl, { ok: 0, requests: 0, ms: 0 }]));
  for (let i = 0; i < calls; i++) {
    for (const impl of IMPLS) {
      requests = 0;
      const start = performance.now();
      try {
        if (impl === "ax") {
          const out = await axGen.forward(
            axAi as Loose,
            { task: "fix tests", context: "none" },
            { stream: false } as Loose,
          );
          if (Array.isArray(out.plan) && out.plan.length) tally[impl].ok++;
        } else {
          const p = await agent.predict(ours, agent.signatures.PlanTaskSig, {
            task: "fix tests",
            context: "none",
          });
          if ((p.outputs.plan as string[]).length) tally[impl].ok++;
        }
      } catch { /* counted as a failure */ }
      tally[impl].ms += performance.now() - start;
      tally[impl].requests += requests;
    }
  }
  for (const impl of IMPLS) {
    rows.push({
      style,
      impl,
      ok: tally[impl].ok,
      requestsPerCall: tally[impl].requests / calls,
      msPerCall: tally[impl].ms / calls,
    });
  }
}
ac.abort();
await server.finished;

// Patch applier vs git apply on a 20-file patch (median of 5).
async function patchBench(): Promise<{ oursMs: number; gitMs: number } | null> {
  try {
    await new Deno.Command("git", { args: ["--version"], stdout: "null" }).output();
  } catch {
    return null;
  }
  const dir = await Deno.makeTempDir({ prefix: "dspy-bench-" });
  try {
    let patch = "";
    for (let f = 0; f < 20; f++) {
      const lines = Array.from({ length: 200 }, (_, i) => `line ${i} of file ${f}`);
      await Deno.writeTextFile(join(dir, `f${f}.txt`), lines.join("\n") + "\n");
      patch +=
        `--- a/f${f}.txt\n+++ b/f${f}.txt\n@@ -100,3 +100,3 @@\n line 99 of file ${f}\n-line 100 of file ${f}\n+LINE 100 of file ${f}\n line 101 of file ${f}\n`;
    }
    const rev = patch.replace(/^-line/gm, "@@TMP").replace(/^\+LINE/gm, "-LINE").replace(/^@@TMP/gm, "+line");
    await Deno.writeTextFile(join(dir, "p.diff"), patch);
    await Deno.writeTextFile(join(dir, "r.diff"), rev);
    const ours: number[] = [], git: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      await agent.applyPatchText(dir, patch, { emit: false });
      ours.push(performance.now() - t);
      await agent.applyPatchText(dir, rev, { emit: false });
      t = performance.now();
      const r = await new Deno.Command("git", {
        args: ["apply", "p.diff"],
        cwd: dir,
        stdout: "null",
        stderr: "null",
      }).output();
      git.push(performance.now() - t);
      if (r.success) await new Deno.Command("git", { args: ["apply", "r.diff"], cwd: dir }).output();
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[2];
    return { oursMs: med(ours), gitMs: med(git) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
const patch = await patchBench();

if (values.json) {
  console.log(JSON.stringify({ calls, ourImportMs, axImportMs, rows, patch }));
} else {
  console.log(
    `Predictor vs @ax-llm/ax on TaskAgent, ${calls} calls per cell, scripted loopback server (2-core machine)`,
  );
  console.log("reply style            impl        ok/calls  requests/call  ms/call  vs ax (ms)");
  for (const r of rows) {
    const ax = rows.find((o) => o.style === r.style && o.impl === "ax")!;
    console.log(
      `${r.style.padEnd(22)} ${r.impl.padEnd(11)} ${`${r.ok}/${calls}`.padStart(8)}  ${
        r.requestsPerCall.toFixed(2).padStart(13)
      }  ${r.msPerCall.toFixed(2).padStart(7)}  ${(r.msPerCall / ax.msPerCall).toFixed(2).padStart(10)}`,
    );
  }
  console.log(
    `first import: agent/mod.ts ${ourImportMs.toFixed(0)} ms, @ax-llm/ax ${axImportMs.toFixed(0)} ms`,
  );
  if (patch) {
    console.log(
      `20-file patch apply (median of 5): dspy-code ${
        patch.oursMs.toFixed(1)
      } ms (checks + backups + atomic writes + history) vs git apply ${
        patch.gitMs.toFixed(1)
      } ms (process spawn, no backups) → ratio ${(patch.oursMs / patch.gitMs).toFixed(2)}`,
    );
  }
}
