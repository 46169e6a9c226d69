import assert from "node:assert/strict";

/**
 * The modules `root` loads statically (dynamic imports left out), from `deno info --json`: what Deno parses
 * before any of the root's code runs.
 */
async function staticClosure(root: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(root, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { isDynamic?: boolean; code?: { specifier: string } }[] }[];
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) stack.push(dep.code.specifier);
    }
  }
  return [...seen];
}

for (const root of ["../../rl/mod.ts", "../../rl/train_worker.ts", "../../rl/env_worker.ts"]) {
  Deno.test(`${root.slice(6)} loads no agent code and no npm diff (bandits come from learning/)`, async () => {
    const loaded = await staticClosure(root);
    assert.ok(loaded.some((s) => s.endsWith("/rl/" + root.split("/").at(-1))), "the root itself is listed");
    const heavy = loaded.filter((s) => s.includes("/agent/") || /(^|[:/])diff@/.test(s));
    assert.deepEqual(heavy, []);
  });
}
