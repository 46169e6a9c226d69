/**
 * The first run looks like a product (issue #17): `deno install -q` sets the npm packages up without a word,
 * and no "Ignored build scripts" warning appears because every dependency's install script is declined
 * explicitly in deno.json's `allowScripts` (none is needed: onnxruntime-node ships its CPU binaries).
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("every npm dependency with an install script is declined in deno.json's allowScripts", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const denied = new Set<string>(config.allowScripts?.deny ?? []);
  const withScripts: string[] = [];
  const store = `${ROOT}node_modules/.deno`;
  for await (const pkg of Deno.readDir(store)) {
    const base = `${store}/${pkg.name}/node_modules`;
    const dirs: string[] = [];
    const entries = await Array.fromAsync(Deno.readDir(base)).catch(() => [] as Deno.DirEntry[]);
    for (const e of entries) {
      if (!e.isDirectory) continue;
      if (e.name.startsWith("@")) {
        for await (const s of Deno.readDir(`${base}/${e.name}`)) dirs.push(`${base}/${e.name}/${s.name}`);
      } else dirs.push(`${base}/${e.name}`);
    }
    for (const dir of dirs) {
      let manifest;
      try {
        manifest = JSON.parse(await Deno.readTextFile(`${dir}/package.json`));
      } catch {
        continue;
      }
      const scripts = manifest.scripts ?? {};
      if (["preinstall", "install", "postinstall"].some((k) => k in scripts)) {
        withScripts.push(`npm:${manifest.name}`);
      }
    }
  }
  const missing = [...new Set(withScripts)].filter((name) => !denied.has(name));
  assert.deepEqual(missing, [], "add these to allowScripts.deny (or allow, with a reason) in deno.json");
});

Deno.test("deno install -q prints nothing", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["install", "-q"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.equal(text, "");
});
