import assert from "node:assert/strict";
import { join } from "node:path";
import { appendToStream, readStream, streamHead, trimStream } from "../../core/streams.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { atomicWriteFile } from "../../core/atomic.ts";
import { resolveInside } from "../../core/workspace.ts";
import * as path from "../../core/path.ts";
import nodePath from "node:path";

const STREAMS_TS = new URL("../../core/streams.ts", import.meta.url).href;
const KV_TS = new URL("../../core/kv.ts", import.meta.url).href;

Deno.test("appends from several processes at once are ordered and gap-free", async () => {
  const dir = await Deno.makeTempDir();
  const kvFile = join(dir, "state.kv");
  const writers = 4;
  const perWriter = 150;
  const script = `
    import { appendToStream } from "${STREAMS_TS}";
    import { withKvRetry } from "${KV_TS}";
    const kv = await withKvRetry(() => Deno.openKv(${JSON.stringify(kvFile)}));
    const id = Deno.args[0];
    for (let i = 0; i < ${perWriter}; i += 3) {
      await appendToStream(kv, "s", [0, 1, 2].map((k) => ({ id, i: i + k })));
    }
    kv.close();
  `;
  const procs = Array.from({ length: writers }, (_, w) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--unstable-kv", script, String(w)],
      stdout: "null",
      stderr: "piped",
    }).output());
  for (const out of await Promise.all(procs)) assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const kv = await Deno.openKv(kvFile);
  const entries = await readStream<{ id: string; i: number }>(kv, "s", { limit: 10_000 });
  assert.equal(entries.length, writers * perWriter);
  assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1));
  assert.equal(await streamHead(kv, "s"), writers * perWriter);
  // Each writer's own values keep their order.
  for (let w = 0; w < writers; w++) {
    const mine = entries.filter((e) => e.value.id === String(w)).map((e) => e.value.i);
    assert.deepEqual(mine, Array.from({ length: perWriter }, (_, i) => i));
  }
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("large batches split into several commits; trim keeps the newest", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(join(dir, "s.kv"));
  const seqs = await appendToStream(kv, "big", Array.from({ length: 1234 }, (_, i) => ({ i })));
  assert.deepEqual(seqs, Array.from({ length: 1234 }, (_, i) => i + 1));
  const page = await readStream<{ i: number }>(kv, "big", { after: 1200, limit: 100 });
  assert.deepEqual(page.map((e) => e.value.i), Array.from({ length: 34 }, (_, i) => 1200 + i));
  const removed = await trimStream(kv, "big", { maxCount: 100 });
  assert.equal(removed, 1134);
  const rest = await readStream(kv, "big", { limit: 5000 });
  assert.equal(rest.length, 100);
  assert.equal(rest[0].seq, 1135);
  // New appends continue the sequence after a trim.
  assert.deepEqual(await appendToStream(kv, "big", ["x"]), [1235]);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the workspace KV handle is opened once per process", async () => {
  const dir = await Deno.makeTempDir();
  const a = await openWorkspaceKv(dir);
  const b = await openWorkspaceKv(dir);
  assert.equal(a, b);
  const { closeAllKv } = await import("../../core/kv.ts");
  await closeAllKv();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atomic writes leave the old content or the new, never a temp file", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "nested", "state.json");
  await atomicWriteFile(file, "old");
  await Promise.all(Array.from({ length: 20 }, (_, i) => atomicWriteFile(file, `new-${i}`)));
  assert.match(await Deno.readTextFile(file), /^new-\d+$/);
  const names = [...Deno.readDirSync(join(dir, "nested"))].map((e) => e.name);
  assert.deepEqual(names, ["state.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resolveInside refuses .., absolute paths and symlinks that lead out", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir());
  const outside = await Deno.realPath(await Deno.makeTempDir());
  await Deno.symlink(outside, join(ws, "link"));
  assert.equal(resolveInside(ws, "a/b.txt"), join(ws, "a/b.txt"));
  assert.throws(() => resolveInside(ws, "../x"), /outside the workspace/);
  assert.throws(() => resolveInside(ws, "/etc/passwd"), /outside the workspace/);
  assert.throws(() => resolveInside(ws, "link/new.txt"), /symlink/);
  await Deno.remove(ws, { recursive: true });
  await Deno.remove(outside, { recursive: true });
});

Deno.test("our POSIX path helpers agree with node:path", () => {
  const cases = ["/a/b/../c", "a//b/./c/", "../x/y", "/", ".", "a/..", "/a/b/c.txt"];
  for (const p of cases) {
    assert.equal(path.normalize(p).replace(/\/$/, "") || "/", nodePath.normalize(p).replace(/(.)\/$/, "$1"));
    assert.equal(path.dirname(p), nodePath.dirname(nodePath.normalize(p)));
    assert.equal(path.isAbsolute(p), nodePath.isAbsolute(p));
  }
  assert.equal(path.join("/a", "b", "../c"), nodePath.join("/a", "b", "../c"));
  assert.equal(path.resolve("/a", "b", "/c", "d"), nodePath.resolve("/a", "b", "/c", "d"));
  assert.equal(path.relative("/a/b/c", "/a/d"), nodePath.relative("/a/b/c", "/a/d"));
  assert.equal(path.relative("/a", "/a"), "");
  assert.equal(path.basename("/a/b.txt"), "b.txt");
});
