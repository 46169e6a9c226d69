/**
 * `deno compile` cannot run here (it downloads `denort`), so this checks what the binary would miss: every
 * module loaded by a computed URL (the lazy command implementations of `cli/lazy.ts`, Workers, RL env
 * modules), every text asset imported into the graph (dashboard files, compose files) and the Wasm kernel
 * must lie inside a folder `scripts/compile.ts` passes to `--include`, and the compile command must enable
 * every unstable API the source uses (`Deno.openKv` → `--unstable-kv`, `Deno.cron` → `--unstable-cron`).
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Folders that never ship in the binary. */
const NOT_SHIPPED = new Set(["tests", "bench", "scripts", "docs", "docker", "node_modules", "dist"]);

async function* sourceFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.(ts|js)$/.test(entry.name)) yield path;
  }
}

async function shippedFolders(): Promise<string[]> {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(ROOT)) {
    if (!entry.isDirectory || entry.name.startsWith(".") || NOT_SHIPPED.has(entry.name)) continue;
    for await (const _ of sourceFiles(join(ROOT, entry.name))) {
      folders.push(entry.name);
      break;
    }
  }
  return folders.sort();
}

async function dryRun(): Promise<string[][]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", "compile.ts"), "--dry-run", "--all"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").map((line) => line.split(" "));
}

Deno.test("compile: every lazily loaded module, asset and unstable API is in the compile command", async () => {
  const commands = await dryRun();
  assert.equal(commands.length, 4, "one command per release target");
  const targets = commands.map((args) => args[args.indexOf("--target") + 1]).sort();
  assert.deepEqual(targets, [
    "aarch64-apple-darwin",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "x86_64-unknown-linux-gnu",
  ]);
  const args = commands[0];
  const includes = args.flatMap((a, i) => (args[i - 1] === "--include" ? [a] : []));
  const included = (file: string) =>
    includes.some((inc) => {
      const rel = relative(join(ROOT, inc), file);
      return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
    });

  // Every folder of runtime source is included (a new subsystem added without updating compile.ts fails).
  for (const folder of await shippedFolders()) {
    assert.ok(includes.includes(folder), `scripts/compile.ts does not --include ${folder}/`);
  }

  const needsFlag = new Map<string, string>();
  const missing: string[] = [];
  let checked = 0;
  for (const folder of await shippedFolders()) {
    for await (const file of sourceFiles(join(ROOT, folder))) {
      // Code only: doc comments hold examples (`lazyImport(new URL("./agent_impl.ts", ...))` in cli/lazy.ts).
      const text = (await Deno.readTextFile(file)).split("\n")
        .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line)).join("\n");
      const refs = [
        // Modules loaded by URL: lazyImport(new URL("./x.ts", import.meta.url)), new Worker(new URL(...)),
        // env module tables. Only --include puts these in the binary.
        ...[...text.matchAll(/new URL\(\s*"([^"]+\.(?:ts|js))"\s*,\s*import\.meta\.url\s*\)/g)]
          .map(([, spec]) => ({ spec, mustInclude: true })),
        // Text assets (dashboard files, compose files): part of their importer's static graph, so they ship
        // with it; they must exist.
        ...[...text.matchAll(/from\s+"(\.{1,2}\/[^"]+)"\s+with\s*\{\s*type:\s*"(?:text|bytes)"/g)]
          .map(([, spec]) => ({ spec, mustInclude: false })),
      ];
      for (const { spec, mustInclude } of refs) {
        const target = resolve(dirname(file), spec);
        checked++;
        const exists = await Deno.stat(target).then((s) => s.isFile, () => false);
        if (!exists || (mustInclude && !included(target))) {
          missing.push(`${relative(ROOT, file)} loads ${spec} (${exists ? "outside --include" : "missing"})`);
        }
      }
      if (/Deno\.openKv\(/.test(text)) needsFlag.set("--unstable-kv", relative(ROOT, file));
      if (/Deno\.cron\(/.test(text)) needsFlag.set("--unstable-cron", relative(ROOT, file));
    }
  }
  assert.deepEqual(missing, [], "modules the compiled binary would not contain");
  assert.ok(checked >= 20, `expected the lazy imports, workers and assets to be found (found ${checked})`);
  // The Wasm kernel ships as a module (base64), so it is in the graph of the RL code.
  const wasm = await Deno.readTextFile(join(ROOT, "rl", "wasm_dense.ts"));
  assert.match(wasm, /from "\.\/dense_wasm\.ts"/);
  assert.ok(needsFlag.has("--unstable-kv"), "the source opens KV");
  for (const [flag, file] of needsFlag) {
    for (const cmd of commands) {
      assert.ok(cmd.includes(flag), `${file} needs ${flag}, compile does not pass it`);
    }
  }
});
