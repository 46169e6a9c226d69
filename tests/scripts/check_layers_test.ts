import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { checkLayers, scanImports, unusedExceptions } from "../../scripts/check_layers.ts";

const SCRIPT = new URL("../../scripts/check_layers.ts", import.meta.url).pathname;

/** A small tree that follows every rule, including imports hidden in comments and strings. */
const CLEAN: Record<string, string> = {
  "main.ts": `import { run } from "./cli/mod.ts";\nrun();\n`,
  "cli/mod.ts": `export { run } from "./main.ts";\n`,
  "cli/main.ts": [
    `import { plan } from "../agent/mod.ts";`,
    `import type { Bus } from "../bus/mod.ts";`,
    `// import { secret } from "../server/internal.ts";`,
    `/* import "../agent/patch.ts"; */`,
    'const doc = `import { x } from "../agent/patch.ts"`;',
    `const re = /["']from ".\\/x.ts"/;`,
    `export function run(): void { plan(); console.log(doc, re, "import('../agent/patch.ts')"); }`,
    `export type { Bus };`,
  ].join("\n"),
  "bus/mod.ts": `import { now } from "../core/clock.ts";\nexport type Bus = { at: number };\nnow();\n`,
  "agent/mod.ts": `import { now } from "../core/clock.ts";\nexport { patch } from "./patch.ts";\n` +
    `export function plan(): number { return now(); }\n`,
  "agent/patch.ts": `import { helper } from "../learning/mod.ts";\nexport const patch = helper;\n`,
  "learning/mod.ts": `import { now } from "../core/mod.ts";\nexport const helper = now;\n`,
  "core/mod.ts": `export * from "./clock.ts";\n`,
  "core/clock.ts": `export function now(): number { return Date.now(); }\n`,
  "tests/agent_test.ts": `import { patch } from "../agent/patch.ts";\nconsole.log(patch);\n`,
};

async function withTree(files: Record<string, string>, fn: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "layers-" });
  try {
    for (const [rel, text] of Object.entries(files)) {
      await Deno.mkdir(join(root, dirname(rel)), { recursive: true });
      await Deno.writeTextFile(join(root, rel), text);
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function runScript(root: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", SCRIPT, root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("scanner: finds static, type, side-effect, dynamic and URL imports with their lines; ignores comments and strings", () => {
  const refs = scanImports(CLEAN["cli/main.ts"]);
  assert.deepEqual(refs, [
    { specifier: "../agent/mod.ts", line: 1, kind: "static" },
    { specifier: "../bus/mod.ts", line: 2, kind: "type" },
  ]);
  const more = scanImports([
    `import "./side.ts";`,
    `export * from "./all.ts";`,
    `import {`,
    `  type A,`,
    `  type B,`,
    `} from "./types.ts";`,
    `const lazy = () => import("./lazy.ts");`,
    `type T = typeof import("./t.ts");`,
    `new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });`,
    `const x = a / b / c; import { y } from "./after_division.ts";`,
  ].join("\n"));
  assert.deepEqual(more.map((r) => [r.specifier, r.line, r.kind]), [
    ["./side.ts", 1, "static"],
    ["./all.ts", 2, "static"],
    ["./types.ts", 6, "type"],
    ["./lazy.ts", 7, "dynamic"],
    ["./t.ts", 8, "type"],
    ["./worker.ts", 9, "url"],
    ["./after_division.ts", 10, "static"],
  ]);
});

Deno.test("a clean tree passes, in-process and as a script (exit 0)", async () => {
  await withTree(CLEAN, async (root) => {
    assert.deepEqual(await checkLayers(root, { exceptions: [] }), []);
    const r = await runScript(root);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /layer check: ok/);
  });
});

Deno.test("a lower layer importing a higher one fails with file:line and the rule (static, dynamic, URL)", async () => {
  await withTree({
    ...CLEAN,
    "core/clock.ts": `export function now(): number { return Date.now(); }\n` +
      `export const later = () => import("../agent/mod.ts");\n`,
    "agent/worker_user.ts": `new Worker(new URL("../server/mod.ts", import.meta.url));\n`,
    "server/mod.ts": `export {};\n`,
    "learning/mod.ts": `import { now } from "../core/mod.ts";\nimport type { Bus } from "../bus/mod.ts";\n` +
      `export const helper = now;\nexport type { Bus };\n`,
  }, async (root) => {
    const v = await checkLayers(root, { exceptions: [] });
    assert.deepEqual(v.map((x) => `${x.file}:${x.line} ${x.rule}`), [
      "agent/mod.ts:1 cycle", // core/clock.ts -> agent/mod.ts -> core/clock.ts
      "agent/worker_user.ts:1 layer",
      "core/clock.ts:2 layer",
      "learning/mod.ts:2 layer",
    ]);
    assert.match(v[0].message, /agent\/mod\.ts -> core\/clock\.ts -> agent\/mod\.ts/);
    assert.match(v[2].message, /core\/ \(layer 0\) imports agent\/mod\.ts \(agent\/, layer 2\)/);
    const r = await runScript(root);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^core\/clock\.ts:2 {2}layer {2}/m);
    assert.match(r.stderr, /4 violation\(s\)/);
  });
});

Deno.test("bypassing another folder's mod.ts fails unless listed as an exception; core is open", async () => {
  const files = {
    ...CLEAN,
    "cli/main.ts": `import { patch } from "../agent/patch.ts";\nexport function run(): void { patch(); }\n`,
  };
  await withTree(files, async (root) => {
    const v = await checkLayers(root, { exceptions: [] });
    assert.deepEqual(v.map((x) => `${x.file}:${x.line} ${x.rule}`), ["cli/main.ts:1 face"]);
    assert.match(v[0].message, /agent\/patch\.ts, not the face of agent\//);
    const exceptions = [{ from: "cli/main.ts", to: "agent/patch.ts", reason: "test" }];
    assert.deepEqual(await checkLayers(root, { exceptions }), []);
    assert.deepEqual(await unusedExceptions(root, exceptions), []);
    const stale = [{ from: "cli/main.ts", to: "agent/other.ts", reason: "gone" }];
    assert.deepEqual(await unusedExceptions(root, stale), stale);
  });
});

Deno.test("an import cycle across folders fails; a cycle inside one folder does not", async () => {
  await withTree({
    ...CLEAN,
    "bus/mod.ts":
      `import { r } from "../rl/mod.ts";\nexport type Bus = { at: number };\nexport const b = r;\n`,
    "rl/mod.ts": `import { b } from "../bus/mod.ts";\nexport const r = 1;\nexport const rb = b;\n`,
    "agent/a.ts": `import { b } from "./b.ts";\nexport const a = b;\n`,
    "agent/b.ts": `import { a } from "./a.ts";\nexport const b = a;\n`,
  }, async (root) => {
    const v = await checkLayers(root, { exceptions: [] });
    assert.deepEqual(v.map((x) => `${x.file}:${x.line} ${x.rule}`), ["bus/mod.ts:1 cycle"]);
    assert.match(v[0].message, /bus\/mod\.ts -> rl\/mod\.ts -> bus\/mod\.ts/);
  });
});

Deno.test("a new top-level folder without a layer fails until it is placed", async () => {
  await withTree({ ...CLEAN, "plugins/mod.ts": `export {};\n` }, async (root) => {
    const v = await checkLayers(root, { exceptions: [] });
    assert.deepEqual(v.map((x) => `${x.file}:${x.line} ${x.rule}`), ["plugins/mod.ts:1 folder"]);
  });
});

Deno.test("the repository itself passes the layer check", async () => {
  const root = new URL("../..", import.meta.url).pathname;
  const v = await checkLayers(root);
  // bus/cli.ts is being moved to cli/commands/ on another branch (issue #10); until it lands it is the
  // only known violation.
  const unexpected = v.filter((x) => x.file !== "bus/cli.ts" && !x.message.includes("bus/cli.ts"));
  assert.deepEqual(unexpected, []);
});
