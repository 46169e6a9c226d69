import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The modules a command loads before it runs, as `deno info` sees them: every static import from `entry`,
 * not following dynamic ones (cli/lazy.ts). Type-only imports are not code and are not listed.
 */
async function staticClosure(entry: string): Promise<Map<string, string>> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry], stdout: "piped" })
    .output();
  assert.ok(out.success, `deno info ${entry} failed`);
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { isDynamic?: boolean; code?: { specifier?: string } }[] }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const importedBy = new Map<string, string>(graph.roots.map((r) => [r, "(entry)"]));
  const todo = [...graph.roots];
  while (todo.length > 0) {
    const spec = todo.pop()!;
    for (const dep of bySpecifier.get(spec)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (dep.isDynamic || !target || importedBy.has(target)) continue;
      importedBy.set(target, spec);
      todo.push(target);
    }
  }
  return importedBy;
}

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

// Importing any `node:` module boots Deno's Node compatibility layer (13-16 ms): the start-up path and the
// commands users run most often as one-shot processes must not import one (docs/cli.md, "Start-up").
for (const entry of ["main.ts", "cli/commands/search_impl.ts", "cli/commands/grep_impl.ts"]) {
  Deno.test(`${entry} loads no node: or npm: module before it runs`, async () => {
    const closure = await staticClosure(join(repo, entry));
    assert.ok(closure.size > 3, `the closure of ${entry} looks empty`);
    const external = [...closure].filter(([spec]) => spec.startsWith("node:") || spec.startsWith("npm:"))
      .map(([spec, by]) => `${spec} (imported by ${by.replace(`file://${repo}/`, "")})`);
    assert.deepEqual(external, []);
  });
}
